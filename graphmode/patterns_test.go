package graphmode

import (
	"github.com/qgorgonia/qgorgonia/eager"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nodes"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Two linears of one input added and rectified: add of two activations
// with a fused ReLU (QFunctional.add_relu), bit-exact against nodes.
func TestQuantizeGraphAddReLU(t *testing.T) {
	const bs, in, out = 4, 8, 6
	w1, b1, w2, b2 := mlpWeights(8, in, out, out)
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(bs, in), gorgonia.WithName("x"))
	w2in := randDense(newRand(9), 0.4, in, out)
	l1 := gorgonia.Must(gorgonia.BroadcastAdd(gorgonia.Must(gorgonia.Mul(x, param(g, "w1", w1))), param(g, "b1", b1), nil, []byte{0}))
	l2 := gorgonia.Must(gorgonia.Mul(x, param(g, "w2", w2in)))
	y := gorgonia.Must(gorgonia.Rectify(gorgonia.Must(gorgonia.Add(l1, l2))))
	_, _ = w2, b2
	calib := batches(10, 4, bs, in)
	r, err := QuantizeGraph(g, gorgonia.Nodes{y}, eager.DefaultQConfig(), calibrateWith(x, calib))
	must(t, err)
	ops := []string{}
	for _, e := range r.Report.Quantized {
		ops = append(ops, e.Op)
	}
	if strings.Join(ops, ",") != "QLinear,QLinear,QAddReLU" || len(r.Report.Float) != 0 || r.Report.Quantizes != 1 {
		t.Fatalf("report:\n%s", r.Describe())
	}
	var l1s, l2s, ys []*tensor.Dense
	for _, d := range calib {
		v := runFloat(t, g, x, d, l1, l2, y)
		l1s, l2s, ys = append(l1s, v[0]), append(l2s, v[1]), append(ys, v[2])
	}
	rg := gorgonia.NewGraph()
	rx := gorgonia.NewMatrix(rg, tensor.Float32, gorgonia.WithShape(bs, in), gorgonia.WithName("x"))
	sx, zx := qparams(t, observerOver(t, calib))
	s1, z1 := qparams(t, observerOver(t, l1s))
	s2, z2 := qparams(t, observerOver(t, l2s))
	sy, zy := qparams(t, observerOver(t, ys))
	xq, err := nodes.Quantize(rx, mustPerTensor(t, sx, zx))
	must(t, err)
	q1, err := nodes.QLinear(xq, weightQ(t, transposed(w1)), vec(b1), s1, z1)
	must(t, err)
	q2, err := nodes.QLinear(xq, weightQ(t, transposed(w2in)), nil, s2, z2)
	must(t, err)
	qy, err := nodes.QAddReLU(q1, q2, sy, zy)
	must(t, err)
	want, err := nodes.Dequantize(qy)
	must(t, err)
	vm := gorgonia.NewTapeMachine(rg)
	defer vm.Close()
	for _, d := range batches(11, 3, bs, in) {
		got := runResult(t, r, x, d)[0]
		must(t, gorgonia.Let(rx, d))
		must(t, vm.RunAll())
		sameBits(t, "add relu", got, want.Value().(*tensor.Dense))
		vm.Reset()
	}
}

// Linear followed by BatchNorm (γ and β of shape (1, N)) folds into the
// linear (fuse_linear_bn_eval); a batch norm with per-element γ (Gorgonia's
// default BatchNorm(x, nil, nil, …)) cannot fold and stays float in its
// eval form, reported, and never shares the original stateful op.
func TestQuantizeGraphBatchNormAfterLinear(t *testing.T) {
	const bs, in, out = 4, 6, 5
	r0 := newRand(12)
	w := randDense(r0, 0.5, in, out)
	gam, bet := randDense(r0, 0.2, 1, out), randDense(r0, 0.2, 1, out)
	mean, variance := randDense(r0, 0.3, out), randDense(r0, 0.3, out)
	for i, v := range variance.Float32s() {
		variance.Float32s()[i] = 0.5 + v*v
	}
	build := func(perElement bool) (*gorgonia.ExprGraph, *gorgonia.Node, *gorgonia.Node, *gorgonia.BatchNormOp) {
		g := gorgonia.NewGraph()
		x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(bs, in), gorgonia.WithName("x"))
		h := gorgonia.Must(gorgonia.Mul(x, param(g, "w", w)))
		var sc, bi *gorgonia.Node
		if !perElement {
			sc, bi = param(g, "gamma", gam), param(g, "beta", bet)
		}
		y, _, _, op, err := gorgonia.BatchNorm(h, sc, bi, 0.9, 1e-5)
		must(t, err)
		must(t, op.SetStats(mean, variance))
		return g, x, y, op
	}
	calib := batches(13, 3, bs, in)

	g, x, y, _ := build(false)
	r, err := QuantizeGraph(g, gorgonia.Nodes{y}, eager.DefaultQConfig(), calibrateWith(x, calib))
	must(t, err)
	if len(r.Report.Quantized) != 1 || r.Report.Quantized[0].Kind != "linear+batchnorm(folded)" || len(r.Report.Float) != 0 {
		t.Fatalf("report:\n%s", r.Describe())
	}
	fw, fb, err := fuse.FuseLinearBNWeights(transposed(w), nil, mean, variance, 1e-5, vec(gam), vec(bet))
	must(t, err)
	// The folded float model the observers watch: x·W' + b'.
	fg := gorgonia.NewGraph()
	fx := gorgonia.NewMatrix(fg, tensor.Float32, gorgonia.WithShape(bs, in), gorgonia.WithName("x"))
	fbm := tensor.New(tensor.WithShape(1, out), tensor.WithBacking(append([]float32(nil), fb.Float32s()...)))
	fy := gorgonia.Must(gorgonia.BroadcastAdd(gorgonia.Must(gorgonia.Mul(fx, param(fg, "w", transposed(fw)))), param(fg, "b", fbm), nil, []byte{0}))
	var ys []*tensor.Dense
	for _, d := range calib {
		ys = append(ys, runFloat(t, fg, fx, d, fy)[0])
	}
	rg := gorgonia.NewGraph()
	rx := gorgonia.NewMatrix(rg, tensor.Float32, gorgonia.WithShape(bs, in), gorgonia.WithName("x"))
	sx, zx := qparams(t, observerOver(t, calib))
	sy, zy := qparams(t, observerOver(t, ys))
	xq, err := nodes.Quantize(rx, mustPerTensor(t, sx, zx))
	must(t, err)
	qy, err := nodes.QLinear(xq, weightQ(t, fw), fb, sy, zy)
	must(t, err)
	want, err := nodes.Dequantize(qy)
	must(t, err)
	vm := gorgonia.NewTapeMachine(rg)
	defer vm.Close()
	d := batches(14, 1, bs, in)[0]
	must(t, gorgonia.Let(rx, d))
	must(t, vm.RunAll())
	sameBits(t, "linear+bn", runResult(t, r, x, d)[0], want.Value().(*tensor.Dense))

	// Per-element γ: float batch norm in eval form, bit-exact with
	// Gorgonia's own eval-mode BatchNorm on the dequantized linear output.
	g2, x2, y2, op2 := build(true)
	r2, err := QuantizeGraph(g2, gorgonia.Nodes{y2}, eager.DefaultQConfig(), calibrateWith(x2, calib))
	must(t, err)
	if len(r2.Report.Quantized) != 1 || r2.Report.Quantized[0].Op != "QLinear" || !strings.Contains(r2.Describe(), "batch norm not after") {
		t.Fatalf("report:\n%s", r2.Describe())
	}
	mul := children(g2, y2)[0]
	gamma2 := children(g2, mul)[0].Value().(*tensor.Dense)
	beta2 := children(g2, y2)[1].Value().(*tensor.Dense)
	h2 := children(g2, children(g2, mul)[1])[0]
	var hs []*tensor.Dense
	for _, d := range calib {
		hs = append(hs, runFloat(t, g2, x2, d, h2)[0])
	}
	sh, zh := qparams(t, observerOver(t, hs))
	rg2 := gorgonia.NewGraph()
	rx2 := gorgonia.NewMatrix(rg2, tensor.Float32, gorgonia.WithShape(bs, in), gorgonia.WithName("x"))
	xq2, err := nodes.Quantize(rx2, mustPerTensor(t, sx, zx))
	must(t, err)
	qh, err := nodes.QLinear(xq2, weightQ(t, transposed(w)), nil, sh, zh)
	must(t, err)
	fh, err := nodes.Dequantize(qh)
	must(t, err)
	ry, _, _, rop, err := gorgonia.BatchNorm(fh, param(rg2, "g", gamma2), param(rg2, "b", beta2), 0.9, 1e-5)
	must(t, err)
	must(t, rop.SetStats(mean, variance))
	sameBits(t, "linear then float batch norm", runResult(t, r2, x2, d)[0], runFloat(t, rg2, rx2, d, ry)[0])
	m2, _ := op2.Stats()
	if m2.(*tensor.Dense).Float32s()[0] != mean.Float32s()[0] {
		t.Fatal("the original batch norm's statistics changed")
	}
}
