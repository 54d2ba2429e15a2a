package eager

import (
	"fmt"
	"sort"
	"sync"

	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// Converter builds the replacement of a float (or QAT) module, PyTorch's
// from_float. It reads the module's qconfig with QConfigOf and its observed
// output with ActivationPostProcess / OutputQParams; it must not modify m.
type Converter func(m nn.Module) (nn.Module, error)

// Mapping maps module TypeNames to their converters (PyTorch's module
// mapping dicts). The zero value is an empty mapping.
type Mapping map[string]Converter

// Clone returns a copy of the mapping.
func (m Mapping) Clone() Mapping {
	c := make(Mapping, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Types returns the mapped TypeNames, sorted.
func (m Mapping) Types() []string {
	t := make([]string, 0, len(m))
	for k := range m {
		t = append(t, k)
	}
	sort.Strings(t)
	return t
}

var (
	mappingMu                                 sync.RWMutex
	staticMapping, qatMapping, dynamicMapping = Mapping{}, Mapping{}, Mapping{}
)

// RegisterStatic adds (or replaces) the static-quantization converter of
// typeName in the default mapping Convert uses, so that user module types
// take part in Prepare (they get an output observer) and Convert. Safe for
// concurrent use.
func RegisterStatic(typeName string, c Converter) { register(staticMapping, typeName, c) }

// RegisterQAT adds the converter PrepareQAT uses to swap typeName for its
// QAT module.
func RegisterQAT(typeName string, c Converter) { register(qatMapping, typeName, c) }

// RegisterDynamic adds the converter QuantizeDynamic uses for typeName.
func RegisterDynamic(typeName string, c Converter) { register(dynamicMapping, typeName, c) }

func register(m Mapping, typeName string, c Converter) {
	mappingMu.Lock()
	defer mappingMu.Unlock()
	if c == nil {
		delete(m, typeName)
		return
	}
	m[typeName] = c
}

func snapshot(m Mapping) Mapping {
	mappingMu.RLock()
	defer mappingMu.RUnlock()
	return m.Clone()
}

// DefaultStaticMapping returns a copy of the static mapping
// (DEFAULT_STATIC_QUANT_MODULE_MAPPINGS plus the QAT modules' targets and
// whatever RegisterStatic added).
func DefaultStaticMapping() Mapping { return snapshot(staticMapping) }

// DefaultQATMapping returns a copy of the QAT mapping
// (DEFAULT_QAT_MODULE_MAPPINGS: float and fused modules → QAT modules).
func DefaultQATMapping() Mapping { return snapshot(qatMapping) }

// DefaultDynamicMapping returns a copy of the dynamic mapping
// (DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS).
func DefaultDynamicMapping() Mapping { return snapshot(dynamicMapping) }

// OutputQParams returns calculate_qparams() of m's activation
// post-process; an error names m's type when it has none (Prepare was not
// run, or m has no qconfig).
func OutputQParams(m nn.Module) (qdtype.QParams, error) {
	if m == nil {
		return qdtype.QParams{}, fmt.Errorf("eager: output qparams: nil module")
	}
	pp := ActivationPostProcess(m)
	if pp == nil {
		return qdtype.QParams{}, fmt.Errorf("%s has no activation observer (run Prepare, and give it a qconfig)", m.TypeName())
	}
	qp, err := pp.CalculateQParams()
	if err != nil {
		return qdtype.QParams{}, fmt.Errorf("%s: output qparams: %w", m.TypeName(), err)
	}
	if qp.PerChannel() {
		return qdtype.QParams{}, fmt.Errorf("%s: output qparams must be per tensor, got %v", m.TypeName(), qp)
	}
	return qp, nil
}

// QuantizeWeight runs a fresh weight post-process of m's qconfig
// (qconfig.weight()) once on the float weight w and returns w quantized
// with its qparams, clamped into its quant range (_quantize_weight and
// _clamp_weights).
func QuantizeWeight(m nn.Module, w *tensor.Dense) (*qtensor.QTensor, error) {
	if m == nil {
		return nil, fmt.Errorf("eager: quantize weight: nil module")
	}
	qc := QConfigOf(m)
	if qc == nil {
		return nil, fmt.Errorf("%s has no qconfig", m.TypeName())
	}
	if qc.Weight.IsZero() {
		return nil, fmt.Errorf("%s: qconfig has no weight observer", m.TypeName())
	}
	pp, err := qc.Weight.New()
	if err != nil {
		return nil, fmt.Errorf("%s: weight observer: %w", m.TypeName(), err)
	}
	return quantizeWithPostProcess(w, pp)
}

func quantizeWithPostProcess(w *tensor.Dense, pp *PostProcess) (*qtensor.QTensor, error) {
	if err := pp.Forward(w); err != nil {
		return nil, fmt.Errorf("weight observer: %w", err)
	}
	qp, err := pp.CalculateQParams()
	if err != nil {
		return nil, fmt.Errorf("weight qparams: %w", err)
	}
	qmin, qmax := pp.QuantRange()
	return nodes.QuantizeWeightWithQParams(w, qp, qmin, qmax)
}

func biasOf(p *nn.Parameter) *tensor.Dense {
	if p == nil {
		return nil
	}
	return p.Data
}

// linearOf returns the float Linear of an nn.Linear or fuse.LinearReLU, nil
// for other modules.
func linearOf(m nn.Module) *nn.Linear {
	switch f := m.(type) {
	case *nn.Linear:
		return f
	case *fuse.LinearReLU:
		return f.Linear()
	}
	return nil
}

func linearConverter(relu bool) Converter {
	return func(m nn.Module) (nn.Module, error) {
		l := linearOf(m)
		if l == nil {
			return nil, fmt.Errorf("cannot convert %T to a quantized linear layer", m)
		}
		out, err := OutputQParams(m)
		if err != nil {
			return nil, err
		}
		wq, err := QuantizeWeight(m, l.Weight.Data)
		if err != nil {
			return nil, err
		}
		return nodes.NewQuantizedLinear(wq, biasOf(l.Bias), out.Scale(), out.ZeroPoint(), relu)
	}
}

func convConverter(relu bool) Converter {
	return func(m nn.Module) (nn.Module, error) {
		var conv nn.Module
		switch f := m.(type) {
		case *fuse.ConvReLU1d:
			conv = f.Conv()
		case *fuse.ConvReLU2d:
			conv = f.Conv()
		case *fuse.ConvReLU3d:
			conv = f.Conv()
		default:
			conv = m
		}
		return convFrom(m, conv, nil, relu)
	}
}

// convFrom converts the float convolution conv (with weight and bias
// overriding its own when w is non-nil) using the qconfig and observer of
// owner.
func convFrom(owner, conv nn.Module, w *tensor.Dense, relu bool, bias ...*tensor.Dense) (nn.Module, error) {
	c, _, ok := fuse.ConvOf(conv)
	kind, known := map[string]nodes.ConvKind{"Conv1d": nodes.Conv1d, "Conv2d": nodes.Conv2d, "Conv3d": nodes.Conv3d,
		"ConvTranspose1d": nodes.ConvTranspose1d, "ConvTranspose2d": nodes.ConvTranspose2d}[conv.TypeName()]
	if !ok || !known {
		return nil, fmt.Errorf("cannot convert %s (%T) to a quantized convolution", conv.TypeName(), conv)
	}
	if relu {
		kind++
	}
	out, err := OutputQParams(owner)
	if err != nil {
		return nil, err
	}
	b := biasOf(c.Bias)
	if w == nil {
		w = c.Weight.Data
	} else if len(bias) > 0 {
		b = bias[0]
	}
	wq, err := QuantizeWeight(owner, w)
	if err != nil {
		return nil, err
	}
	opt, err := nodes.ConvOptionsOf(c)
	if err != nil {
		return nil, err
	}
	return nodes.NewQuantizedConv(kind, wq, b, opt, out.Scale(), out.ZeroPoint())
}

func normConverter(m nn.Module) (nn.Module, error) {
	out, err := OutputQParams(m)
	if err != nil {
		return nil, err
	}
	return nodes.QuantizedNormFromFloat(m, out)
}

func bnReLUConverter(m nn.Module) (nn.Module, error) {
	var bn *nn.BatchNorm
	switch f := m.(type) {
	case *fuse.BNReLU2d:
		bn = f.BN()
	case *fuse.BNReLU3d:
		bn = f.BN()
	}
	if bn == nil {
		return nil, fmt.Errorf("cannot convert %T to a quantized BNReLU", m)
	}
	out, err := OutputQParams(m)
	if err != nil {
		return nil, err
	}
	q, err := nodes.QuantizedNormFromFloat(bn, out)
	if err != nil {
		return nil, err
	}
	q.ReLU = true
	return nodes.NewQuantizedNorm(*q)
}

func activationConverter(m nn.Module) (nn.Module, error) {
	var out qdtype.QParams
	if m.TypeName() != "ReLU6" {
		var err error
		if out, err = OutputQParams(m); err != nil {
			return nil, err
		}
	}
	return nodes.QuantizedActivationFromFloat(m, out)
}

func quantStubConverter(m nn.Module) (nn.Module, error) {
	out, err := OutputQParams(m)
	if err != nil {
		return nil, err
	}
	return nodes.NewQuantizeModule(out.Scale(), out.ZeroPoint(), out.Dtype)
}

func floatFunctionalConverter(m nn.Module) (nn.Module, error) {
	out, err := OutputQParams(m)
	if err != nil {
		return nil, err
	}
	return nodes.NewQFunctional(out.Scale(), out.ZeroPoint())
}

func passthroughConverter(m nn.Module) (nn.Module, error) { return nodes.NewPassthrough(m) }

// weightFactoryOf returns the observer factory of m's qconfig weight for
// the dynamic converters (default_dynamic_qconfig's when m has none, as
// PyTorch's from_float falls back to).
func weightFactoryOf(m nn.Module) (*PostProcess, func() (*PostProcess, error), error) {
	qc := QConfigOf(m)
	f := DefaultDynamicQConfig().Weight
	if qc != nil && !qc.Weight.IsZero() {
		f = qc.Weight
	}
	pp, err := f.New()
	return pp, f.New, err
}

func dynamicLinearConverter(relu bool) Converter {
	return func(m nn.Module) (nn.Module, error) {
		l := linearOf(m)
		if l == nil {
			return nil, fmt.Errorf("cannot convert %T to a dynamic quantized linear layer", m)
		}
		pp, _, err := weightFactoryOf(m)
		if err != nil {
			return nil, err
		}
		if pp.FakeQuant == nil {
			return nodes.DynamicQuantizedLinearFromFloat(l, pp.Observer, relu)
		}
		wq, err := quantizeWithPostProcess(l.Weight.Data, pp)
		if err != nil {
			return nil, err
		}
		return nodes.NewDynamicQuantizedLinear(wq, biasOf(l.Bias), true, relu)
	}
}

func dynamicRNNConverter(m nn.Module) (nn.Module, error) {
	first, newPP, err := weightFactoryOf(m)
	if err != nil {
		return nil, err
	}
	if first.Observer != nil && first.Observer.Dtype() == observer.Float16 {
		switch m.(type) {
		case *nn.LSTM, *nn.GRU:
			return nodes.DynamicFP16RNNFromFloat(m)
		case *nn.LSTMCell, *nn.GRUCell, *nn.RNNCell:
			return nodes.DynamicFP16CellFromFloat(m)
		}
		return nil, fmt.Errorf("no float16 dynamic counterpart for %s", m.TypeName())
	}
	newObs := func() (observer.Observer, error) {
		pp, err := newPP()
		if err != nil {
			return nil, err
		}
		if pp.Observer == nil {
			return nil, fmt.Errorf("dynamic recurrent layers need an observer, not a fake quantizer, as weight post-process")
		}
		return pp.Observer, nil
	}
	switch f := m.(type) {
	case *nn.LSTM:
		return nodes.DynamicQuantizedLSTMFromFloat(f, newObs)
	case *nn.GRU:
		return nodes.DynamicQuantizedGRUFromFloat(f, newObs)
	case *nn.LSTMCell, *nn.GRUCell, *nn.RNNCell:
		return nodes.DynamicQuantizedCellFromFloat(m, newObs)
	}
	return nil, fmt.Errorf("no dynamic quantized counterpart for %s", m.TypeName())
}

func init() {
	s := map[string]Converter{
		"QuantStub":       quantStubConverter,
		"DeQuantStub":     func(nn.Module) (nn.Module, error) { return nodes.NewDequantizeModule(), nil },
		"Linear":          linearConverter(false),
		"LinearReLU":      linearConverter(true),
		"Conv1d":          convConverter(false),
		"Conv2d":          convConverter(false),
		"Conv3d":          convConverter(false),
		"ConvTranspose1d": convConverter(false),
		"ConvTranspose2d": convConverter(false),
		"ConvReLU1d":      convConverter(true),
		"ConvReLU2d":      convConverter(true),
		"ConvReLU3d":      convConverter(true),
		"BatchNorm2d":     normConverter,
		"BatchNorm3d":     normConverter,
		"LayerNorm":       normConverter,
		"GroupNorm":       normConverter,
		"InstanceNorm1d":  normConverter,
		"InstanceNorm2d":  normConverter,
		"InstanceNorm3d":  normConverter,
		"BNReLU2d":        bnReLUConverter,
		"BNReLU3d":        bnReLUConverter,
		"ReLU6":           activationConverter,
		"Hardswish":       activationConverter,
		"ELU":             activationConverter,
		"LeakyReLU":       activationConverter,
		"Dropout":         passthroughConverter,
		"FloatFunctional": floatFunctionalConverter,
	}
	for k, v := range s {
		staticMapping[k] = v
	}
	d := map[string]Converter{
		"Linear":     dynamicLinearConverter(false),
		"LinearReLU": dynamicLinearConverter(true),
		"LSTM":       dynamicRNNConverter,
		"GRU":        dynamicRNNConverter,
		"LSTMCell":   dynamicRNNConverter,
		"GRUCell":    dynamicRNNConverter,
		"RNNCell":    dynamicRNNConverter,
	}
	for k, v := range d {
		dynamicMapping[k] = v
	}
	registerQAT()
}
