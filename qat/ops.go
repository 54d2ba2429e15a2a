package qat

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The Gorgonia ops of the ConvBn/LinearBn folding trick. Each is an SDOp
// (TapeMachine) and an ADOp (LispMachine), returns errors instead of
// panicking and computes in float32 in PyTorch's operation order.
//
//	scaleFactor(γ, running_var) = γ / sqrt(running_var + eps)      (gradient to γ only: running_var is a buffer)
//	channel(x, v, axis)         = x ⊙ v, x / v or x + v with v broadcast along axis

type chanKind int

const (
	chanMul chanKind = iota
	chanDiv
	chanAdd
)

var chanNames = [...]string{"mul", "div", "add"}

// f32s returns v's elements as float32 data (materializing views).
func f32s(op string, v gorgonia.Value) ([]float32, tensor.Shape, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, nil, fmt.Errorf("qat: %s: input is %T, want *tensor.Dense", op, v)
	}
	if d.Dtype() != tensor.Float32 {
		return nil, nil, fmt.Errorf("qat: %s: input dtype is %v, want float32", op, d.Dtype())
	}
	if d.RequiresIterator() {
		m, ok := d.Materialize().(*tensor.Dense)
		if !ok {
			return nil, nil, fmt.Errorf("qat: %s: cannot materialize input", op)
		}
		d = m
	}
	n := d.Shape().TotalSize()
	return d.Float32s()[:n], d.Shape().Clone(), nil
}

func newDense(shape tensor.Shape, data []float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape.Clone()...), tensor.WithBacking(data))
}

func hashOf(op interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

func accumulate(op string, n *gorgonia.Node, delta []float32) error {
	gv, err := n.Grad()
	if err != nil {
		return fmt.Errorf("qat: %s: no gradient value on %v: %w", op, n.Name(), err)
	}
	gd, ok := gv.(*tensor.Dense)
	if !ok || gd.Dtype() != tensor.Float32 || gd.Shape().TotalSize() != len(delta) || gd.RequiresIterator() {
		return fmt.Errorf("qat: %s: gradient of %v is %T, want float32 of %d elements", op, n.Name(), gv, len(delta))
	}
	g := gd.Float32s()[:len(delta)]
	for i, v := range delta {
		g[i] += v
	}
	return nil
}

func outGrad(op string, n *gorgonia.Node) ([]float32, error) {
	gv, err := n.Grad()
	if err != nil {
		return nil, fmt.Errorf("qat: %s: no gradient value on output: %w", op, err)
	}
	d, _, err := f32s(op, gv)
	return d, err
}

// std32 is torch.sqrt(running_var + eps) in float32.
func std32(v float32, eps float64) float32 {
	return float32(math.Sqrt(float64(float32(v + float32(eps)))))
}

// ---- scale factor ----

// stdOp is running_std = sqrt(running_var + eps), a value of the forward
// pass: the batch norm that follows updates running_var in place during
// the same run, so the gradient must not read running_var again.
type stdOp struct{ eps float64 }

// vdivOp is a / b elementwise on vectors with a gradient to a only:
// scale_factor = γ / running_std, and its own gradient dγ = dsf / running_std.
type vdivOp struct{}

func scaleFactor(gamma, rv *gorgonia.Node, eps float64) (*gorgonia.Node, error) {
	if !gamma.Shape().Eq(rv.Shape()) || gamma.Shape().Dims() != 1 {
		return nil, fmt.Errorf("qat: scale_factor: weight %v and running var %v must be equal vectors", gamma.Shape(), rv.Shape())
	}
	std, err := gorgonia.ApplyOp(stdOp{eps}, rv)
	if err != nil {
		return nil, err
	}
	return gorgonia.ApplyOp(vdivOp{}, gamma, std)
}

func vecFn(n int) hm.Type {
	t := make(hm.Types, n+1)
	for i := range t {
		t[i] = f32T(1)
	}
	return hm.NewFnType(t...)
}

// f32T is the Gorgonia type of a float32 tensor of rank d ≥ 1.
func f32T(d int) hm.Type { return gorgonia.TensorType{Dims: d, Of: tensor.Float32} }

func (op stdOp) Arity() int    { return 1 }
func (op stdOp) Type() hm.Type { return vecFn(1) }
func (op stdOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return shapeOf(in[0])
}
func (op stdOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("qat: running_std: got %d inputs, want 1", len(in))
	}
	v, s, err := f32s("running_std", in[0])
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(v))
	for i := range out {
		out[i] = std32(v[i], op.eps)
	}
	return newDense(s, out), nil
}
func (op stdOp) ReturnsPtr() bool      { return false }
func (op stdOp) CallsExtern() bool     { return false }
func (op stdOp) OverwritesInput() int  { return -1 }
func (op stdOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "qat.running_std:%v", op.eps) }
func (op stdOp) Hashcode() uint32      { return hashOf(op) }
func (op stdOp) String() string        { return fmt.Sprintf("running_std(eps=%g)", op.eps) }
func (op stdOp) DiffWRT(int) []bool    { return []bool{false} }
func (op stdOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return gorgonia.Nodes{nil}, nil
}
func (op stdOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	return nil
}

func (op vdivOp) Arity() int    { return 2 }
func (op vdivOp) Type() hm.Type { return vecFn(2) }
func (op vdivOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return shapeOf(in[0])
}
func (op vdivOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("qat: scale_factor: got %d inputs, want 2", len(in))
	}
	a, sa, err := f32s("scale_factor", in[0])
	if err != nil {
		return nil, err
	}
	b, sb, err := f32s("scale_factor", in[1])
	if err != nil {
		return nil, err
	}
	if len(a) != len(b) {
		return nil, fmt.Errorf("qat: scale_factor: shapes %v and %v differ", sa, sb)
	}
	return newDense(sa, vdiv(a, b)), nil
}

func vdiv(a, b []float32) []float32 {
	out := make([]float32, len(a))
	for i := range out {
		out[i] = a[i] / b[i]
	}
	return out
}

func (op vdivOp) ReturnsPtr() bool      { return false }
func (op vdivOp) CallsExtern() bool     { return false }
func (op vdivOp) OverwritesInput() int  { return -1 }
func (op vdivOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "qat.vdiv") }
func (op vdivOp) Hashcode() uint32      { return hashOf(op) }
func (op vdivOp) String() string        { return "scale_factor" }
func (op vdivOp) DiffWRT(int) []bool    { return []bool{true, false} }
func (op vdivOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dg, err := gorgonia.ApplyOp(op, grad, inputs[1])
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dg, nil}, nil
}
func (op vdivOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outGrad("scale_factor", output)
	if err != nil {
		return err
	}
	std, _, err := f32s("scale_factor", inputs[1].Value())
	if err != nil {
		return err
	}
	if len(std) != len(g) {
		return fmt.Errorf("qat: scale_factor: gradient has %d elements, want %d", len(g), len(std))
	}
	return accumulate("scale_factor", inputs[0], vdiv(g, std))
}

func shapeOf(d gorgonia.DimSizer) (tensor.Shape, error) {
	s, ok := d.(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("qat: expected a tensor.Shape, got %T", d)
	}
	return s.Clone(), nil
}

// ---- channel broadcast ----

// chanOp is y[a,c,b] = x[a,c,b] ⊕ v[c] with c the index along axis
// (inputs x, v).
type chanOp struct {
	kind chanKind
	axis int
	xd   int // rank of x
}

// chanGradOp is the gradient of chanOp with respect to v (inputs dy, x, v).
type chanGradOp chanOp

// channel applies x ⊕ v along axis (v has x.Shape()[axis] elements).
func channel(x, v *gorgonia.Node, kind chanKind, axis int) (*gorgonia.Node, error) {
	s := x.Shape()
	if axis < 0 || axis >= s.Dims() {
		return nil, fmt.Errorf("qat: channel %s: axis %d out of range for shape %v", chanNames[kind], axis, s)
	}
	if v.Shape().TotalSize() != s[axis] || v.Shape().Dims() != 1 {
		return nil, fmt.Errorf("qat: channel %s: operand has shape %v, want (%d) for axis %d of %v", chanNames[kind], v.Shape(), s[axis], axis, s)
	}
	if x.Dtype() != tensor.Float32 || v.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("qat: channel %s: dtypes %v and %v, want float32", chanNames[kind], x.Dtype(), v.Dtype())
	}
	return gorgonia.ApplyOp(chanOp{kind, axis, s.Dims()}, x, v)
}

func splitDims(s tensor.Shape, axis int) (A, C, B int) {
	A, B = 1, 1
	for _, d := range s[:axis] {
		A *= d
	}
	for _, d := range s[axis+1:] {
		B *= d
	}
	return A, s[axis], B
}

func (op chanOp) name() string { return "channel " + chanNames[op.kind] }
func (op chanOp) Arity() int   { return 2 }
func (op chanOp) Type() hm.Type {
	return hm.NewFnType(f32T(op.xd), f32T(1), f32T(op.xd))
}
func (op chanOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) { return shapeOf(in[0]) }
func (op chanOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("qat: %s: got %d inputs, want 2", op.name(), len(in))
	}
	x, s, err := f32s(op.name(), in[0])
	if err != nil {
		return nil, err
	}
	v, _, err := f32s(op.name(), in[1])
	if err != nil {
		return nil, err
	}
	if op.axis >= s.Dims() || len(v) != s[op.axis] {
		return nil, fmt.Errorf("qat: %s: operand of %d elements for axis %d of %v", op.name(), len(v), op.axis, s)
	}
	y := make([]float32, len(x))
	chanKernel(y, x, v, s, op.axis, op.kind)
	return newDense(s, y), nil
}

func chanKernel(y, x, v []float32, s tensor.Shape, axis int, kind chanKind) {
	A, C, B := splitDims(s, axis)
	i := 0
	for a := 0; a < A; a++ {
		for c := 0; c < C; c++ {
			vc := v[c]
			xs, ys := x[i:i+B], y[i:i+B]
			switch kind {
			case chanMul:
				for j, xv := range xs {
					ys[j] = xv * vc
				}
			case chanDiv:
				for j, xv := range xs {
					ys[j] = xv / vc
				}
			default:
				for j, xv := range xs {
					ys[j] = xv + vc
				}
			}
			i += B
		}
	}
}

// chanGradV is dv[c] = Σ dy·x (mul), Σ −dy·x/v² (div), Σ dy (add) over
// every index with channel c, accumulated in float64.
func chanGradV(g, x, v []float32, s tensor.Shape, axis int, kind chanKind) []float32 {
	A, C, B := splitDims(s, axis)
	acc := make([]float64, C)
	i := 0
	for a := 0; a < A; a++ {
		for c := 0; c < C; c++ {
			var sum float64
			for j := i; j < i+B; j++ {
				if kind == chanAdd {
					sum += float64(g[j])
				} else {
					sum += float64(g[j]) * float64(x[j])
				}
			}
			acc[c] += sum
			i += B
		}
	}
	out := make([]float32, C)
	for c := range out {
		switch kind {
		case chanDiv:
			vc := float64(v[c])
			out[c] = float32(-acc[c] / (vc * vc))
		default:
			out[c] = float32(acc[c])
		}
	}
	return out
}

func (op chanOp) ReturnsPtr() bool     { return false }
func (op chanOp) CallsExtern() bool    { return false }
func (op chanOp) OverwritesInput() int { return -1 }
func (op chanOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "qat.channel:%d:%d:%d", op.kind, op.axis, op.xd)
}
func (op chanOp) Hashcode() uint32   { return hashOf(op) }
func (op chanOp) String() string     { return fmt.Sprintf("%s[axis %d]", op.name(), op.axis) }
func (op chanOp) DiffWRT(int) []bool { return []bool{true, true} }
func (op chanOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	x, v := inputs[0], inputs[1]
	dx := grad
	var err error
	if op.kind != chanAdd {
		if dx, err = gorgonia.ApplyOp(op, grad, v); err != nil {
			return nil, err
		}
	}
	dv, err := gorgonia.ApplyOp(chanGradOp(op), grad, x, v)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dv}, nil
}
func (op chanOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outGrad(op.name(), output)
	if err != nil {
		return err
	}
	x, s, err := f32s(op.name(), inputs[0].Value())
	if err != nil {
		return err
	}
	v, _, err := f32s(op.name(), inputs[1].Value())
	if err != nil {
		return err
	}
	if len(g) != len(x) {
		return fmt.Errorf("qat: %s: gradient has %d elements, input %d", op.name(), len(g), len(x))
	}
	dx := g
	if op.kind != chanAdd {
		dx = make([]float32, len(x))
		chanKernel(dx, g, v, s, op.axis, op.kind)
	}
	if err := accumulate(op.name(), inputs[0], dx); err != nil {
		return err
	}
	return accumulate(op.name(), inputs[1], chanGradV(g, x, v, s, op.axis, op.kind))
}

func (op chanGradOp) Arity() int { return 3 }
func (op chanGradOp) Type() hm.Type {
	return hm.NewFnType(f32T(op.xd), f32T(op.xd), f32T(1), f32T(1))
}
func (op chanGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return shapeOf(in[2])
}
func (op chanGradOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	name := chanOp(op).name() + "'"
	if len(in) != 3 {
		return nil, fmt.Errorf("qat: %s: got %d inputs, want 3", name, len(in))
	}
	g, _, err := f32s(name, in[0])
	if err != nil {
		return nil, err
	}
	x, s, err := f32s(name, in[1])
	if err != nil {
		return nil, err
	}
	v, sv, err := f32s(name, in[2])
	if err != nil {
		return nil, err
	}
	if len(g) != len(x) || op.axis >= s.Dims() || len(v) != s[op.axis] {
		return nil, fmt.Errorf("qat: %s: shapes do not match (gradient %d elements, input %v, operand %v)", name, len(g), s, sv)
	}
	return newDense(sv, chanGradV(g, x, v, s, op.axis, op.kind)), nil
}
func (op chanGradOp) ReturnsPtr() bool     { return false }
func (op chanGradOp) CallsExtern() bool    { return false }
func (op chanGradOp) OverwritesInput() int { return -1 }
func (op chanGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "qat.channel_grad:%d:%d:%d", op.kind, op.axis, op.xd)
}
func (op chanGradOp) Hashcode() uint32   { return hashOf(op) }
func (op chanGradOp) String() string     { return chanOp(op).String() + "'" }
func (op chanGradOp) DiffWRT(int) []bool { return []bool{false, false, false} }
func (op chanGradOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return nil, fmt.Errorf("qat: %s: second derivatives are not supported", op)
}
