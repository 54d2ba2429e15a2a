package nn

import (
	"fmt"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkConv2dStep times one forward+backward run of a 3×3 convolution
// (padding 1) followed by a sum, on a TapeMachine: impl=nn is this
// package's Conv2d (unfold + matmul), impl=gorgonia is gorgonia.Conv2d
// (im2col + matmul) with the bias added by BroadcastAdd, the baseline a
// Gorgonia user has today.
func BenchmarkConv2dStep(b *testing.B) {
	for _, sz := range []struct{ n, cin, cout, hw int }{{32, 1, 16, 28}, {8, 16, 32, 14}} {
		name := fmt.Sprintf("size=%dx%dx%dx%d->%d", sz.n, sz.cin, sz.hw, sz.hw, sz.cout)
		b.Run(name+"/impl=nn", func(b *testing.B) {
			conv, err := NewConv2d(sz.cin, sz.cout, []int{3}, Padding(1), WithSeed(1))
			if err != nil {
				b.Fatal(err)
			}
			g := gorgonia.NewGraph()
			x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(sz.n, sz.cin, sz.hw, sz.hw), gorgonia.WithName("x"), gorgonia.WithInit(gorgonia.GlorotU(1)))
			y, err := Call(conv, x)
			if err != nil {
				b.Fatal(err)
			}
			benchStep(b, g, y, Learnables(conv, g))
		})
		b.Run(name+"/impl=gorgonia", func(b *testing.B) {
			g := gorgonia.NewGraph()
			x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(sz.n, sz.cin, sz.hw, sz.hw), gorgonia.WithName("x"), gorgonia.WithInit(gorgonia.GlorotU(1)))
			w := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(sz.cout, sz.cin, 3, 3), gorgonia.WithName("w"), gorgonia.WithInit(gorgonia.GlorotU(1)))
			bias := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(1, sz.cout, 1, 1), gorgonia.WithName("b"), gorgonia.WithInit(gorgonia.Zeroes()))
			y, err := gorgonia.Conv2d(x, w, tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1})
			if err != nil {
				b.Fatal(err)
			}
			if y, err = gorgonia.BroadcastAdd(y, bias, nil, []byte{0, 2, 3}); err != nil {
				b.Fatal(err)
			}
			benchStep(b, g, y, gorgonia.Nodes{w, bias})
		})
	}
}

func benchStep(b *testing.B, g *gorgonia.ExprGraph, y *gorgonia.Node, learn gorgonia.Nodes) {
	cost, err := gorgonia.Sum(y)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := gorgonia.Grad(cost, learn...); err != nil {
		b.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(learn...))
	defer vm.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := vm.RunAll(); err != nil {
			b.Fatal(err)
		}
		vm.Reset()
	}
}

// BenchmarkLSTMStep times one forward+backward run of a 2-layer LSTM
// language-model body (embedding → LSTM → linear → cross-entropy) on a
// TapeMachine, the shape of PyTorch's word-language-model example scaled
// down.
func BenchmarkLSTMStep(b *testing.B) {
	const V, T, B, E, H = 1000, 20, 16, 128, 128
	emb, _ := NewEmbedding(V, E, WithSeed(1))
	lstm, _ := NewLSTM(E, H, 2, false, WithSeed(2))
	head, _ := NewLinear(H, V, WithSeed(3))
	g := gorgonia.NewGraph()
	toks := make([]int64, T*B)
	for i := range toks {
		toks[i] = int64(i * 7 % V)
	}
	idx := gorgonia.NewTensor(g, tensor.Int64, 2, gorgonia.WithShape(T, B), gorgonia.WithName("tokens"), gorgonia.WithValue(tensor.New(tensor.WithShape(T, B), tensor.WithBacking(toks))))
	next := gorgonia.NewVector(g, tensor.Int64, gorgonia.WithShape(T*B), gorgonia.WithName("next"), gorgonia.WithValue(tensor.New(tensor.WithBacking(toks))))
	e, err := Call(emb, idx)
	if err != nil {
		b.Fatal(err)
	}
	out, err := Call(lstm, e)
	if err != nil {
		b.Fatal(err)
	}
	flat, err := gorgonia.Reshape(out, tensor.Shape{T * B, H})
	if err != nil {
		b.Fatal(err)
	}
	logits, err := Call(head, flat)
	if err != nil {
		b.Fatal(err)
	}
	cost, err := CrossEntropyLoss(logits, next)
	if err != nil {
		b.Fatal(err)
	}
	var learn gorgonia.Nodes
	for _, m := range []Module{emb, lstm, head} {
		learn = append(learn, Learnables(m, g)...)
	}
	if _, err := gorgonia.Grad(cost, learn...); err != nil {
		b.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(learn...))
	defer vm.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := vm.RunAll(); err != nil {
			b.Fatal(err)
		}
		vm.Reset()
	}
}
