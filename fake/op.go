package fake

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// opIDs numbers every stateful op so that WriteHash is unique: Gorgonia
// hash-conses nodes, and two fake-quant ops on the same input must stay two
// nodes with two observers.
var opIDs atomic.Uint64

func hashOf(op interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// valueDense returns a float32 Gorgonia value as a Dense (tensor values are
// used as is; other values with []float32 data are wrapped without a copy).
func valueDense(op string, v gorgonia.Value) (*tensor.Dense, error) {
	if v == nil {
		return nil, fmt.Errorf("fake: %s: nil value", op)
	}
	if v.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("fake: %s: value has dtype %v, want float32", op, v.Dtype())
	}
	if d, ok := v.(*tensor.Dense); ok {
		return d, nil
	}
	switch data := v.Data().(type) {
	case []float32:
		return tensor.New(tensor.WithShape(v.Shape().Clone()...), tensor.WithBacking(data)), nil
	case float32:
		return tensor.New(tensor.FromScalar(data)), nil
	}
	return nil, fmt.Errorf("fake: %s: unsupported value type %T", op, v)
}

// float32Data returns the float32 elements of a value without copying when
// possible (the returned slice aliases contiguous storage).
func float32Data(op string, v gorgonia.Value) ([]float32, error) {
	d, err := valueDense(op, v)
	if err != nil {
		return nil, err
	}
	data, _, err := denseData(op, d)
	return data, err
}

// copyInto copies src into prealloc, which must be a float32 Dense of the
// same size that does not alias the inputs.
func copyInto(op string, prealloc gorgonia.Value, src *tensor.Dense) (gorgonia.Value, error) {
	dst, ok := prealloc.(*tensor.Dense)
	if !ok || dst.Dtype() != tensor.Float32 || dst.RequiresIterator() {
		return nil, fmt.Errorf("fake: %s: preallocated value must be a contiguous float32 Dense, got %T", op, prealloc)
	}
	if !dst.Shape().Eq(src.Shape()) && dst.Shape().TotalSize() != src.Shape().TotalSize() {
		return nil, fmt.Errorf("fake: %s: preallocated shape %v, want %v", op, dst.Shape(), src.Shape())
	}
	n := src.Shape().TotalSize()
	if src.IsScalar() {
		n = 1
	}
	if n > 0 {
		copy(dst.Float32s()[:n], src.Float32s()[:n])
	}
	return dst, nil
}

// Op is the Gorgonia op of a fake-quantize module (a Quantizer): forward
// y = FakeQuant(x) (observing first when the op is in training mode and the
// module's observer is enabled), backward the straight-through estimator
// dX = dY·mask with the mask of the last forward. It implements
// gorgonia.SDOp, ADOp, UsePreallocDoer and TrainModeOp; a unique id in its
// hash keeps two ops from merging. Build one with FakeQuantize.
type Op struct {
	id       uint64
	q        Quantizer
	training bool
	mask     []bool
}

// FakeQuantize applies the fake-quantize module q to the float32 node x and
// returns the output node and the op. q is held by the op (not copied): its
// observer and buffers update as the graph runs, and the caller keeps it for
// CalculateQParams, EnableObserver, ... It returns an error for a nil q, a
// non-float32 x, or an x from no graph.
func FakeQuantize(x *gorgonia.Node, q Quantizer) (*gorgonia.Node, *Op, error) {
	if x == nil || q == nil {
		return nil, nil, fmt.Errorf("fake: FakeQuantize: nil node or quantizer")
	}
	if x.Dtype() != tensor.Float32 {
		return nil, nil, fmt.Errorf("fake: FakeQuantize: node %s has dtype %v, want float32", x.Name(), x.Dtype())
	}
	op := &Op{id: opIDs.Add(1), q: q, training: true}
	y, err := gorgonia.ApplyOp(op, x)
	if err != nil {
		return nil, nil, fmt.Errorf("fake: FakeQuantize: %w", err)
	}
	return y, op, nil
}

// Quantizer returns the module the op drives.
func (op *Op) Quantizer() Quantizer { return op.q }

// Arity is 1.
func (op *Op) Arity() int { return 1 }

// Type is a → a.
func (op *Op) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}

// InferShape returns the input shape.
func (op *Op) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(ds) != 1 {
		return nil, fmt.Errorf("fake: FakeQuantize: %d inputs, want 1", len(ds))
	}
	s, ok := ds[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("fake: FakeQuantize: input shape is %T", ds[0])
	}
	return s.Clone(), nil
}

// Do runs the module's forward.
func (op *Op) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("fake: FakeQuantize: %d inputs, want 1", len(inputs))
	}
	x, err := valueDense("FakeQuantize", inputs[0])
	if err != nil {
		return nil, err
	}
	y, mask, err := op.q.FakeQuant(x, op.training)
	if err != nil {
		return nil, err
	}
	op.mask = mask
	return y, nil
}

// UsePreallocDo runs the forward into prealloc.
func (op *Op) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	y, err := op.Do(inputs...)
	if err != nil {
		return nil, err
	}
	return copyInto("FakeQuantize", prealloc, y.(*tensor.Dense))
}

// ReturnsPtr is false.
func (op *Op) ReturnsPtr() bool { return false }

// CallsExtern is false.
func (op *Op) CallsExtern() bool { return false }

// OverwritesInput is -1: the input is never overwritten.
func (op *Op) OverwritesInput() int { return -1 }

// WriteHash writes the op's unique id.
func (op *Op) WriteHash(h hash.Hash) { fmt.Fprintf(h, "qgorgonia.FakeQuantize#%d", op.id) }

// Hashcode is the FNV-32a of WriteHash.
func (op *Op) Hashcode() uint32 { return hashOf(op) }

// String describes the op.
func (op *Op) String() string { return fmt.Sprintf("FakeQuantize#%d", op.id) }

// SetTraining sets training mode: the observer updates only in training.
func (op *Op) SetTraining(training bool) error { op.training = training; return nil }

// DiffWRT is [true].
func (op *Op) DiffWRT(inputs int) []bool { return []bool{true} }

// SymDiff returns the STE gradient node dY·mask.
func (op *Op) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("fake: FakeQuantize: %d inputs, want 1", len(inputs))
	}
	dx, err := gorgonia.ApplyOp(&steDiffOp{op}, inputs[0], output, grad)
	if err != nil {
		return nil, fmt.Errorf("fake: FakeQuantize: %w", err)
	}
	return gorgonia.Nodes{dx}, nil
}

// DoDiff adds dY·mask into the input's gradient (LispMachine).
func (op *Op) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	if len(inputs) != 1 {
		return fmt.Errorf("fake: FakeQuantize: %d inputs, want 1", len(inputs))
	}
	dyv, err := output.Grad()
	if err != nil {
		return fmt.Errorf("fake: FakeQuantize: output gradient: %w", err)
	}
	dxv, err := inputs[0].Grad()
	if err != nil {
		return fmt.Errorf("fake: FakeQuantize: input gradient: %w", err)
	}
	dy, err := float32Data("FakeQuantize", dyv)
	if err != nil {
		return err
	}
	dx, err := float32Data("FakeQuantize", dxv)
	if err != nil {
		return err
	}
	if len(dy) != len(op.mask) || len(dx) != len(op.mask) {
		return fmt.Errorf("fake: FakeQuantize: gradient sizes %d and %d, mask %d", len(dy), len(dx), len(op.mask))
	}
	for i, m := range op.mask {
		if m {
			dx[i] += dy[i]
		}
	}
	return nil
}

// steDiffOp computes dX = dY·mask from (x, y, dY); y is an input only so the
// forward runs first.
type steDiffOp struct{ fwd *Op }

func (op *steDiffOp) Arity() int { return 3 }
func (op *steDiffOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a, a)
}
func (op *steDiffOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(ds) != 3 {
		return nil, fmt.Errorf("fake: FakeQuantize backward: %d inputs, want 3", len(ds))
	}
	s, ok := ds[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("fake: FakeQuantize backward: input shape is %T", ds[0])
	}
	return s.Clone(), nil
}
func (op *steDiffOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("fake: FakeQuantize backward: %d inputs, want 3", len(inputs))
	}
	x, err := valueDense("FakeQuantize backward", inputs[0])
	if err != nil {
		return nil, err
	}
	dy, err := float32Data("FakeQuantize backward", inputs[2])
	if err != nil {
		return nil, err
	}
	mask := op.fwd.mask
	if len(dy) != len(mask) {
		return nil, fmt.Errorf("fake: FakeQuantize backward: gradient has %d elements, the last forward %d", len(dy), len(mask))
	}
	out := make([]float32, len(dy))
	for i, m := range mask {
		if m {
			out[i] = dy[i]
		}
	}
	shape := x.Shape()
	if x.IsScalar() {
		shape = tensor.Shape{}
	}
	return denseOrEmpty(shape, out), nil
}
func (op *steDiffOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	v, err := op.Do(inputs...)
	if err != nil {
		return nil, err
	}
	return copyInto("FakeQuantize backward", prealloc, v.(*tensor.Dense))
}
func (op *steDiffOp) ReturnsPtr() bool     { return false }
func (op *steDiffOp) CallsExtern() bool    { return false }
func (op *steDiffOp) OverwritesInput() int { return -1 }
func (op *steDiffOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "qgorgonia.FakeQuantizeSTE#%d", op.fwd.id)
}
func (op *steDiffOp) Hashcode() uint32          { return hashOf(op) }
func (op *steDiffOp) String() string            { return fmt.Sprintf("FakeQuantizeSTE#%d", op.fwd.id) }
func (op *steDiffOp) DiffWRT(inputs int) []bool { return make([]bool, inputs) }
func (op *steDiffOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return nil, fmt.Errorf("fake: the FakeQuantize gradient is not differentiable")
}

// The graph-wide helpers walk every node of g and set the flags of every
// fake-quantize op they find (FakeQuantize and LearnableFakeQuantize),
// like PyTorch's model.apply(torch.ao.quantization.enable_observer) etc.
// They return the number of ops changed.

// EnableObservers turns the observers of every fake-quantize op in g on or
// off (enable_observer / disable_observer; for learnable ops the static
// estimate flag).
func EnableObservers(g *gorgonia.ExprGraph, on bool) int {
	n := 0
	for _, node := range g.AllNodes() {
		switch op := node.Op().(type) {
		case *Op:
			op.q.EnableObserver(on)
			n++
		case *LearnableOp:
			op.l.EnableStaticObservation(on)
			n++
		}
	}
	return n
}

// EnableFakeQuants turns fake quantization of every fake-quantize op in g on
// or off (enable_fake_quant / disable_fake_quant).
func EnableFakeQuants(g *gorgonia.ExprGraph, on bool) int {
	n := 0
	for _, node := range g.AllNodes() {
		switch op := node.Op().(type) {
		case *Op:
			op.q.EnableFakeQuant(on)
			n++
		case *LearnableOp:
			op.l.EnableFakeQuant(on)
			n++
		}
	}
	return n
}

// Ops returns the fake-quantize ops of g in node order.
func Ops(g *gorgonia.ExprGraph) []*Op {
	var ops []*Op
	for _, node := range g.AllNodes() {
		if op, ok := node.Op().(*Op); ok {
			ops = append(ops, op)
		}
	}
	return ops
}

var (
	_ gorgonia.SDOp            = (*Op)(nil)
	_ gorgonia.ADOp            = (*Op)(nil)
	_ gorgonia.UsePreallocDoer = (*Op)(nil)
	_ gorgonia.TrainModeOp     = (*Op)(nil)
	_ gorgonia.SDOp            = (*steDiffOp)(nil)
	_ gorgonia.UsePreallocDoer = (*steDiffOp)(nil)
)
