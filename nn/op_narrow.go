package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// narrow and cat replace Gorgonia's Slice and Concat inside this package:
// Slice returns strided views that Gorgonia's Reshape and matmul gradients
// mishandle and drops unit axes, and both have wrong LispMachine
// gradients in v0.9.18. These always produce contiguous tensors of the
// full rank, and are each other's adjoints.

// narrow returns x[..., lo:hi, ...] along axis as a contiguous tensor
// (torch.narrow).
func narrow(x *gorgonia.Node, axis, lo, hi int) (*gorgonia.Node, error) {
	if err := checkF32Node("narrow", x, -1); err != nil {
		return nil, err
	}
	s := x.Shape()
	if axis < 0 || axis >= s.Dims() || lo < 0 || hi > s[axis] || lo >= hi {
		return nil, fmt.Errorf("nn: narrow: [%d:%d] along axis %d out of range for shape %v", lo, hi, axis, s)
	}
	return gorgonia.ApplyOp(narrowOp{axis: axis, lo: lo, hi: hi, in: s.Clone()}, x)
}

// cat concatenates xs along axis (torch.cat); every other axis must agree.
func cat(axis int, xs ...*gorgonia.Node) (*gorgonia.Node, error) {
	if len(xs) == 0 {
		return nil, fmt.Errorf("nn: cat: no inputs")
	}
	if len(xs) == 1 {
		return xs[0], nil
	}
	s0 := xs[0].Shape()
	if axis < 0 || axis >= s0.Dims() {
		return nil, fmt.Errorf("nn: cat: axis %d out of range for shape %v", axis, s0)
	}
	shapes := make([]tensor.Shape, len(xs))
	for i, x := range xs {
		if err := checkF32Node("cat", x, s0.Dims()); err != nil {
			return nil, err
		}
		s := x.Shape()
		for j := range s {
			if j != axis && s[j] != s0[j] {
				return nil, fmt.Errorf("nn: cat: shapes %v and %v differ outside axis %d", s0, s, axis)
			}
		}
		shapes[i] = s.Clone()
	}
	return gorgonia.ApplyOp(catOp{axis: axis, in: shapes}, xs...)
}

// blockCopy views src (A, L, B) and dst (A, M, B) and copies, for every a,
// rows [lo, lo+n) of src to rows [off, off+n) of dst (add: accumulate).
func blockCopy(dst, src []float32, A, L, M, B, lo, off, n int, add bool) {
	for a := 0; a < A; a++ {
		s := src[(a*L+lo)*B : (a*L+lo+n)*B]
		d := dst[(a*M+off)*B : (a*M+off+n)*B]
		if add {
			for i, v := range s {
				d[i] += v
			}
		} else {
			copy(d, s)
		}
	}
}

// narrowOp: y = x[..., lo:hi, ...]; with pad set it is the adjoint:
// y = zeros of shape in with x written at [lo:hi].
type narrowOp struct {
	axis, lo, hi int
	in           tensor.Shape // the full (un-narrowed) shape
	pad          bool
}

var (
	_ gorgonia.SDOp = narrowOp{}
	_ gorgonia.ADOp = narrowOp{}
	_ gorgonia.SDOp = catOp{}
	_ gorgonia.ADOp = catOp{}
)

func (op narrowOp) small() tensor.Shape {
	s := op.in.Clone()
	s[op.axis] = op.hi - op.lo
	return s
}

func (op narrowOp) shapes() (in, out tensor.Shape) {
	if op.pad {
		return op.small(), op.in.Clone()
	}
	return op.in.Clone(), op.small()
}

func (op narrowOp) dims() (A, L, B int) {
	return prod(op.in[:op.axis]), op.in[op.axis], prod(op.in[op.axis+1:])
}

func (op narrowOp) run(dst, src []float32) {
	A, L, B := op.dims()
	n := op.hi - op.lo
	if op.pad {
		clear(dst)
		blockCopy(dst, src, A, n, L, B, 0, op.lo, n, false)
		return
	}
	blockCopy(dst, src, A, L, n, B, op.lo, 0, n, false)
}

func (op narrowOp) Arity() int { return 1 }
func (op narrowOp) Type() hm.Type {
	return hm.NewFnType(f32Type(op.in.Dims()), f32Type(op.in.Dims()))
}
func (op narrowOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	_, out := op.shapes()
	return out, nil
}
func (op narrowOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, in...)
}

// UsePreallocDo writes into prealloc when it is a float32 tensor of the
// output shape that aliases no input (the tape's register from the
// previous run), else into fresh storage.
func (op narrowOp) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("nn: %v: got %d inputs, want 1", op, len(in))
	}
	is, os := op.shapes()
	x, err := f32Data(op.String(), in[0], is)
	if err != nil {
		return nil, err
	}
	out := preallocF32(prealloc, os, in...)
	op.run(out.Float32s(), x)
	return out, nil
}
func (op narrowOp) ReturnsPtr() bool     { return false }
func (op narrowOp) CallsExtern() bool    { return false }
func (op narrowOp) OverwritesInput() int { return -1 }
func (op narrowOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "nn.narrow:%d:%d:%d:%v:%v", op.axis, op.lo, op.hi, op.in, op.pad)
}
func (op narrowOp) Hashcode() uint32 { return hashOf(op) }
func (op narrowOp) String() string {
	if op.pad {
		return fmt.Sprintf("pad[axis %d, %d:%d]", op.axis, op.lo, op.hi)
	}
	return fmt.Sprintf("narrow[axis %d, %d:%d]", op.axis, op.lo, op.hi)
}
func (op narrowOp) DiffWRT(int) []bool { return []bool{true} }
func (op narrowOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	adj := op
	adj.pad = !op.pad
	d, err := gorgonia.ApplyOp(adj, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}
func (op narrowOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad(op.String(), output)
	if err != nil {
		return err
	}
	adj := op
	adj.pad = !op.pad
	is, _ := op.shapes()
	dx := make([]float32, is.TotalSize())
	adj.run(dx, g)
	return accumulateGrad(op.String(), inputs[0], dx)
}

// catOp: y = concatenation of its inputs along axis.
type catOp struct {
	axis int
	in   []tensor.Shape
}

func (op catOp) out() tensor.Shape {
	s := op.in[0].Clone()
	s[op.axis] = 0
	for _, t := range op.in {
		s[op.axis] += t[op.axis]
	}
	return s
}

func (op catOp) Arity() int { return len(op.in) }
func (op catOp) Type() hm.Type {
	ts := make([]hm.Type, len(op.in)+1)
	for i := range ts {
		ts[i] = f32Type(op.in[0].Dims())
	}
	return hm.NewFnType(ts...)
}
func (op catOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) { return op.out(), nil }
func (op catOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, in...)
}

// UsePreallocDo writes into prealloc when it is a float32 tensor of the
// output shape that aliases no input (the tape's register from the
// previous run), else into fresh storage.
func (op catOp) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != len(op.in) {
		return nil, fmt.Errorf("nn: cat: got %d inputs, want %d", len(in), len(op.in))
	}
	o := op.out()
	out := preallocF32(prealloc, o, in...)
	y := out.Float32s()
	A, M, B := prod(o[:op.axis]), o[op.axis], prod(o[op.axis+1:])
	off := 0
	for i, v := range in {
		x, err := f32Data("cat", v, op.in[i])
		if err != nil {
			return nil, err
		}
		n := op.in[i][op.axis]
		blockCopy(y, x, A, n, M, B, 0, off, n, false)
		off += n
	}
	return out, nil
}
func (op catOp) ReturnsPtr() bool      { return false }
func (op catOp) CallsExtern() bool     { return false }
func (op catOp) OverwritesInput() int  { return -1 }
func (op catOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "nn.cat:%d:%v", op.axis, op.in) }
func (op catOp) Hashcode() uint32      { return hashOf(op) }
func (op catOp) String() string        { return fmt.Sprintf("cat[axis %d]", op.axis) }
func (op catOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}
func (op catOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	o := op.out()
	ds := make(gorgonia.Nodes, len(inputs))
	off := 0
	for i := range inputs {
		n := op.in[i][op.axis]
		d, err := gorgonia.ApplyOp(narrowOp{axis: op.axis, lo: off, hi: off + n, in: o.Clone()}, grad)
		if err != nil {
			return nil, err
		}
		ds[i] = d
		off += n
	}
	return ds, nil
}
func (op catOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad("cat", output)
	if err != nil {
		return err
	}
	o := op.out()
	A, M, B := prod(o[:op.axis]), o[op.axis], prod(o[op.axis+1:])
	off := 0
	for i, in := range inputs {
		n := op.in[i][op.axis]
		dx := make([]float32, op.in[i].TotalSize())
		blockCopy(dx, g, A, M, n, B, off, 0, n, false)
		if err := accumulateGrad("cat", in, dx); err != nil {
			return err
		}
		off += n
	}
	return nil
}
