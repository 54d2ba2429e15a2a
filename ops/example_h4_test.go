package ops_test

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

func h4Quantize(data []float32, shape []int, scale float64, zp int64) *qtensor.QTensor {
	x := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
	q, err := qtensor.QuantizePerTensor(x, scale, zp, qdtype.QUInt8Dtype)
	if err != nil {
		panic(err)
	}
	return q
}

// Sigmoid's output has PyTorch's fixed qparams (1/256, 0) for quint8; the
// codes are torch.sigmoid's on the same input.
func ExampleSigmoid() {
	x := h4Quantize([]float32{-4, 0, 0.5, 4}, []int{4}, 0.05, 128)
	y, err := ops.Sigmoid(x)
	if err != nil {
		panic(err)
	}
	fmt.Println(y.Ints(), y.QParams().Scale(), y.QParams().ZeroPoint())
	// Output: [5 128 159 251] 0.00390625 0
}

// ReLU works on the codes alone: max(q, zero_point).
func ExampleReLU() {
	x := h4Quantize([]float32{-1, -0.1, 0, 0.7}, []int{4}, 0.1, 10)
	y, _ := ops.ReLU(x)
	fmt.Println(x.Ints(), "→", y.Ints())
	// Output: [0 9 10 17] → [10 10 10 17]
}

// Add requantizes a + b to the output qparams; the values are the research
// note's PyTorch 1.13 golden vector.
func ExampleAdd() {
	a := h4Quantize([]float32{0.1, -0.3, 1.27, 2.0}, []int{4}, 0.01, 30)
	b := h4Quantize([]float32{0.05, 0.3, -1.0, 0.5}, []int{4}, 0.02, 60)
	y, _ := ops.Add(a, b, 0.03, 50)
	m, _ := ops.Mul(a, b, 0.005, 100)
	fmt.Println(y.Ints(), m.Ints())
	// Output: [55 50 59 133] [101 82 0 255]
}

// AddScalar snaps the scalar to a multiple of the scale and usually only
// moves the zero point.
func ExampleAddScalar() {
	x := h4Quantize([]float32{0, 1}, []int{2}, 0.02, 120)
	y, _ := ops.AddScalar(x, 0.37)
	fmt.Println(y.Ints(), y.QParams().Scale(), y.QParams().ZeroPoint())
	// Output: [120 170] 0.02 102
}

// AvgPool2d sums codes exactly and rounds once, ties to even.
func ExampleAvgPool2d() {
	x := h4Quantize([]float32{0, 1, 1, 2, 0, 1, 1, 2}, []int{1, 1, 2, 4}, 1, 0)
	y, _ := ops.AvgPool2d(x, []int{2}, nil, nil, false, true, 0)
	fmt.Println(y.Shape(), y.Ints())
	// Output: (1, 1, 1, 2) [0 2]
}

// MaxPool2d keeps the input's qparams.
func ExampleMaxPool2d() {
	x := h4Quantize([]float32{1, 5, 2, 0, 3, 4, 7, 6, 9}, []int{1, 1, 3, 3}, 1, 0)
	y, _ := ops.MaxPool2d(x, []int{2}, []int{1}, nil, nil, false)
	fmt.Println(y.Ints())
	// Output: [5 5 7 9]
}

// Interpolate with bilinear mode and aligned corners.
func ExampleInterpolate() {
	x := h4Quantize([]float32{0, 4, 8, 12}, []int{1, 1, 2, 2}, 1, 0)
	y, _ := ops.Interpolate(x, []int{3, 3}, nil, "bilinear", true)
	fmt.Println(y.Ints())
	// Output: [0 2 4 4 6 8 8 10 12]
}

// LayerNorm normalizes the last dimension and requantizes.
func ExampleLayerNorm() {
	x := h4Quantize([]float32{-1, 1, 3, 5}, []int{1, 4}, 0.1, 100)
	y, _ := ops.LayerNorm(x, []int{4}, nil, nil, 1e-5, 0.05, 128)
	fmt.Println(y.Ints())
	// Output: [101 119 137 155]
}
