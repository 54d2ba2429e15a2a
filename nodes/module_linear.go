package nodes

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// QuantizedLinear is nn.quantized.Linear (ReLU false) and
// nn.intrinsic.quantized.LinearReLU (ReLU true): y = x·Wᵀ + b on a quint8
// per-tensor input (…, In), requantized to (Scale, ZeroPoint),
// qy = clamp(zy + rne(acc·sx·sw[c]/sy + b[c]/sy)) (clamped below at zy with
// ReLU). The qint8 weight (Out, In), per tensor or per channel along axis 0,
// and the float32 bias are packed once by the constructor. Forward equals
// ops.Linear / ops.LinearReLU bit for bit.
type QuantizedLinear struct {
	nn.Base
	nn.Stateless
	InFeatures, OutFeatures int
	Packed                  *ops.PackedLinear
	Scale                   float64
	ZeroPoint               int64
	ReLU                    bool
}

// NewQuantizedLinear packs the qint8 weight w (Out, In) and the float32 bias
// (Out, or nil) and returns the module with output qparams (scale,
// zeroPoint) of dtype quint8. Errors: anything ops.PrepackLinear rejects,
// invalid output qparams.
func NewQuantizedLinear(w *qtensor.QTensor, bias *tensor.Dense, scale float64, zeroPoint int64, relu bool) (*QuantizedLinear, error) {
	if _, err := qdtype.PerTensor(qdtype.QUInt8Dtype, scale, zeroPoint); err != nil {
		return nil, fmt.Errorf("nodes: QuantizedLinear: output qparams: %w", err)
	}
	if w == nil {
		return nil, fmt.Errorf("nodes: QuantizedLinear: weight is nil")
	}
	p, err := ops.PrepackLinear(w, bias)
	if err != nil {
		return nil, fmt.Errorf("nodes: QuantizedLinear: %w", err)
	}
	return &QuantizedLinear{InFeatures: p.K(), OutFeatures: p.N(), Packed: p, Scale: scale, ZeroPoint: zeroPoint, ReLU: relu}, nil
}

// QuantizedLinearFromFloat is nnq.Linear.from_float for a float nn.Linear:
// the fresh weight observer wobs observes the weight once (QuantizeWeight,
// with _clamp_weights), the bias stays float32, and the output qparams are
// out (per tensor, quint8) — the module's activation observer's
// calculate_qparams(). relu selects LinearReLU.
func QuantizedLinearFromFloat(l *nn.Linear, wobs observer.Observer, out qdtype.QParams, relu bool) (*QuantizedLinear, error) {
	if l == nil {
		return nil, fmt.Errorf("nodes: QuantizedLinear: float module is nil")
	}
	if out.PerChannel() {
		return nil, fmt.Errorf("nodes: QuantizedLinear: output qparams must be per tensor, got %v", out)
	}
	wq, err := QuantizeWeight(l.Weight.Data, wobs)
	if err != nil {
		return nil, fmt.Errorf("nodes: QuantizedLinear: %w", err)
	}
	var b *tensor.Dense
	if l.Bias != nil {
		b = l.Bias.Data
	}
	return NewQuantizedLinear(wq, b, out.Scale(), out.ZeroPoint(), relu)
}

// Forward builds the quantized linear node on x (…, In), quint8 per tensor.
func (m *QuantizedLinear) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if err := requireQuantized(m.TypeName(), x); err != nil {
		return nil, err
	}
	if m.ReLU {
		return QLinearReLUPacked(x, m.Packed, m.Scale, m.ZeroPoint)
	}
	return QLinearPacked(x, m.Packed, m.Scale, m.ZeroPoint)
}

// TypeName returns "QuantizedLinear" or "QuantizedLinearReLU".
func (m *QuantizedLinear) TypeName() string {
	if m.ReLU {
		return "QuantizedLinearReLU"
	}
	return "QuantizedLinear"
}

// Clone returns a copy sharing the immutable packed weights.
func (m *QuantizedLinear) Clone() nn.Module {
	c := *m
	c.Base = m.CloneBase()
	return &c
}

// Weight returns the qint8 weight and float32 bias (copies).
func (m *QuantizedLinear) Weight() (*qtensor.QTensor, *tensor.Dense) { return m.Packed.Unpack() }

// DynamicQuantizedLinear is nn.quantized.dynamic.Linear (and
// nn.intrinsic.quantized.dynamic.LinearReLU with ReLU): float32 in, float32
// out. With a qint8 weight, every run quantizes the input (…, In) to quint8
// with qparams chosen from its own min and max (reduce_range: [0, 127], as
// PyTorch's x86 modules of version ≥ 4), multiplies in int32 and rescales
// to float32 with the float bias added (ops.LinearDynamic). With a float16
// weight (FP16 set) the weight is rounded to float16 and the product is
// float (ops.LinearDynamicFP16).
type DynamicQuantizedLinear struct {
	nn.Base
	nn.Stateless
	InFeatures, OutFeatures int
	// Packed holds the qint8 weight; nil for float16 modules.
	Packed *ops.PackedLinear
	// FP16Weight and FP16Bias hold the float32 weight and bias of a float16
	// module (rounded when the node is built).
	FP16Weight, FP16Bias *tensor.Dense
	ReduceRange          bool
	ReLU                 bool

	// fp16 is FP16Weight and FP16Bias packed once by the constructor
	// (nil for a module built as a literal: Forward packs then).
	fp16 *ops.PackedLinearFP16
}

// NewDynamicQuantizedLinear packs the qint8 weight w (Out, In) with the
// float32 bias (Out, or nil); reduceRange is PyTorch's default true.
func NewDynamicQuantizedLinear(w *qtensor.QTensor, bias *tensor.Dense, reduceRange, relu bool) (*DynamicQuantizedLinear, error) {
	if w == nil {
		return nil, fmt.Errorf("nodes: DynamicQuantizedLinear: weight is nil")
	}
	p, err := ops.PrepackLinear(w, bias)
	if err != nil {
		return nil, fmt.Errorf("nodes: DynamicQuantizedLinear: %w", err)
	}
	return &DynamicQuantizedLinear{InFeatures: p.K(), OutFeatures: p.N(), Packed: p, ReduceRange: reduceRange, ReLU: relu}, nil
}

// NewDynamicQuantizedLinearFP16 returns a float16-weight dynamic linear
// layer; w (Out, In) and bias (Out, or nil) are copied. The weight is
// checked, rounded and packed once by ops.PrepackLinearFP16.
func NewDynamicQuantizedLinearFP16(w, bias *tensor.Dense, relu bool) (*DynamicQuantizedLinear, error) {
	if w == nil {
		return nil, fmt.Errorf("nodes: DynamicQuantizedLinear: weight is nil")
	}
	p, err := ops.PrepackLinearFP16(w, bias)
	if err != nil {
		return nil, fmt.Errorf("nodes: DynamicQuantizedLinear: %w", err)
	}
	m := &DynamicQuantizedLinear{InFeatures: w.Shape()[1], OutFeatures: w.Shape()[0], FP16Weight: w.Clone().(*tensor.Dense), ReLU: relu, fp16: p}
	if bias != nil {
		m.FP16Bias = bias.Clone().(*tensor.Dense)
	}
	return m, nil
}

// DynamicQuantizedLinearFromFloat is nnqd.Linear.from_float: the fresh
// weight observer wobs observes the weight once; a float16 observer dtype
// (observer.Float16, float16_dynamic_qconfig) keeps the weight in float16,
// qint8 quantizes it with the observer's qparams. reduce_range is true.
func DynamicQuantizedLinearFromFloat(l *nn.Linear, wobs observer.Observer, relu bool) (*DynamicQuantizedLinear, error) {
	if l == nil || wobs == nil {
		return nil, fmt.Errorf("nodes: DynamicQuantizedLinear: nil float module or weight observer")
	}
	var b *tensor.Dense
	if l.Bias != nil {
		b = l.Bias.Data
	}
	switch wobs.Dtype() {
	case observer.Float16:
		return NewDynamicQuantizedLinearFP16(l.Weight.Data, b, relu)
	case qdtype.QInt8Dtype:
	default:
		return nil, fmt.Errorf("nodes: DynamicQuantizedLinear: weight observer dtype must be qint8 or float16, got %v", wobs.Dtype())
	}
	wq, err := QuantizeWeight(l.Weight.Data, wobs)
	if err != nil {
		return nil, fmt.Errorf("nodes: DynamicQuantizedLinear: %w", err)
	}
	return NewDynamicQuantizedLinear(wq, b, true, relu)
}

// Forward builds the dynamic linear node on the float32 x (…, In).
func (m *DynamicQuantizedLinear) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if err := requireFloat(m.TypeName(), x); err != nil {
		return nil, err
	}
	var y *gorgonia.Node
	var err error
	switch {
	case m.Packed != nil:
		y, err = DynamicLinearPacked(x, m.Packed, m.ReduceRange)
	case m.fp16 != nil:
		y, err = DynamicLinearFP16Packed(x, m.fp16)
	default:
		y, err = DynamicLinearFP16(x, m.FP16Weight, m.FP16Bias)
	}
	if err != nil || !m.ReLU {
		return y, err
	}
	return gorgonia.Rectify(y)
}

// TypeName returns "DynamicQuantizedLinear" or "DynamicQuantizedLinearReLU".
func (m *DynamicQuantizedLinear) TypeName() string {
	if m.ReLU {
		return "DynamicQuantizedLinearReLU"
	}
	return "DynamicQuantizedLinear"
}

// Clone returns a copy sharing the immutable packed weights.
func (m *DynamicQuantizedLinear) Clone() nn.Module {
	c := *m
	c.Base = m.CloneBase()
	return &c
}
