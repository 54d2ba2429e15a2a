package ops

import (
	"fmt"
	"math"
	"sync"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// Quantized activations. Every unary op on an 8-bit tensor is one lookup
// in a 256-entry table (kernels.LUT) built from PyTorch 1.13's scalar
// formula, "dequantize → float32 op → quantize", once per (op, parameters,
// qparams) and cached. The ops take per-tensor quint8 or qint8 tensors and
// never modify them.

// act8 is a validated per-tensor 8-bit operand.
type act8 struct {
	dt     tensor.Dtype
	signed bool
	scale  float64
	zp     int64
}

// codes returns the encoding kernels use.
func (a act8) codes() kernels.Codes8 {
	return kernels.Codes8{Signed: a.signed, Scale: float32(a.scale), ZeroPoint: int32(a.zp)}
}

// perTensor8 validates that x is a per-tensor quint8 or qint8 tensor.
func perTensor8(op string, x *qtensor.QTensor) (act8, error) {
	if x == nil {
		return act8{}, fmt.Errorf("ops: %s: nil input", op)
	}
	dt := x.Dtype()
	if dt != qdtype.QUInt8Dtype && dt != qdtype.QInt8Dtype {
		return act8{}, fmt.Errorf("ops: %s: input is %s; want quint8 or qint8", op, qdtype.Name(dt))
	}
	qp := x.QParams()
	if qp.PerChannel() {
		return act8{}, fmt.Errorf("ops: %s: input is quantized %s; only per-tensor quantization is supported", op, qp.Scheme)
	}
	return act8{dt: dt, signed: dt == qdtype.QInt8Dtype, scale: qp.Scale(), zp: qp.ZeroPoint()}, nil
}

// outQParams validates output qparams for an op on dtype dt.
func outQParams(op string, dt tensor.Dtype, scale float64, zp int64) (qdtype.QParams, error) {
	qp, err := qdtype.PerTensor(dt, scale, zp)
	if err != nil {
		return qdtype.QParams{}, fmt.Errorf("ops: %s: output qparams: %w", op, err)
	}
	return qp, nil
}

// emptyLike8 allocates the output of an elementwise op.
func emptyLike8(op string, shape []int, qp qdtype.QParams) (*qtensor.QTensor, error) {
	out, err := qtensor.Empty(shape, qp)
	if err != nil {
		return nil, fmt.Errorf("ops: %s: %w", op, err)
	}
	return out, nil
}

// lutKey identifies a cached table.
type lutKey struct {
	op      string
	p0, p1  float64
	in, out kernels.Codes8
}

// lutCache holds tables built so far; it stops growing at lutCacheMax
// entries (tables past that are built per call).
var (
	lutCache    sync.Map
	lutCacheLen int
	lutCacheMu  sync.Mutex
)

const lutCacheMax = 4096

// cachedLUT returns the table of key, building it with build on a miss.
func cachedLUT(key lutKey, build func() *kernels.LUT) *kernels.LUT {
	if t, ok := lutCache.Load(key); ok {
		return t.(*kernels.LUT)
	}
	t := build()
	lutCacheMu.Lock()
	if lutCacheLen < lutCacheMax {
		if _, loaded := lutCache.LoadOrStore(key, t); !loaded {
			lutCacheLen++
		}
	}
	lutCacheMu.Unlock()
	return t
}

// applyLUT returns a new tensor of x's shape with qparams qp whose codes
// are t applied to x's codes.
func applyLUT(op string, x *qtensor.QTensor, a act8, t *kernels.LUT, qp qdtype.QParams) (*qtensor.QTensor, error) {
	out, err := emptyLike8(op, x.Shape(), qp)
	if err != nil {
		return nil, err
	}
	n := x.Size()
	if a.signed {
		kernels.ApplyLUTS8(t, out.Dense().Int8s()[:n], x.Dense().Int8s()[:n])
	} else {
		kernels.ApplyLUTU8(t, out.Dense().Uint8s()[:n], x.Dense().Uint8s()[:n])
	}
	return out, nil
}

// floatUnary runs a float activation through a cached table: output qparams
// (scale, zp) on x's dtype, table out = quantize(f(dequantize(q))).
func floatUnary(op string, x *qtensor.QTensor, p0, p1 float64, scale float64, zp int64, f func(float32) float32) (*qtensor.QTensor, error) {
	a, err := perTensor8(op, x)
	if err != nil {
		return nil, err
	}
	qp, err := outQParams(op, a.dt, scale, zp)
	if err != nil {
		return nil, err
	}
	in := a.codes()
	oc := kernels.Codes8{Signed: a.signed, Scale: float32(scale), ZeroPoint: int32(zp)}
	t := cachedLUT(lutKey{op: op, p0: p0, p1: p1, in: in, out: oc}, func() *kernels.LUT {
		return kernels.BuildLUT(in, oc, f)
	})
	return applyLUT(op, x, a, t, qp)
}

// clampCodesOp returns x with its codes clamped to [lo, hi] (input qparams).
func clampCodesOp(op string, x *qtensor.QTensor, a act8, lo, hi int64) (*qtensor.QTensor, error) {
	out, err := emptyLike8(op, x.Shape(), x.QParams())
	if err != nil {
		return nil, err
	}
	n := x.Size()
	if a.signed {
		kernels.ClampCodes(out.Dense().Int8s()[:n], x.Dense().Int8s()[:n], int8(lo), int8(hi))
	} else {
		kernels.ClampCodes(out.Dense().Uint8s()[:n], x.Dense().Uint8s()[:n], uint8(lo), uint8(hi))
	}
	return out, nil
}

// quantizeScalar is PyTorch's quantize_val with x's qparams.
func quantizeScalar(a act8, v float32) int64 {
	qmin, qmax, _ := qdtype.Range(a.dt)
	return qdtype.QuantizeValue(v, qdtype.InvScale(a.scale), a.zp, qmin, qmax)
}

// ReLU returns max(x, 0) with x's qparams, computed on the codes as
// q' = max(q, zero_point) (real 0 is exactly the zero point). PyTorch:
// torch.relu / F.relu on a quantized tensor. Errors: nil, not quint8/qint8,
// or per-channel input.
func ReLU(x *qtensor.QTensor) (*qtensor.QTensor, error) {
	a, err := perTensor8("relu", x)
	if err != nil {
		return nil, err
	}
	_, qmax, _ := qdtype.Range(a.dt)
	return clampCodesOp("relu", x, a, a.zp, qmax)
}

// ReLUInPlace is ReLU that overwrites x's codes, as torch.relu_; it is the
// one op here that modifies its argument. x is untouched on error.
func ReLUInPlace(x *qtensor.QTensor) error {
	a, err := perTensor8("relu_", x)
	if err != nil {
		return err
	}
	_, qmax, _ := qdtype.Range(a.dt)
	n := x.Size()
	if a.signed {
		d := x.Dense().Int8s()[:n]
		kernels.ClampCodes(d, d, int8(a.zp), int8(qmax))
	} else {
		d := x.Dense().Uint8s()[:n]
		kernels.ClampCodes(d, d, uint8(a.zp), uint8(qmax))
	}
	return nil
}

// ReLU6 returns min(max(x, 0), 6) with x's qparams, on the codes:
// q' = min(max(q, zp), quantize(6)), where quantize(6) saturates at qmax
// when 6 is not representable. PyTorch: quantized::relu6 / nnq.ReLU6 (which
// is hardtanh(0, 6)).
func ReLU6(x *qtensor.QTensor) (*qtensor.QTensor, error) {
	return hardtanhOp("relu6", x, 0, 6)
}

// Hardtanh returns clamp(x, minVal, maxVal) with x's qparams, on the codes:
// q' = min(max(q, quantize(minVal)), quantize(maxVal)) with PyTorch's
// quantize_val (half to even, saturating). As in PyTorch, minVal > maxVal
// is not an error and yields quantize(maxVal) everywhere. PyTorch:
// F.hardtanh / torch.clamp on a quantized tensor. Errors: bad input, NaN
// bounds.
func Hardtanh(x *qtensor.QTensor, minVal, maxVal float64) (*qtensor.QTensor, error) {
	return hardtanhOp("hardtanh", x, minVal, maxVal)
}

func hardtanhOp(op string, x *qtensor.QTensor, minVal, maxVal float64) (*qtensor.QTensor, error) {
	a, err := perTensor8(op, x)
	if err != nil {
		return nil, err
	}
	if math.IsNaN(minVal) || math.IsNaN(maxVal) {
		return nil, fmt.Errorf("ops: %s: bounds %v, %v must not be NaN", op, minVal, maxVal)
	}
	lo := quantizeScalar(a, float32(minVal))
	hi := quantizeScalar(a, float32(maxVal))
	if lo > hi {
		lo = hi
	}
	return clampCodesOp(op, x, a, lo, hi)
}

// ELU returns the quantized ELU with output qparams (scale, zeroPoint):
// y = x for x ≥ 0, else alpha·(exp(x) − 1), in float32 on the dequantized
// input, then quantized (half to even, saturating). PyTorch:
// torch.ao.nn.quantized.functional.elu(x, scale, zero_point, alpha) /
// nnq.ELU. Errors: bad input, invalid output qparams, NaN alpha.
func ELU(x *qtensor.QTensor, scale float64, zeroPoint int64, alpha float64) (*qtensor.QTensor, error) {
	if math.IsNaN(alpha) {
		return nil, fmt.Errorf("ops: elu: alpha is NaN")
	}
	al := float32(alpha)
	return floatUnary("elu", x, alpha, 0, scale, zeroPoint, func(v float32) float32 {
		if v >= 0 {
			return v
		}
		return float32(expf(v)-1) * al
	})
}

// LeakyReLU returns max(x, 0) + slope·min(x, 0) with x's own qparams:
// dequantize, x > 0 ? x : x·slope in float32, quantize. PyTorch:
// F.leaky_relu on a quantized tensor (torch.ao.nn.quantized.functional.
// leaky_relu without scale and zero_point). Errors: bad input, NaN slope.
func LeakyReLU(x *qtensor.QTensor, negativeSlope float64) (*qtensor.QTensor, error) {
	a, err := perTensor8("leaky_relu", x)
	if err != nil {
		return nil, err
	}
	return LeakyReLUQ(x, negativeSlope, a.scale, a.zp)
}

// LeakyReLUQ is LeakyReLU with output qparams (scale, zeroPoint), as
// nnq.LeakyReLU and torch.ao.nn.quantized.functional.leaky_relu(x, slope,
// False, scale, zero_point). Errors: bad input, invalid output qparams, NaN
// slope.
func LeakyReLUQ(x *qtensor.QTensor, negativeSlope float64, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	if math.IsNaN(negativeSlope) {
		return nil, fmt.Errorf("ops: leaky_relu: negative slope is NaN")
	}
	s := float32(negativeSlope)
	return floatUnary("leaky_relu", x, negativeSlope, 0, scale, zeroPoint, func(v float32) float32 {
		if v > 0 {
			return v
		}
		return v * s
	})
}

// FixedQParams returns the output qparams PyTorch 1.13 fixes for sigmoid
// and hardsigmoid ("sigmoid": scale 1/256, zero point 0 for quint8 and −128
// for qint8) and tanh ("tanh": scale 2/256, zero point 128 for quint8 and 0
// for qint8). Errors: another op name or dtype.
func FixedQParams(op string, dt tensor.Dtype) (qdtype.QParams, error) {
	switch {
	case (op == "sigmoid" || op == "hardsigmoid") && dt == qdtype.QUInt8Dtype:
		return qdtype.PerTensor(dt, 1.0/256, 0)
	case (op == "sigmoid" || op == "hardsigmoid") && dt == qdtype.QInt8Dtype:
		return qdtype.PerTensor(dt, 1.0/256, -128)
	case op == "tanh" && dt == qdtype.QUInt8Dtype:
		return qdtype.PerTensor(dt, 2.0/256, 128)
	case op == "tanh" && dt == qdtype.QInt8Dtype:
		return qdtype.PerTensor(dt, 2.0/256, 0)
	}
	return qdtype.QParams{}, fmt.Errorf("ops: no fixed output qparams for %q on %s", op, qdtype.Name(dt))
}

// fixedUnary runs f with the op's fixed output qparams.
func fixedUnary(op string, x *qtensor.QTensor, f func(float32) float32) (*qtensor.QTensor, error) {
	a, err := perTensor8(op, x)
	if err != nil {
		return nil, err
	}
	qp, err := FixedQParams(op, a.dt)
	if err != nil {
		return nil, err
	}
	return floatUnary(op, x, 0, 0, qp.Scale(), qp.ZeroPoint(), f)
}

// Hardsigmoid returns min(max(x + 3, 0), 6)/6 in float32 on the dequantized
// input, quantized with the fixed qparams of FixedQParams("hardsigmoid").
// PyTorch: F.hardsigmoid on a quantized tensor.
func Hardsigmoid(x *qtensor.QTensor) (*qtensor.QTensor, error) {
	return fixedUnary("hardsigmoid", x, func(v float32) float32 {
		return min(max(v+3, 0), 6) / 6
	})
}

// Hardswish returns x·min(max(x + 3, 0), 6)/6 in float32 on the dequantized
// input, quantized with output qparams (scale, zeroPoint). PyTorch:
// torch.ao.nn.quantized.functional.hardswish(x, scale, zero_point) /
// nnq.Hardswish. Errors: bad input, invalid output qparams.
func Hardswish(x *qtensor.QTensor, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return floatUnary("hardswish", x, 0, 0, scale, zeroPoint, func(v float32) float32 {
		return float32(v*min(max(v+3, 0), 6)) / 6
	})
}

// Sigmoid returns 1/(1 + exp(−x)) in float32 on the dequantized input,
// quantized with the fixed qparams of FixedQParams("sigmoid"). PyTorch:
// torch.sigmoid on a quantized tensor (the default, non-QNNPACK engine).
func Sigmoid(x *qtensor.QTensor) (*qtensor.QTensor, error) {
	return fixedUnary("sigmoid", x, func(v float32) float32 {
		return 1 / (1 + expf(-v))
	})
}

// Tanh returns tanh(x) on the dequantized input, quantized with the fixed
// qparams of FixedQParams("tanh"). PyTorch: torch.tanh on a quantized
// tensor.
func Tanh(x *qtensor.QTensor) (*qtensor.QTensor, error) {
	return fixedUnary("tanh", x, func(v float32) float32 {
		return float32(math.Tanh(float64(v)))
	})
}

// MapFloat applies an arbitrary float32 function elementwise through a
// 256-entry table, out = quantize(f(dequantize(q))) with output qparams
// (scale, zeroPoint), the pattern PyTorch's quantized unary kernels follow
// (e.g. F.gelu). f is called 256 times; the table is not cached. Errors:
// bad input, invalid output qparams, nil f.
func MapFloat(x *qtensor.QTensor, scale float64, zeroPoint int64, f func(float32) float32) (*qtensor.QTensor, error) {
	if f == nil {
		return nil, fmt.Errorf("ops: map_float: nil function")
	}
	a, err := perTensor8("map_float", x)
	if err != nil {
		return nil, err
	}
	qp, err := outQParams("map_float", a.dt, scale, zeroPoint)
	if err != nil {
		return nil, err
	}
	t := kernels.BuildLUT(a.codes(), kernels.Codes8{Signed: a.signed, Scale: float32(scale), ZeroPoint: int32(zeroPoint)}, f)
	return applyLUT("map_float", x, a, t, qp)
}

// expf is float32 exp, computed in float64 and rounded once (glibc's expf
// is correctly rounded in all but rare cases; so is this).
func expf(v float32) float32 { return float32(math.Exp(float64(v))) }
