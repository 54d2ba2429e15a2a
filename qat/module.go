package qat

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/fake"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Module is what every QAT module of this package offers to convert
// (eager.Convert): the weight fake-quantizer it trained with, whether a
// ReLU is fused into it, and the float weight and bias to quantize.
type Module interface {
	nn.Module
	// WeightFakeQuant returns the weight fake-quantizer (PyTorch's
	// weight_fake_quant), the module itself, not a copy.
	WeightFakeQuant() fake.Quantizer
	// FusedReLU reports whether the module ends with a ReLU (ConvReLU*,
	// ConvBnReLU*, LinearReLU): convert makes the ReLU-fused quantized op.
	FusedReLU() bool
	// FoldedWeightBias returns new float32 tensors holding the weight and
	// bias convert quantizes: for ConvBn*, ConvBnReLU* and LinearBn1d the
	// batch norm folded in with its current running statistics
	// (fuse.FuseConvBNWeights / FuseLinearBNWeights, PyTorch's
	// fuse_conv_bn_weights at convert); otherwise copies of the weight and
	// bias (b nil when there is no bias).
	FoldedWeightBias() (w, b *tensor.Dense, err error)
}

// ConvModule is a QAT convolution: Module plus its geometry.
type ConvModule interface {
	Module
	// Conv returns the convolution state (channels, kernel, stride,
	// padding, dilation, groups, weight, bias), shared with the module.
	Conv() *nn.ConvNd
	// SpatialDims is 1, 2 or 3.
	SpatialDims() int
}

// BNModule is a QAT module with a trained batch norm (ConvBn*,
// ConvBnReLU*, LinearBn1d).
type BNModule interface {
	Module
	// BN returns the batch-norm child "bn".
	BN() *nn.BatchNorm
	// FreezeBNStats is freeze_bn_stats: from the next Forward on, the batch
	// norm normalizes with its running statistics and stops updating them,
	// whatever the training mode.
	FreezeBNStats()
	// UpdateBNStats is update_bn_stats: undo FreezeBNStats (the batch norm
	// follows the module's training mode again).
	UpdateBNStats()
	// BNFrozen reports freeze_bn.
	BNFrozen() bool
}

// FreezeBNStats calls FreezeBNStats on every BNModule in m's tree
// (PyTorch's model.apply(torch.nn.intrinsic.qat.freeze_bn_stats)) and
// returns how many it froze.
func FreezeBNStats(m nn.Module) int {
	n := 0
	for _, nm := range nn.NamedModules(m) {
		if b, ok := nm.Module.(BNModule); ok {
			b.FreezeBNStats()
			n++
		}
	}
	return n
}

// UpdateBNStats calls UpdateBNStats on every BNModule in m's tree
// (model.apply(update_bn_stats)) and returns how many it changed.
func UpdateBNStats(m nn.Module) int {
	n := 0
	for _, nm := range nn.NamedModules(m) {
		if b, ok := nm.Module.(BNModule); ok {
			b.UpdateBNStats()
			n++
		}
	}
	return n
}

// FromFloat is the from_float of PyTorch's QAT modules: it returns the QAT
// twin of a float module, sharing its parameters and buffers (as PyTorch
// does, so training the QAT module trains them) and holding wfq as the
// weight fake-quantizer (qconfig.weight()):
//
//	*nn.Linear → *Linear                 *fuse.LinearReLU → *LinearReLU       *fuse.LinearBn1d → *LinearBn1d
//	*nn.Conv{1,2,3}d → *Conv{1,2,3}d     *fuse.ConvReLU{1,2,3}d → *ConvReLU{1,2,3}d
//	*fuse.ConvBn{1,2,3}d → *ConvBn{1,2,3}d   *fuse.ConvBnReLU{1,2,3}d → *ConvBnReLU{1,2,3}d
//
// The result keeps the float module's QConfig and training mode (but no
// hooks); ConvBn modules start with freeze_bn false. The batch norm of a
// ConvBn/LinearBn becomes the child "bn". Errors: nil arguments, another
// module type, a batch norm that is not affine or does not track running
// statistics, or channel counts that disagree.
func FromFloat(m nn.Module, wfq fake.Quantizer) (Module, error) {
	if m == nil {
		return nil, fmt.Errorf("qat: from_float: module is nil")
	}
	if wfq == nil {
		return nil, fmt.Errorf("qat: from_float: %s: weight fake quantizer is nil", m.TypeName())
	}
	var (
		q   Module
		err error
	)
	switch f := m.(type) {
	case *nn.Linear:
		var c linearQAT
		c, err = newLinear(f, wfq, false)
		q = &Linear{c}
	case *fuse.LinearReLU:
		var c linearQAT
		c, err = newLinear(f.Linear(), wfq, true)
		q = &LinearReLU{c}
	case *fuse.LinearBn1d:
		q, err = newLinearBn(f.Linear(), f.BN(), wfq)
	case *nn.Conv1d:
		var c convQAT
		c, err = newConv(convNd(f), 1, wfq, false)
		q = &Conv1d{c}
	case *nn.Conv2d:
		var c convQAT
		c, err = newConv(convNd(f), 2, wfq, false)
		q = &Conv2d{c}
	case *nn.Conv3d:
		var c convQAT
		c, err = newConv(convNd(f), 3, wfq, false)
		q = &Conv3d{c}
	case *fuse.ConvReLU1d:
		var c convQAT
		c, err = newConv(convNd(f.Conv()), 1, wfq, true)
		q = &ConvReLU1d{c}
	case *fuse.ConvReLU2d:
		var c convQAT
		c, err = newConv(convNd(f.Conv()), 2, wfq, true)
		q = &ConvReLU2d{c}
	case *fuse.ConvReLU3d:
		var c convQAT
		c, err = newConv(convNd(f.Conv()), 3, wfq, true)
		q = &ConvReLU3d{c}
	case *fuse.ConvBn1d:
		var c convBnQAT
		c, err = newConvBn(convNd(f.Conv()), f.BN(), 1, wfq, false)
		q = &ConvBn1d{c}
	case *fuse.ConvBn2d:
		var c convBnQAT
		c, err = newConvBn(convNd(f.Conv()), f.BN(), 2, wfq, false)
		q = &ConvBn2d{c}
	case *fuse.ConvBn3d:
		var c convBnQAT
		c, err = newConvBn(convNd(f.Conv()), f.BN(), 3, wfq, false)
		q = &ConvBn3d{c}
	case *fuse.ConvBnReLU1d:
		var c convBnQAT
		c, err = newConvBn(convNd(f.Conv()), f.BN(), 1, wfq, true)
		q = &ConvBnReLU1d{c}
	case *fuse.ConvBnReLU2d:
		var c convBnQAT
		c, err = newConvBn(convNd(f.Conv()), f.BN(), 2, wfq, true)
		q = &ConvBnReLU2d{c}
	case *fuse.ConvBnReLU3d:
		var c convBnQAT
		c, err = newConvBn(convNd(f.Conv()), f.BN(), 3, wfq, true)
		q = &ConvBnReLU3d{c}
	default:
		return nil, fmt.Errorf("qat: from_float: no QAT module for %s", m.TypeName())
	}
	if err != nil {
		return nil, fmt.Errorf("qat: from_float: %s: %w", m.TypeName(), err)
	}
	fb, qb := m.ModuleBase(), q.ModuleBase()
	qb.QConfig = fb.QConfig
	qb.Train(fb.Training())
	return q, nil
}

func convNd[T interface {
	*nn.Conv1d | *nn.Conv2d | *nn.Conv3d
}](c T) *nn.ConvNd {
	switch v := any(c).(type) {
	case *nn.Conv1d:
		if v != nil {
			return &v.ConvNd
		}
	case *nn.Conv2d:
		if v != nil {
			return &v.ConvNd
		}
	case *nn.Conv3d:
		if v != nil {
			return &v.ConvNd
		}
	}
	return nil
}

// cloneQuantizer deep-copies the fake-quantize modules of package fake;
// a Quantizer of another type is shared.
func cloneQuantizer(q fake.Quantizer) fake.Quantizer {
	switch v := q.(type) {
	case *fake.FusedMovingAvgObsFakeQuantize:
		return v.Clone()
	case *fake.FakeQuantizer:
		return v.Clone()
	case interface{ Clone() fake.Quantizer }:
		return v.Clone()
	}
	return q
}

// fakeQuantWeight returns the weight fake-quant node wfq(w).
func fakeQuantWeight(w *gorgonia.Node, wfq fake.Quantizer) (*gorgonia.Node, error) {
	y, _, err := fake.FakeQuantize(w, wfq)
	return y, err
}

// relu applies torch.relu (nn.ReLU's op and gradient).
func relu(y *gorgonia.Node) (*gorgonia.Node, error) { return nn.NewReLU().Forward(y) }

// paramNode returns p's node on g, or nil for a nil parameter.
func paramNode(p *nn.Parameter, g *gorgonia.ExprGraph) (*gorgonia.Node, error) {
	if p == nil {
		return nil, nil
	}
	return p.Node(g)
}

func cloneDense(p *nn.Parameter) *tensor.Dense {
	if p == nil {
		return nil
	}
	return p.Data.Clone().(*tensor.Dense)
}

func denseOf(p *nn.Parameter) *tensor.Dense {
	if p == nil {
		return nil
	}
	return p.Data
}

func checkInput(op string, x *gorgonia.Node) error {
	if x == nil {
		return fmt.Errorf("qat: %s: input node is nil", op)
	}
	if x.Graph() == nil {
		return fmt.Errorf("qat: %s: input node belongs to no graph", op)
	}
	return nil
}

// copyBN returns a new BatchNorm sharing bn's parameters and buffers (the
// module of PyTorch's from_float, which re-registers the same tensors),
// without hooks; it must be affine and track running statistics.
func copyBN(bn *nn.BatchNorm, features int) (*nn.BatchNorm, error) {
	if bn == nil {
		return nil, fmt.Errorf("batch norm is nil")
	}
	if bn.NumFeatures != features {
		return nil, fmt.Errorf("%s has %d features, the layer outputs %d channels", bn.TypeName(), bn.NumFeatures, features)
	}
	if bn.Weight == nil || bn.Bias == nil {
		return nil, fmt.Errorf("%s must be affine", bn.TypeName())
	}
	if bn.RunningMean == nil || bn.RunningVar == nil {
		return nil, fmt.Errorf("%s must track running statistics", bn.TypeName())
	}
	c := *bn
	c.Base = nn.Base{QConfig: bn.QConfig}
	c.Train(bn.Training())
	return &c, nil
}
