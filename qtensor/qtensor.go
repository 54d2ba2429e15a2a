// Package qtensor provides QTensor, the eager quantized tensor: the integer
// representation in a *tensor.Dense of a quantized dtype (qdtype.QUInt8,
// QInt8, QInt32) plus its quantization parameters. It is what users hold
// outside Gorgonia graphs and what package ops computes on; it mirrors the
// quantized torch.Tensor of PyTorch 1.13.
//
// A QTensor's Dense is always contiguous and row-major and is owned by the
// QTensor. View-like methods (Reshape/View, Flatten, Select, Slice, Narrow,
// Expand, AsStrided, Squeeze, Unsqueeze, Transpose, T, Permute, Split,
// Chunk, Unbind, IndexSelect, Repeat, MaskedFill) therefore return
// QTensors over new storage, where PyTorch returns views sharing it; none
// of them shares storage with its receiver. Only the in-place methods
// CopyFrom, CopyFromDense, Fill and Resize (PyTorch's copy_, fill_ and
// resize_) modify a QTensor.
//
// The method set follows PyTorch 1.13 on quantized tensors:
//   - construction and conversion: Quantize, QuantizePerTensor,
//     QuantizePerChannel, FromInts, Empty, Dequantize, IntRepr, Clone;
//   - views, with PyTorch's per-channel rules (see Select and Reshape): a
//     selection of one channel becomes per-tensor, transposes of
//     per-channel tensors are errors;
//   - comparisons on dequantized values (Compare, CompareScalar, Eq, ...,
//     LtScalar) and exact identity (Equal);
//   - reductions keeping the input's qparams: Max, Min, MaxDim, MinDim,
//     Mean, MeanDims, Sort, Topk (per-tensor tensors only, as in PyTorch).
//
// Results are bit-identical to PyTorch 1.13's CPU build, including the
// float32 summation order of mean and the element order of an unsorted topk;
// the few deliberate deviations (NaN input, overflowing qint32 arithmetic,
// per-channel views PyTorch gets wrong) are documented on the methods. Every
// function and method returns an error for bad arguments, leaving its
// inputs untouched, instead of panicking (a nil *QTensor receiver is a
// programming error, as for any Go type).
package qtensor

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// QTensor is a quantized tensor: integer data and the qparams that map it to
// real values, x = (q − zero_point)·scale.
type QTensor struct {
	d  *tensor.Dense
	qp qdtype.QParams
}

// New wraps a contiguous Dense of a quantized dtype with qparams. The Dense
// is used, not copied. It returns an error if the dtype is not quantized,
// differs from qp.Dtype, the Dense is a non-contiguous view, or the qparams
// are invalid for its shape.
func New(d *tensor.Dense, qp qdtype.QParams) (*QTensor, error) {
	if d == nil {
		return nil, fmt.Errorf("qtensor: nil Dense")
	}
	if !qdtype.IsQuantized(d.Dtype()) {
		return nil, fmt.Errorf("qtensor: Dense has dtype %v, want a quantized dtype", d.Dtype())
	}
	if d.Dtype() != qp.Dtype {
		return nil, fmt.Errorf("qtensor: Dense has dtype %s but qparams are for %s", qdtype.Name(d.Dtype()), qdtype.Name(qp.Dtype))
	}
	if d.RequiresIterator() {
		return nil, fmt.Errorf("qtensor: Dense is a non-contiguous view; materialize it first")
	}
	if err := qp.ValidateFor(d.Shape()); err != nil {
		return nil, fmt.Errorf("qtensor: %w", err)
	}
	return &QTensor{d: d, qp: qp.Clone()}, nil
}

// FromInts builds a QTensor of the given shape from integer values, which
// must lie in the dtype's range. It is PyTorch's
// _make_per_tensor_quantized_tensor / _make_per_channel_quantized_tensor.
func FromInts(shape []int, data []int64, qp qdtype.QParams) (*QTensor, error) {
	n, err := checkedNumel("from_ints", shape)
	if err != nil {
		return nil, err
	}
	if len(data) != n {
		return nil, fmt.Errorf("qtensor: %d values for shape %v (%d elements)", len(data), shape, n)
	}
	qmin, qmax, err := qdtype.Range(qp.Dtype)
	if err != nil {
		return nil, fmt.Errorf("qtensor: %w", err)
	}
	if err := qp.ValidateFor(shape); err != nil {
		return nil, fmt.Errorf("qtensor: %w", err)
	}
	d := newDense(qp.Dtype, shape)
	for i, v := range data {
		if v < qmin || v > qmax {
			return nil, fmt.Errorf("qtensor: value %d at %d is outside the %s range [%d, %d]", v, i, qdtype.Name(qp.Dtype), qmin, qmax)
		}
		setInt(d, i, v)
	}
	return &QTensor{d: d, qp: qp.Clone()}, nil
}

// Empty returns a zero-filled QTensor (every integer 0) of the given shape,
// like torch._empty_affine_quantized with defined contents.
func Empty(shape []int, qp qdtype.QParams) (*QTensor, error) {
	if _, err := checkedNumel("empty", shape); err != nil {
		return nil, err
	}
	if err := qp.ValidateFor(shape); err != nil {
		return nil, fmt.Errorf("qtensor: %w", err)
	}
	return &QTensor{d: newDense(qp.Dtype, shape), qp: qp.Clone()}, nil
}

// newDense allocates a contiguous Dense of dtype dt. A shape with no
// dimensions gives a 0-dim (scalar-shaped) tensor of one element.
func newDense(dt tensor.Dtype, shape []int) *tensor.Dense {
	n := 1
	for _, s := range shape {
		n *= s
	}
	var backing interface{}
	switch dt {
	case qdtype.QUInt8Dtype:
		backing = make([]qdtype.QUInt8, n)
	case qdtype.QInt8Dtype:
		backing = make([]qdtype.QInt8, n)
	case qdtype.QInt32Dtype:
		backing = make([]qdtype.QInt32, n)
	default:
		panic("qtensor: newDense of a non-quantized dtype")
	}
	if len(shape) == 0 {
		return tensor.New(tensor.WithShape(), tensor.WithBacking(backing))
	}
	return tensor.New(tensor.WithShape(append([]int(nil), shape...)...), tensor.WithBacking(backing))
}

// MustNewDense allocates a zeroed, contiguous Dense of a quantized dtype
// for packages that build quantized values (ops, nodes) and have checked
// dt. It panics if dt is not quantized or a dimension is negative.
func MustNewDense(dt tensor.Dtype, shape []int) *tensor.Dense { return newDense(dt, shape) }

func setInt(d *tensor.Dense, i int, v int64) {
	switch d.Dtype() {
	case qdtype.QUInt8Dtype:
		d.Uint8s()[i] = uint8(v)
	case qdtype.QInt8Dtype:
		d.Int8s()[i] = int8(v)
	default:
		d.Int32s()[i] = int32(v)
	}
}

// Dense returns the tensor's integer storage (shared, not copied).
func (q *QTensor) Dense() *tensor.Dense { return q.d }

// QParams returns a copy of the quantization parameters.
func (q *QTensor) QParams() qdtype.QParams { return q.qp.Clone() }

// Dtype returns the quantized dtype.
func (q *QTensor) Dtype() tensor.Dtype { return q.d.Dtype() }

// Shape returns the shape (a copy).
func (q *QTensor) Shape() tensor.Shape { return q.d.Shape().Clone() }

// Dims returns the rank.
func (q *QTensor) Dims() int { return q.d.Dims() }

// Size returns the number of elements.
func (q *QTensor) Size() int { return q.d.Shape().TotalSize() }

// QScheme returns the tensor's scheme (always an affine one).
func (q *QTensor) QScheme() qdtype.QScheme { return q.qp.Scheme.Affine() }

// Len returns the number of elements, as Size.
func (q *QTensor) Len() int { return q.Size() }

// Ints returns the integer representation as int64s, row-major.
func (q *QTensor) Ints() []int64 {
	n := q.Size()
	out := make([]int64, n)
	switch q.d.Dtype() {
	case qdtype.QUInt8Dtype:
		for i, v := range q.d.Uint8s()[:n] {
			out[i] = int64(v)
		}
	case qdtype.QInt8Dtype:
		for i, v := range q.d.Int8s()[:n] {
			out[i] = int64(v)
		}
	default:
		for i, v := range q.d.Int32s()[:n] {
			out[i] = int64(v)
		}
	}
	return out
}

// Int returns the integer at flat (row-major) index i; like indexing a
// slice, it panics if i is out of range.
func (q *QTensor) Int(i int) int64 {
	switch q.d.Dtype() {
	case qdtype.QUInt8Dtype:
		return int64(q.d.Uint8s()[i])
	case qdtype.QInt8Dtype:
		return int64(q.d.Int8s()[i])
	}
	return int64(q.d.Int32s()[i])
}

// checkFloat32 returns the contiguous float32 data of x, or an error for a
// nil tensor, another dtype, or NaN values.
func checkFloat32(op string, x *tensor.Dense) ([]float32, error) {
	if x == nil {
		return nil, fmt.Errorf("qtensor: %s: nil input", op)
	}
	if x.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("qtensor: %s: input has dtype %v, want float32", op, x.Dtype())
	}
	if x.RequiresIterator() {
		x = x.Materialize().(*tensor.Dense)
	}
	data := x.Float32s()[:x.Shape().TotalSize()]
	for i, v := range data {
		if v != v {
			return nil, fmt.Errorf("qtensor: %s: input is NaN at flat index %d; NaN cannot be quantized", op, i)
		}
	}
	return data, nil
}

// QuantizePerTensor quantizes a float32 tensor with one scale and zero point:
// q = clamp(zp + rne(f32(x·f32(1/scale))), qmin, qmax), where rne rounds half
// to even and [qmin, qmax] is the dtype's full range; torch.quantize_per_tensor.
// Large values saturate, but values beyond the int64 range after scaling
// (±Inf, |x/scale| ≥ 2⁶³) map to qmin, exactly as PyTorch 1.13 does on x86
// (see qdtype.QuantizeValue). NaN inputs, a scale that is not finite and
// > 0, or a zero point outside the dtype's range are errors (PyTorch maps NaN
// to qmin and does not check the scale). x is not modified.
func QuantizePerTensor(x *tensor.Dense, scale float64, zeroPoint int64, dt tensor.Dtype) (*QTensor, error) {
	qp, err := qdtype.PerTensor(dt, scale, zeroPoint)
	if err != nil {
		return nil, fmt.Errorf("qtensor: quantize_per_tensor: %w", err)
	}
	return Quantize(x, qp)
}

// QuantizePerChannel quantizes a float32 tensor with one scale and zero point
// per index along axis (0 ≤ axis < rank; len(scales) = x.Shape()[axis]);
// torch.quantize_per_channel. Rounding and errors are as QuantizePerTensor's.
func QuantizePerChannel(x *tensor.Dense, scales []float64, zeroPoints []int64, axis int, dt tensor.Dtype) (*QTensor, error) {
	qp, err := qdtype.PerChannel(dt, scales, zeroPoints, axis)
	if err != nil {
		return nil, fmt.Errorf("qtensor: quantize_per_channel: %w", err)
	}
	return Quantize(x, qp)
}

// Quantize quantizes a float32 tensor with any valid qparams (per-tensor,
// per-channel, or per-channel with float zero points).
func Quantize(x *tensor.Dense, qp qdtype.QParams) (*QTensor, error) {
	data, err := checkFloat32("quantize", x)
	if err != nil {
		return nil, err
	}
	shape := x.Shape()
	if err := qp.ValidateFor(shape); err != nil {
		return nil, fmt.Errorf("qtensor: quantize: %w", err)
	}
	qmin, qmax, _ := qdtype.Range(qp.Dtype)
	out := newDense(qp.Dtype, shape)
	if !qp.PerChannel() {
		inv := qdtype.InvScale(qp.Scale())
		zp := qp.ZeroPoint()
		quantizeRun(out, 0, data, inv, zp)
		return &QTensor{d: out, qp: qp.Clone()}, nil
	}
	outer, ch, inner := channelSplit(shape, qp.Axis)
	for o := 0; o < outer; o++ {
		for c := 0; c < ch; c++ {
			off := (o*ch + c) * inner
			if qp.Scheme == qdtype.PerChannelAffineFloatQParams {
				s, z := float32(qp.Scales[c]), qp.FloatZeroPoints[c]
				for i := off; i < off+inner; i++ {
					setInt(out, i, qdtype.QuantizeValueFloatQParams(data[i], s, z, qmin, qmax))
				}
				continue
			}
			quantizeRun(out, off, data[off:off+inner], qdtype.InvScale(qp.Scales[c]), qp.ZeroPoints[c])
		}
	}
	return &QTensor{d: out, qp: qp.Clone()}, nil
}

// quantizeRun quantizes one run of data (one scale and zero point) into
// out at off with the kernels' vector loops, which match
// qdtype.QuantizeValue bit for bit on every path.
func quantizeRun(out *tensor.Dense, off int, data []float32, inv float32, zp int64) {
	switch out.Dtype() {
	case qdtype.QUInt8Dtype:
		kernels.QuantizeF32U8(out.Uint8s()[off:off+len(data)], data, inv, int32(zp))
	case qdtype.QInt8Dtype:
		kernels.QuantizeF32S8(out.Int8s()[off:off+len(data)], data, inv, int32(zp))
	default:
		kernels.QuantizeF32S32(out.Int32s()[off:off+len(data)], data, inv, int32(zp))
	}
}

// channelSplit returns the sizes before, at and after axis.
func channelSplit(shape []int, axis int) (outer, ch, inner int) {
	outer, inner = 1, 1
	for i := 0; i < axis; i++ {
		outer *= shape[i]
	}
	for i := axis + 1; i < len(shape); i++ {
		inner *= shape[i]
	}
	return outer, shape[axis], inner
}

// Dequantize returns the real values as a new float32 tensor;
// torch.Tensor.dequantize. The arithmetic is PyTorch 1.13's CPU kernels':
//
//	per-tensor:   x = f32(q − zp) · f32(scale)                  (float32)
//	per-channel:  x = f32((f32(q) − f32(zp[c])) · scale[c])     (product in float64)
//	float qparams: x = (f32(q) − zp[c]) · f32(scale[c])         (float32)
//
// The per-channel product is taken in double with the float64 scale, as
// dequantize_per_channel_affine_kernel does; it differs from the float32
// product only for scales that are not float32 values, and the float32
// subtraction only for qint32 values beyond 2²⁴. PyTorch computes the
// per-tensor q − zp in int32, which wraps around for qint32 values near
// ±2³¹ with a zero point of the other sign; qgorgonia computes it exactly.
func (q *QTensor) Dequantize() (*tensor.Dense, error) {
	shape := q.d.Shape()
	n := shape.TotalSize()
	out := make([]float32, n)
	if q.qp.PerChannel() && (q.qp.Axis >= len(shape) || shape[q.qp.Axis] != len(q.qp.Scales)) {
		return nil, fmt.Errorf("qtensor: dequantize: %d per-channel scales do not match axis %d of shape %v", len(q.qp.Scales), q.qp.Axis, shape)
	}
	switch q.d.Dtype() {
	case qdtype.QUInt8Dtype:
		if !q.qp.PerChannel() {
			kernels.DequantizeU8F32(out, q.d.Uint8s()[:n], float32(q.qp.Scale()), int32(q.qp.ZeroPoint()))
			break
		}
		dequantizeT(q.d.Uint8s()[:n], out, shape, q.qp)
	case qdtype.QInt8Dtype:
		if !q.qp.PerChannel() {
			kernels.DequantizeS8F32(out, q.d.Int8s()[:n], float32(q.qp.Scale()), int32(q.qp.ZeroPoint()))
			break
		}
		dequantizeT(q.d.Int8s()[:n], out, shape, q.qp)
	default:
		dequantizeT(q.d.Int32s()[:n], out, shape, q.qp)
	}
	if len(shape) == 0 {
		return tensor.New(tensor.WithShape(), tensor.WithBacking(out)), nil
	}
	return tensor.New(tensor.WithShape(shape.Clone()...), tensor.WithBacking(out)), nil
}

func dequantizeT[T uint8 | int8 | int32](src []T, out []float32, shape []int, qp qdtype.QParams) {
	if !qp.PerChannel() {
		s := float32(qp.Scale())
		zp := qp.ZeroPoint()
		for i, v := range src {
			out[i] = float32(int64(v)-zp) * s
		}
		return
	}
	outer, ch, inner := channelSplit(shape, qp.Axis)
	for o := 0; o < outer; o++ {
		for c := 0; c < ch; c++ {
			off := (o*ch + c) * inner
			row, dst := src[off:off+inner], out[off:off+inner]
			if qp.Scheme == qdtype.PerChannelAffineFloatQParams {
				s, z := float32(qp.Scales[c]), qp.FloatZeroPoints[c]
				for i, v := range row {
					dst[i] = (float32(v) - z) * s
				}
				continue
			}
			s, z := qp.Scales[c], float32(qp.ZeroPoints[c])
			for i, v := range row {
				dst[i] = float32(float64(float32(v)-z) * s)
			}
		}
	}
}

// IntRepr returns the integer representation as a new plain tensor of
// dtype uint8, int8 or int32; torch.Tensor.int_repr.
func (q *QTensor) IntRepr() *tensor.Dense {
	shape := q.d.Shape().Clone()
	n := shape.TotalSize()
	var backing interface{}
	switch q.d.Dtype() {
	case qdtype.QUInt8Dtype:
		backing = append([]uint8(nil), q.d.Uint8s()[:n]...)
	case qdtype.QInt8Dtype:
		backing = append([]int8(nil), q.d.Int8s()[:n]...)
	default:
		backing = append([]int32(nil), q.d.Int32s()[:n]...)
	}
	if len(shape) == 0 {
		return tensor.New(tensor.WithShape(), tensor.WithBacking(backing))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(backing))
}

// QScale returns the scale of a per-tensor quantized tensor; an error for
// per-channel tensors, as torch.Tensor.q_scale.
func (q *QTensor) QScale() (float64, error) {
	if q.qp.PerChannel() {
		return 0, fmt.Errorf("qtensor: q_scale: tensor is quantized %s; use QPerChannelScales", q.qp.Scheme)
	}
	return q.qp.Scale(), nil
}

// QZeroPoint returns the zero point of a per-tensor quantized tensor; an
// error for per-channel tensors.
func (q *QTensor) QZeroPoint() (int64, error) {
	if q.qp.PerChannel() {
		return 0, fmt.Errorf("qtensor: q_zero_point: tensor is quantized %s; use QPerChannelZeroPoints", q.qp.Scheme)
	}
	return q.qp.ZeroPoint(), nil
}

// QPerChannelScales returns the per-channel scales; an error for per-tensor
// tensors.
func (q *QTensor) QPerChannelScales() ([]float64, error) {
	if !q.qp.PerChannel() {
		return nil, fmt.Errorf("qtensor: q_per_channel_scales: tensor is quantized %s", q.qp.Scheme)
	}
	return append([]float64(nil), q.qp.Scales...), nil
}

// QPerChannelZeroPoints returns the per-channel zero points; an error for
// per-tensor tensors and for float zero points (see QPerChannelFloatZeroPoints).
func (q *QTensor) QPerChannelZeroPoints() ([]int64, error) {
	if !q.qp.PerChannel() {
		return nil, fmt.Errorf("qtensor: q_per_channel_zero_points: tensor is quantized %s", q.qp.Scheme)
	}
	if q.qp.Scheme == qdtype.PerChannelAffineFloatQParams {
		return nil, fmt.Errorf("qtensor: q_per_channel_zero_points: zero points are float; use QPerChannelFloatZeroPoints")
	}
	return append([]int64(nil), q.qp.ZeroPoints...), nil
}

// QPerChannelFloatZeroPoints returns the float zero points of a
// per_channel_affine_float_qparams tensor.
func (q *QTensor) QPerChannelFloatZeroPoints() ([]float32, error) {
	if q.qp.Scheme != qdtype.PerChannelAffineFloatQParams {
		return nil, fmt.Errorf("qtensor: tensor is quantized %s, not with float zero points", q.qp.Scheme)
	}
	return append([]float32(nil), q.qp.FloatZeroPoints...), nil
}

// QPerChannelAxis returns the channel axis of a per-channel tensor; an error
// for per-tensor tensors.
func (q *QTensor) QPerChannelAxis() (int, error) {
	if !q.qp.PerChannel() {
		return 0, fmt.Errorf("qtensor: q_per_channel_axis: tensor is quantized %s", q.qp.Scheme)
	}
	return q.qp.Axis, nil
}

// String formats the tensor's real values and qparams.
func (q *QTensor) String() string {
	f, err := q.Dequantize()
	if err != nil {
		return fmt.Sprintf("QTensor(%v, %v: %v)", q.d.Shape(), q.qp, err)
	}
	return fmt.Sprintf("%v\n%v", f, q.qp)
}
