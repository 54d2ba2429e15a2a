package nn

import (
	"fmt"
	"math"
	"math/rand"
	"sync"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Parameter is a float32 tensor owned by a module: a learnable weight or a
// buffer such as BatchNorm's running mean. Data is the storage itself;
// every graph that uses the parameter binds a node to this same Dense, so a
// Gorgonia solver stepping the node updates the module in place, and
// LoadStateDict copies into it (graphs already built see the new values).
type Parameter struct {
	// Data is the tensor (float32; int64 for num_batches_tracked).
	Data *tensor.Dense
	// RequiresGrad marks a learnable parameter; Learnables skips it when false.
	RequiresGrad bool

	id        uint64
	mu        sync.Mutex // guards the binding cache: graphs may be built concurrently
	lastGraph *gorgonia.ExprGraph
	lastNode  *gorgonia.Node
}

// NewParameter wraps d as a learnable parameter.
func NewParameter(d *tensor.Dense) *Parameter {
	return &Parameter{Data: d, RequiresGrad: true, id: nextOpID()}
}

// newBuffer wraps d as a non-learnable buffer.
func newBuffer(d *tensor.Dense) *Parameter {
	return &Parameter{Data: d, id: nextOpID()}
}

// Clone returns a parameter with a deep copy of the data and no graph binding.
func (p *Parameter) Clone() *Parameter {
	if p == nil {
		return nil
	}
	return &Parameter{Data: p.Data.Clone().(*tensor.Dense), RequiresGrad: p.RequiresGrad, id: nextOpID()}
}

// nodeName is the parameter's unique node name in any graph.
func (p *Parameter) nodeName() string { return fmt.Sprintf("nn.param#%d", p.id) }

// Node returns the input node of g bound to p.Data, creating it on first
// use: every Forward on the same graph shares one node per parameter.
func (p *Parameter) Node(g *gorgonia.ExprGraph) (*gorgonia.Node, error) {
	if p == nil {
		return nil, fmt.Errorf("nn: parameter is nil (module not built by its constructor?)")
	}
	if g == nil {
		return nil, fmt.Errorf("nn: parameter: graph is nil")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastGraph == g && p.lastNode != nil {
		return p.lastNode, nil
	}
	if n := p.find(g); n != nil {
		p.lastGraph, p.lastNode = g, n
		return n, nil
	}
	d := p.Data
	if d == nil {
		return nil, fmt.Errorf("nn: parameter: data is nil")
	}
	if d.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("nn: parameter: dtype %v, want float32", d.Dtype())
	}
	s := d.Shape()
	n := gorgonia.NewTensor(g, tensor.Float32, s.Dims(), gorgonia.WithShape(s.Clone()...), gorgonia.WithValue(d), gorgonia.WithName(p.nodeName()))
	p.lastGraph, p.lastNode = g, n
	return n, nil
}

// find returns p's node in g, or nil.
func (p *Parameter) find(g *gorgonia.ExprGraph) *gorgonia.Node {
	name := p.nodeName()
	for _, n := range g.AllNodes() {
		if n.Name() == name && n.Op() == nil {
			return n
		}
	}
	return nil
}

// Learnables returns the nodes of g bound to m's learnable parameters
// (RequiresGrad), in NamedParametersOf order; parameters m did not use on g
// are skipped. Pass them to gorgonia.Grad, gorgonia.BindDualValues and
// gorgonia.NodesToValueGrads for a solver.
func Learnables(m Module, g *gorgonia.ExprGraph) gorgonia.Nodes {
	byName := map[string]*gorgonia.Node{}
	for _, n := range g.AllNodes() {
		if n.Op() == nil {
			byName[n.Name()] = n
		}
	}
	var out gorgonia.Nodes
	for _, np := range NamedParametersOf(m) {
		if !np.Param.RequiresGrad {
			continue
		}
		if n, ok := byName[np.Param.nodeName()]; ok {
			out = append(out, n)
		}
	}
	return out
}

// Option configures a module constructor.
type Option func(*options)

type options struct {
	rng                                      *rand.Rand
	noBias                                   bool
	stride, padding, dilation, outputPadding []int
	groups                                   int
	paddingSame                              bool
}

// WithSeed makes the constructor draw its initial weights from a fresh
// source seeded with seed (repeatable models).
func WithSeed(seed int64) Option {
	return func(o *options) { o.rng = rand.New(rand.NewSource(seed)) }
}

// WithRand makes the constructor draw its initial weights from r.
func WithRand(r *rand.Rand) Option { return func(o *options) { o.rng = r } }

// WithBias(false) builds the module without a bias (PyTorch's bias=False).
func WithBias(b bool) Option { return func(o *options) { o.noBias = !b } }

var (
	globalMu  sync.Mutex
	globalRNG = rand.New(rand.NewSource(0))
)

// ManualSeed reseeds the source constructors use when given no WithSeed or
// WithRand (PyTorch's torch.manual_seed; the streams differ from PyTorch's).
func ManualSeed(seed int64) {
	globalMu.Lock()
	globalRNG = rand.New(rand.NewSource(seed))
	globalMu.Unlock()
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

// uniform fills a new float32 tensor of shape with U(−bound, bound).
func (o options) uniform(bound float64, shape ...int) *tensor.Dense {
	d := newF32(tensor.Shape(shape))
	data := d.Float32s()
	if o.rng == nil {
		globalMu.Lock()
		defer globalMu.Unlock()
		fillUniform(globalRNG, data, bound)
	} else {
		fillUniform(o.rng, data, bound)
	}
	return d
}

// normal fills a new float32 tensor of shape with N(0, 1).
func (o options) normal(shape ...int) *tensor.Dense {
	d := newF32(tensor.Shape(shape))
	data := d.Float32s()
	r := o.rng
	if r == nil {
		globalMu.Lock()
		defer globalMu.Unlock()
		r = globalRNG
	}
	for i := range data {
		data[i] = float32(r.NormFloat64())
	}
	return d
}

func fillUniform(r *rand.Rand, data []float32, bound float64) {
	for i := range data {
		data[i] = float32((2*r.Float64() - 1) * bound)
	}
}

// kaimingBound is the bound PyTorch's kaiming_uniform_(a=√5) gives for a
// fan-in, 1/√fan_in, also the bias bound of Linear and Conv.
func kaimingBound(fanIn int) float64 {
	if fanIn <= 0 {
		return 0
	}
	return 1 / math.Sqrt(float64(fanIn))
}

// filled returns a float32 tensor of shape filled with v.
func filled(v float32, shape ...int) *tensor.Dense {
	d := newF32(tensor.Shape(shape))
	data := d.Float32s()
	for i := range data {
		data[i] = v
	}
	return d
}
