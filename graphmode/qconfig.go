package graphmode

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
)

// QConfig is eager mode's QConfig (PyTorch's QConfig(activation, weight)),
// so one configuration serves both workflows: eager.DefaultQConfig,
// eager.DefaultPerChannelQConfig, eager.GetDefaultQConfig("fbgemm"),
// eager.DefaultDynamicQConfig, eager.Float16DynamicQConfig, ...
//
// Graph mode is post-training quantization: both factories must make
// observers (eager.ObserverFactory), not fake quantizers. Static
// quantization needs quint8 activation observers and qint8 weight
// observers (per tensor, or per channel along axis 0); dynamic quantization
// ignores Activation and takes a qint8 weight observer (int8 dynamic
// linear) or one of dtype observer.Float16 (float16 dynamic linear).
type QConfig = eager.QConfig

// newObserver makes a fresh observer from a QConfig factory.
func newObserver(f eager.Factory, what string) (observer.Observer, error) {
	if f.FakeQuant != nil {
		return nil, fmt.Errorf("qconfig's %s is a fake quantizer (a QAT qconfig); graph mode is post-training and needs observers", what)
	}
	if f.Observer == nil {
		return nil, fmt.Errorf("qconfig has no %s observer factory", what)
	}
	o, err := f.Observer()
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
func checkStatic(qc *QConfig) error {
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
