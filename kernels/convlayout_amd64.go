//go:build amd64 && !purego

package kernels

import "unsafe"

// transpose16Asm runs transpose16 with AVX-512 when that path is active
// and reports whether it did.
func transpose16Asm(dst []uint8, d, ds int, src []uint8, s, ss, cols int) bool {
	if activeImpl() != avx512Impl {
		return false
	}
	transposeU8_16x64_AVX512((*uint8)(unsafe.Pointer(&dst[d])), ds, &src[s], ss, cols)
	return true
}

// transposeU8_16x64_AVX512 is transpose16's loop on raw pointers:
//
//	for r < 16, c < cols (1…64): dst[c·ds + r] = src[r·ss + c]
//
// It reads only the cols bytes of each source row (masked loads).
//
//go:noescape
func transposeU8_16x64_AVX512(dst *uint8, ds int, src *uint8, ss int, cols int)
