package graphmode

import (
	"github.com/qgorgonia/qgorgonia/eager"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/nodes"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestQuantizeDynamicGraphMLP(t *testing.T) {
	const bs, in, hid, out = 8, 16, 32, 10
	w1, b1, w2, b2 := mlpWeights(4, in, hid, out)
	m := newMLP(w1, b1, w2, b2, bs, gorgonia.Rectify)
	n0, _ := graphSnapshot(m.g)
	for _, fp16 := range []bool{false, true} {
		qc := eager.DefaultDynamicQConfig()
		if fp16 {
			qc = eager.Float16DynamicQConfig()
		}
		r, err := QuantizeDynamicGraph(m.g, gorgonia.Nodes{m.y}, qc)
		must(t, err)
		op := "DynamicLinear"
		if fp16 {
			op = "DynamicLinearFP16"
		}
		rep := r.Report
		if len(rep.Quantized) != 2 || rep.Quantized[0].Op != op || rep.Quantized[0].Kind != "linear+bias" ||
			len(rep.Float) != 1 || rep.Float[0].Op != "Rectify" {
			t.Fatalf("report:\n%s", r.Describe())
		}
		// Reference: nn.quantized.dynamic.Linear → ReLU → dynamic Linear.
		g := gorgonia.NewGraph()
		x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(bs, in), gorgonia.WithName("x"))
		lin := func(x *gorgonia.Node, w, b *tensor.Dense) *gorgonia.Node {
			var y *gorgonia.Node
			var err error
			if fp16 {
				y, err = nodes.DynamicLinearFP16(x, transposed(w), vec(b))
			} else {
				y, err = nodes.DynamicLinear(x, weightQ(t, transposed(w)), vec(b), true)
			}
			must(t, err)
			return y
		}
		want := lin(gorgonia.Must(gorgonia.Rectify(lin(x, w1, b1))), w2, b2)
		vm := gorgonia.NewTapeMachine(g)
		for _, d := range batches(6, 4, bs, in) {
			got := runResult(t, r, m.x, d)[0]
			must(t, gorgonia.Let(x, d))
			must(t, vm.RunAll())
			sameBits(t, op, got, want.Value().(*tensor.Dense))
			vm.Reset()
		}
		vm.Close()
	}
	if n1, _ := graphSnapshot(m.g); n1 != n0 {
		t.Fatalf("original graph changed: %d nodes -> %d", n0, n1)
	}
}

// Convolutions are not dynamically quantized (PyTorch's dynamic mode covers
// Linear and RNNs): the convnet's only dynamic op is its final matmul.
func TestQuantizeDynamicGraphConvnet(t *testing.T) {
	m := newConvnet(newConvWeights(5), convBS, false)
	r, err := QuantizeDynamicGraph(m.g, gorgonia.Nodes{m.out}, eager.DefaultDynamicQConfig())
	must(t, err)
	if len(r.Report.Quantized) != 1 || r.Report.Quantized[0].Op != "DynamicLinear" {
		t.Fatalf("report:\n%s", r.Describe())
	}
	if !strings.Contains(r.Describe(), "convolutions are not dynamically quantized") {
		t.Fatalf("report does not explain the float convolutions:\n%s", r.Describe())
	}
	d := batches(7, 1, convBS, 1, 12, 12)[0]
	got := runResult(t, r, m.x, d)[0].Float32s()
	want := runFloat(t, m.g, m.x, d, m.out)[0].Float32s()
	for i := range want {
		if diff := got[i] - want[i]; diff > 0.05 || diff < -0.05 {
			t.Fatalf("probability %d: dynamic %v, float %v", i, got[i], want[i])
		}
	}
}
