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
