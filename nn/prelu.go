package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// PReLU is torch.nn.PReLU: y = x for x > 0, else Weight[c]·x, with one
// learnable slope shared by all channels (num_parameters 1) or one per
// channel along axis 1. Weight is initialised to Init (PyTorch: 0.25).
type PReLU struct {
	Base
	NumParameters int
	Weight        *Parameter
}

// NewPReLU returns PReLU(num_parameters, init).
func NewPReLU(numParameters int, init float32) (*PReLU, error) {
	if numParameters <= 0 {
		return nil, fmt.Errorf("nn: prelu: num_parameters %d must be positive", numParameters)
	}
	return &PReLU{NumParameters: numParameters, Weight: NewParameter(filled(init, numParameters))}, nil
}

// TypeName returns "PReLU".
func (m *PReLU) TypeName() string { return "PReLU" }

// NamedParameters returns weight.
func (m *PReLU) NamedParameters() []Named { return params("weight", m.Weight) }

// NamedBuffers returns nothing.
func (m *PReLU) NamedBuffers() []Named { return nil }

// Clone deep-copies the layer.
func (m *PReLU) Clone() Module {
	c := *m
	c.Base = m.cloneBase()
	c.Weight = m.Weight.Clone()
	return &c
}

// Forward applies the slopes; with several parameters x must have
// NumParameters channels on axis 1.
func (m *PReLU) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkF32Node("prelu", x, -1); err != nil {
		return nil, err
	}
	w, err := m.Weight.Node(x.Graph())
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	op := preluOp{shape: s.Clone(), wd: w.Shape().Dims()}
	if m.NumParameters > 1 {
		if s.Dims() < 2 || s[1] != m.NumParameters {
			return nil, fmt.Errorf("nn: prelu: input shape %v, want %d channels on axis 1", s, m.NumParameters)
		}
		op.perChannel = true
	}
	return gorgonia.ApplyOp(op, x, w)
}

// preluOp: (x, w) → y; with grad set, (x, w, dy) → dx (which 0) or dw
// (which 1).
type preluOp struct {
	shape      tensor.Shape
	wd         int
	perChannel bool
	grad       bool
	which      int
}

var (
	_ gorgonia.SDOp = preluOp{}
	_ gorgonia.ADOp = preluOp{}
)

func (op preluOp) dims() (A, C, B int) {
	if op.perChannel {
		return spanDims(op.shape, 1, 2)
	}
	return 1, 1, op.shape.TotalSize()
}

func (op preluOp) Arity() int {
	if op.grad {
		return 3
	}
	return 2
}
func (op preluOp) Type() hm.Type {
	x, w := f32Type(op.shape.Dims()), f32Type(op.wd)
	switch {
	case !op.grad:
		return hm.NewFnType(x, w, x)
	case op.which == 0:
		return hm.NewFnType(x, w, x, x)
	}
	return hm.NewFnType(x, w, x, w)
}
func (op preluOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	if op.grad && op.which == 1 {
		return shapeOf(in[1])
	}
	return op.shape.Clone(), nil
}
func (op preluOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("nn: prelu: got %d inputs, want %d", len(in), op.Arity())
	}
	x, err := f32Data("prelu", in[0], op.shape)
	if err != nil {
		return nil, err
	}
	w, err := f32Data("prelu", in[1], nil)
	if err != nil {
		return nil, err
	}
	A, C, B := op.dims()
	if len(w) != C {
		return nil, fmt.Errorf("nn: prelu: %d slopes for %d channels", len(w), C)
	}
	if !op.grad {
		out := newF32(op.shape)
		y := out.Float32s()
		i := 0
		for a := 0; a < A; a++ {
			for c := 0; c < C; c++ {
				for b := 0; b < B; b++ {
					if v := x[i]; v > 0 {
						y[i] = v
					} else {
						y[i] = w[c] * v
					}
					i++
				}
			}
		}
		return out, nil
	}
	g, err := f32Data("prelu grad", in[2], op.shape)
	if err != nil {
		return nil, err
	}
	dx, dw := preluBackward(x, w, g, A, C, B)
	if op.which == 0 {
		return tensor.New(tensor.WithShape(op.shape...), tensor.WithBacking(dx)), nil
	}
	return tensor.New(tensor.WithShape(in[1].Shape().Clone()...), tensor.WithBacking(dw)), nil
}

// preluBackward: dx = g for x > 0 else w·g; dw[c] = Σ_{x ≤ 0} x·g (as PyTorch).
func preluBackward(x, w, g []float32, A, C, B int) (dx, dw []float32) {
	dx = make([]float32, len(x))
	dw = make([]float32, C)
	i := 0
	for a := 0; a < A; a++ {
		for c := 0; c < C; c++ {
			for b := 0; b < B; b++ {
				if x[i] > 0 {
					dx[i] = g[i]
				} else {
					dx[i] = w[c] * g[i]
					dw[c] += float32(x[i] * g[i])
				}
				i++
			}
		}
	}
	return dx, dw
}

func (op preluOp) ReturnsPtr() bool     { return false }
func (op preluOp) CallsExtern() bool    { return false }
func (op preluOp) OverwritesInput() int { return -1 }
func (op preluOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "nn.prelu:%v:%d:%v:%v:%d", op.shape, op.wd, op.perChannel, op.grad, op.which)
}
func (op preluOp) Hashcode() uint32 { return hashOf(op) }
func (op preluOp) String() string   { return "prelu" }
func (op preluOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	if !op.grad {
		d[0], d[1] = true, true
	}
	return d
}
func (op preluOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("nn: prelu: second derivatives are not implemented")
	}
	ds := make(gorgonia.Nodes, 2)
	for which := range ds {
		g := op
		g.grad, g.which = true, which
		d, err := gorgonia.ApplyOp(g, inputs[0], inputs[1], grad)
		if err != nil {
			return nil, err
		}
		ds[which] = d
	}
	return ds, nil
}
func (op preluOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad("prelu", output)
	if err != nil {
		return err
	}
	x, err := f32Data("prelu", inputs[0].Value(), op.shape)
	if err != nil {
		return err
	}
	w, err := f32Data("prelu", inputs[1].Value(), nil)
	if err != nil {
		return err
	}
	A, C, B := op.dims()
	dx, dw := preluBackward(x, w, g, A, C, B)
	if err := accumulateGrad("prelu", inputs[0], dx); err != nil {
		return err
	}
	return accumulateGrad("prelu", inputs[1], dw)
}
