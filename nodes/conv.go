package nodes

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type convFunc func(x *qtensor.QTensor, p *ops.PackedConv, scale float64, zeroPoint int64) (*qtensor.QTensor, error)

type prepackFunc func(w *qtensor.QTensor, bias *tensor.Dense, opt ops.ConvOptions) (*ops.PackedConv, error)

// QConv1d returns a node computing ops.Conv1d (torch.nn.quantized.Conv1d)
// on a quint8 per-tensor node (N, C, L): w is the qint8 weight
// (O, C/groups, k), per tensor or per channel along axis 0, bias nil or
// float32 (O); the output is quint8 per tensor (N, O, L_out) with the given
// scale and zero point. The weights are packed once, here; w and bias are
// not retained. Errors (at build time): anything ops.PrepackConv1d or
// ops.Conv1d rejects.
func QConv1d(x *gorgonia.Node, w *qtensor.QTensor, bias *tensor.Dense, opt ops.ConvOptions, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return convWeights("QConv1d", x, w, bias, opt, scale, zeroPoint, ops.PrepackConv1d, ops.Conv1d)
}

// QConv1dReLU is QConv1d with a fused ReLU (ops.Conv1dReLU,
// torch.nn.intrinsic.quantized.ConvReLU1d).
func QConv1dReLU(x *gorgonia.Node, w *qtensor.QTensor, bias *tensor.Dense, opt ops.ConvOptions, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return convWeights("QConv1dReLU", x, w, bias, opt, scale, zeroPoint, ops.PrepackConv1d, ops.Conv1dReLU)
}

// QConv2d returns a node computing ops.Conv2d (torch.nn.quantized.Conv2d)
// on a quint8 per-tensor node (N, C, H, W) with the qint8 weight
// (O, C/groups, kh, kw) and optional float32 bias (O), packed once here;
// the output is quint8 per tensor (N, O, OH, OW) with the given scale and
// zero point. Errors (at build time): anything ops.PrepackConv2d or
// ops.Conv2d rejects.
func QConv2d(x *gorgonia.Node, w *qtensor.QTensor, bias *tensor.Dense, opt ops.ConvOptions, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return convWeights("QConv2d", x, w, bias, opt, scale, zeroPoint, ops.PrepackConv2d, ops.Conv2d)
}

// QConv2dReLU is QConv2d with a fused ReLU (ops.Conv2dReLU,
// torch.nn.intrinsic.quantized.ConvReLU2d).
func QConv2dReLU(x *gorgonia.Node, w *qtensor.QTensor, bias *tensor.Dense, opt ops.ConvOptions, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return convWeights("QConv2dReLU", x, w, bias, opt, scale, zeroPoint, ops.PrepackConv2d, ops.Conv2dReLU)
}

// QConv3d returns a node computing ops.Conv3d (torch.nn.quantized.Conv3d)
// on a quint8 per-tensor node (N, C, D, H, W) with the qint8 weight
// (O, C/groups, kd, kh, kw), packed once here; see QConv2d.
func QConv3d(x *gorgonia.Node, w *qtensor.QTensor, bias *tensor.Dense, opt ops.ConvOptions, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return convWeights("QConv3d", x, w, bias, opt, scale, zeroPoint, ops.PrepackConv3d, ops.Conv3d)
}

// QConv3dReLU is QConv3d with a fused ReLU (ops.Conv3dReLU,
// torch.nn.intrinsic.quantized.ConvReLU3d).
func QConv3dReLU(x *gorgonia.Node, w *qtensor.QTensor, bias *tensor.Dense, opt ops.ConvOptions, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return convWeights("QConv3dReLU", x, w, bias, opt, scale, zeroPoint, ops.PrepackConv3d, ops.Conv3dReLU)
}

// QConvTranspose1d returns a node computing ops.ConvTranspose1d
// (torch.nn.quantized.ConvTranspose1d) on a quint8 per-tensor node
// (N, C, L) with the qint8 weight (C, O/groups, k), per tensor or per
// channel along axis 1, and optional float32 bias (O), packed once here.
// Errors (at build time): anything ops.PrepackConvTranspose1d or
// ops.ConvTranspose1d rejects.
func QConvTranspose1d(x *gorgonia.Node, w *qtensor.QTensor, bias *tensor.Dense, opt ops.ConvOptions, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return convWeights("QConvTranspose1d", x, w, bias, opt, scale, zeroPoint, ops.PrepackConvTranspose1d, ops.ConvTranspose1d)
}

// QConvTranspose2d returns a node computing ops.ConvTranspose2d
// (torch.nn.quantized.ConvTranspose2d) on a quint8 per-tensor node
// (N, C, H, W) with the qint8 weight (C, O/groups, kh, kw); see
// QConvTranspose1d.
func QConvTranspose2d(x *gorgonia.Node, w *qtensor.QTensor, bias *tensor.Dense, opt ops.ConvOptions, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return convWeights("QConvTranspose2d", x, w, bias, opt, scale, zeroPoint, ops.PrepackConvTranspose2d, ops.ConvTranspose2d)
}

// ConvKind names the convolution a QConvPacked node computes.
type ConvKind int

// The convolutions of QConvPacked.
const (
	Conv1d ConvKind = iota
	Conv1dReLU
	Conv2d
	Conv2dReLU
	Conv3d
	Conv3dReLU
	ConvTranspose1d
	ConvTranspose2d
)

var convKinds = [...]struct {
	name string
	f    convFunc
}{
	Conv1d:          {"QConv1d", ops.Conv1d},
	Conv1dReLU:      {"QConv1dReLU", ops.Conv1dReLU},
	Conv2d:          {"QConv2d", ops.Conv2d},
	Conv2dReLU:      {"QConv2dReLU", ops.Conv2dReLU},
	Conv3d:          {"QConv3d", ops.Conv3d},
	Conv3dReLU:      {"QConv3dReLU", ops.Conv3dReLU},
	ConvTranspose1d: {"QConvTranspose1d", ops.ConvTranspose1d},
	ConvTranspose2d: {"QConvTranspose2d", ops.ConvTranspose2d},
}

// QConvPacked builds a convolution node of the given kind on weights
// already packed with the matching ops.Prepack* function, which several
// nodes may share (a PackedConv is immutable). A PackedConv of the wrong
// rank or kind is a build-time error.
func QConvPacked(kind ConvKind, x *gorgonia.Node, p *ops.PackedConv, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	if kind < 0 || int(kind) >= len(convKinds) {
		return nil, fmt.Errorf("nodes: QConvPacked: unknown convolution kind %d", kind)
	}
	k := convKinds[kind]
	return convNode(k.name, x, p, scale, zeroPoint, k.f)
}

func convWeights(name string, x *gorgonia.Node, w *qtensor.QTensor, bias *tensor.Dense, opt ops.ConvOptions, scale float64, zeroPoint int64, pack prepackFunc, f convFunc) (*gorgonia.Node, error) {
	p, err := pack(w, bias, opt)
	if err != nil {
		return nil, fmt.Errorf("nodes: %s: %w", name, err)
	}
	return convNode(name, x, p, scale, zeroPoint, f)
}

func convNode(name string, x *gorgonia.Node, p *ops.PackedConv, scale float64, zeroPoint int64, f convFunc) (*gorgonia.Node, error) {
	if p == nil {
		return nil, fmt.Errorf("nodes: %s: nil packed weights", name)
	}
	in, err := quantPort(name, "input", x, qdtype.QUInt8Dtype)
	if err != nil {
		return nil, err
	}
	if len(in.shape) < 3 {
		return nil, fmt.Errorf("nodes: %s: input has shape %v, want (N, C, spatial…)", name, in.shape)
	}
	w, _ := p.Unpack()
	opt := p.Options()
	n, _, err := build(spec{
		name: name, stateful: true,
		params: fmt.Sprintf("weight=%v stride=%v padding=%v dilation=%v output_padding=%v groups=%d scale=%g zero_point=%d",
			w.Shape(), opt.Stride, opt.Padding, opt.Dilation, opt.OutputPadding, opt.Groups, scale, zeroPoint),
		ins: []port{in}, children: []*gorgonia.Node{x},
		probe:    []tensor.Shape{batchOne(in.shape)},
		outShape: withBatch(in.shape[0]),
		fn: func(a []operand) (operand, error) {
			q, err := f(a[0].q, p, scale, zeroPoint)
			return operand{q: q}, err
		},
	})
	return n, err
}
