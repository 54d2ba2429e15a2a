package ktest

import (
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/kernels"
)

// Naive is the path name BenchGemm accepts for the naive reference loop
// (NaiveAcc followed by the scalar RequantizeValue), the baseline beside
// the tuned paths.
const Naive = "naive"

// BenchGemm benchmarks an m×K by K×N requantizing GEMM (GemmU8S8Requant,
// per-channel multipliers and a bias) on path, or the naive reference for
// path == Naive, and reports GOPS = 2·m·n·k / time.
func BenchGemm(b *testing.B, path string, m, n, k int) {
	r := rand.New(rand.NewSource(1))
	c := newCase(r, m, n, k, 0, 0)
	c.aZP, c.wZP = 3, []int32{0}
	p := kernels.PackWeights(c.w, n, k)
	rq := randRequant(r, n, 0, 255)
	out := make([]uint8, m*n)
	var run func()
	if path == Naive {
		acc := make([]int32, m*n)
		run = func() {
			NaiveAcc(m, n, k, c.a, k, c.aZP, c.w, c.wZP, acc, n)
			for i, v := range acc {
				out[i] = uint8(kernels.RequantizeValue(v, i%n, rq))
			}
		}
	} else {
		usePath(b, path)
		run = func() { kernels.GemmU8S8Requant(m, c.a, k, c.aZP, p, c.wZP, rq, out, n) }
	}
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
}
