//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

//go:generate go run ./internal/gendirect

// hasAVX512VBMI gates the direct kernel's byte permutation (VPERMB).
var hasAVX512VBMI = cpu.X86.HasAVX512VBMI

// dwKernel returns the direct kernel of the active path for og output
// channels per call: the AVX-512 ones when that path is active and the CPU
// has VBMI, else the Go loop.
func dwKernel(og int) func(*dwArgs) {
	if activeImpl() != avx512Impl || !hasAVX512VBMI {
		return dwGeneric
	}
	if og == 1 {
		return dwconvU8S8_16x1_AVX512VBMI
	}
	return dwconvU8S8_16x16_AVX512VBMI
}

// dwconvU8S8_16x1_AVX512VBMI is dwGeneric (convdirect.go) for og = 1,
// 16 output pixels per zmm: one VPERMB gathers a quad of taps for 16
// pixels and one VPDPBUSD accumulates it.
//
//go:noescape
func dwconvU8S8_16x1_AVX512VBMI(a *dwArgs)

// dwconvU8S8_16x16_AVX512VBMI is dwGeneric for og ≤ 16: each gathered
// quad feeds one VPDPBUSD per output channel.
//
//go:noescape
func dwconvU8S8_16x16_AVX512VBMI(a *dwArgs)
