package observer

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// PerChannelMinMaxObserver tracks the running minimum and maximum of each
// index along a channel axis; PyTorch's PerChannelMinMaxObserver. For an
// input of shape (d0, …, dn) and channel axis a (negative counts from the
// end), channel c covers every element whose index along a is c.
//
// Before the first non-empty batch the per-channel ranges are empty and
// CalculateQParams returns one scale 1 and one zero point 0, as PyTorch does.
// A later batch must have the same number of channels, or one of the two
// counts must be 1 (PyTorch broadcasts torch.min/torch.max).
type PerChannelMinMaxObserver struct {
	uniform
	chAxis  int // as given, may be negative
	axis    int // normalized axis of the last batch
	minVals []float32
	maxVals []float32
}

// NewPerChannelMinMaxObserver returns a PerChannelMinMaxObserver. Options:
// WithChAxis (default 0), WithDtype (default quint8), WithQScheme
// (per_channel_affine (default), per_channel_symmetric or
// per_channel_affine_float_qparams), WithReduceRange, WithQuantRange,
// WithEps.
func NewPerChannelMinMaxObserver(opts ...Option) (*PerChannelMinMaxObserver, error) {
	return newPerChannel(KindPerChannelMinMax, opts)
}

func newPerChannel(kind string, opts []Option) (*PerChannelMinMaxObserver, error) {
	c := newConfig(append([]Option{WithQScheme(qdtype.PerChannelAffine)}, opts...))
	allowed := "pc"
	if kind == KindMovingAveragePerChannelMinMax {
		allowed = "avgpc"
	}
	if err := unknownOption(kind, c, allowed); err != nil {
		return nil, err
	}
	u, err := newUniform(kind, c, true)
	if err != nil {
		return nil, err
	}
	ax := c.chAxis
	if ax < 0 {
		ax = 0
	}
	return &PerChannelMinMaxObserver{uniform: u, chAxis: c.chAxis, axis: ax, minVals: []float32{}, maxVals: []float32{}}, nil
}

// ChAxis returns the channel axis as given (it may be negative).
func (o *PerChannelMinMaxObserver) ChAxis() int { return o.chAxis }

// channelRanges returns the per-channel minimum and maximum of x, or
// nil slices for an empty x.
func (o *PerChannelMinMaxObserver) channelRanges(kind string, x *tensor.Dense) (mins, maxs []float32, axis int, err error) {
	data, err := floatData(kind, x)
	if err != nil {
		return nil, nil, 0, err
	}
	shape := x.Shape()
	if x.IsScalar() {
		shape = tensor.Shape{}
	}
	rank := len(shape)
	axis = o.chAxis
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		return nil, nil, 0, fmt.Errorf("observer: %s: channel axis %d is out of range for an input of rank %d", kind, o.chAxis, rank)
	}
	if len(data) == 0 {
		return nil, nil, axis, nil
	}
	outer, ch, inner := 1, shape[axis], 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	mins = make([]float32, ch)
	maxs = make([]float32, ch)
	for c := 0; c < ch; c++ {
		first := data[c*inner]
		lo, hi := first, first
		for b := 0; b < outer; b++ {
			off := (b*ch + c) * inner
			for _, v := range data[off : off+inner] {
				if v < lo {
					lo = v
				}
				if v > hi {
					hi = v
				}
			}
		}
		mins[c], maxs[c] = lo, hi
	}
	return mins, maxs, axis, nil
}

// combine applies f channel-wise with broadcasting of a one-channel side.
func combine(kind string, old, cur []float32, f func(o, c float32) float32) ([]float32, error) {
	n := len(old)
	if len(cur) != n {
		switch {
		case len(old) == 1:
			n = len(cur)
		case len(cur) == 1:
		default:
			return nil, fmt.Errorf("observer: %s: batch has %d channels, the observer has %d", kind, len(cur), len(old))
		}
	}
	out := make([]float32, n)
	for i := range out {
		oi, ci := i, i
		if len(old) == 1 {
			oi = 0
		}
		if len(cur) == 1 {
			ci = 0
		}
		out[i] = f(old[oi], cur[ci])
	}
	return out, nil
}

// Observe folds the per-channel minimum and maximum of x into the ranges.
func (o *PerChannelMinMaxObserver) Observe(x *tensor.Dense) error {
	mins, maxs, axis, err := o.channelRanges(KindPerChannelMinMax, x)
	if err != nil || mins == nil {
		return err
	}
	if len(o.minVals) == 0 {
		o.minVals, o.maxVals, o.axis = mins, maxs, axis
		return nil
	}
	nmin, err := combine(KindPerChannelMinMax, o.minVals, mins, func(a, b float32) float32 {
		if b < a {
			return b
		}
		return a
	})
	if err != nil {
		return err
	}
	nmax, _ := combine(KindPerChannelMinMax, o.maxVals, maxs, func(a, b float32) float32 {
		if b > a {
			return b
		}
		return a
	})
	o.minVals, o.maxVals, o.axis = nmin, nmax, axis
	return nil
}

// CalculateQParams applies _calculate_qparams channel by channel. The axis
// of the result is the channel axis of the last batch (made non-negative).
func (o *PerChannelMinMaxObserver) CalculateQParams() (qdtype.QParams, error) {
	return o.qparams(KindPerChannelMinMax, o.minVals, o.maxVals, o.axis)
}

// Reset forgets the per-channel ranges.
func (o *PerChannelMinMaxObserver) Reset() { o.minVals, o.maxVals = []float32{}, []float32{} }

// MinVal returns the per-channel minima (empty before the first batch).
func (o *PerChannelMinMaxObserver) MinVal() []float32 { return cloneF32(o.minVals) }

// MaxVal returns the per-channel maxima (empty before the first batch).
func (o *PerChannelMinMaxObserver) MaxVal() []float32 { return cloneF32(o.maxVals) }

// Clone returns an independent copy.
func (o *PerChannelMinMaxObserver) Clone() Observer {
	c := *o
	c.minVals, c.maxVals = cloneF32(o.minVals), cloneF32(o.maxVals)
	return &c
}

// State returns the configuration and the per-channel ranges.
func (o *PerChannelMinMaxObserver) State() State {
	s := State{Kind: KindPerChannelMinMax, ChAxis: o.chAxis, Axis: o.axis, MinVal: o.MinVal(), MaxVal: o.MaxVal()}
	o.fillState(&s)
	return s
}

// SetState restores a state saved from a PerChannelMinMaxObserver.
func (o *PerChannelMinMaxObserver) SetState(s State) error {
	n, err := fromState(s, KindPerChannelMinMax)
	if err != nil {
		return err
	}
	*o = *n.(*PerChannelMinMaxObserver)
	return nil
}

func (o *PerChannelMinMaxObserver) setRange(kind string, axis int, mins, maxs []float32) error {
	if len(mins) != len(maxs) {
		return fmt.Errorf("observer: %s: state has %d min and %d max values", kind, len(mins), len(maxs))
	}
	for i := range mins {
		if isNaN32(mins[i]) || isNaN32(maxs[i]) {
			return fmt.Errorf("observer: %s: state channel %d is NaN", kind, i)
		}
	}
	if axis < 0 {
		return fmt.Errorf("observer: %s: state axis %d is negative", kind, axis)
	}
	o.minVals, o.maxVals, o.axis = cloneF32(mins), cloneF32(maxs), axis
	if o.minVals == nil {
		o.minVals, o.maxVals = []float32{}, []float32{}
	}
	return nil
}

// MovingAveragePerChannelMinMaxObserver keeps a per-channel exponential
// moving average of the batch minima and maxima; PyTorch's
// MovingAveragePerChannelMinMaxObserver. The first batch sets the ranges;
// later batches do min[c] ← min[c] + k·(min_c(x) − min[c]) in float32 (and
// likewise for max) with k the averaging constant (default 0.01).
type MovingAveragePerChannelMinMaxObserver struct {
	PerChannelMinMaxObserver
	averagingConstant float32
}

// NewMovingAveragePerChannelMinMaxObserver takes the options of
// NewPerChannelMinMaxObserver and WithAveragingConstant.
func NewMovingAveragePerChannelMinMaxObserver(opts ...Option) (*MovingAveragePerChannelMinMaxObserver, error) {
	c := newConfig(opts)
	if err := checkAveraging(KindMovingAveragePerChannelMinMax, c.averagingConstant); err != nil {
		return nil, err
	}
	p, err := newPerChannel(KindMovingAveragePerChannelMinMax, opts)
	if err != nil {
		return nil, err
	}
	return &MovingAveragePerChannelMinMaxObserver{PerChannelMinMaxObserver: *p, averagingConstant: c.averagingConstant}, nil
}

// AveragingConstant returns k.
func (o *MovingAveragePerChannelMinMaxObserver) AveragingConstant() float32 {
	return o.averagingConstant
}

// Observe updates the per-channel moving averages.
func (o *MovingAveragePerChannelMinMaxObserver) Observe(x *tensor.Dense) error {
	kind := KindMovingAveragePerChannelMinMax
	mins, maxs, axis, err := o.channelRanges(kind, x)
	if err != nil || mins == nil {
		return err
	}
	if len(o.minVals) == 0 {
		o.minVals, o.maxVals, o.axis = mins, maxs, axis
		return nil
	}
	k := o.averagingConstant
	nmin, err := combine(kind, o.minVals, mins, func(a, b float32) float32 { return movingAverage(a, b, k) })
	if err != nil {
		return err
	}
	nmax, _ := combine(kind, o.maxVals, maxs, func(a, b float32) float32 { return movingAverage(a, b, k) })
	o.minVals, o.maxVals, o.axis = nmin, nmax, axis
	return nil
}

// CalculateQParams applies _calculate_qparams channel by channel.
func (o *MovingAveragePerChannelMinMaxObserver) CalculateQParams() (qdtype.QParams, error) {
	return o.qparams(KindMovingAveragePerChannelMinMax, o.minVals, o.maxVals, o.axis)
}

// Clone returns an independent copy.
func (o *MovingAveragePerChannelMinMaxObserver) Clone() Observer {
	c := *o
	c.minVals, c.maxVals = cloneF32(o.minVals), cloneF32(o.maxVals)
	return &c
}

// State returns the configuration and the averaged ranges.
func (o *MovingAveragePerChannelMinMaxObserver) State() State {
	s := o.PerChannelMinMaxObserver.State()
	s.Kind = KindMovingAveragePerChannelMinMax
	s.AveragingConstant = o.averagingConstant
	return s
}

// SetState restores a state saved from a
// MovingAveragePerChannelMinMaxObserver.
func (o *MovingAveragePerChannelMinMaxObserver) SetState(s State) error {
	n, err := fromState(s, KindMovingAveragePerChannelMinMax)
	if err != nil {
		return err
	}
	*o = *n.(*MovingAveragePerChannelMinMaxObserver)
	return nil
}
