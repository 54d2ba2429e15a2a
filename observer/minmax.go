package observer

import (
	"fmt"
	"math"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// MinMaxObserver tracks the running minimum and maximum of every value seen
// and computes per-tensor parameters from them; PyTorch's MinMaxObserver.
//
//	min ← min(min, min(x)),  max ← max(max, max(x))
//
// Before the first non-empty batch min is +Inf and max is −Inf, and
// CalculateQParams returns scale 1, zero point 0 (PyTorch warns and does
// the same).
type MinMaxObserver struct {
	uniform
	minVal, maxVal float32
}

// NewMinMaxObserver returns a MinMaxObserver. Options: WithDtype (default
// quint8), WithQScheme (per_tensor_affine or per_tensor_symmetric),
// WithReduceRange, WithQuantRange, WithEps. It returns an error for a
// per-channel scheme, a non-quantized dtype, an invalid custom range, or
// symmetric quint8 with reduce_range (PyTorch's NotImplementedError).
func NewMinMaxObserver(opts ...Option) (*MinMaxObserver, error) {
	return newMinMax(KindMinMax, newConfig(opts))
}

func newMinMax(kind string, c *config) (*MinMaxObserver, error) {
	allowed := ""
	if kind == KindMovingAverageMinMax {
		allowed = "avg"
	}
	if err := unknownOption(kind, c, allowed); err != nil {
		return nil, err
	}
	u, err := newUniform(kind, c, false)
	if err != nil {
		return nil, err
	}
	return &MinMaxObserver{uniform: u, minVal: float32(math.Inf(1)), maxVal: float32(math.Inf(-1))}, nil
}

// Observe folds min(x) and max(x) into the running range.
func (o *MinMaxObserver) Observe(x *tensor.Dense) error {
	data, err := floatData(KindMinMax, x)
	if err != nil || len(data) == 0 {
		return err
	}
	lo, hi := aminmax(data)
	if lo < o.minVal {
		o.minVal = lo
	}
	if hi > o.maxVal {
		o.maxVal = hi
	}
	return nil
}

// CalculateQParams applies _calculate_qparams to [min, max].
func (o *MinMaxObserver) CalculateQParams() (qdtype.QParams, error) {
	return o.qparams(KindMinMax, []float32{o.minVal}, []float32{o.maxVal}, 0)
}

// Reset sets min to +Inf and max to −Inf.
func (o *MinMaxObserver) Reset() {
	o.minVal, o.maxVal = float32(math.Inf(1)), float32(math.Inf(-1))
}

// MinVal returns the running minimum as a one-element slice.
func (o *MinMaxObserver) MinVal() []float32 { return []float32{o.minVal} }

// MaxVal returns the running maximum as a one-element slice.
func (o *MinMaxObserver) MaxVal() []float32 { return []float32{o.maxVal} }

// Clone returns an independent copy.
func (o *MinMaxObserver) Clone() Observer { c := *o; return &c }

// State returns the configuration and the running range.
func (o *MinMaxObserver) State() State {
	s := State{Kind: KindMinMax, MinVal: o.MinVal(), MaxVal: o.MaxVal()}
	o.fillState(&s)
	return s
}

// SetState restores a state saved from a MinMaxObserver.
func (o *MinMaxObserver) SetState(s State) error {
	n, err := fromState(s, KindMinMax)
	if err != nil {
		return err
	}
	*o = *n.(*MinMaxObserver)
	return nil
}

func (o *MinMaxObserver) setRange(kind string, mins, maxs []float32) error {
	if len(mins) != 1 || len(maxs) != 1 {
		return fmt.Errorf("observer: %s: state has %d min and %d max values, want 1", kind, len(mins), len(maxs))
	}
	if isNaN32(mins[0]) || isNaN32(maxs[0]) {
		return fmt.Errorf("observer: %s: state min %v / max %v is NaN", kind, mins[0], maxs[0])
	}
	o.minVal, o.maxVal = mins[0], maxs[0]
	return nil
}

// MovingAverageMinMaxObserver tracks an exponential moving average of the
// per-batch minimum and maximum; PyTorch's MovingAverageMinMaxObserver.
// The first batch sets min and max; every later batch does, in float32,
//
//	min ← min + c·(min(x) − min),  max ← max + c·(max(x) − max)
//
// with c the averaging constant (default 0.01).
type MovingAverageMinMaxObserver struct {
	MinMaxObserver
	averagingConstant float32
}

// NewMovingAverageMinMaxObserver returns a MovingAverageMinMaxObserver. It
// takes the options of NewMinMaxObserver and WithAveragingConstant (a
// finite value in [0, 1]).
func NewMovingAverageMinMaxObserver(opts ...Option) (*MovingAverageMinMaxObserver, error) {
	c := newConfig(opts)
	if err := checkAveraging(KindMovingAverageMinMax, c.averagingConstant); err != nil {
		return nil, err
	}
	m, err := newMinMax(KindMovingAverageMinMax, c)
	if err != nil {
		return nil, err
	}
	return &MovingAverageMinMaxObserver{MinMaxObserver: *m, averagingConstant: c.averagingConstant}, nil
}

func checkAveraging(kind string, c float32) error {
	if !(c >= 0 && c <= 1) {
		return fmt.Errorf("observer: %s: averaging constant %v must be in [0, 1]", kind, c)
	}
	return nil
}

// AveragingConstant returns c.
func (o *MovingAverageMinMaxObserver) AveragingConstant() float32 { return o.averagingConstant }

// Observe updates the moving averages with min(x) and max(x).
func (o *MovingAverageMinMaxObserver) Observe(x *tensor.Dense) error {
	data, err := floatData(KindMovingAverageMinMax, x)
	if err != nil || len(data) == 0 {
		return err
	}
	lo, hi := aminmax(data)
	if math.IsInf(float64(o.minVal), 1) && math.IsInf(float64(o.maxVal), -1) {
		o.minVal, o.maxVal = lo, hi
		return nil
	}
	o.minVal = movingAverage(o.minVal, lo, o.averagingConstant)
	o.maxVal = movingAverage(o.maxVal, hi, o.averagingConstant)
	return nil
}

// movingAverage is f32(v + f32(c·f32(cur − v))), three separate float32
// tensor ops in PyTorch (no fused multiply-add).
func movingAverage(v, cur, c float32) float32 {
	d := float32(cur - v)
	d = float32(c * d)
	return float32(v + d)
}

// CalculateQParams applies _calculate_qparams to the averaged range.
func (o *MovingAverageMinMaxObserver) CalculateQParams() (qdtype.QParams, error) {
	return o.qparams(KindMovingAverageMinMax, []float32{o.minVal}, []float32{o.maxVal}, 0)
}

// Clone returns an independent copy.
func (o *MovingAverageMinMaxObserver) Clone() Observer { c := *o; return &c }

// State returns the configuration and the averaged range.
func (o *MovingAverageMinMaxObserver) State() State {
	s := o.MinMaxObserver.State()
	s.Kind = KindMovingAverageMinMax
	s.AveragingConstant = o.averagingConstant
	return s
}

// SetState restores a state saved from a MovingAverageMinMaxObserver.
func (o *MovingAverageMinMaxObserver) SetState(s State) error {
	n, err := fromState(s, KindMovingAverageMinMax)
	if err != nil {
		return err
	}
	*o = *n.(*MovingAverageMinMaxObserver)
	return nil
}

func isNaN32(v float32) bool { return v != v }
