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

// QuantizedConv is nn.quantized.Conv1d/2d/3d,
// nn.intrinsic.quantized.ConvReLU1d/2d/3d (Kind Conv1d … Conv3dReLU) and
// nn.quantized.ConvTranspose1d/2d (Kind ConvTranspose1d, ConvTranspose2d):
// a convolution of a quint8 per-tensor input (N, C, spatial…) with a qint8
// weight (Out, C/groups, k…; transposed: (C, Out/groups, k…)) packed once
// by the constructor, float32 bias, output requantized to (Scale,
// ZeroPoint) and, for the ReLU kinds, clamped below at ZeroPoint. Zero
// padding only. Forward equals ops.Conv*d(ReLU) / ops.ConvTranspose*d bit
// for bit.
type QuantizedConv struct {
	nn.Base
	nn.Stateless
	Kind      ConvKind
	Packed    *ops.PackedConv
	Scale     float64
	ZeroPoint int64
}

// NewQuantizedConv packs w and bias for kind (Conv1d, Conv1dReLU, Conv2d,
// Conv2dReLU, Conv3d, Conv3dReLU, ConvTranspose1d, ConvTranspose2d) with the hyper-parameters opt and returns
// the module with quint8 output qparams (scale, zeroPoint). Errors:
// anything the ops.Prepack function rejects, invalid output qparams,
// another kind.
func NewQuantizedConv(kind ConvKind, w *qtensor.QTensor, bias *tensor.Dense, opt ops.ConvOptions, scale float64, zeroPoint int64) (*QuantizedConv, error) {
	if _, err := qdtype.PerTensor(qdtype.QUInt8Dtype, scale, zeroPoint); err != nil {
		return nil, fmt.Errorf("nodes: QuantizedConv: output qparams: %w", err)
	}
	if w == nil {
		return nil, fmt.Errorf("nodes: QuantizedConv: weight is nil")
	}
	var p *ops.PackedConv
	var err error
	switch kind {
	case Conv1d, Conv1dReLU:
		p, err = ops.PrepackConv1d(w, bias, opt)
	case Conv2d, Conv2dReLU:
		p, err = ops.PrepackConv2d(w, bias, opt)
	case Conv3d, Conv3dReLU:
		p, err = ops.PrepackConv3d(w, bias, opt)
	case ConvTranspose1d:
		p, err = ops.PrepackConvTranspose1d(w, bias, opt)
	case ConvTranspose2d:
		p, err = ops.PrepackConvTranspose2d(w, bias, opt)
	default:
		return nil, fmt.Errorf("nodes: QuantizedConv: unknown convolution kind %d", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("nodes: QuantizedConv: %w", err)
	}
	return &QuantizedConv{Kind: kind, Packed: p, Scale: scale, ZeroPoint: zeroPoint}, nil
}

// QuantizedConvFromFloat is nnq.Conv*d.from_float (and
// nniq.ConvReLU*d.from_float with relu) for a float nn.Conv1d, Conv2d,
// Conv3d, ConvTranspose1d or ConvTranspose2d: the fresh weight observer wobs observes the weight once, the bias
// stays float32, out are the per-tensor quint8 output qparams. Only zero
// padding (the nn convolutions' only mode) exists.
func QuantizedConvFromFloat(conv nn.Module, wobs observer.Observer, out qdtype.QParams, relu bool) (*QuantizedConv, error) {
	var c *nn.ConvNd
	var kind ConvKind
	switch f := conv.(type) {
	case *nn.Conv1d:
		c, kind = &f.ConvNd, Conv1d
	case *nn.Conv2d:
		c, kind = &f.ConvNd, Conv2d
	case *nn.Conv3d:
		c, kind = &f.ConvNd, Conv3d
	case *nn.ConvTranspose1d:
		c, kind = &f.ConvNd, ConvTranspose1d
	case *nn.ConvTranspose2d:
		c, kind = &f.ConvNd, ConvTranspose2d
	default:
		return nil, fmt.Errorf("nodes: QuantizedConv: from float: want nn.Conv1d/2d/3d or ConvTranspose1d/2d, got %T", conv)
	}
	if relu {
		if kind == ConvTranspose1d || kind == ConvTranspose2d {
			return nil, fmt.Errorf("nodes: QuantizedConv: transposed convolutions have no fused ReLU")
		}
		kind++
	}
	if out.PerChannel() {
		return nil, fmt.Errorf("nodes: QuantizedConv: output qparams must be per tensor, got %v", out)
	}
	wq, err := QuantizeWeight(c.Weight.Data, wobs)
	if err != nil {
		return nil, fmt.Errorf("nodes: QuantizedConv: %w", err)
	}
	var b *tensor.Dense
	if c.Bias != nil {
		b = c.Bias.Data
	}
	opt, err := ConvOptionsOf(c)
	if err != nil {
		return nil, err
	}
	return NewQuantizedConv(kind, wq, b, opt, out.Scale(), out.ZeroPoint())
}

// ConvOptionsOf returns the ops hyper-parameters of a float convolution
// (an all-zero output padding is left out: only transposed convolutions
// accept one). padding="same" becomes its symmetric padding d·(k−1)/2;
// when d·(k−1) is odd on some axis the padding is asymmetric, which the
// quantized kernels (like PyTorch's) do not support: an error.
func ConvOptionsOf(c *nn.ConvNd) (ops.ConvOptions, error) {
	if c == nil {
		return ops.ConvOptions{}, fmt.Errorf("nodes: conv options: nil convolution")
	}
	o := ops.ConvOptions{Stride: append([]int(nil), c.Stride...), Padding: append([]int(nil), c.Padding...),
		Dilation: append([]int(nil), c.Dilation...), Groups: c.Groups}
	if c.PaddingSame {
		o.Padding = make([]int, len(c.KernelSize))
		for i, k := range c.KernelSize {
			d := 1
			if i < len(c.Dilation) {
				d = c.Dilation[i]
			} else if len(c.Dilation) == 1 {
				d = c.Dilation[0]
			}
			total := d * (k - 1)
			if total%2 != 0 {
				return o, fmt.Errorf("nodes: QuantizedConv: padding=same with kernel %v and dilation %v pads asymmetrically, which quantized convolutions do not support", c.KernelSize, c.Dilation)
			}
			o.Padding[i] = total / 2
		}
	}
	for _, p := range c.OutputPadding {
		if p != 0 {
			o.OutputPadding = append([]int(nil), c.OutputPadding...)
			break
		}
	}
	return o, nil
}

// Forward builds the quantized convolution node on x.
func (m *QuantizedConv) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if err := requireQuantized(m.TypeName(), x); err != nil {
		return nil, err
	}
	return QConvPacked(m.Kind, x, m.Packed, m.Scale, m.ZeroPoint)
}

// TypeName returns "QuantizedConv2d", "QuantizedConvReLU2d", ... by Kind.
func (m *QuantizedConv) TypeName() string {
	switch m.Kind {
	case Conv1d:
		return "QuantizedConv1d"
	case Conv1dReLU:
		return "QuantizedConvReLU1d"
	case Conv2d:
		return "QuantizedConv2d"
	case Conv2dReLU:
		return "QuantizedConvReLU2d"
	case Conv3d:
		return "QuantizedConv3d"
	case Conv3dReLU:
		return "QuantizedConvReLU3d"
	case ConvTranspose1d:
		return "QuantizedConvTranspose1d"
	case ConvTranspose2d:
		return "QuantizedConvTranspose2d"
	}
	return fmt.Sprintf("QuantizedConv(kind %d)", m.Kind)
}

// Clone returns a copy sharing the immutable packed weights.
func (m *QuantizedConv) Clone() nn.Module {
	c := *m
	c.Base = m.CloneBase()
	return &c
}

// Weight returns the qint8 weight and float32 bias (copies).
func (m *QuantizedConv) Weight() (*qtensor.QTensor, *tensor.Dense) { return m.Packed.Unpack() }
