package nn

import (
	"fmt"
	"hash"
	"math/rand"
	"sync"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Dropout zeroes each element with probability P in training mode and
// scales the survivors by 1/(1−P); in eval mode it is the identity.
// PyTorch: torch.nn.Dropout (default p 0.5). A fresh mask is drawn on every
// run of the graph from the module's own source (WithSeed makes it
// repeatable; PyTorch's stream is not reproduced).
type Dropout struct {
	Base
	Stateless
	P float64

	mu  *sync.Mutex
	rng *rand.Rand
}

// NewDropout returns a Dropout with drop probability p in [0, 1].
func NewDropout(p float64, opts ...Option) (*Dropout, error) {
	if !(p >= 0 && p <= 1) {
		return nil, fmt.Errorf("nn: dropout: probability %v not in [0, 1]", p)
	}
	o := buildOptions(opts)
	r := o.rng
	if r == nil {
		globalMu.Lock()
		r = rand.New(rand.NewSource(globalRNG.Int63()))
		globalMu.Unlock()
	}
	return &Dropout{P: p, mu: &sync.Mutex{}, rng: r}, nil
}

// TypeName returns "Dropout".
func (m *Dropout) TypeName() string { return "Dropout" }

// Forward returns x in eval mode (or P = 0), whatever its dtype, else a
// dropout node (float32 only).
func (m *Dropout) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if x == nil {
		return nil, fmt.Errorf("nn: dropout: input node is nil")
	}
	if !m.Training() || m.P == 0 {
		// Any dtype passes: a converted (quantized) model keeps its Dropout.
		return x, nil
	}
	if err := checkF32Node("dropout", x, -1); err != nil {
		return nil, err
	}
	if m.rng == nil {
		m.mu, m.rng = &sync.Mutex{}, rand.New(rand.NewSource(0))
	}
	return gorgonia.ApplyOp(&dropoutOp{p: m.P, mu: m.mu, rng: m.rng, id: nextOpID()}, x)
}

// Clone returns a copy with its own random source, seeded from m's.
func (m *Dropout) Clone() Module {
	c := *m
	c.Base = m.cloneBase()
	c.mu = &sync.Mutex{}
	if m.rng != nil {
		m.mu.Lock()
		c.rng = rand.New(rand.NewSource(m.rng.Int63()))
		m.mu.Unlock()
	}
	return &c
}

// dropoutOp draws mask[i] ∈ {0, 1/(1−p)} per run and returns x ⊙ mask;
// its gradient multiplies by the same mask.
type dropoutOp struct {
	p    float64
	mu   *sync.Mutex
	rng  *rand.Rand
	id   uint64
	mask []float32
}

var (
	_ gorgonia.SDOp = &dropoutOp{}
	_ gorgonia.ADOp = &dropoutOp{}
)

func (op *dropoutOp) Arity() int    { return 1 }
func (op *dropoutOp) Type() hm.Type { return sameType() }
func (op *dropoutOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return shapeOf(in[0])
}
func (op *dropoutOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("nn: dropout: got %d inputs, want 1", len(in))
	}
	x, err := f32Data("dropout", in[0], nil)
	if err != nil {
		return nil, err
	}
	if cap(op.mask) < len(x) {
		op.mask = make([]float32, len(x))
	}
	op.mask = op.mask[:len(x)]
	scale := float32(0)
	if op.p < 1 {
		scale = float32(1 / (1 - op.p))
	}
	op.mu.Lock()
	for i := range op.mask {
		if op.rng.Float64() < op.p {
			op.mask[i] = 0
		} else {
			op.mask[i] = scale
		}
	}
	op.mu.Unlock()
	out := newF32(in[0].Shape())
	y := out.Float32s()
	for i, v := range x {
		y[i] = v * op.mask[i]
	}
	return out, nil
}
func (op *dropoutOp) ReturnsPtr() bool      { return false }
func (op *dropoutOp) CallsExtern() bool     { return false }
func (op *dropoutOp) OverwritesInput() int  { return -1 }
func (op *dropoutOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "nn.dropout:%v:%d", op.p, op.id) }
func (op *dropoutOp) Hashcode() uint32      { return hashOf(op) }
func (op *dropoutOp) String() string        { return fmt.Sprintf("dropout(%v)", op.p) }
func (op *dropoutOp) DiffWRT(int) []bool    { return []bool{true} }
func (op *dropoutOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	d, err := gorgonia.ApplyOp(&dropoutDiffOp{op}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}
func (op *dropoutOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad("dropout", output)
	if err != nil {
		return err
	}
	if len(op.mask) != len(g) {
		return fmt.Errorf("nn: dropout: backward before forward (mask %d, grad %d)", len(op.mask), len(g))
	}
	dx := make([]float32, len(g))
	for i := range g {
		dx[i] = g[i] * op.mask[i]
	}
	return accumulateGrad("dropout", inputs[0], dx)
}

// dropoutDiffOp multiplies the incoming gradient by the forward mask.
type dropoutDiffOp struct{ fwd *dropoutOp }

func (op *dropoutDiffOp) Arity() int    { return 1 }
func (op *dropoutDiffOp) Type() hm.Type { return sameType() }
func (op *dropoutDiffOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return shapeOf(in[0])
}
func (op *dropoutDiffOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("nn: dropout grad: got %d inputs, want 1", len(in))
	}
	g, err := f32Data("dropout grad", in[0], nil)
	if err != nil {
		return nil, err
	}
	if len(op.fwd.mask) != len(g) {
		return nil, fmt.Errorf("nn: dropout grad: backward before forward (mask %d, grad %d)", len(op.fwd.mask), len(g))
	}
	out := newF32(in[0].Shape())
	y := out.Float32s()
	for i := range g {
		y[i] = g[i] * op.fwd.mask[i]
	}
	return out, nil
}
func (op *dropoutDiffOp) ReturnsPtr() bool     { return false }
func (op *dropoutDiffOp) CallsExtern() bool    { return false }
func (op *dropoutDiffOp) OverwritesInput() int { return -1 }
func (op *dropoutDiffOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "nn.dropoutgrad:%d", op.fwd.id)
}
func (op *dropoutDiffOp) Hashcode() uint32   { return hashOf(op) }
func (op *dropoutDiffOp) String() string     { return "dropout'" }
func (op *dropoutDiffOp) DiffWRT(int) []bool { return []bool{true} }
func (op *dropoutDiffOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	d, err := gorgonia.ApplyOp(op, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}
