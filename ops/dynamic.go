package ops

import (
	"fmt"
	"math"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// LinearDynamic computes the dynamically quantized linear layer
// torch.ops.quantized.linear_dynamic(x, packed, reduce_range) on a float32
// input (…, K), giving float32 (…, N):
//
//	(sx, zx) = ChooseQuantizationParams(min(x), max(x), 0, 255, reduceRange)  (over all of x, every call)
//	qx       = clamp(zx + rne(f32(x·f32(1/sx))), 0, 255)                       (quint8)
//	y[i][j]  = f32(f32(acc[i][j])·f32(sx·sw[j])) + b[j],  acc = Σ_k (qx − zx)(qw − zw[j])
//
// With reduceRange the activation range is [0, 127], as PyTorch's dynamic
// modules (reduce_range=True) use on x86. An empty x gives an empty (0, N)
// result, as PyTorch's ONEDNN engine does. Errors: x nil, not float32, of
// rank < 2 (as in PyTorch), NaN or ±Inf, or a last dimension other than K.
func LinearDynamic(x *tensor.Dense, p *PackedLinear, reduceRange bool) (*tensor.Dense, error) {
	const op = "linear_dynamic"
	if p == nil {
		return nil, fmt.Errorf("ops: %s: nil packed weights", op)
	}
	xd, shape, err := dynInput(op, x, p.k)
	if err != nil {
		return nil, err
	}
	m := 1
	for _, d := range shape[:len(shape)-1] {
		m *= d
	}
	y := make([]float32, m*p.n)
	if err := linearDynamicRaw(op, xd, m, p, reduceRange, y); err != nil {
		return nil, err
	}
	return float32Dense(linearOutShape(shape, p.n), y), nil
}

// LinearDynamicWithWeights packs the qint8 weight w and bias and calls
// LinearDynamic. Pack once with PrepackLinear when the weights are reused.
func LinearDynamicWithWeights(x *tensor.Dense, w *qtensor.QTensor, bias *tensor.Dense, reduceRange bool) (*tensor.Dense, error) {
	p, err := PrepackLinear(w, bias)
	if err != nil {
		return nil, err
	}
	return LinearDynamic(x, p, reduceRange)
}

// dynInput validates a float32 input whose last dimension is k.
func dynInput(op string, x *tensor.Dense, k int) ([]float32, []int, error) {
	xd, err := float32Data(op, "input", x)
	if err != nil {
		return nil, nil, err
	}
	shape := []int(x.Shape())
	if len(shape) < 2 || shape[len(shape)-1] != k {
		return nil, nil, fmt.Errorf("ops: %s: input has shape %v, want at least 2 dimensions and a last dimension of %d", op, shape, k)
	}
	return xd, shape, nil
}

// linearDynamicRaw is LinearDynamic on an m×K row-major slice, writing m×N.
func linearDynamicRaw(op string, x []float32, m int, p *PackedLinear, reduceRange bool, y []float32) error {
	return linearDynamicScratch(op, x, m, p, reduceRange, y, nil)
}

// dynScratch holds linearDynamicScratch's buffers (quantized activations
// and per-channel output scales) so that the recurrent loops reuse them
// across time steps; they grow as needed.
type dynScratch struct {
	q     []uint8
	scale []float32
}

// linearDynamicScratch is linearDynamicRaw with reusable buffers (sc nil
// allocates fresh ones).
func linearDynamicScratch(op string, x []float32, m int, p *PackedLinear, reduceRange bool, y []float32, sc *dynScratch) error {
	if sc == nil {
		sc = &dynScratch{}
	}
	if cap(sc.q) < len(x) {
		sc.q = make([]uint8, len(x))
	}
	if cap(sc.scale) < len(p.scales) {
		sc.scale = make([]float32, len(p.scales))
	}
	qx, scale := sc.q[:len(x)], sc.scale[:len(p.scales)]
	sx, zx, err := dynamicQuantizeInto(op, x, reduceRange, qx)
	if err != nil {
		return err
	}
	for j, s := range p.scales {
		scale[j] = float32(float64(sx) * s)
	}
	if m > 0 && p.n > 0 {
		kernels.GemmU8S8Float(m, qx, p.k, zx, p.packed, p.wZP, scale, p.bias, y, p.n)
	}
	return nil
}

// dynamicQuantizeInto chooses quint8 qparams from the range of x (PyTorch's
// dynamic ChooseQuantizationParams) and quantizes x with them into q
// (len(x) bytes).
// The range is scanned with four running extremes (all starting at x[0],
// so NaN elements are skipped exactly as in one sequential scan) and the
// values are quantized by kernels.QuantizeF32U8 (QuantizeValue's formula;
// the values lie inside the range the scale was chosen for).
func dynamicQuantizeInto(op string, x []float32, reduceRange bool, q []uint8) (float32, int32, error) {
	var lo, hi float32
	if len(x) > 0 {
		lo0, hi0 := x[0], x[0]
		lo1, hi1, lo2, hi2, lo3, hi3 := lo0, hi0, lo0, hi0, lo0, hi0
		i := 0
		for ; i+4 <= len(x); i += 4 {
			v0, v1, v2, v3 := x[i], x[i+1], x[i+2], x[i+3]
			if v0 < lo0 {
				lo0 = v0
			}
			if v0 > hi0 {
				hi0 = v0
			}
			if v1 < lo1 {
				lo1 = v1
			}
			if v1 > hi1 {
				hi1 = v1
			}
			if v2 < lo2 {
				lo2 = v2
			}
			if v2 > hi2 {
				hi2 = v2
			}
			if v3 < lo3 {
				lo3 = v3
			}
			if v3 > hi3 {
				hi3 = v3
			}
		}
		for ; i < len(x); i++ {
			if v := x[i]; v < lo0 {
				lo0 = v
			}
			if v := x[i]; v > hi0 {
				hi0 = v
			}
		}
		lo, hi = lo0, hi0
		for _, v := range [...]float32{lo1, lo2, lo3} {
			if v < lo {
				lo = v
			}
		}
		for _, v := range [...]float32{hi1, hi2, hi3} {
			if v > hi {
				hi = v
			}
		}
	}
	if math.IsInf(float64(lo), 0) || math.IsInf(float64(hi), 0) {
		return 0, 0, fmt.Errorf("ops: %s: input range [%v, %v] is not finite", op, lo, hi)
	}
	s, z, err := qdtype.ChooseQuantizationParams(lo, hi, 0, 255, false, reduceRange)
	if err != nil {
		return 0, 0, fmt.Errorf("ops: %s: %w", op, err)
	}
	sx := float32(s)
	kernels.QuantizeF32U8(q, x, 1/sx, int32(z))
	return sx, int32(z), nil
}

// PackedLinearFP16 holds a linear layer's weight rounded to float16 (and
// widened back to float32) with its float32 bias: FBGEMM's PackedLinearWeightFp16
// (quantized::linear_prepack_fp16). It is immutable.
type PackedLinearFP16 struct {
	n, k int
	w    []float32 // N×K, each value exactly representable in float16
	bias []float32 // nil or N
}

// PrepackLinearFP16 saturates the float32 weight (N, K) to ±65504, rounds
// it to float16 (round to nearest even, subnormals kept) and keeps the
// float32 bias (nil or N): quantized::linear_prepack_fp16. NaN weights are
// an error.
func PrepackLinearFP16(w, bias *tensor.Dense) (*PackedLinearFP16, error) {
	const op = "linear_prepack_fp16"
	wd, err := float32Data(op, "weight", w)
	if err != nil {
		return nil, err
	}
	if w.Dims() != 2 {
		return nil, fmt.Errorf("ops: %s: weight has shape %v, want 2-D (out_features, in_features)", op, w.Shape())
	}
	n, k := w.Shape()[0], w.Shape()[1]
	b, err := biasData(op, bias, n)
	if err != nil {
		return nil, err
	}
	p := &PackedLinearFP16{n: n, k: k, w: make([]float32, n*k), bias: b}
	for i, v := range wd {
		p.w[i] = RoundToFloat16(v)
	}
	return p, nil
}

// RoundToFloat16 saturates v to [−65504, 65504] and rounds it to the
// nearest float16 value (ties to even, subnormals kept), returned as a
// float32; the weight conversion of FBGEMM's fp16 linear
// (torch._saturate_weight_to_fp16 followed by .half()). NaN stays NaN.
func RoundToFloat16(v float32) float32 {
	const maxHalf = 65504
	switch {
	case v != v:
		return v
	case v > maxHalf:
		return maxHalf
	case v < -maxHalf:
		return -maxHalf
	}
	a := math.Abs(float64(v))
	if a < 1.0/16384 { // below 2^-14: float16 subnormals, a grid of 2^-24
		return float32(math.Copysign(math.RoundToEven(a*(1<<24))/(1<<24), float64(v)))
	}
	b := math.Float32bits(v)
	b += 0xFFF + (b>>13)&1 // round the low 13 mantissa bits, ties to even
	return math.Float32frombits(b &^ 0x1FFF)
}

// LinearDynamicFP16 computes y = x·Wᵀ + b with the float16-rounded weights
// of p, in float32 inputs and outputs (accumulated in float64 and rounded
// once): torch.ops.quantized.linear_dynamic_fp16, emulated as the
// conformance suite does with F.linear on the rounded weights. x is float32
// (…, K); the result is (…, N), or (0, N) for an empty x. Errors: x nil,
// not float32, NaN, or a last dimension other than K.
func LinearDynamicFP16(x *tensor.Dense, p *PackedLinearFP16) (*tensor.Dense, error) {
	const op = "linear_dynamic_fp16"
	if p == nil {
		return nil, fmt.Errorf("ops: %s: nil packed weights", op)
	}
	xd, err := float32Data(op, "input", x)
	if err != nil {
		return nil, err
	}
	shape := []int(x.Shape())
	if len(shape) < 1 || shape[len(shape)-1] != p.k {
		return nil, fmt.Errorf("ops: %s: input has shape %v, want a last dimension of %d", op, shape, p.k)
	}
	m := 1
	for _, d := range shape[:len(shape)-1] {
		m *= d
	}
	y := make([]float32, m*p.n)
	for i := 0; i < m; i++ {
		row := xd[i*p.k : (i+1)*p.k]
		for j := 0; j < p.n; j++ {
			w := p.w[j*p.k : (j+1)*p.k]
			var s float64
			for t, v := range row {
				s += float64(v) * float64(w[t])
			}
			if p.bias != nil {
				s += float64(p.bias[j])
			}
			y[i*p.n+j] = float32(s)
		}
	}
	return float32Dense(linearOutShape(shape, p.n), y), nil
}

// N returns the number of output features.
func (p *PackedLinearFP16) N() int { return p.n }

// K returns the number of input features.
func (p *PackedLinearFP16) K() int { return p.k }
