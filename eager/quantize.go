package eager

import (
	"fmt"
	"strings"

	"github.com/qgorgonia/qgorgonia/fake"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// NoQConfig is the explicit "do not quantize" qconfig, PyTorch's
// module.qconfig = None: set a module's Base.QConfig to it to keep the module
// and (unless they have their own) its children float, whatever the parent
// or the QConfigDict say. An unset (nil interface) Base.QConfig inherits.
var NoQConfig = (*QConfig)(nil)

// Observed is what Prepare leaves in Base.QConfig of a module it observes:
// the module's qconfig and its activation post-process (PyTorch's
// module.qconfig and module.activation_post_process). The post-process is
// run by an output hook that Prepare puts first in Base.OutputHooks.
// Clone shares an Observed (and the hook's target) by reference, as nn
// shares QConfig and hook functions: a cloned prepared model calibrates the
// same observers.
type Observed struct {
	QConfig               *QConfig
	ActivationPostProcess *PostProcess
	hooked                bool // observer hooks are installed first in the hook lists:
	pre, out              bool // in PreHooks (memoryless observers) and/or OutputHooks
}

// QConfigOf returns the qconfig of m: Base.QConfig when it is a *QConfig
// or QConfig, the QConfig of an *Observed, nil otherwise.
func QConfigOf(m nn.Module) *QConfig {
	if m == nil {
		return nil
	}
	switch q := m.ModuleBase().QConfig.(type) {
	case *QConfig:
		return q
	case QConfig:
		return &q
	case *Observed:
		return q.QConfig
	}
	return nil
}

// ActivationPostProcess returns m's activation observer or fake quantizer,
// or nil when Prepare gave it none.
func ActivationPostProcess(m nn.Module) *PostProcess {
	if m == nil {
		return nil
	}
	if o, ok := m.ModuleBase().QConfig.(*Observed); ok {
		return o.ActivationPostProcess
	}
	return nil
}

// QConfigDict is PyTorch's qconfig_dict of propagate_qconfig_: qconfigs by
// module TypeName and by dotted module path. Precedence for a module: its
// own Base.QConfig, then Names, then Types, then the parent's qconfig.
type QConfigDict struct {
	Types map[string]*QConfig
	Names map[string]*QConfig
}

// Option configures Prepare, PrepareQAT, Convert, Quantize, QuantizeDynamic
// and QuantizeQAT.
type Option func(*options)

type options struct {
	inPlace      bool
	mapping      Mapping
	dict         *QConfigDict
	keepQConfig  bool
	nonLeafTypes []string
}

// InPlace modifies the model passed in instead of a deep copy (PyTorch's
// inplace=True).
func InPlace() Option { return func(o *options) { o.inPlace = true } }

// WithMapping replaces the module mapping (Convert: static by default;
// QuantizeDynamic: dynamic; PrepareQAT: QAT).
func WithMapping(m Mapping) Option { return func(o *options) { o.mapping = m.Clone() } }

// WithQConfigDict gives per-type and per-path qconfigs to the propagation.
func WithQConfigDict(d *QConfigDict) Option { return func(o *options) { o.dict = d } }

// KeepQConfig keeps qconfigs after Convert (remove_qconfig=False).
func KeepQConfig() Option { return func(o *options) { o.keepQConfig = true } }

// WithObservedTypes adds module TypeNames Prepare treats as observable units
// (PyTorch's observer_non_leaf_module_list).
func WithObservedTypes(types ...string) Option {
	return func(o *options) { o.nonLeafTypes = append(o.nonLeafTypes, types...) }
}

func buildOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func describe(path string, m nn.Module) string {
	if path == "" {
		return fmt.Sprintf("root module (%s)", m.TypeName())
	}
	return fmt.Sprintf("module %q (%s)", path, m.TypeName())
}

// PropagateQConfig is propagate_qconfig_: it sets Base.QConfig of every
// module of the tree to the qconfig it resolves to (own > dict name >
// dict type > parent). Modules that resolve to none are left unset. A
// Base.QConfig of another type than *QConfig, QConfig or *Observed is an
// error naming the module.
func PropagateQConfig(model nn.Module, dict *QConfigDict) error {
	if model == nil {
		return fmt.Errorf("eager: propagate qconfig: model is nil")
	}
	return propagate(model, "", nil, dict)
}

func propagate(m nn.Module, path string, parent *QConfig, dict *QConfigDict) error {
	b := m.ModuleBase()
	qc := parent
	if dict != nil {
		if q, ok := dict.Types[m.TypeName()]; ok {
			qc = q
		}
		if q, ok := dict.Names[path]; ok {
			qc = q
		}
	}
	switch own := b.QConfig.(type) {
	case nil:
		if qc != nil {
			b.QConfig = qc
		}
	case *QConfig:
		qc = own
	case QConfig:
		qc = &own
		b.QConfig = qc
	case *Observed:
		qc = own.QConfig
	default:
		return fmt.Errorf("eager: propagate qconfig: %s: QConfig has type %T, want *eager.QConfig", describe(path, m), b.QConfig)
	}
	for _, c := range b.Children() {
		if err := propagate(c.Module, join(path, c.Name), qc, dict); err != nil {
			return err
		}
	}
	return nil
}

// propagationList returns the TypeNames that get an output observer: the
// keys of the static, QAT and dynamic mappings plus extra.
func propagationList(extra []string) map[string]bool {
	l := map[string]bool{}
	for _, m := range []Mapping{DefaultStaticMapping(), DefaultQATMapping(), DefaultDynamicMapping()} {
		for k := range m {
			l[k] = true
		}
	}
	for _, t := range extra {
		l[t] = true
	}
	return l
}

// AddObserver is add_observer_: it attaches an activation post-process
// (qconfig.Activation()) as the first output hook of every module with a
// qconfig whose TypeName is in allow (nil: the keys of the default static,
// QAT and dynamic mappings) — fused and QAT modules as one unit, their
// children not visited — and of every FloatFunctional; Dropout and
// DeQuantStub are never observed; Sequential containers are walked.
// A module already observed keeps its observer.
func AddObserver(model nn.Module, allow map[string]bool) error {
	if model == nil {
		return fmt.Errorf("eager: add observer: model is nil")
	}
	if allow == nil {
		allow = propagationList(nil)
	}
	return addObserver(model, "", allow)
}

// specialActivation gives the fixed-qparams fake quantizers PyTorch's
// add_observer_ puts on these modules in training mode (QAT) instead of
// qconfig.activation().
var specialActivation = map[string]fake.Factory{
	"Sigmoid":     fake.DefaultFixedQParamsRange0To1FakeQuant,
	"Hardsigmoid": fake.DefaultFixedQParamsRange0To1FakeQuant,
	"Softmax":     fake.DefaultFixedQParamsRange0To1FakeQuant,
	"Tanh":        fake.DefaultFixedQParamsRangeNeg1To1FakeQuant,
}

func addObserver(m nn.Module, path string, allow map[string]bool) error {
	t := m.TypeName()
	switch {
	case t == "Dropout" || t == "DeQuantStub":
		return nil
	case t == "FloatFunctional":
		return attach(m, path, nil)
	case specialActivation[t] != nil && m.ModuleBase().Training():
		if QConfigOf(m) == nil {
			return nil
		}
		q, err := specialActivation[t]()
		if err != nil {
			return fmt.Errorf("eager: prepare: %s: %w", describe(path, m), err)
		}
		return attach(m, path, &PostProcess{FakeQuant: q})
	case allow[t] && t != "Sequential":
		return attach(m, path, nil)
	}
	for _, c := range m.ModuleBase().Children() {
		if err := addObserver(c.Module, join(path, c.Name), allow); err != nil {
			return err
		}
	}
	return nil
}

// memoryless is PyTorch's activation_is_memoryless: a moving-average
// observer (or a fake quantizer's) with averaging constant 1 only ever
// reflects the last batch, and PyTorch then observes the module's input
// with a forward pre-hook instead of its output.
func memoryless(pp *PostProcess) bool {
	s := pp.Obs().State()
	return (s.Kind == observer.KindMovingAverageMinMax || s.Kind == observer.KindMovingAveragePerChannelMinMax) && s.AveragingConstant == 1
}

// attach installs an activation post-process on m: pp, or a fresh one from
// m's qconfig when pp is nil. It goes first in OutputHooks, or first in
// PreHooks when memoryless.
func attach(m nn.Module, path string, pp *PostProcess) error {
	b := m.ModuleBase()
	if _, ok := b.QConfig.(*Observed); ok {
		return nil
	}
	qc := QConfigOf(m)
	if qc == nil {
		return nil
	}
	if pp == nil {
		if qc.Activation.IsZero() {
			return nil
		}
		var err error
		if pp, err = qc.Activation.New(); err != nil {
			return fmt.Errorf("eager: prepare: %s: activation observer: %w", describe(path, m), err)
		}
	}
	obs := &Observed{QConfig: qc, ActivationPostProcess: pp, hooked: true, pre: memoryless(pp)}
	b.QConfig = obs
	where := describe(path, m)
	hook := func(times int) nn.Hook {
		return func(x *gorgonia.Node) (*gorgonia.Node, error) {
			y := x
			for i := 0; i < times; i++ {
				var err error
				if y, err = applyPostProcess(y, pp); err != nil {
					return nil, fmt.Errorf("eager: observer of %s: %w", where, err)
				}
			}
			return y, nil
		}
	}
	// PyTorch's fused modules (torch.nn.intrinsic, nn.Sequential subclasses)
	// hold activation_post_process as a child, so their Sequential forward
	// runs it on the output as a last layer, besides the hook: every
	// forward is observed twice (output hook), or input then output
	// (memoryless pre-hook). That changes moving-average statistics, so it
	// is reproduced here.
	_, fused := m.(fuse.Fused)
	switch {
	case obs.pre:
		b.PreHooks = append([]nn.Hook{hook(1)}, b.PreHooks...)
		if fused {
			obs.out = true
			b.OutputHooks = append([]nn.Hook{hook(1)}, b.OutputHooks...)
		}
	case fused:
		obs.out = true
		b.OutputHooks = append([]nn.Hook{hook(2)}, b.OutputHooks...)
	default:
		obs.out = true
		b.OutputHooks = append([]nn.Hook{hook(1)}, b.OutputHooks...)
	}
	return nil
}

func hasQConfig(m nn.Module) bool {
	for _, nm := range nn.NamedModules(m) {
		if QConfigOf(nm.Module) != nil {
			return true
		}
	}
	return false
}

// Prepare is torch.ao.quantization.prepare: on a deep copy of model
// (unless InPlace) it propagates qconfigs (WithQConfigDict) and attaches
// activation observers (AddObserver; WithObservedTypes extends the list).
// Calibrate the result by running batches through it (a fresh graph per
// run, e.g. with Run or DefaultEvalFn), then call Convert. Error: no module
// has a qconfig (PyTorch warns), or AddObserver fails.
func Prepare(model nn.Module, opts ...Option) (nn.Module, error) {
	o := buildOptions(opts)
	if model == nil {
		return nil, fmt.Errorf("eager: prepare: model is nil")
	}
	if !o.inPlace {
		model = model.Clone()
	}
	if err := PropagateQConfig(model, o.dict); err != nil {
		return nil, err
	}
	if !hasQConfig(model) {
		return nil, fmt.Errorf("eager: prepare: no module has a qconfig: set Base.QConfig of the model (e.g. eager.DefaultQConfig()) or pass WithQConfigDict")
	}
	if err := AddObserver(model, propagationList(o.nonLeafTypes)); err != nil {
		return nil, err
	}
	return model, nil
}

// Convert is torch.ao.quantization.convert: on a deep copy (unless
// InPlace) every module with a qconfig whose TypeName is in the mapping
// (WithMapping; default DefaultStaticMapping) is swapped for its converted
// module (SwapModule), fused and QAT modules as one unit. Float modules
// PyTorch runs unchanged on quantized tensors (nodes.PassthroughTypes) are
// wrapped in nodes.Passthrough, whatever their qconfig. Then qconfigs and
// observer hooks are removed (unless KeepQConfig), and every module left
// float gets a pre-hook that turns a quantized input into an error naming
// the module's path (a DeQuantStub is missing, or the module had no
// qconfig or no quantized counterpart). Errors name the module path.
func Convert(model nn.Module, opts ...Option) (nn.Module, error) {
	o := buildOptions(opts)
	if o.mapping == nil {
		o.mapping = DefaultStaticMapping()
	}
	return convert(model, o, true)
}

func convert(model nn.Module, o options, static bool) (nn.Module, error) {
	if model == nil {
		return nil, fmt.Errorf("eager: convert: model is nil")
	}
	if !o.inPlace {
		model = model.Clone()
	}
	if err := convertChildren(model, "", o.mapping, static, o.keepQConfig); err != nil {
		return nil, err
	}
	if !o.keepQConfig {
		removeQConfig(model)
	}
	if static {
		guardFloat(model)
	}
	return model, nil
}

func convertChildren(m nn.Module, path string, mapping Mapping, passthrough, keep bool) error {
	b := m.ModuleBase()
	for _, c := range b.Children() {
		cp := join(path, c.Name)
		if _, unit := mapping[c.Module.TypeName()]; !unit || QConfigOf(c.Module) == nil {
			if err := convertChildren(c.Module, cp, mapping, passthrough, keep); err != nil {
				return err
			}
		}
		repl, err := swap(c.Module, cp, mapping, passthrough, keep)
		if err != nil {
			return err
		}
		if repl != c.Module {
			if err := b.AddModule(c.Name, repl); err != nil {
				return fmt.Errorf("eager: convert: %s: %w", describe(cp, c.Module), err)
			}
		}
	}
	return nil
}

// SwapModule is swap_module: if m has a qconfig and its TypeName is in
// mapping it returns the converted module, carrying m's pre-hooks, its
// output hooks except the observer, and its training flag; otherwise m.
func SwapModule(m nn.Module, mapping Mapping) (nn.Module, error) {
	if m == nil {
		return nil, fmt.Errorf("eager: swap module: nil module")
	}
	return swap(m, "", mapping, false, false)
}

func isPassthrough(t string) bool {
	for _, p := range nodes.PassthroughTypes {
		if p == t {
			return true
		}
	}
	return false
}

func swap(m nn.Module, path string, mapping Mapping, passthrough, keep bool) (nn.Module, error) {
	conv, ok := mapping[m.TypeName()]
	var repl nn.Module
	var err error
	switch {
	case ok && QConfigOf(m) != nil:
		repl, err = conv(m)
	case passthrough && isPassthrough(m.TypeName()):
		repl, err = nodes.NewPassthrough(m)
	default:
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("eager: convert: %s: %w", describe(path, m), err)
	}
	if repl == nil {
		return nil, fmt.Errorf("eager: convert: %s: converter returned nil", describe(path, m))
	}
	b, rb := m.ModuleBase(), repl.ModuleBase()
	rb.PreHooks, rb.OutputHooks = userHooks(b)
	rb.Train(b.Training())
	if keep {
		if qc := QConfigOf(m); qc != nil {
			rb.QConfig = qc
		}
	}
	return repl, nil
}

// userHooks returns b's pre-hooks and output hooks without the observer
// hook.
func userHooks(b *nn.Base) (pre, out []nn.Hook) {
	pre, out = b.PreHooks, b.OutputHooks
	if o, ok := b.QConfig.(*Observed); ok && o.hooked {
		if o.pre && len(pre) > 0 {
			pre = pre[1:]
		}
		if o.out && len(out) > 0 {
			out = out[1:]
		}
	}
	return append([]nn.Hook(nil), pre...), append([]nn.Hook(nil), out...)
}

// removeQConfig drops every qconfig and observer hook after convert, as
// PyTorch's convert does, including on the float modules a Passthrough
// wraps (they are fields, not children, so the tree walk alone misses them).
func removeQConfig(m nn.Module) {
	for _, nm := range nn.NamedModules(m) {
		b := nm.Module.ModuleBase()
		b.PreHooks, b.OutputHooks = userHooks(b)
		b.QConfig = nil
		if pt, ok := nm.Module.(*nodes.Passthrough); ok && pt.Float != nil {
			removeQConfig(pt.Float)
		}
	}
}

// isQuantizedModule reports whether m is a converted module (no guard).
func isQuantizedModule(m nn.Module) bool {
	switch m.(type) {
	case *nodes.QuantizeModule, *nodes.DequantizeModule, *nodes.QuantizedLinear, *nodes.QuantizedConv,
		*nodes.QuantizedActivation, *nodes.QuantizedNorm, *nodes.QFunctional, *nodes.Passthrough,
		*nodes.DynamicQuantizedLinear, *nodes.DynamicQuantizedLSTM, *nodes.DynamicQuantizedGRU, *nodes.DynamicQuantizedCell,
		*nodes.DynamicFP16RNN, *nodes.DynamicFP16Cell:
		return true
	}
	return strings.HasPrefix(m.TypeName(), "Quantized")
}

// guardFloat gives every leaf module that stayed float a pre-hook that
// rejects quantized inputs, and every static quantized module one that
// rejects float inputs, with the module's path.
func guardFloat(model nn.Module) {
	for _, nm := range nn.NamedModules(model) {
		m := nm.Module
		switch m.(type) {
		case *nodes.QuantizedLinear, *nodes.QuantizedConv, *nodes.QuantizedActivation, *nodes.QuantizedNorm, *nodes.DequantizeModule:
			where := describe(nm.Path, m)
			b := m.ModuleBase()
			b.PreHooks = append([]nn.Hook{func(x *gorgonia.Node) (*gorgonia.Node, error) {
				if x != nil && x.Dtype() == tensor.Float32 {
					return nil, fmt.Errorf("eager: %s receives a float32 input but needs a quantized one: is a QuantStub missing before it?", where)
				}
				return x, nil
			}}, b.PreHooks...)
			continue
		}
		if len(m.ModuleBase().Children()) > 0 || isQuantizedModule(m) {
			continue
		}
		where := describe(nm.Path, m)
		why := "it has no qconfig"
		if _, ok := DefaultStaticMapping()[m.TypeName()]; !ok {
			why = "its type has no quantized counterpart in the static mapping (RegisterStatic adds one)"
		}
		b := m.ModuleBase()
		b.PreHooks = append([]nn.Hook{func(x *gorgonia.Node) (*gorgonia.Node, error) {
			if x != nil && x.Dtype() != tensor.Float32 {
				return nil, fmt.Errorf("eager: %s was left float because %s, but it receives a quantized input of dtype %v: put a DeQuantStub before it or quantize it", where, why, x.Dtype())
			}
			return x, nil
		}}, b.PreHooks...)
	}
}

// Quantize is torch.ao.quantization.quantize: a deep copy of model (unless
// InPlace) is put in eval mode, prepared, calibrated by runFn(model,
// args...), and converted.
func Quantize(model nn.Module, runFn func(m nn.Module, args ...any) error, args []any, opts ...Option) (nn.Module, error) {
	o := buildOptions(opts)
	if model == nil || runFn == nil {
		return nil, fmt.Errorf("eager: quantize: nil model or run function")
	}
	if !o.inPlace {
		model = model.Clone()
	}
	nn.Eval(model)
	pOpts := append(append([]Option(nil), opts...), InPlace())
	if _, err := Prepare(model, pOpts...); err != nil {
		return nil, err
	}
	if err := runFn(model, args...); err != nil {
		return nil, fmt.Errorf("eager: quantize: calibration: %w", err)
	}
	return Convert(model, pOpts...)
}

// DefaultDynamicTypes are the module types quantize_dynamic replaces when
// no spec is given: Linear, LSTM, GRU, LSTMCell, GRUCell, RNNCell.
var DefaultDynamicTypes = []string{"Linear", "LSTM", "GRU", "LSTMCell", "GRUCell", "RNNCell"}

// DynamicSpec says what QuantizeDynamic quantizes (PyTorch's qconfig_spec
// and dtype): QConfigs if given; otherwise each of Types (nil:
// DefaultDynamicTypes) with the dtype's default qconfig.
type DynamicSpec struct {
	Types    []string
	QConfigs *QConfigDict
	// Dtype is qdtype.QInt8Dtype (zero value: the default) or
	// observer.Float16.
	Dtype tensor.Dtype
}

// QuantizeDynamic is torch.ao.quantization.quantize_dynamic: a deep copy of
// model (unless InPlace) in eval mode has its qconfigs propagated from spec
// and is converted with the dynamic mapping (DefaultDynamicMapping or
// WithMapping): Linear → nodes.DynamicQuantizedLinear, LSTM →
// DynamicQuantizedLSTM, GRU → DynamicQuantizedGRU, cells →
// DynamicQuantizedCell, weights observed once
// by the qconfig's weight observer. The root module itself is not swapped
// (as in PyTorch); wrap a bare layer in a Sequential. Errors: a dtype other
// than qint8 or float16, converter failures naming the module path.
func QuantizeDynamic(model nn.Module, spec DynamicSpec, opts ...Option) (nn.Module, error) {
	o := buildOptions(opts)
	if model == nil {
		return nil, fmt.Errorf("eager: quantize dynamic: model is nil")
	}
	dict := spec.QConfigs
	if dict == nil {
		var qc *QConfig
		switch spec.Dtype {
		case tensor.Dtype{}, qdtype.QInt8Dtype:
			qc = DefaultDynamicQConfig()
		case observer.Float16:
			qc = Float16DynamicQConfig()
		default:
			return nil, fmt.Errorf("eager: quantize dynamic: dtype %v not supported (qint8 or float16)", spec.Dtype)
		}
		types := spec.Types
		if types == nil {
			types = DefaultDynamicTypes
		}
		dict = &QConfigDict{Types: map[string]*QConfig{}}
		for _, t := range types {
			dict.Types[t] = qc
		}
	}
	if !o.inPlace {
		model = model.Clone()
	}
	nn.Eval(model)
	if err := PropagateQConfig(model, dict); err != nil {
		return nil, err
	}
	if o.mapping == nil {
		o.mapping = DefaultDynamicMapping()
	}
	o.inPlace = true
	return convert(model, o, false)
}

// PrepareQAT is torch.ao.quantization.prepare_qat: the model must be in
// training mode; on a deep copy (unless InPlace) qconfigs are propagated,
// float and fused modules are swapped for their QAT modules (the QAT
// mapping, WithMapping) keeping their qconfigs, and activation fake
// quantizers are attached as Prepare does. Train or observe, then Convert.
func PrepareQAT(model nn.Module, opts ...Option) (nn.Module, error) {
	o := buildOptions(opts)
	if model == nil {
		return nil, fmt.Errorf("eager: prepare qat: model is nil")
	}
	if !model.ModuleBase().Training() {
		return nil, fmt.Errorf("eager: prepare qat: the model is in eval mode; prepare_qat only works in training mode (call Train(true))")
	}
	if !o.inPlace {
		model = model.Clone()
	}
	if err := PropagateQConfig(model, o.dict); err != nil {
		return nil, err
	}
	if !hasQConfig(model) {
		return nil, fmt.Errorf("eager: prepare qat: no module has a qconfig: set Base.QConfig of the model (e.g. eager.GetDefaultQATQConfig(\"x86\", 1))")
	}
	mapping := o.mapping
	if mapping == nil {
		mapping = DefaultQATMapping()
	}
	if err := convertChildren(model, "", mapping, false, true); err != nil {
		return nil, err
	}
	extra := append(mapping.Types(), o.nonLeafTypes...)
	if err := AddObserver(model, propagationList(extra)); err != nil {
		return nil, err
	}
	return model, nil
}

// QuantizeQAT is torch.ao.quantization.quantize_qat: a deep copy (unless
// InPlace) in training mode is prepared for QAT, trained by runFn(model,
// args...), and converted.
func QuantizeQAT(model nn.Module, runFn func(m nn.Module, args ...any) error, args []any, opts ...Option) (nn.Module, error) {
	o := buildOptions(opts)
	if model == nil || runFn == nil {
		return nil, fmt.Errorf("eager: quantize qat: nil model or run function")
	}
	if !o.inPlace {
		model = model.Clone()
	}
	model.ModuleBase().Train(true)
	if _, err := PrepareQAT(model, InPlace()); err != nil {
		return nil, err
	}
	if err := runFn(model, args...); err != nil {
		return nil, fmt.Errorf("eager: quantize qat: training: %w", err)
	}
	return Convert(model, InPlace())
}

// GetObserverDict is get_observer_dict: the activation post-processes of
// the tree by "<path>.activation_post_process".
func GetObserverDict(model nn.Module) map[string]*PostProcess {
	d := map[string]*PostProcess{}
	for _, nm := range nn.NamedModules(model) {
		if pp := ActivationPostProcess(nm.Module); pp != nil {
			d[join(nm.Path, "activation_post_process")] = pp
		}
	}
	return d
}

// AddQuantDequant is add_quant_dequant: every leaf module with a qconfig is
// wrapped in a QuantWrapper (quant → module → dequant). If the root itself
// is such a leaf, the wrapper is returned; otherwise model, modified in
// place.
func AddQuantDequant(model nn.Module) (nn.Module, error) {
	if model == nil {
		return nil, fmt.Errorf("eager: add quant dequant: model is nil")
	}
	if len(model.ModuleBase().Children()) == 0 && QConfigOf(model) != nil {
		return NewQuantWrapper(model)
	}
	b := model.ModuleBase()
	for _, c := range b.Children() {
		if len(c.Module.ModuleBase().Children()) == 0 && QConfigOf(c.Module) != nil {
			w, err := NewQuantWrapper(c.Module)
			if err != nil {
				return nil, err
			}
			if err := b.AddModule(c.Name, w); err != nil {
				return nil, err
			}
			continue
		}
		if _, err := AddQuantDequant(c.Module); err != nil {
			return nil, err
		}
	}
	return model, nil
}
