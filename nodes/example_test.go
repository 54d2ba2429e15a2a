package nodes_test

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/ops"
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

func ExampleAttachQParams() {
	// A graph input that receives integer data directly: declare its
	// qparams with AttachQParams, then use quantized builders on it.
	g := gorgonia.NewGraph()
	x := gorgonia.NewVector(g, qdtype.QUInt8Dtype, gorgonia.WithShape(4), gorgonia.WithName("x"))
	xq, err := nodes.AttachQParams(x, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.5, 10))
	if err != nil {
		panic(err)
	}
	r, err := nodes.QReLU(xq)
	if err != nil {
		panic(err)
	}
	y, err := nodes.Dequantize(r)
	if err != nil {
		panic(err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := gorgonia.Let(x, tensor.New(tensor.WithBacking([]qdtype.QUInt8{0, 10, 20, 255}))); err != nil {
		panic(err)
	}
	if err := m.RunAll(); err != nil {
		panic(err)
	}
	v, _ := nodes.Value(r)
	fmt.Println(v.Ints(), y.Value())
	// Output:
	// [10 10 20 255] [    0      0      5  122.5]
}

func ExampleQConv2d() {
	// A 2×2 convolution with every weight 0.1 over a 3×3 image holding
	// 0.0, 0.1, …, 0.8: each output is 0.1·(sum of a 2×2 window).
	w, err := qtensor.FromInts([]int{1, 1, 2, 2}, []int64{1, 1, 1, 1}, qdtype.MustPerTensor(qdtype.QInt8Dtype, 0.1, 0))
	if err != nil {
		panic(err)
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(1, 1, 3, 3), gorgonia.WithName("x"))
	xq, err := nodes.Quantize(x, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.1, 0))
	if err != nil {
		panic(err)
	}
	yq, err := nodes.QConv2d(xq, w, nil, ops.ConvOptions{}, 0.02, 5)
	if err != nil {
		panic(err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	img := tensor.New(tensor.WithShape(1, 1, 3, 3), tensor.WithBacking([]float32{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}))
	if err := gorgonia.Let(x, img); err != nil {
		panic(err)
	}
	if err := m.RunAll(); err != nil {
		panic(err)
	}
	v, _ := nodes.Value(yq)
	fmt.Println(yq.Shape(), v.Ints())
	// Output:
	// (1, 1, 2, 2) [9 11 15 17]
}

func ExampleDynamicLinear() {
	// y = x·Wᵀ + b with W = [1, 0.5] stored as qint8 and b = 0.25; the
	// float input is quantized per call from its own range (scale 2/255
	// here), hence the small errors against the exact [0.75 1].
	w, err := qtensor.FromInts([]int{1, 2}, []int64{64, 32}, qdtype.MustPerTensor(qdtype.QInt8Dtype, 1.0/64, 0))
	if err != nil {
		panic(err)
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 2), gorgonia.WithName("x"))
	y, err := nodes.DynamicLinear(x, w, tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{0.25})), false)
	if err != nil {
		panic(err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := gorgonia.Let(x, tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, -1, 0.5, 0.5}))); err != nil {
		panic(err)
	}
	if err := m.RunAll(); err != nil {
		panic(err)
	}
	fmt.Printf("%v %.3f\n", y.Shape(), y.Value().Data())
	// Output:
	// (2, 1) [0.748 1.003]
}
