package ops

import (
	"fmt"
	"math"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

// Quantized elementwise binary ops (QFunctional / torch.ops.quantized add,
// mul, add_scalar, mul_scalar, cat). Inputs are per-tensor quint8 or qint8
// and are never modified.

// broadcastShape returns the NumPy broadcast of two shapes
// (qtensor.BroadcastShapes) with ops' error prefix.
func broadcastShape(op string, a, b []int) ([]int, error) {
	out, err := qtensor.BroadcastShapes(a, b)
	if err != nil {
		return nil, fmt.Errorf("ops: %s: %w", op, err)
	}
	return out, nil
}

// broadcastCodes returns src (of shape from) expanded to shape to, sharing
// src when the shapes are equal.
func broadcastCodes[T any](src []T, from, to []int) []T {
	n := 1
	for _, s := range to {
		n *= s
	}
	if len(from) == len(to) {
		same := true
		for i := range from {
			same = same && from[i] == to[i]
		}
		if same {
			return src[:n]
		}
	}
	// strides of src in to's coordinates (0 where broadcast)
	st := make([]int, len(to))
	s := 1
	for i := len(to) - 1; i >= 0; i-- {
		j := len(from) - len(to) + i
		if j >= 0 && from[j] != 1 {
			st[i] = s
		}
		if j >= 0 {
			s *= from[j]
		}
	}
	out := make([]T, n)
	if n == 0 {
		return out
	}
	idx := make([]int, len(to))
	off := 0
	for k := 0; k < n; k++ {
		out[k] = src[off]
		for d := len(to) - 1; d >= 0; d-- {
			idx[d]++
			off += st[d]
			if idx[d] < to[d] {
				break
			}
			off -= st[d] * idx[d]
			idx[d] = 0
		}
	}
	return out
}

// binarySetup validates a binary op's operands and output qparams and
// allocates the broadcast output.
func binarySetup(op string, a, b *qtensor.QTensor, scale float64, zp int64) (act8, act8, *qtensor.QTensor, error) {
	qa, err := perTensor8(op, a)
	if err != nil {
		return act8{}, act8{}, nil, err
	}
	qb, err := perTensor8(op, b)
	if err != nil {
		return act8{}, act8{}, nil, err
	}
	if qa.dt != qb.dt {
		return act8{}, act8{}, nil, fmt.Errorf("ops: %s: operands are %s and %s; they must have the same dtype", op, qdtype.Name(qa.dt), qdtype.Name(qb.dt))
	}
	shape, err := broadcastShape(op, a.Shape(), b.Shape())
	if err != nil {
		return act8{}, act8{}, nil, err
	}
	qp, err := outQParams(op, qa.dt, scale, zp)
	if err != nil {
		return act8{}, act8{}, nil, err
	}
	out, err := emptyLike8(op, shape, qp)
	if err != nil {
		return act8{}, act8{}, nil, err
	}
	return qa, qb, out, nil
}

// Add returns a + b quantized with output qparams (scale, zeroPoint), as
// PyTorch's quantized add kernel computes it element by element:
//
//	q = clamp(zp + rne(f32(f32(f32(qa − za)·sa) + f32(f32(qb − zb)·sb))·f32(1/scale)), qmin, qmax)
//
// with half-to-even rounding. a and b broadcast (NumPy rules) and must have
// the same dtype (qint32 operands are computed in exact arithmetic, see
// binary_int32.go). PyTorch: torch.ops.quantized.add(a, b, scale, zero_point)
// / FloatFunctional.add after convert (QFunctional.add). Errors: bad
// operands, different dtypes, shapes that do not broadcast, invalid output
// qparams.
func Add(a, b *qtensor.QTensor, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return addOp("add", a, b, scale, zeroPoint, false)
}

// AddReLU is Add followed by ReLU in float before the quantization,
// q = quantize(max(da + db, 0)); torch.ops.quantized.add_relu /
// QFunctional.add_relu.
func AddReLU(a, b *qtensor.QTensor, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return addOp("add_relu", a, b, scale, zeroPoint, true)
}

func addOp(op string, a, b *qtensor.QTensor, scale float64, zp int64, relu bool) (*qtensor.QTensor, error) {
	if isQInt32(a) {
		return binaryInt32(op, a, b, scale, zp, false, relu)
	}
	qa, qb, out, err := binarySetup(op, a, b, scale, zp)
	if err != nil {
		return nil, err
	}
	ra := kernels.Requant8{Scale: float32(qa.scale), ZeroPoint: int32(qa.zp)}
	rb := kernels.Requant8{Scale: float32(qb.scale), ZeroPoint: int32(qb.zp)}
	rc := kernels.Requant8{Scale: float32(scale), ZeroPoint: int32(zp)}
	shape := []int(out.Shape())
	if qa.signed {
		kernels.AddRequant(out.Dense().Int8s()[:out.Size()], broadcastCodes(a.Dense().Int8s(), a.Shape(), shape), broadcastCodes(b.Dense().Int8s(), b.Shape(), shape), ra, rb, rc, relu)
	} else {
		kernels.AddRequant(out.Dense().Uint8s()[:out.Size()], broadcastCodes(a.Dense().Uint8s(), a.Shape(), shape), broadcastCodes(b.Dense().Uint8s(), b.Shape(), shape), ra, rb, rc, relu)
	}
	return out, nil
}

// Mul returns a·b quantized with output qparams (scale, zeroPoint), as
// PyTorch's quantized mul kernel computes it: an integer product and one
// float32 rescale (requantize_from_int),
//
//	q = clamp(zp + rne(f32((qa − za)·(qb − zb))·m), qmin, qmax),  m = f32(f32(sa·sb)·f32(1/scale))
//
// with half-to-even rounding (qint32: exact arithmetic, as Add). Broadcasting,
// dtypes and errors as Add's.
// PyTorch: torch.ops.quantized.mul / QFunctional.mul.
func Mul(a, b *qtensor.QTensor, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return mulOp("mul", a, b, scale, zeroPoint, false)
}

// MulReLU is Mul with the result clamped below at the output zero point;
// torch.ops.quantized.mul_relu / QFunctional.mul_relu.
func MulReLU(a, b *qtensor.QTensor, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return mulOp("mul_relu", a, b, scale, zeroPoint, true)
}

func mulOp(op string, a, b *qtensor.QTensor, scale float64, zp int64, relu bool) (*qtensor.QTensor, error) {
	if isQInt32(a) {
		return binaryInt32(op, a, b, scale, zp, true, relu)
	}
	qa, qb, out, err := binarySetup(op, a, b, scale, zp)
	if err != nil {
		return nil, err
	}
	m := kernels.MulMultiplier(float32(qa.scale), float32(qb.scale), float32(scale))
	shape := []int(out.Shape())
	za, zb, zc := int32(qa.zp), int32(qb.zp), int32(zp)
	if qa.signed {
		kernels.MulRequant(out.Dense().Int8s()[:out.Size()], broadcastCodes(a.Dense().Int8s(), a.Shape(), shape), broadcastCodes(b.Dense().Int8s(), b.Shape(), shape), za, zb, m, zc, relu)
	} else {
		kernels.MulRequant(out.Dense().Uint8s()[:out.Size()], broadcastCodes(a.Dense().Uint8s(), a.Shape(), shape), broadcastCodes(b.Dense().Uint8s(), b.Shape(), shape), za, zb, m, zc, relu)
	}
	return out, nil
}

// AddScalar returns x + c with output qparams chosen as PyTorch 1.13's
// quantized add_scalar chooses them. With s, z the input's qparams and
// c_q = rne(c/s) (float64; c is snapped to a multiple of s):
//
//   - qmin ≤ z − c_q ≤ qmax: codes unchanged, scale s, zero point z − c_q;
//   - z − c_q < qmin: scale (qmax − (z − c_q))/(qmax − qmin)·s, zero point
//     qmin, codes requantized as requantize_from_int(s/s', qmin, q − z + c_q);
//   - z − c_q > qmax: scale ((z − c_q) − qmin)/(qmax − qmin)·s, zero point
//     qmax, codes likewise.
//
// PyTorch: torch.ops.quantized.add_scalar / QFunctional.add_scalar.
// Errors: bad input, non-finite c.
func AddScalar(x *qtensor.QTensor, c float64) (*qtensor.QTensor, error) {
	return addScalarOp("add_scalar", x, c, false)
}

// AddScalarReLU is AddScalar with the codes clamped below at the output
// zero point; torch.ops.quantized.add_scalar_relu.
func AddScalarReLU(x *qtensor.QTensor, c float64) (*qtensor.QTensor, error) {
	return addScalarOp("add_scalar_relu", x, c, true)
}

func addScalarOp(op string, x *qtensor.QTensor, c float64, relu bool) (*qtensor.QTensor, error) {
	a, err := perTensor8(op, x)
	if err != nil {
		return nil, err
	}
	if math.IsNaN(c) || math.IsInf(c, 0) {
		return nil, fmt.Errorf("ops: %s: scalar %v must be finite", op, c)
	}
	qmin, qmax, _ := qdtype.Range(a.dt)
	s, z := a.scale, a.zp
	cqf := math.RoundToEven(c / s)
	if math.Abs(cqf) > 1<<40 {
		return nil, fmt.Errorf("ops: %s: scalar %v is %g steps of the scale %g; too large", op, c, cqf, s)
	}
	cq := int64(cqf)
	shifted := z - cq
	var s2 float64
	var z2 int64
	switch {
	case shifted < qmin:
		s2 = (float64(qmax) - float64(shifted)) / (float64(qmax) - float64(qmin)) * s
		z2 = qmin
	case shifted > qmax:
		s2 = (float64(shifted) - float64(qmin)) / (float64(qmax) - float64(qmin)) * s
		z2 = qmax
	default:
		qp, err := outQParams(op, a.dt, s, shifted)
		if err != nil {
			return nil, err
		}
		out, err := emptyLike8(op, x.Shape(), qp)
		if err != nil {
			return nil, err
		}
		n := x.Size()
		if a.signed {
			lo := int8(qmin)
			if relu {
				lo = int8(shifted)
			}
			kernels.ClampCodes(out.Dense().Int8s()[:n], x.Dense().Int8s()[:n], lo, int8(qmax))
		} else {
			lo := uint8(qmin)
			if relu {
				lo = uint8(shifted)
			}
			kernels.ClampCodes(out.Dense().Uint8s()[:n], x.Dense().Uint8s()[:n], lo, uint8(qmax))
		}
		return out, nil
	}
	qp, err := outQParams(op, a.dt, s2, z2)
	if err != nil {
		return nil, err
	}
	out, err := emptyLike8(op, x.Shape(), qp)
	if err != nil {
		return nil, err
	}
	// PyTorch's kernel: multiplier = f32(s)·f32(1/f32(s')), and the int32
	// offset c_q.
	m := float32(s) * (1 / float32(s2))
	n := x.Size()
	if a.signed {
		kernels.RequantizeFromInt(out.Dense().Int8s()[:n], x.Dense().Int8s()[:n], int32(z), int32(cq), m, int32(z2), relu)
	} else {
		kernels.RequantizeFromInt(out.Dense().Uint8s()[:n], x.Dense().Uint8s()[:n], int32(z), int32(cq), m, int32(z2), relu)
	}
	return out, nil
}

// MulScalar returns x·c with output qparams chosen as PyTorch 1.13's
// quantized mul_scalar chooses them (s, z the input's qparams):
//
//   - c > 0: codes unchanged, scale c·s (float64), zero point z;
//   - c = 0: every code 0, scale 1, zero point 0;
//   - c < 0: codes q' = qmax + qmin − q, scale |c|·s, zero point
//     qmax − (z − qmin).
//
// PyTorch: torch.ops.quantized.mul_scalar / QFunctional.mul_scalar. Errors:
// bad input, non-finite c, a resulting scale that is not a valid float32
// scale.
func MulScalar(x *qtensor.QTensor, c float64) (*qtensor.QTensor, error) {
	return mulScalarOp("mul_scalar", x, c, false)
}

// MulScalarReLU is MulScalar with the codes clamped below at the output
// zero point; torch.ops.quantized.mul_scalar_relu.
func MulScalarReLU(x *qtensor.QTensor, c float64) (*qtensor.QTensor, error) {
	return mulScalarOp("mul_scalar_relu", x, c, true)
}

func mulScalarOp(op string, x *qtensor.QTensor, c float64, relu bool) (*qtensor.QTensor, error) {
	a, err := perTensor8(op, x)
	if err != nil {
		return nil, err
	}
	if math.IsNaN(c) || math.IsInf(c, 0) {
		return nil, fmt.Errorf("ops: %s: scalar %v must be finite", op, c)
	}
	qmin, qmax, _ := qdtype.Range(a.dt)
	n := x.Size()
	switch {
	case c > 0:
		qp, err := outQParams(op, a.dt, c*a.scale, a.zp)
		if err != nil {
			return nil, err
		}
		if !relu {
			return emptyCopy(op, x, qp)
		}
		out, err := emptyLike8(op, x.Shape(), qp)
		if err != nil {
			return nil, err
		}
		if a.signed {
			kernels.ClampCodes(out.Dense().Int8s()[:n], x.Dense().Int8s()[:n], int8(a.zp), int8(qmax))
		} else {
			kernels.ClampCodes(out.Dense().Uint8s()[:n], x.Dense().Uint8s()[:n], uint8(a.zp), uint8(qmax))
		}
		return out, nil
	case c == 0:
		qp, err := outQParams(op, a.dt, 1, 0)
		if err != nil {
			return nil, err
		}
		return emptyLike8(op, x.Shape(), qp)
	}
	z2 := qmax - (a.zp - qmin)
	qp, err := outQParams(op, a.dt, math.Abs(c)*a.scale, z2)
	if err != nil {
		return nil, err
	}
	out, err := emptyLike8(op, x.Shape(), qp)
	if err != nil {
		return nil, err
	}
	if a.signed {
		kernels.FlipCodes(out.Dense().Int8s()[:n], x.Dense().Int8s()[:n], relu, int32(z2))
	} else {
		kernels.FlipCodes(out.Dense().Uint8s()[:n], x.Dense().Uint8s()[:n], relu, int32(z2))
	}
	return out, nil
}

// emptyCopy returns a copy of x's codes with qparams qp.
func emptyCopy(op string, x *qtensor.QTensor, qp qdtype.QParams) (*qtensor.QTensor, error) {
	out, err := emptyLike8(op, x.Shape(), qp)
	if err != nil {
		return nil, err
	}
	n := x.Size()
	if qp.Dtype == qdtype.QInt8Dtype {
		copy(out.Dense().Int8s()[:n], x.Dense().Int8s()[:n])
	} else {
		copy(out.Dense().Uint8s()[:n], x.Dense().Uint8s()[:n])
	}
	return out, nil
}

// Cat concatenates tensors along dim (negative counts from the end) and
// quantizes the result with output qparams (scale, zeroPoint): each input
// is dequantized, f32(f32(q − z)·s), and requantized half to even, exactly
// PyTorch's "dequantize → cat → quantize_per_tensor". Inputs must share
// dtype and rank and match in every dimension but dim. PyTorch:
// torch.ops.quantized.cat(xs, dim, scale, zero_point) / QFunctional.cat.
// Errors: no inputs, bad inputs, mismatched dtypes or sizes, dim out of
// range, invalid output qparams.
func Cat(xs []*qtensor.QTensor, dim int, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return catOp("cat", xs, dim, scale, zeroPoint, false)
}

// CatReLU is Cat with the codes clamped below at the output zero point;
// torch.ops.quantized.cat_relu.
func CatReLU(xs []*qtensor.QTensor, dim int, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return catOp("cat_relu", xs, dim, scale, zeroPoint, true)
}

// CatKeepQParams is torch.cat on quantized tensors: Cat with the first
// input's scale and zero point (the other inputs are requantized to them).
func CatKeepQParams(xs []*qtensor.QTensor, dim int) (*qtensor.QTensor, error) {
	if len(xs) == 0 {
		return nil, fmt.Errorf("ops: cat: no tensors")
	}
	a, err := perTensor8("cat", xs[0])
	if err != nil {
		return nil, err
	}
	return catOp("cat", xs, dim, a.scale, a.zp, false)
}

func catOp(op string, xs []*qtensor.QTensor, dim int, scale float64, zp int64, relu bool) (*qtensor.QTensor, error) {
	if len(xs) == 0 {
		return nil, fmt.Errorf("ops: %s: no tensors", op)
	}
	if isQInt32(xs[0]) {
		return catInt32(op, xs, dim, scale, zp, relu)
	}
	info := make([]act8, len(xs))
	for i, x := range xs {
		a, err := perTensor8(op, x)
		if err != nil {
			return nil, fmt.Errorf("%w (tensor %d)", err, i)
		}
		info[i] = a
		if a.dt != info[0].dt {
			return nil, fmt.Errorf("ops: %s: tensor %d is %s but tensor 0 is %s; all dtypes must be the same", op, i, qdtype.Name(a.dt), qdtype.Name(info[0].dt))
		}
	}
	l, err := planCat(op, xs, dim)
	if err != nil {
		return nil, err
	}
	qp, err := outQParams(op, info[0].dt, scale, zp)
	if err != nil {
		return nil, err
	}
	out, err := emptyLike8(op, l.shape, qp)
	if err != nil {
		return nil, err
	}
	outer, inner, total := l.outer, l.inner, l.shape[l.dim]
	qmin, qmax, _ := qdtype.Range(info[0].dt)
	lo := qmin
	if relu {
		lo = zp
	}
	rowOut := total * inner
	off := 0
	for _, i := range l.keep {
		x := xs[i]
		row := x.Shape()[l.dim] * inner
		in := kernels.Codes8{Signed: info[i].signed, Scale: float32(info[i].scale), ZeroPoint: int32(info[i].zp)}
		oc := kernels.Codes8{Signed: info[i].signed, Scale: float32(scale), ZeroPoint: int32(zp)}
		t := kernels.BuildLUT(in, oc, func(v float32) float32 { return v })
		for o := 0; o < outer; o++ {
			if info[i].signed {
				dst := out.Dense().Int8s()[o*rowOut+off : o*rowOut+off+row]
				kernels.ApplyLUTS8(t, dst, x.Dense().Int8s()[o*row:(o+1)*row])
				if relu {
					kernels.ClampCodes(dst, dst, int8(lo), int8(qmax))
				}
			} else {
				dst := out.Dense().Uint8s()[o*rowOut+off : o*rowOut+off+row]
				kernels.ApplyLUTU8(t, dst, x.Dense().Uint8s()[o*row:(o+1)*row])
				if relu {
					kernels.ClampCodes(dst, dst, uint8(lo), uint8(qmax))
				}
			}
		}
		off += row
	}
	return out, nil
}

// catLayout is the shape work Cat does the same way for every dtype.
type catLayout struct {
	keep         []int // indices into xs of the tensors concatenated
	shape        []int // output shape
	dim          int   // dim, normalized to [0, rank)
	outer, inner int   // products of shape before and after dim
}

// planCat checks that xs can be concatenated along dim and lays out the
// result. torch.cat skips legacy empty 1-D tensors (shape [0]) next to
// others; error messages number the tensors that remain.
func planCat(op string, xs []*qtensor.QTensor, dim int) (catLayout, error) {
	var l catLayout
	for i, x := range xs {
		if sh := x.Shape(); len(sh) == 1 && sh[0] == 0 {
			continue
		}
		l.keep = append(l.keep, i)
	}
	if len(l.keep) == 0 {
		for i := range xs {
			l.keep = append(l.keep, i)
		}
	}
	s0 := []int(xs[l.keep[0]].Shape())
	rank := len(s0)
	if rank == 0 {
		return l, fmt.Errorf("ops: %s: zero-dimensional tensor 0 cannot be concatenated", op)
	}
	d := dim
	if d < 0 {
		d += rank
	}
	if d < 0 || d >= rank {
		return l, fmt.Errorf("ops: %s: dim %d is out of range for rank %d", op, dim, rank)
	}
	total := 0
	for k, i := range l.keep {
		sh := []int(xs[i].Shape())
		if len(sh) != rank {
			return l, fmt.Errorf("ops: %s: tensor %d has shape %v, tensor 0 has %v; ranks differ", op, k, sh, s0)
		}
		for j := range sh {
			if j != d && sh[j] != s0[j] {
				return l, fmt.Errorf("ops: %s: tensor %d has shape %v, tensor 0 has %v; sizes must match except in dimension %d", op, k, sh, s0, d)
			}
		}
		total += sh[d]
	}
	l.shape = append([]int(nil), s0...)
	l.shape[d] = total
	l.dim = d
	l.outer, l.inner = 1, 1
	for j := 0; j < d; j++ {
		l.outer *= l.shape[j]
	}
	for j := d + 1; j < rank; j++ {
		l.inner *= l.shape[j]
	}
	return l, nil
}
