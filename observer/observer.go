// Package observer implements PyTorch 1.13's quantization observers
// (torch.ao.quantization.observer): modules that watch float32 tensors and
// turn their statistics into quantization parameters.
//
// Every observer implements Observer. The uniform-quantization observers
// (MinMaxObserver, MovingAverageMinMaxObserver, PerChannelMinMaxObserver,
// MovingAveragePerChannelMinMaxObserver, HistogramObserver) share the options
// dtype, qscheme, reduce_range, quant_min/quant_max and eps, and compute their
// parameters with qdtype.CalculateQParams (PyTorch's _calculate_qparams) on
// the effective range qdtype.ObserverRange gives (calculate_qmin_qmax).
// FixedQParamsObserver returns fixed parameters; PlaceholderObserver,
// NoopObserver and RecordingObserver carry a dtype (and, for recording,
// the tensors seen) but compute no parameters.
//
// Constructors take functional options (WithDtype, WithQScheme, ...); WithArgs
// binds a constructor and options into a Factory, the role PyTorch's
// Observer.with_args plays in a QConfig. DefaultObserver and its siblings are
// the factories of PyTorch's default_observer objects.
//
// Deviations from PyTorch, on purpose:
//   - An input containing NaN is an error and leaves the observer unchanged
//     (PyTorch's running min/max become NaN for good).
//   - ±Inf inputs are recorded, as in PyTorch, but CalculateQParams then
//     returns an error instead of PyTorch's infinite scale;
//     HistogramObserver rejects them in Observe (its bins need a finite range).
//   - HistogramObserver builds its histograms on the float bounds, as PyTorch
//     ≤ 1.11 and ≥ 2.0 do; 1.13 truncates them with int() and drops data.
//
// Observers are not safe for concurrent use; Clone them for another goroutine.
// State and SetState (and MarshalBinary/UnmarshalBinary) save and restore an
// observer's configuration and statistics.
package observer

import (
	"fmt"
	"math"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// Observer is a PyTorch observer module: Observe records statistics of a
// float32 tensor (forward), CalculateQParams turns them into quantization
// parameters (calculate_qparams).
type Observer interface {
	// Observe records the statistics of x, a float32 tensor of any shape
	// (views included). An empty x is ignored. On error (wrong dtype, NaN,
	// shape mismatch) the observer is unchanged.
	Observe(x *tensor.Dense) error
	// CalculateQParams returns the quantization parameters of the
	// statistics seen so far. The scheme is the affine twin of the
	// observer's qscheme (what a tensor quantized with them carries).
	CalculateQParams() (qdtype.QParams, error)
	// Reset forgets every statistic (reset_min_max_vals).
	Reset()
	// MinVal and MaxVal return copies of the running minimum and maximum:
	// one value for per-tensor observers (+Inf and −Inf before the first
	// batch), one per channel for per-channel ones (empty before the first
	// batch), nil for observers that keep none.
	MinVal() []float32
	MaxVal() []float32
	// Dtype is the quantized dtype the parameters are for (or the marker
	// dtype of a placeholder).
	Dtype() tensor.Dtype
	// QScheme is the observer's quantization scheme.
	QScheme() qdtype.QScheme
	// QuantRange is the effective [quant_min, quant_max] after reduce_range.
	QuantRange() (qmin, qmax int64)
	// Clone returns an independent deep copy.
	Clone() Observer
	// State returns the configuration and statistics; SetState restores
	// them into an observer of the same kind.
	State() State
	SetState(s State) error
}

// Factory makes a new observer, the role of PyTorch's
// Observer.with_args(...) partial: each call returns a fresh instance.
type Factory func() (Observer, error)

// WithArgs binds a constructor and options into a Factory:
//
//	f := observer.WithArgs(observer.NewMinMaxObserver, observer.WithDtype(qdtype.QInt8Dtype))
//
// is MinMaxObserver.with_args(dtype=torch.qint8).
func WithArgs[O Observer](ctor func(...Option) (O, error), opts ...Option) Factory {
	opts = append([]Option(nil), opts...)
	return func() (Observer, error) {
		o, err := ctor(opts...)
		if err != nil {
			return nil, err
		}
		return o, nil
	}
}

// config holds every option; each constructor reads the ones it knows and
// rejects options that do not apply to it.
type config struct {
	dtype             tensor.Dtype
	dtypeSet          bool
	scheme            qdtype.QScheme
	schemeSet         bool
	reduceRange       bool
	custom            bool
	quantMin          int64
	quantMax          int64
	eps               float32
	averagingConstant float32
	avgSet            bool
	chAxis            int
	chAxisSet         bool
	bins              int
	binsSet           bool
	upsampleRate      int
	upsampleSet       bool
	scale             float64
	zeroPoint         int64
	fixedSet          bool
	computeDtype      tensor.Dtype
	computeSet        bool
	customOpName      string
}

// Option sets one constructor argument.
type Option func(*config)

// WithDtype sets the quantized dtype (dtype=; default quint8).
func WithDtype(dt tensor.Dtype) Option {
	return func(c *config) { c.dtype, c.dtypeSet = dt, true }
}

// WithQScheme sets the quantization scheme (qscheme=; default
// per_tensor_affine, per_channel_affine for per-channel observers).
func WithQScheme(s qdtype.QScheme) Option {
	return func(c *config) { c.scheme, c.schemeSet = s, true }
}

// WithReduceRange halves the quantization range (reduce_range=True).
func WithReduceRange(b bool) Option { return func(c *config) { c.reduceRange = b } }

// WithQuantRange sets a custom quantization range (quant_min=, quant_max=);
// it must include 0. reduce_range then halves it with floor division.
func WithQuantRange(qmin, qmax int64) Option {
	return func(c *config) { c.custom, c.quantMin, c.quantMax = true, qmin, qmax }
}

// WithEps sets the lower bound of computed scales (eps=; default
// float32 machine epsilon, qdtype.Eps).
func WithEps(eps float32) Option { return func(c *config) { c.eps = eps } }

// WithAveragingConstant sets the moving-average constant c of the
// moving-average observers (averaging_constant=; default 0.01):
// min ← min + c·(min_batch − min).
func WithAveragingConstant(v float32) Option {
	return func(c *config) { c.averagingConstant, c.avgSet = v, true }
}

// WithChAxis sets the channel axis of per-channel observers (ch_axis=;
// default 0; negative values count from the end).
func WithChAxis(axis int) Option { return func(c *config) { c.chAxis, c.chAxisSet = axis, true } }

// WithBins sets the number of histogram bins (bins=; default 2048).
func WithBins(n int) Option { return func(c *config) { c.bins, c.binsSet = n, true } }

// WithUpsampleRate sets the histogram upsample rate used when histograms of
// different ranges are merged (upsample_rate=; default 128).
func WithUpsampleRate(n int) Option {
	return func(c *config) { c.upsampleRate, c.upsampleSet = n, true }
}

// WithFixedQParams sets the scale and zero point of a FixedQParamsObserver.
func WithFixedQParams(scale float64, zeroPoint int64) Option {
	return func(c *config) { c.scale, c.zeroPoint, c.fixedSet = scale, zeroPoint, true }
}

// WithComputeDtype sets a PlaceholderObserver's compute_dtype (set for
// dynamic quantization).
func WithComputeDtype(dt tensor.Dtype) Option {
	return func(c *config) { c.computeDtype, c.computeSet = dt, true }
}

// WithCustomOpName sets the custom_op_name of a Placeholder or Noop
// observer.
func WithCustomOpName(name string) Option { return func(c *config) { c.customOpName = name } }

func newConfig(opts []Option) *config {
	c := &config{dtype: qdtype.QUInt8Dtype, scheme: qdtype.PerTensorAffine, eps: qdtype.Eps,
		averagingConstant: 0.01, bins: 2048, upsampleRate: 128}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	return c
}

// uniform is the shared part of the uniform-quantization observers
// (UniformQuantizationObserverBase).
type uniform struct {
	dtype       tensor.Dtype
	scheme      qdtype.QScheme
	reduceRange bool
	custom      bool
	quantMin    int64 // as given (custom range)
	quantMax    int64
	qmin, qmax  int64 // effective
	eps         float32
}

func newUniform(kind string, c *config, perChannel bool) (uniform, error) {
	u := uniform{dtype: c.dtype, scheme: c.scheme, reduceRange: c.reduceRange, custom: c.custom,
		quantMin: c.quantMin, quantMax: c.quantMax, eps: c.eps}
	if !qdtype.IsQuantized(c.dtype) {
		return u, fmt.Errorf("observer: %s: dtype %s is not a quantized dtype (want quint8, qint8 or qint32)", kind, qdtype.Name(c.dtype))
	}
	if perChannel != c.scheme.PerChannel() {
		want := "a per-tensor"
		if perChannel {
			want = "a per-channel"
		}
		return u, fmt.Errorf("observer: %s: qscheme %s is not %s scheme", kind, c.scheme, want)
	}
	// MinMaxObserver and PerChannelMinMaxObserver (and their moving-average
	// subclasses) raise NotImplementedError here; HistogramObserver does not.
	if kind != KindHistogram && c.scheme.Symmetric() && c.reduceRange && c.dtype == qdtype.QUInt8Dtype {
		return u, fmt.Errorf("observer: %s: cannot reduce range for symmetric quantization for quint8", kind)
	}
	if math.IsNaN(float64(c.eps)) || !(c.eps > 0) || math.IsInf(float64(c.eps), 0) {
		return u, fmt.Errorf("observer: %s: eps %v must be finite and > 0", kind, c.eps)
	}
	qmin, qmax, err := qdtype.ObserverRange(c.dtype, c.reduceRange, c.custom, c.quantMin, c.quantMax)
	if err != nil {
		return u, fmt.Errorf("observer: %s: %w", kind, err)
	}
	if c.custom {
		dmin, dmax, _ := qdtype.Range(c.dtype)
		if c.quantMin < dmin || c.quantMax > dmax {
			return u, fmt.Errorf("observer: %s: quant range [%d, %d] exceeds the %s range [%d, %d]", kind, c.quantMin, c.quantMax, qdtype.Name(c.dtype), dmin, dmax)
		}
	}
	u.qmin, u.qmax = qmin, qmax
	return u, nil
}

// Dtype returns the quantized dtype the parameters are for.
func (u *uniform) Dtype() tensor.Dtype { return u.dtype }

// QScheme returns the observer's quantization scheme.
func (u *uniform) QScheme() qdtype.QScheme { return u.scheme }

// QuantRange returns the effective [quant_min, quant_max]
// (calculate_qmin_qmax of the custom range or the dtype, and reduce_range).
func (u *uniform) QuantRange() (qmin, qmax int64) { return u.qmin, u.qmax }

// Eps returns the lower bound on computed scales.
func (u *uniform) Eps() float32 { return u.eps }

// ReduceRange reports whether the range is halved.
func (u *uniform) ReduceRange() bool { return u.reduceRange }

// qparams runs _calculate_qparams on ranges and packs the result.
func (u *uniform) qparams(kind string, mins, maxs []float32, axis int) (qdtype.QParams, error) {
	scales, zps, fzps, err := qdtype.CalculateQParams(mins, maxs, u.dtype, u.scheme, u.qmin, u.qmax, u.custom, u.eps)
	if err != nil {
		return qdtype.QParams{}, fmt.Errorf("observer: %s: %w", kind, err)
	}
	qp := qdtype.QParams{Dtype: u.dtype, Scheme: u.scheme.Affine(), Scales: make([]float64, len(scales)),
		ZeroPoints: zps, FloatZeroPoints: fzps}
	if u.scheme.PerChannel() {
		qp.Axis = axis
	}
	for i, s := range scales {
		qp.Scales[i] = float64(s)
	}
	if err := qp.Validate(); err != nil {
		return qdtype.QParams{}, fmt.Errorf("observer: %s: %w", kind, err)
	}
	return qp, nil
}

func (u *uniform) fillState(s *State) {
	s.Dtype = qdtype.Name(u.dtype)
	s.QScheme = u.scheme.String()
	s.ReduceRange = u.reduceRange
	s.CustomRange = u.custom
	s.QuantMin, s.QuantMax = u.quantMin, u.quantMax
	s.Eps = u.eps
}

// floatData returns the elements of a float32 Dense in row-major order,
// materializing non-contiguous views. It checks for NaN.
func floatData(kind string, x *tensor.Dense) ([]float32, error) {
	if x == nil {
		return nil, fmt.Errorf("observer: %s: nil input", kind)
	}
	if x.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("observer: %s: input dtype %v, want float32", kind, x.Dtype())
	}
	n := x.Shape().TotalSize()
	if x.IsScalar() {
		n = 1
	}
	if n == 0 {
		return nil, nil
	}
	if x.RequiresIterator() {
		m, ok := x.Materialize().(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("observer: %s: cannot materialize the input view", kind)
		}
		x = m
	}
	data := x.Float32s()
	if len(data) < n {
		return nil, fmt.Errorf("observer: %s: input holds %d values for shape %v", kind, len(data), x.Shape())
	}
	data = data[:n]
	for i, v := range data {
		if v != v {
			return nil, fmt.Errorf("observer: %s: input has NaN at flat index %d", kind, i)
		}
	}
	return data, nil
}

// aminmax returns the minimum and maximum of non-empty NaN-free data.
func aminmax(data []float32) (lo, hi float32) {
	lo, hi = data[0], data[0]
	for _, v := range data[1:] {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

func unknownOption(kind string, c *config, allowed string) error {
	bad := []string{}
	if c.avgSet && allowed != "avg" && allowed != "avgpc" {
		bad = append(bad, "averaging_constant")
	}
	if c.chAxisSet && allowed != "pc" && allowed != "avgpc" {
		bad = append(bad, "ch_axis")
	}
	if (c.binsSet || c.upsampleSet) && allowed != "hist" {
		bad = append(bad, "bins/upsample_rate")
	}
	if c.fixedSet {
		bad = append(bad, "fixed qparams")
	}
	if c.computeSet {
		bad = append(bad, "compute_dtype")
	}
	if len(bad) > 0 {
		return fmt.Errorf("observer: %s: options %v do not apply", kind, bad)
	}
	return nil
}

func cloneF32(s []float32) []float32 {
	if s == nil {
		return nil
	}
	return append([]float32{}, s...)
}
