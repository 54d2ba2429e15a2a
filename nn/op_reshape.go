package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// reshape returns x with a new shape of the same size, as a copy. The
// package avoids gorgonia.Reshape: its output aliases the input, which
// Gorgonia's in-place elementwise ops can then overwrite while the alias
// is still needed, and its LispMachine gradient replaces (instead of
// adding to) the input's gradient, losing every other consumer's share.
func reshape(x *gorgonia.Node, to tensor.Shape) (*gorgonia.Node, error) {
	if err := checkF32Node("reshape", x, -1); err != nil {
		return nil, err
	}
	from := x.Shape()
	if from.TotalSize() != to.TotalSize() {
		return nil, fmt.Errorf("nn: reshape: %v and %v differ in size", from, to)
	}
	if sameShape(from, to) {
		return x, nil
	}
	return gorgonia.ApplyOp(reshapeOp{from: from.Clone(), to: to.Clone()}, x)
}

type reshapeOp struct{ from, to tensor.Shape }

var (
	_ gorgonia.SDOp            = reshapeOp{}
	_ gorgonia.ADOp            = reshapeOp{}
	_ gorgonia.UsePreallocDoer = reshapeOp{}
)

func (op reshapeOp) Arity() int { return 1 }
func (op reshapeOp) Type() hm.Type {
	return hm.NewFnType(f32Type(op.from.Dims()), f32Type(op.to.Dims()))
}
func (op reshapeOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) { return op.to.Clone(), nil }
func (op reshapeOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, in...)
}

// UsePreallocDo copies into prealloc when it is a float32 tensor of the
// new shape that aliases no input, else into fresh storage.
func (op reshapeOp) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("nn: reshape: got %d inputs, want 1", len(in))
	}
	x, err := f32Data("reshape", in[0], op.from)
	if err != nil {
		return nil, err
	}
	out := preallocF32(prealloc, op.to, in...)
	copy(out.Float32s(), x)
	return out, nil
}
func (op reshapeOp) ReturnsPtr() bool      { return false }
func (op reshapeOp) CallsExtern() bool     { return false }
func (op reshapeOp) OverwritesInput() int  { return -1 }
func (op reshapeOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "nn.reshape:%v:%v", op.from, op.to) }
func (op reshapeOp) Hashcode() uint32      { return hashOf(op) }
func (op reshapeOp) String() string        { return fmt.Sprintf("reshape%v→%v", op.from, op.to) }
func (op reshapeOp) DiffWRT(int) []bool    { return []bool{true} }
func (op reshapeOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	d, err := gorgonia.ApplyOp(reshapeOp{from: op.to, to: op.from}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}
func (op reshapeOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad("reshape", output)
	if err != nil {
		return err
	}
	return accumulateGrad("reshape", inputs[0], g)
}
