package observer

import (
	"fmt"
	"reflect"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// Half is the element type of the Float16 marker dtype.
type Half uint16

// Float16 is a marker dtype meaning "float16" (torch.float16), carried by
// NoopObserver and PlaceholderObserver for weight-only fp16 dynamic
// quantization. tensor has no float16; nothing computes on this dtype.
var Float16 = tensor.Dtype{Type: reflect.TypeOf(Half(0))}

// FixedQParamsObserver returns fixed quantization parameters whatever it
// observes; PyTorch's FixedQParamsObserver, used by FixedQParamsFakeQuantize
// for sigmoid-like (scale 1/256, zero point 0) and tanh-like (2/256, 128)
// outputs. Its range is quant_min..quant_max as given (default 0..255),
// without reduce_range.
type FixedQParamsObserver struct {
	dtype      tensor.Dtype
	scheme     qdtype.QScheme
	scale      float64
	zeroPoint  int64
	qmin, qmax int64
}

// NewFixedQParamsObserver returns a FixedQParamsObserver. WithFixedQParams
// is required; WithDtype (default quint8), WithQScheme (per-tensor, default
// affine) and WithQuantRange (default 0..255) are accepted. The scale must be
// finite and > 0 and the zero point inside the range.
func NewFixedQParamsObserver(opts ...Option) (*FixedQParamsObserver, error) {
	c := newConfig(opts)
	kind := KindFixedQParams
	if !c.fixedSet {
		return nil, fmt.Errorf("observer: %s: WithFixedQParams(scale, zero_point) is required", kind)
	}
	if c.avgSet || c.chAxisSet || c.binsSet || c.upsampleSet || c.computeSet || c.reduceRange {
		return nil, fmt.Errorf("observer: %s: only dtype, qscheme, quant range and the fixed qparams apply", kind)
	}
	if !qdtype.IsQuantized(c.dtype) {
		return nil, fmt.Errorf("observer: %s: dtype %s is not quantized", kind, qdtype.Name(c.dtype))
	}
	if c.scheme.PerChannel() {
		return nil, fmt.Errorf("observer: %s: qscheme %s is not per-tensor", kind, c.scheme)
	}
	qmin, qmax := int64(0), int64(255)
	if c.custom {
		qmin, qmax = c.quantMin, c.quantMax
	}
	dmin, dmax, _ := qdtype.Range(c.dtype)
	if qmin > qmax || qmin < dmin || qmax > dmax {
		return nil, fmt.Errorf("observer: %s: quant range [%d, %d] is not inside the %s range [%d, %d]", kind, qmin, qmax, qdtype.Name(c.dtype), dmin, dmax)
	}
	if err := qdtype.ValidScale(c.scale); err != nil {
		return nil, fmt.Errorf("observer: %s: %w", kind, err)
	}
	if c.zeroPoint < qmin || c.zeroPoint > qmax {
		return nil, fmt.Errorf("observer: %s: zero point %d is outside [%d, %d]", kind, c.zeroPoint, qmin, qmax)
	}
	return &FixedQParamsObserver{dtype: c.dtype, scheme: c.scheme, scale: float64(float32(c.scale)),
		zeroPoint: c.zeroPoint, qmin: qmin, qmax: qmax}, nil
}

// Observe checks that x is float32 and ignores it.
func (o *FixedQParamsObserver) Observe(x *tensor.Dense) error {
	_, err := floatData(KindFixedQParams, x)
	return err
}

// CalculateQParams returns the fixed parameters (the scale as float32,
// like PyTorch's float32 buffer).
func (o *FixedQParamsObserver) CalculateQParams() (qdtype.QParams, error) {
	qp := qdtype.QParams{Dtype: o.dtype, Scheme: o.scheme.Affine(), Scales: []float64{o.scale}, ZeroPoints: []int64{o.zeroPoint}}
	return qp, qp.Validate()
}

// Reset does nothing: the parameters are fixed.
func (o *FixedQParamsObserver) Reset() {}

// MinVal returns nil: the observer keeps no statistics.
func (o *FixedQParamsObserver) MinVal() []float32 { return nil }

// MaxVal returns nil: the observer keeps no statistics.
func (o *FixedQParamsObserver) MaxVal() []float32 { return nil }

// Dtype returns the quantized dtype.
func (o *FixedQParamsObserver) Dtype() tensor.Dtype { return o.dtype }

// QScheme returns the scheme.
func (o *FixedQParamsObserver) QScheme() qdtype.QScheme { return o.scheme }

// QuantRange returns [quant_min, quant_max].
func (o *FixedQParamsObserver) QuantRange() (qmin, qmax int64) { return o.qmin, o.qmax }

// Clone returns a copy.
func (o *FixedQParamsObserver) Clone() Observer { c := *o; return &c }

// State returns the configuration.
func (o *FixedQParamsObserver) State() State {
	return State{Kind: KindFixedQParams, Dtype: qdtype.Name(o.dtype), QScheme: o.scheme.String(),
		CustomRange: true, QuantMin: o.qmin, QuantMax: o.qmax, Scale: o.scale, ZeroPoint: o.zeroPoint}
}

// SetState restores a state saved from a FixedQParamsObserver.
func (o *FixedQParamsObserver) SetState(s State) error {
	n, err := fromState(s, KindFixedQParams)
	if err != nil {
		return err
	}
	*o = *n.(*FixedQParamsObserver)
	return nil
}

// PlaceholderObserver observes nothing and only carries a dtype (and a
// compute dtype for dynamic quantization) to the convert step; PyTorch's
// PlaceholderObserver. CalculateQParams is an error.
type PlaceholderObserver struct {
	dtype        tensor.Dtype
	computeDtype tensor.Dtype // zero when unset
	customOpName string
}

// NewPlaceholderObserver returns a PlaceholderObserver. Options: WithDtype
// (default float32; any dtype, including Float16), WithComputeDtype,
// WithCustomOpName.
func NewPlaceholderObserver(opts ...Option) (*PlaceholderObserver, error) {
	c := newConfig(opts)
	if !c.dtypeSet {
		c.dtype = tensor.Float32
	}
	if c.avgSet || c.chAxisSet || c.binsSet || c.upsampleSet || c.fixedSet || c.custom || c.schemeSet || c.reduceRange {
		return nil, fmt.Errorf("observer: %s: only dtype, compute dtype and custom op name apply", KindPlaceholder)
	}
	o := &PlaceholderObserver{dtype: c.dtype, customOpName: c.customOpName}
	if c.computeSet {
		o.computeDtype = c.computeDtype
	}
	return o, nil
}

// ComputeDtype returns the compute dtype and whether one is set (set means
// dynamic quantization).
func (o *PlaceholderObserver) ComputeDtype() (tensor.Dtype, bool) {
	return o.computeDtype, o.computeDtype.Type != nil
}

// CustomOpName returns the custom op name.
func (o *PlaceholderObserver) CustomOpName() string { return o.customOpName }

// Observe ignores x.
func (o *PlaceholderObserver) Observe(x *tensor.Dense) error { return nil }

// CalculateQParams is an error, as in PyTorch.
func (o *PlaceholderObserver) CalculateQParams() (qdtype.QParams, error) {
	return qdtype.QParams{}, fmt.Errorf("observer: %s: calculate_qparams should not be called for PlaceholderObserver", KindPlaceholder)
}

// Reset does nothing.
func (o *PlaceholderObserver) Reset() {}

// MinVal returns nil.
func (o *PlaceholderObserver) MinVal() []float32 { return nil }

// MaxVal returns nil.
func (o *PlaceholderObserver) MaxVal() []float32 { return nil }

// Dtype returns the carried dtype.
func (o *PlaceholderObserver) Dtype() tensor.Dtype { return o.dtype }

// QScheme returns per_tensor_affine.
func (o *PlaceholderObserver) QScheme() qdtype.QScheme { return qdtype.PerTensorAffine }

// QuantRange returns the dtype's range, or 0, 0 for a float dtype.
func (o *PlaceholderObserver) QuantRange() (qmin, qmax int64) {
	qmin, qmax, _ = qdtype.Range(o.dtype)
	return qmin, qmax
}

// Clone returns a copy.
func (o *PlaceholderObserver) Clone() Observer { c := *o; return &c }

// State returns the configuration.
func (o *PlaceholderObserver) State() State {
	s := State{Kind: KindPlaceholder, Dtype: dtypeName(o.dtype), CustomOpName: o.customOpName}
	if dt, ok := o.ComputeDtype(); ok {
		s.ComputeDtype = dtypeName(dt)
	}
	return s
}

// SetState restores a state saved from a PlaceholderObserver.
func (o *PlaceholderObserver) SetState(s State) error {
	n, err := fromState(s, KindPlaceholder)
	if err != nil {
		return err
	}
	*o = *n.(*PlaceholderObserver)
	return nil
}

// NoopObserver observes nothing and carries a dtype (default Float16);
// PyTorch's NoopObserver. CalculateQParams is an error.
type NoopObserver struct {
	dtype        tensor.Dtype
	customOpName string
}

// NewNoopObserver returns a NoopObserver. Options: WithDtype (default
// Float16), WithCustomOpName.
func NewNoopObserver(opts ...Option) (*NoopObserver, error) {
	c := newConfig(opts)
	if !c.dtypeSet {
		c.dtype = Float16
	}
	if c.avgSet || c.chAxisSet || c.binsSet || c.upsampleSet || c.fixedSet || c.custom || c.schemeSet || c.reduceRange || c.computeSet {
		return nil, fmt.Errorf("observer: %s: only dtype and custom op name apply", KindNoop)
	}
	return &NoopObserver{dtype: c.dtype, customOpName: c.customOpName}, nil
}

// Observe ignores x.
func (o *NoopObserver) Observe(x *tensor.Dense) error { return nil }

// CalculateQParams is an error, as in PyTorch.
func (o *NoopObserver) CalculateQParams() (qdtype.QParams, error) {
	return qdtype.QParams{}, fmt.Errorf("observer: %s: calculate_qparams should not be called for NoopObserver", KindNoop)
}

// Reset does nothing.
func (o *NoopObserver) Reset() {}

// MinVal returns nil.
func (o *NoopObserver) MinVal() []float32 { return nil }

// MaxVal returns nil.
func (o *NoopObserver) MaxVal() []float32 { return nil }

// Dtype returns the carried dtype.
func (o *NoopObserver) Dtype() tensor.Dtype { return o.dtype }

// QScheme returns per_tensor_affine.
func (o *NoopObserver) QScheme() qdtype.QScheme { return qdtype.PerTensorAffine }

// QuantRange returns the dtype's range, or 0, 0 for a float dtype.
func (o *NoopObserver) QuantRange() (qmin, qmax int64) {
	qmin, qmax, _ = qdtype.Range(o.dtype)
	return qmin, qmax
}

// Clone returns a copy.
func (o *NoopObserver) Clone() Observer { c := *o; return &c }

// State returns the configuration.
func (o *NoopObserver) State() State {
	return State{Kind: KindNoop, Dtype: dtypeName(o.dtype), CustomOpName: o.customOpName}
}

// SetState restores a state saved from a NoopObserver.
func (o *NoopObserver) SetState(s State) error {
	n, err := fromState(s, KindNoop)
	if err != nil {
		return err
	}
	*o = *n.(*NoopObserver)
	return nil
}

// RecordingObserver keeps a copy of every tensor it observes (debugging);
// PyTorch's RecordingObserver. CalculateQParams is an error.
type RecordingObserver struct {
	dtype  tensor.Dtype
	values []*tensor.Dense
}

// NewRecordingObserver returns a RecordingObserver. Option: WithDtype
// (default quint8).
func NewRecordingObserver(opts ...Option) (*RecordingObserver, error) {
	c := newConfig(opts)
	if c.avgSet || c.chAxisSet || c.binsSet || c.upsampleSet || c.fixedSet || c.custom || c.schemeSet || c.reduceRange || c.computeSet {
		return nil, fmt.Errorf("observer: %s: only dtype applies", KindRecording)
	}
	return &RecordingObserver{dtype: c.dtype}, nil
}

// Observe appends a contiguous copy of x (float32, NaN allowed: nothing is
// computed from it).
func (o *RecordingObserver) Observe(x *tensor.Dense) error {
	if x == nil {
		return fmt.Errorf("observer: %s: nil input", KindRecording)
	}
	if x.Dtype() != tensor.Float32 {
		return fmt.Errorf("observer: %s: input dtype %v, want float32", KindRecording, x.Dtype())
	}
	var c *tensor.Dense
	if x.RequiresIterator() {
		m, ok := x.Materialize().(*tensor.Dense)
		if !ok {
			return fmt.Errorf("observer: %s: cannot materialize the input view", KindRecording)
		}
		c = m
	} else {
		c = x.Clone().(*tensor.Dense)
	}
	o.values = append(o.values, c)
	return nil
}

// Values returns the recorded tensors (get_tensor_value), oldest first.
// The tensors are the observer's copies; clone them before changing them.
func (o *RecordingObserver) Values() []*tensor.Dense {
	return append([]*tensor.Dense(nil), o.values...)
}

// CalculateQParams is an error, as in PyTorch.
func (o *RecordingObserver) CalculateQParams() (qdtype.QParams, error) {
	return qdtype.QParams{}, fmt.Errorf("observer: %s: calculate_qparams should not be called for RecordingObserver", KindRecording)
}

// Reset forgets the recorded tensors.
func (o *RecordingObserver) Reset() { o.values = nil }

// MinVal returns nil.
func (o *RecordingObserver) MinVal() []float32 { return nil }

// MaxVal returns nil.
func (o *RecordingObserver) MaxVal() []float32 { return nil }

// Dtype returns the carried dtype.
func (o *RecordingObserver) Dtype() tensor.Dtype { return o.dtype }

// QScheme returns per_tensor_affine.
func (o *RecordingObserver) QScheme() qdtype.QScheme { return qdtype.PerTensorAffine }

// QuantRange returns the dtype's range, or 0, 0 for a float dtype.
func (o *RecordingObserver) QuantRange() (qmin, qmax int64) {
	qmin, qmax, _ = qdtype.Range(o.dtype)
	return qmin, qmax
}

// Clone returns a deep copy.
func (o *RecordingObserver) Clone() Observer {
	c := &RecordingObserver{dtype: o.dtype}
	for _, v := range o.values {
		c.values = append(c.values, v.Clone().(*tensor.Dense))
	}
	return c
}

// State returns the dtype and the recorded tensors.
func (o *RecordingObserver) State() State {
	s := State{Kind: KindRecording, Dtype: dtypeName(o.dtype)}
	for _, v := range o.values {
		shape := append([]int{}, v.Shape()...)
		if v.IsScalar() {
			shape = []int{}
		}
		n := v.Shape().TotalSize()
		if v.IsScalar() {
			n = 1
		}
		s.RecordedShapes = append(s.RecordedShapes, shape)
		s.Recorded = append(s.Recorded, cloneF32(v.Float32s()[:n]))
	}
	return s
}

// SetState restores a state saved from a RecordingObserver.
func (o *RecordingObserver) SetState(s State) error {
	n, err := fromState(s, KindRecording)
	if err != nil {
		return err
	}
	*o = *n.(*RecordingObserver)
	return nil
}
