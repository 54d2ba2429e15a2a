//go:build amd64 && !purego

#include "textflag.h"

// The epilogues read an epiArgs (gemm_driver.go) by offset:
// c 0, rows 8, cols 16, colComp 24, zw 32, rowSum 40, mode 48, out 56,
// ldo 64, mult 72, bias 80, zp 88, min 96, max 104.
// Modes: 0 int32, 1 uint8, 2 int8, 3 float32.
//
// Requantization clamps f32 values to [−2³⁰, 2³⁰] before VCVTPS2DQ (which
// rounds half to even under Go's default MXCSR): VMAXPS returns its second
// source for a NaN first source, so NaN becomes −2³⁰ and then Min, as in
// requantF32, and no conversion overflows to the integer indefinite value.

// func epiAVX512(e *epiArgs)
// Requires: AVX512F, AVX512BW, AVX512VL
TEXT ·epiAVX512(SB), NOSPLIT, $0-8
	MOVQ e+0(FP), R13
	MOVQ 16(R13), CX
	ANDQ $15, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K2
	MOVL $0xffff, AX
	KMOVW AX, K1
	MOVQ 16(R13), R9
	ANDQ $-16, R9
	VPBROADCASTD 88(R13), Z28
	VPBROADCASTD 96(R13), Z29
	VPBROADCASTD 104(R13), Z30
	MOVL $0xce800000, AX
	VPBROADCASTD AX, Z26
	MOVL $0x4e800000, AX
	VPBROADCASTD AX, Z27
	MOVQ 0(R13), DI
	MOVQ 8(R13), R8
	MOVQ 24(R13), R10
	MOVQ 32(R13), R11
	MOVQ 40(R13), R12
	MOVQ 56(R13), SI
	MOVQ 64(R13), DX
	MOVQ 72(R13), AX
	MOVQ 80(R13), BX

e512row:
	TESTQ R11, R11
	JZ    e512nozw
	VPBROADCASTD (R12), Z25
	ADDQ  $4, R12

e512nozw:
	XORQ CX, CX

e512col:
	KMOVW K1, K3
	CMPQ  CX, R9
	JLT   e512full
	KMOVW K2, K3

e512full:
	VMOVDQU32   (DI)(CX*4), Z0
	VMOVDQU32.Z (R10)(CX*4), K3, Z1
	VPADDD      Z1, Z0, Z0
	TESTQ       R11, R11
	JZ          e512mode
	VMOVDQU32.Z (R11)(CX*4), K3, Z2
	VPMULLD     Z25, Z2, Z2
	VPSUBD      Z2, Z0, Z0

e512mode:
	CMPQ      48(R13), $0
	JNE       e512float
	VMOVDQU32 Z0, K3, (SI)(CX*4)
	JMP       e512next

e512float:
	VCVTDQ2PS Z0, Z0
	VMOVUPS.Z (AX)(CX*4), K3, Z3
	VMULPS    Z3, Z0, Z0
	TESTQ     BX, BX
	JZ        e512nobias
	VMOVUPS.Z (BX)(CX*4), K3, Z4
	VADDPS    Z4, Z0, Z0

e512nobias:
	CMPQ    48(R13), $3
	JNE     e512quant
	VMOVUPS Z0, K3, (SI)(CX*4)
	JMP     e512next

e512quant:
	VMAXPS    Z26, Z0, Z0
	VMINPS    Z27, Z0, Z0
	VCVTPS2DQ Z0, Z0
	VPADDD    Z28, Z0, Z0
	VPMAXSD   Z29, Z0, Z0
	VPMINSD   Z30, Z0, Z0
	VPMOVDB   Z0, X0
	VMOVDQU8  X0, K3, (SI)(CX*1)

e512next:
	ADDQ $16, CX
	CMPQ CX, 16(R13)
	JLT  e512col
	ADDQ $256, DI
	ADDQ DX, SI
	DECQ R8
	JNZ  e512row
	VZEROUPPER
	RET

// func epiAVX2(e *epiArgs)
// Requires: AVX, AVX2
TEXT ·epiAVX2(SB), NOSPLIT, $0-8
	MOVQ e+0(FP), R13
	MOVQ 16(R13), R9
	ANDQ $-8, R9
	VPBROADCASTD 88(R13), Y8
	VPBROADCASTD 96(R13), Y9
	VPBROADCASTD 104(R13), Y10
	MOVL $0xce800000, AX
	MOVQ AX, X6
	VPBROADCASTD X6, Y6
	MOVL $0x4e800000, AX
	MOVQ AX, X7
	VPBROADCASTD X7, Y7
	MOVQ 0(R13), DI
	MOVQ 8(R13), R8
	MOVQ 24(R13), R10
	MOVQ 32(R13), R11
	MOVQ 40(R13), R12
	MOVQ 56(R13), SI
	MOVQ 64(R13), DX
	MOVQ 72(R13), AX
	MOVQ 80(R13), BX

e2row:
	TESTQ R11, R11
	JZ    e2nozw
	VPBROADCASTD (R12), Y5
	ADDQ  $4, R12

e2nozw:
	XORQ CX, CX

e2col:
	VMOVDQU (DI)(CX*4), Y0
	VPADDD  (R10)(CX*4), Y0, Y0
	TESTQ   R11, R11
	JZ      e2mode
	VPMULLD (R11)(CX*4), Y5, Y2
	VPSUBD  Y2, Y0, Y0

e2mode:
	CMPQ    48(R13), $0
	JNE     e2float
	VMOVDQU Y0, (SI)(CX*4)
	JMP     e2next

e2float:
	VCVTDQ2PS Y0, Y0
	VMULPS    (AX)(CX*4), Y0, Y0
	TESTQ     BX, BX
	JZ        e2nobias
	VADDPS    (BX)(CX*4), Y0, Y0

e2nobias:
	CMPQ    48(R13), $3
	JNE     e2quant
	VMOVUPS Y0, (SI)(CX*4)
	JMP     e2next

e2quant:
	VMAXPS       Y6, Y0, Y0
	VMINPS       Y7, Y0, Y0
	VCVTPS2DQ    Y0, Y0
	VPADDD       Y8, Y0, Y0
	VPMAXSD      Y9, Y0, Y0
	VPMINSD      Y10, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSDW    X1, X0, X0
	CMPQ         48(R13), $1
	JNE          e2s8
	VPACKUSWB    X0, X0, X0
	JMP          e2store

e2s8:
	VPACKSSWB X0, X0, X0

e2store:
	MOVQ X0, (SI)(CX*1)

e2next:
	ADDQ $8, CX
	CMPQ CX, R9
	JLT  e2col
	ADDQ $256, DI
	ADDQ DX, SI
	DECQ R8
	JNZ  e2row
	VZEROUPPER
	RET
