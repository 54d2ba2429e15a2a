package nn

import (
	"fmt"
	"strconv"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Sequential runs its children in order, each through Call (so hooks
// apply); children are named "0", "1", … as in torch.nn.Sequential.
type Sequential struct {
	Base
	Stateless
}

// NewSequential returns a Sequential of the given modules.
func NewSequential(mods ...Module) (*Sequential, error) {
	s := &Sequential{}
	for _, m := range mods {
		if err := s.Append(m); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Append adds m as the next child.
func (s *Sequential) Append(m Module) error {
	return s.AddModule(strconv.Itoa(len(s.children)), m)
}

// Len returns the number of children.
func (s *Sequential) Len() int { return len(s.children) }

// At returns the i-th child (nil if out of range).
func (s *Sequential) At(i int) Module {
	if i < 0 || i >= len(s.children) {
		return nil
	}
	return s.children[i].Module
}

// TypeName returns "Sequential".
func (s *Sequential) TypeName() string { return "Sequential" }

// Forward runs the children in order.
func (s *Sequential) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	var err error
	for _, c := range s.children {
		if x, err = Call(c.Module, x); err != nil {
			return nil, fmt.Errorf("%w (in Sequential child %s)", err, c.Name)
		}
	}
	return x, nil
}

// Clone deep-copies the container and its children.
func (s *Sequential) Clone() Module { return &Sequential{Base: s.cloneBase()} }

// Identity returns its input. PyTorch: torch.nn.Identity (fusion puts it
// where a fused module used to be).
type Identity struct {
	Base
	Stateless
}

// NewIdentity returns an Identity.
func NewIdentity() *Identity { return &Identity{} }

// TypeName returns "Identity".
func (m *Identity) TypeName() string { return "Identity" }

// Forward returns x.
func (m *Identity) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if x == nil {
		return nil, fmt.Errorf("nn: identity: input node is nil")
	}
	return x, nil
}

// Clone returns a copy.
func (m *Identity) Clone() Module { return &Identity{Base: m.cloneBase()} }

// Flatten reshapes axes StartDim…EndDim into one. PyTorch: torch.nn.Flatten
// (defaults start 1, end −1; negative dims count from the end). It accepts
// any dtype, so a converted (quantized) model can keep it.
type Flatten struct {
	Base
	Stateless
	StartDim, EndDim int
}

// NewFlatten returns Flatten(start_dim=1, end_dim=-1).
func NewFlatten() *Flatten { return &Flatten{StartDim: 1, EndDim: -1} }

// TypeName returns "Flatten".
func (m *Flatten) TypeName() string { return "Flatten" }

// Forward reshapes x; the dims must be valid for x's rank.
func (m *Flatten) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if x == nil {
		return nil, fmt.Errorf("nn: flatten: input node is nil")
	}
	s := x.Shape()
	r := s.Dims()
	if r == 0 {
		return gorgonia.Reshape(x, tensor.Shape{1})
	}
	st, en := m.StartDim, m.EndDim
	if st < 0 {
		st += r
	}
	if en < 0 {
		en += r
	}
	if st < 0 || en >= r || st > en {
		return nil, fmt.Errorf("nn: flatten: dims (%d, %d) invalid for input shape %v", m.StartDim, m.EndDim, s)
	}
	if st == en {
		return x, nil
	}
	out := append(s[:st].Clone(), prod(s[st:en+1]))
	out = append(out, s[en+1:]...)
	if x.Dtype() != tensor.Float32 {
		// Quantized (or integer) tensors flatten as in PyTorch, where a
		// converted model keeps its nn.Flatten.
		return gorgonia.Reshape(x, out)
	}
	return reshape(x, out)
}

// Clone returns a copy.
func (m *Flatten) Clone() Module { c := *m; c.Base = m.cloneBase(); return &c }

// ModuleList is torch.nn.ModuleList: children "0", "1", … registered for
// traversal, state dicts and Set, run by the owning module's Forward.
type ModuleList struct {
	Base
	Stateless
}

// NewModuleList returns a ModuleList of mods.
func NewModuleList(mods ...Module) (*ModuleList, error) {
	l := &ModuleList{}
	for _, m := range mods {
		if err := l.Append(m); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Append adds m as the next child.
func (l *ModuleList) Append(m Module) error { return l.AddModule(strconv.Itoa(len(l.children)), m) }

// Len returns the number of children.
func (l *ModuleList) Len() int { return len(l.children) }

// At returns the i-th child (nil if out of range), read at call time so
// replacements by Set are seen.
func (l *ModuleList) At(i int) Module {
	if i < 0 || i >= len(l.children) {
		return nil
	}
	return l.children[i].Module
}

// TypeName returns "ModuleList".
func (l *ModuleList) TypeName() string { return "ModuleList" }

// Forward returns an error: a ModuleList is not callable (as in PyTorch).
func (l *ModuleList) Forward(*gorgonia.Node) (*gorgonia.Node, error) {
	return nil, fmt.Errorf("nn: ModuleList has no Forward; iterate over its children")
}

// Clone deep-copies the list and its children.
func (l *ModuleList) Clone() Module { return &ModuleList{Base: l.cloneBase()} }
