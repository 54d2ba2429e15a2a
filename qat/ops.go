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

// rstd32 is torch.sqrt(running_var + eps) in float32.
func std32(v float32, eps float64) float32 {
	return float32(math.Sqrt(float64(float32(v + float32(eps)))))
}

// ---- scale factor ----

// sfOp is scale_factor = γ / sqrt(running_var + eps) (inputs γ, running_var).
type sfOp struct{ eps float64 }

// sfGradOp is dγ = dsf / sqrt(running_var + eps) (inputs dsf, running_var).
type sfGradOp struct{ eps float64 }

func scaleFactor(gamma, rv *gorgonia.Node, eps float64) (*gorgonia.Node, error) {
	if !gamma.Shape().Eq(rv.Shape()) || gamma.Shape().Dims() != 1 {
		return nil, fmt.Errorf("qat: scale_factor: weight %v and running var %v must be equal vectors", gamma.Shape(), rv.Shape())
	}
	return gorgonia.ApplyOp(sfOp{eps}, gamma, rv)
}

func vecFn() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}

func (op sfOp) Arity() int    { return 2 }
func (op sfOp) Type() hm.Type { return vecFn() }
func (op sfOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return shapeOf(in[0])
}
func (op sfOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return sfDo("scale_factor", op.eps, in)
}
func (op sfOp) ReturnsPtr() bool      { return false }
func (op sfOp) CallsExtern() bool     { return false }
func (op sfOp) OverwritesInput() int  { return -1 }
func (op sfOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "qat.scale_factor:%v", op.eps) }
func (op sfOp) Hashcode() uint32      { return hashOf(op) }
func (op sfOp) String() string        { return fmt.Sprintf("scale_factor(eps=%g)", op.eps) }
func (op sfOp) DiffWRT(int) []bool    { return []bool{true, false} }
func (op sfOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dg, err := gorgonia.ApplyOp(sfGradOp(op), grad, inputs[1])
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dg, nil}, nil
}
func (op sfOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outGrad("scale_factor", output)
	if err != nil {
		return err
	}
	d, err := sfDo("scale_factor grad", op.eps, []gorgonia.Value{newDense(tensor.Shape{len(g)}, g), inputs[1].Value()})
	if err != nil {
		return err
	}
	return accumulate("scale_factor", inputs[0], d.(*tensor.Dense).Float32s())
}

func (op sfGradOp) Arity() int    { return 2 }
func (op sfGradOp) Type() hm.Type { return vecFn() }
func (op sfGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return shapeOf(in[0])
}
func (op sfGradOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return sfDo("scale_factor grad", op.eps, in)
}
func (op sfGradOp) ReturnsPtr() bool      { return false }
func (op sfGradOp) CallsExtern() bool     { return false }
func (op sfGradOp) OverwritesInput() int  { return -1 }
func (op sfGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "qat.scale_factor_grad:%v", op.eps) }
func (op sfGradOp) Hashcode() uint32      { return hashOf(op) }
func (op sfGradOp) String() string        { return fmt.Sprintf("scale_factor'(eps=%g)", op.eps) }
func (op sfGradOp) DiffWRT(int) []bool    { return []bool{false, false} }
func (op sfGradOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return nil, fmt.Errorf("qat: scale_factor': second derivatives are not supported")
}

// sfDo computes a[c] / sqrt(rv[c] + eps) for both the forward (a = γ) and
// the gradient (a = dsf).
func sfDo(op string, eps float64, in []gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("qat: %s: got %d inputs, want 2", op, len(in))
	}
	a, sa, err := f32s(op, in[0])
	if err != nil {
		return nil, err
	}
	rv, sr, err := f32s(op, in[1])
	if err != nil {
		return nil, err
	}
	if len(a) != len(rv) {
		return nil, fmt.Errorf("qat: %s: shapes %v and %v differ", op, sa, sr)
	}
	out := make([]float32, len(a))
	for i := range out {
		out[i] = a[i] / std32(rv[i], eps)
	}
	return newDense(sa, out), nil
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
	return gorgonia.ApplyOp(chanOp{kind, axis}, x, v)
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
	a, b := hm.TypeVariable('a'), hm.TypeVariable('b')
	return hm.NewFnType(a, b, a)
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

func (op chanOp) ReturnsPtr() bool      { return false }
func (op chanOp) CallsExtern() bool     { return false }
func (op chanOp) OverwritesInput() int  { return -1 }
func (op chanOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "qat.channel:%d:%d", op.kind, op.axis) }
func (op chanOp) Hashcode() uint32      { return hashOf(op) }
func (op chanOp) String() string        { return fmt.Sprintf("%s[axis %d]", op.name(), op.axis) }
func (op chanOp) DiffWRT(int) []bool    { return []bool{true, true} }
func (op chanOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	x, v := inputs[0], inputs[1]
	dx := grad
	var err error
	if op.kind != chanAdd {
		if dx, err = gorgonia.ApplyOp(chanOp{op.kind, op.axis}, grad, v); err != nil {
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
	a, b := hm.TypeVariable('a'), hm.TypeVariable('b')
	return hm.NewFnType(a, a, b, b)
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
	fmt.Fprintf(h, "qat.channel_grad:%d:%d", op.kind, op.axis)
}
func (op chanGradOp) Hashcode() uint32   { return hashOf(op) }
func (op chanGradOp) String() string     { return chanOp(op).String() + "'" }
func (op chanGradOp) DiffWRT(int) []bool { return []bool{false, false, false} }
func (op chanGradOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return nil, fmt.Errorf("qat: %s: second derivatives are not supported", op)
}
