package kernels

import (
	"runtime"
	"sync/atomic"
)

// threads is the SetThreads value; 0 means GOMAXPROCS.
var threads atomic.Int64

// SetThreads sets how many goroutines a large GEMM may use: n ≥ 1 fixes the
// count, n ≤ 0 restores the default, runtime.GOMAXPROCS(0). It returns the
// previous setting (0 for the default). Calls below about 2²⁰ MACs per
// goroutine use fewer. Results are identical for every count.
func SetThreads(n int) int {
	if n < 0 {
		n = 0
	}
	return int(threads.Swap(int64(n)))
}

// Threads returns the number of goroutines a large GEMM uses now.
func Threads() int {
	if n := int(threads.Load()); n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}
