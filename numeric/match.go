package numeric

import (
	"fmt"
	"strings"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"gorgonia.org/gorgonia"
)

// pair is one quantized module and its float twin.
//
// The twin is the float module at the same path, or — when the float model
// was not fused and the quantized one was — that module followed by the
// siblings fusion replaced with Identity (Conv2d, BatchNorm2d, ReLU at
// "0", "1", "2" of the float model against QuantizedConvReLU2d, Identity,
// Identity of the quantized one).
type pair struct {
	path  string
	quant nn.Module
	group []nn.NamedModule // the float twin, in order
}

// floatPath is the path of the float module whose output matches the
// quantized module's output.
func (p *pair) floatPath() string { return p.group[len(p.group)-1].Path }

// floatType names the float twin ("Conv2d+BatchNorm2d+ReLU" for a group).
func (p *pair) floatType() string {
	names := make([]string, len(p.group))
	for i, m := range p.group {
		names[i] = m.Module.TypeName()
	}
	return strings.Join(names, "+")
}

// forwardFloat runs the float twin on x; a recurrent twin starts from the
// initial states the quantized module was given.
func (p *pair) forwardFloat(x *gorgonia.Node, states []*gorgonia.Node) (*gorgonia.Node, error) {
	var err error
	for i, m := range p.group {
		var st []*gorgonia.Node
		if i == 0 {
			st = states
		}
		if x, err = callState(m.Module, x, st); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// isFunctional reports whether m is a FloatFunctional-like module, whose
// methods take several inputs and run no pre-hooks; it is logged by
// CompareModelOutputs but not shadowed.
func isFunctional(m nn.Module) bool {
	switch m.TypeName() {
	case "FloatFunctional", "QFunctional", "FXFloatFunctional":
		return true
	}
	return false
}

// leaves lists the leaf modules of the float twin in order (the children
// of fused modules).
func (p *pair) leaves() []nn.Module {
	var out []nn.Module
	for _, g := range p.group {
		for _, nm := range nn.NamedModules(g.Module) {
			if len(nm.Module.ModuleBase().Children()) == 0 {
				out = append(out, nm.Module)
			}
		}
	}
	return out
}

// isNoop reports whether a module of a converted model passes its input
// through unchanged (what fusion leaves behind, and dropout).
func isNoop(m nn.Module) bool {
	switch t := m.(type) {
	case *nn.Identity, *nn.Dropout:
		return true
	case *nodes.Passthrough:
		return isNoop(t.Float)
	}
	return false
}

// comparable reports whether a module of the quantized model gets a
// comparison: leaves of the tree that compute something (not Identity,
// Dropout or DeQuantize, whose output repeats their input's).
func comparableQuant(m nn.Module) bool {
	if len(m.ModuleBase().Children()) > 0 || isNoop(m) {
		return false
	}
	switch m.(type) {
	case *nodes.DequantizeModule, *eager.DeQuantStub:
		return false
	}
	return true
}

// matchModules pairs every comparable module of quant with its float twin
// in float, in the quantized model's pre-order. types, when non-empty,
// keeps only pairs whose first float module's TypeName is listed.
func matchModules(op string, float, quant nn.Module, types []string) ([]*pair, error) {
	if float == nil || quant == nil {
		return nil, fmt.Errorf("numeric: %s: nil model (float %v, quantized %v)", op, float != nil, quant != nil)
	}
	if float == quant {
		return nil, fmt.Errorf("numeric: %s: the float and quantized models are the same object (Convert without InPlace returns a copy)", op)
	}
	allow := map[string]bool{}
	for _, t := range types {
		allow[t] = true
	}
	var out []*pair
	for _, qm := range nn.NamedModules(quant) {
		if !comparableQuant(qm.Module) {
			continue
		}
		fm, err := nn.Get(float, qm.Path)
		if err != nil {
			continue
		}
		p := &pair{path: qm.Path, quant: qm.Module, group: []nn.NamedModule{{Path: qm.Path, Module: fm}}}
		p.group = append(p.group, fusedSiblings(float, quant, qm.Path)...)
		if len(allow) > 0 && !allow[fm.TypeName()] {
			continue
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("numeric: %s: no module of the quantized model (%s) has a float twin at the same path in the float model (%s)", op, quant.TypeName(), float.TypeName())
	}
	return out, nil
}

// fusedSiblings returns the float modules at the sibling paths after path
// whose quantized counterparts are no-ops while they are not: the rest of
// a fused group when the float model is the unfused one.
func fusedSiblings(float, quant nn.Module, path string) []nn.NamedModule {
	if path == "" {
		return nil
	}
	parentPath, name := "", path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		parentPath, name = path[:i], path[i+1:]
	}
	qParent, err := nn.Get(quant, parentPath)
	if err != nil {
		return nil
	}
	fParent, err := nn.Get(float, parentPath)
	if err != nil {
		return nil
	}
	var out []nn.NamedModule
	kids := qParent.ModuleBase().Children()
	start := -1
	for i, c := range kids {
		if c.Name == name {
			start = i
		}
	}
	if start < 0 {
		return nil
	}
	for _, c := range kids[start+1:] {
		if !isNoop(c.Module) {
			break
		}
		fm := fParent.ModuleBase().Child(c.Name)
		if fm == nil || isNoop(fm) {
			break
		}
		p := c.Name
		if parentPath != "" {
			p = parentPath + "." + c.Name
		}
		out = append(out, nn.NamedModule{Path: p, Module: fm})
	}
	return out
}

// sameTypes reports whether the quantized module is the float twin's own
// type (a module left float), which a shadow comparison skips as PyTorch's
// _is_identical_module_type does.
func sameTypes(p *pair) bool {
	return len(p.group) == 1 && p.group[0].Module.TypeName() == p.quant.TypeName()
}

// checkEval returns an error if a module of m whose forward depends on the
// mode (BatchNorm, InstanceNorm, Dropout, recurrent layers with dropout) is
// in training mode: running it would update batch-norm statistics and draw
// dropout masks. Other modules may be in training mode, as the modules
// FuseModules builds are (PyTorch's too).
func checkEval(op, which string, m nn.Module) error {
	for _, nm := range nn.NamedModules(m) {
		if !nm.Module.ModuleBase().Training() {
			continue
		}
		switch nm.Module.(type) {
		case *nn.BatchNorm, *nn.InstanceNorm, *nn.Dropout, *nn.LSTM, *nn.GRU, *nn.RNN:
			return fmt.Errorf("numeric: %s: %s model module %s (%s) is in training mode; call nn.Eval first", op, which, displayName(nm.Path), nm.Module.TypeName())
		}
	}
	return nil
}
