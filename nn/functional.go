package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// FloatFunctional is torch.nn.quantized.FloatFunctional: a module holding
// no state whose methods (Add, Mul, Cat, AddReLU, AddScalar, MulScalar)
// build the operation and then run the module's output hooks, so that
// eager.Prepare can observe the result of a functional op, as PyTorch's
// activation_post_process does. Forward is not used and returns an error.
//
// Add, Mul and AddReLU take operands of equal shape, or one operand with a
// single element (broadcast as a scalar).
type FloatFunctional struct {
	Base
	Stateless
}

// NewFloatFunctional returns a FloatFunctional.
func NewFloatFunctional() *FloatFunctional { return &FloatFunctional{} }

// TypeName returns "FloatFunctional".
func (f *FloatFunctional) TypeName() string { return "FloatFunctional" }

// Forward returns an error: call the methods instead (as in PyTorch).
func (f *FloatFunctional) Forward(*gorgonia.Node) (*gorgonia.Node, error) {
	return nil, fmt.Errorf("nn: FloatFunctional: Forward is not used; call Add, Mul, Cat, AddReLU, AddScalar or MulScalar")
}

// Clone returns a copy.
func (f *FloatFunctional) Clone() Module { return &FloatFunctional{Base: f.cloneBase()} }

// elementwise returns a ⊕ b for equal shapes with the package's own op
// (never in place: Gorgonia's Add and HadamardProd may overwrite their
// first operand, which a Reshape alias elsewhere may still read), falling
// back to Gorgonia for the scalar broadcast.
func elementwise(a, b *gorgonia.Node, kind spanKind) (*gorgonia.Node, error) {
	if r := a.Shape().Dims(); r > 0 && sameShape(a.Shape(), b.Shape()) {
		return spanApply(a, b, kind, 0, r)
	}
	if kind == spanAdd {
		return gorgonia.Add(a, b)
	}
	return gorgonia.HadamardProd(a, b)
}

// binaryOperands checks a and b and turns a one-element operand into a scalar.
func binaryOperands(op string, a, b *gorgonia.Node) (*gorgonia.Node, *gorgonia.Node, error) {
	if err := checkF32Node(op, a, -1); err != nil {
		return nil, nil, err
	}
	if err := checkF32Node(op, b, -1); err != nil {
		return nil, nil, err
	}
	as, bs := a.Shape(), b.Shape()
	if sameShape(as, bs) {
		return a, b, nil
	}
	toScalar := func(n *gorgonia.Node) (*gorgonia.Node, error) {
		if n.Shape().Dims() == 0 {
			return n, nil
		}
		return gorgonia.Reshape(n, tensor.Shape{})
	}
	var err error
	switch {
	case bs.TotalSize() == 1:
		b, err = toScalar(b)
	case as.TotalSize() == 1:
		a, err = toScalar(a)
	default:
		return nil, nil, fmt.Errorf("nn: %s: shapes %v and %v differ (only equal shapes or a one-element operand broadcast)", op, as, bs)
	}
	return a, b, err
}

// Add returns a + b, then the output hooks.
func (f *FloatFunctional) Add(a, b *gorgonia.Node) (*gorgonia.Node, error) {
	a, b, err := binaryOperands("add", a, b)
	if err != nil {
		return nil, err
	}
	y, err := elementwise(a, b, spanAdd)
	if err != nil {
		return nil, err
	}
	return f.applyOutputHooks(y)
}

// Mul returns a ⊙ b, then the output hooks.
func (f *FloatFunctional) Mul(a, b *gorgonia.Node) (*gorgonia.Node, error) {
	a, b, err := binaryOperands("mul", a, b)
	if err != nil {
		return nil, err
	}
	y, err := elementwise(a, b, spanMul)
	if err != nil {
		return nil, err
	}
	return f.applyOutputHooks(y)
}

// AddReLU returns relu(a + b), then the output hooks.
func (f *FloatFunctional) AddReLU(a, b *gorgonia.Node) (*gorgonia.Node, error) {
	a, b, err := binaryOperands("add_relu", a, b)
	if err != nil {
		return nil, err
	}
	y, err := elementwise(a, b, spanAdd)
	if err != nil {
		return nil, err
	}
	if y, err = activate(y, act{kind: actReLU}); err != nil {
		return nil, err
	}
	return f.applyOutputHooks(y)
}

// AddScalar returns x + s. Like PyTorch, no output hook runs: the
// quantized op derives its output qparams from the input's.
func (f *FloatFunctional) AddScalar(x *gorgonia.Node, s float32) (*gorgonia.Node, error) {
	if err := checkF32Node("add_scalar", x, -1); err != nil {
		return nil, err
	}
	return gorgonia.Add(x, gorgonia.NewConstant(s))
}

// MulScalar returns x·s; no output hook runs (see AddScalar).
func (f *FloatFunctional) MulScalar(x *gorgonia.Node, s float32) (*gorgonia.Node, error) {
	if err := checkF32Node("mul_scalar", x, -1); err != nil {
		return nil, err
	}
	return gorgonia.HadamardProd(x, gorgonia.NewConstant(s))
}

// Cat concatenates xs along dim (negative counts from the end), then the
// output hooks. All inputs must agree on every other axis.
func (f *FloatFunctional) Cat(xs []*gorgonia.Node, dim int) (*gorgonia.Node, error) {
	if len(xs) == 0 {
		return nil, fmt.Errorf("nn: cat: no inputs")
	}
	for _, x := range xs {
		if err := checkF32Node("cat", x, -1); err != nil {
			return nil, err
		}
	}
	r := xs[0].Shape().Dims()
	if dim < 0 {
		dim += r
	}
	if dim < 0 || dim >= r {
		return nil, fmt.Errorf("nn: cat: dim out of range for shape %v", xs[0].Shape())
	}
	for _, x := range xs[1:] {
		s := x.Shape()
		if s.Dims() != r {
			return nil, fmt.Errorf("nn: cat: shapes %v and %v differ in rank", xs[0].Shape(), s)
		}
		for i := 0; i < r; i++ {
			if i != dim && s[i] != xs[0].Shape()[i] {
				return nil, fmt.Errorf("nn: cat: shapes %v and %v differ outside dim %d", xs[0].Shape(), s, dim)
			}
		}
	}
	y := xs[0]
	if len(xs) > 1 {
		var err error
		if y, err = cat(dim, xs...); err != nil {
			return nil, err
		}
	}
	return f.applyOutputHooks(y)
}
