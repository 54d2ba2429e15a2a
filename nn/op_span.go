package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Span ops broadcast a small tensor v over a contiguous span of x's axes,
// the pattern behind every bias, per-channel affine and normalization in
// this package. x of shape S is viewed as (A, C, B) with
// A = ∏S[:start], C = ∏S[start:end], B = ∏S[end:], and v has C elements
// (for a conv bias: start=1, end=2; for LayerNorm's per-row mean: start=0,
// end=rank-k). Gorgonia's own broadcasting materializes repeated copies;
// these ops index instead.

type spanKind int

const (
	spanAdd spanKind = iota
	spanMul
)

// spanDims splits shape into (A, C, B) around [start, end).
func spanDims(s tensor.Shape, start, end int) (a, c, b int) {
	return prod(s[:start]), prod(s[start:end]), prod(s[end:])
}

// spanApply returns x ⊕ v with v broadcast over x's span [start, end)
// (⊕ is + or ⊙).
func spanApply(x, v *gorgonia.Node, kind spanKind, start, end int) (*gorgonia.Node, error) {
	if err := checkF32Node("broadcast", x, -1); err != nil {
		return nil, err
	}
	if err := checkF32Node("broadcast", v, -1); err != nil {
		return nil, err
	}
	s := x.Shape()
	if start < 0 || end > s.Dims() || start >= end {
		return nil, fmt.Errorf("nn: broadcast: span [%d,%d) out of range for shape %v", start, end, s)
	}
	if _, c, _ := spanDims(s, start, end); v.Shape().TotalSize() != c {
		return nil, fmt.Errorf("nn: broadcast: operand has shape %v, want %d elements to match %v axes [%d,%d)", v.Shape(), c, s, start, end)
	}
	return gorgonia.ApplyOp(spanOp{kind: kind, start: start, end: end, xd: s.Dims(), vd: v.Shape().Dims()}, x, v)
}

// spanSum returns Σ of x over every axis outside [start, end), shaped like
// x.Shape()[start:end].
func spanSum(x *gorgonia.Node, start, end int) (*gorgonia.Node, error) {
	if err := checkF32Node("sum", x, -1); err != nil {
		return nil, err
	}
	s := x.Shape()
	if start < 0 || end > s.Dims() || start >= end {
		return nil, fmt.Errorf("nn: sum: span [%d,%d) out of range for shape %v", start, end, s)
	}
	return gorgonia.ApplyOp(spanSumOp{start: start, end: end, in: s.Clone()}, x)
}

// spanOp: y[a,c,b] = x[a,c,b] ⊕ v[c].
type spanOp struct {
	kind       spanKind
	start, end int
	xd, vd     int // ranks of x and v
}

var (
	_ gorgonia.SDOp            = spanOp{}
	_ gorgonia.ADOp            = spanOp{}
	_ gorgonia.UsePreallocDoer = spanOp{}
	_ gorgonia.SDOp            = spanSumOp{}
	_ gorgonia.ADOp            = spanSumOp{}
	_ gorgonia.SDOp            = spanExpandOp{}
	_ gorgonia.ADOp            = spanExpandOp{}
)

func (op spanOp) Arity() int { return 2 }
func (op spanOp) Type() hm.Type {
	return hm.NewFnType(f32Type(op.xd), f32Type(op.vd), f32Type(op.xd))
}
func (op spanOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) { return shapeOf(in[0]) }
func (op spanOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, in...)
}
func (op spanOp) ReturnsPtr() bool     { return false }
func (op spanOp) CallsExtern() bool    { return false }
func (op spanOp) OverwritesInput() int { return -1 }
func (op spanOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "nn.span:%d:%d:%d:%d:%d", op.kind, op.start, op.end, op.xd, op.vd)
}
func (op spanOp) Hashcode() uint32 { return hashOf(op) }
func (op spanOp) String() string {
	return fmt.Sprintf("span%s[%d:%d]", [...]string{"Add", "Mul"}[op.kind], op.start, op.end)
}

func (op spanOp) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("nn: %v: got %d inputs, want 2", op, len(in))
	}
	s := in[0].Shape()
	if op.end > s.Dims() {
		return nil, fmt.Errorf("nn: %v: input shape %v has too few axes", op, s)
	}
	x, err := f32Data(op.String(), in[0], nil)
	if err != nil {
		return nil, err
	}
	v, err := f32Data(op.String(), in[1], nil)
	if err != nil {
		return nil, err
	}
	A, C, B := spanDims(s, op.start, op.end)
	if len(v) != C {
		return nil, fmt.Errorf("nn: %v: operand has %d elements, want %d", op, len(v), C)
	}
	out := preallocF32(prealloc, s, in[0], in[1])
	spanKernel(out.Float32s(), x, v, A, C, B, op.kind)
	return out, nil
}

func spanKernel(y, x, v []float32, A, C, B int, kind spanKind) {
	i := 0
	for a := 0; a < A; a++ {
		for c := 0; c < C; c++ {
			vc := v[c]
			xs, ys := x[i:i+B], y[i:i+B]
			if kind == spanAdd {
				for j, xv := range xs {
					ys[j] = xv + vc
				}
			} else {
				for j, xv := range xs {
					ys[j] = xv * vc
				}
			}
			i += B
		}
	}
}

func spanSumKernel(v, x []float32, A, C, B int) {
	clear(v)
	i := 0
	for a := 0; a < A; a++ {
		for c := 0; c < C; c++ {
			var s float32
			for _, xv := range x[i : i+B] {
				s += xv
			}
			v[c] += s
			i += B
		}
	}
}

func (op spanOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op spanOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	x, v := inputs[0], inputs[1]
	var dx, dv *gorgonia.Node
	var err error
	if op.kind == spanAdd {
		dx = grad
		dv, err = gorgonia.ApplyOp(spanSumOp{start: op.start, end: op.end, in: x.Shape().Clone(), out: v.Shape().Clone()}, grad)
	} else {
		if dx, err = gorgonia.ApplyOp(spanOp{kind: spanMul, start: op.start, end: op.end, xd: grad.Shape().Dims(), vd: v.Shape().Dims()}, grad, v); err != nil {
			return nil, err
		}
		var gx *gorgonia.Node
		if gx, err = spanApply(grad, x, spanMul, 0, x.Shape().Dims()); err != nil {
			return nil, err
		}
		dv, err = gorgonia.ApplyOp(spanSumOp{start: op.start, end: op.end, in: x.Shape().Clone(), out: v.Shape().Clone()}, gx)
	}
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dv}, nil
}

func (op spanOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad(op.String(), output)
	if err != nil {
		return err
	}
	x, err := f32Data(op.String(), inputs[0].Value(), nil)
	if err != nil {
		return err
	}
	v, err := f32Data(op.String(), inputs[1].Value(), nil)
	if err != nil {
		return err
	}
	A, C, B := spanDims(inputs[0].Shape(), op.start, op.end)
	dx := make([]float32, len(x))
	dv := make([]float32, C)
	if op.kind == spanAdd {
		copy(dx, g)
		spanSumKernel(dv, g, A, C, B)
	} else {
		spanKernel(dx, g, v, A, C, B, spanMul)
		gx := make([]float32, len(x))
		for i := range gx {
			gx[i] = g[i] * x[i]
		}
		spanSumKernel(dv, gx, A, C, B)
	}
	if err := accumulateGrad(op.String(), inputs[0], dx); err != nil {
		return err
	}
	return accumulateGrad(op.String(), inputs[1], dv)
}

// spanSumOp: v[c] = Σ_{a,b} x[a,c,b]; out is the result shape (default
// in[start:end]).
type spanSumOp struct {
	start, end int
	in, out    tensor.Shape
}

func (op spanSumOp) outShape() tensor.Shape {
	if op.out != nil {
		return op.out.Clone()
	}
	return op.in[op.start:op.end].Clone()
}

func (op spanSumOp) Arity() int { return 1 }
func (op spanSumOp) Type() hm.Type {
	return hm.NewFnType(f32Type(op.in.Dims()), f32Type(op.outShape().Dims()))
}
func (op spanSumOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.outShape(), nil
}
func (op spanSumOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, in...)
}

// UsePreallocDo writes into prealloc when it is a float32 tensor of the
// output shape that aliases no input (the tape's register from the
// previous run), else into fresh storage.
func (op spanSumOp) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("nn: %v: got %d inputs, want 1", op, len(in))
	}
	x, err := f32Data(op.String(), in[0], op.in)
	if err != nil {
		return nil, err
	}
	A, C, B := spanDims(op.in, op.start, op.end)
	out := preallocF32(prealloc, op.outShape(), in...)
	spanSumKernel(out.Float32s(), x, A, C, B)
	return out, nil
}
func (op spanSumOp) ReturnsPtr() bool     { return false }
func (op spanSumOp) CallsExtern() bool    { return false }
func (op spanSumOp) OverwritesInput() int { return -1 }
func (op spanSumOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "nn.spansum:%d:%d:%v:%v", op.start, op.end, op.in, op.out)
}
func (op spanSumOp) Hashcode() uint32   { return hashOf(op) }
func (op spanSumOp) String() string     { return fmt.Sprintf("spanSum[%d:%d]", op.start, op.end) }
func (op spanSumOp) DiffWRT(int) []bool { return []bool{true} }
func (op spanSumOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	d, err := gorgonia.ApplyOp(spanExpandOp{start: op.start, end: op.end, out: op.in.Clone(), vd: grad.Shape().Dims()}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}
func (op spanSumOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad(op.String(), output)
	if err != nil {
		return err
	}
	A, C, B := spanDims(op.in, op.start, op.end)
	ones := make([]float32, A*C*B)
	for i := range ones {
		ones[i] = 1
	}
	dx := make([]float32, len(ones))
	spanKernel(dx, ones, g, A, C, B, spanMul)
	return accumulateGrad(op.String(), inputs[0], dx)
}

// spanExpandOp: x[a,c,b] = v[c], the adjoint of spanSumOp.
type spanExpandOp struct {
	start, end int
	out        tensor.Shape
	vd         int
}

func (op spanExpandOp) Arity() int { return 1 }
func (op spanExpandOp) Type() hm.Type {
	return hm.NewFnType(f32Type(op.vd), f32Type(op.out.Dims()))
}
func (op spanExpandOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.out.Clone(), nil
}
func (op spanExpandOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, in...)
}

// UsePreallocDo writes into prealloc when it is a float32 tensor of the
// output shape that aliases no input (the tape's register from the
// previous run), else into fresh storage.
func (op spanExpandOp) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("nn: %v: got %d inputs, want 1", op, len(in))
	}
	v, err := f32Data(op.String(), in[0], nil)
	if err != nil {
		return nil, err
	}
	A, C, B := spanDims(op.out, op.start, op.end)
	if len(v) != C {
		return nil, fmt.Errorf("nn: %v: operand has %d elements, want %d", op, len(v), C)
	}
	out := preallocF32(prealloc, op.out, in...)
	y := out.Float32s()
	i := 0
	for a := 0; a < A; a++ {
		for c := 0; c < C; c++ {
			for j := 0; j < B; j++ {
				y[i+j] = v[c]
			}
			i += B
		}
	}
	return out, nil
}
func (op spanExpandOp) ReturnsPtr() bool     { return false }
func (op spanExpandOp) CallsExtern() bool    { return false }
func (op spanExpandOp) OverwritesInput() int { return -1 }
func (op spanExpandOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "nn.spanexpand:%d:%d:%v:%d", op.start, op.end, op.out, op.vd)
}
func (op spanExpandOp) Hashcode() uint32   { return hashOf(op) }
func (op spanExpandOp) String() string     { return fmt.Sprintf("spanExpand[%d:%d]", op.start, op.end) }
func (op spanExpandOp) DiffWRT(int) []bool { return []bool{true} }
func (op spanExpandOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	d, err := gorgonia.ApplyOp(spanSumOp{start: op.start, end: op.end, in: op.out.Clone(), out: inputs[0].Shape().Clone()}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}
func (op spanExpandOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad(op.String(), output)
	if err != nil {
		return err
	}
	A, C, B := spanDims(op.out, op.start, op.end)
	dv := make([]float32, C)
	spanSumKernel(dv, g, A, C, B)
	return accumulateGrad(op.String(), inputs[0], dv)
}
