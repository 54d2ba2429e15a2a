package kernels_test

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/kernels"
)

// A 2×3 quint8 activation times a 2×3 qint8 weight (two output channels),
// requantized to quint8: the core of quantized::linear.
func ExampleGemmU8S8Requant() {
	a := []uint8{130, 120, 128, 200, 128, 60} // aZP 128: values 2, −8, 0 / 72, 0, −68
	w := []int8{1, 2, 3, -1, 0, 1}            // per-tensor wZP 0
	p := kernels.PackWeights(w, 2, 3)
	rq := &kernels.Requant{Multiplier: []float32{0.5}, ZeroPoint: 100, Min: 0, Max: 255}
	out := make([]uint8, 4)
	kernels.GemmU8S8Requant(2, a, 3, 128, p, []int32{0}, rq, out, 2)
	fmt.Println(out)
	// Output: [93 99 34 30]
}

func ExampleGemmU8S8Acc() {
	a := []uint8{1, 2, 3, 4}
	w := []int8{1, 1, 1, 1, -1, 0, 0, 1}
	p := kernels.PackWeights(w, 2, 4)
	out := make([]int32, 2)
	kernels.GemmU8S8Acc(1, a, 4, 0, p, []int32{0}, out, 2)
	fmt.Println(out, kernels.Path() != "")
	// Output: [10 3] true
}

func ExampleGemmU8S8Float() {
	a := []uint8{10, 20}
	p := kernels.PackWeights([]int8{3, -1}, 1, 2)
	out := make([]float32, 1)
	kernels.GemmU8S8Float(1, a, 2, 0, p, []int32{0}, []float32{0.25}, []float32{1}, out, 1)
	fmt.Println(out) // (30 − 20)·0.25 + 1
	// Output: [3.5]
}

func ExampleQuantizeF32U8() {
	x := []float32{-1, 0, 0.25, 0.75, 100}
	q := make([]uint8, len(x))
	kernels.QuantizeF32U8(q, x, 1/float32(0.5), 10) // scale 0.5: 0.5 and 1.5 round to even
	fmt.Println(q)
	// Output: [8 10 10 12 210]
}
