// Package kernels holds qgorgonia's raw-slice int8 compute kernels: quantize
// and dequantize, the u8×s8→s32 GEMM on pre-packed weights with its
// requantizing and float epilogues, convolution helpers, pools, lookup-table
// activations and elementwise requantized arithmetic. It imports nothing of
// Gorgonia; callers validate arguments, and kernels may panic on a broken
// contract, as gonum's BLAS does.
//
// Each kernel has one portable reference (the *Generic functions); SIMD
// variants (AVX-512 VNNI, AVX-VNNI, AVX2) sit beside it and are chosen at run
// time with golang.org/x/sys/cpu. The environment variable QGORGONIA_KERNELS
// (generic, avx2, avxvnni, avx512vnni) forces a path, and the purego build tag
// builds without assembly. Integer results are bit-identical on every path
// and for every thread count.
package kernels
