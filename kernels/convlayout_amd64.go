//go:build amd64 && !purego

package kernels

//go:generate go run ./internal/gentranspose

// transpose16Asm runs transpose16 with AVX-512 when that path is active
// and reports whether it did; it takes the narrowest register (16, 32 or
// 64 columns, one 16×16 transpose per 128-bit lane) that covers cols.
func transpose16Asm(dst []uint8, d, ds int, src []uint8, s, ss, cols, rows int) bool {
	if activeImpl() != avx512Impl {
		return false
	}
	switch {
	case cols <= 16:
		transposeU8_16x16_AVX512(&dst[d], ds, &src[s], ss, cols, rows)
	case cols <= 32:
		transposeU8_16x32_AVX512(&dst[d], ds, &src[s], ss, cols, rows)
	default:
		transposeU8_16x64_AVX512(&dst[d], ds, &src[s], ss, cols, rows)
	}
	return true
}

// transposeU8_16x64_AVX512 is transpose16's loop on raw pointers:
//
//	for r < rows (1…16), c < cols (1…64): dst[c·ds + r] = src[r·ss + c]
//
// It loads the first cols bytes of all 16 source rows (masked loads) and
// stores only the rows·cols destination bytes (masked stores when rows <
// 16).
//
//go:noescape
func transposeU8_16x64_AVX512(dst *uint8, ds int, src *uint8, ss int, cols int, rows int)

// transposeU8_16x32_AVX512 is transposeU8_16x64_AVX512 for cols ≤ 32 (ymm).
//
//go:noescape
func transposeU8_16x32_AVX512(dst *uint8, ds int, src *uint8, ss int, cols int, rows int)

// transposeU8_16x16_AVX512 is transposeU8_16x64_AVX512 for cols ≤ 16 (xmm).
//
//go:noescape
func transposeU8_16x16_AVX512(dst *uint8, ds int, src *uint8, ss int, cols int, rows int)

// copyRowsAsm runs copyRows with AVX-512 when that path is active and
// reports whether it did.
func copyRowsAsm(dst []uint8, d, ds int, src []uint8, s, ss, rows, width int) bool {
	if activeImpl() != avx512Impl {
		return false
	}
	copyRowsAVX512(&dst[d], ds, &src[s], ss, rows, width)
	return true
}

// copyRowsAVX512 is copyRows' loop on raw pointers:
//
//	for r < rows, c < width: dst[r·ds + c] = src[r·ss + c]
//
//go:noescape
func copyRowsAVX512(dst *uint8, ds int, src *uint8, ss int, rows int, width int)
