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
// The AVX-512 epilogues are generated (gemm_kernels_amd64.s).

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
