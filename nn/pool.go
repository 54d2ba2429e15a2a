package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// to4d reshapes an unbatched (C, H, W) input to (1, C, H, W) and reports
// whether it did; other ranks than 3 and 4 are errors.
func to4d(op string, x *gorgonia.Node) (*gorgonia.Node, bool, error) {
	if err := checkF32Node(op, x, -1); err != nil {
		return nil, false, err
	}
	s := x.Shape()
	switch s.Dims() {
	case 4:
		return x, false, nil
	case 3:
		y, err := reshape(x, append(tensor.Shape{1}, s...))
		return y, true, err
	}
	return nil, false, fmt.Errorf("nn: %s: input shape %v, want (N, C, H, W) or (C, H, W)", op, s)
}

func from4d(y *gorgonia.Node, unbatched bool) (*gorgonia.Node, error) {
	if !unbatched {
		return y, nil
	}
	return reshape(y, y.Shape()[1:].Clone())
}

func pair(op, what string, v []int, def []int) ([2]int, error) {
	var out [2]int
	e, err := expand(op, what, v, 2, 0)
	if err != nil {
		return out, err
	}
	if len(v) == 0 && def != nil {
		e = def
	}
	copy(out[:], e)
	return out, nil
}

// MaxPool2d is torch.nn.MaxPool2d: the maximum over each window (NaN
// propagates; -inf padding). Stride defaults to the kernel size.
type MaxPool2d struct {
	Base
	Stateless
	KernelSize, Stride, Padding, Dilation []int
	CeilMode                              bool
}

// NewMaxPool2d returns a MaxPool2d; options Stride, Padding, Dilation.
func NewMaxPool2d(kernel []int, opts ...Option) (*MaxPool2d, error) {
	o := buildOptions(opts)
	m := &MaxPool2d{KernelSize: kernel, Stride: o.stride, Padding: o.padding, Dilation: o.dilation}
	if _, err := m.geometry(1, 1, 1<<20, 1<<20); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *MaxPool2d) geometry(n, c, h, w int) (pool2d, error) {
	g := pool2d{max: true, ceil: m.CeilMode, n: n, c: c, h: h, w: w}
	var err error
	if g.k, err = pair("max_pool2d", "kernel size", m.KernelSize, nil); err != nil {
		return g, err
	}
	if g.s, err = pair("max_pool2d", "stride", m.Stride, g.k[:]); err != nil {
		return g, err
	}
	if g.p, err = pair("max_pool2d", "padding", m.Padding, nil); err != nil {
		return g, err
	}
	if g.d, err = pair("max_pool2d", "dilation", m.Dilation, []int{1, 1}); err != nil {
		return g, err
	}
	return newPool2d("max_pool2d", g)
}

// TypeName returns "MaxPool2d".
func (m *MaxPool2d) TypeName() string { return "MaxPool2d" }

// Forward pools x (N, C, H, W) or (C, H, W).
func (m *MaxPool2d) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return forwardPool2d("max_pool2d", x, m.geometry)
}

// Clone returns a copy.
func (m *MaxPool2d) Clone() Module {
	c := *m
	c.Base = m.cloneBase()
	c.KernelSize = append([]int(nil), m.KernelSize...)
	c.Stride = append([]int(nil), m.Stride...)
	c.Padding = append([]int(nil), m.Padding...)
	c.Dilation = append([]int(nil), m.Dilation...)
	return &c
}

// forwardPool2d applies the pool that geometry lays out for the input's
// (N, C, H, W) to x (N, C, H, W) or (C, H, W).
func forwardPool2d(op string, x *gorgonia.Node, geometry func(n, c, h, w int) (pool2d, error)) (*gorgonia.Node, error) {
	x4, unb, err := to4d(op, x)
	if err != nil {
		return nil, err
	}
	s := x4.Shape()
	g, err := geometry(s[0], s[1], s[2], s[3])
	if err != nil {
		return nil, err
	}
	y, err := gorgonia.ApplyOp(&poolOp{g: g, id: nextOpID()}, x4)
	if err != nil {
		return nil, err
	}
	return from4d(y, unb)
}

// AvgPool2d is torch.nn.AvgPool2d: the window mean, divided by
// DivisorOverride if non-zero, else by the window clipped to the padded
// input (CountIncludePad, the default) or to the input.
type AvgPool2d struct {
	Base
	Stateless
	KernelSize, Stride, Padding []int
	CeilMode                    bool
	CountIncludePad             bool
	DivisorOverride             int
}

// NewAvgPool2d returns an AvgPool2d with count_include_pad true; options
// Stride, Padding.
func NewAvgPool2d(kernel []int, opts ...Option) (*AvgPool2d, error) {
	o := buildOptions(opts)
	m := &AvgPool2d{KernelSize: kernel, Stride: o.stride, Padding: o.padding, CountIncludePad: true}
	if _, err := m.geometry(1, 1, 1<<20, 1<<20); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *AvgPool2d) geometry(n, c, h, w int) (pool2d, error) {
	g := pool2d{ceil: m.CeilMode, countIncludePad: m.CountIncludePad, divisor: m.DivisorOverride, n: n, c: c, h: h, w: w, d: [2]int{1, 1}}
	if m.DivisorOverride < 0 {
		return g, fmt.Errorf("nn: avg_pool2d: divisor override %d must be positive", m.DivisorOverride)
	}
	var err error
	if g.k, err = pair("avg_pool2d", "kernel size", m.KernelSize, nil); err != nil {
		return g, err
	}
	if g.s, err = pair("avg_pool2d", "stride", m.Stride, g.k[:]); err != nil {
		return g, err
	}
	if g.p, err = pair("avg_pool2d", "padding", m.Padding, nil); err != nil {
		return g, err
	}
	return newPool2d("avg_pool2d", g)
}

// TypeName returns "AvgPool2d".
func (m *AvgPool2d) TypeName() string { return "AvgPool2d" }

// Forward pools x (N, C, H, W) or (C, H, W).
func (m *AvgPool2d) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return forwardPool2d("avg_pool2d", x, m.geometry)
}

// Clone returns a copy.
func (m *AvgPool2d) Clone() Module {
	c := *m
	c.Base = m.cloneBase()
	c.KernelSize = append([]int(nil), m.KernelSize...)
	c.Stride = append([]int(nil), m.Stride...)
	c.Padding = append([]int(nil), m.Padding...)
	return &c
}

// AdaptiveAvgPool2d is torch.nn.AdaptiveAvgPool2d: output (oh, ow), window
// o along an axis of size n is [floor(o·n/out), ceil((o+1)·n/out)).
// OutputSize entries ≤ 0 keep the input size (PyTorch's None).
type AdaptiveAvgPool2d struct {
	Base
	Stateless
	OutputSize [2]int
}

// NewAdaptiveAvgPool2d returns an AdaptiveAvgPool2d with output (oh, ow).
func NewAdaptiveAvgPool2d(oh, ow int) *AdaptiveAvgPool2d {
	return &AdaptiveAvgPool2d{OutputSize: [2]int{oh, ow}}
}

// TypeName returns "AdaptiveAvgPool2d".
func (m *AdaptiveAvgPool2d) TypeName() string { return "AdaptiveAvgPool2d" }

// Forward pools x (N, C, H, W) or (C, H, W).
func (m *AdaptiveAvgPool2d) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	x4, unb, err := to4d("adaptive_avg_pool2d", x)
	if err != nil {
		return nil, err
	}
	s := x4.Shape()
	oh, ow := m.OutputSize[0], m.OutputSize[1]
	if oh <= 0 {
		oh = s[2]
	}
	if ow <= 0 {
		ow = s[3]
	}
	if s[2] == 0 || s[3] == 0 {
		return nil, fmt.Errorf("nn: adaptive_avg_pool2d: empty input %v", s)
	}
	y, err := applyAxisMap(x4, adaptiveAvgMap(3, s[3], ow))
	if err != nil {
		return nil, err
	}
	if y, err = applyAxisMap(y, adaptiveAvgMap(2, s[2], oh)); err != nil {
		return nil, err
	}
	return from4d(y, unb)
}

// Clone returns a copy.
func (m *AdaptiveAvgPool2d) Clone() Module { c := *m; c.Base = m.cloneBase(); return &c }

// pool1d runs a 2-d pool module on x (N, C, L) or (C, L) viewed as
// (N, C, 1, L).
func pool1d(op string, x *gorgonia.Node, run func(*gorgonia.Node) (*gorgonia.Node, error)) (*gorgonia.Node, error) {
	if err := checkF32Node(op, x, -1); err != nil {
		return nil, err
	}
	s := x.Shape()
	var v tensor.Shape
	switch s.Dims() {
	case 3:
		v = tensor.Shape{s[0], s[1], 1, s[2]}
	case 2:
		v = tensor.Shape{s[0], 1, s[1]}
	default:
		return nil, fmt.Errorf("nn: %s: input shape %v, want (N, C, L) or (C, L)", op, s)
	}
	x4, err := reshape(x, v)
	if err != nil {
		return nil, err
	}
	y, err := run(x4)
	if err != nil {
		return nil, err
	}
	ys := y.Shape()
	out := append(s[:s.Dims()-1].Clone(), ys[ys.Dims()-1])
	return reshape(y, out)
}

// MaxPool1d is torch.nn.MaxPool1d: MaxPool2d over (N, C, 1, L) with
// kernel (1, k), stride (1, s), padding (0, p), dilation (1, d).
type MaxPool1d struct {
	Base
	Stateless
	KernelSize, Stride, Padding, Dilation int
	CeilMode                              bool
}

// NewMaxPool1d returns MaxPool1d(kernel) with stride = kernel; options
// Stride, Padding, Dilation (one value each).
func NewMaxPool1d(kernel int, opts ...Option) (*MaxPool1d, error) {
	o := buildOptions(opts)
	m := &MaxPool1d{KernelSize: kernel, Stride: kernel, Dilation: 1}
	for _, v := range []struct {
		dst *int
		src []int
	}{{&m.Stride, o.stride}, {&m.Padding, o.padding}, {&m.Dilation, o.dilation}} {
		switch len(v.src) {
		case 0:
		case 1:
			*v.dst = v.src[0]
		default:
			return nil, fmt.Errorf("nn: max_pool1d: options take one value, got %v", v.src)
		}
	}
	if _, err := m.as2d().geometry(1, 1, 1, 1<<20); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *MaxPool1d) as2d() *MaxPool2d {
	return &MaxPool2d{KernelSize: []int{1, m.KernelSize}, Stride: []int{1, m.Stride}, Padding: []int{0, m.Padding}, Dilation: []int{1, m.Dilation}, CeilMode: m.CeilMode}
}

// TypeName returns "MaxPool1d".
func (m *MaxPool1d) TypeName() string { return "MaxPool1d" }

// Forward pools x (N, C, L) or (C, L).
func (m *MaxPool1d) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return pool1d("max_pool1d", x, m.as2d().Forward)
}

// Clone returns a copy.
func (m *MaxPool1d) Clone() Module { c := *m; c.Base = m.cloneBase(); return &c }

// AvgPool1d is torch.nn.AvgPool1d (count_include_pad true by default),
// AvgPool2d over (N, C, 1, L).
type AvgPool1d struct {
	Base
	Stateless
	KernelSize, Stride, Padding int
	CeilMode, CountIncludePad   bool
}

// NewAvgPool1d returns AvgPool1d(kernel) with stride = kernel; options
// Stride, Padding (one value each).
func NewAvgPool1d(kernel int, opts ...Option) (*AvgPool1d, error) {
	o := buildOptions(opts)
	m := &AvgPool1d{KernelSize: kernel, Stride: kernel, CountIncludePad: true}
	if len(o.stride) == 1 {
		m.Stride = o.stride[0]
	}
	if len(o.padding) == 1 {
		m.Padding = o.padding[0]
	}
	if len(o.stride) > 1 || len(o.padding) > 1 {
		return nil, fmt.Errorf("nn: avg_pool1d: options take one value, got stride %v padding %v", o.stride, o.padding)
	}
	if _, err := m.as2d().geometry(1, 1, 1, 1<<20); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *AvgPool1d) as2d() *AvgPool2d {
	return &AvgPool2d{KernelSize: []int{1, m.KernelSize}, Stride: []int{1, m.Stride}, Padding: []int{0, m.Padding}, CeilMode: m.CeilMode, CountIncludePad: m.CountIncludePad}
}

// TypeName returns "AvgPool1d".
func (m *AvgPool1d) TypeName() string { return "AvgPool1d" }

// Forward pools x (N, C, L) or (C, L).
func (m *AvgPool1d) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return pool1d("avg_pool1d", x, m.as2d().Forward)
}

// Clone returns a copy.
func (m *AvgPool1d) Clone() Module { c := *m; c.Base = m.cloneBase(); return &c }

// AdaptiveAvgPool1d is torch.nn.AdaptiveAvgPool1d(output_size).
type AdaptiveAvgPool1d struct {
	Base
	Stateless
	OutputSize int
}

// NewAdaptiveAvgPool1d returns AdaptiveAvgPool1d(out).
func NewAdaptiveAvgPool1d(out int) *AdaptiveAvgPool1d { return &AdaptiveAvgPool1d{OutputSize: out} }

// TypeName returns "AdaptiveAvgPool1d".
func (m *AdaptiveAvgPool1d) TypeName() string { return "AdaptiveAvgPool1d" }

// Forward pools x (N, C, L) or (C, L).
func (m *AdaptiveAvgPool1d) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return pool1d("adaptive_avg_pool1d", x, NewAdaptiveAvgPool2d(1, m.OutputSize).Forward)
}

// Clone returns a copy.
func (m *AdaptiveAvgPool1d) Clone() Module { c := *m; c.Base = m.cloneBase(); return &c }
