package graphmode

import (
	"github.com/qgorgonia/qgorgonia/eager"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/nodes"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// An op graph mode cannot quantize (Tanh) stays float between a Dequantize
// and a Quantize whose qparams were observed on its float output, and is
// reported; the int8 graph is bit-exact against the same pipeline built by
// hand.
func TestQuantizeGraphUnsupportedOpStaysFloat(t *testing.T) {
	const bs, in, hid, out = 8, 16, 32, 10
	w1, b1, w2, b2 := mlpWeights(2, in, hid, out)
	m := newMLP(w1, b1, w2, b2, bs, gorgonia.Tanh)
	calib := batches(3, 5, bs, in)
	r, err := QuantizeGraph(m.g, gorgonia.Nodes{m.y}, eager.DefaultQConfig(), calibrateWith(m.x, calib))
	must(t, err)
	rep := r.Report
	if len(rep.Quantized) != 2 || rep.Quantized[0].Op != "QLinear" || rep.Quantized[1].Op != "QLinear" ||
		len(rep.Float) != 1 || rep.Float[0].Op != "tanh" || rep.Quantizes != 2 || rep.Dequantizes != 2 {
		t.Fatalf("report:\n%s", r.Describe())
	}
	if !strings.Contains(r.Describe(), "tanh") {
		t.Fatalf("Describe does not name tanh:\n%s", r.Describe())
	}

	// Reference: Quantize → QLinear → Dequantize → tanh → Quantize → QLinear → Dequantize.
	var pre, hs, ys []*tensor.Dense
	xw := children(m.g, m.h)[0] // the bias add before tanh
	for _, d := range calib {
		v := runFloat(t, m.g, m.x, d, xw, m.h, m.y)
		pre, hs, ys = append(pre, v[0]), append(hs, v[1]), append(ys, v[2])
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(bs, in), gorgonia.WithName("x"))
	sx, zx := qparams(t, observerOver(t, calib))
	s1, z1 := qparams(t, observerOver(t, pre))
	sh, zh := qparams(t, observerOver(t, hs))
	s2, z2 := qparams(t, observerOver(t, ys))
	q, err := nodes.Quantize(x, mustPerTensor(t, sx, zx))
	must(t, err)
	q, err = nodes.QLinear(q, weightQ(t, transposed(w1)), vec(b1), s1, z1)
	must(t, err)
	f, err := nodes.Dequantize(q)
	must(t, err)
	f = gorgonia.Must(gorgonia.Tanh(f))
	q, err = nodes.Quantize(f, mustPerTensor(t, sh, zh))
	must(t, err)
	q, err = nodes.QLinear(q, weightQ(t, transposed(w2)), vec(b2), s2, z2)
	must(t, err)
	want, err := nodes.Dequantize(q)
	must(t, err)
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	for _, d := range batches(9, 4, bs, in) {
		got := runResult(t, r, m.x, d)[0]
		must(t, gorgonia.Let(x, d))
		must(t, vm.RunAll())
		sameBits(t, "tanh mlp", got, want.Value().(*tensor.Dense))
		vm.Reset()
	}
}

// SoftMax in the middle of a graph (not only at the end) stays float too,
// and several outputs map to their own new nodes.
func TestQuantizeGraphSoftmaxMiddleAndTwoOutputs(t *testing.T) {
	const bs, in, hid, out = 4, 8, 12, 5
	w1, b1, w2, b2 := mlpWeights(3, in, hid, out)
	m := newMLP(w1, b1, w2, b2, bs, func(n *gorgonia.Node) (*gorgonia.Node, error) { return gorgonia.SoftMax(n) })
	r, err := QuantizeGraph(m.g, gorgonia.Nodes{m.y, m.h}, eager.DefaultQConfig(), calibrateWith(m.x, batches(4, 3, bs, in)))
	must(t, err)
	if len(r.Report.Float) != 1 || !strings.HasPrefix(r.Report.Float[0].Op, "Softmax") || len(r.Outputs) != 2 {
		t.Fatalf("report:\n%s", r.Describe())
	}
	oy, err := r.Output(m.y)
	must(t, err)
	oh, err := r.Output(m.h)
	must(t, err)
	if oy != r.Outputs[0] || oh != r.Outputs[1] {
		t.Fatal("Output mapping does not match Outputs")
	}
	d := batches(5, 1, bs, in)[0]
	got := runResult(t, r, m.x, d)
	fl := runFloat(t, m.g, m.x, d, m.y, m.h)
	for i := range got {
		g, f := got[i].Float32s(), fl[i].Float32s()
		for j := range f {
			if d := g[j] - f[j]; d > 0.2 || d < -0.2 {
				t.Fatalf("output %d element %d: quantized %v, float %v", i, j, g[j], f[j])
			}
		}
	}
	// The softmax output h is float in the quantized graph: bit-exact with
	// softmax of the dequantized first layer is covered by the tanh test;
	// here its values must be probabilities.
	for _, v := range got[1].Float32s() {
		if v < 0 || v > 1 {
			t.Fatalf("softmax output %v out of [0, 1]", v)
		}
	}
}
