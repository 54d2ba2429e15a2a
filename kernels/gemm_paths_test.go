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
