package graphmode

import (
	"testing"

	"github.com/qgorgonia/qgorgonia/eager"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkMNISTConvnet runs the first two layers and the classifier of
// Gorgonia's MNIST convnet (batch 16, 28×28, Conv2d 32 and 64 channels with
// Rectify and MaxPool2D, Reshape, Mul) as the float graph and as the int8
// graph QuantizeGraph builds from it, both on a TapeMachine.
func BenchmarkMNISTConvnet(b *testing.B) {
	const bs = 16
	r := newRand(51)
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(bs, 1, 28, 28), gorgonia.WithName("x"))
	c0 := gorgonia.Must(gorgonia.Conv2d(x, param(g, "w0", randDense(r, 0.3, 32, 1, 3, 3)), tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}))
	p0 := gorgonia.Must(gorgonia.MaxPool2D(gorgonia.Must(gorgonia.Rectify(c0)), tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}))
	c1 := gorgonia.Must(gorgonia.Conv2d(p0, param(g, "w1", randDense(r, 0.05, 64, 32, 3, 3)), tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}))
	p1 := gorgonia.Must(gorgonia.MaxPool2D(gorgonia.Must(gorgonia.Rectify(c1)), tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}))
	fl := gorgonia.Must(gorgonia.Reshape(p1, tensor.Shape{bs, 64 * 7 * 7}))
	y := gorgonia.Must(gorgonia.Mul(fl, param(g, "w3", randDense(r, 0.02, 64*7*7, 10))))
	in := batches(52, 1, bs, 1, 28, 28)[0]
	res, err := QuantizeGraph(g, gorgonia.Nodes{y}, eager.DefaultQConfig(), calibrateWith(x, []*tensor.Dense{in}))
	must(b, err)
	qx, err := res.Input(x)
	must(b, err)
	for _, c := range []struct {
		name  string
		g     *gorgonia.ExprGraph
		input *gorgonia.Node
	}{{"float32", g, x}, {"int8", res.Graph, qx}} {
		b.Run("impl="+c.name, func(b *testing.B) {
			vm := gorgonia.NewTapeMachine(c.g, gorgonia.EvalMode())
			defer vm.Close()
			must(b, gorgonia.Let(c.input, in))
			for i := 0; i < b.N; i++ {
				if err := vm.RunAll(); err != nil {
					b.Fatal(err)
				}
				vm.Reset()
			}
		})
	}
}
