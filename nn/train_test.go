package nn

import (
	"math/rand"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestTrainCNN trains conv→bn→relu→pool→flatten→linear with TapeMachine and
// Adam on a separable toy task (is the bright blob in the left or right
// half?) and checks that the loss falls and that only the solver changes
// the parameters.
func TestTrainCNN(t *testing.T) {
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
	lin, err := NewLinear(4*3*3, 2, WithSeed(2))
	if err != nil {
		t.Fatal(err)
	}
	model, err := NewSequential(conv, bn, NewReLU(), pool, NewFlatten(), lin)
	if err != nil {
		t.Fatal(err)
	}
	const B = 8
	r := rand.New(rand.NewSource(9))
	batch := func() (*tensor.Dense, *tensor.Dense) {
		x := randDense(r, B, 1, 6, 6)
		labels := make([]int64, B)
		xs := x.Float32s()
		for i := range xs {
			xs[i] *= 0.3
		}
		for b := 0; b < B; b++ {
			right := r.Intn(2)
			for h := 1; h < 5; h++ {
				for w := 0; w < 2; w++ {
					xs[b*36+h*6+w+1+3*right] += 2
				}
			}
			labels[b] = int64(right)
		}
		return x, tensor.New(tensor.WithBacking(labels))
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(B, 1, 6, 6), gorgonia.WithName("x"))
	target := gorgonia.NewVector(g, tensor.Int64, gorgonia.WithShape(B), gorgonia.WithName("y"))
	logits, err := Call(model, x)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := CrossEntropyLoss(logits, target)
	if err != nil {
		t.Fatal(err)
	}
	learn := Learnables(model, g)
	if len(learn) != 6 { // conv w, b; bn w, b; linear w, b
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
	w0 := conv.Weight.Data.Clone().(*tensor.Dense)
	var first, last float32
	for step := 0; step < 60; step++ {
		xv, yv := batch()
		if err := gorgonia.Let(x, xv); err != nil {
			t.Fatal(err)
		}
		if err := gorgonia.Let(target, yv); err != nil {
			t.Fatal(err)
		}
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		loss := float32(*cv.(*gorgonia.F32))
		if step == 0 {
			first = loss
			if w0.Eq(conv.Weight.Data) == false {
				t.Fatal("a forward/backward run changed the conv weight")
			}
		}
		if step >= 50 {
			last += loss / 10
		}
		if err := solver.Step(gorgonia.NodesToValueGrads(learn)); err != nil {
			t.Fatal(err)
		}
		vm.Reset()
	}
	if w0.Eq(conv.Weight.Data) {
		t.Error("the solver did not update the module's conv weight in place")
	}
	if !(last < 0.5*first) {
		t.Errorf("loss did not fall: first %.4f, mean of last 10 %.4f", first, last)
	}
	if nbt := bn.NumBatchesTracked.Data.Data().(int64); nbt != 60 {
		t.Errorf("num_batches_tracked %d, want 60", nbt)
	}
	t.Logf("loss %.4f -> %.4f", first, last)
}

// TestTrainLSTM trains an Embedding→LSTM→Linear next-token model on a
// periodic sequence and checks that the loss falls.
func TestTrainLSTM(t *testing.T) {
	const V, T, B, H = 5, 6, 4, 8
	emb, err := NewEmbedding(V, 6, WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	lstm, err := NewLSTM(6, H, 2, false, WithSeed(2))
	if err != nil {
		t.Fatal(err)
	}
	lstm.DropoutP = 0.1
	head, err := NewLinear(H, V, WithSeed(3))
	if err != nil {
		t.Fatal(err)
	}
	g := gorgonia.NewGraph()
	idx := gorgonia.NewTensor(g, tensor.Int64, 2, gorgonia.WithShape(T, B), gorgonia.WithName("tokens"))
	target := gorgonia.NewVector(g, tensor.Int64, gorgonia.WithShape(T*B), gorgonia.WithName("next"))
	e, err := Call(emb, idx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Call(lstm, e)
	if err != nil {
		t.Fatal(err)
	}
	flat, err := gorgonia.Reshape(out, tensor.Shape{T * B, H})
	if err != nil {
		t.Fatal(err)
	}
	logits, err := Call(head, flat)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := CrossEntropyLoss(logits, target)
	if err != nil {
		t.Fatal(err)
	}
	var learn gorgonia.Nodes
	for _, m := range []Module{emb, lstm, head} {
		learn = append(learn, Learnables(m, g)...)
	}
	if _, err := gorgonia.Grad(cost, learn...); err != nil {
		t.Fatal(err)
	}
	var cv gorgonia.Value
	gorgonia.Read(cost, &cv)
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(learn...))
	defer vm.Close()
	solver := gorgonia.NewAdamSolver(gorgonia.WithLearnRate(0.03))
	r := rand.New(rand.NewSource(4))
	var first, last float32
	for step := 0; step < 80; step++ {
		toks := make([]int64, T*B)
		next := make([]int64, T*B)
		for b := 0; b < B; b++ {
			start := r.Intn(V)
			for s := 0; s < T; s++ {
				toks[s*B+b] = int64((start + s) % V)
				next[s*B+b] = int64((start + s + 1) % V)
			}
		}
		if err := gorgonia.Let(idx, tensor.New(tensor.WithShape(T, B), tensor.WithBacking(toks))); err != nil {
			t.Fatal(err)
		}
		if err := gorgonia.Let(target, tensor.New(tensor.WithBacking(next))); err != nil {
			t.Fatal(err)
		}
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		loss := float32(*cv.(*gorgonia.F32))
		if step == 0 {
			first = loss
		}
		if step >= 70 {
			last += loss / 10
		}
		if err := solver.Step(gorgonia.NodesToValueGrads(learn)); err != nil {
			t.Fatal(err)
		}
		vm.Reset()
	}
	if !(last < 0.5*first) {
		t.Errorf("loss did not fall: first %.4f, mean of last 10 %.4f", first, last)
	}
	t.Logf("loss %.4f -> %.4f", first, last)
}
