package fake

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// naiveFakeQuant is the textbook float64 formula, the baseline the tuned
// float32 kernel is measured against (it is not bit-exact with PyTorch).
func naiveFakeQuant(dst, src []float32, scale float64, zp, qmin, qmax float64) {
	for i, x := range src {
		q := math.Min(math.Max(math.RoundToEven(float64(x)/scale)+zp, qmin), qmax)
		dst[i] = float32((q - zp) * scale)
	}
}

func BenchmarkFakeQuantizePerTensor(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	for _, n := range []int{1 << 10, 1 << 16} {
		x := randDense(r, 2, n)
		b.Run(fmt.Sprintf("size=%d/impl=naive", n), func(b *testing.B) {
			dst := make([]float32, n)
			b.SetBytes(int64(4 * n))
			for i := 0; i < b.N; i++ {
				naiveFakeQuant(dst, x.Float32s(), 0.02, 128, 0, 255)
			}
		})
		b.Run(fmt.Sprintf("size=%d/impl=kernel", n), func(b *testing.B) {
			dst := make([]float32, n)
			mask := make([]bool, n)
			b.SetBytes(int64(4 * n))
			for i := 0; i < b.N; i++ {
				fakeQuantRun(dst, mask, x.Float32s(), 0.02, 128, 0, 255)
			}
		})
		b.Run(fmt.Sprintf("size=%d/impl=api", n), func(b *testing.B) {
			b.SetBytes(int64(4 * n))
			for i := 0; i < b.N; i++ {
				if _, _, err := FakeQuantizePerTensorAffine(x, 0.02, 128, 0, 255); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFakeQuantizerForward(b *testing.B) {
	r := rand.New(rand.NewSource(2))
	x := randDense(r, 1, 64, 256)
	fq := mustFQ(b)
	b.SetBytes(int64(4 * 64 * 256))
	for i := 0; i < b.N; i++ {
		if _, err := fq.Forward(x); err != nil {
			b.Fatal(err)
		}
	}
}
