package nodes

import (
	"fmt"
	"strings"

	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/gorgonia"
)

// QuantizedActivation is one of the quantized activation modules: Kind
// "ReLU6" (nn.quantized.ReLU6: min(max(q, zp), q(6)) with the input's
// qparams), "Hardswish" (nn.quantized.Hardswish), "ELU" (nn.quantized.ELU,
// Param = alpha) and "LeakyReLU" (nn.quantized.LeakyReLU, Param = negative
// slope), the last three requantizing to (Scale, ZeroPoint), which come from
// the float module's activation observer. Forward equals ops.ReLU6,
// ops.Hardswish, ops.ELU and ops.LeakyReLUQ bit for bit.
type QuantizedActivation struct {
	nn.Base
	nn.Stateless
	Kind      string
	Param     float64
	Scale     float64
	ZeroPoint int64
}

// NewQuantizedActivation returns the activation of kind ("ReLU6",
// "Hardswish", "ELU", "LeakyReLU") with param (alpha or slope; ignored
// otherwise) and quint8 output qparams (ignored for ReLU6).
func NewQuantizedActivation(kind string, param, scale float64, zeroPoint int64) (*QuantizedActivation, error) {
	switch kind {
	case "ReLU6":
		scale, zeroPoint = 1, 0
	case "Hardswish", "ELU", "LeakyReLU":
		if _, err := qdtype.PerTensor(qdtype.QUInt8Dtype, scale, zeroPoint); err != nil {
			return nil, fmt.Errorf("nodes: Quantized%s: output qparams: %w", kind, err)
		}
	default:
		return nil, fmt.Errorf("nodes: quantized activation: unknown kind %q (ReLU6, Hardswish, ELU, LeakyReLU)", kind)
	}
	return &QuantizedActivation{Kind: kind, Param: param, Scale: scale, ZeroPoint: zeroPoint}, nil
}

// QuantizedActivationFromFloat converts nn.ReLU6, nn.Hardswish, nn.ELU or
// nn.LeakyReLU with the output qparams out (unused for ReLU6).
func QuantizedActivationFromFloat(m nn.Module, out qdtype.QParams) (*QuantizedActivation, error) {
	s, z := 1.0, int64(0)
	if len(out.Scales) == 1 && len(out.ZeroPoints) == 1 {
		s, z = out.Scale(), out.ZeroPoint()
	}
	switch f := m.(type) {
	case *nn.ReLU6:
		return NewQuantizedActivation("ReLU6", 0, 1, 0)
	case *nn.Hardswish:
		return NewQuantizedActivation("Hardswish", 0, s, z)
	case *nn.ELU:
		return NewQuantizedActivation("ELU", float64(f.Alpha), s, z)
	case *nn.LeakyReLU:
		return NewQuantizedActivation("LeakyReLU", float64(f.NegativeSlope), s, z)
	}
	return nil, fmt.Errorf("nodes: quantized activation: cannot convert %T", m)
}

// Forward builds the quantized activation node.
func (m *QuantizedActivation) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if err := requireQuantized(m.TypeName(), x); err != nil {
		return nil, err
	}
	switch m.Kind {
	case "ReLU6":
		return QReLU6(x)
	case "Hardswish":
		return QHardswish(x, m.Scale, m.ZeroPoint)
	case "ELU":
		return QELU(x, m.Scale, m.ZeroPoint, m.Param)
	case "LeakyReLU":
		return QLeakyReLUQ(x, m.Param, m.Scale, m.ZeroPoint)
	}
	return nil, fmt.Errorf("nodes: quantized activation: unknown kind %q", m.Kind)
}

// TypeName returns "QuantizedReLU6", "QuantizedHardswish", ...
func (m *QuantizedActivation) TypeName() string { return "Quantized" + m.Kind }

// Clone returns a copy.
func (m *QuantizedActivation) Clone() nn.Module {
	c := *m
	c.Base = m.CloneBase()
	return &c
}

// QuantizedNorm is one of the quantized normalization modules, by Kind:
// "BatchNorm2d", "BatchNorm3d" (nn.quantized.BatchNorm2d/3d, running Mean
// and Var, ops.BatchNorm2d/3d), "LayerNorm" (NormalizedShape,
// ops.LayerNorm), "GroupNorm" (Groups, ops.GroupNorm) and
// "InstanceNorm1d/2d/3d" (ops.InstanceNorm). Weight and Bias are the float
// affine parameters (nil: none, for LayerNorm, GroupNorm and InstanceNorm);
// the output is requantized to (Scale, ZeroPoint). All parameters are
// copied by the constructor.
type QuantizedNorm struct {
	nn.Base
	nn.Stateless
	Kind            string
	Weight, Bias    []float32
	Mean, Var       []float32
	NormalizedShape []int
	Groups          int
	Eps             float64
	Scale           float64
	ZeroPoint       int64
	// ReLU fuses a ReLU after a batch norm (nn.intrinsic.quantized.BNReLU2d/3d).
	ReLU bool
}

// NewQuantizedNorm returns a normalization module; see QuantizedNorm for
// which fields each kind uses.
func NewQuantizedNorm(n QuantizedNorm) (*QuantizedNorm, error) {
	if _, err := qdtype.PerTensor(qdtype.QUInt8Dtype, n.Scale, n.ZeroPoint); err != nil {
		return nil, fmt.Errorf("nodes: Quantized%s: output qparams: %w", n.Kind, err)
	}
	switch n.Kind {
	case "BatchNorm2d", "BatchNorm3d":
		if n.Mean == nil || n.Var == nil || n.Weight == nil || n.Bias == nil {
			return nil, fmt.Errorf("nodes: Quantized%s: weight, bias, running mean and running var are required", n.Kind)
		}
	case "LayerNorm":
		if n.ReLU {
			return nil, fmt.Errorf("nodes: QuantizedLayerNorm: a fused ReLU exists only for batch norms")
		}
		if len(n.NormalizedShape) == 0 {
			return nil, fmt.Errorf("nodes: QuantizedLayerNorm: empty normalized shape")
		}
	case "GroupNorm":
		if n.Groups <= 0 {
			return nil, fmt.Errorf("nodes: QuantizedGroupNorm: groups %d ≤ 0", n.Groups)
		}
	case "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d":
	default:
		return nil, fmt.Errorf("nodes: quantized norm: unknown kind %q", n.Kind)
	}
	c := QuantizedNorm{Kind: n.Kind, Weight: cloneF32(n.Weight), Bias: cloneF32(n.Bias), Mean: cloneF32(n.Mean),
		Var: cloneF32(n.Var), NormalizedShape: cloneInts(n.NormalizedShape), Groups: n.Groups, Eps: n.Eps,
		Scale: n.Scale, ZeroPoint: n.ZeroPoint, ReLU: n.ReLU}
	if c.ReLU && c.Kind != "BatchNorm2d" && c.Kind != "BatchNorm3d" {
		return nil, fmt.Errorf("nodes: Quantized%s: a fused ReLU exists only for batch norms", c.Kind)
	}
	return &c, nil
}

func paramF32(p *nn.Parameter) []float32 {
	if p == nil || p.Data == nil {
		return nil
	}
	if f, ok := p.Data.Data().([]float32); ok {
		return append([]float32(nil), f...)
	}
	return nil
}

func onesF32(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// QuantizedNormFromFloat converts nn.BatchNorm (2d or 3d), nn.LayerNorm,
// nn.GroupNorm or nn.InstanceNorm with the output qparams out. A BatchNorm
// without affine parameters gets weight 1 and bias 0; one without running
// statistics is an error (PyTorch's quantized BatchNorm uses them).
func QuantizedNormFromFloat(m nn.Module, out qdtype.QParams) (*QuantizedNorm, error) {
	if m == nil {
		return nil, fmt.Errorf("nodes: quantized norm: nil module")
	}
	if out.PerChannel() {
		return nil, fmt.Errorf("nodes: quantized norm: output qparams must be per tensor, got %v", out)
	}
	n := QuantizedNorm{Scale: out.Scale(), ZeroPoint: out.ZeroPoint(), Kind: m.TypeName()}
	switch f := m.(type) {
	case *nn.BatchNorm:
		if !strings.HasSuffix(n.Kind, "2d") && !strings.HasSuffix(n.Kind, "3d") {
			return nil, fmt.Errorf("nodes: quantized norm: %s has no quantized module (BatchNorm2d, BatchNorm3d)", n.Kind)
		}
		if f.RunningMean == nil || f.RunningVar == nil {
			return nil, fmt.Errorf("nodes: Quantized%s: the float module tracks no running statistics", n.Kind)
		}
		n.Mean, n.Var, n.Eps = paramF32(f.RunningMean), paramF32(f.RunningVar), f.Eps
		n.Weight, n.Bias = paramF32(f.Weight), paramF32(f.Bias)
		if n.Weight == nil {
			n.Weight = onesF32(f.NumFeatures, 1)
		}
		if n.Bias == nil {
			n.Bias = onesF32(f.NumFeatures, 0)
		}
	case *nn.LayerNorm:
		n.NormalizedShape, n.Eps = cloneInts(f.NormalizedShape), f.Eps
		n.Weight, n.Bias = paramF32(f.Weight), paramF32(f.Bias)
	case *nn.GroupNorm:
		n.Groups, n.Eps = f.NumGroups, f.Eps
		n.Weight, n.Bias = paramF32(f.Weight), paramF32(f.Bias)
	case *nn.InstanceNorm:
		n.Eps = f.Eps
		n.Weight, n.Bias = paramF32(f.Weight), paramF32(f.Bias)
	default:
		return nil, fmt.Errorf("nodes: quantized norm: cannot convert %T", m)
	}
	return NewQuantizedNorm(n)
}

// Forward builds the quantized normalization node.
func (m *QuantizedNorm) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if err := requireQuantized(m.TypeName(), x); err != nil {
		return nil, err
	}
	if m.ReLU {
		return QBatchNormReLU(x, m.Weight, m.Bias, m.Mean, m.Var, m.Eps, m.Scale, m.ZeroPoint)
	}
	switch m.Kind {
	case "BatchNorm2d":
		return QBatchNorm2d(x, m.Weight, m.Bias, m.Mean, m.Var, m.Eps, m.Scale, m.ZeroPoint)
	case "BatchNorm3d":
		return QBatchNorm3d(x, m.Weight, m.Bias, m.Mean, m.Var, m.Eps, m.Scale, m.ZeroPoint)
	case "LayerNorm":
		return QLayerNorm(x, m.NormalizedShape, m.Weight, m.Bias, m.Eps, m.Scale, m.ZeroPoint)
	case "GroupNorm":
		return QGroupNorm(x, m.Groups, m.Weight, m.Bias, m.Eps, m.Scale, m.ZeroPoint)
	default:
		return QInstanceNorm(x, m.Weight, m.Bias, m.Eps, m.Scale, m.ZeroPoint)
	}
}

// TypeName returns "QuantizedBatchNorm2d", "QuantizedLayerNorm", ...,
// "QuantizedBNReLU2d" for a batch norm with ReLU.
func (m *QuantizedNorm) TypeName() string {
	if m.ReLU {
		return "QuantizedBNReLU" + strings.TrimPrefix(m.Kind, "BatchNorm")
	}
	return "Quantized" + m.Kind
}

// Clone returns a deep copy.
func (m *QuantizedNorm) Clone() nn.Module {
	c, _ := NewQuantizedNorm(*m)
	c.Base = m.CloneBase()
	return c
}

// QFunctional is nn.quantized.QFunctional, what eager.Convert makes of an
// nn.FloatFunctional: methods build quantized add, mul, cat and add_relu
// requantized to (Scale, ZeroPoint) (the FloatFunctional's observed
// qparams), and add_scalar / mul_scalar with the output qparams PyTorch
// derives from the input's. Forward is not used (as in PyTorch).
type QFunctional struct {
	nn.Base
	nn.Stateless
	Scale     float64
	ZeroPoint int64
}

// NewQFunctional returns a QFunctional with quint8 output qparams.
func NewQFunctional(scale float64, zeroPoint int64) (*QFunctional, error) {
	if _, err := qdtype.PerTensor(qdtype.QUInt8Dtype, scale, zeroPoint); err != nil {
		return nil, fmt.Errorf("nodes: QFunctional: output qparams: %w", err)
	}
	return &QFunctional{Scale: scale, ZeroPoint: zeroPoint}, nil
}

// Forward returns an error: call the methods.
func (f *QFunctional) Forward(*gorgonia.Node) (*gorgonia.Node, error) {
	return nil, fmt.Errorf("nodes: QFunctional: Forward is not used; call Add, Mul, Cat, AddReLU, AddScalar or MulScalar")
}

// TypeName returns "QFunctional".
func (f *QFunctional) TypeName() string { return "QFunctional" }

// Clone returns a copy.
func (f *QFunctional) Clone() nn.Module { c := *f; c.Base = f.CloneBase(); return &c }

func (f *QFunctional) hooks(y *gorgonia.Node, err error) (*gorgonia.Node, error) {
	if err != nil {
		return nil, err
	}
	return f.ApplyOutputHooks(y)
}

// Add returns quantize(a + b) (ops.Add).
func (f *QFunctional) Add(a, b *gorgonia.Node) (*gorgonia.Node, error) {
	return f.hooks(QAdd(a, b, f.Scale, f.ZeroPoint))
}

// AddReLU returns quantize(max(a + b, 0)) (ops.AddReLU).
func (f *QFunctional) AddReLU(a, b *gorgonia.Node) (*gorgonia.Node, error) {
	return f.hooks(QAddReLU(a, b, f.Scale, f.ZeroPoint))
}

// Mul returns quantize(a·b) (ops.Mul).
func (f *QFunctional) Mul(a, b *gorgonia.Node) (*gorgonia.Node, error) {
	return f.hooks(QMul(a, b, f.Scale, f.ZeroPoint))
}

// Cat concatenates xs along dim and requantizes (ops.Cat).
func (f *QFunctional) Cat(xs []*gorgonia.Node, dim int) (*gorgonia.Node, error) {
	return f.hooks(QCat(xs, dim, f.Scale, f.ZeroPoint))
}

// AddScalar returns x + c with derived output qparams (ops.AddScalar).
func (f *QFunctional) AddScalar(x *gorgonia.Node, c float32) (*gorgonia.Node, error) {
	return f.hooks(QAddScalar(x, float64(c)))
}

// MulScalar returns x·c with derived output qparams (ops.MulScalar).
func (f *QFunctional) MulScalar(x *gorgonia.Node, c float32) (*gorgonia.Node, error) {
	return f.hooks(QMulScalar(x, float64(c)))
}
