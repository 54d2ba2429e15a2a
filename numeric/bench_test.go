package numeric

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// BenchmarkAccumulate measures what a logger costs per logged element:
// impl=float accumulates a float twin, impl=quant a quantized one
// (dequantize, codes, saturation and clipping counts), with the default
// histogram sample.
func BenchmarkAccumulate(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	for _, n := range []int{4096, 1 << 20} {
		x := make([]float32, n)
		y := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
			y[i] = x[i] + float32(r.NormFloat64())*0.01
		}
		q, err := qtensor.Quantize(tensor.New(tensor.WithShape(n), tensor.WithBacking(y)), qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.03, 128))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("size=%d/impl=float", n), func(b *testing.B) {
			a := newAccum(1 << 16)
			b.SetBytes(int64(8 * n))
			for i := 0; i < b.N; i++ {
				if err := a.addFloat(x, y); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
		})
		b.Run(fmt.Sprintf("size=%d/impl=quant", n), func(b *testing.B) {
			a := newAccum(1 << 16)
			b.SetBytes(int64(5 * n))
			for i := 0; i < b.N; i++ {
				if err := a.addQuant(x, q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
		})
	}
}
