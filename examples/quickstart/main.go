// Command quickstart quantizes a small float32 tensor per tensor and per
// channel, prints the integer representation and the quantization error,
// and dequantizes it again. `make demo` runs it until the MNIST example
// exists.
package main

import (
	"fmt"
	"log"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

func main() {
	x := tensor.New(tensor.WithShape(2, 4), tensor.WithBacking([]float32{
		-1.0, -0.25, 0, 0.3,
		0.5, 1.27, 2.0, 2.5,
	}))
	fmt.Printf("float input:\n%v\n", x)

	// Per-tensor: one scale and zero point, as an observer would choose
	// for the range [-1, 2.5] on quint8.
	s, zp, err := qdtype.ChooseQuantizationParams(-1, 2.5, 0, 255, false, false)
	if err != nil {
		log.Fatal(err)
	}
	q, err := qtensor.QuantizePerTensor(x, s, zp, qdtype.QUInt8Dtype)
	if err != nil {
		log.Fatal(err)
	}
	report("per-tensor quint8", x, q)

	// Per-channel: one scale per row, symmetric qint8 like conv weights.
	qc, err := qtensor.QuantizePerChannel(x, []float64{1.0 / 127, 2.5 / 127}, []int64{0, 0}, 0, qdtype.QInt8Dtype)
	if err != nil {
		log.Fatal(err)
	}
	report("per-channel qint8 (axis 0)", x, qc)

	// Bad input is an error, never a panic.
	if _, err := qtensor.QuantizePerTensor(x, 0, 0, qdtype.QUInt8Dtype); err != nil {
		fmt.Println("scale 0 is rejected:", err)
	}
}

func report(name string, x *tensor.Dense, q *qtensor.QTensor) {
	back, err := q.Dequantize()
	if err != nil {
		log.Fatal(err)
	}
	var worst float32
	for i, v := range x.Float32s() {
		d := back.Float32s()[i] - v
		if d < 0 {
			d = -d
		}
		if d > worst {
			worst = d
		}
	}
	fmt.Printf("\n%s: %v\nint_repr:\n%v\ndequantized:\n%v\nmax |error| = %.6f\n", name, q.QParams(), q.IntRepr(), back, worst)
}
