package fake

import (
	"fmt"
	"math"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// qval is PyTorch's static_cast<int64_t>(zp + nearbyint(x·inv)) with the sum
// in float32. Values whose rounded result does not fit an int64 (NaN, ±Inf,
// huge x) become math.MinInt64, as the x86 conversion yields, so they clamp
// to qmin and carry no gradient.
func qval(x, inv float32, zp float32) int64 {
	r := float64(float32(zp + float32(math.RoundToEven(float64(x*inv)))))
	if !(r > -twoTo63 && r < twoTo63) {
		return math.MinInt64
	}
	return int64(r)
}

const twoTo63 = 9223372036854775808.0

// fakeQuantRun fake-quantizes src into dst with one scale and zero point and
// records the STE mask (nil mask: not recorded):
//
//	q = zp + rne(x·f32(1/scale));  y = f32((clamp(q, qmin, qmax) − zp)·scale);  mask = qmin ≤ q ≤ qmax
//
// dst may alias src.
func fakeQuantRun(dst []float32, mask []bool, src []float32, scale float32, zp, qmin, qmax int64) {
	inv := 1 / scale
	zpf := float32(zp)
	for i, x := range src {
		q := qval(x, inv, zpf)
		c := q
		if c < qmin {
			c = qmin
		}
		if c > qmax {
			c = qmax
		}
		dst[i] = float32(float32(c-zp) * scale)
		if mask != nil {
			mask[i] = q >= qmin && q <= qmax
		}
	}
}

// checkRange validates quant_min ≤ quant_max and a zero point inside it.
func checkRange(op string, zps []int64, qmin, qmax int64) error {
	if qmin > qmax {
		return fmt.Errorf("fake: %s: quant_min %d must be ≤ quant_max %d", op, qmin, qmax)
	}
	for i, z := range zps {
		if z < qmin || z > qmax {
			return fmt.Errorf("fake: %s: zero point %d (channel %d) must be between quant_min %d and quant_max %d", op, z, i, qmin, qmax)
		}
	}
	return nil
}

func checkScale(op string, scales []float32) error {
	for i, s := range scales {
		if err := qdtype.ValidScale(float64(s)); err != nil {
			return fmt.Errorf("fake: %s: %v (channel %d)", op, err, i)
		}
	}
	return nil
}

// denseData returns the row-major elements of a float32 Dense (views are
// materialized) and its shape.
func denseData(op string, x *tensor.Dense) ([]float32, tensor.Shape, error) {
	if x == nil {
		return nil, nil, fmt.Errorf("fake: %s: nil input", op)
	}
	if x.Dtype() != tensor.Float32 {
		return nil, nil, fmt.Errorf("fake: %s: input dtype %v, want float32", op, x.Dtype())
	}
	shape := x.Shape().Clone()
	n := shape.TotalSize()
	if x.IsScalar() {
		shape, n = tensor.Shape{}, 1
	}
	if n == 0 {
		return []float32{}, shape, nil
	}
	if x.RequiresIterator() {
		m, ok := x.Materialize().(*tensor.Dense)
		if !ok {
			return nil, nil, fmt.Errorf("fake: %s: cannot materialize the input view", op)
		}
		x = m
	}
	d := x.Float32s()
	if len(d) < n {
		return nil, nil, fmt.Errorf("fake: %s: input holds %d values for shape %v", op, len(d), shape)
	}
	return d[:n], shape, nil
}

func newDense(shape tensor.Shape, data []float32) *tensor.Dense {
	if len(shape) == 0 {
		return tensor.New(tensor.FromScalar(data[0]))
	}
	return tensor.New(tensor.WithShape(shape.Clone()...), tensor.WithBacking(data))
}

// FakeQuantizePerTensorAffine is torch.fake_quantize_per_tensor_affine with
// its backward mask:
//
//	q = zp + rne(x·f32(1/scale)),  y = f32((clamp(q, qmin, qmax) − zp)·scale),  mask = qmin ≤ q ≤ qmax
//
// in float32 with rounding half to even. The mask is the straight-through
// estimator (dX = dY·mask) and is computed on the rounded, unclamped q, so
// inputs that round onto a boundary pass gradient. NaN and ±Inf give
// y = (qmin − zp)·scale and mask false, as PyTorch on x86. x may be any shape
// (views included) and is not changed. Errors: x not float32, qmin > qmax,
// zp outside [qmin, qmax], scale not finite and > 0.
func FakeQuantizePerTensorAffine(x *tensor.Dense, scale float32, zeroPoint, qmin, qmax int64) (y *tensor.Dense, mask []bool, err error) {
	const op = "fake_quantize_per_tensor_affine"
	if err := checkRange(op, []int64{zeroPoint}, qmin, qmax); err != nil {
		return nil, nil, err
	}
	if err := checkScale(op, []float32{scale}); err != nil {
		return nil, nil, err
	}
	data, shape, err := denseData(op, x)
	if err != nil {
		return nil, nil, err
	}
	out := make([]float32, len(data))
	mask = make([]bool, len(data))
	fakeQuantRun(out, mask, data, scale, zeroPoint, qmin, qmax)
	if len(data) == 0 {
		return tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...)), mask, nil
	}
	return newDense(shape, out), mask, nil
}

// channelSplit returns the outer, channel and inner extents of shape around
// axis.
func channelSplit(shape tensor.Shape, axis int) (outer, ch, inner int) {
	outer, ch, inner = 1, shape[axis], 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	return outer, ch, inner
}

// checkChannels checks a per-channel axis against an input of the given
// shape and the counts of scales and zero points against its channels.
func checkChannels(op string, shape []int, axis, nScales, nZeroPoints int) error {
	if axis < 0 || axis >= len(shape) {
		return fmt.Errorf("fake: %s: axis %d is out of range for an input of rank %d", op, axis, len(shape))
	}
	if nScales != shape[axis] || nZeroPoints != shape[axis] {
		return fmt.Errorf("fake: %s: %d scales and %d zero points for %d channels along axis %d", op, nScales, nZeroPoints, shape[axis], axis)
	}
	return nil
}

// FakeQuantizePerChannelAffine is torch.fake_quantize_per_channel_affine
// with its backward mask: the per-tensor formula with scales[c] and
// zeroPoints[c] for the elements whose index along axis is c. axis must be in
// [0, rank) (PyTorch rejects negative axes here) and len(scales) ==
// len(zeroPoints) == shape[axis]. Other errors as FakeQuantizePerTensorAffine.
func FakeQuantizePerChannelAffine(x *tensor.Dense, scales []float32, zeroPoints []int64, axis int, qmin, qmax int64) (y *tensor.Dense, mask []bool, err error) {
	const op = "fake_quantize_per_channel_affine"
	data, shape, err := denseData(op, x)
	if err != nil {
		return nil, nil, err
	}
	if err := checkChannels(op, shape, axis, len(scales), len(zeroPoints)); err != nil {
		return nil, nil, err
	}
	if err := checkRange(op, zeroPoints, qmin, qmax); err != nil {
		return nil, nil, err
	}
	if err := checkScale(op, scales); err != nil {
		return nil, nil, err
	}
	out := make([]float32, len(data))
	mask = make([]bool, len(data))
	perChannel(out, mask, data, shape, axis, scales, zeroPoints, qmin, qmax)
	if len(data) == 0 {
		return tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...)), mask, nil
	}
	return newDense(shape, out), mask, nil
}

func perChannel(out []float32, mask []bool, data []float32, shape tensor.Shape, axis int, scales []float32, zps []int64, qmin, qmax int64) {
	outer, ch, inner := channelSplit(shape, axis)
	for b := 0; b < outer; b++ {
		for c := 0; c < ch; c++ {
			off := (b*ch + c) * inner
			var m []bool
			if mask != nil {
				m = mask[off : off+inner]
			}
			fakeQuantRun(out[off:off+inner], m, data[off:off+inner], scales[c], zps[c], qmin, qmax)
		}
	}
}

// learnableZeroPointForward is _get_zero_point_from_tensor(is_forward=true):
// int(clamp(rne(zp), qmin, qmax)).
func learnableZeroPointForward(zp float32, qmin, qmax int64) int64 {
	v := float32(math.RoundToEven(float64(zp)))
	return int64(clampF32(v, float32(qmin), float32(qmax)))
}

// learnableZeroPointBackward is _get_zero_point_from_tensor(is_forward=false):
// int(clamp(zp + 0.5, qmin, qmax)), truncating (round half up for zp ≥ 0).
func learnableZeroPointBackward(zp float32, qmin, qmax int64) int64 {
	v := float32(zp + 0.5)
	return int64(clampF32(v, float32(qmin), float32(qmax)))
}

func clampF32(v, lo, hi float32) float32 {
	if v < lo {
		v = lo
	}
	if v > hi {
		v = hi
	}
	return v
}

// LearnableGrads are the gradients of a learnable fake quantization.
type LearnableGrads struct {
	X         *tensor.Dense // same shape as x
	Scale     []float32     // one per scale
	ZeroPoint []float32     // one per zero point
}

// fma32 is a·b + c rounded once to float32 (a fused multiply-add). The
// product is exact in float64; the float64 sum is rounded to odd (its
// TwoSum error decides the last bit), so the final conversion to float32
// rounds correctly, without double rounding.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	cc := float64(c)
	s := p + cc
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	bb := s - p
	e := (p - (s - bb)) + (cc - bb)
	if e != 0 {
		bits := math.Float64bits(s)
		if bits&1 == 0 {
			if (e > 0) == (s > 0) {
				bits++
			} else {
				bits--
			}
			s = math.Float64frombits(bits)
		}
	}
	return float32(s)
}

// learnableBackwardRun computes PyTorch's learnable fake-quant gradient
// kernel for one channel: dX, and the per-element dScale and dZeroPoint
// summed into sums (float64 accumulators). PyTorch 1.13's CPU kernels
// (fake_quant_grad_learnable_{tensor,channel}_kernel) are compiled with FMA
// contraction: q = rne(fma(x, 1/scale, zp)) and x̂ − x = fma(q − zp, scale, −x),
// each rounded once to float32 (checked against torch on single-element
// channels, where the cancellation in x̂ − x shows a separate rounding).
func learnableBackwardRun(dx []float32, x, dy []float32, scale, zp float32, qmin, qmax int64, g float32) (dScale, dZp float64) {
	inv := 1 / scale
	small := float32(float32(qmin) - zp)
	big := float32(float32(qmax) - zp)
	for i, xv := range x {
		r := float64(float32(math.RoundToEven(float64(fma32(xv, inv, zp)))))
		var q int64
		if r > -twoTo63 && r < twoTo63 {
			q = int64(r)
		} else {
			q = math.MinInt64
		}
		in := q >= qmin && q <= qmax
		if in {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
		if !in {
			dZp += float64(float32(float32(-dy[i]*scale) * g))
			if q < qmin {
				dScale += float64(float32(float32(dy[i]*small) * g))
			} else {
				dScale += float64(float32(float32(dy[i]*big) * g))
			}
			continue
		}
		c := q
		d := fma32(float32(float32(c)-zp), scale, -xv) // x̂ − x, fused as in PyTorch's build
		dScale += float64(float32(float32(float32(dy[i]*d)*inv) * g))
	}
	return dScale, dZp
}

// FakeQuantizeLearnablePerTensorAffine is
// torch._fake_quantize_learnable_per_tensor_affine's forward: the
// per-tensor fake quantization with zp = int(clamp(rne(zeroPoint), qmin, qmax)).
// scale must be finite and > 0 and qmin ≤ qmax.
func FakeQuantizeLearnablePerTensorAffine(x *tensor.Dense, scale, zeroPoint float32, qmin, qmax int64) (*tensor.Dense, error) {
	const op = "fake_quantize_learnable_per_tensor_affine"
	if qmin > qmax {
		return nil, fmt.Errorf("fake: %s: quant_min %d must be ≤ quant_max %d", op, qmin, qmax)
	}
	if isNaN(zeroPoint) {
		return nil, fmt.Errorf("fake: %s: zero point is NaN", op)
	}
	y, _, err := FakeQuantizePerTensorAffine(x, scale, learnableZeroPointForward(zeroPoint, qmin, qmax), qmin, qmax)
	return y, err
}

// FakeQuantizeLearnablePerTensorAffineBackward is the backward of
// torch._fake_quantize_learnable_per_tensor_affine (LSQ). With
// zb = int(clamp(zp + 0.5, qmin, qmax)) (PyTorch truncates here while the
// forward rounds half to even) and q = rne(zb + x/scale):
//
//	dX = dY·[qmin ≤ q ≤ qmax]
//	dScale = Σ dY·(qmin − zb)·g where q < qmin, dY·(qmax − zb)·g where q > qmax,
//	         dY·(x̂ − x)/scale·g inside (x̂ the fake-quantized x)
//	dZeroPoint = Σ −dY·scale·g where q is outside [qmin, qmax], 0 inside
//
// with g = gradFactor, per-element terms in float32 and the sums in float64
// (PyTorch sums float32 in another order; the results agree to ~1e-6
// relative). dy must have x's shape.
func FakeQuantizeLearnablePerTensorAffineBackward(dy, x *tensor.Dense, scale, zeroPoint float32, qmin, qmax int64, gradFactor float32) (LearnableGrads, error) {
	const op = "fake_quantize_learnable_per_tensor_affine_backward"
	xs, shape, dys, err := learnableInputs(op, x, dy, []float32{scale}, []float32{zeroPoint}, qmin, qmax, gradFactor)
	if err != nil {
		return LearnableGrads{}, err
	}
	dx := make([]float32, len(xs))
	zb := float32(learnableZeroPointBackward(zeroPoint, qmin, qmax))
	ds, dz := learnableBackwardRun(dx, xs, dys, scale, zb, qmin, qmax, gradFactor)
	return LearnableGrads{X: denseOrEmpty(shape, dx), Scale: []float32{float32(ds)}, ZeroPoint: []float32{float32(dz)}}, nil
}

func denseOrEmpty(shape tensor.Shape, data []float32) *tensor.Dense {
	if len(data) == 0 {
		return tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
	}
	return newDense(shape, data)
}

func learnableInputs(op string, x, dy *tensor.Dense, scales, zps []float32, qmin, qmax int64, g float32) ([]float32, tensor.Shape, []float32, error) {
	if qmin > qmax {
		return nil, nil, nil, fmt.Errorf("fake: %s: quant_min %d must be ≤ quant_max %d", op, qmin, qmax)
	}
	if err := checkScale(op, scales); err != nil {
		return nil, nil, nil, err
	}
	for i, z := range zps {
		if isNaN(z) || math.IsInf(float64(z), 0) {
			return nil, nil, nil, fmt.Errorf("fake: %s: zero point %v (channel %d) is not finite", op, z, i)
		}
	}
	if isNaN(g) || math.IsInf(float64(g), 0) {
		return nil, nil, nil, fmt.Errorf("fake: %s: grad factor %v is not finite", op, g)
	}
	xs, shape, err := denseData(op, x)
	if err != nil {
		return nil, nil, nil, err
	}
	dys, dshape, err := denseData(op, dy)
	if err != nil {
		return nil, nil, nil, err
	}
	if !shape.Eq(dshape) && !(len(shape) == 0 && len(dshape) == 0) {
		return nil, nil, nil, fmt.Errorf("fake: %s: gradient shape %v differs from input shape %v", op, dshape, shape)
	}
	return xs, shape, dys, nil
}

// FakeQuantizeLearnablePerChannelAffine is
// torch._fake_quantize_learnable_per_channel_affine's forward: the
// per-channel fake quantization with zero points clamp(rne(zp[c]), qmin, qmax).
func FakeQuantizeLearnablePerChannelAffine(x *tensor.Dense, scales, zeroPoints []float32, axis int, qmin, qmax int64) (*tensor.Dense, error) {
	const op = "fake_quantize_learnable_per_channel_affine"
	if qmin > qmax {
		return nil, fmt.Errorf("fake: %s: quant_min %d must be ≤ quant_max %d", op, qmin, qmax)
	}
	zps := make([]int64, len(zeroPoints))
	for i, z := range zeroPoints {
		if isNaN(z) {
			return nil, fmt.Errorf("fake: %s: zero point %d is NaN", op, i)
		}
		zps[i] = learnableZeroPointForward(z, qmin, qmax)
	}
	y, _, err := FakeQuantizePerChannelAffine(x, scales, zps, axis, qmin, qmax)
	return y, err
}

// FakeQuantizeLearnablePerChannelAffineBackward is the backward of
// torch._fake_quantize_learnable_per_channel_affine: per channel c, with
// z = clamp(rne(zeroPoints[c]), qmin, qmax) as a float and
// q = rne(z + x/scale[c]), the per-tensor formulas of
// FakeQuantizeLearnablePerTensorAffineBackward, dScale and dZeroPoint summed
// over every axis but axis.
func FakeQuantizeLearnablePerChannelAffineBackward(dy, x *tensor.Dense, scales, zeroPoints []float32, axis int, qmin, qmax int64, gradFactor float32) (LearnableGrads, error) {
	const op = "fake_quantize_learnable_per_channel_affine_backward"
	xs, shape, dys, err := learnableInputs(op, x, dy, scales, zeroPoints, qmin, qmax, gradFactor)
	if err != nil {
		return LearnableGrads{}, err
	}
	if err := checkChannels(op, shape, axis, len(scales), len(zeroPoints)); err != nil {
		return LearnableGrads{}, err
	}
	outer, ch, inner := channelSplit(shape, axis)
	dx := make([]float32, len(xs))
	ds := make([]float64, ch)
	dz := make([]float64, ch)
	zr := make([]float32, ch)
	for c, z := range zeroPoints {
		zr[c] = clampF32(float32(math.RoundToEven(float64(z))), float32(qmin), float32(qmax))
	}
	for b := 0; b < outer; b++ {
		for c := 0; c < ch; c++ {
			off := (b*ch + c) * inner
			s, z := learnableBackwardRun(dx[off:off+inner], xs[off:off+inner], dys[off:off+inner], scales[c], zr[c], qmin, qmax, gradFactor)
			ds[c] += s
			dz[c] += z
		}
	}
	g := LearnableGrads{X: denseOrEmpty(shape, dx), Scale: make([]float32, ch), ZeroPoint: make([]float32, ch)}
	for c := range ds {
		g.Scale[c], g.ZeroPoint[c] = float32(ds[c]), float32(dz[c])
	}
	return g, nil
}

func isNaN(v float32) bool { return v != v }

// FakeQuantizePerChannelAffineFloatQParams is
// torch.fake_quantize_per_channel_affine with float zero points (the
// per_channel_affine_float_qparams scheme of embedding weights): the zero
// point is added before rounding,
//
//	q = rne(zp[c] + x·f32(1/scale[c])),  y = f32((clamp(q, qmin, qmax) − zp[c])·scale[c]),  mask = qmin ≤ q ≤ qmax
//
// (the difference and product in float64, as PyTorch's kernel). Zero points
// are not range-checked (PyTorch does not check float ones) but must be
// finite. Other rules as FakeQuantizePerChannelAffine.
func FakeQuantizePerChannelAffineFloatQParams(x *tensor.Dense, scales, zeroPoints []float32, axis int, qmin, qmax int64) (y *tensor.Dense, mask []bool, err error) {
	const op = "fake_quantize_per_channel_affine"
	data, shape, err := denseData(op, x)
	if err != nil {
		return nil, nil, err
	}
	if err := checkChannels(op, shape, axis, len(scales), len(zeroPoints)); err != nil {
		return nil, nil, err
	}
	if qmin > qmax {
		return nil, nil, fmt.Errorf("fake: %s: quant_min %d must be ≤ quant_max %d", op, qmin, qmax)
	}
	if err := checkScale(op, scales); err != nil {
		return nil, nil, err
	}
	for i, z := range zeroPoints {
		if isNaN(z) || math.IsInf(float64(z), 0) {
			return nil, nil, fmt.Errorf("fake: %s: zero point %v (channel %d) is not finite", op, z, i)
		}
	}
	out := make([]float32, len(data))
	mask = make([]bool, len(data))
	outer, ch, inner := channelSplit(shape, axis)
	for b := 0; b < outer; b++ {
		for c := 0; c < ch; c++ {
			off := (b*ch + c) * inner
			inv := 1 / scales[c]
			zp := zeroPoints[c]
			for i := off; i < off+inner; i++ {
				r := math.RoundToEven(float64(float32(zp + float32(data[i]*inv))))
				q := int64(math.MinInt64)
				if r > -twoTo63 && r < twoTo63 {
					q = int64(r)
				}
				cl := q
				if cl < qmin {
					cl = qmin
				}
				if cl > qmax {
					cl = qmax
				}
				out[i] = float32((float64(cl) - float64(zp)) * float64(scales[c]))
				mask[i] = q >= qmin && q <= qmax
			}
		}
	}
	if len(data) == 0 {
		return tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...)), mask, nil
	}
	return newDense(shape, out), mask, nil
}
