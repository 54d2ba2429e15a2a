package qat

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/fake"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convQAT is the body of Conv{1,2,3}d and ConvReLU{1,2,3}d: the float
// convolution's state (shared Parameters) and the weight fake-quantizer.
type convQAT struct {
	nn.ConvNd
	wfq  fake.Quantizer
	nd   int
	relu bool
}

func newConv(c *nn.ConvNd, nd int, wfq fake.Quantizer, relu bool) (convQAT, error) {
	if c == nil {
		return convQAT{}, fmt.Errorf("convolution is nil")
	}
	if c.Weight == nil {
		return convQAT{}, fmt.Errorf("convolution has no weight")
	}
	q := convQAT{ConvNd: *c, wfq: wfq, nd: nd, relu: relu}
	q.ConvNd.Base = nn.Base{}
	return q, nil
}

// cloneConvNd deep-copies a ConvNd through its module's Clone.
func cloneConvNd(c *nn.ConvNd, nd int) nn.ConvNd {
	var m nn.Module
	switch nd {
	case 1:
		m = (&nn.Conv1d{ConvNd: *c}).Clone()
	case 2:
		m = (&nn.Conv2d{ConvNd: *c}).Clone()
	default:
		m = (&nn.Conv3d{ConvNd: *c}).Clone()
	}
	cn, _, _ := fuse.ConvOf(m)
	return *cn
}

func (c *convQAT) cloneConv() convQAT {
	n := *c
	n.ConvNd = cloneConvNd(&c.ConvNd, c.nd)
	n.wfq = cloneQuantizer(c.wfq)
	return n
}

// WeightFakeQuant returns the weight fake-quantizer.
func (c *convQAT) WeightFakeQuant() fake.Quantizer { return c.wfq }

// FusedReLU reports whether a ReLU follows the convolution.
func (c *convQAT) FusedReLU() bool { return c.relu }

// Conv returns the convolution state.
func (c *convQAT) Conv() *nn.ConvNd { return &c.ConvNd }

// SpatialDims is 1, 2 or 3.
func (c *convQAT) SpatialDims() int { return c.nd }

// FoldedWeightBias returns copies of the weight and bias (b nil without
// bias).
func (c *convQAT) FoldedWeightBias() (w, b *tensor.Dense, err error) {
	return cloneDense(c.Weight), cloneDense(c.Bias), nil
}

// Forward builds conv(x, wfq(W), b), then ReLU when fused.
func (c *convQAT) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkInput(fmt.Sprintf("conv%dd", c.nd), x); err != nil {
		return nil, err
	}
	g := x.Graph()
	w, err := c.Weight.Node(g)
	if err != nil {
		return nil, err
	}
	wq, err := fakeQuantWeight(w, c.wfq)
	if err != nil {
		return nil, err
	}
	b, err := paramNode(c.Bias, g)
	if err != nil {
		return nil, err
	}
	y, err := c.ForwardWeights(x, wq, b)
	if err != nil || !c.relu {
		return y, err
	}
	return relu(y)
}

// Conv1d is torch.nn.qat.Conv1d: conv1d(x, wfq(W), b) with the weight
// fake-quantized (straight-through estimator) on every run. Made by
// FromFloat from an nn.Conv1d, whose Parameters it shares.
type Conv1d struct{ convQAT }

// Conv2d is torch.nn.qat.Conv2d: conv2d(x, wfq(W), b). Made by FromFloat
// from an nn.Conv2d, whose Parameters it shares.
type Conv2d struct{ convQAT }

// Conv3d is torch.nn.qat.Conv3d: conv3d(x, wfq(W), b).
type Conv3d struct{ convQAT }

// ConvReLU1d is torch.nn.intrinsic.qat.ConvReLU1d: relu(conv1d(x, wfq(W),
// b)). (PyTorch 1.13's default QAT mapping does not list it, so its
// prepare_qat leaves a fused ConvReLU1d in float; FromFloat makes it.)
type ConvReLU1d struct{ convQAT }

// ConvReLU2d is torch.nn.intrinsic.qat.ConvReLU2d: relu(conv2d(x, wfq(W),
// b)). Made by FromFloat from a fuse.ConvReLU2d.
type ConvReLU2d struct{ convQAT }

// ConvReLU3d is torch.nn.intrinsic.qat.ConvReLU3d: relu(conv3d(x, wfq(W),
// b)).
type ConvReLU3d struct{ convQAT }

// TypeName returns "Conv1d".
func (c *Conv1d) TypeName() string { return "Conv1d" }

// TypeName returns "Conv2d".
func (c *Conv2d) TypeName() string { return "Conv2d" }

// TypeName returns "Conv3d".
func (c *Conv3d) TypeName() string { return "Conv3d" }

// TypeName returns "ConvReLU1d".
func (c *ConvReLU1d) TypeName() string { return "ConvReLU1d" }

// TypeName returns "ConvReLU2d".
func (c *ConvReLU2d) TypeName() string { return "ConvReLU2d" }

// TypeName returns "ConvReLU3d".
func (c *ConvReLU3d) TypeName() string { return "ConvReLU3d" }

// Clone deep-copies the module (parameters and fake-quantizer).
func (c *Conv1d) Clone() nn.Module { return &Conv1d{c.cloneConv()} }

// Clone deep-copies the module (parameters and fake-quantizer).
func (c *Conv2d) Clone() nn.Module { return &Conv2d{c.cloneConv()} }

// Clone deep-copies the module (parameters and fake-quantizer).
func (c *Conv3d) Clone() nn.Module { return &Conv3d{c.cloneConv()} }

// Clone deep-copies the module (parameters and fake-quantizer).
func (c *ConvReLU1d) Clone() nn.Module { return &ConvReLU1d{c.cloneConv()} }

// Clone deep-copies the module (parameters and fake-quantizer).
func (c *ConvReLU2d) Clone() nn.Module { return &ConvReLU2d{c.cloneConv()} }

// Clone deep-copies the module (parameters and fake-quantizer).
func (c *ConvReLU3d) Clone() nn.Module { return &ConvReLU3d{c.cloneConv()} }
