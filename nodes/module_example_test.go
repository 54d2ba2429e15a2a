package nodes_test

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A quantized linear layer made from a float one (nnq.Linear.from_float):
// the weight observer sees the weight once, the weights are packed once,
// and Forward builds an int8 node.
func ExampleQuantizedLinearFromFloat() {
	lin, _ := nn.NewLinear(2, 2)
	copy(lin.Weight.Data.Float32s(), []float32{1, -1, 0.5, 0.25})
	copy(lin.Bias.Data.Float32s(), []float32{0, 0.1})
	wobs, _ := observer.DefaultWeightObserver()
	out := qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.02, 128)
	q, err := nodes.QuantizedLinearFromFloat(lin, wobs, out, false)
	if err != nil {
		fmt.Println(err)
		return
	}

	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 2, gorgonia.WithShape(1, 2), gorgonia.WithName("x"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float32{0.5, -0.5}))))
	xq, _ := nodes.Quantize(x, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.01, 128))
	y, err := nn.Call(q, xq)
	if err != nil {
		fmt.Println(err)
		return
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	v, _ := nodes.Value(y)
	f, _ := v.Dequantize()
	fmt.Println(q.TypeName(), v.Ints(), f.Float32s())
	// Output:
	// QuantizedLinear [178 139] [1 0.22]
}
