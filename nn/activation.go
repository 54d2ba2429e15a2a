package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
)

// Stateless is embedded by modules without parameters or buffers (in this
// package or outside it) to provide empty NamedParameters and NamedBuffers.
type Stateless struct{}

// NamedParameters returns nothing: the module has no parameters.
func (Stateless) NamedParameters() []Named { return nil }

// NamedBuffers returns nothing: the module has no buffers.
func (Stateless) NamedBuffers() []Named { return nil }

// ReLU is max(x, 0) elementwise (NaN propagates). PyTorch: torch.nn.ReLU.
type ReLU struct {
	Base
	Stateless
}

// NewReLU returns a ReLU.
func NewReLU() *ReLU { return &ReLU{} }

// TypeName returns "ReLU".
func (m *ReLU) TypeName() string { return "ReLU" }

// Forward builds max(x, 0); x must be float32.
func (m *ReLU) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return activate(x, act{kind: actReLU})
}

// Clone returns a copy.
func (m *ReLU) Clone() Module { return &ReLU{Base: m.cloneBase()} }

// ReLU6 is min(max(x, 0), 6). PyTorch: torch.nn.ReLU6.
type ReLU6 struct {
	Base
	Stateless
}

// NewReLU6 returns a ReLU6.
func NewReLU6() *ReLU6 { return &ReLU6{} }

// TypeName returns "ReLU6".
func (m *ReLU6) TypeName() string { return "ReLU6" }

// Forward builds min(max(x, 0), 6).
func (m *ReLU6) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return activate(x, act{kind: actHardtanh, a: 0, b: 6})
}

// Clone returns a copy.
func (m *ReLU6) Clone() Module { return &ReLU6{Base: m.cloneBase()} }

// Hardtanh is min(max(x, MinVal), MaxVal). PyTorch: torch.nn.Hardtanh
// (defaults −1, 1).
type Hardtanh struct {
	Base
	Stateless
	MinVal, MaxVal float32
}

// NewHardtanh returns a Hardtanh clamping to [minVal, maxVal].
func NewHardtanh(minVal, maxVal float32) (*Hardtanh, error) {
	if !(minVal <= maxVal) {
		return nil, fmt.Errorf("nn: hardtanh: min_val %v must not exceed max_val %v", minVal, maxVal)
	}
	return &Hardtanh{MinVal: minVal, MaxVal: maxVal}, nil
}

// TypeName returns "Hardtanh".
func (m *Hardtanh) TypeName() string { return "Hardtanh" }

// Forward builds the clamp.
func (m *Hardtanh) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return activate(x, act{kind: actHardtanh, a: m.MinVal, b: m.MaxVal})
}

// Clone returns a copy.
func (m *Hardtanh) Clone() Module { c := *m; c.Base = m.cloneBase(); return &c }

// LeakyReLU is x for x > 0, NegativeSlope·x otherwise. PyTorch:
// torch.nn.LeakyReLU (default slope 0.01).
type LeakyReLU struct {
	Base
	Stateless
	NegativeSlope float32
}

// NewLeakyReLU returns a LeakyReLU.
func NewLeakyReLU(negativeSlope float32) *LeakyReLU {
	return &LeakyReLU{NegativeSlope: negativeSlope}
}

// TypeName returns "LeakyReLU".
func (m *LeakyReLU) TypeName() string { return "LeakyReLU" }

// Forward builds the leaky rectifier.
func (m *LeakyReLU) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return activate(x, act{kind: actLeakyReLU, a: m.NegativeSlope})
}

// Clone returns a copy.
func (m *LeakyReLU) Clone() Module { c := *m; c.Base = m.cloneBase(); return &c }

// ELU is x for x > 0, Alpha·(exp(x) − 1) otherwise. PyTorch: torch.nn.ELU
// (default alpha 1).
type ELU struct {
	Base
	Stateless
	Alpha float32
}

// NewELU returns an ELU.
func NewELU(alpha float32) *ELU { return &ELU{Alpha: alpha} }

// TypeName returns "ELU".
func (m *ELU) TypeName() string { return "ELU" }

// Forward builds the ELU.
func (m *ELU) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return activate(x, act{kind: actELU, a: m.Alpha})
}

// Clone returns a copy.
func (m *ELU) Clone() Module { c := *m; c.Base = m.cloneBase(); return &c }

// Hardsigmoid is min(max(x + 3, 0), 6) / 6. PyTorch: torch.nn.Hardsigmoid.
type Hardsigmoid struct {
	Base
	Stateless
}

// NewHardsigmoid returns a Hardsigmoid.
func NewHardsigmoid() *Hardsigmoid { return &Hardsigmoid{} }

// TypeName returns "Hardsigmoid".
func (m *Hardsigmoid) TypeName() string { return "Hardsigmoid" }

// Forward builds the hard sigmoid.
func (m *Hardsigmoid) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return activate(x, act{kind: actHardsigmoid})
}

// Clone returns a copy.
func (m *Hardsigmoid) Clone() Module { return &Hardsigmoid{Base: m.cloneBase()} }

// Hardswish is x·min(max(x + 3, 0), 6) / 6. PyTorch: torch.nn.Hardswish.
type Hardswish struct {
	Base
	Stateless
}

// NewHardswish returns a Hardswish.
func NewHardswish() *Hardswish { return &Hardswish{} }

// TypeName returns "Hardswish".
func (m *Hardswish) TypeName() string { return "Hardswish" }

// Forward builds the hard swish.
func (m *Hardswish) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return activate(x, act{kind: actHardswish})
}

// Clone returns a copy.
func (m *Hardswish) Clone() Module { return &Hardswish{Base: m.cloneBase()} }

// Sigmoid is 1 / (1 + exp(−x)). PyTorch: torch.nn.Sigmoid.
type Sigmoid struct {
	Base
	Stateless
}

// NewSigmoid returns a Sigmoid.
func NewSigmoid() *Sigmoid { return &Sigmoid{} }

// TypeName returns "Sigmoid".
func (m *Sigmoid) TypeName() string { return "Sigmoid" }

// Forward builds the logistic function.
func (m *Sigmoid) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return activate(x, act{kind: actSigmoid})
}

// Clone returns a copy.
func (m *Sigmoid) Clone() Module { return &Sigmoid{Base: m.cloneBase()} }

// Tanh is the hyperbolic tangent. PyTorch: torch.nn.Tanh.
type Tanh struct {
	Base
	Stateless
}

// NewTanh returns a Tanh.
func NewTanh() *Tanh { return &Tanh{} }

// TypeName returns "Tanh".
func (m *Tanh) TypeName() string { return "Tanh" }

// Forward builds tanh(x).
func (m *Tanh) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return activate(x, act{kind: actTanh})
}

// Clone returns a copy.
func (m *Tanh) Clone() Module { return &Tanh{Base: m.cloneBase()} }

// GELU is torch.nn.GELU: x·Φ(x) with Φ the standard normal CDF
// (Approximate "none"), or 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
// with Approximate "tanh"; computed in float64 and rounded.
type GELU struct {
	Base
	Stateless
	Approximate string
}

// NewGELU returns GELU(approximate); approximate is "none" or "tanh".
func NewGELU(approximate string) (*GELU, error) {
	if approximate != "none" && approximate != "tanh" && approximate != "" {
		return nil, fmt.Errorf("nn: gelu: approximate %q (none or tanh)", approximate)
	}
	return &GELU{Approximate: approximate}, nil
}

// TypeName returns "GELU".
func (m *GELU) TypeName() string { return "GELU" }

// Forward builds the GELU.
func (m *GELU) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	a := act{kind: actGELU}
	if m.Approximate == "tanh" {
		a.b = 1
	}
	return activate(x, a)
}

// Clone returns a copy.
func (m *GELU) Clone() Module { c := *m; c.Base = m.cloneBase(); return &c }

// SiLU is torch.nn.SiLU: x·σ(x).
type SiLU struct {
	Base
	Stateless
}

// NewSiLU returns a SiLU.
func NewSiLU() *SiLU { return &SiLU{} }

// TypeName returns "SiLU".
func (m *SiLU) TypeName() string { return "SiLU" }

// Forward builds x·σ(x).
func (m *SiLU) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return activate(x, act{kind: actSiLU})
}

// Clone returns a copy.
func (m *SiLU) Clone() Module { return &SiLU{Base: m.cloneBase()} }
