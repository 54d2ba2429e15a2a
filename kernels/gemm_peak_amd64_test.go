//go:build amd64 && !purego

package kernels

import (
	"fmt"
	"testing"
)

// BenchmarkDotAVX512VNNI measures one microkernel on L1-resident operands:
// the ceiling the whole GEMM is compared with.
func BenchmarkDotAVX512VNNI(b *testing.B) {
	if !hasAVX512VNNI {
		b.Skip("no AVX-512 VNNI")
	}
	for _, s := range [][3]int{{6, 4, 64}, {6, 4, 1024}, {8, 3, 64}, {8, 3, 1024}, {12, 2, 64}, {12, 2, 1024}, {1, 4, 64}, {1, 4, 4096}, {1, 4, 16384}} {
		mr, nv, k4 := s[0], s[1], s[2]
		a := make([]uint8, mr*k4*4)
		w := make([]int8, k4*4*nv*16)
		c := make([]int32, maxMR*tileLd)
		f := dotAVX512VNNI[nv][mr]
		b.Run(fmt.Sprintf("tile=%dx%d/k=%d", mr, nv*16, 4*k4), func(b *testing.B) {
			for b.Loop() {
				f(k4, &a[0], k4*4, &w[0], nv*64, &c[0], tileLd*4, 0)
			}
			b.ReportMetric(2*float64(mr*nv*16*k4*4)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
	}
}
