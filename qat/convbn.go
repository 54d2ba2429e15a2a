package qat

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/fake"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convBnQAT is the body of ConvBn{1,2,3}d and ConvBnReLU{1,2,3}d: the
// convolution (its own bias kept apart from the fold, as PyTorch's
// _ConvBnNd), the batch-norm child "bn", the weight fake-quantizer and
// freeze_bn.
type convBnQAT struct {
	nn.ConvNd
	wfq      fake.Quantizer
	nd       int
	relu     bool
	freezeBN bool
}

func newConvBn(c *nn.ConvNd, bn *nn.BatchNorm, nd int, wfq fake.Quantizer, relu bool) (convBnQAT, error) {
	q, err := newConv(c, nd, wfq, relu)
	if err != nil {
		return convBnQAT{}, err
	}
	if bn != nil && bn.TypeName() != fmt.Sprintf("BatchNorm%dd", nd) {
		return convBnQAT{}, fmt.Errorf("batch norm is %s, want BatchNorm%dd", bn.TypeName(), nd)
	}
	b, err := copyBN(bn, c.OutChannels)
	if err != nil {
		return convBnQAT{}, err
	}
	m := convBnQAT{ConvNd: q.ConvNd, wfq: wfq, nd: nd, relu: relu}
	if err := m.AddModule("bn", b); err != nil {
		return convBnQAT{}, err
	}
	return m, nil
}

func (m *convBnQAT) cloneConvBn() convBnQAT {
	n := *m
	n.ConvNd = cloneConvNd(&m.ConvNd, m.nd)
	n.wfq = cloneQuantizer(m.wfq)
	return n
}

// WeightFakeQuant returns the weight fake-quantizer.
func (m *convBnQAT) WeightFakeQuant() fake.Quantizer { return m.wfq }

// FusedReLU reports whether a ReLU follows the batch norm.
func (m *convBnQAT) FusedReLU() bool { return m.relu }

// Conv returns the convolution state (Bias is the convolution's own bias,
// nil when it had none).
func (m *convBnQAT) Conv() *nn.ConvNd { return &m.ConvNd }

// SpatialDims is 1, 2 or 3.
func (m *convBnQAT) SpatialDims() int { return m.nd }

// BN returns the batch-norm child "bn" (nil if replaced by another type).
func (m *convBnQAT) BN() *nn.BatchNorm { b, _ := m.Child("bn").(*nn.BatchNorm); return b }

// FreezeBNStats is freeze_bn_stats: the batch norm uses and keeps its
// running statistics from the next Forward on, in training mode too (its
// own training flag is cleared, as PyTorch's bn.training).
func (m *convBnQAT) FreezeBNStats() {
	m.freezeBN = true
	if bn := m.BN(); bn != nil {
		bn.Train(false)
	}
}

// UpdateBNStats is update_bn_stats: the batch norm follows the module's
// training mode again (batch statistics and running-stat updates when
// training); its own training flag is set, as PyTorch's.
func (m *convBnQAT) UpdateBNStats() {
	m.freezeBN = false
	if bn := m.BN(); bn != nil {
		bn.Train(true)
	}
}

// BNFrozen reports freeze_bn.
func (m *convBnQAT) BNFrozen() bool { return m.freezeBN }

// FoldedWeightBias returns fuse_conv_bn_weights(W, b, running_mean,
// running_var, eps, γ, β) with the batch norm's current running statistics
// (a missing conv bias counts as 0): the float weight and bias convert
// quantizes.
func (m *convBnQAT) FoldedWeightBias() (w, b *tensor.Dense, err error) {
	bn := m.BN()
	if bn == nil {
		return nil, nil, fmt.Errorf("qat: ConvBn%dd: child bn is not a batch norm", m.nd)
	}
	return fuse.FuseConvBNWeights(m.Weight.Data, denseOf(m.Bias), bn.RunningMean.Data, bn.RunningVar.Data, bn.Eps, bn.Weight.Data, bn.Bias.Data, false)
}

// Forward is PyTorch 1.13's _ConvBnNd._forward (_forward_approximate):
//
//	running_std  = sqrt(bn.running_var + bn.eps)
//	scale_factor = bn.weight / running_std
//	y   = conv(x, wfq(W · scale_factor[:, None, …]), bias 0)
//	y   = y / scale_factor[None, :, None, …]  (+ conv bias)
//	out = bn(y)                               (then relu for ConvBnReLU)
//
// all in float32. The weight is folded with the running std as it is when
// the graph runs, before this run's batch-norm update. The batch norm runs
// in training mode (batch mean and biased variance; running statistics
// updated with momentum and the unbiased variance) when the module is
// training and the statistics are not frozen, else with its running
// statistics. Gradients reach W, the conv bias, γ and β (the
// fake-quantization passes them straight through). A channel with γ = 0
// divides 0 by 0 and gives NaN, as PyTorch's default path does. x must be
// batched: (N, C, spatial…).
func (m *convBnQAT) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	op := fmt.Sprintf("ConvBn%dd", m.nd)
	if err := checkInput(op, x); err != nil {
		return nil, err
	}
	bn := m.BN()
	if bn == nil {
		return nil, fmt.Errorf("qat: %s: child bn is not a batch norm", op)
	}
	if r := x.Shape().Dims(); r != m.nd+2 {
		return nil, fmt.Errorf("qat: %s: input shape %v, want rank %d (N, C, spatial…)", op, x.Shape(), m.nd+2)
	}
	y, err := foldedForward(x, m.Weight, m.Bias, bn, m.wfq, 1, func(x, w *gorgonia.Node) (*gorgonia.Node, error) {
		return m.ForwardWeights(x, w, nil)
	})
	if err != nil {
		return nil, fmt.Errorf("qat: %s: %w", op, err)
	}
	if y, err = runBN(bn, y, m.Training() && !m.freezeBN); err != nil {
		return nil, err
	}
	if !m.relu {
		return y, nil
	}
	return relu(y)
}

// ConvBn1d is torch.nn.intrinsic.qat.ConvBn1d: Conv1d + BatchNorm1d
// trained with the weight fake-quantized after folding (see ConvBn2d).
type ConvBn1d struct{ convBnQAT }

// ConvBn2d is torch.nn.intrinsic.qat.ConvBn2d: a Conv2d and a trained
// BatchNorm2d (child "bn"), with the weight fake-quantized after folding in
// the batch norm's running std (Forward gives the exact math). Made by
// FromFloat from a fuse.ConvBn2d (FuseModulesQAT), sharing its Parameters
// and buffers. State-dict names as PyTorch: weight, bias (the conv's),
// bn.weight, bn.bias, bn.running_mean, bn.running_var,
// bn.num_batches_tracked. With the weight fake-quantizer disabled its
// output equals Conv2d followed by BatchNorm2d.
type ConvBn2d struct{ convBnQAT }

// ConvBn3d is torch.nn.intrinsic.qat.ConvBn3d (see ConvBn2d).
type ConvBn3d struct{ convBnQAT }

// ConvBnReLU1d is torch.nn.intrinsic.qat.ConvBnReLU1d: relu(ConvBn1d).
type ConvBnReLU1d struct{ convBnQAT }

// ConvBnReLU2d is torch.nn.intrinsic.qat.ConvBnReLU2d: relu(ConvBn2d).
type ConvBnReLU2d struct{ convBnQAT }

// ConvBnReLU3d is torch.nn.intrinsic.qat.ConvBnReLU3d: relu(ConvBn3d).
type ConvBnReLU3d struct{ convBnQAT }

// TypeName returns "ConvBn1d".
func (m *ConvBn1d) TypeName() string { return "ConvBn1d" }

// TypeName returns "ConvBn2d".
func (m *ConvBn2d) TypeName() string { return "ConvBn2d" }

// TypeName returns "ConvBn3d".
func (m *ConvBn3d) TypeName() string { return "ConvBn3d" }

// TypeName returns "ConvBnReLU1d".
func (m *ConvBnReLU1d) TypeName() string { return "ConvBnReLU1d" }

// TypeName returns "ConvBnReLU2d".
func (m *ConvBnReLU2d) TypeName() string { return "ConvBnReLU2d" }

// TypeName returns "ConvBnReLU3d".
func (m *ConvBnReLU3d) TypeName() string { return "ConvBnReLU3d" }

// Clone deep-copies the module (parameters, batch norm, fake-quantizer).
func (m *ConvBn1d) Clone() nn.Module { return &ConvBn1d{m.cloneConvBn()} }

// Clone deep-copies the module (parameters, batch norm, fake-quantizer).
func (m *ConvBn2d) Clone() nn.Module { return &ConvBn2d{m.cloneConvBn()} }

// Clone deep-copies the module (parameters, batch norm, fake-quantizer).
func (m *ConvBn3d) Clone() nn.Module { return &ConvBn3d{m.cloneConvBn()} }

// Clone deep-copies the module (parameters, batch norm, fake-quantizer).
func (m *ConvBnReLU1d) Clone() nn.Module { return &ConvBnReLU1d{m.cloneConvBn()} }

// Clone deep-copies the module (parameters, batch norm, fake-quantizer).
func (m *ConvBnReLU2d) Clone() nn.Module { return &ConvBnReLU2d{m.cloneConvBn()} }

// Clone deep-copies the module (parameters, batch norm, fake-quantizer).
func (m *ConvBnReLU3d) Clone() nn.Module { return &ConvBnReLU3d{m.cloneConvBn()} }

var (
	_ BNModule   = (*ConvBn2d)(nil)
	_ ConvModule = (*ConvBnReLU3d)(nil)
	_ ConvModule = (*Conv1d)(nil)
	_ ConvModule = (*ConvReLU2d)(nil)
	_ Module     = (*Linear)(nil)
	_ Module     = (*LinearReLU)(nil)
	_ BNModule   = (*LinearBn1d)(nil)
)
