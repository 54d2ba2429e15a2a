package graphmode

import (
	"math"
	"testing"

	"github.com/qgorgonia/qgorgonia/nodes"
	"gorgonia.org/tensor"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
)

// Graph mode on Gorgonia's MLP idiom agrees with the eager workflow on the
// equivalent module model (QuantStub → Linear → ReLU → Linear →
// DeQuantStub, Linear+ReLU fused) with the same weights and calibration
// batches. The two float models differ in the last bits (package nn has
// its own matmul; gorgonia.Mul takes W untransposed), so the observers can
// see ranges a few ulps apart: outputs must agree within one output step,
// and the qparams to float32 precision. The quantized kernels themselves
// are checked bit for bit against nodes-built references in the other
// tests.
func TestQuantizeGraphMatchesEager(t *testing.T) {
	const bs, in, hid, out = 8, 16, 32, 10
	w1, b1, w2, b2 := mlpWeights(21, in, hid, out)
	m := newMLP(w1, b1, w2, b2, bs, gorgonia.Rectify)
	calib := batches(22, 5, bs, in)
	r, err := QuantizeGraph(m.g, gorgonia.Nodes{m.y}, eager.DefaultQConfig(), calibrateWith(m.x, calib))
	must(t, err)

	l1, err := nn.NewLinear(in, hid)
	must(t, err)
	l2, err := nn.NewLinear(hid, out)
	must(t, err)
	copy(l1.Weight.Data.Float32s(), transposed(w1).Float32s())
	copy(l1.Bias.Data.Float32s(), b1.Float32s())
	copy(l2.Weight.Data.Float32s(), transposed(w2).Float32s())
	copy(l2.Bias.Data.Float32s(), b2.Float32s())
	model, err := nn.NewSequential(eager.NewQuantStub(nil), l1, nn.NewReLU(), l2, eager.NewDeQuantStub(nil))
	must(t, err)
	fused, err := fuse.FuseModules(nn.Eval(model), [][]string{{"1", "2"}})
	must(t, err)
	fused.ModuleBase().QConfig = eager.DefaultQConfig()
	prepared, err := eager.Prepare(fused)
	must(t, err)
	for _, d := range calib {
		_, err := eager.Run(prepared, d)
		must(t, err)
	}
	quantized, err := eager.Convert(prepared)
	must(t, err)
	eq, err := eager.OutputQParams(prepared.ModuleBase().Children()[3].Module)
	must(t, err)
	gq, err := nodes.QParamsOf(children(r.Graph, r.Outputs[0])[0])
	must(t, err)
	if rel := math.Abs(gq.Scale()-eq.Scale()) / eq.Scale(); rel > 1e-5 || gq.ZeroPoint() != eq.ZeroPoint() {
		t.Fatalf("output qparams %v, eager %v", gq, eq)
	}
	t.Logf("output qparams: graph mode %v, eager %v", gq, eq)
	for _, d := range batches(23, 4, bs, in) {
		want, err := eager.Run(quantized, d)
		must(t, err)
		withinStep(t, "graph mode vs eager", r, runResult(t, r, m.x, d)[0], want)
	}
}

// The same for dynamic quantization: eager.QuantizeDynamic on the module
// model against QuantizeDynamicGraph on the graph.
func TestQuantizeDynamicGraphMatchesEager(t *testing.T) {
	const bs, in, hid, out = 8, 16, 32, 10
	w1, b1, w2, b2 := mlpWeights(24, in, hid, out)
	m := newMLP(w1, b1, w2, b2, bs, gorgonia.Rectify)
	r, err := QuantizeDynamicGraph(m.g, gorgonia.Nodes{m.y}, eager.DefaultDynamicQConfig())
	must(t, err)
	l1, err := nn.NewLinear(in, hid)
	must(t, err)
	l2, err := nn.NewLinear(hid, out)
	must(t, err)
	copy(l1.Weight.Data.Float32s(), transposed(w1).Float32s())
	copy(l1.Bias.Data.Float32s(), b1.Float32s())
	copy(l2.Weight.Data.Float32s(), transposed(w2).Float32s())
	copy(l2.Bias.Data.Float32s(), b2.Float32s())
	model, err := nn.NewSequential(l1, nn.NewReLU(), l2)
	must(t, err)
	quantized, err := eager.QuantizeDynamic(model, eager.DynamicSpec{})
	must(t, err)
	for _, d := range batches(25, 4, bs, in) {
		want, err := eager.Run(quantized, d)
		must(t, err)
		sameBits(t, "dynamic graph mode vs eager", runResult(t, r, m.x, d)[0], want)
	}
}

// withinStep checks that a graph-mode output is within one output
// quantization step of the eager one.
func withinStep(t *testing.T, what string, r *Result, got, want *tensor.Dense) {
	t.Helper()
	qp, err := nodes.QParamsOf(children(r.Graph, r.Outputs[0])[0])
	must(t, err)
	step := float32(qp.Scale()) * 1.0001
	g, w := got.Float32s(), want.Float32s()
	if len(g) != len(w) {
		t.Fatalf("%s: %d values, want %d", what, len(g), len(w))
	}
	exact := 0
	for i := range w {
		if d := g[i] - w[i]; d > step || d < -step {
			t.Fatalf("%s: element %d = %v, eager %v: more than one step %v apart", what, i, g[i], w[i], step)
		}
		if g[i] == w[i] {
			exact++
		}
	}
	t.Logf("%s: %d of %d outputs bit-identical, all within one step", what, exact, len(w))
}

// The convnet (Conv2d, ReLU, MaxPool2D, Conv2d+BatchNorm+ReLU, MaxPool2D,
// Reshape, Mul) against eager on QuantStub → ConvReLU2d → MaxPool2d →
// ConvBnReLU2d (folded) → MaxPool2d → Flatten → Linear → DeQuantStub.
func TestQuantizeGraphConvnetMatchesEager(t *testing.T) {
	w := newConvWeights(31)
	m := newConvnet(w, convBS, true)
	calib := batches(32, 4, convBS, 1, 12, 12)
	r, err := QuantizeGraph(m.g, gorgonia.Nodes{m.fc}, eager.DefaultQConfig(), calibrateWith(m.x, calib))
	must(t, err)

	c0, err := nn.NewConv2d(1, 4, []int{3, 3}, nn.Padding(1), nn.WithBias(false))
	must(t, err)
	c1, err := nn.NewConv2d(4, 8, []int{3, 3}, nn.Padding(1), nn.WithBias(false))
	must(t, err)
	bn, err := nn.NewBatchNorm2d(8)
	must(t, err)
	p0, err := nn.NewMaxPool2d([]int{2, 2})
	must(t, err)
	p1, err := nn.NewMaxPool2d([]int{2, 2})
	must(t, err)
	fc, err := nn.NewLinear(72, 10, nn.WithBias(false))
	must(t, err)
	copy(c0.Weight.Data.Float32s(), w.w0.Float32s())
	copy(c1.Weight.Data.Float32s(), w.w1.Float32s())
	copy(bn.Weight.Data.Float32s(), w.gam.Float32s())
	copy(bn.Bias.Data.Float32s(), w.bet.Float32s())
	copy(bn.RunningMean.Data.Float32s(), w.bnMean.Float32s())
	copy(bn.RunningVar.Data.Float32s(), w.bnVar.Float32s())
	bn.Eps = 1e-5
	copy(fc.Weight.Data.Float32s(), transposed(w.w3).Float32s())
	model, err := nn.NewSequential(eager.NewQuantStub(nil), c0, nn.NewReLU(), p0, c1, bn, nn.NewReLU(), p1, nn.NewFlatten(), fc, eager.NewDeQuantStub(nil))
	must(t, err)
	fused, err := fuse.FuseModules(nn.Eval(model), [][]string{{"1", "2"}, {"4", "5", "6"}})
	must(t, err)
	fused.ModuleBase().QConfig = eager.DefaultQConfig()
	prepared, err := eager.Prepare(fused)
	must(t, err)
	for _, d := range calib {
		_, err := eager.Run(prepared, d)
		must(t, err)
	}
	quantized, err := eager.Convert(prepared)
	must(t, err)
	for _, d := range batches(33, 4, convBS, 1, 12, 12) {
		want, err := eager.Run(quantized, d)
		must(t, err)
		withinStep(t, "convnet: graph mode vs eager", r, runResult(t, r, m.x, d)[0], want)
	}
}
