package nn

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// distinct returns a tensor holding a random permutation of values spaced
// 0.1 apart, so finite differences never cross a max's switching point.
func distinct(r *rand.Rand, shape ...int) *tensor.Dense {
	d := newF32(tensor.Shape(shape))
	for i, p := range r.Perm(len(d.Float32s())) {
		d.Float32s()[i] = float32(p)*0.1 - 1
	}
	return d
}

func randDense(r *rand.Rand, shape ...int) *tensor.Dense {
	d := newF32(tensor.Shape(shape))
	for i := range d.Float32s() {
		d.Float32s()[i] = float32(r.NormFloat64())
	}
	return d
}

// gradCase builds cost = Σ y ⊙ R for a module applied to an input, then
// compares the symbolic gradients (TapeMachine, SymDiff) of the input and
// of every learnable with central finite differences, and with the
// LispMachine's DoDiff gradients.
type gradCase struct {
	name    string
	m       Module
	x       *tensor.Dense
	forward func(m Module, x *gorgonia.Node) (*gorgonia.Node, error)
	noLisp  bool
}

func buildCost(c gradCase, r *rand.Rand) (*gorgonia.ExprGraph, *gorgonia.Node, gorgonia.Nodes, error) {
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, c.x.Dims(), gorgonia.WithShape(c.x.Shape()...), gorgonia.WithValue(c.x), gorgonia.WithName("x"))
	fwd := c.forward
	if fwd == nil {
		fwd = Call
	}
	y, err := fwd(c.m, x)
	if err != nil {
		return nil, nil, nil, err
	}
	rv := randDense(r, y.Shape()...)
	rn := gorgonia.NewTensor(g, tensor.Float32, y.Dims(), gorgonia.WithShape(y.Shape()...), gorgonia.WithValue(rv), gorgonia.WithName("r"))
	p, err := gorgonia.HadamardProd(y, rn)
	if err != nil {
		return nil, nil, nil, err
	}
	cost, err := gorgonia.Sum(p)
	if err != nil {
		return nil, nil, nil, err
	}
	wrt := append(gorgonia.Nodes{x}, Learnables(c.m, g)...)
	return g, cost, wrt, nil
}

func runCost(vm gorgonia.VM, cost *gorgonia.Node, cv *gorgonia.Value) (float64, error) {
	vm.Reset()
	if err := vm.RunAll(); err != nil {
		return 0, err
	}
	return float64((*cv).Data().(float32)), nil
}

func checkGradCase(t *testing.T, c gradCase) {
	t.Helper()
	r := rand.New(rand.NewSource(7))
	g, cost, wrt, err := buildCost(c, r)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := gorgonia.Grad(cost, wrt...)
	if err != nil {
		t.Fatal(err)
	}
	var cv gorgonia.Value
	gorgonia.Read(cost, &cv)
	gv := make([]gorgonia.Value, len(grads))
	for i, gn := range grads {
		gorgonia.Read(gn, &gv[i])
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if _, err := runCost(vm, cost, &cv); err != nil {
		t.Fatal(err)
	}
	sym := make([][]float32, len(gv))
	for i, v := range gv {
		sym[i] = append([]float32(nil), v.(*tensor.Dense).Float32s()...)
	}
	for i, n := range wrt {
		d := n.Value().(*tensor.Dense).Float32s()
		for k := 0; k < 6 && k < len(d); k++ {
			j := r.Intn(len(d))
			orig := d[j]
			const eps = 1e-2
			d[j] = orig + eps
			cp, err := runCost(vm, cost, &cv)
			if err != nil {
				t.Fatal(err)
			}
			d[j] = orig - eps
			cm, err := runCost(vm, cost, &cv)
			if err != nil {
				t.Fatal(err)
			}
			d[j] = orig
			fd := (cp - cm) / (2 * eps)
			if math.Abs(fd-float64(sym[i][j])) > 2e-2*math.Max(1, math.Abs(fd)) {
				t.Errorf("%s: d/d%s[%d]: symbolic %g, finite difference %g", c.name, n.Name(), j, sym[i][j], fd)
			}
		}
	}
	if c.noLisp {
		return
	}
	// LispMachine (DoDiff) on a fresh graph must agree with the tape.
	g2, _, wrt2, err := buildCost(c, rand.New(rand.NewSource(7)))
	if err != nil {
		t.Fatal(err)
	}
	lm := gorgonia.NewLispMachine(g2)
	defer lm.Close()
	if err := lm.RunAll(); err != nil {
		t.Fatal(err)
	}
	for i, n := range wrt2 {
		gv, err := n.Grad()
		if err != nil {
			t.Fatalf("%s: lisp grad of %s: %v", c.name, n.Name(), err)
		}
		got := gv.(*tensor.Dense).Float32s()
		for j := range got {
			if math.Abs(float64(got[j]-sym[i][j])) > 1e-4*math.Max(1, math.Abs(float64(sym[i][j]))) {
				t.Errorf("%s: lisp d/d%s[%d] = %g, tape %g", c.name, n.Name(), j, got[j], sym[i][j])
				break
			}
		}
	}
}

func TestGradients(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	must := func(m Module, err error) Module {
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	seed := WithSeed(11)
	var cases []gradCase
	add := func(name string, m Module, x *tensor.Dense) {
		cases = append(cases, gradCase{name: name, m: m, x: x})
	}
	add("linear", must(NewLinear(5, 3, seed)), randDense(r, 4, 5))
	add("conv2d_groups", must(NewConv2d(4, 6, []int{3, 2}, Stride(2, 1), Padding(1), Dilation(1, 2), Groups(2), seed)), randDense(r, 2, 4, 7, 6))
	add("conv1d", must(NewConv1d(2, 3, []int{3}, Padding(1), seed)), randDense(r, 2, 2, 6))
	add("conv3d", must(NewConv3d(2, 2, []int{2}, seed)), randDense(r, 1, 2, 3, 3, 3))
	add("conv_transpose2d", must(NewConvTranspose2d(2, 4, []int{3}, Stride(2), Padding(1), OutputPadding(1), Groups(2), seed)), randDense(r, 2, 2, 3, 3))
	add("batchnorm2d_train", must(NewBatchNorm2d(3)), randDense(r, 3, 3, 2, 2))
	bnEval := must(NewBatchNorm2d(3))
	bnEval.ModuleBase().Train(false)
	add("batchnorm2d_eval", bnEval, randDense(r, 2, 3, 2, 2))
	add("layernorm", must(NewLayerNorm(4)), randDense(r, 3, 4))
	add("groupnorm", must(NewGroupNorm(2, 4)), randDense(r, 2, 4, 3))
	add("instancenorm", must(NewInstanceNorm1d(2, true)), randDense(r, 2, 2, 5))
	for _, m := range []Module{NewReLU(), NewReLU6(), NewELU(0.5), NewLeakyReLU(0.1), must(NewHardtanh(-1, 1)), NewHardsigmoid(), NewHardswish(), NewSigmoid(), NewTanh(), must(NewGELU("none")), must(NewGELU("tanh")), NewSiLU()} {
		x := randDense(r, 3, 7)
		for i, v := range x.Float32s() { // keep clear of the kinks
			x.Float32s()[i] = v*2.5 + 0.05
		}
		add(fmt.Sprintf("act_%s_%d", m.TypeName(), len(cases)), m, x)
	}
	add("maxpool2d", must(NewMaxPool2d([]int{3}, Stride(2), Padding(1))), distinct(r, 1, 2, 5, 6))
	add("avgpool2d", must(NewAvgPool2d([]int{3}, Stride(2), Padding(1))), randDense(r, 1, 2, 5, 6))
	add("adaptive_avgpool2d", NewAdaptiveAvgPool2d(2, 3), randDense(r, 1, 2, 5, 7))
	add("upsample_bilinear", must(NewUpsample(nil, []float64{1.5}, "bilinear", false)), randDense(r, 1, 1, 3, 4))
	add("lstm", must(NewLSTM(3, 2, 2, true, seed)), randDense(r, 3, 2, 3))
	add("gru", must(NewGRU(3, 2, 1, false, seed)), randDense(r, 3, 2, 3))
	add("rnncell", must(NewRNNCell(3, 2, "tanh", seed)), randDense(r, 2, 3))
	add("flatten", NewFlatten(), randDense(r, 2, 2, 3))
	add("softmax", NewSoftmax(1), randDense(r, 2, 4, 3))
	add("log_softmax", NewLogSoftmax(-1), randDense(r, 3, 5))
	add("maxpool1d", must(NewMaxPool1d(3, Stride(2), Padding(1))), distinct(r, 2, 2, 7))
	add("adaptive_avgpool1d", NewAdaptiveAvgPool1d(3), randDense(r, 2, 2, 7))
	affW, affB := NewParameter(randDense(r, 3)), NewParameter(randDense(r, 3))
	add("channel_affine_invstd", &funcModule{f: func(x *gorgonia.Node) (*gorgonia.Node, error) {
		w, err := affW.Node(x.Graph())
		if err != nil {
			return nil, err
		}
		b, err := affB.Node(x.Graph())
		if err != nil {
			return nil, err
		}
		sq, err := activate(x, act{kind: actSquare})
		if err != nil {
			return nil, err
		}
		is, err := InvStd(sq, 0.5)
		if err != nil {
			return nil, err
		}
		return ChannelAffine(is, w, b, 1)
	}, params: []Named{{"w", affW}, {"b", affB}}}, randDense(r, 2, 3, 2))
	pre := must(NewPReLU(3, 0.25)).(*PReLU)
	pre.Weight.Data.Float32s()[1] = -0.7
	add("prelu", pre, randDense(r, 2, 3, 4))
	add("float_functional", &funcModule{f: func(x *gorgonia.Node) (*gorgonia.Node, error) {
		ff := NewFloatFunctional()
		sq, err := ff.Mul(x, x)
		if err != nil {
			return nil, err
		}
		s, err := ff.AddReLU(sq, x)
		if err != nil {
			return nil, err
		}
		return ff.Cat([]*gorgonia.Node{s, x}, 1)
	}}, randDense(r, 3, 4))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGradCase(t, c) })
	}
}

// funcModule is a test module running a function, with optional
// parameters it uses.
type funcModule struct {
	Base
	f      func(x *gorgonia.Node) (*gorgonia.Node, error)
	params []Named
}

func (m *funcModule) NamedParameters() []Named { return m.params }
func (m *funcModule) NamedBuffers() []Named    { return nil }

func (m *funcModule) TypeName() string                                 { return "func" }
func (m *funcModule) Forward(x *gorgonia.Node) (*gorgonia.Node, error) { return m.f(x) }
func (m *funcModule) Clone() Module                                    { c := *m; c.Base = m.CloneBase(); return &c }

func TestEmbeddingGradient(t *testing.T) {
	e, err := NewEmbedding(5, 3, WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetPaddingIdx(1); err != nil {
		t.Fatal(err)
	}
	g := gorgonia.NewGraph()
	idx := gorgonia.NewTensor(g, tensor.Int64, 1, gorgonia.WithShape(4), gorgonia.WithValue(tensor.New(tensor.WithBacking([]int64{0, 1, 0, 4}))), gorgonia.WithName("idx"))
	y, err := Call(e, idx)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := gorgonia.Sum(y)
	if err != nil {
		t.Fatal(err)
	}
	w := Learnables(e, g)
	grads, err := gorgonia.Grad(cost, w...)
	if err != nil {
		t.Fatal(err)
	}
	var gv gorgonia.Value
	gorgonia.Read(grads[0], &gv)
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	// Row 0 is looked up twice, row 4 once, row 1 is padding: no gradient.
	want := []float32{2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1}
	got := gv.(*tensor.Dense).Float32s()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("embedding grad %v, want %v", got, want)
		}
	}
}

func TestDropout(t *testing.T) {
	d, err := NewDropout(0.25, WithSeed(5))
	if err != nil {
		t.Fatal(err)
	}
	g := gorgonia.NewGraph()
	ones := filled(1, 4000)
	x := gorgonia.NewTensor(g, tensor.Float32, 1, gorgonia.WithShape(4000), gorgonia.WithValue(ones), gorgonia.WithName("x"))
	y, err := Call(d, x)
	if err != nil {
		t.Fatal(err)
	}
	cost, _ := gorgonia.Sum(y)
	grads, err := gorgonia.Grad(cost, x)
	if err != nil {
		t.Fatal(err)
	}
	var yv, gv gorgonia.Value
	gorgonia.Read(y, &yv)
	gorgonia.Read(grads[0], &gv)
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	zerosN := 0
	for i, v := range yv.(*tensor.Dense).Float32s() {
		if v != 0 && v != float32(1/0.75) {
			t.Fatalf("dropout output %v, want 0 or 1/(1-p)", v)
		}
		if v == 0 {
			zerosN++
		}
		if gv.(*tensor.Dense).Float32s()[i] != v {
			t.Fatalf("dropout gradient does not use the forward mask at %d", i)
		}
	}
	if zerosN < 850 || zerosN > 1150 {
		t.Errorf("dropped %d of 4000, want about 1000", zerosN)
	}
	d.ModuleBase().Train(false)
	g2 := gorgonia.NewGraph()
	x2 := gorgonia.NewTensor(g2, tensor.Float32, 1, gorgonia.WithShape(4000), gorgonia.WithValue(ones), gorgonia.WithName("x"))
	y2, err := Call(d, x2)
	if err != nil || y2 != x2 {
		t.Fatalf("eval dropout is not the identity: %v", err)
	}
	if _, err := NewDropout(1.5); err == nil {
		t.Error("dropout p=1.5 accepted")
	}
}

func ExampleLinear() {
	lin, err := NewLinear(3, 2, WithSeed(1))
	if err != nil {
		panic(err)
	}
	// Load PyTorch-layout weights: weight (out, in), bias (out).
	err = LoadStateDict(lin, map[string]*tensor.Dense{
		"weight": tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 0, -1, 0.5, 0.5, 0.5})),
		"bias":   tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{0, 1})),
	}, true)
	if err != nil {
		panic(err)
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(1, 3), gorgonia.WithName("x"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(1, 3), tensor.WithBacking([]float32{1, 2, 3}))))
	y, err := Call(lin, x)
	if err != nil {
		panic(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		panic(err)
	}
	fmt.Println(y.Shape(), y.Value().Data())
	// Output: (1, 2) [-2 4]
}
