package numeric

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// DefaultMaxSamples is how many (float, quantized) value pairs a layer keeps
// for its histogram unless WithMaxSamples says otherwise.
const DefaultMaxSamples = 1 << 16

// Option configures CompareModelOutputs, CompareModelStub and Run.
type Option func(*config)

type config struct {
	types      []string
	maxSamples int
}

func newConfig(opts []Option) config {
	c := config{maxSamples: DefaultMaxSamples}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithTypes compares only the modules whose float TypeName is one of
// types ("Conv2d", "ConvReLU2d", "Linear", "LSTM", ...): PyTorch's
// allow_list of compare_model_outputs and module_swap_list of
// compare_model_stub. By default every matching pair is compared.
func WithTypes(types ...string) Option {
	return func(c *config) { c.types = append([]string(nil), types...) }
}

// WithMaxSamples sets how many (float, quantized) value pairs each layer
// keeps, sampled uniformly over all batches, for PlotHistogram (default
// DefaultMaxSamples; 0 keeps none). Metrics always use every value.
func WithMaxSamples(n int) Option {
	return func(c *config) { c.maxSamples = max(n, 0) }
}

// capture is one logged module output of one run.
type capture struct {
	key string
	val gorgonia.Value
	qp  *qdtype.QParams
}

// recorder collects the captures of one graph.
type recorder struct{ caps []*capture }

// log adds a Read of y to y's graph; its value is available after the run.
func (r *recorder) log(key string, y *gorgonia.Node) error {
	c := &capture{key: key}
	if y.Dtype() != tensor.Float32 {
		qp, err := nodes.QParamsOf(y)
		if err != nil {
			return fmt.Errorf("numeric: layer %s: output of dtype %v is neither float32 nor a quantized node with known qparams: %w", displayName(key), y.Dtype(), err)
		}
		c.qp = &qp
	}
	gorgonia.Read(y, &c.val)
	r.caps = append(r.caps, c)
	return nil
}

// tensor returns the values of a float capture (x), or the QTensor of a
// quantized one (q), and the shape.
func (c *capture) tensor() (x []float32, q *qtensor.QTensor, shape []int, err error) {
	d, ok := c.val.(*tensor.Dense)
	if !ok {
		return nil, nil, nil, fmt.Errorf("value is %T, want *tensor.Dense (did the graph run?)", c.val)
	}
	if c.qp == nil {
		if d.Dtype() != tensor.Float32 {
			return nil, nil, nil, fmt.Errorf("value has dtype %v, want float32", d.Dtype())
		}
		return denseFloats(d), nil, d.Shape().Clone(), nil
	}
	if d.RequiresIterator() {
		d = d.Materialize().(*tensor.Dense)
	}
	q, err = qtensor.New(d, *c.qp)
	if err != nil {
		return nil, nil, nil, err
	}
	return nil, q, d.Shape().Clone(), nil
}

// hookSaver restores the hook lists a comparison changed.
type hookSaver struct {
	bases []*nn.Base
	pre   [][]nn.Hook
	out   [][]nn.Hook
}

func (h *hookSaver) save(m nn.Module) *nn.Base {
	b := m.ModuleBase()
	for _, s := range h.bases {
		if s == b {
			return b
		}
	}
	h.bases = append(h.bases, b)
	h.pre = append(h.pre, b.PreHooks)
	h.out = append(h.out, b.OutputHooks)
	b.PreHooks = append([]nn.Hook(nil), b.PreHooks...)
	b.OutputHooks = append([]nn.Hook(nil), b.OutputHooks...)
	return b
}

func (h *hookSaver) restore() {
	for i, b := range h.bases {
		b.PreHooks, b.OutputHooks = h.pre[i], h.out[i]
	}
}

// runGraph builds m on a fresh graph with input x and runs it once.
func runGraph(m nn.Module, x *tensor.Dense) error {
	g := gorgonia.NewGraph()
	in := gorgonia.NewTensor(g, x.Dtype(), x.Dims(), gorgonia.WithShape(x.Shape().Clone()...), gorgonia.WithName("x"))
	if err := gorgonia.Let(in, x); err != nil {
		return err
	}
	if _, err := nn.Call(m, in); err != nil {
		return err
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	return vm.RunAll()
}

func checkInputs(op string, inputs []*tensor.Dense) error {
	if len(inputs) == 0 {
		return fmt.Errorf("numeric: %s: no input batches", op)
	}
	for i, x := range inputs {
		if x == nil {
			return fmt.Errorf("numeric: %s: input batch %d is nil", op, i)
		}
		switch x.Dtype() {
		case tensor.Float32, tensor.Int64, tensor.Int, tensor.Int32:
		default:
			return fmt.Errorf("numeric: %s: input batch %d has dtype %v, want float32 (or integer token ids)", op, i, x.Dtype())
		}
		if x.Dims() == 0 {
			return fmt.Errorf("numeric: %s: input batch %d is a scalar", op, i)
		}
	}
	return nil
}

// newLayer starts the Layer of a pair.
func newLayer(kind Kind, p *pair, maxSamples int) *Layer {
	return &Layer{Name: p.path, Kind: kind, FloatPath: p.floatPath(), FloatType: p.floatType(),
		QuantType: p.quant.TypeName(), acc: newAccum(maxSamples)}
}

// addPair accumulates one float capture against its quantized twin.
func (l *Layer) addPair(fc, qc *capture) error {
	x, fq, fshape, err := fc.tensor()
	if err != nil {
		return fmt.Errorf("float output: %w", err)
	}
	if fq != nil {
		// The float twin produced a quantized value (a module left
		// quantized in the "float" model): compare its real values.
		d, err := fq.Dequantize()
		if err != nil {
			return err
		}
		x = d.Float32s()
	}
	y, q, qshape, err := qc.tensor()
	if err != nil {
		return fmt.Errorf("quantized output: %w", err)
	}
	if !tensor.Shape(fshape).Eq(tensor.Shape(qshape)) {
		return fmt.Errorf("float output shape %v, quantized output shape %v", fshape, qshape)
	}
	if l.Shape == nil {
		l.Shape = qshape
		if q != nil {
			qp := q.QParams()
			l.QParams = &qp
		}
	}
	l.Calls++
	if q != nil {
		return l.acc.addQuant(x, q)
	}
	return l.acc.addFloat(x, y)
}

// CompareModelOutputs is torch.ao.ns._numeric_suite.compare_model_outputs:
// every input batch runs through floatModel and quantModel (each on a
// fresh graph with a TapeMachine), loggers record the output of every
// matching module pair — a module of the quantized model that computes
// something (not Identity, Dropout, DeQuantize or a container) and the
// float module at the same path — and the metrics of the dequantized
// quantized output against the float output are accumulated over all
// batches. The error of a layer here includes the error it inherits from the
// layers before it; CompareModelStub separates its own.
//
// floatModel should be the fused float model the quantized one was
// converted from (fuse.FuseModules' result; paths then match one to one).
// With the unfused model, a fused group is matched too: QuantizedConvReLU2d
// at "0" with Identity at "1" and "2" is compared with the output of the
// float module at "2".
//
// Recurrent modules that their parent runs through ForwardState (as
// examples/lstm's language model runs its LSTM) are logged too: while the
// comparison runs they are replaced by a wrapper with the same ForwardState.
// Inputs are float32 batches, or integer token ids for models that start
// with an Embedding. Modules that did not run are left out.
//
// Modules whose forward depends on the mode (BatchNorm, Dropout, LSTM)
// must be in eval mode. The models get temporary hooks (and wrappers),
// removed before returning; do not use them concurrently meanwhile.
// Errors: nil models, no inputs or a non-float32 input, a model in training
// mode, no matching module, a model failing on an input, shapes of matched
// outputs that differ, non-finite outputs.
func CompareModelOutputs(floatModel, quantModel nn.Module, inputs []*tensor.Dense, opts ...Option) (*Comparison, error) {
	const op = "compare model outputs"
	cfg := newConfig(opts)
	pairs, err := matchModules(op, floatModel, quantModel, cfg.types)
	if err != nil {
		return nil, err
	}
	if err := checkInputs(op, inputs); err != nil {
		return nil, err
	}
	if err := checkEval(op, "float", floatModel); err != nil {
		return nil, err
	}
	if err := checkEval(op, "quantized", quantModel); err != nil {
		return nil, err
	}
	var in instrumenter
	defer in.restore()
	var frec, qrec recorder
	layers := make([]*Layer, len(pairs))
	for i, p := range pairs {
		layers[i] = newLayer(KindOutput, p, cfg.maxSamples)
		key := p.path
		last := p.group[len(p.group)-1]
		if err := in.attach(floatModel, last.Path, last.Module, func(_ *gorgonia.Node, _ []*gorgonia.Node, y *gorgonia.Node) error {
			return frec.log(key, y)
		}); err != nil {
			return nil, fmt.Errorf("numeric: %s: %w", op, err)
		}
		if err := in.attach(quantModel, p.path, p.quant, func(_ *gorgonia.Node, _ []*gorgonia.Node, y *gorgonia.Node) error {
			return qrec.log(key, y)
		}); err != nil {
			return nil, fmt.Errorf("numeric: %s: %w", op, err)
		}
	}
	byKey := map[string]*Layer{}
	for _, l := range layers {
		byKey[l.Name] = l
	}
	for b, x := range inputs {
		frec.caps, qrec.caps = nil, nil
		if err := runGraph(floatModel, x); err != nil {
			return nil, fmt.Errorf("numeric: %s: float model, batch %d: %w", op, b, err)
		}
		if err := runGraph(quantModel, x); err != nil {
			return nil, fmt.Errorf("numeric: %s: quantized model, batch %d: %w", op, b, err)
		}
		if err := matchCaptures(byKey, frec.caps, qrec.caps); err != nil {
			return nil, fmt.Errorf("numeric: %s: batch %d: %w", op, b, err)
		}
	}
	return finish(KindOutput, len(inputs), layers), nil
}

// matchCaptures pairs the k-th float capture of a key with the k-th
// quantized capture of the same key (a module run twice is logged twice).
func matchCaptures(byKey map[string]*Layer, fcaps, qcaps []*capture) error {
	fq := map[string][]*capture{}
	for _, c := range fcaps {
		fq[c.key] = append(fq[c.key], c)
	}
	seen := map[string]int{}
	for _, qc := range qcaps {
		k := seen[qc.key]
		seen[qc.key]++
		fs := fq[qc.key]
		if k >= len(fs) {
			return fmt.Errorf("layer %s ran %d times in the quantized model but %d in the float model", displayName(qc.key), k+1, len(fs))
		}
		if err := byKey[qc.key].addPair(fs[k], qc); err != nil {
			return fmt.Errorf("layer %s: %w", displayName(qc.key), err)
		}
	}
	return nil
}

// CompareModelStub is torch.ao.ns._numeric_suite.compare_model_stub with
// the default ShadowLogger: every matching quantized module gets its float
// twin as a shadow that runs on the same input, dequantized (a dynamic
// module's float input as is), and the metrics of the quantized output
// against the shadow's output are accumulated over all batches. Because
// both see the same input, a layer's metrics here measure its own error,
// not the error it inherits: the comparison SuggestFloatFallback ranks.
// Modules left float in the quantized model (same type as their twin) are
// not shadowed, as in PyTorch.
//
// Matching, eval mode, hooks and errors are as CompareModelOutputs; only
// the quantized model runs (the float twins run inside its graph).
func CompareModelStub(floatModel, quantModel nn.Module, inputs []*tensor.Dense, opts ...Option) (*Comparison, error) {
	const op = "compare model stub"
	cfg := newConfig(opts)
	all, err := matchModules(op, floatModel, quantModel, cfg.types)
	if err != nil {
		return nil, err
	}
	var pairs []*pair
	for _, p := range all {
		if !sameTypes(p) && !isFunctional(p.quant) {
			pairs = append(pairs, p)
		}
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("numeric: %s: every matching module of the quantized model is still float", op)
	}
	if err := checkInputs(op, inputs); err != nil {
		return nil, err
	}
	if err := checkEval(op, "float", floatModel); err != nil {
		return nil, err
	}
	if err := checkEval(op, "quantized", quantModel); err != nil {
		return nil, err
	}
	var in instrumenter
	defer in.restore()
	var frec, qrec recorder
	layers := make([]*Layer, len(pairs))
	for i, p := range pairs {
		layers[i] = newLayer(KindShadow, p, cfg.maxSamples)
		key, p := p.path, p
		err := in.attach(quantModel, p.path, p.quant, func(x *gorgonia.Node, states []*gorgonia.Node, y *gorgonia.Node) error {
			if x == nil {
				return fmt.Errorf("numeric: shadow of %s: the module's input is unknown (FloatFunctional methods run no pre-hooks)", displayName(key))
			}
			xf := x
			if x.Dtype() != tensor.Float32 && x.Dtype() != tensor.Int64 && x.Dtype() != tensor.Int && x.Dtype() != tensor.Int32 {
				var err error
				if xf, err = nodes.Dequantize(x); err != nil {
					return fmt.Errorf("numeric: shadow of %s: %w", displayName(key), err)
				}
			}
			ys, err := p.forwardFloat(xf, states)
			if err != nil {
				return fmt.Errorf("numeric: shadow of %s: float twin %s: %w", displayName(key), p.floatType(), err)
			}
			if err := frec.log(key, ys); err != nil {
				return err
			}
			return qrec.log(key, y)
		})
		if err != nil {
			return nil, fmt.Errorf("numeric: %s: %w", op, err)
		}
	}
	byKey := map[string]*Layer{}
	for _, l := range layers {
		byKey[l.Name] = l
	}
	for b, x := range inputs {
		frec.caps, qrec.caps = nil, nil
		if err := runGraph(quantModel, x); err != nil {
			return nil, fmt.Errorf("numeric: %s: batch %d: %w", op, b, err)
		}
		if err := matchCaptures(byKey, frec.caps, qrec.caps); err != nil {
			return nil, fmt.Errorf("numeric: %s: batch %d: %w", op, b, err)
		}
	}
	return finish(KindShadow, len(inputs), layers), nil
}

// finish computes the metrics of every layer and drops layers that never
// ran.
func finish(kind Kind, batches int, layers []*Layer) *Comparison {
	c := &Comparison{Kind: kind, Batches: batches}
	for _, l := range layers {
		if l.Calls == 0 && kind != KindWeight {
			continue
		}
		l.Metrics = l.acc.metrics()
		l.samplesF, l.samplesQ = l.acc.sf, l.acc.sq
		l.acc = nil
		c.Layers = append(c.Layers, l)
	}
	return c
}
