package ops

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// PackedLinear is a qint8 weight matrix (N, K) packed once for the u8×s8
// GEMM, with its scales, zero points and float32 bias: PyTorch's
// LinearPackedParams (quantized::linear_prepack). It is immutable and safe
// for concurrent use.
type PackedLinear struct {
	n, k   int
	packed *kernels.PackedWeights
	weight *qtensor.QTensor // the original weight, for Unpack
	scales []float64        // 1 (per-tensor) or N
	wZP    []int32          // 1 or N
	bias   []float32        // nil or N
	// last caches the epilogue of the latest call: inference repeats the
	// same input and output qparams.
	last atomic.Pointer[linearEpilogue]
}

// linearEpilogue is a cached requantizing epilogue and its output qparams.
type linearEpilogue struct {
	sx, scale float64
	zp        int64
	relu      bool
	rq        *kernels.Requant
	qp        qdtype.QParams
}

// PrepackLinear packs a linear layer's weight and bias, as
// torch.ops.quantized.linear_prepack does. w must be a qint8 (N, K) tensor,
// quantized per tensor or per channel along axis 0 (any zero points in the
// qint8 range); bias is nil or a float32 tensor of N elements. Neither is
// modified or retained.
func PrepackLinear(w *qtensor.QTensor, bias *tensor.Dense) (*PackedLinear, error) {
	const op = "linear_prepack"
	if w == nil {
		return nil, fmt.Errorf("ops: %s: nil weight", op)
	}
	if w.Dims() != 2 {
		return nil, fmt.Errorf("ops: %s: weight has shape %v, want 2-D (out_features, in_features)", op, w.Shape())
	}
	n, k := w.Shape()[0], w.Shape()[1]
	data, scales, zps, err := weightParams(op, w, 0, n)
	if err != nil {
		return nil, err
	}
	b, err := biasData(op, bias, n)
	if err != nil {
		return nil, err
	}
	return &PackedLinear{
		n: n, k: k,
		packed: kernels.PackWeights(data, n, k),
		weight: cloneQ(w),
		scales: scales, wZP: zps, bias: b,
	}, nil
}

// N returns the number of output features.
func (p *PackedLinear) N() int { return p.n }

// K returns the number of input features.
func (p *PackedLinear) K() int { return p.k }

// Unpack returns copies of the weight and bias (nil without bias), as
// torch.ops.quantized.linear_unpack does.
func (p *PackedLinear) Unpack() (*qtensor.QTensor, *tensor.Dense) {
	return cloneQ(p.weight), biasDense(p.bias)
}

// Linear computes the quantized linear layer y = x·Wᵀ + b of PyTorch's
// torch.ops.quantized.linear(x, packed, scale, zero_point):
//
//	acc[i][j] = Σ_k (qx[i][k] − zx)·(qw[j][k] − zw[j])            (int32)
//	qy[i][j]  = clamp(zy + rne(f32(f32(acc)·f32(sx·sw[j]/sy)) + f32(b[j]/sy)), 0, 255)
//
// where rne rounds half to even. This matches PyTorch's reference
// "acc·sx·sw + b, divided by sy and rounded" except, rarely, by one step at
// a rounding tie. x is a quint8 per-tensor tensor (…, K), of rank ≥ 1; the
// result is a quint8 per-tensor tensor (…, N) with the given scale and zero
// point. An empty x gives an empty (0, N) result, as PyTorch's ONEDNN
// engine returns for every rank. Errors: a nil or
// non-quint8 or per-channel x, a last dimension other than K, a scale that
// is not finite and > 0, a zero point outside [0, 255].
func Linear(x *qtensor.QTensor, p *PackedLinear, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return linear("linear", x, p, scale, zeroPoint, false)
}

// LinearReLU is Linear followed by ReLU, fused as
// torch.ops.quantized.linear_relu: the output is clamped below at the output
// zero point.
func LinearReLU(x *qtensor.QTensor, p *PackedLinear, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return linear("linear_relu", x, p, scale, zeroPoint, true)
}

// LinearWithWeights packs w and bias and calls Linear; the functional form
// torch.nn.quantized.functional.linear(x, w, bias, scale, zero_point). Pack
// once with PrepackLinear when the weights are reused.
func LinearWithWeights(x, w *qtensor.QTensor, bias *tensor.Dense, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	p, err := PrepackLinear(w, bias)
	if err != nil {
		return nil, err
	}
	return Linear(x, p, scale, zeroPoint)
}

func linear(op string, x *qtensor.QTensor, p *PackedLinear, scale float64, zeroPoint int64, relu bool) (*qtensor.QTensor, error) {
	if p == nil {
		return nil, fmt.Errorf("ops: %s: nil packed weights", op)
	}
	xd, sx, zx, err := quint8Input(op, x, 1)
	if err != nil {
		return nil, err
	}
	shape := x.Shape()
	if shape[len(shape)-1] != p.k {
		return nil, fmt.Errorf("ops: %s: input has %d features (shape %v), weight expects %d", op, shape[len(shape)-1], shape, p.k)
	}
	e := p.last.Load()
	if e == nil || e.sx != sx || e.scale != scale || e.zp != zeroPoint || e.relu != relu {
		rq, qp, err := requantFor(op, sx, p.scales, p.bias, scale, zeroPoint, relu)
		if err != nil {
			return nil, err
		}
		e = &linearEpilogue{sx: sx, scale: scale, zp: zeroPoint, relu: relu, rq: rq, qp: qp}
		p.last.Store(e)
	}
	rq, qp := e.rq, e.qp
	outShape := linearOutShape(shape, p.n)
	y, err := qtensor.Empty(outShape, qp)
	if err != nil {
		return nil, fmt.Errorf("ops: %s: %w", op, err)
	}
	m := 1
	for _, d := range shape[:len(shape)-1] {
		m *= d
	}
	if m > 0 && p.n > 0 {
		kernels.GemmU8S8Requant(m, xd, p.k, zx, p.packed, p.wZP, rq, y.Dense().Uint8s(), p.n)
	}
	return y, nil
}

// linearOutShape is the output shape of a linear layer on an input of
// shape x: x with its last dimension replaced by n, except that an empty
// input gives (0, n) whatever its rank, as PyTorch 1.13's reference engine
// (ONEDNN) returns.
func linearOutShape(x []int, n int) []int {
	size := 1
	for _, d := range x {
		size *= d
	}
	if size == 0 {
		return []int{0, n}
	}
	return append(append([]int{}, x[:len(x)-1]...), n)
}

// requantFor builds the requantizing epilogue for input scale sx, weight
// scales ws (1 or N), bias (nil or N) and the output qparams; it validates
// the output qparams.
func requantFor(op string, sx float64, ws []float64, bias []float32, scale float64, zeroPoint int64, relu bool) (*kernels.Requant, qdtype.QParams, error) {
	qp, err := qdtype.PerTensor(qdtype.QUInt8Dtype, scale, zeroPoint)
	if err != nil {
		return nil, qp, fmt.Errorf("ops: %s: output qparams: %w", op, err)
	}
	rq := &kernels.Requant{Multiplier: make([]float32, len(ws)), ZeroPoint: int32(zeroPoint), Min: 0, Max: 255}
	for j, s := range ws {
		rq.Multiplier[j] = float32(sx * s / scale)
	}
	if bias != nil {
		rq.Bias = make([]float32, len(bias))
		for j, b := range bias {
			rq.Bias[j] = float32(float64(b) / scale)
		}
	}
	if relu {
		rq.Min = int32(zeroPoint)
	}
	return rq, qp, nil
}

// quint8Input checks that x is a per-tensor quint8 tensor of rank ≥ minRank
// and returns its data, scale and zero point.
func quint8Input(op string, x *qtensor.QTensor, minRank int) ([]uint8, float64, int32, error) {
	if x == nil {
		return nil, 0, 0, fmt.Errorf("ops: %s: nil input", op)
	}
	if x.Dtype() != qdtype.QUInt8Dtype {
		return nil, 0, 0, fmt.Errorf("ops: %s: input has dtype %s, want quint8", op, qdtype.Name(x.Dtype()))
	}
	if x.QScheme().PerChannel() {
		return nil, 0, 0, fmt.Errorf("ops: %s: input is quantized per channel, want per tensor", op)
	}
	if x.Dims() < minRank {
		return nil, 0, 0, fmt.Errorf("ops: %s: input has shape %v, want at least %d dimensions", op, x.Shape(), minRank)
	}
	sx, err := x.QScale()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("ops: %s: %w", op, err)
	}
	zx, err := x.QZeroPoint()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("ops: %s: %w", op, err)
	}
	return x.Dense().Uint8s()[:x.Size()], sx, int32(zx), nil
}

// weightParams checks a qint8 weight quantized per tensor or per channel
// along axis (with ch channels) and returns a copy of its data, its scales
// and its zero points (1 or ch each).
func weightParams(op string, w *qtensor.QTensor, axis, ch int) ([]int8, []float64, []int32, error) {
	if w.Dtype() != qdtype.QInt8Dtype {
		return nil, nil, nil, fmt.Errorf("ops: %s: weight has dtype %s, want qint8", op, qdtype.Name(w.Dtype()))
	}
	qp := w.QParams()
	switch qp.Scheme {
	case qdtype.PerTensorAffine, qdtype.PerTensorSymmetric:
	case qdtype.PerChannelAffine, qdtype.PerChannelSymmetric:
		if qp.Axis != axis {
			return nil, nil, nil, fmt.Errorf("ops: %s: weight is quantized per channel along axis %d, want axis %d", op, qp.Axis, axis)
		}
		if len(qp.Scales) != ch {
			return nil, nil, nil, fmt.Errorf("ops: %s: weight has %d per-channel scales, want %d", op, len(qp.Scales), ch)
		}
	default:
		return nil, nil, nil, fmt.Errorf("ops: %s: weight qscheme %v is not supported (want per-tensor or per-channel affine/symmetric)", op, qp.Scheme)
	}
	zps := make([]int32, len(qp.ZeroPoints))
	for i, z := range qp.ZeroPoints {
		zps[i] = int32(z)
	}
	data := append([]int8(nil), w.Dense().Int8s()[:w.Size()]...)
	return data, append([]float64(nil), qp.Scales...), zps, nil
}

// biasData checks an optional float32 bias of n elements and returns a copy
// of its data (nil for no bias).
func biasData(op string, bias *tensor.Dense, n int) ([]float32, error) {
	if bias == nil {
		return nil, nil
	}
	if bias.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("ops: %s: bias has dtype %v, want float32", op, bias.Dtype())
	}
	if bias.Dims() != 1 || bias.Shape()[0] != n {
		return nil, fmt.Errorf("ops: %s: bias has shape %v, want [%d]", op, bias.Shape(), n)
	}
	d, err := float32Data(op, "bias", bias)
	if err != nil {
		return nil, err
	}
	return append([]float32(nil), d...), nil
}

// float32Data returns the row-major float32 data of t (materialized if it
// is a view), or an error for another dtype or NaN values.
func float32Data(op, name string, t *tensor.Dense) ([]float32, error) {
	if t == nil {
		return nil, fmt.Errorf("ops: %s: nil %s", op, name)
	}
	if t.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("ops: %s: %s has dtype %v, want float32", op, name, t.Dtype())
	}
	if t.RequiresIterator() {
		t = t.Materialize().(*tensor.Dense)
	}
	d := t.Float32s()[:t.Shape().TotalSize()]
	for i, v := range d {
		if math.IsNaN(float64(v)) {
			return nil, fmt.Errorf("ops: %s: %s is NaN at flat index %d", op, name, i)
		}
	}
	return d, nil
}

func biasDense(b []float32) *tensor.Dense {
	if b == nil {
		return nil
	}
	return tensor.New(tensor.WithShape(len(b)), tensor.WithBacking(append([]float32(nil), b...)))
}

func cloneQ(q *qtensor.QTensor) *qtensor.QTensor {
	c, err := qtensor.Empty(q.Shape(), q.QParams())
	if err != nil {
		panic("ops: cloning a valid QTensor failed: " + err.Error())
	}
	d := c.Dense()
	switch q.Dtype() {
	case qdtype.QUInt8Dtype:
		copy(d.Uint8s(), q.Dense().Uint8s())
	case qdtype.QInt8Dtype:
		copy(d.Int8s(), q.Dense().Int8s())
	default:
		copy(d.Int32s(), q.Dense().Int32s())
	}
	return c
}

func float32Dense(shape []int, data []float32) *tensor.Dense {
	if len(shape) == 0 {
		return tensor.New(tensor.WithShape(), tensor.WithBacking(data))
	}
	return tensor.New(tensor.WithShape(append([]int(nil), shape...)...), tensor.WithBacking(data))
}
