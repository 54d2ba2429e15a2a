package observer

import (
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// The default observers of PyTorch 1.13 (torch.ao.quantization.observer),
// as Factories: each call returns a new observer.

// DefaultObserver is default_observer: MinMaxObserver, quint8
// per_tensor_affine, quant range 0..127.
func DefaultObserver() (Observer, error) {
	return NewMinMaxObserver(WithQuantRange(0, 127))
}

// DefaultWeightObserver is default_weight_observer: MinMaxObserver, qint8
// per_tensor_symmetric (range −128..127).
func DefaultWeightObserver() (Observer, error) {
	return NewMinMaxObserver(WithDtype(qdtype.QInt8Dtype), WithQScheme(qdtype.PerTensorSymmetric))
}

// DefaultPerChannelWeightObserver is default_per_channel_weight_observer:
// PerChannelMinMaxObserver, qint8 per_channel_symmetric, channel axis 0.
func DefaultPerChannelWeightObserver() (Observer, error) {
	return NewPerChannelMinMaxObserver(WithDtype(qdtype.QInt8Dtype), WithQScheme(qdtype.PerChannelSymmetric))
}

// WeightObserverRangeNeg127To127 is weight_observer_range_neg_127_to_127:
// MinMaxObserver, qint8 per_tensor_symmetric, range −127..127, eps 2⁻¹².
func WeightObserverRangeNeg127To127() (Observer, error) {
	return NewMinMaxObserver(WithDtype(qdtype.QInt8Dtype), WithQScheme(qdtype.PerTensorSymmetric),
		WithQuantRange(-127, 127), WithEps(1.0/4096))
}

// PerChannelWeightObserverRangeNeg127To127 is
// per_channel_weight_observer_range_neg_127_to_127.
func PerChannelWeightObserverRangeNeg127To127() (Observer, error) {
	return NewPerChannelMinMaxObserver(WithDtype(qdtype.QInt8Dtype), WithQScheme(qdtype.PerChannelSymmetric),
		WithQuantRange(-127, 127), WithEps(1.0/4096))
}

// DefaultHistogramObserver is default_histogram_observer: HistogramObserver,
// quint8 per_tensor_affine, quant range 0..127.
func DefaultHistogramObserver() (Observer, error) {
	return NewHistogramObserver(WithQuantRange(0, 127))
}

// DefaultDynamicQuantObserver is default_dynamic_quant_observer: a
// PlaceholderObserver with dtype and compute dtype quint8, which marks
// activations as dynamically quantized.
func DefaultDynamicQuantObserver() (Observer, error) {
	return NewPlaceholderObserver(WithDtype(qdtype.QUInt8Dtype), WithComputeDtype(qdtype.QUInt8Dtype))
}

// DefaultPlaceholderObserver is default_placeholder_observer: a float32
// PlaceholderObserver.
func DefaultPlaceholderObserver() (Observer, error) {
	return NewPlaceholderObserver(WithDtype(tensor.Float32))
}

// DefaultDebugObserver is default_debug_observer: a RecordingObserver.
func DefaultDebugObserver() (Observer, error) { return NewRecordingObserver() }

// DefaultFloatQParamsObserver is default_float_qparams_observer:
// PerChannelMinMaxObserver, quint8 per_channel_affine_float_qparams, channel
// axis 0 (embedding weights).
func DefaultFloatQParamsObserver() (Observer, error) {
	return NewPerChannelMinMaxObserver(WithQScheme(qdtype.PerChannelAffineFloatQParams))
}

// DefaultFixedQParamsRangeNeg1To1Observer is
// default_fixed_qparams_range_neg1to1_observer: scale 2/256, zero point 128,
// quint8 0..255 (tanh).
func DefaultFixedQParamsRangeNeg1To1Observer() (Observer, error) {
	return NewFixedQParamsObserver(WithFixedQParams(2.0/256, 128))
}

// DefaultFixedQParamsRange0To1Observer is
// default_fixed_qparams_range_0to1_observer: scale 1/256, zero point 0,
// quint8 0..255 (sigmoid, hardsigmoid, softmax).
func DefaultFixedQParamsRange0To1Observer() (Observer, error) {
	return NewFixedQParamsObserver(WithFixedQParams(1.0/256, 0))
}

// Compile-time checks that the defaults are Factories.
var (
	_ Factory = DefaultObserver
	_ Factory = DefaultWeightObserver
	_ Factory = DefaultPerChannelWeightObserver
	_ Factory = DefaultHistogramObserver
	_ Factory = DefaultDynamicQuantObserver
)

// Compile-time interface checks.
var (
	_ Observer = (*MinMaxObserver)(nil)
	_ Observer = (*MovingAverageMinMaxObserver)(nil)
	_ Observer = (*PerChannelMinMaxObserver)(nil)
	_ Observer = (*MovingAveragePerChannelMinMaxObserver)(nil)
	_ Observer = (*HistogramObserver)(nil)
	_ Observer = (*FixedQParamsObserver)(nil)
	_ Observer = (*PlaceholderObserver)(nil)
	_ Observer = (*NoopObserver)(nil)
	_ Observer = (*RecordingObserver)(nil)
)
