package nodes

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// nodeDtype returns the element dtype of a node without panicking.
func nodeDtype(n *gorgonia.Node) (tensor.Dtype, error) {
	switch t := n.Type().(type) {
	case tensor.Dtype:
		return t, nil
	case gorgonia.TensorType:
		if dt, ok := t.Of.(tensor.Dtype); ok {
			return dt, nil
		}
	case *gorgonia.TensorType:
		if t != nil {
			if dt, ok := t.Of.(tensor.Dtype); ok {
				return dt, nil
			}
		}
	}
	return tensor.Dtype{}, fmt.Errorf("node %s has type %v, not a tensor of a concrete dtype", n.Name(), n.Type())
}

// nodePort describes node n as an input port: its dtype, shape and type,
// and its qparams when it is quantized.
func nodePort(op, what string, n *gorgonia.Node) (port, error) {
	if n == nil {
		return port{}, fmt.Errorf("nodes: %s: %s is a nil node", op, what)
	}
	dt, err := nodeDtype(n)
	if err != nil {
		return port{}, fmt.Errorf("nodes: %s: %s: %w", op, what, err)
	}
	shape := n.Shape().Clone()
	if shape.TotalSize() < 0 {
		return port{}, fmt.Errorf("nodes: %s: %s has an unknown shape %v", op, what, shape)
	}
	for _, d := range shape {
		if d < 0 {
			return port{}, fmt.Errorf("nodes: %s: %s has an unknown shape %v", op, what, shape)
		}
	}
	if n.Dims() != len(shape) {
		return port{}, fmt.Errorf("nodes: %s: %s has rank %d but shape %v", op, what, n.Dims(), shape)
	}
	p := port{dt: dt, shape: shape, typ: n.Type()}
	if qdtype.IsQuantized(dt) {
		qp, err := QParamsOf(n)
		if err != nil {
			return port{}, fmt.Errorf("nodes: %s: %s: %w", op, what, err)
		}
		p.quant, p.qp = true, qp
	}
	return p, nil
}

// quantPort is nodePort for an input that must be quantized, with one of
// the dtypes dts (any quantized dtype if dts is empty).
func quantPort(op, what string, n *gorgonia.Node, dts ...tensor.Dtype) (port, error) {
	want := "a quantized dtype"
	for i, dt := range dts {
		if i == 0 {
			want = qdtype.Name(dt)
		} else {
			want += " or " + qdtype.Name(dt)
		}
	}
	if n != nil {
		// Check the dtype first: a float node has no qparams to look up.
		dt, err := nodeDtype(n)
		if err != nil {
			return port{}, fmt.Errorf("nodes: %s: %s: %w", op, what, err)
		}
		ok := qdtype.IsQuantized(dt) && len(dts) == 0
		for _, d := range dts {
			ok = ok || dt == d
		}
		if !ok {
			return port{}, fmt.Errorf("nodes: %s: %s has dtype %s, want %s", op, what, qdtype.Name(dt), want)
		}
	}
	return nodePort(op, what, n)
}

// floatPort is nodePort for an input that must be float32.
func floatPort(op, what string, n *gorgonia.Node) (port, error) {
	p, err := nodePort(op, what, n)
	if err != nil {
		return port{}, err
	}
	if p.dt != tensor.Float32 {
		return port{}, fmt.Errorf("nodes: %s: %s has dtype %s, want float32", op, what, qdtype.Name(p.dt))
	}
	return p, nil
}

// perTensor returns an error unless p carries per-tensor qparams.
func perTensor(op, what string, p port) error {
	if p.qp.PerChannel() {
		return fmt.Errorf("nodes: %s: %s is quantized %s; want per-tensor qparams", op, what, p.qp.Scheme)
	}
	return nil
}

// spec is what a builder assembles before building a node.
type spec struct {
	name     string
	params   string
	stateful bool
	ins      []port
	children []*gorgonia.Node
	fn       computeFunc
	// probe gives the input shapes of the build-time dry run; nil probes
	// with the build-time shapes.
	probe []tensor.Shape
	// outShape maps the dry run's output shape to the node's output shape;
	// nil keeps it.
	outShape func(tensor.Shape) tensor.Shape
	// out, when set, is the output port, already validated by the
	// builder's own dry run; build then skips its dry run.
	out *port
}

// batchOne returns s with its first dimension set to 1 (the dry-run shape
// of an op whose first dimension is a batch dimension).
func batchOne(s tensor.Shape) tensor.Shape {
	c := s.Clone()
	if len(c) > 0 {
		c[0] = 1
	}
	return c
}

// withBatch returns a function that sets the first dimension of a dry-run
// output shape back to n.
func withBatch(n int) func(tensor.Shape) tensor.Shape {
	return func(s tensor.Shape) tensor.Shape {
		c := s.Clone()
		if len(c) > 0 {
			c[0] = n
		}
		return c
	}
}

// build validates a spec by a dry run of its compute function on zeros
// (so that every argument check of package ops fires at graph
// construction), fixes the output port, and applies the op.
func build(s spec) (n *gorgonia.Node, op *Op, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, op, err = nil, nil, fmt.Errorf("nodes: %s: internal error building the node (recovered panic): %v", s.name, r)
		}
	}()
	o := &Op{name: s.name, params: s.params, ins: s.ins, fn: s.fn}
	if s.stateful {
		o.id = newID()
	}
	if len(s.children) == 0 {
		return nil, nil, fmt.Errorf("nodes: %s: no inputs", s.name)
	}
	g := s.children[0].Graph()
	for i, c := range s.children {
		if c.Graph() != g {
			return nil, nil, fmt.Errorf("nodes: %s: input %d belongs to another graph", s.name, i)
		}
	}
	if s.out != nil {
		o.out = *s.out
	} else {
		shape, qp, err := o.probe(s.probe)
		if err != nil {
			return nil, nil, err
		}
		if s.outShape != nil {
			shape = s.outShape(shape)
		}
		if qp.Dtype.Type != nil && qdtype.IsQuantized(qp.Dtype) {
			o.out = port{dt: qp.Dtype, shape: shape, quant: true, qp: qp}
		} else {
			o.out = port{dt: tensor.Float32, shape: shape}
		}
	}
	o.out.typ = typeOf(o.out.dt, len(o.out.shape))
	n, err = gorgonia.ApplyOp(o, s.children...)
	if err != nil {
		return nil, nil, fmt.Errorf("nodes: %s: %w", s.name, err)
	}
	return n, o, nil
}

// QParamsOf returns the qparams of a quantized node: those of the op that
// produced it (any builder of this package, or AttachQParams for an input
// node). It returns an error for float nodes and for quantized nodes made
// by other ops, whose qparams are unknown.
func QParamsOf(n *gorgonia.Node) (qdtype.QParams, error) {
	if n == nil {
		return qdtype.QParams{}, fmt.Errorf("nodes: qparams of a nil node")
	}
	o, ok := n.Op().(*Op)
	if !ok {
		if n.Op() == nil {
			return qdtype.QParams{}, fmt.Errorf("nodes: node %s is an input node with no qparams; declare them with AttachQParams", n.Name())
		}
		return qdtype.QParams{}, fmt.Errorf("nodes: node %s is made by %v, not by a quantized op; its qparams are unknown", n.Name(), n.Op())
	}
	qp, ok := o.QParams()
	if !ok {
		return qdtype.QParams{}, fmt.Errorf("nodes: node %s (%s) is float32, not quantized", n.Name(), o.name)
	}
	return qp, nil
}

// OpOf returns the *Op that produced n, or an error if n was not built by
// this package.
func OpOf(n *gorgonia.Node) (*Op, error) {
	if n == nil {
		return nil, fmt.Errorf("nodes: op of a nil node")
	}
	o, ok := n.Op().(*Op)
	if !ok {
		return nil, fmt.Errorf("nodes: node %s is not built by package nodes (op %v)", n.Name(), n.Op())
	}
	return o, nil
}
