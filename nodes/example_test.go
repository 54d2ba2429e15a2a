package nodes_test

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func ExampleQuantize() {
	g := gorgonia.NewGraph()
	x := gorgonia.NewVector(g, tensor.Float32, gorgonia.WithShape(5), gorgonia.WithName("x"))
	q, err := nodes.Quantize(x, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.1, 10))
	if err != nil {
		panic(err)
	}
	y, err := nodes.Dequantize(q)
	if err != nil {
		panic(err)
	}

	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := gorgonia.Let(x, tensor.New(tensor.WithBacking([]float32{-2, -0.05, 0.25, 0.35, 30}))); err != nil {
		panic(err)
	}
	if err := m.RunAll(); err != nil {
		panic(err)
	}
	qv, err := nodes.Value(q) // a copy, valid after the next run
	if err != nil {
		panic(err)
	}
	fmt.Println(q.Type(), qv.Ints(), qv.QParams())
	fmt.Println(y.Value())
	// Output:
	// Vector QUInt8 [0 10 12 14 255] quint8 per_tensor_affine scale=0.1 zero_point=10
	// [  -1     0   0.2   0.4  24.5]
}

func ExampleQLinear() {
	// A quantized linear layer y = x·Wᵀ + b with 3 inputs and 2 outputs
	// (W = [[1, -0.5, 0.2], [0, 0.3, -1]], b = [0.5, -0.25]):
	// qint8 weights (scale 0.01, zero point 0), a float32 bias, quint8
	// activations in and out.
	w, err := qtensor.FromInts([]int{2, 3}, []int64{100, -50, 20, 0, 30, -100}, qdtype.MustPerTensor(qdtype.QInt8Dtype, 0.01, 0))
	if err != nil {
		panic(err)
	}
	bias := tensor.New(tensor.WithBacking([]float32{0.5, -0.25}))

	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 3), gorgonia.WithName("x"))
	xq, err := nodes.Quantize(x, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.05, 128))
	if err != nil {
		panic(err)
	}
	yq, err := nodes.QLinear(xq, w, bias, 0.02, 150) // packs w once, here
	if err != nil {
		panic(err)
	}
	y, err := nodes.Dequantize(yq)
	if err != nil {
		panic(err)
	}
	// Mistakes show when the graph is built, not when it runs.
	if _, err := nodes.QLinear(x, w, bias, 0.02, 100); err != nil {
		fmt.Println(err)
	}

	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := gorgonia.Let(x, tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, -1, 0.5, 2}))); err != nil {
		panic(err)
	}
	if err := m.RunAll(); err != nil {
		panic(err)
	}
	v, err := nodes.Value(yq)
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Ints())
	fmt.Printf("%.2f\n", y.Value().Data())
	// Output:
	// nodes: QLinear: input has dtype float32, want quint8
	// [205 18 132 45]
	// [1.10 -2.64 -0.36 -2.10]
}
