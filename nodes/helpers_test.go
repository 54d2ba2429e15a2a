package nodes

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// machineKinds are the VMs every node test runs under.
var machineKinds = []string{"tape", "tape-trace", "lisp-fwd", "lisp"}

func newMachine(kind string, g *gorgonia.ExprGraph) gorgonia.VM {
	switch kind {
	case "tape":
		return gorgonia.NewTapeMachine(g)
	case "tape-trace":
		// TraceExec clones every node value (gorgonia.CloneValue), which
		// must keep quantized values intact.
		return gorgonia.NewTapeMachine(g, gorgonia.TraceExec())
	case "lisp-fwd":
		return gorgonia.NewLispMachine(g, gorgonia.ExecuteFwdOnly())
	default:
		return gorgonia.NewLispMachine(g)
	}
}

// graphFunc builds a graph (binding its inputs) and returns the nodes
// whose values are checked.
type graphFunc func(g *gorgonia.ExprGraph) ([]*gorgonia.Node, error)

// runGraph builds a fresh graph, runs it under the given machine, then
// Reset and RunAll again, and checks that the second run reproduces the
// first bit for bit (and that the first run's copies are untouched). It
// returns copies of the output values of the first run.
func runGraph(t testing.TB, kind string, build graphFunc) []*tensor.Dense {
	t.Helper()
	g := gorgonia.NewGraph()
	outs, err := build(g)
	if err != nil {
		t.Fatalf("%s: build: %v", kind, err)
	}
	switch kind {
	case "lisp":
		// The LispMachine's backward pass needs scalar float roots: hang a
		// cost off every output. Gradients stop at the quantized nodes.
		if _, err := addCost(outs); err != nil {
			t.Fatalf("%s: cost: %v", kind, err)
		}
	case "lisp-fwd":
		// The LispMachine cannot make a dual value for a quantized root
		// (Gorgonia: "Unhandled dtype"): dequantize quantized outputs.
		for _, o := range outs {
			if qdtype.IsQuantized(o.Dtype()) {
				if _, err := Dequantize(o); err != nil {
					t.Fatalf("%s: %v", kind, err)
				}
			}
		}
	}
	m := newMachine(kind, g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatalf("%s: RunAll: %v", kind, err)
	}
	first := snapshot(t, outs)
	keep := snapshot(t, outs)
	m.Reset()
	if err := m.RunAll(); err != nil {
		t.Fatalf("%s: second RunAll: %v", kind, err)
	}
	second := snapshot(t, outs)
	for i := range outs {
		if !denseEq(first[i], second[i]) {
			t.Fatalf("%s: output %d differs between RunAll and Reset+RunAll:\n%v\n%v", kind, i, first[i], second[i])
		}
		if !denseEq(first[i], keep[i]) {
			t.Fatalf("%s: output %d copy changed", kind, i)
		}
	}
	return first
}

// addCost returns Σ_i sum(float(outs[i])).
func addCost(outs []*gorgonia.Node) (*gorgonia.Node, error) {
	var cost *gorgonia.Node
	for _, o := range outs {
		f := o
		if qdtype.IsQuantized(o.Dtype()) {
			var err error
			if f, err = Dequantize(o); err != nil {
				return nil, err
			}
		}
		s, err := gorgonia.Sum(f)
		if err != nil {
			return nil, err
		}
		if cost == nil {
			cost = s
		} else if cost, err = gorgonia.Add(cost, s); err != nil {
			return nil, err
		}
	}
	return cost, nil
}

func snapshot(t testing.TB, outs []*gorgonia.Node) []*tensor.Dense {
	t.Helper()
	res := make([]*tensor.Dense, len(outs))
	for i, n := range outs {
		d, ok := n.Value().(*tensor.Dense)
		if !ok {
			t.Fatalf("output %d (%v) holds %T", i, n, n.Value())
		}
		res[i] = d.Clone().(*tensor.Dense)
	}
	return res
}

// denseEq compares dtype, shape and bytes.
func denseEq(a, b *tensor.Dense) bool {
	return a.Dtype() == b.Dtype() && shapeEq(a.Shape(), b.Shape()) && bytes.Equal(a.Uint8s(), b.Uint8s())
}

// checkAllMachines runs build under every machine and compares each output
// with want bit for bit.
func checkAllMachines(t *testing.T, build graphFunc, want []*tensor.Dense) {
	t.Helper()
	for _, kind := range machineKinds {
		got := runGraph(t, kind, build)
		if len(got) != len(want) {
			t.Fatalf("%s: %d outputs, want %d", kind, len(got), len(want))
		}
		for i := range got {
			if !denseEq(got[i], want[i]) {
				t.Fatalf("%s: output %d is %s%v\n%v\nwant %s%v\n%v", kind, i,
					qdtype.Name(got[i].Dtype()), got[i].Shape(), got[i], qdtype.Name(want[i].Dtype()), want[i].Shape(), want[i])
			}
		}
	}
}

// randFloat returns a float32 tensor of the given shape with values in
// [lo, hi).
func randFloat(r *rand.Rand, lo, hi float32, shape ...int) *tensor.Dense {
	n := 1
	for _, s := range shape {
		n *= s
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = lo + (hi-lo)*r.Float32()
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

// randQ returns a random quantized tensor with the given qparams.
func randQ(t testing.TB, r *rand.Rand, qp qdtype.QParams, shape ...int) *qtensor.QTensor {
	t.Helper()
	qmin, qmax, _ := qdtype.Range(qp.Dtype)
	if qp.Dtype == qdtype.QInt32Dtype {
		qmin, qmax = -1000, 1000
	}
	n := 1
	for _, s := range shape {
		n *= s
	}
	v := make([]int64, n)
	for i := range v {
		v[i] = qmin + r.Int63n(qmax-qmin+1)
	}
	q, err := qtensor.FromInts(shape, v, qp)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// qinput makes an input node holding a copy of q's integers with q's
// qparams attached.
func qinput(g *gorgonia.ExprGraph, name string, q *qtensor.QTensor) (*gorgonia.Node, error) {
	d := q.Dense().Clone().(*tensor.Dense)
	x := gorgonia.NewTensor(g, q.Dtype(), q.Dims(), gorgonia.WithShape(q.Shape()...), gorgonia.WithName(name), gorgonia.WithValue(d))
	return AttachQParams(x, q.QParams())
}

// finput makes a float32 input node holding a copy of d.
func finput(g *gorgonia.ExprGraph, name string, d *tensor.Dense) *gorgonia.Node {
	c := d.Clone().(*tensor.Dense)
	return gorgonia.NewTensor(g, tensor.Float32, d.Dims(), gorgonia.WithShape(d.Shape()...), gorgonia.WithName(name), gorgonia.WithValue(c))
}

func mustQP(dt tensor.Dtype, s float64, zp int64) qdtype.QParams {
	return qdtype.MustPerTensor(dt, s, zp)
}

var _ = fmt.Sprint
