package nodes

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// floatRows builds a node applying f to a float32 node (…, K) whose leading
// dimensions only carry rows (the output is (…, N)); the dry run uses one
// row.
func floatRows(name, params string, x *gorgonia.Node, f func(*tensor.Dense) (*tensor.Dense, error)) (*gorgonia.Node, error) {
	in, err := floatPort(name, "input", x)
	if err != nil {
		return nil, err
	}
	if len(in.shape) == 0 {
		return nil, fmt.Errorf("nodes: %s: input is a scalar, want shape (…, K)", name)
	}
	probe := in.shape
	if in.shape.TotalSize() > 0 {
		probe = leadingOnes(in.shape)
	}
	n, _, err := build(spec{
		name: name, params: params, stateful: true, ins: []port{in}, children: []*gorgonia.Node{x},
		probe: []tensor.Shape{probe}, outShape: withLeading(in.shape),
		fn: func(a []operand) (operand, error) {
			y, err := f(a[0].f)
			return operand{f: y}, err
		},
	})
	return n, err
}

// DynamicLinear returns a float32 node computing ops.LinearDynamic,
// nn.quantized.dynamic.Linear with qint8 weights: per call, x (…, K) is
// quantized to quint8 with qparams chosen from its min and max
// (ChooseQuantizationParams; activation range [0, 127] with reduceRange, as
// PyTorch's x86 dynamic modules use), multiplied by the qint8 weight w
// (N, K) (per tensor or per channel along axis 0) in int32, and scaled back
// to float32 with the float32 bias (nil or N) added. The weights are packed
// once, here. Errors (at build time): anything ops.PrepackLinear or
// ops.LinearDynamic rejects; at run time: NaN or ±Inf in x.
func DynamicLinear(x *gorgonia.Node, w *qtensor.QTensor, bias *tensor.Dense, reduceRange bool) (*gorgonia.Node, error) {
	p, err := ops.PrepackLinear(w, bias)
	if err != nil {
		return nil, fmt.Errorf("nodes: DynamicLinear: %w", err)
	}
	return DynamicLinearPacked(x, p, reduceRange)
}

// DynamicLinearPacked is DynamicLinear on weights packed with
// ops.PrepackLinear (shareable: a PackedLinear is immutable).
func DynamicLinearPacked(x *gorgonia.Node, p *ops.PackedLinear, reduceRange bool) (*gorgonia.Node, error) {
	if p == nil {
		return nil, fmt.Errorf("nodes: DynamicLinear: nil packed weights")
	}
	return floatRows("DynamicLinear", fmt.Sprintf("in=%d out=%d reduce_range=%t", p.K(), p.N(), reduceRange), x,
		func(d *tensor.Dense) (*tensor.Dense, error) { return ops.LinearDynamic(d, p, reduceRange) })
}

// DynamicLinearFP16 returns a float32 node computing
// ops.LinearDynamicFP16, nn.quantized.dynamic.Linear with float16 weights:
// the float32 weight w (N, K) is saturated to ±65504 and rounded to float16
// once, here (ops.PrepackLinearFP16), and y = x·Wᵀ + b is computed in float
// from the float32 input (…, K). Errors (at build time): anything
// ops.PrepackLinearFP16 or ops.LinearDynamicFP16 rejects.
func DynamicLinearFP16(x *gorgonia.Node, w, bias *tensor.Dense) (*gorgonia.Node, error) {
	p, err := ops.PrepackLinearFP16(w, bias)
	if err != nil {
		return nil, fmt.Errorf("nodes: DynamicLinearFP16: %w", err)
	}
	return DynamicLinearFP16Packed(x, p)
}

// DynamicLinearFP16Packed is DynamicLinearFP16 on weights packed with
// ops.PrepackLinearFP16 (shareable: a PackedLinearFP16 is immutable).
func DynamicLinearFP16Packed(x *gorgonia.Node, p *ops.PackedLinearFP16) (*gorgonia.Node, error) {
	if p == nil {
		return nil, fmt.Errorf("nodes: DynamicLinearFP16: nil packed weights")
	}
	return floatRows("DynamicLinearFP16", fmt.Sprintf("weight=(%d, %d)", p.N(), p.K()), x,
		func(d *tensor.Dense) (*tensor.Dense, error) { return ops.LinearDynamicFP16(d, p) })
}

// multiFunc computes several float32 outputs.
type multiFunc func(args []operand) ([]*tensor.Dense, error)

// multiNode builds a node whose op computes several float32 outputs at
// once, stored back to back in one flat float32 vector, and one node per
// output that copies its part out with its shape. The dry run uses the
// probe shapes (nil: the build-time shapes) and fix maps its output shapes
// to the real ones.
func multiNode(name, params string, ins []port, children []*gorgonia.Node, probe []tensor.Shape, fix func([]tensor.Shape) []tensor.Shape, f multiFunc) ([]*gorgonia.Node, error) {
	dry := &Op{name: name, ins: ins}
	vals := make([]*tensor.Dense, len(ins))
	for i, p := range ins {
		s := p.shape
		if probe != nil {
			s = probe[i]
		}
		vals[i] = zeroDense(p.dt, s)
	}
	var outs []*tensor.Dense
	dry.fn = func(a []operand) (operand, error) {
		var err error
		outs, err = f(a)
		return operand{}, err
	}
	if _, err := dry.probeRun(vals); err != nil {
		return nil, dry.wrap(err)
	}
	shapes := make([]tensor.Shape, len(outs))
	for i, o := range outs {
		if o == nil || o.Dtype() != tensor.Float32 {
			return nil, fmt.Errorf("nodes: %s: internal error: output %d is not float32", name, i)
		}
		shapes[i] = o.Shape().Clone()
	}
	if fix != nil {
		shapes = fix(shapes)
	}
	total := 0
	for _, s := range shapes {
		total += s.TotalSize()
	}
	outPort := port{dt: tensor.Float32, shape: tensor.Shape{total}}
	all, _, err := build(spec{
		name: name, params: params, stateful: true, ins: ins, children: children, out: &outPort,
		fn: func(a []operand) (operand, error) {
			res, err := f(a)
			if err != nil {
				return operand{}, err
			}
			if len(res) != len(shapes) {
				return operand{}, fmt.Errorf("nodes: %s: internal error: %d outputs, want %d", name, len(res), len(shapes))
			}
			flat := make([]float32, 0, total)
			for i, r := range res {
				if r == nil || r.Dtype() != tensor.Float32 || !shapeEq(r.Shape(), shapes[i]) {
					return operand{}, fmt.Errorf("nodes: %s: output %d is %v, want float32 %v", name, i, r, shapes[i])
				}
				if r.RequiresIterator() {
					r = r.Materialize().(*tensor.Dense)
				}
				flat = append(flat, r.Float32s()[:r.Shape().TotalSize()]...)
			}
			return operand{f: tensor.New(tensor.WithShape(total), tensor.WithBacking(flat))}, nil
		},
	})
	if err != nil {
		return nil, err
	}
	nodes := make([]*gorgonia.Node, len(shapes))
	off := 0
	for i, s := range shapes {
		if nodes[i], err = partNode(name, i, all, off, s); err != nil {
			return nil, err
		}
		off += s.TotalSize()
	}
	return nodes, nil
}

// partNode returns a node holding elements [off, off + size(shape)) of the
// flat float32 node src, with the given shape.
func partNode(name string, i int, src *gorgonia.Node, off int, shape tensor.Shape) (*gorgonia.Node, error) {
	in, err := floatPort(name, "packed outputs", src)
	if err != nil {
		return nil, err
	}
	shape = shape.Clone()
	size := shape.TotalSize()
	out := port{dt: tensor.Float32, shape: shape}
	n, _, err := build(spec{
		name: name + "Output", params: fmt.Sprintf("%d offset=%d shape=%v", i, off, []int(shape)),
		ins: []port{in}, children: []*gorgonia.Node{src}, out: &out,
		fn: func(a []operand) (operand, error) {
			d := append([]float32(nil), a[0].f.Float32s()[off:off+size]...)
			if len(shape) == 0 {
				return operand{f: tensor.New(tensor.WithShape(), tensor.WithBacking(d))}, nil
			}
			return operand{f: tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))}, nil
		},
	})
	return n, err
}

// cellInputs collects the ports of a recurrent cell's float32 inputs x and
// the optional states (nil nodes mean zeros and are not inputs).
func cellInputs(name string, x *gorgonia.Node, states []*gorgonia.Node, stateNames []string) ([]port, []*gorgonia.Node, []int, error) {
	px, err := floatPort(name, "input", x)
	if err != nil {
		return nil, nil, nil, err
	}
	ins, children := []port{px}, []*gorgonia.Node{x}
	idx := make([]int, len(states)) // argument index of each state, -1 if nil
	for i, s := range states {
		idx[i] = -1
		if s == nil {
			continue
		}
		p, err := floatPort(name, stateNames[i], s)
		if err != nil {
			return nil, nil, nil, err
		}
		idx[i] = len(ins)
		ins, children = append(ins, p), append(children, s)
	}
	return ins, children, idx, nil
}

func stateArg(a []operand, i int) *tensor.Dense {
	if i < 0 {
		return nil
	}
	return a[i].f
}

// DynamicLSTMCell returns nodes (h', c') computing ops.LSTMCell,
// nn.quantized.dynamic.LSTMCell, in one op: x is a float32 node (B, I); h
// and c are float32 nodes (B, H) or nil for zeros. The cell's weights p are
// built by ops.PrepackRNNCell or ops.QuantizeRNNCell. Errors (at build
// time): anything ops.LSTMCell rejects.
func DynamicLSTMCell(x, h, c *gorgonia.Node, p *ops.RNNCellParams) (hNext, cNext *gorgonia.Node, err error) {
	const name = "DynamicLSTMCell"
	if p == nil {
		return nil, nil, fmt.Errorf("nodes: %s: nil cell parameters", name)
	}
	ins, children, idx, err := cellInputs(name, x, []*gorgonia.Node{h, c}, []string{"h", "c"})
	if err != nil {
		return nil, nil, err
	}
	ns, err := multiNode(name, "", ins, children, nil, nil, func(a []operand) ([]*tensor.Dense, error) {
		h2, c2, err := ops.LSTMCell(a[0].f, stateArg(a, idx[0]), stateArg(a, idx[1]), p)
		return []*tensor.Dense{h2, c2}, err
	})
	if err != nil {
		return nil, nil, err
	}
	return ns[0], ns[1], nil
}

type cellFunc func(x, h *tensor.Dense, p *ops.RNNCellParams) (*tensor.Dense, error)

func cellNode(name string, x, h *gorgonia.Node, p *ops.RNNCellParams, f cellFunc) (*gorgonia.Node, error) {
	if p == nil {
		return nil, fmt.Errorf("nodes: %s: nil cell parameters", name)
	}
	ins, children, idx, err := cellInputs(name, x, []*gorgonia.Node{h}, []string{"h"})
	if err != nil {
		return nil, err
	}
	n, _, err := build(spec{
		name: name, stateful: true, ins: ins, children: children,
		fn: func(a []operand) (operand, error) {
			y, err := f(a[0].f, stateArg(a, idx[0]), p)
			return operand{f: y}, err
		},
	})
	return n, err
}

// DynamicGRUCell returns a node computing ops.GRUCell,
// nn.quantized.dynamic.GRUCell: x is float32 (B, I), h float32 (B, H) or
// nil for zeros.
func DynamicGRUCell(x, h *gorgonia.Node, p *ops.RNNCellParams) (*gorgonia.Node, error) {
	return cellNode("DynamicGRUCell", x, h, p, ops.GRUCell)
}

// DynamicRNNTanhCell returns a node computing ops.RNNTanhCell,
// nn.quantized.dynamic.RNNCell with nonlinearity "tanh".
func DynamicRNNTanhCell(x, h *gorgonia.Node, p *ops.RNNCellParams) (*gorgonia.Node, error) {
	return cellNode("DynamicRNNTanhCell", x, h, p, ops.RNNTanhCell)
}

// DynamicRNNReLUCell returns a node computing ops.RNNReLUCell,
// nn.quantized.dynamic.RNNCell with nonlinearity "relu".
func DynamicRNNReLUCell(x, h *gorgonia.Node, p *ops.RNNCellParams) (*gorgonia.Node, error) {
	return cellNode("DynamicRNNReLUCell", x, h, p, ops.RNNReLUCell)
}

// DynamicLSTM returns nodes (output, h_n, c_n) computing ops.LSTM,
// nn.quantized.dynamic.LSTM, in one op: x is a float32 node (T, B, I), or
// (B, T, I) if p was built batch-first; h0 and c0 are float32 nodes
// (layers·dirs, B, H) or nil for zeros. Build-time validation is a dry run
// of the whole LSTM on zeros of the real shapes. Errors (at build time):
// anything ops.LSTM rejects.
func DynamicLSTM(x, h0, c0 *gorgonia.Node, p *ops.LSTMParams) (out, hn, cn *gorgonia.Node, err error) {
	const name = "DynamicLSTM"
	if p == nil {
		return nil, nil, nil, fmt.Errorf("nodes: %s: nil parameters", name)
	}
	ins, children, idx, err := cellInputs(name, x, []*gorgonia.Node{h0, c0}, []string{"h0", "c0"})
	if err != nil {
		return nil, nil, nil, err
	}
	ns, err := multiNode(name, "", ins, children, nil, nil, func(a []operand) ([]*tensor.Dense, error) {
		o, h, c, err := ops.LSTM(a[0].f, stateArg(a, idx[0]), stateArg(a, idx[1]), p)
		return []*tensor.Dense{o, h, c}, err
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return ns[0], ns[1], ns[2], nil
}
