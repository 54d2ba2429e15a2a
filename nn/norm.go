package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// normalize returns (x − mean)·invstd over the span [start, end) of x's
// axes, where mean and the biased variance are taken over every other axis
// (batch statistics), or come from the given running mean/var nodes.
// track, when non-nil, is applied to (mean, var) so a BatchNorm can update
// its running statistics.
func normalize(x *gorgonia.Node, start, end int, eps float64, runMean, runVar *gorgonia.Node, track func(mean, v *gorgonia.Node) (*gorgonia.Node, error)) (*gorgonia.Node, error) {
	s := x.Shape()
	A, _, B := spanDims(s, start, end)
	count := A * B
	var mean, v *gorgonia.Node
	var err error
	if runMean != nil {
		mean, v = runMean, runVar
	} else {
		if count == 0 {
			return nil, fmt.Errorf("nn: normalization: no elements to average over in %v", s)
		}
		inv := act{kind: actScale, a: float32(1) / float32(count)}
		if mean, err = spanSum(x, start, end); err != nil {
			return nil, err
		}
		if mean, err = activate(mean, inv); err != nil {
			return nil, err
		}
	}
	neg, err := activate(mean, act{kind: actScale, a: -1})
	if err != nil {
		return nil, err
	}
	xc, err := spanApply(x, neg, spanAdd, start, end)
	if err != nil {
		return nil, err
	}
	if runMean == nil {
		sq, err := activate(xc, act{kind: actSquare})
		if err != nil {
			return nil, err
		}
		if v, err = spanSum(sq, start, end); err != nil {
			return nil, err
		}
		if v, err = activate(v, act{kind: actScale, a: float32(1) / float32(count)}); err != nil {
			return nil, err
		}
		if track != nil {
			if v, err = track(mean, v); err != nil {
				return nil, err
			}
		}
	}
	invstd, err := activate(v, act{kind: actInvStd, e: eps})
	if err != nil {
		return nil, err
	}
	return spanApply(xc, invstd, spanMul, start, end)
}

// affine applies y·w + b with w, b broadcast over x's span [start, end)
// (either may be nil).
func affine(y *gorgonia.Node, w, b *Parameter, start, end int) (*gorgonia.Node, error) {
	g := y.Graph()
	var err error
	if w != nil {
		wn, err := w.Node(g)
		if err != nil {
			return nil, err
		}
		if y, err = spanApply(y, wn, spanMul, start, end); err != nil {
			return nil, err
		}
	}
	if b != nil {
		bn, err := b.Node(g)
		if err != nil {
			return nil, err
		}
		if y, err = spanApply(y, bn, spanAdd, start, end); err != nil {
			return nil, err
		}
	}
	return y, err
}

// BatchNorm is torch.nn.BatchNorm1d/2d/3d: per channel (axis 1),
// y = (x − mean)/√(var + Eps)·weight + bias. In training mode (or without
// running stats) mean and the biased var come from the batch, and each run
// of the graph updates RunningMean ← (1−m)·RunningMean + m·mean and
// RunningVar ← (1−m)·RunningVar + m·var·n/(n−1) with m = Momentum (or
// 1/NumBatchesTracked when CumulativeAverage, PyTorch's momentum=None).
// In eval mode the running statistics are used.
type BatchNorm struct {
	Base
	NumFeatures       int
	Eps, Momentum     float64
	CumulativeAverage bool
	// Weight, Bias are nil when affine=False; RunningMean, RunningVar and
	// NumBatchesTracked (int64 scalar) are nil when track_running_stats=False.
	Weight, Bias                               *Parameter
	RunningMean, RunningVar, NumBatchesTracked *Parameter

	nd int // 1, 2 or 3: number of spatial axes PyTorch's class accepts
}

// NewBatchNorm1d returns BatchNorm1d(num_features) with eps 1e-5, momentum
// 0.1, affine and running statistics (clear the fields to change that).
func NewBatchNorm1d(numFeatures int) (*BatchNorm, error) { return newBatchNorm(1, numFeatures) }

// NewBatchNorm2d returns BatchNorm2d(num_features); see NewBatchNorm1d.
func NewBatchNorm2d(numFeatures int) (*BatchNorm, error) { return newBatchNorm(2, numFeatures) }

// NewBatchNorm3d returns BatchNorm3d(num_features); see NewBatchNorm1d.
func NewBatchNorm3d(numFeatures int) (*BatchNorm, error) { return newBatchNorm(3, numFeatures) }

func newBatchNorm(nd, c int) (*BatchNorm, error) {
	if c <= 0 {
		return nil, fmt.Errorf("nn: batch_norm: num_features %d must be positive", c)
	}
	return &BatchNorm{
		NumFeatures: c, Eps: 1e-5, Momentum: 0.1, nd: nd,
		Weight: NewParameter(filled(1, c)), Bias: NewParameter(filled(0, c)),
		RunningMean: newBuffer(filled(0, c)), RunningVar: newBuffer(filled(1, c)),
		NumBatchesTracked: newBuffer(tensor.New(tensor.FromScalar(int64(0)))),
	}, nil
}

// TypeName returns "BatchNorm1d", "BatchNorm2d" or "BatchNorm3d".
func (m *BatchNorm) TypeName() string { return fmt.Sprintf("BatchNorm%dd", m.nd) }

// NamedParameters returns weight and bias.
func (m *BatchNorm) NamedParameters() []Named { return params("weight", m.Weight, "bias", m.Bias) }

// NamedBuffers returns running_mean, running_var, num_batches_tracked.
func (m *BatchNorm) NamedBuffers() []Named {
	return params("running_mean", m.RunningMean, "running_var", m.RunningVar, "num_batches_tracked", m.NumBatchesTracked)
}

// Clone deep-copies the layer.
func (m *BatchNorm) Clone() Module {
	c := *m
	c.Base = m.cloneBase()
	c.Weight, c.Bias = m.Weight.Clone(), m.Bias.Clone()
	c.RunningMean, c.RunningVar, c.NumBatchesTracked = m.RunningMean.Clone(), m.RunningVar.Clone(), m.NumBatchesTracked.Clone()
	return &c
}

// Forward normalizes x: (N, C) or (N, C, L) for 1d, (N, C, H, W) for 2d,
// (N, C, D, H, W) for 3d; the channel count must be NumFeatures.
func (m *BatchNorm) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	op := fmt.Sprintf("batch_norm%dd", m.nd)
	if err := checkF32Node(op, x, -1); err != nil {
		return nil, err
	}
	s := x.Shape()
	okRank := s.Dims() == m.nd+2 || (m.nd == 1 && s.Dims() == 2)
	if !okRank {
		return nil, fmt.Errorf("nn: %s: input shape %v has rank %d, want %d", op, s, s.Dims(), m.nd+2)
	}
	if s[1] != m.NumFeatures {
		return nil, fmt.Errorf("nn: %s: input has %d channels (shape %v), want %d", op, s[1], s, m.NumFeatures)
	}
	tracking := m.RunningMean != nil && m.RunningVar != nil
	var y *gorgonia.Node
	var err error
	if m.Training() || !tracking {
		if m.Training() && s.TotalSize()/s[1] <= 1 {
			return nil, fmt.Errorf("nn: %s: expected more than 1 value per channel when training, got input %v", op, s)
		}
		var track func(mean, v *gorgonia.Node) (*gorgonia.Node, error)
		if m.Training() && tracking {
			n := s.TotalSize() / s[1]
			track = func(mean, v *gorgonia.Node) (*gorgonia.Node, error) {
				return gorgonia.ApplyOp(&bnStatsOp{state: m.runningState, n: n, rows: 1, c: s[1], id: nextOpID()}, mean, v)
			}
		}
		y, err = normalize(x, 1, 2, m.Eps, nil, nil, track)
	} else {
		g := x.Graph()
		rm, err := m.RunningMean.Node(g)
		if err != nil {
			return nil, err
		}
		rv, err := m.RunningVar.Node(g)
		if err != nil {
			return nil, err
		}
		y, err = normalize(x, 1, 2, m.Eps, rm, rv, nil)
		if err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	return affine(y, m.Weight, m.Bias, 1, 2)
}

// runningState returns the buffers and momentum a stats update writes.
func (m *BatchNorm) runningState() (rm, rv, nbt *Parameter, momentum float64, cumulative bool) {
	return m.RunningMean, m.RunningVar, m.NumBatchesTracked, m.Momentum, m.CumulativeAverage
}

// bnStatsOp passes the batch variance through unchanged and, as a side
// effect of every run, folds the batch mean and variance into a module's
// running buffers (PyTorch's update in batch_norm training):
// running ← (1−m)·running + m·stat, the variance made unbiased by n/(n−1)
// for n values per statistic. The inputs hold rows·c statistics; rows > 1
// (instance norm: one row per sample) are averaged per channel, as
// PyTorch's instance_norm averages its repeated running statistics.
type bnStatsOp struct {
	state      func() (rm, rv, nbt *Parameter, momentum float64, cumulative bool)
	n, rows, c int
	id         uint64
}

var (
	_ gorgonia.SDOp = &bnStatsOp{}
	_ gorgonia.ADOp = &bnStatsOp{}
)

func (op *bnStatsOp) Arity() int { return 2 }
func (op *bnStatsOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}
func (op *bnStatsOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return shapeOf(in[1])
}
func (op *bnStatsOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	const name = "running stats"
	if len(in) != 2 {
		return nil, fmt.Errorf("nn: %s: got %d inputs, want 2", name, len(in))
	}
	mean, err := f32Data(name, in[0], nil)
	if err != nil {
		return nil, err
	}
	v, err := f32Data(name, in[1], nil)
	if err != nil {
		return nil, err
	}
	if len(mean) != op.rows*op.c || len(v) != op.rows*op.c {
		return nil, fmt.Errorf("nn: %s: %d means and %d variances, want %d", name, len(mean), len(v), op.rows*op.c)
	}
	rmP, rvP, nbtP, mom, cumulative := op.state()
	if rmP == nil || rvP == nil {
		return nil, fmt.Errorf("nn: %s: running statistics were removed", name)
	}
	rm, err := f32Data(name, rmP.Data, tensor.Shape{op.c})
	if err != nil {
		return nil, err
	}
	rv, err := f32Data(name, rvP.Data, tensor.Shape{op.c})
	if err != nil {
		return nil, err
	}
	var nbt int64
	if nbtP != nil {
		if d, ok := nbtP.Data.Data().(int64); ok {
			nbt = d + 1
			nbtP.Data.Set(0, nbt)
		}
	}
	if cumulative {
		mom = 1
		if nbt > 0 {
			mom = 1 / float64(nbt)
		}
	}
	unbias := float64(op.n) / float64(op.n-1)
	for c := range rm {
		var sm, sv float64
		for r := 0; r < op.rows; r++ {
			sm += float64(mean[r*op.c+c])
			sv += float64(v[r*op.c+c]) * unbias
		}
		sm /= float64(op.rows)
		sv /= float64(op.rows)
		rm[c] = float32(mom*sm + (1-mom)*float64(rm[c]))
		rv[c] = float32(mom*sv + (1-mom)*float64(rv[c]))
	}
	out := newF32(in[1].Shape())
	copy(out.Float32s(), v)
	return out, nil
}
func (op *bnStatsOp) ReturnsPtr() bool      { return false }
func (op *bnStatsOp) CallsExtern() bool     { return false }
func (op *bnStatsOp) OverwritesInput() int  { return -1 }
func (op *bnStatsOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "nn.bnstats:%d", op.id) }
func (op *bnStatsOp) Hashcode() uint32      { return hashOf(op) }
func (op *bnStatsOp) String() string        { return "batch_norm_stats" }
func (op *bnStatsOp) DiffWRT(int) []bool    { return []bool{false, true} }
func (op *bnStatsOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return gorgonia.Nodes{nil, grad}, nil
}

// LayerNorm is torch.nn.LayerNorm: x's trailing axes equal to
// NormalizedShape are normalized with their own mean and biased variance,
// y = (x − mean)/√(var + Eps)·weight + bias; Weight and Bias have
// NormalizedShape (nil when elementwise_affine=False).
type LayerNorm struct {
	Base
	NormalizedShape []int
	Eps             float64
	Weight, Bias    *Parameter
}

// NewLayerNorm returns LayerNorm(normalized_shape) with eps 1e-5 and an
// elementwise affine (weight 1, bias 0).
func NewLayerNorm(normalizedShape ...int) (*LayerNorm, error) {
	if len(normalizedShape) == 0 || prod(normalizedShape) <= 0 {
		return nil, fmt.Errorf("nn: layer_norm: bad normalized shape %v", normalizedShape)
	}
	n := prod(normalizedShape)
	w, b := filled(1, n), filled(0, n)
	if err := w.Reshape(normalizedShape...); err != nil {
		return nil, err
	}
	if err := b.Reshape(normalizedShape...); err != nil {
		return nil, err
	}
	return &LayerNorm{NormalizedShape: append([]int(nil), normalizedShape...), Eps: 1e-5, Weight: NewParameter(w), Bias: NewParameter(b)}, nil
}

// TypeName returns "LayerNorm".
func (m *LayerNorm) TypeName() string { return "LayerNorm" }

// NamedParameters returns weight and bias.
func (m *LayerNorm) NamedParameters() []Named { return params("weight", m.Weight, "bias", m.Bias) }

// NamedBuffers returns nothing.
func (m *LayerNorm) NamedBuffers() []Named { return nil }

// Clone deep-copies the layer.
func (m *LayerNorm) Clone() Module {
	c := *m
	c.Base = m.cloneBase()
	c.NormalizedShape = append([]int(nil), m.NormalizedShape...)
	c.Weight, c.Bias = m.Weight.Clone(), m.Bias.Clone()
	return &c
}

// Forward normalizes x, whose trailing axes must equal NormalizedShape.
func (m *LayerNorm) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkF32Node("layer_norm", x, -1); err != nil {
		return nil, err
	}
	s := x.Shape()
	k := len(m.NormalizedShape)
	if s.Dims() < k || !tensor.Shape(s[s.Dims()-k:]).Eq(tensor.Shape(m.NormalizedShape)) {
		return nil, fmt.Errorf("nn: layer_norm: input shape %v does not end with normalized shape %v", s, m.NormalizedShape)
	}
	xx := x
	var err error
	if s.Dims() == k {
		if xx, err = reshape(x, append(tensor.Shape{1}, s...)); err != nil {
			return nil, err
		}
	}
	r := xx.Shape().Dims()
	y, err := normalize(xx, 0, r-k, m.Eps, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	if y, err = affine(y, m.Weight, m.Bias, r-k, r); err != nil {
		return nil, err
	}
	if s.Dims() == k {
		return reshape(y, s.Clone())
	}
	return y, nil
}

// GroupNorm is torch.nn.GroupNorm: channels (axis 1) are split into
// NumGroups groups, each normalized over its channels and spatial axes per
// sample, then a per-channel affine (Weight, Bias of NumChannels; nil when
// affine=False).
type GroupNorm struct {
	Base
	NumGroups, NumChannels int
	Eps                    float64
	Weight, Bias           *Parameter
}

// NewGroupNorm returns GroupNorm(num_groups, num_channels) with eps 1e-5 and affine.
func NewGroupNorm(numGroups, numChannels int) (*GroupNorm, error) {
	if numGroups <= 0 || numChannels <= 0 || numChannels%numGroups != 0 {
		return nil, fmt.Errorf("nn: group_norm: num_channels %d must be a positive multiple of num_groups %d", numChannels, numGroups)
	}
	return &GroupNorm{NumGroups: numGroups, NumChannels: numChannels, Eps: 1e-5,
		Weight: NewParameter(filled(1, numChannels)), Bias: NewParameter(filled(0, numChannels))}, nil
}

// TypeName returns "GroupNorm".
func (m *GroupNorm) TypeName() string { return "GroupNorm" }

// NamedParameters returns weight and bias.
func (m *GroupNorm) NamedParameters() []Named { return params("weight", m.Weight, "bias", m.Bias) }

// NamedBuffers returns nothing.
func (m *GroupNorm) NamedBuffers() []Named { return nil }

// Clone deep-copies the layer.
func (m *GroupNorm) Clone() Module {
	c := *m
	c.Base = m.cloneBase()
	c.Weight, c.Bias = m.Weight.Clone(), m.Bias.Clone()
	return &c
}

// Forward normalizes x (N, C, *) with C = NumChannels.
func (m *GroupNorm) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkF32Node("group_norm", x, -1); err != nil {
		return nil, err
	}
	s := x.Shape()
	if s.Dims() < 2 || s[1] != m.NumChannels {
		return nil, fmt.Errorf("nn: group_norm: input shape %v, want (N, %d, *)", s, m.NumChannels)
	}
	xg, err := reshape(x, tensor.Shape{s[0], m.NumGroups, s.TotalSize() / (s[0] * m.NumGroups)})
	if err != nil {
		return nil, err
	}
	y, err := normalize(xg, 0, 2, m.Eps, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	if y, err = reshape(y, tensor.Shape{s[0], s[1], s.TotalSize() / (s[0] * s[1])}); err != nil {
		return nil, err
	}
	if y, err = affine(y, m.Weight, m.Bias, 1, 2); err != nil {
		return nil, err
	}
	return reshape(y, s.Clone())
}

// InstanceNorm is torch.nn.InstanceNorm1d/2d/3d: each (sample, channel)
// plane is normalized with its own mean and biased variance, then an
// optional per-channel affine (Weight, Bias nil unless affine=True). By
// default (PyTorch's track_running_stats=False) there are no running
// statistics; after TrackRunningStats, training runs fold the per-sample
// statistics, averaged over the batch, into RunningMean/RunningVar with
// Momentum (num_batches_tracked stays 0, as in PyTorch), and eval mode
// normalizes with them.
type InstanceNorm struct {
	Base
	NumFeatures                                int
	Eps, Momentum                              float64
	Weight, Bias                               *Parameter
	RunningMean, RunningVar, NumBatchesTracked *Parameter
	nd                                         int
}

// TrackRunningStats adds running_mean (0), running_var (1) and
// num_batches_tracked buffers (PyTorch's track_running_stats=True).
func (m *InstanceNorm) TrackRunningStats() {
	c := m.NumFeatures
	m.RunningMean, m.RunningVar = newBuffer(filled(0, c)), newBuffer(filled(1, c))
	m.NumBatchesTracked = newBuffer(tensor.New(tensor.FromScalar(int64(0))))
}

// runningState leaves num_batches_tracked alone: PyTorch's instance_norm
// never increments it.
func (m *InstanceNorm) runningState() (rm, rv, nbt *Parameter, momentum float64, cumulative bool) {
	return m.RunningMean, m.RunningVar, nil, m.Momentum, false
}

// NewInstanceNorm1d returns InstanceNorm1d(num_features) (eps 1e-5); affine
// adds a weight (1) and bias (0).
func NewInstanceNorm1d(numFeatures int, affine bool) (*InstanceNorm, error) {
	return newInstanceNorm(1, numFeatures, affine)
}

// NewInstanceNorm2d returns InstanceNorm2d(num_features); see NewInstanceNorm1d.
func NewInstanceNorm2d(numFeatures int, affine bool) (*InstanceNorm, error) {
	return newInstanceNorm(2, numFeatures, affine)
}

// NewInstanceNorm3d returns InstanceNorm3d(num_features); see NewInstanceNorm1d.
func NewInstanceNorm3d(numFeatures int, affine bool) (*InstanceNorm, error) {
	return newInstanceNorm(3, numFeatures, affine)
}

func newInstanceNorm(nd, c int, aff bool) (*InstanceNorm, error) {
	if c <= 0 {
		return nil, fmt.Errorf("nn: instance_norm: num_features %d must be positive", c)
	}
	m := &InstanceNorm{NumFeatures: c, Eps: 1e-5, Momentum: 0.1, nd: nd}
	if aff {
		m.Weight, m.Bias = NewParameter(filled(1, c)), NewParameter(filled(0, c))
	}
	return m, nil
}

// TypeName returns "InstanceNorm1d", "InstanceNorm2d" or "InstanceNorm3d".
func (m *InstanceNorm) TypeName() string { return fmt.Sprintf("InstanceNorm%dd", m.nd) }

// NamedParameters returns weight and bias when affine.
func (m *InstanceNorm) NamedParameters() []Named {
	return params("weight", m.Weight, "bias", m.Bias)
}

// NamedBuffers returns running_mean, running_var and num_batches_tracked
// when tracking running statistics.
func (m *InstanceNorm) NamedBuffers() []Named {
	return params("running_mean", m.RunningMean, "running_var", m.RunningVar, "num_batches_tracked", m.NumBatchesTracked)
}

// Clone deep-copies the layer.
func (m *InstanceNorm) Clone() Module {
	c := *m
	c.Base = m.cloneBase()
	c.Weight, c.Bias = m.Weight.Clone(), m.Bias.Clone()
	c.RunningMean, c.RunningVar, c.NumBatchesTracked = m.RunningMean.Clone(), m.RunningVar.Clone(), m.NumBatchesTracked.Clone()
	return &c
}

// Forward normalizes x (N, C, spatial…) or unbatched (C, spatial…).
func (m *InstanceNorm) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	op := fmt.Sprintf("instance_norm%dd", m.nd)
	if err := checkF32Node(op, x, -1); err != nil {
		return nil, err
	}
	s := x.Shape()
	xx := x
	var err error
	switch s.Dims() {
	case m.nd + 2:
	case m.nd + 1:
		if xx, err = reshape(x, append(tensor.Shape{1}, s...)); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("nn: %s: input shape %v, want rank %d or %d", op, s, m.nd+2, m.nd+1)
	}
	xs := xx.Shape()
	if xs[1] != m.NumFeatures {
		return nil, fmt.Errorf("nn: %s: input has %d channels (shape %v), want %d", op, xs[1], s, m.NumFeatures)
	}
	S := xs.TotalSize() / (xs[0] * xs[1])
	x3, err := reshape(xx, tensor.Shape{xs[0], xs[1], S})
	if err != nil {
		return nil, err
	}
	tracking := m.RunningMean != nil && m.RunningVar != nil
	var y *gorgonia.Node
	if tracking && !m.Training() {
		g := x.Graph()
		rm, err := m.RunningMean.Node(g)
		if err != nil {
			return nil, err
		}
		rv, err := m.RunningVar.Node(g)
		if err != nil {
			return nil, err
		}
		y, err = normalize(x3, 1, 2, m.Eps, rm, rv, nil)
		if err != nil {
			return nil, err
		}
	} else {
		var track func(mean, v *gorgonia.Node) (*gorgonia.Node, error)
		if tracking {
			if S <= 1 {
				return nil, fmt.Errorf("nn: %s: expected more than 1 spatial element when training, got input %v", op, s)
			}
			track = func(mean, v *gorgonia.Node) (*gorgonia.Node, error) {
				return gorgonia.ApplyOp(&bnStatsOp{state: m.runningState, n: S, rows: xs[0], c: xs[1], id: nextOpID()}, mean, v)
			}
		}
		if y, err = normalize(x3, 0, 2, m.Eps, nil, nil, track); err != nil {
			return nil, err
		}
	}
	if y, err = affine(y, m.Weight, m.Bias, 1, 2); err != nil {
		return nil, err
	}
	return reshape(y, s.Clone())
}

// DoDiff passes the variance's gradient through for the LispMachine.
func (op *bnStatsOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad("batch_norm stats", output)
	if err != nil {
		return err
	}
	return accumulateGrad("batch_norm stats", inputs[1], g)
}
