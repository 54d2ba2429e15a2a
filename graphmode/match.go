package graphmode

import (
	"fmt"
	"reflect"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Gorgonia's ops are unexported types. They are identified by their Go type
// name (fmt %T) together with their String(), both stable in v0.9.18:
//
//	gorgonia.linAlgBinOp  "A × B", "A × Bᵀ"          Mul / the matmul inside Conv2d
//	gorgonia.im2colOp     "im2col<…>"                 first op of Conv2d
//	gorgonia.reshapeOp    "Reshape(…)"                Reshape, broadcasting
//	gorgonia.transposeOp  "Aᵀ{0, 3, 1, 2}"            last op of Conv2d
//	gorgonia.elemBinOp    "+ false", "⊙ false", ">= true"
//	*gorgonia.repeatOp    "Repeat<axis>"              broadcasting
//	*gorgonia.maxPoolOp   "MaxPool{…}"                MaxPool2D
//	*gorgonia.dropoutOp   "Dropout{…}"                Dropout
//	*gorgonia.BatchNormOp                             BatchNorm (exported)
//	gorgonia.constantScalar / constantTensor          constants
const (
	tLinAlg    = "gorgonia.linAlgBinOp"
	tIm2col    = "gorgonia.im2colOp"
	tReshape   = "gorgonia.reshapeOp"
	tTranspose = "gorgonia.transposeOp"
	tElemBin   = "gorgonia.elemBinOp"
	tRepeat    = "*gorgonia.repeatOp"
	tMaxPool   = "*gorgonia.maxPoolOp"
	tDropout   = "*gorgonia.dropoutOp"
	tConstS    = "gorgonia.constantScalar"
	tConstT    = "gorgonia.constantTensor"
)

func opType(n *gorgonia.Node) string {
	if n.Op() == nil {
		return ""
	}
	return fmt.Sprintf("%T", n.Op())
}

func opIs(n *gorgonia.Node, typ, str string) bool {
	return n.Op() != nil && opType(n) == typ && (str == "" || n.Op().String() == str)
}

func isInput(n *gorgonia.Node) bool { return n.Op() == nil }

func isConst(n *gorgonia.Node) bool {
	t := opType(n)
	return t == tConstS || t == tConstT
}

func isMatMul(g *gorgonia.ExprGraph, n *gorgonia.Node) bool {
	if !opIs(n, tLinAlg, "A × B") && !opIs(n, tLinAlg, "A × Bᵀ") {
		return false
	}
	ch := children(g, n)
	return len(ch) == 2 && ch[0].Dims() == 2 && ch[1].Dims() == 2 && n.Dims() == 2
}

// children returns n's children in order (g.From keeps the order).
func children(g *gorgonia.ExprGraph, n *gorgonia.Node) []*gorgonia.Node {
	it := g.From(n.ID())
	if it == nil {
		return nil
	}
	var out []*gorgonia.Node
	for it.Next() {
		if c, ok := it.Node().(*gorgonia.Node); ok {
			out = append(out, c)
		}
	}
	return out
}

// field reads an unexported integer, boolean or float field of an op value
// (read only; reflection may read unexported fields but not set them).
func field(op any, name string) (reflect.Value, bool) {
	v := reflect.ValueOf(op)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}, false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	f := v.FieldByName(name)
	return f, f.IsValid()
}

func intFields(op any, names ...string) ([]int, bool) {
	out := make([]int, len(names))
	for i, nm := range names {
		f, ok := field(op, nm)
		if !ok || f.Kind() != reflect.Int {
			return nil, false
		}
		out[i] = int(f.Int())
	}
	return out, true
}

// zeroConst reports whether n is the scalar constant 0.
func zeroConst(n *gorgonia.Node) bool {
	if !isConst(n) || n.Value() == nil {
		return false
	}
	switch v := n.Value().Data().(type) {
	case float32:
		return v == 0
	case float64:
		return v == 0
	}
	return false
}

// rectifyOf recognises Gorgonia's Rectify(y) = y ⊙ (y ≥ 0) at the node h
// ("⊙ false" of y and the "≥ true" comparison of y with the constant 0) and
// returns y and the comparison node.
func rectifyOf(g *gorgonia.ExprGraph, h *gorgonia.Node) (y, cmp *gorgonia.Node, ok bool) {
	if !opIs(h, tElemBin, "⊙ false") {
		return nil, nil, false
	}
	ch := children(g, h)
	if len(ch) != 2 || !opIs(ch[1], tElemBin, ">= true") {
		return nil, nil, false
	}
	cc := children(g, ch[1])
	if len(cc) != 2 || cc[0] != ch[0] || !zeroConst(cc[1]) {
		return nil, nil, false
	}
	return ch[0], ch[1], true
}

// weightValue returns a contiguous float32 copy of the value of the weight
// input n (an input node in a weight position); a weight input without a
// value is an error.
func weightValue(n *gorgonia.Node, role string) (*tensor.Dense, error) {
	if !isInput(n) {
		return nil, fmt.Errorf("%s %q is computed, not an input node", role, n.Name())
	}
	if n.Value() == nil {
		return nil, fmt.Errorf("%s %q has no value (give weights values with gorgonia.WithValue or WithInit before quantizing)", role, n.Name())
	}
	d, ok := n.Value().(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%s %q holds a %T, want a *tensor.Dense", role, n.Name(), n.Value())
	}
	if d.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("%s %q has dtype %v, want float32", role, n.Name(), d.Dtype())
	}
	c := d.Clone().(*tensor.Dense)
	if c.RequiresIterator() {
		c = c.Materialize().(*tensor.Dense)
	}
	return c, nil
}

// channelVector recognises a per-channel constant feeding an element-wise op
// whose output has shape out: a weight input, optionally behind
// broadcasting's repeat and reshape chain, whose values depend only on the
// index along axis. It returns the C = out[axis] values. ok is false when
// the node is not such a constant; err is set when it is a weight input
// without a value.
func channelVector(g *gorgonia.ExprGraph, n *gorgonia.Node, out tensor.Shape, axis int) (vec []float32, nodes []*gorgonia.Node, ok bool, err error) {
	c := out[axis]
	cur := n
	for opIs(cur, tRepeat, "") {
		ch := children(g, cur)
		if len(ch) != 2 {
			return nil, nil, false, nil
		}
		nodes = append(nodes, cur, ch[1])
		cur = ch[0]
	}
	pre := cur.Shape()
	for opIs(cur, tReshape, "") {
		ch := children(g, cur)
		if len(ch) != 1 {
			return nil, nil, false, nil
		}
		nodes = append(nodes, cur)
		cur = ch[0]
	}
	if !isInput(cur) {
		return nil, nil, false, nil
	}
	if cur.Value() == nil {
		return nil, nil, false, fmt.Errorf("weight %q has no value (give weights values with gorgonia.WithValue or WithInit before quantizing)", cur.Name())
	}
	w, err := weightValue(cur, "weight")
	if err != nil {
		return nil, nil, false, err
	}
	data := w.Float32s()
	nodes = append(nodes, cur)
	// Broadcast form: the shape before the repeats is out's rank with C on
	// axis and 1 elsewhere, and holds C values in order.
	if len(pre) == len(out) && len(data) == c {
		good := true
		for i, s := range pre {
			if (i == axis && s != c) || (i != axis && s != 1) {
				good = false
			}
		}
		if good {
			return append([]float32(nil), data...), nodes, true, nil
		}
	}
	// Full form: the constant has out's shape and is constant along every
	// axis but axis.
	if n == cur && pre.Eq(out) {
		inner := 1
		for _, s := range out[axis+1:] {
			inner *= s
		}
		vec = make([]float32, c)
		for i := range vec {
			vec[i] = data[i*inner]
		}
		for i, v := range data {
			if v != vec[(i/inner)%c] {
				return nil, nil, false, nil
			}
		}
		return vec, nodes, true, nil
	}
	return nil, nil, false, nil
}
