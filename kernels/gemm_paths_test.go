package kernels_test

import (
	"testing"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/kernels/ktest"
)

// TestGemmPaths runs the shared suite on every path this CPU and build can run.
func TestGemmPaths(t *testing.T) {
	for _, path := range kernels.Paths() {
		t.Run(path, func(t *testing.T) { ktest.TestGemm(t, path) })
	}
}

// FuzzGemm checks every path against the naive reference on fuzzed shapes
// and operands.
func FuzzGemm(f *testing.F) {
	f.Add(uint8(3), uint8(17), uint8(5), int64(1))
	f.Add(uint8(13), uint8(65), uint8(67), int64(2))
	f.Fuzz(func(t *testing.T, m, n, k uint8, seed int64) {
		for _, path := range kernels.Paths() {
			ktest.CheckRandom(t, path, int(m%40), int(n%140)+1, int(k), seed)
		}
	})
}
