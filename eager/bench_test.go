package eager

import (
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkCNN runs the small CNN of TestCNNWorkflow (batch 64, 1×8×8)
// float and converted to int8, on one graph built once per model.
func BenchmarkCNN(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	float := smallCNN(b, 1)
	nn.Eval(float)
	fused, err := fuse.FuseModules(float, [][]string{{"1", "2", "3"}})
	must(b, err)
	fused.ModuleBase().QConfig = DefaultQConfig()
	p, err := Prepare(fused)
	must(b, err)
	x := randDense(r, 1, 64, 1, 8, 8)
	_, err = Run(p, x)
	must(b, err)
	q, err := Convert(p)
	must(b, err)
	for _, c := range []struct {
		name string
		m    nn.Module
	}{{"impl=float", float}, {"impl=int8", q}} {
		b.Run("size=64x1x8x8/"+c.name, func(b *testing.B) {
			g := gorgonia.NewGraph()
			in := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(64, 1, 8, 8), gorgonia.WithName("x"))
			must(b, gorgonia.Let(in, x))
			_, err := nn.Call(c.m, in)
			must(b, err)
			vm := gorgonia.NewTapeMachine(g)
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
