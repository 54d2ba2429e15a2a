package graphmode

import (
	"fmt"
	"math"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// mode is what a builder builds.
type mode int

const (
	calibrationGraph mode = iota // float graph with observers
	quantizedGraph               // static int8 graph
	dynamicGraph                 // float graph with dynamic linears
)

// builder builds one new graph from the analysed float graph, lazily from
// the outputs: a node is built only when something needs its value.
type builder struct {
	a    *analysis
	qc   *QConfig
	mode mode
	g    *gorgonia.ExprGraph

	fl     map[*gorgonia.Node]*gorgonia.Node // float value of an original node
	q      map[*gorgonia.Node]*gorgonia.Node // quantized value
	qin    map[*gorgonia.Node]*gorgonia.Node // Quantize of a float value entering quantized ops
	calIn  map[*gorgonia.Node]*gorgonia.Node // observed float value entering quantized ops
	inputs map[*gorgonia.Node]*gorgonia.Node // original input → new input

	// observers shared by the calibration and quantized builders
	obsOut map[*gorgonia.Node]observer.Observer
	obsIn  map[*gorgonia.Node]observer.Observer

	report *Report
}

func newBuilder(a *analysis, qc *QConfig, m mode) *builder {
	return &builder{a: a, qc: qc, mode: m, g: gorgonia.NewGraph(),
		fl: map[*gorgonia.Node]*gorgonia.Node{}, q: map[*gorgonia.Node]*gorgonia.Node{},
		qin: map[*gorgonia.Node]*gorgonia.Node{}, calIn: map[*gorgonia.Node]*gorgonia.Node{},
		inputs: map[*gorgonia.Node]*gorgonia.Node{},
		obsOut: map[*gorgonia.Node]observer.Observer{}, obsIn: map[*gorgonia.Node]observer.Observer{},
		report: &Report{}}
}

// skipIdentity follows Dropout nodes (the identity at inference).
func (b *builder) skipIdentity(n *gorgonia.Node) *gorgonia.Node {
	for opIs(n, tDropout, "") {
		n = children(b.a.g, n)[0]
	}
	return n
}

// floatOf returns the float32 node of the new graph holding n's value.
func (b *builder) floatOf(n *gorgonia.Node) (*gorgonia.Node, error) {
	n = b.skipIdentity(n)
	if v, ok := b.fl[n]; ok {
		return v, nil
	}
	var v *gorgonia.Node
	var err error
	p := b.a.pat[n]
	switch {
	case b.mode == quantizedGraph && b.a.qval[n]:
		var qn *gorgonia.Node
		if qn, err = b.qOf(n); err == nil {
			v, err = nodes.Dequantize(qn)
			b.report.Dequantizes++
		}
	case b.mode == calibrationGraph && p != nil && (p.kind == kLinear || p.kind == kConv || p.kind == kAdd):
		v, err = b.calPattern(p)
	case b.mode == dynamicGraph && p != nil && p.kind == kLinear:
		v, err = b.dynamicLinear(p)
	case isInput(n):
		v, err = b.newInput(n)
	case isConst(n):
		v, err = b.newConst(n)
	default:
		v, err = b.copyNode(n)
	}
	if err != nil {
		return nil, err
	}
	b.fl[n] = v
	return v, nil
}

func (b *builder) newInput(n *gorgonia.Node) (*gorgonia.Node, error) {
	opts := []gorgonia.NodeConsOpt{gorgonia.WithName(n.Name())}
	if n.Value() != nil {
		c, err := gorgonia.CloneValue(n.Value())
		if err != nil {
			return nil, fmt.Errorf("copying the value of input %s: %w", n.Name(), err)
		}
		opts = append(opts, gorgonia.WithValue(c))
	}
	var v *gorgonia.Node
	if n.IsScalar() {
		v = gorgonia.NewScalar(b.g, n.Dtype(), opts...)
	} else {
		opts = append(opts, gorgonia.WithShape(n.Shape()...))
		v = gorgonia.NewTensor(b.g, n.Dtype(), n.Dims(), opts...)
	}
	b.inputs[n] = v
	return v, nil
}

func (b *builder) newConst(n *gorgonia.Node) (*gorgonia.Node, error) {
	if n.Value() == nil {
		return nil, fmt.Errorf("constant %s has no value", n.Name())
	}
	c, err := gorgonia.CloneValue(n.Value())
	if err != nil {
		return nil, fmt.Errorf("copying constant %s: %w", n.Name(), err)
	}
	v := gorgonia.NewConstant(c)
	return b.g.AddNode(v), nil
}

// childValue is the float value of the child c as consumed by n: inside a
// pattern of the calibration graph, float values entering the pattern pass
// through their input observer.
func (b *builder) childValue(n, c *gorgonia.Node) (*gorgonia.Node, error) {
	if b.mode == calibrationGraph {
		if p := b.a.member[n]; p != nil && (c == p.in || c == p.in2) && (p.kind == kLinear || p.kind == kConv || p.kind == kAdd) && !b.a.qval[b.skipIdentity(c)] {
			return b.calInput(c)
		}
	}
	return b.floatOf(c)
}

// copyNode applies n's own Gorgonia op to the new graph's copies of its
// children. Ops with state are rebuilt instead of shared with the original
// graph: MaxPool2D (its argmax mask) is rebuilt from its geometry; a batch
// norm that could not be folded is not supported.
func (b *builder) copyNode(n *gorgonia.Node) (*gorgonia.Node, error) {
	ch := children(b.a.g, n)
	args := make([]*gorgonia.Node, len(ch))
	for i, c := range ch {
		v, err := b.childValue(n, c)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	if b.mode != calibrationGraph && b.a.member[n] == nil && !structural(n) {
		reason := b.a.reason[n]
		if _, ok := n.Op().(*gorgonia.BatchNormOp); ok && reason == "" {
			reason = "batch norm not after a conv or linear, or without per-channel γ and β: float, in eval form (running statistics)"
		}
		if reason == "" {
			reason = "no quantized counterpart in graph mode"
			if b.mode == dynamicGraph {
				reason = "dynamic quantization only covers matmuls with a weight"
			} else if !anyQuantized(b.a, ch) && (opIs(n, tMaxPool, "") || opIs(n, tReshape, "")) {
				reason = "input is float"
			} else if _, _, ok := rectifyOf(b.a.g, n); ok {
				reason = "input is float"
			}
		}
		if !opIs(n, tElemBin, ">= true") || !rectifyCmp(b.a, n) {
			op := n.Op().String()
			if _, _, ok := rectifyOf(b.a.g, n); ok {
				op = "Rectify"
			}
			b.report.Float = append(b.report.Float, Entry{Kind: "float", Op: op, Nodes: []string{n.Name()}, Detail: reason})
		}
	}
	if bn, ok := n.Op().(*gorgonia.BatchNormOp); ok {
		f, err := newFrozenBN(bn)
		if err != nil {
			return nil, fmt.Errorf("batch norm %s: %w", n.Name(), err)
		}
		return gorgonia.ApplyOp(f, args...)
	}
	if opIs(n, tMaxPool, "") {
		geo, ok := intFields(n.Op(), "h", "w", "padNorth", "padWest", "padSouth", "padEast", "strideH", "strideW")
		ex, ok2 := field(n.Op(), "explicitPadding")
		if !ok || !ok2 {
			return nil, fmt.Errorf("max-pool %s: cannot read its geometry", n.Name())
		}
		pad := []int{geo[2], geo[3]}
		if ex.Bool() {
			pad = []int{geo[2], geo[4], geo[3], geo[5]}
		}
		return gorgonia.MaxPool2D(args[0], tensor.Shape{geo[0], geo[1]}, pad, geo[6:8])
	}
	v, err := gorgonia.ApplyOp(n.Op(), args...)
	if err != nil {
		return nil, fmt.Errorf("copying %s: %w", n.Name(), err)
	}
	return v, nil
}

// structural ops move or broadcast data; they are not reported as float.
func structural(n *gorgonia.Node) bool {
	t := opType(n)
	return t == tReshape || t == tRepeat || t == "gorgonia.sizeOp" || t == tTranspose
}

func anyQuantized(a *analysis, ns []*gorgonia.Node) bool {
	for _, n := range ns {
		if a.qval[n] {
			return true
		}
	}
	return false
}

// rectifyCmp reports whether the comparison n is the "≥ 0" half of a
// Rectify (reported once, with its "⊙" half).
func rectifyCmp(a *analysis, n *gorgonia.Node) bool {
	for _, c := range a.consumers[n] {
		if _, cmp, ok := rectifyOf(a.g, c); ok && cmp == n {
			return true
		}
	}
	return false
}

// calInput is the observed float value x entering a quantized op
// (calibration graph).
func (b *builder) calInput(x *gorgonia.Node) (*gorgonia.Node, error) {
	x = b.skipIdentity(x)
	if v, ok := b.calIn[x]; ok {
		return v, nil
	}
	f, err := b.floatOf(x)
	if err != nil {
		return nil, err
	}
	obs, err := newObserver(b.qc.Activation, "activation")
	if err != nil {
		return nil, err
	}
	v, err := eager.Observe(f, obs)
	if err != nil {
		return nil, err
	}
	b.obsIn[x], b.calIn[x] = obs, v
	return v, nil
}

// calPattern builds the float computation of a quantizable pattern in the
// calibration graph, followed by the observer of its output. A conv with a
// folded batch norm is rebuilt from the folded weights (gorgonia.Conv2d,
// a per-channel bias add, Rectify); the others copy the original ops.
func (b *builder) calPattern(p *pattern) (*gorgonia.Node, error) {
	var v *gorgonia.Node
	var err error
	if p.kind == kLinear && p.bn {
		x, err := b.childValueOfPattern(p, p.in)
		if err != nil {
			return nil, err
		}
		wt := transpose2D(p.weight) // (K, N) for x·W
		w := gorgonia.NewMatrix(b.g, tensor.Float32, gorgonia.WithShape(wt.Shape()...), gorgonia.WithName(p.root.Name()+"_folded_w"), gorgonia.WithValue(wt))
		if v, err = gorgonia.Mul(x, w); err != nil {
			return nil, fmt.Errorf("rebuilding linear %s: %w", p.root.Name(), err)
		}
		n := p.weight.Shape()[0]
		bias := tensor.New(tensor.WithShape(1, n), tensor.WithBacking(append([]float32(nil), p.bias.Float32s()...)))
		bn := gorgonia.NewMatrix(b.g, tensor.Float32, gorgonia.WithShape(1, n), gorgonia.WithName(p.root.Name()+"_folded_b"), gorgonia.WithValue(bias))
		if v, err = gorgonia.BroadcastAdd(v, bn, nil, []byte{0}); err != nil {
			return nil, fmt.Errorf("rebuilding linear %s: %w", p.root.Name(), err)
		}
		if p.relu {
			if v, err = gorgonia.Rectify(v); err != nil {
				return nil, err
			}
		}
	} else if p.kind == kConv && p.bn {
		x, err := b.childValueOfPattern(p, p.in)
		if err != nil {
			return nil, err
		}
		w := gorgonia.NewTensor(b.g, tensor.Float32, 4, gorgonia.WithShape(p.weight.Shape()...), gorgonia.WithName(p.root.Name()+"_folded_w"), gorgonia.WithValue(p.weight.Clone()))
		if v, err = gorgonia.Conv2d(x, w, tensor.Shape(p.kernel), p.pad, p.stride, p.dilation); err != nil {
			return nil, fmt.Errorf("rebuilding conv %s: %w", p.root.Name(), err)
		}
		o := p.weight.Shape()[0]
		bias := tensor.New(tensor.WithShape(1, o, 1, 1), tensor.WithBacking(append([]float32(nil), p.bias.Float32s()...)))
		bn := gorgonia.NewTensor(b.g, tensor.Float32, 4, gorgonia.WithShape(1, o, 1, 1), gorgonia.WithName(p.root.Name()+"_folded_b"), gorgonia.WithValue(bias))
		if v, err = gorgonia.BroadcastAdd(v, bn, nil, []byte{0, 2, 3}); err != nil {
			return nil, fmt.Errorf("rebuilding conv %s: %w", p.root.Name(), err)
		}
		if p.relu {
			if v, err = gorgonia.Rectify(v); err != nil {
				return nil, err
			}
		}
	} else if v, err = b.copyNode(p.root); err != nil {
		return nil, err
	}
	obs, err := newObserver(b.qc.Activation, "activation")
	if err != nil {
		return nil, err
	}
	b.obsOut[p.root] = obs
	return eager.Observe(v, obs)
}

func (b *builder) childValueOfPattern(p *pattern, c *gorgonia.Node) (*gorgonia.Node, error) {
	if !b.a.qval[b.skipIdentity(c)] {
		return b.calInput(c)
	}
	return b.floatOf(c)
}

// observed returns the qparams an observer computed, refusing observers that
// saw no data.
func observed(obs observer.Observer, at *gorgonia.Node) (qdtype.QParams, error) {
	if obs == nil {
		return qdtype.QParams{}, fmt.Errorf("no observer recorded the value of %s", at.Name())
	}
	mn := obs.MinVal()
	if len(mn) == 0 || math.IsInf(float64(mn[0]), 1) {
		return qdtype.QParams{}, fmt.Errorf("the observer of %s saw no data: the calibrate function must run the calibration graph", at.Name())
	}
	qp, err := obs.CalculateQParams()
	if err != nil {
		return qdtype.QParams{}, fmt.Errorf("qparams of %s: %w", at.Name(), err)
	}
	return qp, nil
}

// qIn is the quantized value of x as an input of a quantized op: x's own
// quantized node, or a Quantize of its float value with the qparams its
// input observer recorded.
func (b *builder) qIn(x *gorgonia.Node) (*gorgonia.Node, error) {
	x = b.skipIdentity(x)
	if b.a.qval[x] {
		return b.qOf(x)
	}
	if v, ok := b.qin[x]; ok {
		return v, nil
	}
	qp, err := observed(b.obsIn[x], x)
	if err != nil {
		return nil, err
	}
	f, err := b.floatOf(x)
	if err != nil {
		return nil, err
	}
	v, err := nodes.Quantize(f, qp)
	if err != nil {
		return nil, fmt.Errorf("quantizing %s: %w", x.Name(), err)
	}
	b.report.Quantizes++
	b.qin[x] = v
	return v, nil
}

// qOf builds the quantized node of a quantized-valued original node.
func (b *builder) qOf(n *gorgonia.Node) (*gorgonia.Node, error) {
	n = b.skipIdentity(n)
	if v, ok := b.q[n]; ok {
		return v, nil
	}
	p := b.a.pat[n]
	if p == nil {
		return nil, fmt.Errorf("internal: %s has no quantized pattern", n.Name())
	}
	var v *gorgonia.Node
	var err error
	entry := Entry{Kind: p.describe(), Nodes: nodeNames(p), Quantized: true}
	switch p.kind {
	case kLinear, kConv, kAdd:
		var qp qdtype.QParams
		if qp, err = observed(b.obsOut[n], n); err != nil {
			return nil, err
		}
		s, zp := qp.Scale(), qp.ZeroPoint()
		entry.Detail = fmt.Sprintf("output scale=%g zero_point=%d", s, zp)
		switch p.kind {
		case kAdd:
			var qa, qb *gorgonia.Node
			if qa, err = b.qIn(p.in); err != nil {
				return nil, err
			}
			if qb, err = b.qIn(p.in2); err != nil {
				return nil, err
			}
			if p.relu {
				entry.Op = "QAddReLU"
				v, err = nodes.QAddReLU(qa, qb, s, zp)
			} else {
				entry.Op = "QAdd"
				v, err = nodes.QAdd(qa, qb, s, zp)
			}
		default:
			var xq *gorgonia.Node
			if xq, err = b.qIn(p.in); err != nil {
				return nil, err
			}
			var wobs observer.Observer
			if wobs, err = newObserver(b.qc.Weight, "weight"); err != nil {
				return nil, err
			}
			var wq *qtensor.QTensor
			if wq, err = nodes.QuantizeWeight(p.weight, wobs); err != nil {
				return nil, fmt.Errorf("quantizing the weight of %s: %w", n.Name(), err)
			}
			if p.kind == kLinear {
				entry.Op = "QLinear"
				if p.relu {
					entry.Op = "QLinearReLU"
					v, err = nodes.QLinearReLU(xq, wq, p.bias, s, zp)
				} else {
					v, err = nodes.QLinear(xq, wq, p.bias, s, zp)
				}
			} else {
				opt := ops.ConvOptions{Stride: p.stride, Padding: p.pad, Dilation: p.dilation}
				entry.Op = "QConv2d"
				if p.relu {
					entry.Op = "QConv2dReLU"
					v, err = nodes.QConv2dReLU(xq, wq, p.bias, opt, s, zp)
				} else {
					v, err = nodes.QConv2d(xq, wq, p.bias, opt, s, zp)
				}
			}
		}
	case kReLU, kMaxPool, kReshape:
		var xq *gorgonia.Node
		if xq, err = b.qOf(b.skipIdentity(p.in)); err != nil {
			return nil, err
		}
		switch p.kind {
		case kReLU:
			entry.Op = "QReLU"
			v, err = nodes.QReLU(xq)
		case kMaxPool:
			entry.Op = "QMaxPool2d"
			entry.Detail = fmt.Sprintf("kernel=%v stride=%v padding=%v", p.kernel, p.stride, p.pad)
			v, err = nodes.QMaxPool2d(xq, p.kernel, p.stride, p.pad, nil, false)
		default:
			entry.Op = "QReshape"
			entry.Detail = fmt.Sprintf("shape=%v", p.shape)
			v, err = nodes.QReshape(xq, p.shape...)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("building the quantized %s at %s: %w", p.describe(), n.Name(), err)
	}
	b.report.Quantized = append(b.report.Quantized, entry)
	b.q[n] = v
	return v, nil
}

// dynamicLinear builds a dynamically quantized linear (int8 or float16
// weights) for a linear pattern.
func (b *builder) dynamicLinear(p *pattern) (*gorgonia.Node, error) {
	x, err := b.floatOf(p.in)
	if err != nil {
		return nil, err
	}
	wobs, err := newObserver(b.qc.Weight, "weight")
	if err != nil {
		return nil, err
	}
	entry := Entry{Kind: p.describe(), Nodes: nodeNames(p), Quantized: true}
	var v *gorgonia.Node
	switch wobs.Dtype() {
	case observer.Float16:
		entry.Op, entry.Detail = "DynamicLinearFP16", "float16 weights"
		v, err = nodes.DynamicLinearFP16(x, p.weight, p.bias)
	case qdtype.QInt8Dtype:
		var wq *qtensor.QTensor
		wq, err = nodes.QuantizeWeight(p.weight, wobs)
		if err == nil {
			entry.Op, entry.Detail = "DynamicLinear", "qint8 weights, activations quantized per call (reduce_range)"
			v, err = nodes.DynamicLinear(x, wq, p.bias, true)
		}
	default:
		err = fmt.Errorf("weight observer dtype is %v; dynamic graph mode takes qint8 or float16 weights", wobs.Dtype())
	}
	if err != nil {
		return nil, fmt.Errorf("building the dynamic linear at %s: %w", p.root.Name(), err)
	}
	b.report.Quantized = append(b.report.Quantized, entry)
	return v, nil
}

func nodeNames(p *pattern) []string {
	var s []string
	seen := map[*gorgonia.Node]bool{}
	for _, n := range append(p.nodes, p.root) {
		if !seen[n] && n.Op() != nil && !isConst(n) {
			seen[n] = true
			s = append(s, n.Name())
		}
	}
	return s
}
