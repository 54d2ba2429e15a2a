package nn

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Softmax is torch.nn.Softmax(dim): exp(x − max)/Σ exp(x − max) along Dim
// (negative counts from the end), computed per slice in float64.
type Softmax struct {
	Base
	Stateless
	Dim int
}

// NewSoftmax returns Softmax(dim).
func NewSoftmax(dim int) *Softmax { return &Softmax{Dim: dim} }

// TypeName returns "Softmax".
func (m *Softmax) TypeName() string { return "Softmax" }

// Forward normalizes x along Dim.
func (m *Softmax) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return softmax(x, m.Dim, false)
}

// Clone returns a copy.
func (m *Softmax) Clone() Module { c := *m; c.Base = m.cloneBase(); return &c }

// LogSoftmax is torch.nn.LogSoftmax(dim): x − max − log Σ exp(x − max)
// along Dim.
type LogSoftmax struct {
	Base
	Stateless
	Dim int
}

// NewLogSoftmax returns LogSoftmax(dim).
func NewLogSoftmax(dim int) *LogSoftmax { return &LogSoftmax{Dim: dim} }

// TypeName returns "LogSoftmax".
func (m *LogSoftmax) TypeName() string { return "LogSoftmax" }

// Forward computes log-probabilities along Dim.
func (m *LogSoftmax) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return softmax(x, m.Dim, true)
}

// Clone returns a copy.
func (m *LogSoftmax) Clone() Module { c := *m; c.Base = m.cloneBase(); return &c }

func softmax(x *gorgonia.Node, dim int, log bool) (*gorgonia.Node, error) {
	op := "softmax"
	if log {
		op = "log_softmax"
	}
	if err := checkF32Node(op, x, -1); err != nil {
		return nil, err
	}
	r := x.Shape().Dims()
	if dim < 0 {
		dim += r
	}
	if dim < 0 || dim >= r {
		return nil, fmt.Errorf("nn: %s: dim out of range for shape %v", op, x.Shape())
	}
	return gorgonia.ApplyOp(softmaxOp{axis: dim, log: log, shape: x.Shape().Clone()}, x)
}

// softmaxOp applies (log-)softmax along axis; with grad set it maps
// (y, dy) to dx: softmax dx = y ⊙ (dy − Σ dy⊙y), log-softmax
// dx = dy − exp(y)·Σ dy.
type softmaxOp struct {
	axis  int
	log   bool
	grad  bool
	shape tensor.Shape
}

var (
	_ gorgonia.SDOp = softmaxOp{}
	_ gorgonia.ADOp = softmaxOp{}
)

func (op softmaxOp) dims() (A, L, B int) {
	return prod(op.shape[:op.axis]), op.shape[op.axis], prod(op.shape[op.axis+1:])
}

func (op softmaxOp) forward(y, x []float32) {
	A, L, B := op.dims()
	for a := 0; a < A; a++ {
		for b := 0; b < B; b++ {
			base := a*L*B + b
			m := math.Inf(-1)
			for l := 0; l < L; l++ {
				m = math.Max(m, float64(x[base+l*B]))
			}
			var s float64
			for l := 0; l < L; l++ {
				s += math.Exp(float64(x[base+l*B]) - m)
			}
			ls := math.Log(s)
			for l := 0; l < L; l++ {
				v := float64(x[base+l*B]) - m
				if op.log {
					y[base+l*B] = float32(v - ls)
				} else {
					y[base+l*B] = float32(math.Exp(v) / s)
				}
			}
		}
	}
}

func (op softmaxOp) backward(dx, y, dy []float32) {
	A, L, B := op.dims()
	for a := 0; a < A; a++ {
		for b := 0; b < B; b++ {
			base := a*L*B + b
			var s float64
			for l := 0; l < L; l++ {
				i := base + l*B
				if op.log {
					s += float64(dy[i])
				} else {
					s += float64(dy[i]) * float64(y[i])
				}
			}
			for l := 0; l < L; l++ {
				i := base + l*B
				if op.log {
					dx[i] = float32(float64(dy[i]) - math.Exp(float64(y[i]))*s)
				} else {
					dx[i] = float32(float64(y[i]) * (float64(dy[i]) - s))
				}
			}
		}
	}
}

func (op softmaxOp) Arity() int {
	if op.grad {
		return 2
	}
	return 1
}
func (op softmaxOp) Type() hm.Type {
	t := f32Type(op.shape.Dims())
	if op.grad {
		return hm.NewFnType(t, t, t)
	}
	return hm.NewFnType(t, t)
}
func (op softmaxOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op softmaxOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, in...)
}

// UsePreallocDo writes into prealloc when it is a float32 tensor of the
// output shape that aliases no input, else into fresh storage.
func (op softmaxOp) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("nn: %v: got %d inputs, want %d", op, len(in), op.Arity())
	}
	x, err := f32Data(op.String(), in[0], op.shape)
	if err != nil {
		return nil, err
	}
	out := preallocF32(prealloc, op.shape, in...)
	if op.grad {
		dy, err := f32Data(op.String(), in[1], op.shape)
		if err != nil {
			return nil, err
		}
		op.backward(out.Float32s(), x, dy)
	} else {
		op.forward(out.Float32s(), x)
	}
	return out, nil
}
func (op softmaxOp) ReturnsPtr() bool     { return false }
func (op softmaxOp) CallsExtern() bool    { return false }
func (op softmaxOp) OverwritesInput() int { return -1 }
func (op softmaxOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "nn.softmax:%d:%v:%v:%v", op.axis, op.log, op.grad, op.shape)
}
func (op softmaxOp) Hashcode() uint32 { return hashOf(op) }
func (op softmaxOp) String() string {
	name := "softmax"
	if op.log {
		name = "log_softmax"
	}
	if op.grad {
		name += "'"
	}
	return fmt.Sprintf("%s[%d]", name, op.axis)
}
func (op softmaxOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	if !op.grad && n > 0 {
		d[0] = true
	}
	return d
}
func (op softmaxOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("nn: %v: second derivatives are not implemented", op)
	}
	g := op
	g.grad = true
	d, err := gorgonia.ApplyOp(g, output, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}
func (op softmaxOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	dy, err := outputGrad(op.String(), output)
	if err != nil {
		return err
	}
	y, err := f32Data(op.String(), output.Value(), op.shape)
	if err != nil {
		return err
	}
	dx := make([]float32, len(y))
	op.backward(dx, y, dy)
	return accumulateGrad(op.String(), inputs[0], dx)
}
