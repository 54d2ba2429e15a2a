//go:build amd64 && !purego

#include "textflag.h"

// func copyRowsAVX512(dst *uint8, ds int, src *uint8, ss int, rows int, width int)
// Requires: AVX512F, AVX512BW
//
// Whole 64-byte chunks, then the width%64 tail with one masked load and
// store (K1).
TEXT ·copyRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ ds+8(FP), DX
	MOVQ src+16(FP), SI
	MOVQ ss+24(FP), BX
	MOVQ rows+32(FP), R12
	MOVQ width+40(FP), R8
	MOVQ R8, CX
	ANDQ $63, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVQ AX, K1
	TESTQ R12, R12
	JZ   done

row:
	MOVQ SI, R9
	MOVQ DI, R10
	MOVQ R8, R11
chunk:
	CMPQ R11, $64
	JLT  tail
	VMOVDQU8 (R9), Z0
	VMOVDQU8 Z0, (R10)
	ADDQ $64, R9
	ADDQ $64, R10
	SUBQ $64, R11
	JMP  chunk
tail:
	TESTQ R11, R11
	JZ   next
	VMOVDQU8.Z (R9), K1, Z0
	VMOVDQU8   Z0, K1, (R10)
next:
	ADDQ BX, SI
	ADDQ DX, DI
	DECQ R12
	JNZ  row

done:
	VZEROUPPER
	RET
