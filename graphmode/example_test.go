package graphmode_test

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/graphmode"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// mlp builds y = relu(x·W1 + b1)·W2 the way Gorgonia's examples do.
func mlp() (g *gorgonia.ExprGraph, x, y *gorgonia.Node) {
	g = gorgonia.NewGraph()
	x = gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 3), gorgonia.WithName("x"))
	w1 := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(3, 4), gorgonia.WithName("w1"), gorgonia.WithValue(tensor.New(tensor.WithShape(3, 4), tensor.WithBacking([]float32{1, -1, 0.5, 0, 0.25, 1, -0.5, 1, 0, 0.5, 1, -1}))))
	b1 := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(1, 4), gorgonia.WithName("b1"), gorgonia.WithValue(tensor.New(tensor.WithShape(1, 4), tensor.WithBacking([]float32{0.1, 0, -0.1, 0.2}))))
	w2 := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(4, 2), gorgonia.WithName("w2"), gorgonia.WithValue(tensor.New(tensor.WithShape(4, 2), tensor.WithBacking([]float32{1, 0, 0, 1, -1, 0.5, 0.5, -1}))))
	h := gorgonia.Must(gorgonia.Rectify(gorgonia.Must(gorgonia.BroadcastAdd(gorgonia.Must(gorgonia.Mul(x, w1)), b1, nil, []byte{0}))))
	return g, x, gorgonia.Must(gorgonia.Mul(h, w2))
}

func ExampleQuantizeGraph() {
	g, x, y := mlp()
	input := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, -1, 0.5, 2}))
	calibrate := func(c *graphmode.Calibration) error { // run representative batches
		return c.Run(map[*gorgonia.Node]gorgonia.Value{x: input})
	}
	r, err := graphmode.QuantizeGraph(g, gorgonia.Nodes{y}, eager.DefaultQConfig(), calibrate)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range r.Report.Quantized {
		fmt.Println(e.Kind, "->", e.Op)
	}
	qx, _ := r.Input(x) // the new graph's x: Let it, run, read r.Outputs
	vm := gorgonia.NewTapeMachine(r.Graph)
	defer vm.Close()
	if err := gorgonia.Let(qx, input); err == nil && vm.RunAll() == nil {
		fmt.Printf("%.2f\n", r.Outputs[0].Value().Data())
	}
	// Output:
	// linear+bias+relu -> QLinearReLU
	// linear -> QLinear
	// [-0.76 3.70 -1.15 3.09]
}

func ExampleQuantizeDynamicGraph() {
	g, x, y := mlp()
	r, err := graphmode.QuantizeDynamicGraph(g, gorgonia.Nodes{y}, eager.DefaultDynamicQConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range append(r.Report.Quantized, r.Report.Float...) {
		fmt.Println(e.Kind, "->", e.Op)
	}
	qx, _ := r.Input(x)
	vm := gorgonia.NewTapeMachine(r.Graph)
	defer vm.Close()
	input := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, -1, 0.5, 2}))
	if err := gorgonia.Let(qx, input); err == nil && vm.RunAll() == nil {
		fmt.Printf("%.2f\n", r.Outputs[0].Value().Data())
	}
	// Output:
	// linear+bias -> DynamicLinear
	// linear -> DynamicLinear
	// float -> Rectify
	// [-0.77 3.68 -1.15 3.09]
}
