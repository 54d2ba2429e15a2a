package graphmode

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/fuse"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// kind is what a pattern computes.
type kind int

const (
	kLinear  kind = iota + 1 // matmul with a weight (+ bias) (+ relu)
	kConv                    // Conv2d subgraph (+ bias) (+ batch norm) (+ relu)
	kAdd                     // add of two activations (+ relu)
	kReLU                    // Rectify alone: keeps the input's qparams
	kMaxPool                 // MaxPool2D: keeps the input's qparams
	kReshape                 // Reshape: keeps the input's qparams
)

func (k kind) String() string {
	switch k {
	case kLinear:
		return "linear"
	case kConv:
		return "conv2d"
	case kAdd:
		return "add"
	case kReLU:
		return "relu"
	case kMaxPool:
		return "maxpool2d"
	case kReshape:
		return "reshape"
	}
	return "?"
}

// pattern is one recognised piece of the float graph, rooted at the last
// node it covers.
type pattern struct {
	kind  kind
	root  *gorgonia.Node
	in    *gorgonia.Node // activation input (first operand for add)
	in2   *gorgonia.Node // second operand of add
	nodes []*gorgonia.Node

	weight *tensor.Dense // linear: (N, K); conv: (O, C, kh, kw), batch norm folded
	bias   *tensor.Dense // nil or (N) / (O)
	relu   bool
	bn     bool
	biased bool // the float graph adds a bias (before any batch-norm folding)

	// conv and max-pool geometry
	kernel, stride, pad, dilation []int
	// reshape target
	shape []int
}

func (p *pattern) describe() string {
	s := p.kind.String()
	if p.biased {
		s += "+bias"
	}
	if p.bn {
		s += "+batchnorm(folded)"
	}
	if p.relu {
		s += "+relu"
	}
	return s
}

// analysis is the read-only view of the float graph.
type analysis struct {
	g         *gorgonia.ExprGraph
	outputs   []*gorgonia.Node
	order     []*gorgonia.Node // reachable nodes, children first
	consumers map[*gorgonia.Node][]*gorgonia.Node
	isOutput  map[*gorgonia.Node]bool
	pat       map[*gorgonia.Node]*pattern // by root
	member    map[*gorgonia.Node]*pattern // every node a pattern covers
	qval      map[*gorgonia.Node]bool     // node's value is quantized in the quantized graph
	reason    map[*gorgonia.Node]string   // why a compute node stays float
	dd        map[*gorgonia.Node]bool     // memo of dataDependent
}

// newAnalysis validates the graph and outputs and orders the reachable nodes.
func newAnalysis(g *gorgonia.ExprGraph, outputs []*gorgonia.Node) (*analysis, error) {
	if g == nil {
		return nil, fmt.Errorf("nil graph")
	}
	if len(outputs) == 0 {
		return nil, fmt.Errorf("no outputs")
	}
	a := &analysis{g: g, consumers: map[*gorgonia.Node][]*gorgonia.Node{}, isOutput: map[*gorgonia.Node]bool{},
		pat: map[*gorgonia.Node]*pattern{}, member: map[*gorgonia.Node]*pattern{}, qval: map[*gorgonia.Node]bool{}, reason: map[*gorgonia.Node]string{},
		dd: map[*gorgonia.Node]bool{}}
	for i, o := range outputs {
		if o == nil {
			return nil, fmt.Errorf("output %d is nil", i)
		}
		if gn, _ := g.Node(o.ID()).(*gorgonia.Node); o.Graph() != g || gn != o {
			return nil, fmt.Errorf("output %d (%s) is not a node of the graph", i, o.Name())
		}
		if dt, ok := dtypeOf(o); !ok || dt != tensor.Float32 {
			return nil, fmt.Errorf("output %d (%s) has type %v; graph mode quantizes float32 graphs", i, o.Name(), o.Type())
		}
		a.isOutput[o] = true
		a.outputs = append(a.outputs, o)
	}
	seen := map[*gorgonia.Node]int{} // 1 visiting, 2 done
	var visit func(n *gorgonia.Node) error
	visit = func(n *gorgonia.Node) error {
		switch seen[n] {
		case 1:
			return fmt.Errorf("graph has a cycle through %s", n.Name())
		case 2:
			return nil
		}
		seen[n] = 1
		if n.Op() != nil && n.Op().Arity() == 0 && !isConst(n) {
			return fmt.Errorf("node %s: op %v with no inputs is not supported", n.Name(), n.Op())
		}
		for _, c := range children(g, n) {
			if err := visit(c); err != nil {
				return err
			}
			a.consumers[c] = append(a.consumers[c], n)
		}
		seen[n] = 2
		a.order = append(a.order, n)
		return nil
	}
	for _, o := range a.outputs {
		if err := visit(o); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// dtypeOf is n.Dtype() for nodes whose type has one (Node.Dtype panics
// for other types).
func dtypeOf(n *gorgonia.Node) (dt tensor.Dtype, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return n.Dtype(), true
}

// only returns the single consumer of n, or nil when n has several, none,
// or is an output (a fused intermediate must feed only its successor).
func (a *analysis) only(n *gorgonia.Node) *gorgonia.Node {
	cs := a.users(n)
	if a.isOutput[n] || len(cs) != 1 {
		return nil
	}
	return cs[0]
}

// users returns n's consumers that use its value: SizeOf nodes (made by
// broadcasting) only read its static shape and are left out.
func (a *analysis) users(n *gorgonia.Node) []*gorgonia.Node {
	var out []*gorgonia.Node
	for _, c := range a.consumers[n] {
		if opType(c) != "gorgonia.sizeOp" {
			out = append(out, c)
		}
	}
	return out
}

// relu tries to extend a pattern ending at y with a fused Rectify.
func (a *analysis) reluAfter(y *gorgonia.Node) (h, cmp *gorgonia.Node, ok bool) {
	if a.isOutput[y] || len(a.users(y)) != 2 {
		return nil, nil, false
	}
	for _, c := range a.users(y) {
		if yy, cm, ok := rectifyOf(a.g, c); ok && yy == y && a.only(cm) == c {
			return c, cm, true
		}
	}
	return nil, nil, false
}

// biasAfter tries to extend a pattern ending at y with an add of a
// per-channel constant along axis.
func (a *analysis) biasAfter(y *gorgonia.Node, axis int) (add *gorgonia.Node, bias []float32, nodes []*gorgonia.Node, err error) {
	add = a.only(y)
	if add == nil || !opIs(add, tElemBin, "+ false") {
		return nil, nil, nil, nil
	}
	ch := children(a.g, add)
	if len(ch) != 2 {
		return nil, nil, nil, nil
	}
	other := ch[1]
	if ch[1] == y {
		other = ch[0]
	}
	if other == y {
		return nil, nil, nil, nil
	}
	vec, nodes, ok, err := channelVector(a.g, other, add.Shape(), axis)
	if err != nil || !ok {
		return nil, nil, nil, err
	}
	return add, vec, append(nodes, add), nil
}

func (a *analysis) claim(p *pattern) {
	a.pat[p.root] = p
	for _, n := range p.nodes {
		if a.member[n] == nil {
			a.member[n] = p
		}
	}
	a.member[p.root] = p
}

// matchLinear recognises a linear layer at the matmul m.
func (a *analysis) matchLinear(m *gorgonia.Node) (*pattern, error) {
	ch := children(a.g, m)
	x, w := ch[0], ch[1]
	if ok, err := a.linearWeight(m, x, w); !ok || err != nil {
		return nil, err
	}
	wv, err := weightValue(w, "weight of matmul "+m.Name())
	if err != nil {
		return nil, err
	}
	if m.Op().String() == "A × B" { // W is (K, N): PyTorch's weight is (N, K)
		wv = transpose2D(wv)
	}
	p := &pattern{kind: kLinear, in: x, root: m, nodes: []*gorgonia.Node{m}, weight: wv}
	if add, bias, nodes, err := a.biasAfter(m, 1); err != nil {
		return nil, err
	} else if add != nil {
		p.root, p.bias, p.biased = add, tensor.New(tensor.WithShape(len(bias)), tensor.WithBacking(bias)), true
		p.nodes = append(p.nodes, nodes...)
	}
	if err := a.foldBN(p); err != nil {
		return nil, err
	}
	if h, cmp, ok := a.reluAfter(p.root); ok {
		p.relu, p.root = true, h
		p.nodes = append(p.nodes, cmp, h)
	}
	return p, nil
}

// transpose2D returns the (N, K) transpose of the contiguous float32
// matrix d (K, N).
func transpose2D(d *tensor.Dense) *tensor.Dense {
	s := d.Shape()
	k, n := s[0], s[1]
	src := d.Float32s()
	out := make([]float32, k*n)
	for i := 0; i < k; i++ {
		for j := 0; j < n; j++ {
			out[j*k+i] = src[i*n+j]
		}
	}
	return tensor.New(tensor.WithShape(n, k), tensor.WithBacking(out))
}

// matchConv recognises Gorgonia's Conv2d subgraph at its matmul m
// ("A × Bᵀ" of the reshaped im2col and the reshaped filter).
func (a *analysis) matchConv(m *gorgonia.Node) (*pattern, bool, error) {
	if m.Op().String() != "A × Bᵀ" {
		return nil, false, nil
	}
	ch := children(a.g, m)
	patch, fr := ch[0], ch[1]
	if !opIs(patch, tReshape, "") || !opIs(fr, tReshape, "") {
		return nil, false, nil
	}
	pc, fc := children(a.g, patch), children(a.g, fr)
	if len(pc) != 1 || len(fc) != 1 || !opIs(pc[0], tIm2col, "") || fc[0].Dims() != 4 {
		return nil, false, nil
	}
	im2col, filter := pc[0], fc[0]
	r := a.only(m)
	if r == nil || !opIs(r, tReshape, "") || r.Dims() != 4 {
		return nil, false, nil
	}
	t := a.only(r)
	if t == nil || !opIs(t, tTranspose, "Aᵀ{0, 3, 1, 2}") {
		return nil, false, nil
	}
	geo, ok := intFields(im2col.Op(), "h", "w", "padH", "padW", "strideH", "strideW", "dilationH", "dilationW")
	if !ok {
		return nil, false, nil
	}
	xs := children(a.g, im2col)
	if len(xs) != 1 || xs[0].Dims() != 4 {
		return nil, false, nil
	}
	fs := filter.Shape()
	if fs[2] != geo[0] || fs[3] != geo[1] || fs[1] != xs[0].Shape()[1] {
		return nil, false, nil
	}
	wv, err := weightValue(filter, "filter of conv "+t.Name())
	if err != nil {
		return nil, true, err
	}
	p := &pattern{kind: kConv, in: xs[0], root: t, weight: wv,
		nodes:  []*gorgonia.Node{im2col, patch, fr, m, r, t},
		kernel: geo[0:2], pad: geo[2:4], stride: geo[4:6], dilation: geo[6:8]}
	o := fs[0]
	if add, bias, nodes, err := a.biasAfter(t, 1); err != nil {
		return nil, true, err
	} else if add != nil {
		p.root, p.bias, p.biased = add, tensor.New(tensor.WithShape(o), tensor.WithBacking(bias)), true
		p.nodes = append(p.nodes, nodes...)
	}
	if err := a.foldBN(p); err != nil {
		return nil, true, err
	}
	if h, cmp, ok := a.reluAfter(p.root); ok {
		p.relu, p.root = true, h
		p.nodes = append(p.nodes, cmp, h)
	}
	return p, true, nil
}

// foldBN extends a conv or linear pattern with gorgonia.BatchNorm's
// subgraph (BatchNormOp, then ⊙ γ, then + β, both per channel: broadcast
// from C values, or of the full shape and constant along the other axes)
// and folds it into the weights with the op's running statistics and eps,
// as fuse_conv_bn_eval / fuse_linear_bn_eval do. A batch norm that does not
// match stays float (frozenBNOp).
func (a *analysis) foldBN(p *pattern) error {
	bnNode := a.only(p.root)
	if bnNode == nil {
		return nil
	}
	op, ok := bnNode.Op().(*gorgonia.BatchNormOp)
	if !ok {
		return nil
	}
	mul := a.only(bnNode)
	if mul == nil || !opIs(mul, tElemBin, "⊙ false") {
		return nil
	}
	mc := children(a.g, mul)
	if len(mc) != 2 {
		return nil
	}
	gNode := mc[0]
	if gNode == bnNode {
		gNode = mc[1]
	}
	gamma, gNodes, ok, err := channelVector(a.g, gNode, mul.Shape(), 1)
	if err != nil || !ok {
		return err
	}
	add, beta, bNodes, err := a.biasAfter(mul, 1)
	if err != nil || add == nil {
		return err
	}
	mean, variance, eps, err := bnStats(op)
	if err != nil || len(mean) != len(gamma) {
		return nil // not foldable: stays float (and errors there if unreadable)
	}
	vec := func(v []float32) *tensor.Dense {
		return tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(append([]float32(nil), v...)))
	}
	var w, b *tensor.Dense
	if p.kind == kLinear {
		w, b, err = fuse.FuseLinearBNWeights(p.weight, p.bias, vec(mean), vec(variance), eps, vec(gamma), vec(beta))
	} else {
		w, b, err = fuse.FuseConvBNWeights(p.weight, p.bias, vec(mean), vec(variance), eps, vec(gamma), vec(beta), false)
	}
	if err != nil {
		return fmt.Errorf("folding batch norm %s: %w", bnNode.Name(), err)
	}
	p.weight, p.bias, p.bn = w, b, true
	p.nodes = append(p.nodes, bnNode, mul)
	p.nodes = append(p.nodes, gNodes...)
	p.nodes = append(p.nodes, bNodes...)
	p.root = add
	return nil
}

// linearWeight decides whether the matmul m = x·w is a linear layer: w must
// be an input node; one without a value is a weight missing its value when
// x carries data (an error), and a data input when x is itself a weight
// (the W·X layout, which stays float).
func (a *analysis) linearWeight(m, x, w *gorgonia.Node) (bool, error) {
	if !isInput(w) {
		a.reason[m] = "matmul whose right operand is computed (two activations) has no quantized counterpart"
		return false, nil
	}
	if w.Value() == nil && !a.dataDependent(x, a.dd) {
		a.reason[m] = "matmul of a weight and a data input (W·X layout); graph mode quantizes x·W"
		return false, nil
	}
	return true, nil
}

// dataDependent reports whether n carries data (depends on a data input,
// an input node without a value), as opposed to a weight or constant.
func (a *analysis) dataDependent(n *gorgonia.Node, memo map[*gorgonia.Node]bool) bool {
	if v, ok := memo[n]; ok {
		return v
	}
	var r bool
	switch {
	case isInput(n):
		r = n.Value() == nil
	case isConst(n):
		r = false
	default:
		for _, c := range children(a.g, n) {
			if a.dataDependent(c, memo) {
				r = true
				break
			}
		}
	}
	memo[n] = r
	return r
}

// matchStatic finds the patterns of static quantization and decides which
// nodes carry quantized values.
func (a *analysis) matchStatic() error {
	dd := a.dd
	for _, n := range a.order {
		if a.member[n] != nil || n.Op() == nil {
			continue
		}
		switch {
		case isMatMul(a.g, n):
			p, isConv, err := a.matchConv(n)
			if err != nil {
				return err
			}
			if !isConv {
				if p, err = a.matchLinear(n); err != nil {
					return err
				}
			}
			if p != nil {
				a.claim(p)
			}
		case opIs(n, tElemBin, "+ false"):
			ch := children(a.g, n)
			if len(ch) == 2 && ch[0].Shape().Eq(n.Shape()) && ch[1].Shape().Eq(n.Shape()) &&
				a.dataDependent(ch[0], dd) && a.dataDependent(ch[1], dd) {
				p := &pattern{kind: kAdd, root: n, in: ch[0], in2: ch[1], nodes: []*gorgonia.Node{n}}
				if h, cmp, ok := a.reluAfter(n); ok {
					p.relu, p.root = true, h
					p.nodes = append(p.nodes, cmp, h)
				}
				a.claim(p)
			}
		}
	}
	// Ops that keep their input's qparams, and the quantized values.
	for _, n := range a.order {
		if p := a.pat[n]; p != nil {
			a.qval[n] = true
			continue
		}
		if a.member[n] != nil || n.Op() == nil {
			continue
		}
		ch := children(a.g, n)
		switch {
		case opIs(n, tDropout, ""):
			a.qval[n] = a.qval[ch[0]]
		case opIs(n, tReshape, ""):
			if a.qval[ch[0]] {
				a.claim(&pattern{kind: kReshape, root: n, in: ch[0], shape: n.Shape().Clone()})
				a.qval[n] = true
			}
		case opIs(n, tMaxPool, ""):
			if !a.qval[ch[0]] {
				break
			}
			geo, ok := intFields(n.Op(), "h", "w", "padNorth", "padWest", "padSouth", "padEast", "strideH", "strideW")
			if !ok {
				a.reason[n] = "max-pool op whose fields cannot be read"
				break
			}
			if geo[2] != geo[4] || geo[3] != geo[5] || 2*geo[2] > geo[0] || 2*geo[3] > geo[1] {
				a.reason[n] = fmt.Sprintf("max-pool padding %v is asymmetric or more than half the kernel %v", geo[2:6], geo[0:2])
				break
			}
			a.claim(&pattern{kind: kMaxPool, root: n, in: ch[0], kernel: geo[0:2], pad: geo[2:4], stride: geo[6:8]})
			a.qval[n] = true
		default:
			if y, cmp, ok := rectifyOf(a.g, n); ok && a.qval[y] {
				a.claim(&pattern{kind: kReLU, root: n, in: y, nodes: []*gorgonia.Node{cmp, n}})
				a.qval[n] = true
			}
		}
	}
	return nil
}

// matchDynamic finds the linear layers of dynamic quantization.
func (a *analysis) matchDynamic() error {
	for _, n := range a.order {
		if a.member[n] != nil || !isMatMul(a.g, n) {
			continue
		}
		if _, isConv, err := a.matchConv(n); err != nil || isConv {
			if err != nil {
				return err
			}
			a.reason[n] = "convolutions are not dynamically quantized (PyTorch's dynamic quantization covers Linear and RNNs)"
			continue
		}
		ch := children(a.g, n)
		if ok, err := a.linearWeight(n, ch[0], ch[1]); err != nil {
			return err
		} else if !ok {
			continue
		}
		wv, err := weightValue(ch[1], "weight of matmul "+n.Name())
		if err != nil {
			return err
		}
		if n.Op().String() == "A × B" {
			wv = transpose2D(wv)
		}
		p := &pattern{kind: kLinear, in: ch[0], root: n, nodes: []*gorgonia.Node{n}, weight: wv}
		if add, bias, nodes, err := a.biasAfter(n, 1); err != nil {
			return err
		} else if add != nil {
			p.root, p.bias, p.biased = add, tensor.New(tensor.WithShape(len(bias)), tensor.WithBacking(bias)), true
			p.nodes = append(p.nodes, nodes...)
		}
		a.claim(p)
	}
	return nil
}
