package nn

import (
	"fmt"
	"strings"

	"gorgonia.org/gorgonia"
)

// Module is a PyTorch-style layer: it owns parameters and buffers, may
// contain named child modules, and builds Gorgonia nodes for its forward
// computation on the graph of its input.
//
// Implementations embed Base (which provides ModuleBase, children, the
// training flag, QConfig and hooks) and write Forward, TypeName,
// NamedParameters, NamedBuffers and Clone.
type Module interface {
	// Forward builds the module's computation on x's graph and returns the
	// output node. Containers run their children through Call so hooks apply.
	Forward(x *gorgonia.Node) (*gorgonia.Node, error)
	// TypeName is the PyTorch class name ("Linear", "Conv2d", ...), the key
	// of module mapping tables.
	TypeName() string
	// ModuleBase returns the embedded Base.
	ModuleBase() *Base
	// NamedParameters lists the module's own learnable tensors (not its
	// children's) in PyTorch registration order, nil ones omitted.
	NamedParameters() []Named
	// NamedBuffers lists the module's own non-learnable state (running
	// statistics), in PyTorch registration order.
	NamedBuffers() []Named
	// Clone returns a deep copy: new parameter and buffer storage, cloned
	// children; QConfig and hook functions are shared by reference.
	Clone() Module
}

// Named pairs a parameter or buffer with its attribute name.
type Named struct {
	Name  string
	Param *Parameter
}

// Child is a named child module.
type Child struct {
	Name   string
	Module Module
}

// Hook transforms a node: eager.Prepare attaches output observers as hooks
// (PyTorch's activation_post_process run by a forward hook).
type Hook func(x *gorgonia.Node) (*gorgonia.Node, error)

// Base carries what every module shares. Embed it by value.
//
// Children are kept here, in insertion order, so that Get, Set, NamedModules,
// Train and StateDict can walk any module tree; a composite module must look
// its children up with Child at Forward time (not cache them in fields),
// so that Set(m, path, replacement) takes effect on the next Forward.
type Base struct {
	// QConfig is opaque to nn; eager.Prepare stores the module's
	// quantization config here (PyTorch's module.qconfig).
	QConfig any
	// PreHooks run on the input before Forward (PyTorch forward pre-hooks).
	PreHooks []Hook
	// OutputHooks run, in order, on the output of Forward (PyTorch forward
	// hooks; eager.Prepare appends the output observer here).
	OutputHooks []Hook

	children []Child
	eval     bool
}

// ModuleBase returns b itself; it makes every type embedding Base satisfy
// that part of Module.
func (b *Base) ModuleBase() *Base { return b }

// Training reports whether the module is in training mode (the default).
func (b *Base) Training() bool { return !b.eval }

// Train sets training mode on the module and, recursively, on its children
// (PyTorch's module.train(mode)). Train(false) is eval().
func (b *Base) Train(mode bool) {
	b.eval = !mode
	for _, c := range b.children {
		c.Module.ModuleBase().Train(mode)
	}
}

// Children returns the direct children in insertion order (a copy of the list).
func (b *Base) Children() []Child { return append([]Child(nil), b.children...) }

// Child returns the direct child called name, or nil.
func (b *Base) Child(name string) Module {
	for _, c := range b.children {
		if c.Name == name {
			return c.Module
		}
	}
	return nil
}

// AddModule appends a child called name, or replaces the child of that name
// in place (PyTorch's add_module / setattr). The name must be non-empty and
// contain no dot.
func (b *Base) AddModule(name string, m Module) error {
	if name == "" || strings.Contains(name, ".") {
		return fmt.Errorf("nn: add module: invalid child name %q", name)
	}
	if m == nil {
		return fmt.Errorf("nn: add module: child %q is nil", name)
	}
	for i, c := range b.children {
		if c.Name == name {
			b.children[i].Module = m
			return nil
		}
	}
	b.children = append(b.children, Child{name, m})
	return nil
}

// cloneBase deep-copies the children list (cloning every child); hooks and
// QConfig are shared.
func (b *Base) cloneBase() Base {
	c := Base{
		QConfig:     b.QConfig,
		PreHooks:    append([]Hook(nil), b.PreHooks...),
		OutputHooks: append([]Hook(nil), b.OutputHooks...),
		eval:        b.eval,
	}
	for _, ch := range b.children {
		c.children = append(c.children, Child{ch.Name, ch.Module.Clone()})
	}
	return c
}

// applyOutputHooks runs b's output hooks on y.
func (b *Base) applyOutputHooks(y *gorgonia.Node) (*gorgonia.Node, error) {
	var err error
	for _, h := range b.OutputHooks {
		if y, err = h(y); err != nil {
			return nil, err
		}
	}
	return y, nil
}

// Call runs m on x the way PyTorch's module __call__ does: pre-hooks on
// the input, Forward, then the output hooks in order. Containers use it
// for their children; users call it on the root.
func Call(m Module, x *gorgonia.Node) (*gorgonia.Node, error) {
	if m == nil {
		return nil, fmt.Errorf("nn: call: module is nil")
	}
	if x == nil {
		return nil, fmt.Errorf("nn: call: %s: input node is nil", m.TypeName())
	}
	b := m.ModuleBase()
	var err error
	for _, h := range b.PreHooks {
		if x, err = h(x); err != nil {
			return nil, err
		}
	}
	y, err := m.Forward(x)
	if err != nil {
		return nil, err
	}
	return b.applyOutputHooks(y)
}

// Get returns the submodule at a dotted path ("features.0"); "" is m itself.
func Get(m Module, path string) (Module, error) {
	if m == nil {
		return nil, fmt.Errorf("nn: get: module is nil")
	}
	if path == "" {
		return m, nil
	}
	cur := m
	for _, part := range strings.Split(path, ".") {
		next := cur.ModuleBase().Child(part)
		if next == nil {
			return nil, fmt.Errorf("nn: get: %s has no child %q (path %q)", cur.TypeName(), part, path)
		}
		cur = next
	}
	return cur, nil
}

// Set replaces the submodule at a dotted path by repl (the child must
// already exist; PyTorch's _set_module used by fuse and convert).
func Set(m Module, path string, repl Module) error {
	if m == nil || repl == nil {
		return fmt.Errorf("nn: set: nil module (root %v, replacement %v)", m != nil, repl != nil)
	}
	if path == "" {
		return fmt.Errorf("nn: set: empty path; the root cannot be replaced in place")
	}
	parentPath, name := "", path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		parentPath, name = path[:i], path[i+1:]
	}
	parent, err := Get(m, parentPath)
	if err != nil {
		return fmt.Errorf("nn: set: %w", err)
	}
	pb := parent.ModuleBase()
	if pb.Child(name) == nil {
		return fmt.Errorf("nn: set: %s has no child %q (path %q)", parent.TypeName(), name, path)
	}
	return pb.AddModule(name, repl)
}

// NamedModule is a module with its dotted path from the root ("" for the root).
type NamedModule struct {
	Path   string
	Module Module
}

// NamedModules lists m and all its descendants in pre-order with dotted
// paths, as PyTorch's named_modules (a module reachable twice is listed once).
func NamedModules(m Module) []NamedModule {
	var out []NamedModule
	seen := map[Module]bool{}
	var walk func(prefix string, m Module)
	walk = func(prefix string, m Module) {
		if seen[m] {
			return
		}
		seen[m] = true
		out = append(out, NamedModule{prefix, m})
		for _, c := range m.ModuleBase().children {
			walk(joinPath(prefix, c.Name), c.Module)
		}
	}
	if m != nil {
		walk("", m)
	}
	return out
}

// NamedParametersOf lists every parameter of m and its descendants with
// dotted PyTorch names ("0.weight", "features.1.bias"), each tensor once.
func NamedParametersOf(m Module) []Named {
	return collect(m, func(m Module) []Named { return m.NamedParameters() })
}

// NamedBuffersOf lists every buffer of m and its descendants with dotted names.
func NamedBuffersOf(m Module) []Named {
	return collect(m, func(m Module) []Named { return m.NamedBuffers() })
}

func collect(m Module, own func(Module) []Named) []Named {
	var out []Named
	seen := map[*Parameter]bool{}
	for _, nm := range NamedModules(m) {
		for _, p := range own(nm.Module) {
			if p.Param == nil || seen[p.Param] {
				continue
			}
			seen[p.Param] = true
			out = append(out, Named{joinPath(nm.Path, p.Name), p.Param})
		}
	}
	return out
}

// Eval puts m and its descendants in evaluation mode; it returns m.
func Eval(m Module) Module { m.ModuleBase().Train(false); return m }

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
