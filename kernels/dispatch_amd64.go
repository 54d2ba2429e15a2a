//go:build amd64 && !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// CPU features, read once. The AVX-512 path needs BW for byte stores and
// VL for none of its code but is required by every VNNI part anyway.
var (
	hasAVX512VNNI = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI
	hasAVXVNNI    = cpu.X86.HasAVX2 && cpu.X86.HasAVXVNNI
	hasAVX2       = cpu.X86.HasAVX2
)

// platformImpls returns the assembly paths this CPU can run, fastest first.
func platformImpls() []*gemmImpl {
	var s []*gemmImpl
	if hasAVX512VNNI {
		s = append(s, avx512Impl)
	}
	if hasAVXVNNI {
		s = append(s, avxvnniImpl)
	}
	if hasAVX2 {
		s = append(s, avx2Impl)
	}
	return s
}

// avx512MR[nv] is the tile height for a 16·nv-column panel: 24 or fewer
// zmm accumulators.
var avx512MR = [5]int{0, 12, 12, 8, 6}

var avx512Impl = &gemmImpl{
	name:  "avx512vnni",
	mrMax: func(cols int) int { return avx512MR[cols/16] },
	dot: func(mr, cols, k4 int, a *uint8, lda int, p *PackedWeights, boff int, c *int32, accum bool) {
		dotAVX512VNNI[cols/16][mr](k4, a, lda, &p.data[boff], cols*4, c, tileLd*4, flag(accum))
	},
	epi:       epiAVX512,
	quant:     quantizeF32B_AVX512,
	dequantU8: dequantizeU8F32_AVX512,
	dequantS8: dequantizeS8F32_AVX512,
}

// dotAVXVNNIPanel runs the 16-column AVX-VNNI microkernel over each
// 16-column group of the panel.
func dotAVXVNNIPanel(mr, cols, k4 int, a *uint8, lda int, p *PackedWeights, boff int, c *int32, accum bool) {
	f := dotAVXVNNI[2][mr]
	for j := 0; j < cols; j += 16 {
		f(k4, a, lda, &p.data[boff+4*j], cols*4, addInt32(c, j), tileLd*4, flag(accum))
	}
}

// dotAVX2Panel runs the 16-column AVX2 microkernel, which reads the
// int16-widened weights, over each 16-column group of the panel.
func dotAVX2Panel(mr, cols, k4 int, a *uint8, lda int, p *PackedWeights, boff int, c *int32, accum bool) {
	f := dotAVX2[2][mr]
	w := p.wide16()
	for j := 0; j < cols; j += 16 {
		f(k4, a, lda, &w[boff+4*j], cols*8, addInt32(c, j), tileLd*4, flag(accum))
	}
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

var avxvnniImpl = &gemmImpl{
	name:      "avxvnni",
	mrMax:     func(int) int { return 6 },
	dot:       dotAVXVNNIPanel,
	epi:       epiYMM,
	quant:     quantizeF32B_AVX2,
	dequantU8: dequantizeU8F32_AVX2,
	dequantS8: dequantizeS8F32_AVX2,
}

var avx2Impl = &gemmImpl{
	name:      "avx2",
	mrMax:     func(int) int { return 3 },
	dot:       dotAVX2Panel,
	epi:       epiYMM,
	quant:     quantizeF32B_AVX2,
	dequantU8: dequantizeU8F32_AVX2,
	dequantS8: dequantizeS8F32_AVX2,
}

// epiYMM runs the AVX2 epilogue on whole groups of 8 columns and the Go one
// on the rest.
func epiYMM(e *epiArgs) {
	if e.cols >= 8 {
		epiAVX2(e)
	}
	if e.cols&7 != 0 {
		epiGeneric(e, e.cols&^7)
	}
}

// epiAVX512 applies the epilogue of epiGeneric to the whole tile with the
// generated AVX-512 variant for its output kind, zero-point term and width.
func epiAVX512(e *epiArgs) {
	kind := 1
	switch e.mode {
	case modeInt32:
		kind = 0
	case modeF32:
		kind = 2
	}
	zw := 0
	if e.zw != nil {
		zw = 1
	}
	epiAVX512Tab[kind][zw][(e.cols+15)/16](e)
}

// epiAVX2 applies the epilogue of epiGeneric to columns [0, cols&^7) with AVX2.
//
//go:noescape
func epiAVX2(e *epiArgs)
func addInt32(p *int32, n int) *int32 { return (*int32)(unsafe.Add(unsafe.Pointer(p), 4*n)) }

// quantizeF32B_AVX512 is the vector loop of quantU8/quantS8 (quant.go) on n
// elements, n a multiple of 16:
//
//	dst[i] = byte(quantizeOne(src[i], inv, zp, qmin, qmax))
//
//go:noescape
func quantizeF32B_AVX512(dst *byte, src *float32, n int, inv float32, zp, qmin, qmax int32)

// dequantizeU8F32_AVX512 is dst[i] = float32(int32(src[i])-zp) * scale for
// i < n, n a multiple of 16.
//
//go:noescape
func dequantizeU8F32_AVX512(dst *float32, src *uint8, n int, scale float32, zp int32)

// dequantizeS8F32_AVX512 is dequantizeU8F32_AVX512 for int8.
//
//go:noescape
func dequantizeS8F32_AVX512(dst *float32, src *int8, n int, scale float32, zp int32)

// quantizeF32B_AVX2 is quantizeF32B_AVX512 with AVX2, n a multiple of 8.
//
//go:noescape
func quantizeF32B_AVX2(dst *byte, src *float32, n int, inv float32, zp, qmin, qmax int32)

// dequantizeU8F32_AVX2 is dequantizeU8F32_AVX512 with AVX2, n a multiple of 8.
//
//go:noescape
func dequantizeU8F32_AVX2(dst *float32, src *uint8, n int, scale float32, zp int32)

// dequantizeS8F32_AVX2 is dequantizeS8F32_AVX512 with AVX2, n a multiple of 8.
//
//go:noescape
func dequantizeS8F32_AVX2(dst *float32, src *int8, n int, scale float32, zp int32)
