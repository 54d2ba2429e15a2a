package fake

import (
	"math"
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func randDense(r *rand.Rand, scale float32, shape ...int) *tensor.Dense {
	n := 1
	for _, s := range shape {
		n *= s
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(r.NormFloat64()) * scale
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

func mustFQ(t testing.TB, opts ...observer.Option) *FakeQuantizer {
	t.Helper()
	fq, err := NewFakeQuantizer(observer.WithArgs(observer.NewMovingAverageMinMaxObserver, opts...))
	if err != nil {
		t.Fatal(err)
	}
	return fq
}

// graph x·W → FakeQuantize → Σ(·)²: returns the graph, nodes and ops.
type fqGraph struct {
	g       *G.ExprGraph
	x, w    *G.Node
	y, cost *G.Node
	op      *Op
	wOp     *Op
}

func buildFQGraph(t testing.TB, xv, wv *tensor.Dense, act, wfq Quantizer) *fqGraph {
	t.Helper()
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(xv.Shape()...), G.WithName("x"), G.WithValue(xv))
	w := G.NewMatrix(g, tensor.Float32, G.WithShape(wv.Shape()...), G.WithName("w"), G.WithValue(wv))
	wq := w
	var wOp *Op
	var err error
	if wfq != nil {
		if wq, wOp, err = FakeQuantize(w, wfq); err != nil {
			t.Fatal(err)
		}
	}
	xw := G.Must(G.Mul(x, wq))
	y, op, err := FakeQuantize(xw, act)
	if err != nil {
		t.Fatal(err)
	}
	cost := G.Must(G.Sum(G.Must(G.Square(y))))
	return &fqGraph{g: g, x: x, w: w, y: y, cost: cost, op: op, wOp: wOp}
}

func TestSTEGradientMatchesSurrogateFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	xv := randDense(r, 1, 4, 3)
	wv := randDense(r, 1, 3, 5)
	act := mustFQ(t, observer.WithQuantRange(0, 255))
	// Calibrate once so the range clips some outputs, then freeze.
	if _, err := act.Forward(tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{-1, 1}))); err != nil {
		t.Fatal(err)
	}
	act.EnableObserver(false)
	fg := buildFQGraph(t, xv, wv, act, nil)
	if _, err := G.Grad(fg.cost, fg.w); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(fg.g, G.BindDualValues(fg.w))
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	gv, err := fg.w.Grad()
	if err != nil {
		t.Fatal(err)
	}
	ste := append([]float32(nil), gv.Data().([]float32)...)

	// Surrogate: y = clamp(x·W, (qmin−zp−½)s, (qmax−zp+½)s), whose derivative is
	// the STE mask; cost Σ y² with y the real fake-quantized value, so the
	// chain factor 2·y uses the quantized y as the graph does.
	qp := act.QParams()
	s, zp := float32(qp.Scale()), qp.ZeroPoint()
	lo := (float32(0-zp) - 0.5) * s
	hi := (float32(255-zp) + 0.5) * s
	xd := xv.Float32s()
	wd := wv.Float32s()
	fwd := func(w []float32) float64 {
		var c float64
		for i := 0; i < 4; i++ {
			for j := 0; j < 5; j++ {
				var acc float64
				for k := 0; k < 3; k++ {
					acc += float64(xd[i*3+k]) * float64(w[k*5+j])
				}
				v := math.Min(math.Max(acc, float64(lo)), float64(hi))
				yq, _, _ := FakeQuantizePerTensorAffine(tensor.New(tensor.FromScalar(float32(acc))), s, zp, 0, 255)
				c += 2 * float64(yq.Data().(float32)) * v
			}
		}
		return c
	}
	const h = 1e-4
	for i := range wd {
		wp := append([]float64(nil), toF64(wd)...)
		w1 := toF32s(wp)
		w1[i] += h
		w2 := toF32s(wp)
		w2[i] -= h
		fd := (fwd(w1) - fwd(w2)) / (2 * h)
		if math.Abs(fd-float64(ste[i])) > 2e-2*math.Max(1, math.Abs(fd)) {
			t.Errorf("dW[%d]: STE %v, finite differences of the surrogate %v", i, ste[i], fd)
		}
	}
}

func toF64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

func toF32s(v []float64) []float32 {
	o := make([]float32, len(v))
	for i, x := range v {
		o[i] = float32(x)
	}
	return o
}

func TestTapeAndLispGradientsAgree(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	xv := randDense(r, 1, 6, 4)
	wv := randDense(r, 0.5, 4, 3)
	grads := make([][]float32, 2)
	for run := 0; run < 2; run++ {
		act := mustFQ(t, observer.WithQuantRange(0, 15))
		wfq := mustFQ(t, observer.WithDtype(qdtype.QInt8Dtype), observer.WithQScheme(qdtype.PerTensorSymmetric), observer.WithQuantRange(-8, 7))
		fg := buildFQGraph(t, xv.Clone().(*tensor.Dense), wv.Clone().(*tensor.Dense), act, wfq)
		var m G.VM
		if run == 0 {
			if _, err := G.Grad(fg.cost, fg.w); err != nil {
				t.Fatal(err)
			}
			m = G.NewTapeMachine(fg.g, G.BindDualValues(fg.w))
		} else {
			m = G.NewLispMachine(fg.g)
		}
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		gv, err := fg.w.Grad()
		if err != nil {
			t.Fatal(err)
		}
		grads[run] = append([]float32(nil), gv.Data().([]float32)...)
		m.Close()
	}
	nonzero := 0
	for i := range grads[0] {
		if d := math.Abs(float64(grads[0][i] - grads[1][i])); d > 1e-5*math.Max(1, math.Abs(float64(grads[0][i]))) {
			t.Errorf("dW[%d]: tape %v, lisp %v", i, grads[0][i], grads[1][i])
		}
		if grads[0][i] != 0 {
			nonzero++
		}
	}
	if nonzero == 0 {
		t.Fatal("all gradients are zero; the test would not see a difference")
	}
}

func TestQATTrainingLoopReducesLoss(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	const bs, in, out = 16, 4, 2
	teacher := randDense(r, 1, in, out)
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(bs, in), G.WithName("x"))
	yT := G.NewMatrix(g, tensor.Float32, G.WithShape(bs, out), G.WithName("y"))
	w := G.NewMatrix(g, tensor.Float32, G.WithShape(in, out), G.WithName("w"), G.WithValue(randDense(r, 0.1, in, out)))
	wfq, err := NewFusedMovingAvgObsFakeQuantize(observer.WithArgs(observer.NewMovingAverageMinMaxObserver,
		observer.WithDtype(qdtype.QInt8Dtype), observer.WithQScheme(qdtype.PerTensorSymmetric), observer.WithQuantRange(-128, 127),
		observer.WithAveragingConstant(1)))
	if err != nil {
		t.Fatal(err)
	}
	wq, _, err := FakeQuantize(w, wfq)
	if err != nil {
		t.Fatal(err)
	}
	act := mustFQ(t, observer.WithQuantRange(0, 255), observer.WithAveragingConstant(0.1))
	pred, _, err := FakeQuantize(G.Must(G.Mul(x, wq)), act)
	if err != nil {
		t.Fatal(err)
	}
	cost := G.Must(G.Mean(G.Must(G.Square(G.Must(G.Sub(pred, yT))))))
	var costVal G.Value
	G.Read(cost, &costVal)
	if _, err := G.Grad(cost, w); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g, G.BindDualValues(w))
	defer m.Close()
	solver := G.NewAdamSolver(G.WithLearnRate(0.05))
	var first, last float32
	for step := 0; step < 150; step++ {
		xv := randDense(r, 1, bs, in)
		yv := tensor.New(tensor.WithShape(bs, out), tensor.WithBacking(make([]float32, bs*out)))
		if _, err := tensor.MatMul(xv, teacher, tensor.WithReuse(yv)); err != nil {
			t.Fatal(err)
		}
		if err := G.Let(x, xv); err != nil {
			t.Fatal(err)
		}
		if err := G.Let(yT, yv); err != nil {
			t.Fatal(err)
		}
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		c := costVal.Data().(float32)
		if step == 0 {
			first = c
		}
		last = c
		if err := solver.Step(G.NodesToValueGrads(G.Nodes{w})); err != nil {
			t.Fatal(err)
		}
		m.Reset()
	}
	t.Logf("QAT loss %v → %v", first, last)
	if !(last < first/10) {
		t.Fatalf("loss %v → %v: QAT training did not reduce the loss tenfold", first, last)
	}
	if qp := act.QParams(); qp.Scale() == 1 {
		t.Fatalf("activation qparams never updated: %v", qp)
	}
}

func TestRunAllResetRunAllIsDeterministic(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	xv := randDense(r, 1, 3, 4)
	wv := randDense(r, 1, 4, 2)
	act := mustFQ(t, observer.WithQuantRange(0, 255))
	act.EnableObserver(false)
	if _, err := act.Forward(xv); err != nil { // no-op observation: qparams stay (1, 0)
		t.Fatal(err)
	}
	obsOn := mustFQ(t, observer.WithQuantRange(0, 255))
	if _, err := obsOn.Forward(tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{-3, 3}))); err != nil {
		t.Fatal(err)
	}
	obsOn.EnableObserver(false)
	fg := buildFQGraph(t, xv, wv, obsOn, nil)
	var yv G.Value
	G.Read(fg.y, &yv)
	m := G.NewTapeMachine(fg.g)
	defer m.Close()
	var runs [][]float32
	for i := 0; i < 3; i++ {
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, append([]float32(nil), yv.Data().([]float32)...))
		m.Reset()
	}
	for i := 1; i < len(runs); i++ {
		for j := range runs[0] {
			if runs[i][j] != runs[0][j] {
				t.Fatalf("run %d element %d: %v, first run %v", i, j, runs[i][j], runs[0][j])
			}
		}
	}
}

func TestTwoFakeQuantizeOpsDoNotMerge(t *testing.T) {
	g := G.NewGraph()
	x := G.NewVector(g, tensor.Float32, G.WithShape(3), G.WithName("x"))
	a, opA, err := FakeQuantize(x, mustFQ(t))
	if err != nil {
		t.Fatal(err)
	}
	b, opB, err := FakeQuantize(x, mustFQ(t))
	if err != nil {
		t.Fatal(err)
	}
	if a == b || opA == opB || a.Hashcode() == b.Hashcode() {
		t.Fatal("two FakeQuantize ops on the same input were merged")
	}
	if n := EnableObservers(g, false); n != 2 {
		t.Fatalf("EnableObservers changed %d ops, want 2", n)
	}
	if opA.Quantizer().ObserverEnabled() || opB.Quantizer().ObserverEnabled() {
		t.Fatal("observers still enabled")
	}
	if n := EnableFakeQuants(g, false); n != 2 || opA.Quantizer().FakeQuantEnabled() {
		t.Fatalf("EnableFakeQuants changed %d ops", n)
	}
	if len(Ops(g)) != 2 {
		t.Fatalf("Ops found %d", len(Ops(g)))
	}
}

func TestEvalModeMachineFreezesObserver(t *testing.T) {
	xv := tensor.New(tensor.WithShape(4), tensor.WithBacking([]float32{-1, 0, 1, 2}))
	act := mustFQ(t)
	g := G.NewGraph()
	x := G.NewVector(g, tensor.Float32, G.WithShape(4), G.WithName("x"), G.WithValue(xv))
	if _, _, err := FakeQuantize(x, act); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g, G.EvalMode())
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	if mn := act.Observer().MinVal(); !math.IsInf(float64(mn[0]), 1) {
		t.Fatalf("eval machine observed: min %v", mn)
	}
}

func TestOpErrorsInsteadOfPanicking(t *testing.T) {
	g := G.NewGraph()
	x := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("x"))
	if _, _, err := FakeQuantize(x, mustFQ(t)); err == nil {
		t.Fatal("float64 node accepted")
	}
	x32 := G.NewVector(g, tensor.Float32, G.WithShape(3), G.WithName("x32"),
		G.WithValue(tensor.New(tensor.WithShape(3), tensor.WithBacking([]float32{1, float32(math.NaN()), 2}))))
	if _, _, err := FakeQuantize(x32, mustFQ(t)); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err == nil {
		t.Fatal("NaN input did not fail the run")
	}
}

func TestLearnableOpTapeMatchesLispAndKernels(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	xv := randDense(r, 1, 5, 3)
	got := learnableGradsTapeAndLisp(t, LearnableConfig{Scale: 0.05, ZeroPoint: 100.3, UseGradScaling: true}, xv)
	for i := range got[0] {
		for j := range got[0][i] {
			a, b := got[0][i][j], got[1][i][j]
			if math.Abs(float64(a-b)) > 1e-5*math.Max(1, math.Abs(float64(a))) {
				t.Errorf("grad %d[%d]: tape %v lisp %v", i, j, a, b)
			}
		}
	}
	// The kernels directly: dy = 2·y.
	y, err := FakeQuantizeLearnablePerTensorAffine(xv, 0.05, 100.3, 0, 255)
	if err != nil {
		t.Fatal(err)
	}
	dyd := y.Clone().(*tensor.Dense)
	for i, v := range dyd.Float32s() {
		dyd.Float32s()[i] = 2 * v
	}
	gr, err := FakeQuantizeLearnablePerTensorAffineBackward(dyd, xv, 0.05, 100.3, 0, 255, float32(1/math.Sqrt(15*255)))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(gr.Scale[0]-got[0][1][0])) > 1e-5*math.Abs(float64(gr.Scale[0])) || gr.ZeroPoint[0] != got[0][2][0] {
		t.Fatalf("op grads scale %v zp %v, kernel %v %v", got[0][1], got[0][2], gr.Scale, gr.ZeroPoint)
	}
}

func TestLearnableTrainingMovesScale(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	l, err := NewLearnableFakeQuantizer(LearnableConfig{Scale: 0.5, ZeroPoint: 128})
	if err != nil {
		t.Fatal(err)
	}
	l.EnableParamLearning()
	g := G.NewGraph()
	x := G.NewVector(g, tensor.Float32, G.WithShape(64), G.WithName("x"))
	y, s, z, _, err := LearnableFakeQuantize(x, l, "act")
	if err != nil {
		t.Fatal(err)
	}
	cost := G.Must(G.Mean(G.Must(G.Square(G.Must(G.Sub(y, x))))))
	var cv G.Value
	G.Read(cost, &cv)
	if _, err := G.Grad(cost, s, z); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g, G.BindDualValues(s, z))
	defer m.Close()
	solver := G.NewAdamSolver(G.WithLearnRate(0.01))
	var first, last float32
	for step := 0; step < 100; step++ {
		if err := G.Let(x, randDense(r, 1, 64)); err != nil {
			t.Fatal(err)
		}
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = cv.Data().(float32)
		}
		last = cv.Data().(float32)
		if err := solver.Step(G.NodesToValueGrads(G.Nodes{s, z})); err != nil {
			t.Fatal(err)
		}
		m.Reset()
	}
	t.Logf("LSQ loss %v → %v, scale %v", first, last, l.Scale().Float32s())
	if !(last < first/2) {
		t.Fatalf("LSQ loss %v → %v", first, last)
	}
	if sv := l.Scale().Float32s()[0]; !(sv < 0.5) {
		t.Fatalf("scale %v did not shrink from 0.5", sv)
	}
}

func TestLearnableStaticEstimateWritesParameters(t *testing.T) {
	l, err := NewLearnableFakeQuantizer(LearnableConfig{Observer: observer.WithArgs(observer.NewMovingAveragePerChannelMinMaxObserver,
		observer.WithQuantRange(-128, 127), observer.WithDtype(qdtype.QInt8Dtype), observer.WithQScheme(qdtype.PerChannelSymmetric)),
		ChannelLen: 2})
	if err != nil {
		t.Fatal(err)
	}
	w := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{-1, 0.5, 2, 0.25, -0.5, 0.1}))
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("w"), G.WithValue(w))
	y, s, z, _, err := LearnableFakeQuantize(x, l, "wfq")
	if err != nil {
		t.Fatal(err)
	}
	cost := G.Must(G.Sum(y))
	if _, err := G.Grad(cost, x, s, z); err != nil {
		t.Fatal(err)
	}
	var yv G.Value
	G.Read(y, &yv)
	m := G.NewTapeMachine(g, G.BindDualValues(x, s, z))
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	sc := l.Scale().Float32s()
	if math.Abs(float64(sc[0])-2.0/127.5) > 1e-7 || math.Abs(float64(sc[1])-0.5/127.5) > 1e-7 {
		t.Fatalf("static estimate scales %v, want [2/127.5 0.5/127.5]", sc)
	}
	qp, err := l.CalculateQParams()
	if err != nil || qp.Axis != 0 || len(qp.Scales) != 2 || qp.ZeroPoints[0] != 0 {
		t.Fatalf("calculate qparams %v %v", qp, err)
	}
	want, err := FakeQuantizeLearnablePerChannelAffine(w, sc, l.ZeroPoint().Float32s(), 0, -128, 127)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range yv.Data().([]float32) {
		if v != want.Float32s()[i] {
			t.Fatalf("y[%d] = %v, want %v", i, v, want.Float32s()[i])
		}
	}
	// Learning is off: the parameter gradients are zero, x gets the STE.
	sg, _ := s.Grad()
	for _, v := range sg.Data().([]float32) {
		if v != 0 {
			t.Fatalf("scale gradient %v while learning is off", sg.Data())
		}
	}
	if _, err := NewLearnableFakeQuantizer(LearnableConfig{ChannelLen: 3}); err == nil {
		t.Fatal("ChannelLen with a per-tensor observer accepted")
	}
}

func TestLearnablePerChannelTapeMatchesLisp(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	xv := randDense(r, 1, 3, 4)
	got := learnableGradsTapeAndLisp(t, LearnableConfig{Observer: observer.WithArgs(observer.NewMovingAveragePerChannelMinMaxObserver,
		observer.WithQuantRange(0, 15), observer.WithChAxis(1)), ChannelLen: 4, Scale: 0.1, ZeroPoint: 7.4}, xv)
	nonzero := 0
	for i := range got[0] {
		for j := range got[0][i] {
			a, b := got[0][i][j], got[1][i][j]
			if math.Abs(float64(a-b)) > 1e-5*math.Max(1, math.Abs(float64(a))) {
				t.Errorf("grad %d[%d]: tape %v lisp %v", i, j, a, b)
			}
			if i > 0 && a != 0 {
				nonzero++
			}
		}
	}
	if nonzero == 0 {
		t.Fatal("no parameter gradient; the comparison is empty")
	}
}

// learnableGradsTapeAndLisp returns the gradients of Σy² for x, scale and
// zero point of a learnable fake quantizer made from cfg, with the input
// xv (a matrix): got[0] from a TapeMachine after Grad, got[1] from a
// LispMachine.
func learnableGradsTapeAndLisp(t *testing.T, cfg LearnableConfig, xv *tensor.Dense) [2][3][]float32 {
	t.Helper()
	var got [2][3][]float32
	for run := 0; run < 2; run++ {
		l, err := NewLearnableFakeQuantizer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		l.EnableParamLearning()
		g := G.NewGraph()
		x := G.NewMatrix(g, tensor.Float32, G.WithShape(xv.Shape()...), G.WithName("x"), G.WithValue(xv.Clone().(*tensor.Dense)))
		y, s, z, _, err := LearnableFakeQuantize(x, l, "act")
		if err != nil {
			t.Fatal(err)
		}
		cost := G.Must(G.Sum(G.Must(G.Square(y))))
		var m G.VM
		if run == 0 {
			if _, err := G.Grad(cost, x, s, z); err != nil {
				t.Fatal(err)
			}
			m = G.NewTapeMachine(g, G.BindDualValues(x, s, z))
		} else {
			m = G.NewLispMachine(g)
		}
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		for i, n := range []*G.Node{x, s, z} {
			gv, err := n.Grad()
			if err != nil {
				t.Fatal(err)
			}
			got[run][i] = append([]float32(nil), gv.Data().([]float32)...)
		}
		m.Close()
	}
	return got
}
