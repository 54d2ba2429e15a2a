package qat

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/fake"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkConvBnReLU2dTrainStep measures one training step (forward and
// backward on a TapeMachine) of conv→bn→relu as float modules and as the
// QAT ConvBnReLU2d (weight fold, fake quantization, unscale), the overhead
// QAT adds to a float training step.
func BenchmarkConvBnReLU2dTrainStep(b *testing.B) {
	for _, sz := range []struct{ n, c, hw int }{{8, 8, 16}, {4, 32, 16}} {
		for _, impl := range []string{"float", "qat"} {
			b.Run(fmt.Sprintf("size=N%dC%dHW%d/impl=%s", sz.n, sz.c, sz.hw, impl), func(b *testing.B) {
				r := rand.New(rand.NewSource(1))
				conv, _ := nn.NewConv2d(sz.c, sz.c, []int{3}, nn.Padding(1), nn.WithRand(r))
				bn, _ := nn.NewBatchNorm2d(sz.c)
				var m nn.Module
				seq, _ := nn.NewSequential(conv, bn, nn.NewReLU())
				m = seq
				if impl == "qat" {
					f, err := fuse.NewConvBnReLU2d(conv, bn, nn.NewReLU())
					if err != nil {
						b.Fatal(err)
					}
					wfq, _ := fake.DefaultPerChannelWeightFakeQuant()
					if m, err = FromFloat(f, wfq); err != nil {
						b.Fatal(err)
					}
				}
				g := gorgonia.NewGraph()
				shape := []int{sz.n, sz.c, sz.hw, sz.hw}
				x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(shape...), gorgonia.WithValue(randDense(r, shape...)))
				y, err := nn.Call(m, x)
				if err != nil {
					b.Fatal(err)
				}
				loss, _ := gorgonia.Sum(y)
				learn := nn.Learnables(m, g)
				if _, err := gorgonia.Grad(loss, learn...); err != nil {
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
			})
		}
	}
}
