package qtensor_test

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

func ExampleQuantizePerTensor() {
	x := tensor.New(tensor.WithShape(6), tensor.WithBacking([]float32{0.5, 1.5, 2.5, -0.5, 300, -1}))
	// q = clamp(zp + rne(x/scale)): ties go to even, out-of-range saturates.
	q, err := qtensor.QuantizePerTensor(x, 1.0, 1, qdtype.QUInt8Dtype)
	if err != nil {
		panic(err)
	}
	fmt.Println(q.Ints())
	// Output: [1 3 3 1 255 0]
}

func ExampleQuantizePerChannel() {
	w := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{0.5, 1.5, 2.5, -1, 0.3, 300}))
	// One scale and zero point per row (axis 0).
	q, err := qtensor.QuantizePerChannel(w, []float64{1, 0.1}, []int64{0, 3}, 0, qdtype.QInt8Dtype)
	if err != nil {
		panic(err)
	}
	fmt.Println(q.Ints())
	scales, _ := q.QPerChannelScales()
	fmt.Println(scales)
	// Output:
	// [0 2 2 -7 6 127]
	// [1 0.1]
}

func ExampleQTensor_Dequantize() {
	qp := qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.25, 4)
	q, err := qtensor.FromInts([]int{4}, []int64{0, 4, 5, 255}, qp)
	if err != nil {
		panic(err)
	}
	x, _ := q.Dequantize() // (q − zp)·scale
	fmt.Println(x.Float32s())
	// Output: [-1 0 0.25 62.75]
}

func ExampleQTensor_Select() {
	// A per-channel tensor loses its channel axis when one channel is
	// selected: the result is per-tensor with that channel's qparams.
	qp, _ := qdtype.PerChannel(qdtype.QInt8Dtype, []float64{0.5, 0.25}, []int64{0, 1}, 0)
	q, _ := qtensor.FromInts([]int{2, 3}, []int64{1, 2, 3, 4, 5, 6}, qp)
	row, err := q.Select(0, -1)
	if err != nil {
		panic(err)
	}
	s, _ := row.QScale()
	z, _ := row.QZeroPoint()
	fmt.Println(row.Ints(), s, z)
	// Output: [4 5 6] 0.25 1
}

func ExampleQTensor_Topk() {
	qp := qdtype.MustPerTensor(qdtype.QInt8Dtype, 0.1, 0)
	q, _ := qtensor.FromInts([]int{2, 4}, []int64{5, -3, 9, 1, 0, 7, 7, -8}, qp)
	v, idx, err := q.Topk(2, 1, true, true)
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Shape(), v.Ints(), idx.Int64s())
	// Output: (2, 2) [9 5 7 7] [2 0 1 2]
}

func ExampleQTensor_MeanDims() {
	// The mean keeps the input's qparams: dequantize, average, requantize.
	qp := qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.5, 10)
	q, _ := qtensor.FromInts([]int{2, 3}, []int64{10, 11, 13, 20, 20, 21}, qp)
	m, err := q.MeanDims([]int{1}, false)
	if err != nil {
		panic(err)
	}
	x, _ := m.Dequantize()
	fmt.Println(m.Ints(), x.Float32s())
	// Output: [11 20] [0.5 5]
}

func ExampleCompare() {
	a, _ := qtensor.FromInts([]int{3}, []int64{3, 5, 7}, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.1, 0))
	// b holds 0.5 under other qparams: the comparison is on real values.
	b, _ := qtensor.FromInts([]int{1}, []int64{4}, qdtype.MustPerTensor(qdtype.QInt8Dtype, 0.25, 2))
	ge, err := qtensor.Compare(a, b, qtensor.CmpGe)
	if err != nil {
		panic(err)
	}
	fmt.Println(ge.Bools(), qtensor.Equal(a, b))
	// Output: [false true true] false
}
