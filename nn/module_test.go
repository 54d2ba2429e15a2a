package nn

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func smallCNN(t *testing.T) *Sequential {
	t.Helper()
	conv, err := NewConv2d(1, 4, []int{3}, Padding(1), WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	bn, err := NewBatchNorm2d(4)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := NewMaxPool2d([]int{2})
	if err != nil {
		t.Fatal(err)
	}
	lin, err := NewLinear(36, 5, WithSeed(2))
	if err != nil {
		t.Fatal(err)
	}
	features, err := NewSequential(conv, bn, NewReLU(), pool)
	if err != nil {
		t.Fatal(err)
	}
	m := &Sequential{}
	for _, c := range []struct {
		name string
		m    Module
	}{{"features", features}, {"flatten", NewFlatten()}, {"classifier", lin}} {
		if err := m.AddModule(c.name, c.m); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func TestGetSetPaths(t *testing.T) {
	m := smallCNN(t)
	var paths []string
	for _, nm := range NamedModules(m) {
		paths = append(paths, nm.Path+":"+nm.Module.TypeName())
	}
	want := []string{":Sequential", "features:Sequential", "features.0:Conv2d", "features.1:BatchNorm2d",
		"features.2:ReLU", "features.3:MaxPool2d", "flatten:Flatten", "classifier:Linear"}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("named modules %v, want %v", paths, want)
	}
	bn, err := Get(m, "features.1")
	if err != nil || bn.TypeName() != "BatchNorm2d" {
		t.Fatalf("Get features.1 = %v, %v", bn, err)
	}
	if _, err := Get(m, "features.9"); err == nil || !strings.Contains(err.Error(), `"9"`) {
		t.Errorf("Get of a missing child: %v", err)
	}
	// Replace the BN and ReLU by Identity, as fusion does, and rebuild.
	for _, p := range []string{"features.1", "features.2"} {
		if err := Set(m, p, NewIdentity()); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := Get(m, "features.2"); got.TypeName() != "Identity" {
		t.Fatalf("Set did not replace features.2: %s", got.TypeName())
	}
	if err := Set(m, "features.7", NewIdentity()); err == nil {
		t.Error("Set of a missing child succeeded")
	}
	if err := Set(m, "", NewIdentity()); err == nil {
		t.Error("Set of the root succeeded")
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(2, 1, 6, 6), gorgonia.WithName("x"))
	y, err := Call(m, x)
	if err != nil {
		t.Fatal(err)
	}
	if !sameShape(y.Shape(), tensor.Shape{2, 5}) {
		t.Fatalf("output shape %v", y.Shape())
	}
	// The BN is gone from the graph: only conv and linear learnables remain.
	if n := len(Learnables(m, g)); n != 4 {
		t.Errorf("%d learnables after replacing the BN, want 4", n)
	}
}

func TestStateDictKeysAndRoundTrip(t *testing.T) {
	m := smallCNN(t)
	want := []string{"features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
		"features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked",
		"classifier.weight", "classifier.bias"}
	if got := StateDictKeys(m); !reflect.DeepEqual(got, want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	lstm, err := NewLSTM(3, 2, 2, true, WithBias(false))
	if err != nil {
		t.Fatal(err)
	}
	wantL := []string{"weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse",
		"weight_ih_l1", "weight_hh_l1", "weight_ih_l1_reverse", "weight_hh_l1_reverse"}
	if got := StateDictKeys(lstm); !reflect.DeepEqual(got, wantL) {
		t.Fatalf("lstm keys %v, want %v", got, wantL)
	}
	if s := StateDict(lstm)["weight_ih_l1"].Shape(); !sameShape(s, tensor.Shape{8, 4}) {
		t.Errorf("weight_ih_l1 shape %v, want (8, 4)", s)
	}

	// Round trip: load m's state into a differently initialised twin.
	other := smallCNN(t)
	lin, _ := Get(other, "classifier")
	lin.(*Linear).Weight.Data.Float32s()[0] = 42
	src := map[string]*tensor.Dense{}
	for k, v := range StateDict(m) {
		src[k] = v.Clone().(*tensor.Dense)
	}
	src["features.1.num_batches_tracked"] = tensor.New(tensor.FromScalar(int64(7)))
	if err := LoadStateDict(other, src, true); err != nil {
		t.Fatal(err)
	}
	for k, v := range StateDict(other) {
		if !v.Eq(src[k]) {
			t.Errorf("key %s differs after load", k)
		}
	}
	if v := StateDict(other)["features.1.num_batches_tracked"].Data().(int64); v != 7 {
		t.Errorf("num_batches_tracked %d after load, want 7", v)
	}

	// Errors name the key and leave the module untouched.
	before := StateDict(other)["classifier.bias"].Clone().(*tensor.Dense)
	bad := map[string]*tensor.Dense{}
	for k, v := range src {
		bad[k] = v
	}
	bad["classifier.bias"] = filled(3, 5)
	bad["classifier.weight"] = filled(1, 5, 35)
	err = LoadStateDict(other, bad, true)
	if err == nil || !strings.Contains(err.Error(), `"classifier.weight"`) {
		t.Fatalf("shape mismatch error %v", err)
	}
	if !StateDict(other)["classifier.bias"].Eq(before) {
		t.Error("a failed load changed the module")
	}
	// A missing num_batches_tracked is filled with 0, not an error.
	noCounter := map[string]*tensor.Dense{}
	for k, v := range src {
		if k != "features.1.num_batches_tracked" {
			noCounter[k] = v
		}
	}
	if err := LoadStateDict(other, noCounter, true); err != nil {
		t.Fatalf("load without num_batches_tracked: %v", err)
	}
	if v := StateDict(other)["features.1.num_batches_tracked"].Data().(int64); v != 0 {
		t.Errorf("num_batches_tracked %d after load without it, want 0", v)
	}
	delete(bad, "classifier.weight")
	bad["extra.weight"] = filled(1, 2)
	err = LoadStateDict(other, bad, true)
	if err == nil || !strings.Contains(err.Error(), `missing key "classifier.weight"`) || !strings.Contains(err.Error(), `unexpected key "extra.weight"`) {
		t.Fatalf("strict error %v", err)
	}
	if err := LoadStateDict(other, bad, false); err != nil {
		t.Fatalf("non-strict load: %v", err)
	}
	if !StateDict(other)["classifier.bias"].Eq(filled(3, 5)) {
		t.Error("non-strict load did not copy the present keys")
	}
}

func TestCloneIndependence(t *testing.T) {
	m := smallCNN(t)
	m.ModuleBase().QConfig = "qconfig"
	hooked := 0
	conv, _ := Get(m, "features.0")
	conv.ModuleBase().OutputHooks = append(conv.ModuleBase().OutputHooks, func(x *gorgonia.Node) (*gorgonia.Node, error) {
		hooked++
		return x, nil
	})
	c := m.Clone()
	if c.ModuleBase().QConfig != "qconfig" {
		t.Error("clone lost the QConfig")
	}
	for k, v := range StateDict(m) {
		cv := StateDict(c)[k]
		if !v.Eq(cv) {
			t.Fatalf("clone differs at %s", k)
		}
		if v.Uintptr() == cv.Uintptr() {
			t.Fatalf("clone shares storage at %s", k)
		}
	}
	cc, _ := Get(c, "features.0")
	cc.(*Conv2d).Weight.Data.Float32s()[0] = 99
	if conv.(*Conv2d).Weight.Data.Float32s()[0] == 99 {
		t.Error("changing the clone's weight changed the original")
	}
	if err := Set(c, "classifier", NewIdentity()); err != nil {
		t.Fatal(err)
	}
	if orig, _ := Get(m, "classifier"); orig.TypeName() != "Linear" {
		t.Error("replacing a child of the clone replaced the original's")
	}
	Eval(c)
	bnc, _ := Get(c, "features.1")
	bno, _ := Get(m, "features.1")
	if bnc.ModuleBase().Training() || !bno.ModuleBase().Training() {
		t.Error("eval on the clone did not propagate, or leaked to the original")
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(1, 1, 6, 6), gorgonia.WithName("x"))
	if _, err := Call(c, x); err != nil {
		t.Fatal(err)
	}
	if hooked != 1 {
		t.Errorf("the clone's copied output hook ran %d times, want 1", hooked)
	}
}

func TestHooksAndFloatFunctional(t *testing.T) {
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 2, gorgonia.WithShape(2, 3), gorgonia.WithName("x"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{-1, 2, -3, 4, -5, 6}))))
	relu := NewReLU()
	var seen []string
	relu.PreHooks = append(relu.PreHooks, func(n *gorgonia.Node) (*gorgonia.Node, error) {
		seen = append(seen, "pre")
		return n, nil
	})
	relu.OutputHooks = append(relu.OutputHooks, func(n *gorgonia.Node) (*gorgonia.Node, error) {
		seen = append(seen, "post")
		return gorgonia.HadamardProd(n, gorgonia.NewConstant(float32(2)))
	})
	y, err := Call(relu, x)
	if err != nil {
		t.Fatal(err)
	}
	ff := NewFloatFunctional()
	ff.OutputHooks = append(ff.OutputHooks, func(n *gorgonia.Node) (*gorgonia.Node, error) {
		seen = append(seen, "ff")
		return n, nil
	})
	sum, err := ff.AddReLU(y, x)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := ff.Cat([]*gorgonia.Node{sum, x}, -1)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ff.MulScalar(cat, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seen, []string{"pre", "post", "ff", "ff"}) {
		t.Errorf("hook order %v", seen)
	}
	// relu(x)·2 + x, relu'd, then concatenated with x and halved.
	want := []float32{0, 3, 0, -0.5, 1, -1.5, 6, 0, 9, 2, -2.5, 3}
	if got := sc.Value().Data().([]float32); !reflect.DeepEqual(got, want) {
		t.Errorf("functional result %v, want %v", got, want)
	}
	if _, err := ff.Forward(x); err == nil {
		t.Error("FloatFunctional.Forward did not return an error")
	}
	if _, err := ff.Add(x, sum); err != nil {
		t.Error(err)
	}
	bad := gorgonia.NewTensor(g, tensor.Float32, 2, gorgonia.WithShape(3, 2), gorgonia.WithName("bad"))
	if _, err := ff.Add(x, bad); err == nil {
		t.Error("Add of (2,3) and (3,2) succeeded")
	}
}

// TestForwardErrors checks that bad inputs give errors at Forward time
// (never a panic), naming the problem.
func TestForwardErrors(t *testing.T) {
	conv, _ := NewConv2d(3, 4, []int{3})
	lin, _ := NewLinear(5, 2)
	bn, _ := NewBatchNorm2d(3)
	pool, _ := NewMaxPool2d([]int{2})
	lstm, _ := NewLSTM(4, 3, 1, false)
	ln, _ := NewLayerNorm(4)
	emb, _ := NewEmbedding(3, 2)
	up, _ := NewUpsample(nil, []float64{2}, "bilinear", false)
	g := gorgonia.NewGraph()
	node := func(dt tensor.Dtype, shape ...int) *gorgonia.Node {
		return gorgonia.NewTensor(g, dt, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(fmt.Sprintf("n%v%v", dt, shape)))
	}
	cases := []struct {
		m    Module
		x    *gorgonia.Node
		want string
	}{
		{conv, node(tensor.Float32, 2, 4, 8, 8), "4 channels"},
		{conv, node(tensor.Float32, 8, 8), "rank"},
		{conv, node(tensor.Float32, 1, 3, 2, 2), "does not fit"},
		{conv, node(tensor.Float64, 1, 3, 8, 8), "float32"},
		{lin, node(tensor.Float32, 2, 4), "last axis 5"},
		{bn, node(tensor.Float32, 2, 4, 3, 3), "4 channels"},
		{bn, node(tensor.Float32, 2, 3), "rank"},
		{pool, node(tensor.Float32, 5, 5), "(N, C, H, W)"},
		{lstm, node(tensor.Float32, 3, 2, 5), "feature size 4"},
		{ln, node(tensor.Float32, 2, 5), "normalized shape"},
		{emb, node(tensor.Float32, 4), "index dtype"},
		{up, node(tensor.Float32, 1, 2, 3), "does not suit"},
		{NewFlatten(), nil, "nil"},
	}
	for _, c := range cases {
		_, err := Call(c.m, c.x)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s on %v: error %v, want one containing %q", c.m.TypeName(), c.x, err, c.want)
		}
	}
	if _, _, _, err := lstm.ForwardState(node(tensor.Float32, 3, 2, 4), node(tensor.Float32, 2, 2, 3), nil); err == nil || !strings.Contains(err.Error(), "h0") {
		t.Errorf("LSTM with a bad h0: %v", err)
	}
	// Bad indices are an error of the run, not a panic.
	idx := gorgonia.NewTensor(g, tensor.Int64, 1, gorgonia.WithShape(2), gorgonia.WithName("idx"),
		gorgonia.WithValue(tensor.New(tensor.WithBacking([]int64{1, 3}))))
	if _, err := Call(emb, idx); err != nil {
		t.Fatal(err)
	}
	g2 := gorgonia.NewGraph()
	idx2 := gorgonia.NewTensor(g2, tensor.Int64, 1, gorgonia.WithShape(2), gorgonia.WithName("idx"),
		gorgonia.WithValue(tensor.New(tensor.WithBacking([]int64{1, 3}))))
	if _, err := Call(emb, idx2); err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g2)
	defer vm.Close()
	if err := vm.RunAll(); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("embedding index 3 of 3: %v", err)
	}
	// Modules not built by their constructors or edited inconsistently.
	if _, err := Call(&Linear{InFeatures: 5, OutFeatures: 2}, node(tensor.Float32, 2, 5)); err == nil {
		t.Error("Linear without parameters ran")
	}
	conv.Stride = []int{1}
	if _, err := Call(conv, node(tensor.Float32, 1, 3, 8, 8)); err == nil || !strings.Contains(err.Error(), "stride") {
		t.Errorf("conv with a 1-value stride: %v", err)
	}
	lstm.NumLayers = 3
	if _, err := Call(lstm, node(tensor.Float32, 3, 2, 4)); err == nil || !strings.Contains(err.Error(), "parameter sets") {
		t.Errorf("lstm with more layers than weights: %v", err)
	}
	// Constructor errors.
	if _, err := NewConv2d(3, 4, []int{3}, Groups(2)); err == nil {
		t.Error("conv with channels not divisible by groups accepted")
	}
	if _, err := NewConv2d(3, 4, []int{3, 3, 3}); err == nil {
		t.Error("conv2d with a 3-d kernel accepted")
	}
	if _, err := NewConv2d(2, 2, []int{3}, PaddingSame(), Stride(2)); err == nil {
		t.Error("padding=same with stride 2 accepted")
	}
	if _, err := NewConvTranspose2d(2, 2, []int{3}, PaddingSame()); err == nil {
		t.Error("transposed conv with padding=same accepted")
	}
	if _, err := NewMaxPool2d([]int{2}, Padding(2)); err == nil {
		t.Error("pool padding larger than half the kernel accepted")
	}
	if _, err := NewUpsample([]int{2}, []float64{2}, "nearest", false); err == nil {
		t.Error("upsample with both size and scale accepted")
	}
}

func ExampleSequential() {
	conv, _ := NewConv2d(1, 2, []int{3}, Padding(1), WithSeed(1))
	bn, _ := NewBatchNorm2d(2)
	pool, _ := NewMaxPool2d([]int{2})
	fc, _ := NewLinear(2*2*2, 3, WithSeed(2))
	model, err := NewSequential(conv, bn, NewReLU(), pool, NewFlatten(), fc)
	if err != nil {
		panic(err)
	}
	Eval(model) // BatchNorm uses its running statistics
	for _, nm := range NamedModules(model)[1:] {
		fmt.Println(nm.Path, nm.Module.TypeName())
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(5, 1, 4, 4), gorgonia.WithName("x"),
		gorgonia.WithInit(gorgonia.Ones()))
	y, err := Call(model, x)
	if err != nil {
		panic(err)
	}
	fmt.Println("output", y.Shape(), "learnables", len(Learnables(model, g)))
	// Output:
	// 0 Conv2d
	// 1 BatchNorm2d
	// 2 ReLU
	// 3 MaxPool2d
	// 4 Flatten
	// 5 Linear
	// output (5, 3) learnables 6
}

// TestFunctionalMatchesModules checks Conv, ConvTranspose, LinearNode and
// ForwardWeights against the modules' own Forward.
func TestFunctionalMatchesModules(t *testing.T) {
	conv, _ := NewConv2d(4, 6, []int{3, 2}, Stride(2, 1), Padding(1, 0), Dilation(1, 2), Groups(2), WithSeed(1))
	ct, _ := NewConvTranspose2d(2, 4, []int{3}, Stride(2), Padding(1), OutputPadding(1), WithSeed(2))
	lin, _ := NewLinear(5, 3, WithSeed(3))
	g := gorgonia.NewGraph()
	mk := func(name string, shape ...int) *gorgonia.Node {
		return gorgonia.NewTensor(g, tensor.Float32, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name), gorgonia.WithInit(gorgonia.GlorotU(1)))
	}
	x1, x2, x3 := mk("x1", 2, 4, 7, 6), mk("x2", 1, 2, 3, 3), mk("x3", 4, 5)
	var pairs [][2]*gorgonia.Node
	pair := func(a, b *gorgonia.Node, err1, err2 error) {
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		pairs = append(pairs, [2]*gorgonia.Node{a, b})
	}
	w, _ := conv.Weight.Node(g)
	b, _ := conv.Bias.Node(g)
	a1, e1 := Call(conv, x1)
	b1, e2 := Conv(x1, w, b, conv.Stride, conv.Padding, conv.Dilation, conv.Groups)
	pair(a1, b1, e1, e2)
	c1, e3 := conv.ForwardWeights(x1, w, b)
	pair(a1, c1, e1, e3)
	wt, _ := ct.Weight.Node(g)
	bt, _ := ct.Bias.Node(g)
	a2, e1 := Call(ct, x2)
	b2, e2 := ConvTranspose(x2, wt, bt, ct.Stride, ct.Padding, ct.Dilation, ct.OutputPadding, 1)
	pair(a2, b2, e1, e2)
	wl, _ := lin.Weight.Node(g)
	a3, e1 := Call(lin, x3)
	b3, e2 := LinearNode(x3, wl, nil)
	// Without the bias: compare a3 − bias later.
	pair(a3, b3, e1, e2)
	vals := make([][2]gorgonia.Value, len(pairs))
	for i, p := range pairs {
		gorgonia.Read(p[0], &vals[i][0])
		gorgonia.Read(p[1], &vals[i][1])
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		got, want := v[1].(*tensor.Dense).Float32s(), v[0].(*tensor.Dense).Float32s()
		for j := range want {
			ref := want[j]
			if i == len(vals)-1 {
				ref -= lin.Bias.Data.Float32s()[j%3]
			}
			if math32Abs(got[j]-ref) > 1e-5 {
				t.Fatalf("pair %d element %d: %v vs %v", i, j, got[j], ref)
			}
		}
	}
	if _, err := Conv(x1, w, b, []int{1}, []int{0, 0}, []int{1, 1}, 2); err == nil {
		t.Error("Conv with a 1-value stride for 2 axes accepted")
	}
	if _, err := conv.ForwardWeights(x1, wl, nil); err == nil {
		t.Error("ForwardWeights with a rank-2 weight accepted")
	}
}

func math32Abs(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

func TestFlattenAnyDtype(t *testing.T) {
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Uint8, 3, gorgonia.WithShape(2, 3, 4), gorgonia.WithName("q"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(2, 3, 4), tensor.WithBacking(make([]uint8, 24)))))
	y, err := Call(NewFlatten(), x)
	if err != nil {
		t.Fatal(err)
	}
	if !sameShape(y.Shape(), tensor.Shape{2, 12}) || y.Dtype() != tensor.Uint8 {
		t.Errorf("flatten of uint8 (2,3,4): %v %v", y.Shape(), y.Dtype())
	}
}

func TestModuleList(t *testing.T) {
	a, _ := NewLinear(3, 3, WithSeed(1))
	b, _ := NewLinear(3, 2, WithSeed(2))
	list, err := NewModuleList(a, b)
	if err != nil {
		t.Fatal(err)
	}
	// A user module that runs its list in order.
	m := &funcModule{}
	if err := m.AddModule("layers", list); err != nil {
		t.Fatal(err)
	}
	m.f = func(x *gorgonia.Node) (*gorgonia.Node, error) {
		l := m.Child("layers").(*ModuleList)
		var err error
		for i := 0; i < l.Len(); i++ {
			if x, err = Call(l.At(i), x); err != nil {
				return nil, err
			}
		}
		return x, nil
	}
	want := []string{"layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"}
	if got := StateDictKeys(m); !reflect.DeepEqual(got, want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	if err := Set(m, "layers.0", NewReLU()); err != nil {
		t.Fatal(err)
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(4, 3), gorgonia.WithName("x"))
	y, err := Call(m, x)
	if err != nil {
		t.Fatal(err)
	}
	if !sameShape(y.Shape(), tensor.Shape{4, 2}) || len(Learnables(m, g)) != 2 {
		t.Errorf("after Set: output %v, %d learnables", y.Shape(), len(Learnables(m, g)))
	}
	if _, err := Call(list, x); err == nil {
		t.Error("ModuleList.Forward did not return an error")
	}
}
