package nodes

// Quantized modules: nn.Module implementations whose Forward builds the int8
// nodes of this package on the input's graph. They are what eager.Convert
// swaps into a prepared model (PyTorch's torch.nn.quantized,
// torch.nn.intrinsic.quantized and torch.nn.quantized.dynamic modules).
//
// Conventions shared by every module in module*.go:
//   - Weights are quantized and packed once, by the constructor (ops.Prepack*);
//     Forward only builds a node on the packed weights, so rebuilding a model
//     on a fresh graph costs no packing. Packed weights are immutable and
//     shared by Clone.
//   - Static modules take a quantized node (a node of this package, or one
//     declared with AttachQParams) and return one; a float32 input is an error
//     that says a QuantStub is probably missing. Dynamic modules take and
//     return float32 nodes.
//   - TypeName is PyTorch's _get_name() of the module ("QuantizedLinear",
//     "QuantizedConvReLU2d", "DynamicQuantizedLSTM", ...), so that mapping
//     tables keyed by float type names never match a quantized module.
//   - Quantized modules hold no nn.Parameters: StateDict of a converted model
//     lists only what stayed float. eager.Save stores the packed weights.

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// requireQuantized returns an error unless x is a quantized node; the
// message points at the usual cause, a missing QuantStub.
func requireQuantized(module string, x *gorgonia.Node) error {
	if x == nil {
		return fmt.Errorf("nodes: %s: input node is nil", module)
	}
	if x.Dtype() == tensor.Float32 {
		return fmt.Errorf("nodes: %s: input is float32 but this quantized module needs a quantized input (is a QuantStub missing before it?)", module)
	}
	return nil
}

// requireFloat returns an error unless x is a float32 node.
func requireFloat(module string, x *gorgonia.Node) error {
	if x == nil {
		return fmt.Errorf("nodes: %s: input node is nil", module)
	}
	if x.Dtype() != tensor.Float32 {
		return fmt.Errorf("nodes: %s: input has dtype %v, want float32 (is a DeQuantStub missing before it?)", module, x.Dtype())
	}
	return nil
}

// QuantizeModule is nn.quantized.Quantize, what eager.Convert makes of a
// QuantStub: Forward quantizes its float32 input per tensor,
// q = clamp(zp + rne(x·f32(1/scale)), qmin, qmax).
type QuantizeModule struct {
	nn.Base
	nn.Stateless
	// QParams are the per-tensor output qparams (dtype quint8 or qint8).
	QParams qdtype.QParams
}

// NewQuantizeModule returns a Quantize module with output (scale, zeroPoint)
// of dtype dt. Errors: invalid qparams (scale ≤ 0 or not finite, zero point
// outside dt's range, a non-quantized dtype).
func NewQuantizeModule(scale float64, zeroPoint int64, dt tensor.Dtype) (*QuantizeModule, error) {
	qp, err := qdtype.PerTensor(dt, scale, zeroPoint)
	if err != nil {
		return nil, fmt.Errorf("nodes: Quantize: %w", err)
	}
	return &QuantizeModule{QParams: qp}, nil
}

// Forward quantizes the float32 node x.
func (m *QuantizeModule) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if err := requireFloat("Quantize", x); err != nil {
		return nil, err
	}
	return Quantize(x, m.QParams)
}

// TypeName returns "Quantize".
func (m *QuantizeModule) TypeName() string { return "Quantize" }

// Clone returns a copy.
func (m *QuantizeModule) Clone() nn.Module {
	return &QuantizeModule{Base: m.CloneBase(), QParams: m.QParams.Clone()}
}

// DequantizeModule is nn.quantized.DeQuantize, what eager.Convert makes of a
// DeQuantStub: Forward returns f32(q − zp)·scale of its quantized input.
type DequantizeModule struct {
	nn.Base
	nn.Stateless
}

// NewDequantizeModule returns a DeQuantize module.
func NewDequantizeModule() *DequantizeModule { return &DequantizeModule{} }

// Forward dequantizes the quantized node x.
func (m *DequantizeModule) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if err := requireQuantized("DeQuantize", x); err != nil {
		return nil, err
	}
	return Dequantize(x)
}

// TypeName returns "DeQuantize".
func (m *DequantizeModule) TypeName() string { return "DeQuantize" }

// Clone returns a copy.
func (m *DequantizeModule) Clone() nn.Module { return &DequantizeModule{Base: m.CloneBase()} }

// Passthrough wraps a float module that PyTorch runs unchanged on quantized
// tensors (ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Hardtanh,
// Upsample with nearest or bilinear mode, Flatten, Dropout, Identity,
// Sigmoid, Tanh, Hardsigmoid). Gorgonia ops are typed, so the float module
// cannot act on a quantized node itself; Passthrough dispatches on the
// input's dtype when the graph is built: a float32 input runs the wrapped
// module (so a Passthrough left in a float region of the model still
// works), a quantized input runs the matching quantized node — keeping the
// input's qparams (ReLU, pools, Hardtanh, Upsample, Flatten), returning it
// unchanged (Dropout in any mode, Identity), or PyTorch's fixed output
// qparams (Sigmoid, Tanh, Hardsigmoid). eager.Convert swaps every such
// module for a Passthrough, whatever its qconfig.
type Passthrough struct {
	nn.Base
	nn.Stateless
	// Float is the wrapped float module; it is not a child (hooks and
	// qconfig live on the Passthrough).
	Float nn.Module
}

// PassthroughTypes lists the float TypeNames NewPassthrough accepts.
var PassthroughTypes = []string{"ReLU", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Hardtanh",
	"Upsample", "Flatten", "Dropout", "Identity", "Sigmoid", "Tanh", "Hardsigmoid"}

// NewPassthrough wraps m, which must be one of the float modules of
// PassthroughTypes. The Passthrough takes over m's hooks and training flag.
func NewPassthrough(m nn.Module) (*Passthrough, error) {
	if m == nil {
		return nil, fmt.Errorf("nodes: Passthrough: module is nil")
	}
	switch m.(type) {
	case *nn.ReLU, *nn.MaxPool2d, *nn.AvgPool2d, *nn.AdaptiveAvgPool2d, *nn.Hardtanh, *nn.Upsample,
		*nn.Flatten, *nn.Dropout, *nn.Identity, *nn.Sigmoid, *nn.Tanh, *nn.Hardsigmoid:
	default:
		return nil, fmt.Errorf("nodes: Passthrough: %s does not run on quantized tensors in PyTorch (supported: %v)", m.TypeName(), PassthroughTypes)
	}
	p := &Passthrough{Float: m}
	b := m.ModuleBase()
	p.PreHooks = append([]nn.Hook(nil), b.PreHooks...)
	p.OutputHooks = append([]nn.Hook(nil), b.OutputHooks...)
	p.Train(b.Training())
	return p, nil
}

// TypeName returns "Quantized" followed by the wrapped module's TypeName
// ("QuantizedReLU", "QuantizedMaxPool2d", ...).
func (m *Passthrough) TypeName() string { return "Quantized" + m.Float.TypeName() }

// Clone returns a copy with a cloned float module.
func (m *Passthrough) Clone() nn.Module {
	return &Passthrough{Base: m.CloneBase(), Float: m.Float.Clone()}
}

// Forward runs the float module on a float32 x and the quantized
// counterpart on a quantized x.
func (m *Passthrough) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if x == nil {
		return nil, fmt.Errorf("nodes: %s: input node is nil", m.TypeName())
	}
	if x.Dtype() == tensor.Float32 {
		return m.Float.Forward(x)
	}
	switch f := m.Float.(type) {
	case *nn.ReLU:
		return QReLU(x)
	case *nn.MaxPool2d:
		return QMaxPool2d(x, f.KernelSize, f.Stride, f.Padding, f.Dilation, f.CeilMode)
	case *nn.AvgPool2d:
		return QAvgPool2d(x, f.KernelSize, f.Stride, f.Padding, f.CeilMode, f.CountIncludePad, f.DivisorOverride)
	case *nn.AdaptiveAvgPool2d:
		oh, ow := f.OutputSize[0], f.OutputSize[1]
		s := x.Shape()
		if len(s) >= 2 {
			if oh <= 0 {
				oh = s[len(s)-2]
			}
			if ow <= 0 {
				ow = s[len(s)-1]
			}
		}
		return QAdaptiveAvgPool2d(x, oh, ow)
	case *nn.Hardtanh:
		return QHardtanh(x, float64(f.MinVal), float64(f.MaxVal))
	case *nn.Upsample:
		if f.Mode != "nearest" && f.Mode != "bilinear" {
			return nil, fmt.Errorf("nodes: QuantizedUpsample: mode %q has no quantized kernel (nearest, bilinear)", f.Mode)
		}
		return QInterpolate(x, f.Size, f.ScaleFactor, f.Mode, f.AlignCorners)
	case *nn.Flatten:
		return QFlatten(x, f.StartDim, f.EndDim)
	case *nn.Dropout, *nn.Identity:
		return x, nil
	case *nn.Sigmoid:
		return QSigmoid(x)
	case *nn.Tanh:
		return QTanh(x)
	case *nn.Hardsigmoid:
		return QHardsigmoid(x)
	}
	return nil, fmt.Errorf("nodes: Passthrough: unsupported float module %s", m.Float.TypeName())
}
