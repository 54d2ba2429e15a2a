package fuse

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// run evaluates m on x with a TapeMachine and returns the output values.
func run(t *testing.T, m nn.Module, x *tensor.Dense) []float32 {
	t.Helper()
	g := gorgonia.NewGraph()
	xn := gorgonia.NewTensor(g, tensor.Float32, x.Dims(), gorgonia.WithShape(x.Shape().Clone()...), gorgonia.WithValue(x.Clone()), gorgonia.WithName("x"))
	y, err := nn.Call(m, xn)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), y.Value().Data().([]float32)...)
}

func randDense(r *rand.Rand, shape ...int) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

// randomizeBN gives a batch norm non-trivial affine parameters and running
// statistics.
func randomizeBN(r *rand.Rand, bn *nn.BatchNorm) {
	for i := range bn.Weight.Data.Float32s() {
		bn.Weight.Data.Float32s()[i] = float32(0.5 + r.Float64())
		bn.Bias.Data.Float32s()[i] = float32(r.NormFloat64() * 0.3)
		bn.RunningMean.Data.Float32s()[i] = float32(r.NormFloat64() * 0.3)
		bn.RunningVar.Data.Float32s()[i] = float32(0.5 + r.Float64())
	}
}

func expectNear(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*math.Max(1, math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

type convMaker func(in, out int, k []int, opts ...nn.Option) (nn.Module, error)

var convMakers = map[int]convMaker{
	1: func(in, out int, k []int, o ...nn.Option) (nn.Module, error) { return nn.NewConv1d(in, out, k, o...) },
	2: func(in, out int, k []int, o ...nn.Option) (nn.Module, error) { return nn.NewConv2d(in, out, k, o...) },
	3: func(in, out int, k []int, o ...nn.Option) (nn.Module, error) { return nn.NewConv3d(in, out, k, o...) },
}

var bnMakers = map[int]func(int) (*nn.BatchNorm, error){1: nn.NewBatchNorm1d, 2: nn.NewBatchNorm2d, 3: nn.NewBatchNorm3d}

func inputShape(nd int) []int { return append([]int{2, 3}, []int{5, 4, 3}[:nd]...) }

// TestFuseModulesEvalMatchesUnfused fuses every eval pattern of the
// default table in a Sequential and checks the output against the unfused
// model, the Identity placement and that the original is untouched.
func TestFuseModulesEvalMatchesUnfused(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	type pattern struct {
		name  string
		nd    int
		mods  func() []nn.Module
		first string // TypeName of the fused module at "0"
	}
	var pats []pattern
	for nd := 1; nd <= 3; nd++ {
		nd := nd
		conv := func(bias bool) nn.Module {
			c, err := convMakers[nd](3, 4, []int{2}, nn.Padding(1), nn.WithBias(bias), nn.WithSeed(int64(nd)))
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		bn := func() nn.Module {
			b, err := bnMakers[nd](4)
			if err != nil {
				t.Fatal(err)
			}
			randomizeBN(r, b)
			return b
		}
		pats = append(pats,
			pattern{fmt.Sprintf("conv%dd+bn", nd), nd, func() []nn.Module { return []nn.Module{conv(false), bn()} }, fmt.Sprintf("Conv%dd", nd)},
			pattern{fmt.Sprintf("conv%dd+bn+relu", nd), nd, func() []nn.Module { return []nn.Module{conv(true), bn(), nn.NewReLU()} }, fmt.Sprintf("ConvReLU%dd", nd)},
			pattern{fmt.Sprintf("conv%dd+relu", nd), nd, func() []nn.Module { return []nn.Module{conv(true), nn.NewReLU()} }, fmt.Sprintf("ConvReLU%dd", nd)},
		)
		if nd >= 2 {
			pats = append(pats, pattern{fmt.Sprintf("bn%dd+relu", nd), nd, func() []nn.Module {
				b, err := bnMakers[nd](3)
				if err != nil {
					t.Fatal(err)
				}
				randomizeBN(r, b)
				return []nn.Module{b, nn.NewReLU()}
			}, fmt.Sprintf("BNReLU%dd", nd)})
		}
	}
	linear := func() nn.Module {
		l, err := nn.NewLinear(3, 4, nn.WithSeed(9))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	pats = append(pats,
		pattern{"linear+bn", 0, func() []nn.Module {
			b, _ := nn.NewBatchNorm1d(4)
			randomizeBN(r, b)
			return []nn.Module{linear(), b}
		}, "Linear"},
		pattern{"linear+relu", 0, func() []nn.Module { return []nn.Module{linear(), nn.NewReLU()} }, "LinearReLU"},
		pattern{"convtranspose2d+bn", 2, func() []nn.Module {
			c, err := nn.NewConvTranspose2d(3, 4, []int{2}, nn.Stride(2), nn.WithSeed(4))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := nn.NewBatchNorm2d(4)
			randomizeBN(r, b)
			return []nn.Module{c, b}
		}, "ConvTranspose2d"},
	)
	for _, p := range pats {
		t.Run(p.name, func(t *testing.T) {
			mods := p.mods()
			seq, err := nn.NewSequential(mods...)
			if err != nil {
				t.Fatal(err)
			}
			nn.Eval(seq)
			shape := []int{6, 3}
			if p.nd > 0 {
				shape = inputShape(p.nd)
			}
			x := randDense(r, shape...)
			want := run(t, seq, x)
			group := make([]string, len(mods))
			for i := range group {
				group[i] = fmt.Sprint(i)
			}
			before := nn.StateDictKeys(seq)
			fused, err := FuseModules(seq, [][]string{group})
			if err != nil {
				t.Fatal(err)
			}
			if got := fused.ModuleBase().Child("0").TypeName(); got != p.first {
				t.Fatalf("fused module is %s, want %s", got, p.first)
			}
			for _, name := range group[1:] {
				id, ok := fused.ModuleBase().Child(name).(*nn.Identity)
				if !ok {
					t.Fatalf("child %s is %s, want Identity", name, fused.ModuleBase().Child(name).TypeName())
				}
				if id.Training() {
					t.Fatalf("Identity %s is in training mode, want the first module's eval mode", name)
				}
			}
			if fmt.Sprint(nn.StateDictKeys(seq)) != fmt.Sprint(before) || seq.At(0) != mods[0] {
				t.Fatal("FuseModules without InPlace changed the original model")
			}
			expectNear(t, "fused output", run(t, fused, x), want, 1e-5)
			expectNear(t, "original output", run(t, seq, x), want, 0)
		})
	}
}

// TestFusedModulesMatchSequence checks the float fused modules (as
// FuseModulesQAT makes them) against the unfused sequence in train and
// eval mode.
func TestFusedModulesMatchSequence(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for nd := 1; nd <= 3; nd++ {
		for _, withReLU := range []bool{false, true} {
			conv, err := convMakers[nd](3, 4, []int{3}, nn.Padding(1), nn.WithSeed(5))
			if err != nil {
				t.Fatal(err)
			}
			bn, _ := bnMakers[nd](4)
			randomizeBN(r, bn)
			mods := []nn.Module{conv, bn}
			if withReLU {
				mods = append(mods, nn.NewReLU())
			}
			ref, _ := nn.NewSequential(conv.Clone(), bn.Clone())
			if withReLU {
				_ = ref.Append(nn.NewReLU())
			}
			seq, _ := nn.NewSequential(mods...)
			group := []string{"0", "1", "2"}[:len(mods)]
			fused, err := FuseModulesQAT(seq, [][]string{group})
			if err != nil {
				t.Fatal(err)
			}
			m := fused.ModuleBase().Child("0")
			want := fmt.Sprintf("ConvBn%dd", nd)
			if withReLU {
				want = fmt.Sprintf("ConvBnReLU%dd", nd)
			}
			if m.TypeName() != want {
				t.Fatalf("FuseModulesQAT made %s, want %s", m.TypeName(), want)
			}
			f, ok := m.(Fused)
			if !ok || len(f.Modules()) != len(mods) || f.Modules()[1].TypeName() != bn.TypeName() {
				t.Fatalf("%s does not expose its children", want)
			}
			x := randDense(r, inputShape(nd)...)
			for _, train := range []bool{true, false} {
				fused.ModuleBase().Train(train)
				ref.Train(train)
				expectNear(t, fmt.Sprintf("%s train=%v", want, train), run(t, fused, x), run(t, ref, x), 1e-5)
			}
			// The running statistics moved identically in the training run.
			fb := f.Modules()[1].(*nn.BatchNorm)
			expectNear(t, want+" running mean", fb.RunningMean.Data.Float32s(), ref.At(1).(*nn.BatchNorm).RunningMean.Data.Float32s(), 1e-6)
		}
	}
	lin, _ := nn.NewLinear(3, 4, nn.WithSeed(3))
	bn, _ := nn.NewBatchNorm1d(4)
	randomizeBN(r, bn)
	ref, _ := nn.NewSequential(lin.Clone(), bn.Clone())
	lb, err := NewLinearBn1d(lin, bn)
	if err != nil {
		t.Fatal(err)
	}
	x := randDense(r, 5, 3)
	expectNear(t, "LinearBn1d", run(t, lb, x), run(t, ref, x), 1e-5)
	if lb.Linear() != lin || lb.BN() != bn {
		t.Fatal("LinearBn1d accessors do not return the children")
	}
}

func TestFuseModulesNestedInPlaceAndHooks(t *testing.T) {
	conv, _ := nn.NewConv2d(1, 2, []int{3}, nn.WithSeed(1))
	bn, _ := nn.NewBatchNorm2d(2)
	relu := nn.NewReLU()
	inner, _ := nn.NewSequential(conv, bn, relu)
	lin, _ := nn.NewLinear(2, 2, nn.WithSeed(2))
	model, _ := nn.NewSequential(inner, nn.NewFlatten(), lin, nn.NewReLU())
	nn.Eval(model)
	var calls []string
	hook := func(name string) nn.Hook {
		return func(x *gorgonia.Node) (*gorgonia.Node, error) { calls = append(calls, name); return x, nil }
	}
	conv.PreHooks = append(conv.PreHooks, hook("pre-conv"))
	conv.OutputHooks = append(conv.OutputHooks, hook("post-conv"))
	relu.OutputHooks = append(relu.OutputHooks, hook("post-relu"))
	fused, err := FuseModules(model, [][]string{{"0.0", "0.1", "0.2"}, {"2", "3"}}, InPlace())
	if err != nil {
		t.Fatal(err)
	}
	if fused != model {
		t.Fatal("InPlace returned another model")
	}
	want := []string{"0.0:ConvReLU2d", "0.1:Identity", "0.2:Identity", "2:LinearReLU", "3:Identity"}
	for _, w := range want {
		p, typ, _ := strings.Cut(w, ":")
		m, err := nn.Get(model, p)
		if err != nil || m.TypeName() != typ {
			t.Fatalf("%s is %v (%v), want %s", p, m, err, typ)
		}
	}
	cr := model.At(0).ModuleBase().Child("0").(*ConvReLU2d)
	if len(cr.PreHooks) != 1 || len(cr.OutputHooks) != 1 || len(relu.OutputHooks) != 0 {
		t.Fatalf("hooks not moved: fused pre %d post %d, relu post %d", len(cr.PreHooks), len(cr.OutputHooks), len(relu.OutputHooks))
	}
	if c := cr.Conv(); c == nil || c == conv || len(c.PreHooks)+len(c.OutputHooks) != 0 {
		t.Fatal("the fused conv must be a new, hook-free folded copy")
	}
	x := randDense(rand.New(rand.NewSource(3)), 1, 1, 3, 3)
	run(t, model, x)
	if fmt.Sprint(calls) != "[pre-conv post-relu]" {
		t.Fatalf("hooks ran as %v, want [pre-conv post-relu]", calls)
	}
}

func TestFuseModulesErrors(t *testing.T) {
	mk := func(train bool) nn.Module {
		conv, _ := nn.NewConv2d(1, 2, []int{3})
		bn, _ := nn.NewBatchNorm2d(2)
		bn3, _ := nn.NewBatchNorm2d(3)
		ct, _ := nn.NewConvTranspose2d(2, 3, []int{2})
		m, _ := nn.NewSequential(conv, bn, nn.NewReLU(), nn.NewSigmoid(), bn3, ct, bn3.Clone())
		m.Train(train)
		return m
	}
	cases := []struct {
		name   string
		train  bool
		qat    bool
		groups [][]string
		want   string
	}{
		{"missing path", false, false, [][]string{{"0", "9"}}, `no child "9"`},
		{"unknown pattern", false, false, [][]string{{"2", "3"}}, "no fuser method for types (ReLU,Sigmoid)"},
		{"single module", false, false, [][]string{{"0"}}, "no fuser method for types (Conv2d)"},
		{"train fold", true, false, [][]string{{"0", "1"}}, "fusion only for eval"},
		{"convtranspose qat", false, true, [][]string{{"5", "6"}}, "not supported in QAT"},
		{"duplicate", false, false, [][]string{{"0", "0"}}, "twice"},
		{"empty group", false, false, [][]string{{}}, "empty group"},
		{"root", false, false, [][]string{{"", "1"}}, "root"},
	}
	for _, c := range cases {
		model := mk(c.train)
		keys := fmt.Sprint(nn.StateDictKeys(model))
		var err error
		if c.qat {
			_, err = FuseModulesQAT(model, c.groups)
		} else {
			_, err = FuseModules(model, c.groups)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if fmt.Sprint(nn.StateDictKeys(model)) != keys {
			t.Errorf("%s: the model changed", c.name)
		}
	}
	// Mixed modes: conv in train, bn in eval.
	conv, _ := nn.NewConv2d(1, 2, []int{3})
	bn, _ := nn.NewBatchNorm2d(2)
	bn.Train(false)
	m, _ := nn.NewSequential(conv, bn)
	if _, err := FuseModulesQAT(m, [][]string{{"0", "1"}}); err == nil || !strings.Contains(err.Error(), "same mode") {
		t.Errorf("mixed modes: %v", err)
	}
	// QAT needs an affine batch norm with running statistics and matching channels.
	bn.Train(true)
	bn.RunningMean = nil
	if _, err := FuseModulesQAT(m, [][]string{{"0", "1"}}); err == nil || !strings.Contains(err.Error(), "track_running_stats") {
		t.Errorf("untracked bn: %v", err)
	}
	if _, err := FuseModules(nil, nil); err == nil {
		t.Error("nil model: no error")
	}
	if _, err := NewConvBn2d(nil, nil); err == nil {
		t.Error("NewConvBn2d(nil, nil): no error")
	}
	b1, _ := nn.NewBatchNorm1d(2)
	c2, _ := nn.NewConv2d(1, 2, []int{1})
	if _, err := NewConvBn2d(c2, b1); err == nil || !strings.Contains(err.Error(), "want BatchNorm2d") {
		t.Errorf("NewConvBn2d with BatchNorm1d: %v", err)
	}
}

func TestWithFuserMethod(t *testing.T) {
	sig := nn.NewSigmoid()
	lin, _ := nn.NewLinear(2, 2)
	m, _ := nn.NewSequential(lin, sig)
	var gotQAT bool
	custom := func(isQAT bool, mods ...nn.Module) (nn.Module, error) {
		gotQAT = isQAT
		return nn.NewSequential(mods...)
	}
	out, err := FuseModulesQAT(m, [][]string{{"0", "1"}}, WithFuserMethod([]string{"Linear", "Sigmoid"}, custom))
	if err != nil {
		t.Fatal(err)
	}
	if !gotQAT || out.ModuleBase().Child("0").TypeName() != "Sequential" || out.ModuleBase().Child("1").TypeName() != "Identity" {
		t.Fatalf("custom fuser not applied: isQAT %v, children %v", gotQAT, nn.NamedModules(out))
	}
	if _, ok := DefaultFuserMethods()[PatternKey("Conv2d", "BatchNorm2d", "ReLU")]; !ok {
		t.Fatal("default table lacks Conv2d,BatchNorm2d,ReLU")
	}
}

func ExampleFuseModules() {
	conv, _ := nn.NewConv2d(1, 2, []int{3}, nn.WithSeed(1))
	bn, _ := nn.NewBatchNorm2d(2)
	model, _ := nn.NewSequential(conv, bn, nn.NewReLU(), nn.NewFlatten())
	nn.Eval(model) // fuse_modules folds batch norms with their running statistics
	fused, err := FuseModules(model, [][]string{{"0", "1", "2"}})
	if err != nil {
		panic(err)
	}
	for _, nm := range nn.NamedModules(fused) {
		fmt.Printf("%q %s\n", nm.Path, nm.Module.TypeName())
	}
	// Output:
	// "" Sequential
	// "0" ConvReLU2d
	// "0.0" Conv2d
	// "0.1" ReLU
	// "1" Identity
	// "2" Identity
	// "3" Flatten
}

func ExampleFuseModulesQAT() {
	conv, _ := nn.NewConv2d(1, 2, []int{3}, nn.WithSeed(1))
	bn, _ := nn.NewBatchNorm2d(2)
	model, _ := nn.NewSequential(conv, bn, nn.NewReLU())
	fused, err := FuseModulesQAT(model, [][]string{{"0", "1", "2"}})
	if err != nil {
		panic(err)
	}
	fmt.Println(fused.ModuleBase().Child("0").TypeName(), nn.StateDictKeys(fused))
	// Output: ConvBnReLU2d [0.0.weight 0.0.bias 0.1.weight 0.1.bias 0.1.running_mean 0.1.running_var 0.1.num_batches_tracked]
}
