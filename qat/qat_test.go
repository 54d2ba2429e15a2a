package qat

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/fake"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

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

func forward(t *testing.T, m nn.Module, x *tensor.Dense) []float32 {
	t.Helper()
	g := gorgonia.NewGraph()
	xn := gorgonia.NewTensor(g, tensor.Float32, x.Dims(), gorgonia.WithShape(x.Shape().Clone()...), gorgonia.WithValue(x.Clone()))
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

func near(t *testing.T, what string, got, want []float32, tol float64) {
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

// convBnPair returns a float Conv2d and BatchNorm2d with non-trivial state.
func convBnPair(t *testing.T, r *rand.Rand, bias bool) (*nn.Conv2d, *nn.BatchNorm) {
	t.Helper()
	conv, err := nn.NewConv2d(3, 4, []int{3}, nn.Padding(1), nn.WithBias(bias), nn.WithRand(r))
	if err != nil {
		t.Fatal(err)
	}
	bn, err := nn.NewBatchNorm2d(4)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		bn.Weight.Data.Float32s()[i] = float32(0.5 + r.Float64())
		bn.Bias.Data.Float32s()[i] = float32(r.NormFloat64() * 0.3)
		bn.RunningMean.Data.Float32s()[i] = float32(r.NormFloat64() * 0.3)
		bn.RunningVar.Data.Float32s()[i] = float32(0.5 + r.Float64())
	}
	return conv, bn
}

func qatConvBn(t *testing.T, conv *nn.Conv2d, bn *nn.BatchNorm, relu bool) Module {
	t.Helper()
	var f nn.Module
	var err error
	if relu {
		f, err = fuse.NewConvBnReLU2d(conv, bn, nn.NewReLU())
	} else {
		f, err = fuse.NewConvBn2d(conv, bn)
	}
	if err != nil {
		t.Fatal(err)
	}
	wfq, err := fake.DefaultPerChannelWeightFakeQuant()
	if err != nil {
		t.Fatal(err)
	}
	q, err := FromFloat(f, wfq)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// With the weight fake quantizer disabled, ConvBn2d is Conv2d then
// BatchNorm2d, in training (batch statistics, same running-stat updates)
// and in eval mode.
func TestConvBn2dFakeQuantDisabledEqualsConvThenBN(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, bias := range []bool{false, true} {
		for _, relu := range []bool{false, true} {
			conv, bn := convBnPair(t, r, bias)
			refConv, refBN := conv.Clone().(*nn.Conv2d), bn.Clone().(*nn.BatchNorm)
			mods := []nn.Module{refConv, refBN}
			if relu {
				mods = append(mods, nn.NewReLU())
			}
			ref, _ := nn.NewSequential(mods...)
			q := qatConvBn(t, conv, bn, relu)
			q.WeightFakeQuant().EnableFakeQuant(false)
			name := fmt.Sprintf("bias=%v relu=%v", bias, relu)
			for step := 0; step < 3; step++ {
				x := randDense(r, 2, 3, 5, 4)
				near(t, name+" train", forward(t, q, x), forward(t, ref, x), 2e-5)
				near(t, name+" running_var", bn.RunningVar.Data.Float32s(), refBN.RunningVar.Data.Float32s(), 1e-6)
				near(t, name+" running_mean", bn.RunningMean.Data.Float32s(), refBN.RunningMean.Data.Float32s(), 1e-6)
			}
			q.ModuleBase().Train(false)
			ref.Train(false)
			x := randDense(r, 1, 3, 5, 4)
			near(t, name+" eval", forward(t, q, x), forward(t, ref, x), 2e-5)
		}
	}
}

func TestFreezeAndUpdateBNStats(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	conv, bn := convBnPair(t, r, true)
	q := qatConvBn(t, conv, bn, false)
	model, _ := nn.NewSequential(q)
	if n := FreezeBNStats(model); n != 1 {
		t.Fatalf("FreezeBNStats froze %d modules, want 1", n)
	}
	if !q.(BNModule).BNFrozen() {
		t.Fatal("not frozen")
	}
	rv := append([]float32(nil), bn.RunningVar.Data.Float32s()...)
	x := randDense(r, 2, 3, 4, 4)
	frozen := forward(t, model, x)
	near(t, "running var while frozen", bn.RunningVar.Data.Float32s(), rv, 0)
	model.Train(false)
	near(t, "frozen train output = eval output", frozen, forward(t, model, x), 0)
	model.Train(true)
	if n := UpdateBNStats(model); n != 1 || q.(BNModule).BNFrozen() {
		t.Fatalf("UpdateBNStats changed %d modules, frozen %v", n, q.(BNModule).BNFrozen())
	}
	forward(t, model, x)
	if same := fmt.Sprint(bn.RunningVar.Data.Float32s()) == fmt.Sprint(rv); same {
		t.Fatal("running var did not move after UpdateBNStats")
	}
}

func TestFromFloatSharesParametersAndNames(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	conv, bn := convBnPair(t, r, true)
	q := qatConvBn(t, conv, bn, true)
	if q.TypeName() != "ConvBnReLU2d" || !q.FusedReLU() {
		t.Fatalf("got %s (relu %v)", q.TypeName(), q.FusedReLU())
	}
	want := "[weight bias bn.weight bn.bias bn.running_mean bn.running_var bn.num_batches_tracked]"
	if got := fmt.Sprint(nn.StateDictKeys(q)); got != want {
		t.Fatalf("state dict keys %s, want %s (PyTorch's)", got, want)
	}
	cm := q.(ConvModule)
	if cm.Conv().Weight != conv.Weight || cm.Conv().Bias != conv.Bias || q.(BNModule).BN().RunningVar != bn.RunningVar {
		t.Fatal("FromFloat must share the float module's parameters and buffers")
	}
	if cm.SpatialDims() != 2 || cm.Conv().Padding[0] != 1 || cm.Conv().OutChannels != 4 {
		t.Fatal("geometry not kept")
	}
	c := q.Clone().(*ConvBnReLU2d)
	if c.Conv().Weight == conv.Weight || c.WeightFakeQuant() == q.WeightFakeQuant() || c.BN() == q.(BNModule).BN() {
		t.Fatal("Clone must deep-copy parameters, batch norm and fake quantizer")
	}
	w, b, err := q.FoldedWeightBias()
	if err != nil {
		t.Fatal(err)
	}
	fw, fb, err := fuse.FuseConvBNWeights(conv.Weight.Data, conv.Bias.Data, bn.RunningMean.Data, bn.RunningVar.Data, bn.Eps, bn.Weight.Data, bn.Bias.Data, false)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "folded weight", w.Float32s(), fw.Float32s(), 0)
	near(t, "folded bias", b.Float32s(), fb.Float32s(), 0)
	if w.Float32s()[0] = 1e9; conv.Weight.Data.Float32s()[0] == 1e9 {
		t.Fatal("FoldedWeightBias must return new tensors")
	}

	lin, _ := nn.NewLinear(3, 2, nn.WithBias(false))
	lin.QConfig = "qc"
	wfq, _ := fake.DefaultWeightFakeQuant()
	ql, err := FromFloat(lin, wfq)
	if err != nil {
		t.Fatal(err)
	}
	if ql.ModuleBase().QConfig != "qc" || ql.(*Linear).Weight != lin.Weight || ql.FusedReLU() {
		t.Fatal("Linear: QConfig or parameters not carried over")
	}
	if w, b, err := ql.FoldedWeightBias(); err != nil || b != nil || w.Shape()[0] != 2 {
		t.Fatalf("Linear FoldedWeightBias: %v %v %v", w, b, err)
	}
}

func TestFromFloatErrors(t *testing.T) {
	wfq, _ := fake.DefaultWeightFakeQuant()
	lin, _ := nn.NewLinear(2, 2)
	if _, err := FromFloat(nil, wfq); err == nil {
		t.Error("nil module: no error")
	}
	if _, err := FromFloat(lin, nil); err == nil || !strings.Contains(err.Error(), "fake quantizer is nil") {
		t.Errorf("nil quantizer: %v", err)
	}
	if _, err := FromFloat(nn.NewReLU(), wfq); err == nil || !strings.Contains(err.Error(), "no QAT module for ReLU") {
		t.Errorf("ReLU: %v", err)
	}
	conv, _ := nn.NewConv2d(1, 2, []int{1})
	bn, _ := nn.NewBatchNorm2d(2)
	bn.Weight = nil
	f, err := fuse.NewConvBn2d(conv, bn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FromFloat(f, wfq); err == nil || !strings.Contains(err.Error(), "affine") {
		t.Errorf("non-affine batch norm: %v", err)
	}
	q, err := FromFloat(lin, wfq)
	if err != nil {
		t.Fatal(err)
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 3))
	if _, err := q.Forward(x); err == nil || !strings.Contains(err.Error(), "want last axis 2") {
		t.Errorf("bad input shape: %v", err)
	}
	if _, err := q.Forward(nil); err == nil {
		t.Error("nil input: no error")
	}
}

// A tiny QAT model (ConvBnReLU2d → flatten → LinearReLU-free Linear)
// trains with TapeMachine and Adam: the loss falls, and the Tape and Lisp
// machines agree on the first gradients.
func TestQATTrainingReducesLoss(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	conv, _ := nn.NewConv2d(1, 3, []int{3}, nn.Padding(1), nn.WithRand(r))
	bn, _ := nn.NewBatchNorm2d(3)
	lin, _ := nn.NewLinear(3*4*4, 2, nn.WithRand(r))
	float, _ := nn.NewSequential(conv, bn, nn.NewReLU(), nn.NewFlatten(), lin)
	fused, err := fuse.FuseModulesQAT(float, [][]string{{"0", "1", "2"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"0", "4"} {
		m, _ := nn.Get(fused, path)
		wfq, _ := fake.DefaultPerChannelWeightFakeQuant()
		q, err := FromFloat(m, wfq)
		if err != nil {
			t.Fatal(err)
		}
		if err := nn.Set(fused, path, q); err != nil {
			t.Fatal(err)
		}
	}
	const B = 8
	batch := func() (*tensor.Dense, *tensor.Dense) {
		x := randDense(r, B, 1, 4, 4)
		y := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(B, 2))
		for b := 0; b < B; b++ {
			cls := r.Intn(2)
			for i := 0; i < 16; i += 2 {
				x.Float32s()[b*16+i+cls] += 1.5
			}
			y.Float32s()[b*2+cls] = 1
		}
		return x, y
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(B, 1, 4, 4), gorgonia.WithName("x"))
	target := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(B, 2), gorgonia.WithName("y"))
	out, err := nn.Call(fused, x)
	if err != nil {
		t.Fatal(err)
	}
	diff, _ := gorgonia.Sub(out, target)
	sq, _ := gorgonia.Square(diff)
	cost, _ := gorgonia.Mean(sq)
	learn := nn.Learnables(fused, g)
	if len(learn) != 6 {
		t.Fatalf("%d learnables, want 6", len(learn))
	}
	if _, err := gorgonia.Grad(cost, learn...); err != nil {
		t.Fatal(err)
	}
	var cv gorgonia.Value
	gorgonia.Read(cost, &cv)
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(learn...))
	defer vm.Close()
	solver := gorgonia.NewAdamSolver(gorgonia.WithLearnRate(0.02))
	var first, last float32
	for step := 0; step < 80; step++ {
		xv, yv := batch()
		_ = gorgonia.Let(x, xv)
		_ = gorgonia.Let(target, yv)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		loss := cv.Data().(float32)
		if step < 5 {
			first += loss / 5
		}
		if step >= 75 {
			last += loss / 5
		}
		if err := solver.Step(gorgonia.NodesToValueGrads(learn)); err != nil {
			t.Fatal(err)
		}
		vm.Reset()
	}
	if !(last < 0.6*first) {
		t.Fatalf("loss did not fall: first %v, last %v", first, last)
	}
	q0 := fused.ModuleBase().Child("0").(*ConvBnReLU2d)
	if qp := q0.WeightFakeQuant().QParams(); len(qp.Scales) != 3 || qp.Scales[0] == 1 {
		t.Fatalf("weight fake quantizer never observed: %v", qp.Scales)
	}
}

// The ConvBn ops give the same gradients on the LispMachine as on the
// TapeMachine.
func TestConvBnTapeLispGradients(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	conv, bn := convBnPair(t, r, true)
	base := qatConvBn(t, conv, bn, true)
	x := randDense(r, 2, 3, 4, 4)
	rr := randDense(r, 2, 4, 4, 4)
	grads := func(lisp bool) [][]float32 {
		m := base.Clone()
		g := gorgonia.NewGraph()
		xn := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(2, 3, 4, 4), gorgonia.WithValue(x.Clone()))
		y, err := nn.Call(m, xn)
		if err != nil {
			t.Fatal(err)
		}
		rn := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(2, 4, 4, 4), gorgonia.WithValue(rr.Clone()))
		p, _ := gorgonia.HadamardProd(y, rn)
		loss, _ := gorgonia.Sum(p)
		learn := nn.Learnables(m, g)
		var vm gorgonia.VM
		if lisp {
			vm = gorgonia.NewLispMachine(g)
		} else {
			if _, err := gorgonia.Grad(loss, learn...); err != nil {
				t.Fatal(err)
			}
			vm = gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(learn...))
		}
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		var out [][]float32
		for _, n := range learn {
			gv, err := n.Grad()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, append([]float32(nil), gv.Data().([]float32)...))
		}
		return out
	}
	tape, lisp := grads(false), grads(true)
	if len(tape) != 4 || len(lisp) != 4 {
		t.Fatalf("%d and %d gradients, want 4", len(tape), len(lisp))
	}
	for i := range tape {
		near(t, fmt.Sprintf("gradient %d", i), lisp[i], tape[i], 1e-4)
	}
}

func ExampleFromFloat() {
	conv, _ := nn.NewConv2d(1, 2, []int{3}, nn.WithSeed(1))
	bn, _ := nn.NewBatchNorm2d(2)
	model, _ := nn.NewSequential(conv, bn, nn.NewReLU())
	fused, _ := fuse.FuseModulesQAT(model, [][]string{{"0", "1", "2"}})
	wfq, _ := fake.DefaultPerChannelWeightFakeQuant()
	q, err := FromFloat(fused.ModuleBase().Child("0"), wfq)
	if err != nil {
		panic(err)
	}
	_ = nn.Set(fused, "0", q)

	// One training step on a graph: BN uses batch statistics and updates its
	// running statistics; the weight fake quantizer observes the folded weight.
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(2, 1, 4, 4),
		gorgonia.WithValue(tensor.New(tensor.WithShape(2, 1, 4, 4), tensor.WithBacking(tensor.Range(tensor.Float32, 0, 32)))))
	y, err := nn.Call(fused, x)
	if err != nil {
		panic(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		panic(err)
	}
	fmt.Println(q.TypeName(), y.Shape(), "weight zero points:", q.WeightFakeQuant().QParams().ZeroPoints)
	fmt.Println("num_batches_tracked:", q.(BNModule).BN().NumBatchesTracked.Data.Data())
	// Output:
	// ConvBnReLU2d (2, 2, 2, 2) weight zero points: [0 0]
	// num_batches_tracked: 1
}

// Forward changes no module state, so graphs of one QAT model can be built
// from several goroutines (run with -race).
func TestConcurrentGraphBuilding(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	conv, bn := convBnPair(t, r, true)
	q := qatConvBn(t, conv, bn, false)
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			g := gorgonia.NewGraph()
			x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(1, 3, 4, 4))
			_, err := nn.Call(q, x)
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
