package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Linear is y = x·Wᵀ + b over the last axis: x (…, In) → y (…, Out),
// Weight (Out, In), Bias (Out) (nil without bias). PyTorch: torch.nn.Linear,
// initialised as there (kaiming_uniform(a=√5) weight, U(±1/√In) bias).
type Linear struct {
	Base
	InFeatures, OutFeatures int
	Weight, Bias            *Parameter
}

// NewLinear returns a Linear layer; WithBias(false) omits the bias and
// WithSeed/WithRand choose the initialisation source.
func NewLinear(in, out int, opts ...Option) (*Linear, error) {
	if in <= 0 || out <= 0 {
		return nil, fmt.Errorf("nn: linear: features must be positive (in %d, out %d)", in, out)
	}
	o := buildOptions(opts)
	bound := kaimingBound(in)
	l := &Linear{InFeatures: in, OutFeatures: out, Weight: NewParameter(o.uniform(bound, out, in))}
	if !o.noBias {
		l.Bias = NewParameter(o.uniform(bound, out))
	}
	return l, nil
}

// TypeName returns "Linear".
func (l *Linear) TypeName() string { return "Linear" }

// NamedParameters returns weight and bias.
func (l *Linear) NamedParameters() []Named { return params("weight", l.Weight, "bias", l.Bias) }

// NamedBuffers returns nothing.
func (l *Linear) NamedBuffers() []Named { return nil }

// Clone deep-copies the layer.
func (l *Linear) Clone() Module {
	c := *l
	c.Base = l.Base.cloneBase()
	c.Weight, c.Bias = l.Weight.Clone(), l.Bias.Clone()
	return &c
}

// Forward builds x·Wᵀ + b. x must be float32 with last axis InFeatures
// (any rank ≥ 1); the error names the mismatch otherwise.
func (l *Linear) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkF32Node("linear", x, -1); err != nil {
		return nil, err
	}
	s := x.Shape()
	if s.Dims() < 1 || s[s.Dims()-1] != l.InFeatures {
		return nil, fmt.Errorf("nn: linear: input shape %v, want last axis %d", s, l.InFeatures)
	}
	return linear(x, l.Weight, l.Bias)
}

// ForwardWeights computes x·wᵀ + b with the given weight (Out, In) and
// bias (Out, or nil) nodes instead of the module's parameters (for QAT and
// fused modules).
func (l *Linear) ForwardWeights(x, w, b *gorgonia.Node) (*gorgonia.Node, error) {
	return LinearNode(x, w, b)
}

// LinearNode is torch.nn.functional.linear on nodes: x (…, In),
// w (Out, In), b (Out) or nil → (…, Out).
func LinearNode(x, w, b *gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkF32Node("linear", x, -1); err != nil {
		return nil, err
	}
	if err := checkF32Node("linear", w, 2); err != nil {
		return nil, fmt.Errorf("%w (weight)", err)
	}
	s := x.Shape()
	if s.Dims() < 1 || s[s.Dims()-1] != w.Shape()[1] {
		return nil, fmt.Errorf("nn: linear: input shape %v, weight %v", s, w.Shape())
	}
	if b != nil {
		if err := checkF32Node("linear", b, 1); err != nil {
			return nil, fmt.Errorf("%w (bias)", err)
		}
		if b.Shape()[0] != w.Shape()[0] {
			return nil, fmt.Errorf("nn: linear: bias shape %v, weight %v", b.Shape(), w.Shape())
		}
	}
	return linearNodes(x, w, b)
}

// linear computes x·Wᵀ + b for x (…, In), W (Out, In), b (Out) or nil.
func linear(x *gorgonia.Node, w, b *Parameter) (*gorgonia.Node, error) {
	g := x.Graph()
	wn, err := w.Node(g)
	if err != nil {
		return nil, err
	}
	var bn *gorgonia.Node
	if b != nil {
		if bn, err = b.Node(g); err != nil {
			return nil, err
		}
	}
	return linearNodes(x, wn, bn)
}

// linearNodes is linear on nodes: x (…, In), w (Out, In), b (Out) or nil.
func linearNodes(x, w, b *gorgonia.Node) (*gorgonia.Node, error) {
	s := x.Shape()
	in := s[s.Dims()-1]
	out := w.Shape()[0]
	if w.Shape()[1] != in {
		return nil, fmt.Errorf("nn: linear: input shape %v, weight shape %v", s, w.Shape())
	}
	x2 := x
	var err error
	rows := s.TotalSize() / in
	if s.Dims() != 2 {
		if x2, err = reshape(x, tensor.Shape{rows, in}); err != nil {
			return nil, err
		}
	}
	y, err := matmul(x2, w, false, true)
	if err != nil {
		return nil, err
	}
	if b != nil {
		if y, err = spanApply(y, b, spanAdd, 1, 2); err != nil {
			return nil, err
		}
	}
	if s.Dims() != 2 {
		os := append(s[:s.Dims()-1].Clone(), out)
		if y, err = reshape(y, os); err != nil {
			return nil, err
		}
	}
	return y, nil
}

// params builds a Named list from name, parameter pairs, skipping nil ones.
func params(kv ...any) []Named {
	var out []Named
	for i := 0; i+1 < len(kv); i += 2 {
		p, _ := kv[i+1].(*Parameter)
		if p != nil {
			out = append(out, Named{kv[i].(string), p})
		}
	}
	return out
}
