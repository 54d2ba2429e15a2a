package graphmode

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
)

// QConfig says how graph mode quantizes: Activation makes the observer of
// each activation (quantized op outputs and float values entering quantized
// ops; static quantization only) and Weight makes the observer run once on
// each weight. It is PyTorch's QConfig(activation, weight) with observer
// factories (Observer.with_args).
//
// Static quantization needs quint8 activations and qint8 weights (per
// tensor, or per channel along axis 0); dynamic quantization ignores
// Activation and takes a qint8 weight observer (int8 dynamic linear) or one
// whose dtype is observer.Float16 (float16 dynamic linear).
type QConfig struct {
	Activation observer.Factory
	Weight     observer.Factory
}

// DefaultQConfig is PyTorch's default_qconfig for fbgemm graph mode
// (get_default_qconfig("fbgemm") minus the histogram): MinMaxObserver on
// quint8 activations with reduce_range (0…127), per-tensor symmetric qint8
// MinMax weights.
func DefaultQConfig() *QConfig {
	return &QConfig{Activation: observer.DefaultObserver, Weight: observer.DefaultWeightObserver}
}

// DefaultPerChannelQConfig is default_per_channel_qconfig: MinMax quint8
// activations with reduce_range, per-channel symmetric qint8 weights.
func DefaultPerChannelQConfig() *QConfig {
	return &QConfig{Activation: observer.DefaultObserver, Weight: observer.DefaultPerChannelWeightObserver}
}

// DefaultDynamicQConfig is default_dynamic_qconfig: per-tensor symmetric
// qint8 weights; activation ranges are chosen per call.
func DefaultDynamicQConfig() *QConfig {
	return &QConfig{Activation: observer.DefaultDynamicQuantObserver, Weight: observer.DefaultWeightObserver}
}

// PerChannelDynamicQConfig is per_channel_dynamic_qconfig.
func PerChannelDynamicQConfig() *QConfig {
	return &QConfig{Activation: observer.DefaultDynamicQuantObserver, Weight: observer.DefaultPerChannelWeightObserver}
}

// Float16DynamicQConfig is float16_dynamic_qconfig: weights stored as
// float16 (a placeholder observer of dtype observer.Float16).
func Float16DynamicQConfig() *QConfig {
	w := observer.WithArgs(observer.NewPlaceholderObserver, observer.WithDtype(observer.Float16))
	return &QConfig{Activation: w, Weight: w}
}

// newObserver calls f and checks that it made an observer.
func newObserver(f observer.Factory, what string) (observer.Observer, error) {
	if f == nil {
		return nil, fmt.Errorf("qconfig has no %s observer factory", what)
	}
	o, err := f()
	if err != nil {
		return nil, fmt.Errorf("%s observer: %w", what, err)
	}
	if o == nil {
		return nil, fmt.Errorf("%s observer factory returned nil", what)
	}
	return o, nil
}

// checkStatic validates a QConfig for static quantization by making one
// observer of each kind.
func (qc *QConfig) checkStatic() error {
	if qc == nil {
		return fmt.Errorf("nil qconfig")
	}
	a, err := newObserver(qc.Activation, "activation")
	if err != nil {
		return err
	}
	if a.Dtype() != qdtype.QUInt8Dtype {
		return fmt.Errorf("activation observer dtype is %v; static graph mode quantizes activations to quint8", a.Dtype())
	}
	w, err := newObserver(qc.Weight, "weight")
	if err != nil {
		return err
	}
	if w.Dtype() != qdtype.QInt8Dtype {
		return fmt.Errorf("weight observer dtype is %v; static graph mode needs qint8 weights", w.Dtype())
	}
	return nil
}
