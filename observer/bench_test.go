package observer

import (
	"fmt"
	"math/rand"
	"testing"

	"gorgonia.org/tensor"
)

func BenchmarkHistogramObserver(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	data := make([]float32, 1<<14)
	for i := range data {
		data[i] = float32(r.NormFloat64())
	}
	x := tensor.New(tensor.WithShape(len(data)), tensor.WithBacking(data))
	for _, bins := range []int{256, 2048} {
		b.Run(fmt.Sprintf("bins=%d/op=observe", bins), func(b *testing.B) {
			o, _ := NewHistogramObserver(WithBins(bins))
			b.SetBytes(int64(4 * len(data)))
			for i := 0; i < b.N; i++ {
				if err := o.Observe(x); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("bins=%d/op=qparams", bins), func(b *testing.B) {
			o, _ := NewHistogramObserver(WithBins(bins))
			_ = o.Observe(x)
			for i := 0; i < b.N; i++ {
				if _, err := o.CalculateQParams(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPerChannelMinMaxObserver(b *testing.B) {
	r := rand.New(rand.NewSource(2))
	data := make([]float32, 64*3*3*64)
	for i := range data {
		data[i] = float32(r.NormFloat64())
	}
	x := tensor.New(tensor.WithShape(64, 64, 3, 3), tensor.WithBacking(data))
	for _, axis := range []int{0, 1} {
		b.Run(fmt.Sprintf("axis=%d", axis), func(b *testing.B) {
			o, _ := NewPerChannelMinMaxObserver(WithChAxis(axis))
			b.SetBytes(int64(4 * len(data)))
			for i := 0; i < b.N; i++ {
				if err := o.Observe(x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
