package kernels_test

import (
	"fmt"
	"testing"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/kernels/ktest"
)

// benchSizes are the linear workloads of the bench harness (M, K, N).
var benchSizes = [][3]int{{1, 1024, 1024}, {64, 1024, 1024}, {256, 4096, 1024}, {64, 784, 128}}

// BenchmarkGemmU8S8Requant runs every path, and the naive loop on the
// smaller sizes, single-threaded: size=MxKxN/impl=path.
func BenchmarkGemmU8S8Requant(b *testing.B) {
	defer kernels.SetThreads(kernels.SetThreads(1))
	for _, s := range benchSizes {
		m, k, n := s[0], s[1], s[2]
		paths := kernels.Paths()
		if m*k*n <= 1<<26 {
			paths = append(paths, ktest.Naive)
		}
		for _, path := range paths {
			b.Run(fmt.Sprintf("size=%dx%dx%d/impl=%s", m, k, n, path), func(b *testing.B) {
				ktest.BenchGemm(b, path, m, n, k)
			})
		}
	}
}
