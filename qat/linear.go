package qat

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/fake"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// linearQAT is the body of Linear and LinearReLU: the float layer's state
// (shared Parameters) and the weight fake-quantizer.
type linearQAT struct {
	nn.Linear
	wfq  fake.Quantizer
	relu bool
}

func newLinear(l *nn.Linear, wfq fake.Quantizer, relu bool) (linearQAT, error) {
	if l == nil {
		return linearQAT{}, fmt.Errorf("linear is nil")
	}
	if l.Weight == nil {
		return linearQAT{}, fmt.Errorf("linear has no weight")
	}
	c := linearQAT{Linear: *l, wfq: wfq, relu: relu}
	c.Linear.Base = nn.Base{}
	return c, nil
}

func (l *linearQAT) cloneLinear() linearQAT {
	c := *l
	c.Linear = *l.Linear.Clone().(*nn.Linear)
	c.wfq = cloneQuantizer(l.wfq)
	return c
}

// WeightFakeQuant returns the weight fake-quantizer.
func (l *linearQAT) WeightFakeQuant() fake.Quantizer { return l.wfq }

// FusedReLU reports whether a ReLU follows the linear layer.
func (l *linearQAT) FusedReLU() bool { return l.relu }

// FoldedWeightBias returns copies of the weight and bias (b nil without
// bias).
func (l *linearQAT) FoldedWeightBias() (w, b *tensor.Dense, err error) {
	return cloneDense(l.Weight), cloneDense(l.Bias), nil
}

// Forward builds linear(x, wfq(W), b), then ReLU when fused. x is (…, In).
func (l *linearQAT) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkInput("linear", x); err != nil {
		return nil, err
	}
	s := x.Shape()
	if s.Dims() < 1 || s[s.Dims()-1] != l.InFeatures {
		return nil, fmt.Errorf("qat: linear: input shape %v, want last axis %d", s, l.InFeatures)
	}
	g := x.Graph()
	w, err := l.Weight.Node(g)
	if err != nil {
		return nil, err
	}
	wq, err := fakeQuantWeight(w, l.wfq)
	if err != nil {
		return nil, err
	}
	b, err := paramNode(l.Bias, g)
	if err != nil {
		return nil, err
	}
	y, err := l.ForwardWeights(x, wq, b)
	if err != nil || !l.relu {
		return y, err
	}
	return relu(y)
}

// Linear is torch.nn.qat.Linear: y = x·wfq(W)ᵀ + b, the weight passed
// through its fake-quantizer (a differentiable fake.FakeQuantize node with
// the straight-through estimator) on every run. Made by FromFloat from an
// nn.Linear, whose Parameters it shares. State-dict names as nn.Linear
// (weight, bias).
type Linear struct{ linearQAT }

// LinearReLU is torch.nn.intrinsic.qat.LinearReLU: relu(x·wfq(W)ᵀ + b).
// Made by FromFloat from a fuse.LinearReLU.
type LinearReLU struct{ linearQAT }

// TypeName returns "Linear".
func (l *Linear) TypeName() string { return "Linear" }

// TypeName returns "LinearReLU".
func (l *LinearReLU) TypeName() string { return "LinearReLU" }

// Clone deep-copies the module (parameters and fake-quantizer).
func (l *Linear) Clone() nn.Module { return &Linear{l.cloneLinear()} }

// Clone deep-copies the module (parameters and fake-quantizer).
func (l *LinearReLU) Clone() nn.Module { return &LinearReLU{l.cloneLinear()} }

// LinearBn1d is torch.nn.intrinsic.qat.LinearBn1d: a Linear followed by a
// trained BatchNorm1d (child "bn"), with the weight fake-quantized after
// folding in the batch norm's running std, PyTorch 1.13's forward:
//
//	scale_factor = bn.weight / sqrt(bn.running_var + bn.eps)
//	y = linear(x, wfq(W · scale_factor[:, None]), 0) / scale_factor + b
//	out = bn(y)            (batch statistics and running-stat updates in training; running statistics in eval or when frozen)
//
// x must be (N, In) (BatchNorm1d). Made by FromFloat from a fuse.LinearBn1d.
// State-dict names as PyTorch: weight, bias, bn.weight, bn.bias,
// bn.running_mean, bn.running_var, bn.num_batches_tracked.
type LinearBn1d struct {
	nn.Linear
	wfq      fake.Quantizer
	freezeBN bool
}

func newLinearBn(l *nn.Linear, bn *nn.BatchNorm, wfq fake.Quantizer) (*LinearBn1d, error) {
	c, err := newLinear(l, wfq, false)
	if err != nil {
		return nil, err
	}
	if bn != nil && bn.TypeName() != "BatchNorm1d" {
		return nil, fmt.Errorf("batch norm is %s, want BatchNorm1d", bn.TypeName())
	}
	b, err := copyBN(bn, l.OutFeatures)
	if err != nil {
		return nil, err
	}
	m := &LinearBn1d{Linear: c.Linear, wfq: wfq}
	if err := m.AddModule("bn", b); err != nil {
		return nil, err
	}
	return m, nil
}

// TypeName returns "LinearBn1d".
func (m *LinearBn1d) TypeName() string { return "LinearBn1d" }

// Clone deep-copies the module (parameters, batch norm, fake-quantizer).
func (m *LinearBn1d) Clone() nn.Module {
	c := *m
	c.Linear = *m.Linear.Clone().(*nn.Linear)
	c.wfq = cloneQuantizer(m.wfq)
	return &c
}

// WeightFakeQuant returns the weight fake-quantizer.
func (m *LinearBn1d) WeightFakeQuant() fake.Quantizer { return m.wfq }

// FusedReLU is false.
func (m *LinearBn1d) FusedReLU() bool { return false }

// BN returns the batch-norm child "bn" (nil if replaced by another type).
func (m *LinearBn1d) BN() *nn.BatchNorm { b, _ := m.Child("bn").(*nn.BatchNorm); return b }

// FreezeBNStats is freeze_bn_stats.
func (m *LinearBn1d) FreezeBNStats() {
	m.freezeBN = true
	if bn := m.BN(); bn != nil {
		bn.Train(false)
	}
}

// UpdateBNStats is update_bn_stats.
func (m *LinearBn1d) UpdateBNStats() {
	m.freezeBN = false
	if bn := m.BN(); bn != nil {
		bn.Train(true)
	}
}

// BNFrozen reports freeze_bn.
func (m *LinearBn1d) BNFrozen() bool { return m.freezeBN }

// FoldedWeightBias returns fuse_linear_bn_weights(W, b, running_mean,
// running_var, eps, γ, β) with the current running statistics.
func (m *LinearBn1d) FoldedWeightBias() (w, b *tensor.Dense, err error) {
	bn := m.BN()
	if bn == nil {
		return nil, nil, fmt.Errorf("qat: LinearBn1d: child bn is not a batch norm")
	}
	return fuse.FuseLinearBNWeights(m.Weight.Data, denseOf(m.Bias), bn.RunningMean.Data, bn.RunningVar.Data, bn.Eps, bn.Weight.Data, bn.Bias.Data)
}

// Forward builds the LinearBn1d forward on x (N, In).
func (m *LinearBn1d) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	const op = "LinearBn1d"
	if err := checkInput(op, x); err != nil {
		return nil, err
	}
	if s := x.Shape(); s.Dims() != 2 || s[1] != m.InFeatures {
		return nil, fmt.Errorf("qat: %s: input shape %v, want (N, %d)", op, s, m.InFeatures)
	}
	bn := m.BN()
	if bn == nil {
		return nil, fmt.Errorf("qat: %s: child bn is not a batch norm", op)
	}
	y, err := foldedForward(x, m.Weight, m.Bias, bn, m.wfq, 1, func(x, w *gorgonia.Node) (*gorgonia.Node, error) {
		return m.ForwardWeights(x, w, nil)
	})
	if err != nil {
		return nil, fmt.Errorf("qat: %s: %w", op, err)
	}
	return runBN(bn, y, m.Training() && !m.freezeBN)
}

// foldedForward is the shared part of PyTorch 1.13's _forward_approximate:
//
//	sf = bn.weight / sqrt(bn.running_var + bn.eps)
//	y  = layer(x, wfq(W · sf along axis 0), 0) / sf along chAxis (+ bias along chAxis)
//
// The running statistics are read when the graph runs, before the batch
// norm that follows updates them (it depends on y).
func foldedForward(x *gorgonia.Node, weight, bias *nn.Parameter, bn *nn.BatchNorm, wfq fake.Quantizer, chAxis int, layer func(x, w *gorgonia.Node) (*gorgonia.Node, error)) (*gorgonia.Node, error) {
	g := x.Graph()
	w, err := weight.Node(g)
	if err != nil {
		return nil, err
	}
	gamma, err := bn.Weight.Node(g)
	if err != nil {
		return nil, err
	}
	rv, err := bn.RunningVar.Node(g)
	if err != nil {
		return nil, err
	}
	sf, err := scaleFactor(gamma, rv, bn.Eps)
	if err != nil {
		return nil, err
	}
	ws, err := channel(w, sf, chanMul, 0)
	if err != nil {
		return nil, err
	}
	wq, err := fakeQuantWeight(ws, wfq)
	if err != nil {
		return nil, err
	}
	y, err := layer(x, wq)
	if err != nil {
		return nil, err
	}
	if y, err = channel(y, sf, chanDiv, chAxis); err != nil {
		return nil, err
	}
	if bias != nil {
		b, err := bias.Node(g)
		if err != nil {
			return nil, err
		}
		if y, err = channel(y, b, chanAdd, chAxis); err != nil {
			return nil, err
		}
	}
	return y, nil
}

// runBN runs the batch norm in the given mode through nn.Call (its hooks
// apply, as self.bn(...) in PyTorch). The mode is set on a shallow copy
// sharing bn's parameters and buffers, so Forward changes no module state
// and graphs can be built concurrently.
func runBN(bn *nn.BatchNorm, y *gorgonia.Node, training bool) (*gorgonia.Node, error) {
	b := *bn
	b.Train(training)
	return nn.Call(&b, y)
}
