package eager

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
)

// QuantStub is torch.ao.quantization.QuantStub: the identity on float
// input; Prepare observes its output and Convert turns it into a
// nodes.QuantizeModule with the observed qparams. Place one where the
// quantized region of a model starts.
type QuantStub struct {
	nn.Base
	nn.Stateless
}

// NewQuantStub returns a QuantStub with qconfig qc (nil: inherit).
func NewQuantStub(qc *QConfig) *QuantStub {
	s := &QuantStub{}
	if qc != nil {
		s.QConfig = qc
	}
	return s
}

// Forward returns x.
func (s *QuantStub) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if x == nil {
		return nil, fmt.Errorf("eager: QuantStub: input node is nil")
	}
	return x, nil
}

// TypeName returns "QuantStub".
func (s *QuantStub) TypeName() string { return "QuantStub" }

// Clone returns a copy.
func (s *QuantStub) Clone() nn.Module { return &QuantStub{Base: s.CloneBase()} }

// DeQuantStub is torch.ao.quantization.DeQuantStub: the identity in float;
// never observed; Convert turns it into a nodes.DequantizeModule. Place one
// where the quantized region ends.
type DeQuantStub struct {
	nn.Base
	nn.Stateless
}

// NewDeQuantStub returns a DeQuantStub with qconfig qc (nil: inherit).
func NewDeQuantStub(qc *QConfig) *DeQuantStub {
	s := &DeQuantStub{}
	if qc != nil {
		s.QConfig = qc
	}
	return s
}

// Forward returns x.
func (s *DeQuantStub) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if x == nil {
		return nil, fmt.Errorf("eager: DeQuantStub: input node is nil")
	}
	return x, nil
}

// TypeName returns "DeQuantStub".
func (s *DeQuantStub) TypeName() string { return "DeQuantStub" }

// Clone returns a copy.
func (s *DeQuantStub) Clone() nn.Module { return &DeQuantStub{Base: s.CloneBase()} }

// QuantWrapper is torch.ao.quantization.QuantWrapper: children "quant"
// (QuantStub), "dequant" (DeQuantStub) and "module"; Forward runs quant →
// module → dequant. The stubs take the module's qconfig and the wrapper its
// training flag.
type QuantWrapper struct {
	nn.Base
	nn.Stateless
}

// NewQuantWrapper wraps m.
func NewQuantWrapper(m nn.Module) (*QuantWrapper, error) {
	if m == nil {
		return nil, fmt.Errorf("eager: QuantWrapper: module is nil")
	}
	qc := QConfigOf(m)
	w := &QuantWrapper{}
	if err := w.AddModule("quant", NewQuantStub(qc)); err != nil {
		return nil, err
	}
	if err := w.AddModule("dequant", NewDeQuantStub(qc)); err != nil {
		return nil, err
	}
	if err := w.AddModule("module", m); err != nil {
		return nil, err
	}
	w.Train(m.ModuleBase().Training())
	return w, nil
}

// Forward runs quant, module, dequant, each through nn.Call.
func (w *QuantWrapper) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	var err error
	for _, name := range []string{"quant", "module", "dequant"} {
		c := w.Child(name)
		if c == nil {
			return nil, fmt.Errorf("eager: QuantWrapper: child %q is missing", name)
		}
		if x, err = nn.Call(c, x); err != nil {
			return nil, fmt.Errorf("%w (in QuantWrapper child %s)", err, name)
		}
	}
	return x, nil
}

// TypeName returns "QuantWrapper".
func (w *QuantWrapper) TypeName() string { return "QuantWrapper" }

// Clone deep-copies the wrapper.
func (w *QuantWrapper) Clone() nn.Module { return &QuantWrapper{Base: w.CloneBase()} }
