//go:build amd64 && !purego

package kernels

// transpose16Asm runs transpose16 with AVX-512 when that path is active
// and reports whether it did.
func transpose16Asm(dst []uint8, d, ds int, src []uint8, s, ss, cols, rows int) bool {
	if activeImpl() != avx512Impl {
		return false
	}
	transposeU8_16x64_AVX512(&dst[d], ds, &src[s], ss, cols, rows)
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
