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

// The AVX2 loops below handle 8 elements per iteration, with the same
// rules as their AVX-512 twins.

DATA evenBytes<>+0(SB)/8, $0x0e0c0a0806040200
DATA evenBytes<>+8(SB)/8, $0x8080808080808080
GLOBL evenBytes<>(SB), RODATA|NOPTR, $16

// func quantizeF32B_AVX2(dst *byte, src *float32, n int, inv float32, zp, qmin, qmax int32)
// Requires: AVX, AVX2
TEXT ·quantizeF32B_AVX2(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS inv+24(FP), Y8
	MOVL         zp+28(FP), AX
	MOVQ         AX, X9
	VPBROADCASTD X9, Y9
	MOVL         qmin+32(FP), AX
	MOVQ         AX, X10
	VPBROADCASTD X10, Y10
	MOVL         qmax+36(FP), AX
	MOVQ         AX, X11
	VPBROADCASTD X11, Y11
	MOVL         $0xdf000000, AX
	MOVQ         AX, X12
	VPBROADCASTD X12, Y12
	MOVL         $0x5f000000, AX
	MOVQ         AX, X13
	VPBROADCASTD X13, Y13
	MOVL         $0xce800000, AX
	MOVQ         AX, X14
	VPBROADCASTD X14, Y14
	MOVL         $0x4e800000, AX
	MOVQ         AX, X15
	VPBROADCASTD X15, Y15
	VMOVDQU      evenBytes<>(SB), X7
	SHRQ         $3, CX
	JZ           q2done

q2loop:
	VMULPS       (SI), Y8, Y0
	VCMPPS       $0x1e, Y12, Y0, Y1
	VCMPPS       $0x11, Y13, Y0, Y2
	VANDPS       Y2, Y1, Y1
	VMAXPS       Y14, Y0, Y0
	VMINPS       Y15, Y0, Y0
	VCVTPS2DQ    Y0, Y0
	VPADDD       Y9, Y0, Y0
	VPMAXSD      Y10, Y0, Y0
	VPMINSD      Y11, Y0, Y0
	VBLENDVPS    Y1, Y0, Y10, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSDW    X1, X0, X0
	VPSHUFB      X7, X0, X0
	MOVQ         X0, (DI)
	ADDQ         $32, SI
	ADDQ         $8, DI
	DECQ         CX
	JNZ          q2loop

q2done:
	VZEROUPPER
	RET

// func dequantizeU8F32_AVX2(dst *float32, src *uint8, n int, scale float32, zp int32)
// Requires: AVX, AVX2
TEXT ·dequantizeU8F32_AVX2(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS scale+24(FP), Y8
	MOVL         zp+28(FP), AX
	MOVQ         AX, X9
	VPBROADCASTD X9, Y9
	SHRQ         $3, CX
	JZ           du2done

du2loop:
	VPMOVZXBD (SI), Y0
	VPSUBD    Y9, Y0, Y0
	VCVTDQ2PS Y0, Y0
	VMULPS    Y8, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $8, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       du2loop

du2done:
	VZEROUPPER
	RET

// func dequantizeS8F32_AVX2(dst *float32, src *int8, n int, scale float32, zp int32)
// Requires: AVX, AVX2
TEXT ·dequantizeS8F32_AVX2(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS scale+24(FP), Y8
	MOVL         zp+28(FP), AX
	MOVQ         AX, X9
	VPBROADCASTD X9, Y9
	SHRQ         $3, CX
	JZ           ds2done

ds2loop:
	VPMOVSXBD (SI), Y0
	VPSUBD    Y9, Y0, Y0
	VCVTDQ2PS Y0, Y0
	VMULPS    Y8, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $8, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       ds2loop

ds2done:
	VZEROUPPER
	RET
