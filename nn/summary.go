package nn

import (
	"fmt"
	"strings"
)

// Summary renders the module tree in the spirit of PyTorch's repr: one line
// per module, indented by depth, with its name, type, own parameter and
// buffer shapes, and markers for eval mode, a QConfig and hooks.
func Summary(m Module) string {
	var b strings.Builder
	var walk func(name string, m Module, depth int)
	walk = func(name string, m Module, depth int) {
		base := m.ModuleBase()
		fmt.Fprintf(&b, "%s", strings.Repeat("  ", depth))
		if name != "" {
			fmt.Fprintf(&b, "(%s): ", name)
		}
		b.WriteString(m.TypeName())
		var parts []string
		for _, p := range m.NamedParameters() {
			parts = append(parts, fmt.Sprintf("%s%v", p.Name, p.Param.Data.Shape()))
		}
		for _, p := range m.NamedBuffers() {
			parts = append(parts, fmt.Sprintf("%s%v", p.Name, p.Param.Data.Shape()))
		}
		if !base.Training() {
			parts = append(parts, "eval")
		}
		if base.QConfig != nil {
			parts = append(parts, "qconfig")
		}
		if n := len(base.PreHooks) + len(base.OutputHooks); n > 0 {
			parts = append(parts, fmt.Sprintf("hooks=%d", n))
		}
		if len(parts) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(parts, " "))
		}
		b.WriteByte('\n')
		for _, c := range base.children {
			walk(c.Name, c.Module, depth+1)
		}
	}
	if m != nil {
		walk("", m, 0)
	}
	return b.String()
}
