package eager

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/fake"
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// Factory makes a fresh post-process module: an observer (post-training
// quantization) or a fake quantizer (QAT). Exactly one field is set; the
// zero Factory is PyTorch's torch.nn.Identity in a QConfig (no
// post-process). Build one with ObserverFactory or FakeQuantFactory.
type Factory struct {
	Observer  observer.Factory
	FakeQuant fake.Factory
}

// ObserverFactory wraps an observer factory (PyTorch's Observer.with_args).
func ObserverFactory(f observer.Factory) Factory { return Factory{Observer: f} }

// FakeQuantFactory wraps a fake-quantizer factory (FakeQuantize.with_args).
func FakeQuantFactory(f fake.Factory) Factory { return Factory{FakeQuant: f} }

// IsZero reports whether f makes nothing (torch.nn.Identity).
func (f Factory) IsZero() bool { return f.Observer == nil && f.FakeQuant == nil }

// New makes a fresh PostProcess.
func (f Factory) New() (*PostProcess, error) {
	switch {
	case f.Observer != nil && f.FakeQuant != nil:
		return nil, fmt.Errorf("eager: factory sets both an observer and a fake quantizer")
	case f.Observer != nil:
		o, err := f.Observer()
		if err != nil {
			return nil, err
		}
		if o == nil {
			return nil, fmt.Errorf("eager: observer factory returned nil")
		}
		return &PostProcess{Observer: o}, nil
	case f.FakeQuant != nil:
		q, err := f.FakeQuant()
		if err != nil {
			return nil, err
		}
		if q == nil {
			return nil, fmt.Errorf("eager: fake-quantize factory returned nil")
		}
		return &PostProcess{FakeQuant: q}, nil
	}
	return nil, fmt.Errorf("eager: empty factory (Identity) makes no post-process")
}

// PostProcess is one activation or weight post-process instance, PyTorch's
// activation_post_process / weight_fake_quant: an observer or a fake
// quantizer (exactly one is set).
type PostProcess struct {
	Observer  observer.Observer
	FakeQuant fake.Quantizer
}

// Obs returns the observer (the fake quantizer's own for QAT).
func (p *PostProcess) Obs() observer.Observer {
	if p.FakeQuant != nil {
		return p.FakeQuant.Observer()
	}
	return p.Observer
}

// CalculateQParams returns calculate_qparams() (the observer formula, also
// for fake quantizers).
func (p *PostProcess) CalculateQParams() (qdtype.QParams, error) {
	if p.FakeQuant != nil {
		return p.FakeQuant.CalculateQParams()
	}
	return p.Observer.CalculateQParams()
}

// Dtype returns the quantized (or marker) dtype of the post-process.
func (p *PostProcess) Dtype() tensor.Dtype { return p.Obs().Dtype() }

// QuantRange returns the effective [quant_min, quant_max].
func (p *PostProcess) QuantRange() (int64, int64) {
	if p.FakeQuant != nil {
		return p.FakeQuant.QuantRange()
	}
	return p.Observer.QuantRange()
}

// Forward runs the post-process on a float tensor as PyTorch's forward
// does: an observer observes x; a fake quantizer observes (if enabled) and
// fake-quantizes, and the result is discarded by callers that only want
// the statistics.
func (p *PostProcess) Forward(x *tensor.Dense) error {
	if p.FakeQuant != nil {
		_, err := p.FakeQuant.Forward(x)
		return err
	}
	return p.Observer.Observe(x)
}

// QConfig is PyTorch's QConfig(activation, weight): factories of the
// activation post-process (observer or fake quantizer placed on a module's
// output by Prepare) and of the weight post-process (run once on the final
// weight by Convert, or held by a QAT module). A nil *QConfig on a module
// means "do not quantize" (PyTorch's qconfig None).
type QConfig struct {
	Activation Factory
	Weight     Factory
}

// QConfigDynamic is PyTorch's deprecated QConfigDynamic alias of QConfig
// (activation Identity by default).
type QConfigDynamic = QConfig

func obsArgs[O observer.Observer](ctor func(...observer.Option) (O, error), opts ...observer.Option) Factory {
	return ObserverFactory(observer.WithArgs(ctor, opts...))
}

func fakeQuant(obs observer.Factory) Factory {
	return FakeQuantFactory(func() (fake.Quantizer, error) { return fake.NewFakeQuantizer(obs) })
}

func fusedFakeQuant(obs observer.Factory) Factory {
	return FakeQuantFactory(func() (fake.Quantizer, error) { return fake.NewFusedMovingAvgObsFakeQuantize(obs) })
}

// DefaultQConfig is default_qconfig: MinMaxObserver on quint8 0…127
// activations, per-tensor symmetric qint8 MinMax weights.
func DefaultQConfig() *QConfig {
	return &QConfig{Activation: ObserverFactory(observer.DefaultObserver), Weight: ObserverFactory(observer.DefaultWeightObserver)}
}

// DefaultPerChannelQConfig is default_per_channel_qconfig.
func DefaultPerChannelQConfig() *QConfig {
	return &QConfig{Activation: ObserverFactory(observer.DefaultObserver), Weight: ObserverFactory(observer.DefaultPerChannelWeightObserver)}
}

// DefaultDynamicQConfig is default_dynamic_qconfig: dynamic (placeholder)
// activations, per-tensor symmetric qint8 weights.
func DefaultDynamicQConfig() *QConfig {
	return &QConfig{Activation: ObserverFactory(observer.DefaultDynamicQuantObserver), Weight: ObserverFactory(observer.DefaultWeightObserver)}
}

// PerChannelDynamicQConfig is per_channel_dynamic_qconfig.
func PerChannelDynamicQConfig() *QConfig {
	return &QConfig{Activation: ObserverFactory(observer.DefaultDynamicQuantObserver), Weight: ObserverFactory(observer.DefaultPerChannelWeightObserver)}
}

// Float16DynamicQConfig is float16_dynamic_qconfig: float16 placeholders
// (weights kept in float16, activations float).
func Float16DynamicQConfig() *QConfig {
	return &QConfig{
		Activation: obsArgs(observer.NewPlaceholderObserver, observer.WithDtype(observer.Float16), observer.WithComputeDtype(observer.Float16)),
		Weight:     obsArgs(observer.NewPlaceholderObserver, observer.WithDtype(observer.Float16)),
	}
}

// DefaultQATQConfig is default_qat_qconfig: FakeQuantize with a moving
// average observer on quint8 0…127 activations, per-tensor symmetric qint8
// weights.
func DefaultQATQConfig() *QConfig {
	return &QConfig{Activation: FakeQuantFactory(fake.DefaultFakeQuant), Weight: FakeQuantFactory(fake.DefaultWeightFakeQuant)}
}

// DefaultQATQConfigV2 is default_qat_qconfig_v2 (fused observe+fake-quant
// modules).
func DefaultQATQConfigV2() *QConfig {
	return &QConfig{Activation: FakeQuantFactory(fake.DefaultFusedActFakeQuant), Weight: FakeQuantFactory(fake.DefaultFusedWtFakeQuant)}
}

// Backends of GetDefaultQConfig and GetDefaultQATQConfig.
var Backends = []string{"fbgemm", "x86", "qnnpack", "onednn"}

// GetDefaultQConfig is get_default_qconfig(backend) of PyTorch 1.13 for
// post-training quantization: HistogramObserver activations (reduce_range
// on fbgemm and x86, full 0…255 on qnnpack and onednn) and per-channel
// symmetric qint8 weights (per tensor on qnnpack). Error: another backend.
func GetDefaultQConfig(backend string) (*QConfig, error) {
	switch backend {
	case "fbgemm", "x86":
		return &QConfig{Activation: obsArgs(observer.NewHistogramObserver, observer.WithReduceRange(true)),
			Weight: ObserverFactory(observer.DefaultPerChannelWeightObserver)}, nil
	case "qnnpack":
		return &QConfig{Activation: obsArgs(observer.NewHistogramObserver, observer.WithReduceRange(false)),
			Weight: ObserverFactory(observer.DefaultWeightObserver)}, nil
	case "onednn":
		return &QConfig{Activation: obsArgs(observer.NewHistogramObserver, observer.WithReduceRange(false)),
			Weight: ObserverFactory(observer.DefaultPerChannelWeightObserver)}, nil
	}
	return nil, fmt.Errorf("eager: get default qconfig: backend %q not supported (one of %v)", backend, Backends)
}

// GetDefaultQATQConfig is get_default_qat_qconfig(backend, version) of
// PyTorch 1.13. Version 1 (PyTorch's default) uses
// FusedMovingAvgObsFakeQuantize: activations MovingAverageMinMax 0…255 with
// reduce_range on fbgemm and x86, weights per-channel symmetric qint8
// (per tensor on qnnpack). Version 0 uses FakeQuantize with the same
// observers. Errors: another backend or version.
func GetDefaultQATQConfig(backend string, version int) (*QConfig, error) {
	var wrap func(observer.Factory) Factory
	var perChannel, perTensor Factory
	switch version {
	case 0:
		wrap = fakeQuant
		perChannel, perTensor = FakeQuantFactory(fake.DefaultPerChannelWeightFakeQuant), FakeQuantFactory(fake.DefaultWeightFakeQuant)
	case 1:
		wrap = fusedFakeQuant
		perChannel, perTensor = FakeQuantFactory(fake.DefaultFusedPerChannelWtFakeQuant), FakeQuantFactory(fake.DefaultFusedWtFakeQuant)
	default:
		return nil, fmt.Errorf("eager: get default qat qconfig: version %d not supported (0 or 1)", version)
	}
	act := func(rr bool) Factory {
		return wrap(observer.WithArgs(observer.NewMovingAverageMinMaxObserver, observer.WithQuantRange(0, 255), observer.WithReduceRange(rr)))
	}
	switch backend {
	case "fbgemm", "x86":
		return &QConfig{Activation: act(true), Weight: perChannel}, nil
	case "qnnpack":
		return &QConfig{Activation: act(false), Weight: perTensor}, nil
	case "onednn":
		return &QConfig{Activation: act(false), Weight: perChannel}, nil
	}
	return nil, fmt.Errorf("eager: get default qat qconfig: backend %q not supported (one of %v)", backend, Backends)
}
