package fake

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// Quantizer is a fake-quantize module with a straight-through-estimator
// backward: FakeQuantizer (also FixedQParamsFakeQuantize) and
// FusedMovingAvgObsFakeQuantize. The FakeQuantize graph op drives one.
type Quantizer interface {
	// FakeQuant runs the module's forward on x: when observe is true and
	// the observer is enabled it first updates the observer and the
	// qparams; when fake quantization is enabled it returns the
	// fake-quantized x and the STE mask, else a copy of x and an all-true
	// mask. On error nothing changes.
	FakeQuant(x *tensor.Dense, observe bool) (y *tensor.Dense, mask []bool, err error)
	// Forward is FakeQuant(x, true): PyTorch's forward.
	Forward(x *tensor.Dense) (*tensor.Dense, error)
	// CalculateQParams returns the observer's parameters (the Python
	// observer formula, as PyTorch's calculate_qparams).
	CalculateQParams() (qdtype.QParams, error)
	// QParams returns the scale and zero point buffers: the parameters the
	// last forward used (scale 1, zero point 0 before any observation).
	QParams() qdtype.QParams
	// EnableObserver and EnableFakeQuant set the two flags
	// (enable_observer/disable_observer, enable_fake_quant/disable_fake_quant).
	EnableObserver(on bool)
	EnableFakeQuant(on bool)
	ObserverEnabled() bool
	FakeQuantEnabled() bool
	// Observer returns the module's observer (not a copy).
	Observer() observer.Observer
	// QuantRange returns the effective [quant_min, quant_max].
	QuantRange() (qmin, qmax int64)
}

// Factory makes a new fake-quantize module, the role of
// FakeQuantize.with_args(...) in a QConfig.
type Factory func() (Quantizer, error)

// FakeQuantizer is PyTorch's FakeQuantize module: an observer, the
// scale/zero-point buffers and the observer_enabled/fake_quant_enabled flags
// (both on when created). Its forward, as in PyTorch:
//
//	if observer enabled: observer(x); scale, zp = observer.calculate_qparams()
//	if fake quant enabled: x = fake_quantize_per_{tensor,channel}_affine(x, scale, zp, qmin, qmax)
//
// so the qparams are recomputed from the observer on every observed step
// and used in the same step. qmin and qmax are the observer's effective
// range (calculate_qmin_qmax of the quant range and reduce_range).
type FakeQuantizer struct {
	obs         observer.Observer
	qmin, qmax  int64
	perChannel  bool
	qp          qdtype.QParams
	observerOn  bool
	fakeQuantOn bool
}

// NewFakeQuantizer returns a FakeQuantizer with an observer from obs (nil:
// MovingAverageMinMaxObserver with its defaults, PyTorch's default). Pass the
// quant range, dtype, qscheme, reduce_range, ... as observer options, e.g.
//
//	fake.NewFakeQuantizer(observer.WithArgs(observer.NewMovingAverageMinMaxObserver,
//		observer.WithQuantRange(0, 255), observer.WithReduceRange(true)))
//
// is FakeQuantize(MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
// reduce_range=True). The observer must compute qparams (not a placeholder).
// With per_channel_affine_float_qparams (embeddings) the float zero points
// are used as FakeQuantizePerChannelAffineFloatQParams does.
func NewFakeQuantizer(obs observer.Factory) (*FakeQuantizer, error) {
	if obs == nil {
		obs = observer.WithArgs(observer.NewMovingAverageMinMaxObserver)
	}
	o, err := obs()
	if err != nil {
		return nil, fmt.Errorf("fake: FakeQuantize: %w", err)
	}
	return newFakeQuantizer("FakeQuantize", o)
}

func newFakeQuantizer(kind string, o observer.Observer) (*FakeQuantizer, error) {
	if o == nil {
		return nil, fmt.Errorf("fake: %s: nil observer", kind)
	}
	switch o.(type) {
	case *observer.PlaceholderObserver, *observer.NoopObserver, *observer.RecordingObserver:
		return nil, fmt.Errorf("fake: %s: observer %s computes no qparams", kind, o.State().Kind)
	}
	qmin, qmax := o.QuantRange()
	f := &FakeQuantizer{obs: o, qmin: qmin, qmax: qmax, perChannel: o.QScheme().PerChannel(),
		observerOn: true, fakeQuantOn: true}
	f.qp = initialQParams(o)
	if fo, ok := o.(*observer.FixedQParamsObserver); ok {
		qp, err := fo.CalculateQParams()
		if err != nil {
			return nil, err
		}
		f.qp = qp
	}
	return f, nil
}

// initialQParams are PyTorch's initial buffers: scale [1.0], zero point [0].
func initialQParams(o observer.Observer) qdtype.QParams {
	switch {
	case o.QScheme() == qdtype.PerChannelAffineFloatQParams:
		return qdtype.QParams{Dtype: o.Dtype(), Scheme: qdtype.PerChannelAffineFloatQParams, Scales: []float64{1}, FloatZeroPoints: []float32{0}}
	case o.QScheme().PerChannel():
		return qdtype.QParams{Dtype: o.Dtype(), Scheme: qdtype.PerChannelAffine, Scales: []float64{1}, ZeroPoints: []int64{0}}
	}
	return qdtype.QParams{Dtype: o.Dtype(), Scheme: qdtype.PerTensorAffine, Scales: []float64{1}, ZeroPoints: []int64{0}}
}

// NewFixedQParamsFakeQuantize is PyTorch's FixedQParamsFakeQuantize: a
// FakeQuantizer whose observer must be a FixedQParamsObserver, so its
// scale and zero point never change (used for sigmoid and tanh outputs in
// QAT). obs nil is an error.
func NewFixedQParamsFakeQuantize(obs observer.Factory) (*FakeQuantizer, error) {
	const kind = "FixedQParamsFakeQuantize"
	if obs == nil {
		return nil, fmt.Errorf("fake: %s: an observer factory is required", kind)
	}
	o, err := obs()
	if err != nil {
		return nil, fmt.Errorf("fake: %s: %w", kind, err)
	}
	if _, ok := o.(*observer.FixedQParamsObserver); !ok {
		return nil, fmt.Errorf("fake: %s: observer must be a FixedQParamsObserver, got %s", kind, o.State().Kind)
	}
	return newFakeQuantizer(kind, o)
}

// FakeQuant implements Quantizer.
func (f *FakeQuantizer) FakeQuant(x *tensor.Dense, observe bool) (*tensor.Dense, []bool, error) {
	qp := f.qp
	var saved observer.Observer
	if observe && f.observerOn {
		saved = f.obs.Clone()
		if err := f.obs.Observe(x); err != nil {
			return nil, nil, fmt.Errorf("fake: FakeQuantize: %w", err)
		}
		nqp, err := f.obs.CalculateQParams()
		if err != nil {
			f.obs = saved
			return nil, nil, fmt.Errorf("fake: FakeQuantize: %w", err)
		}
		qp = nqp
	}
	y, mask, err := f.apply(x, qp)
	if err != nil {
		if saved != nil {
			f.obs = saved
		}
		return nil, nil, err
	}
	f.qp = qp
	return y, mask, nil
}

func (f *FakeQuantizer) apply(x *tensor.Dense, qp qdtype.QParams) (*tensor.Dense, []bool, error) {
	if !f.fakeQuantOn {
		return identity("FakeQuantize", x)
	}
	scales := make([]float32, len(qp.Scales))
	for i, s := range qp.Scales {
		scales[i] = float32(s)
	}
	if qp.Scheme == qdtype.PerChannelAffineFloatQParams {
		return FakeQuantizePerChannelAffineFloatQParams(x, scales, qp.FloatZeroPoints, qp.Axis, f.qmin, f.qmax)
	}
	if f.perChannel {
		// PyTorch's FakeQuantize passes its ch_axis as given to
		// fake_quantize_per_channel_affine, which rejects a negative axis
		// (the observer itself accepts one).
		if ca, ok := f.obs.(interface{ ChAxis() int }); ok && ca.ChAxis() < 0 {
			return nil, nil, fmt.Errorf("fake: FakeQuantize: ch_axis %d is negative; fake_quantize_per_channel_affine needs an axis between 0 and the input's rank (PyTorch 1.13 rejects it too)", ca.ChAxis())
		}
		return FakeQuantizePerChannelAffine(x, scales, qp.ZeroPoints, qp.Axis, f.qmin, f.qmax)
	}
	return FakeQuantizePerTensorAffine(x, scales[0], qp.ZeroPoints[0], f.qmin, f.qmax)
}

// identity returns a contiguous copy of x and an all-true mask.
func identity(kind string, x *tensor.Dense) (*tensor.Dense, []bool, error) {
	data, shape, err := denseData(kind, x)
	if err != nil {
		return nil, nil, err
	}
	out := append([]float32(nil), data...)
	mask := make([]bool, len(out))
	for i := range mask {
		mask[i] = true
	}
	return denseOrEmpty(shape, out), mask, nil
}

// Forward is PyTorch's FakeQuantize.forward.
func (f *FakeQuantizer) Forward(x *tensor.Dense) (*tensor.Dense, error) {
	y, _, err := f.FakeQuant(x, true)
	return y, err
}

// CalculateQParams is observer.CalculateQParams.
func (f *FakeQuantizer) CalculateQParams() (qdtype.QParams, error) { return f.obs.CalculateQParams() }

// QParams returns a copy of the scale and zero point buffers.
func (f *FakeQuantizer) QParams() qdtype.QParams { return f.qp.Clone() }

// EnableObserver sets observer_enabled.
func (f *FakeQuantizer) EnableObserver(on bool) { f.observerOn = on }

// EnableFakeQuant sets fake_quant_enabled.
func (f *FakeQuantizer) EnableFakeQuant(on bool) { f.fakeQuantOn = on }

// ObserverEnabled reports observer_enabled.
func (f *FakeQuantizer) ObserverEnabled() bool { return f.observerOn }

// FakeQuantEnabled reports fake_quant_enabled.
func (f *FakeQuantizer) FakeQuantEnabled() bool { return f.fakeQuantOn }

// Observer returns the observer.
func (f *FakeQuantizer) Observer() observer.Observer { return f.obs }

// QuantRange returns the effective quant range.
func (f *FakeQuantizer) QuantRange() (qmin, qmax int64) { return f.qmin, f.qmax }

// Clone returns an independent copy (observer included).
func (f *FakeQuantizer) Clone() *FakeQuantizer {
	c := *f
	c.obs = f.obs.Clone()
	c.qp = f.qp.Clone()
	return &c
}

// FusedMovingAvgObsFakeQuantize is PyTorch's FusedMovingAvgObsFakeQuantize:
// a moving-average observer (MovingAverageMinMaxObserver or
// MovingAveragePerChannelMinMaxObserver, channel axis 0) and fake
// quantization in one step, whose qparams come from the C++
// ChooseQuantizationParams (qdtype.ChooseQuantizationParams with
// preserve_sparsity = symmetric qscheme), not the observer formula:
// a zero range gives scale 0.1, scales below 6.1e-5 are raised, symmetric
// uses max(−min/128, max/127). The observer's eps is ignored. While fake
// quantization is disabled the output is x and the buffers are not updated.
// CalculateQParams still uses the observer formula, as PyTorch's convert.
type FusedMovingAvgObsFakeQuantize struct {
	FakeQuantizer
	symmetric bool
}

// NewFusedMovingAvgObsFakeQuantize returns the module with an observer from
// obs (nil: MovingAverageMinMaxObserver with quant range 0..255, PyTorch's
// default).
func NewFusedMovingAvgObsFakeQuantize(obs observer.Factory) (*FusedMovingAvgObsFakeQuantize, error) {
	const kind = "FusedMovingAvgObsFakeQuantize"
	if obs == nil {
		obs = observer.WithArgs(observer.NewMovingAverageMinMaxObserver, observer.WithQuantRange(0, 255))
	}
	o, err := obs()
	if err != nil {
		return nil, fmt.Errorf("fake: %s: %w", kind, err)
	}
	switch ob := o.(type) {
	case *observer.MovingAverageMinMaxObserver:
	case *observer.MovingAveragePerChannelMinMaxObserver:
		if ob.ChAxis() != 0 {
			return nil, fmt.Errorf("fake: %s: per-channel fake quant is only supported on axis 0, got %d", kind, ob.ChAxis())
		}
	default:
		return nil, fmt.Errorf("fake: %s: observer must be a moving-average min/max observer, got %s", kind, o.State().Kind)
	}
	f, err := newFakeQuantizer(kind, o)
	if err != nil {
		return nil, err
	}
	return &FusedMovingAvgObsFakeQuantize{FakeQuantizer: *f, symmetric: o.QScheme().Symmetric()}, nil
}

// FakeQuant implements Quantizer with the fused module's semantics.
func (f *FusedMovingAvgObsFakeQuantize) FakeQuant(x *tensor.Dense, observe bool) (*tensor.Dense, []bool, error) {
	const kind = "FusedMovingAvgObsFakeQuantize"
	var saved observer.Observer
	if observe && f.observerOn {
		saved = f.obs.Clone()
		if err := f.obs.Observe(x); err != nil {
			return nil, nil, fmt.Errorf("fake: %s: %w", kind, err)
		}
	}
	restore := func() {
		if saved != nil {
			f.obs = saved
		}
	}
	if !f.fakeQuantOn {
		y, m, err := identity(kind, x)
		if err != nil {
			restore()
		}
		return y, m, err
	}
	mins, maxs := f.obs.MinVal(), f.obs.MaxVal()
	qp := qdtype.QParams{Dtype: f.obs.Dtype(), Scheme: qdtype.PerTensorAffine, Scales: make([]float64, len(mins)), ZeroPoints: make([]int64, len(mins))}
	if f.perChannel {
		qp.Scheme = qdtype.PerChannelAffine
		if len(mins) == 0 {
			restore()
			return nil, nil, fmt.Errorf("fake: %s: the observer has seen no data", kind)
		}
	}
	for i := range mins {
		s, z, err := qdtype.ChooseQuantizationParams(mins[i], maxs[i], f.qmin, f.qmax, f.symmetric, false)
		if err != nil {
			restore()
			return nil, nil, fmt.Errorf("fake: %s: %w", kind, err)
		}
		qp.Scales[i], qp.ZeroPoints[i] = float64(float32(s)), z
	}
	y, mask, err := f.apply(x, qp)
	if err != nil {
		restore()
		return nil, nil, err
	}
	f.qp = qp
	return y, mask, nil
}

// Forward is PyTorch's FusedMovingAvgObsFakeQuantize.forward.
func (f *FusedMovingAvgObsFakeQuantize) Forward(x *tensor.Dense) (*tensor.Dense, error) {
	y, _, err := f.FakeQuant(x, true)
	return y, err
}

// Clone returns an independent copy.
func (f *FusedMovingAvgObsFakeQuantize) Clone() *FusedMovingAvgObsFakeQuantize {
	return &FusedMovingAvgObsFakeQuantize{FakeQuantizer: *f.FakeQuantizer.Clone(), symmetric: f.symmetric}
}

var (
	_ Quantizer = (*FakeQuantizer)(nil)
	_ Quantizer = (*FusedMovingAvgObsFakeQuantize)(nil)
)

// DisableObserver is disable_observer: EnableObserver(false).
func (f *FakeQuantizer) DisableObserver() { f.observerOn = false }

// DisableFakeQuant is disable_fake_quant: EnableFakeQuant(false).
func (f *FakeQuantizer) DisableFakeQuant() { f.fakeQuantOn = false }
