package ops_test

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// A quantized linear layer: pack the qint8 weight and float bias once, then
// run quint8 inputs through it.
func ExampleLinear() {
	x, _ := qtensor.FromInts([]int{1, 3}, []int64{130, 140, 120},
		qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.1, 128)) // x = [0.2, 1.2, -0.8]
	w, _ := qtensor.FromInts([]int{2, 3}, []int64{10, 20, 30, -10, 0, 10},
		qdtype.MustPerTensor(qdtype.QInt8Dtype, 0.05, 0)) // rows [0.5, 1, 1.5] and [-0.5, 0, 0.5]
	b := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{0.1, -0.2}))
	p, err := ops.PrepackLinear(w, b)
	if err != nil {
		panic(err)
	}
	y, err := ops.Linear(x, p, 0.02, 100)
	if err != nil {
		panic(err)
	}
	fmt.Println(y.Ints())
	out, _ := y.Dequantize()
	// y = [0.1 + 1.2 − 1.2 + 0.1, −0.1 − 0.4 − 0.2] = [0.2, −0.7]
	fmt.Printf("%.2f\n", out.Float32s())

	// Output:
	// [110 65]
	// [0.20 -0.70]
}

// A quantized 3×3 convolution with padding 1 on a 1×1×3×3 image whose
// every pixel is 1.0: the output counts the taps inside the image.
func ExampleConv2d() {
	ones := make([]int64, 9)
	for i := range ones {
		ones[i] = 10
	}
	x, _ := qtensor.FromInts([]int{1, 1, 3, 3}, ones, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.1, 0))
	w, _ := qtensor.FromInts([]int{1, 1, 3, 3}, ones, qdtype.MustPerTensor(qdtype.QInt8Dtype, 0.1, 0))
	p, err := ops.PrepackConv2d(w, nil, ops.ConvOptions{Padding: []int{1}})
	if err != nil {
		panic(err)
	}
	y, err := ops.Conv2d(x, p, 1, 0)
	if err != nil {
		panic(err)
	}
	fmt.Println(y.Shape(), y.Ints())
	// Output:
	// (1, 1, 3, 3) [4 6 4 6 9 6 4 6 4]
}

// Dynamic quantization: float32 in and out, the activation quantized per
// call from its own range (reduce_range: [0, 127]), the weight prepacked
// as qint8.
func ExampleLinearDynamic() {
	w, _ := qtensor.FromInts([]int{1, 4}, []int64{127, -127, 64, 0},
		qdtype.MustPerTensor(qdtype.QInt8Dtype, 1.0/127, 0))
	p, err := ops.PrepackLinear(w, nil)
	if err != nil {
		panic(err)
	}
	x := tensor.New(tensor.WithShape(2, 4), tensor.WithBacking([]float32{1, 2, 3, 4, -1, 0.5, 0.25, 2}))
	y, err := ops.LinearDynamic(x, p, true)
	if err != nil {
		panic(err)
	}
	// Exact float: [1 − 2 + 1.5118, −1 − 0.5 + 0.1260] = [0.5118, −1.3740];
	// the activation's 7-bit grid (scale 5/127) shows in the result, exactly
	// as torch.ops.quantized.linear_dynamic gives it.
	fmt.Printf("%v %.4f\n", y.Shape(), y.Float32s())

	// Output:
	// (2, 1) [0.4842 -1.3770]
}
