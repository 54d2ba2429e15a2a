//go:build amd64 && !purego

#include "textflag.h"

// Quantize n (a multiple of 16) float32s to bytes:
//
//	y = f32(x·inv); q = (−2⁶³ < y < 2⁶³) ? clamp(rne(y) + zp, qmin, qmax) : qmin
//
// y is clamped to [−2³⁰, 2³⁰] before VCVTPS2DQ (rounds half to even under
// Go's default MXCSR), which leaves every saturated result unchanged, and
// the ordered compares send NaN to qmin as well.
//
// func quantizeF32B_AVX512(dst *byte, src *float32, n int, inv float32, zp, qmin, qmax int32)
// Requires: AVX512F, AVX512BW
TEXT ·quantizeF32B_AVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS inv+24(FP), Z16
	MOVL zp+28(FP), AX
	VPBROADCASTD AX, Z17
	MOVL qmin+32(FP), AX
	VPBROADCASTD AX, Z18
	MOVL qmax+36(FP), AX
	VPBROADCASTD AX, Z19
	MOVL $0xdf000000, AX // −2⁶³
	VPBROADCASTD AX, Z20
	MOVL $0x5f000000, AX // 2⁶³
	VPBROADCASTD AX, Z21
	MOVL $0xce800000, AX // −2³⁰
	VPBROADCASTD AX, Z22
	MOVL $0x4e800000, AX // 2³⁰
	VPBROADCASTD AX, Z23
	SHRQ $4, CX
	JZ   qdone

qloop:
	VMULPS       (SI), Z16, Z0
	VCMPPS       $0x1e, Z20, Z0, K1     // y > −2⁶³ (ordered)
	VCMPPS       $0x11, Z21, Z0, K1, K2 // and y < 2⁶³
	VMAXPS       Z22, Z0, Z0
	VMINPS       Z23, Z0, Z0
	VCVTPS2DQ    Z0, Z1
	VPADDD       Z17, Z1, Z1
	VPMAXSD      Z18, Z1, Z1
	VPMINSD      Z19, Z1, Z1
	VMOVDQA32    Z18, Z2
	VMOVDQA32    Z1, K2, Z2
	VPMOVDB      Z2, (DI)
	ADDQ         $64, SI
	ADDQ         $16, DI
	DECQ         CX
	JNZ          qloop

qdone:
	VZEROUPPER
	RET

// Dequantize n (a multiple of 16) bytes: x = f32(f32(q − zp)·scale), q
// zero-extended (uint8) or sign-extended (int8).
//
// func dequantizeU8F32_AVX512(dst *float32, src *uint8, n int, scale float32, zp int32)
// Requires: AVX512F
TEXT ·dequantizeU8F32_AVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS scale+24(FP), Z16
	MOVL zp+28(FP), AX
	VPBROADCASTD AX, Z17
	SHRQ $4, CX
	JZ   du8done

du8loop:
	VPMOVZXBD (SI), Z0
	VPSUBD    Z17, Z0, Z0
	VCVTDQ2PS Z0, Z0
	VMULPS    Z16, Z0, Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $16, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       du8loop

du8done:
	VZEROUPPER
	RET

// func dequantizeS8F32_AVX512(dst *float32, src *int8, n int, scale float32, zp int32)
// Requires: AVX512F
TEXT ·dequantizeS8F32_AVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS scale+24(FP), Z16
	MOVL zp+28(FP), AX
	VPBROADCASTD AX, Z17
	SHRQ $4, CX
	JZ   ds8done

ds8loop:
	VPMOVSXBD (SI), Z0
	VPSUBD    Z17, Z0, Z0
	VCVTDQ2PS Z0, Z0
	VMULPS    Z16, Z0, Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $16, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       ds8loop

ds8done:
	VZEROUPPER
	RET
