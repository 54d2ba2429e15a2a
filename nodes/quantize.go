package nodes

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Quantize returns a node that quantizes the float32 node x with qp
// (per-tensor or per-channel along qp.Axis):
// q = clamp(zp + rne(f32(x·f32(1/scale))), qmin, qmax), rounding half to
// even, exactly as qtensor.Quantize; torch.quantize_per_tensor /
// torch.quantize_per_channel, nn.quantized.Quantize. The output is a
// quantized node of dtype qp.Dtype whose qparams are qp.
//
// Build-time errors: x not float32, qp invalid or not matching x's shape
// (per-channel axis and length). Run-time errors (from RunAll): NaN in x.
func Quantize(x *gorgonia.Node, qp qdtype.QParams) (*gorgonia.Node, error) {
	const name = "Quantize"
	in, err := floatPort(name, "input", x)
	if err != nil {
		return nil, err
	}
	if err := qp.ValidateFor(in.shape); err != nil {
		return nil, fmt.Errorf("nodes: %s: %w", name, err)
	}
	qp = qp.Clone()
	n, _, err := build(spec{
		name: name, params: qp.String(), ins: []port{in}, children: []*gorgonia.Node{x},
		fn: func(a []operand) (operand, error) {
			q, err := qtensor.Quantize(a[0].f, qp)
			return operand{q: q}, err
		},
	})
	return n, err
}

// Dequantize returns a float32 node with the real values of the quantized
// node x: f32(q − zp)·f32(scale) per element (per channel for per-channel
// qparams), as qtensor.QTensor.Dequantize; torch.dequantize,
// nn.quantized.DeQuantize. Error: x is not a quantized node with known
// qparams.
func Dequantize(x *gorgonia.Node) (*gorgonia.Node, error) {
	const name = "Dequantize"
	in, err := quantPort(name, "input", x)
	if err != nil {
		return nil, err
	}
	n, _, err := build(spec{
		name: name, params: in.qp.String(), ins: []port{in}, children: []*gorgonia.Node{x},
		fn: func(a []operand) (operand, error) {
			f, err := a[0].q.Dequantize()
			return operand{f: f}, err
		},
	})
	return n, err
}

// AttachQParams declares the qparams of a quantized node that has none,
// typically an input node created with gorgonia.NewTensor(g,
// qdtype.QUInt8Dtype, ...) that is fed integer data with gorgonia.Let. It
// returns a node with x's values (copied) whose qparams are qp, so that
// quantized builders can consume it. Errors: x is not of dtype qp.Dtype, qp
// is invalid or does not fit x's shape.
func AttachQParams(x *gorgonia.Node, qp qdtype.QParams) (*gorgonia.Node, error) {
	const name = "AttachQParams"
	if x == nil {
		return nil, fmt.Errorf("nodes: %s: input is a nil node", name)
	}
	dt, err := nodeDtype(x)
	if err != nil {
		return nil, fmt.Errorf("nodes: %s: input: %w", name, err)
	}
	if err := qp.Validate(); err != nil {
		return nil, fmt.Errorf("nodes: %s: %w", name, err)
	}
	if dt != qp.Dtype {
		return nil, fmt.Errorf("nodes: %s: input has dtype %s but qparams are for %s", name, qdtype.Name(dt), qdtype.Name(qp.Dtype))
	}
	shape := x.Shape().Clone()
	if err := qp.ValidateFor(shape); err != nil {
		return nil, fmt.Errorf("nodes: %s: %w", name, err)
	}
	qp = qp.Clone()
	in := port{dt: dt, shape: shape, quant: true, qp: qp, typ: x.Type()}
	n, _, err := build(spec{
		name: name, params: qp.String(), ins: []port{in}, children: []*gorgonia.Node{x},
		fn: func(a []operand) (operand, error) { return operand{q: a[0].q}, nil },
	})
	return n, err
}

// Value returns the current value of a quantized node as a QTensor with the
// node's qparams. The data is copied, so the QTensor stays valid after the
// machine's next Reset and RunAll (a node's value is a machine register
// that later runs overwrite). Errors: the node has no value yet (run the
// machine first), is not quantized, or its value has the wrong dtype or
// shape.
func Value(n *gorgonia.Node) (*qtensor.QTensor, error) {
	qp, err := QParamsOf(n)
	if err != nil {
		return nil, err
	}
	v := n.Value()
	if v == nil {
		return nil, fmt.Errorf("nodes: node %s has no value yet; run the machine first", n.Name())
	}
	d, ok := v.(*tensor.Dense)
	if !ok || d == nil {
		return nil, fmt.Errorf("nodes: node %s holds a %T, want a *tensor.Dense", n.Name(), v)
	}
	if d.Dtype() != qp.Dtype {
		return nil, fmt.Errorf("nodes: node %s holds dtype %s, want %s", n.Name(), qdtype.Name(d.Dtype()), qdtype.Name(qp.Dtype))
	}
	c, ok := d.Clone().(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("nodes: node %s: cannot copy its value", n.Name())
	}
	if c.RequiresIterator() {
		if c, ok = c.Materialize().(*tensor.Dense); !ok {
			return nil, fmt.Errorf("nodes: node %s: cannot materialize its value", n.Name())
		}
	}
	q, err := qtensor.New(c, qp)
	if err != nil {
		return nil, fmt.Errorf("nodes: node %s: %w", n.Name(), err)
	}
	return q, nil
}

// QReshape returns a node with x's values in a new shape and x's qparams;
// one dimension may be -1 and is then inferred; torch.reshape on a
// quantized tensor. Per-channel qparams are kept when the dimensions up to
// and including the channel axis are unchanged, else it is an error.
// Errors: x not quantized, more than one -1, sizes that do not match.
func QReshape(x *gorgonia.Node, shape ...int) (*gorgonia.Node, error) {
	const name = "QReshape"
	in, err := quantPort(name, "input", x)
	if err != nil {
		return nil, err
	}
	out, err := inferShape(name, in.shape, shape)
	if err != nil {
		return nil, err
	}
	return reshapeNode(name, fmt.Sprintf("shape=%v", []int(out)), x, in, out)
}

// QFlatten returns a node with dimensions startDim…endDim of x merged into
// one (negative dims count from the end), keeping x's qparams;
// torch.flatten and nn.Flatten on a quantized tensor (nn.Flatten uses
// startDim 1, endDim -1). A rank-0 input gives shape (1). Per-channel
// qparams are kept when the channel axis is before startDim.
func QFlatten(x *gorgonia.Node, startDim, endDim int) (*gorgonia.Node, error) {
	const name = "QFlatten"
	in, err := quantPort(name, "input", x)
	if err != nil {
		return nil, err
	}
	r := len(in.shape)
	var out tensor.Shape
	if r == 0 {
		out = tensor.Shape{1}
	} else {
		s, e := startDim, endDim
		if s < 0 {
			s += r
		}
		if e < 0 {
			e += r
		}
		if s < 0 || s >= r || e < 0 || e >= r {
			return nil, fmt.Errorf("nodes: %s: dims (%d, %d) out of range for rank %d", name, startDim, endDim, r)
		}
		if s > e {
			return nil, fmt.Errorf("nodes: %s: start dim %d comes after end dim %d", name, startDim, endDim)
		}
		m := 1
		for _, d := range in.shape[s : e+1] {
			m *= d
		}
		out = append(append(append(tensor.Shape{}, in.shape[:s]...), m), in.shape[e+1:]...)
	}
	return reshapeNode(name, fmt.Sprintf("start=%d end=%d", startDim, endDim), x, in, out)
}

// inferShape resolves a -1 in a requested shape.
func inferShape(op string, from tensor.Shape, want []int) (tensor.Shape, error) {
	out := make(tensor.Shape, len(want))
	neg, prod := -1, 1
	for i, d := range want {
		switch {
		case d == -1:
			if neg >= 0 {
				return nil, fmt.Errorf("nodes: %s: more than one -1 in shape %v", op, want)
			}
			neg = i
		case d < 0:
			return nil, fmt.Errorf("nodes: %s: negative dimension %d in shape %v", op, d, want)
		default:
			prod *= d
		}
		out[i] = d
	}
	total := from.TotalSize()
	if len(from) == 0 {
		total = 1
	}
	if neg >= 0 {
		if prod == 0 || total%prod != 0 {
			return nil, fmt.Errorf("nodes: %s: shape %v is invalid for input of size %d", op, want, total)
		}
		out[neg] = total / prod
		prod *= out[neg]
	}
	if prod != total {
		return nil, fmt.Errorf("nodes: %s: shape %v is invalid for input of size %d", op, want, total)
	}
	return out, nil
}

// reshapeNode builds a data-copying reshape that keeps qparams.
func reshapeNode(name, params string, x *gorgonia.Node, in port, out tensor.Shape) (*gorgonia.Node, error) {
	qp := in.qp.Clone()
	if qp.PerChannel() {
		a := qp.Axis
		if a >= len(out) || !shapeEq(in.shape[:a+1], out[:a+1]) {
			return nil, fmt.Errorf("nodes: %s: cannot reshape %v to %v keeping per-channel qparams along axis %d", name, in.shape, out, a)
		}
	}
	out = out.Clone()
	n, _, err := build(spec{
		name: name, params: params, ins: []port{in}, children: []*gorgonia.Node{x},
		fn: func(a []operand) (operand, error) {
			d, ok := a[0].q.Dense().Clone().(*tensor.Dense)
			if !ok {
				return operand{}, fmt.Errorf("nodes: %s: cannot copy the input", name)
			}
			if err := d.Reshape(out...); err != nil {
				return operand{}, fmt.Errorf("nodes: %s: %w", name, err)
			}
			q, err := qtensor.New(d, qp)
			return operand{q: q}, err
		},
	})
	return n, err
}
