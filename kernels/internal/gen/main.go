// Command gen writes the u8×s8 GEMM microkernels of package kernels:
// gemm_kernels_amd64.s (Go assembly) and gemm_kernels_amd64.go (their
// declarations and dispatch tables). Run it with `go generate` in kernels.
//
// Every microkernel computes a raw tile of dot products over packed k-quads
//
//	c[r·ldc/4+j] = Σ_q Σ_t int32(a[r·lda+4q+t]) · int32(b[q·bstride+4j+t])
//
// for r < MR, j < NC, q < k4, with wrapping int32 accumulation (added to
// the c already there when accum != 0). The variants
// differ only in MR, NC and the instruction set, so they are generated here
// rather than written by hand.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
)

// isa describes one instruction-set family of microkernels.
type isa struct {
	name    string // suffix of the function names
	vecCols int    // int32 output columns per vector register
	maxNV   int    // most vector registers per row of the tile
	mrMax   []int  // mrMax[nv] = largest MR generated for nv vectors (index 0 unused)
	require string
}

var isas = []isa{
	{name: "AVX512VNNI", vecCols: 16, maxNV: 4, mrMax: []int{0, 12, 12, 8, 6}, require: "AVX512F, AVX512BW, AVX512_VNNI"},
	{name: "AVXVNNI", vecCols: 8, maxNV: 2, mrMax: []int{0, 0, 6}, require: "AVX, AVX2, AVX_VNNI (VEX-encoded VPDPBUSD, emitted as bytes)"},
	{name: "AVX2", vecCols: 8, maxNV: 2, mrMax: []int{0, 0, 3}, require: "AVX, AVX2"},
}

// bType is the element type of the packed B the kernels read: int8, or
// int16 for the AVX2 kernels, which read the widened copy.
func (is isa) bType() string {
	if is.name == "AVX2" {
		return "int16"
	}
	return "int8"
}

func (is isa) funcType() string {
	if is.name == "AVX2" {
		return "dotFunc16"
	}
	return "dotFunc"
}

type writer struct{ bytes.Buffer }

func (w *writer) p(format string, args ...any) { fmt.Fprintf(&w.Buffer, format+"\n", args...) }

func fname(is isa, mr, nv int) string {
	return fmt.Sprintf("dotU8S8_%dx%dc4_%s", mr, nv*is.vecCols, is.name)
}

// rowAddr returns the Go-asm address of row r's current k-quad, plus disp.
// Rows are reached from four bases (SI, R9, R10, R11 = a + {0,3,6,9}·lda)
// and the lda register DX scaled by 1 or 2.
func rowAddr(r, disp int) string {
	bases := []string{"SI", "R9", "R10", "R11"}
	b := bases[r/3]
	d := ""
	if disp != 0 {
		d = fmt.Sprint(disp)
	}
	switch r % 3 {
	case 0:
		return fmt.Sprintf("%s(%s)", d, b)
	case 1:
		return fmt.Sprintf("%s(%s)(DX*1)", d, b)
	default:
		return fmt.Sprintf("%s(%s)(DX*2)", d, b)
	}
}

func prologue(w *writer, is isa, mr, nv int) {
	w.p("// func %s(k4 int, a *uint8, lda int, b *%s, bstride int, c *int32, ldc int, accum int)", fname(is, mr, nv), is.bType())
	w.p("// Requires: %s", is.require)
	w.p("TEXT ·%s(SB), NOSPLIT, $0-64", fname(is, mr, nv))
	w.p("\tMOVQ k4+0(FP), CX")
	w.p("\tMOVQ a+8(FP), SI")
	w.p("\tMOVQ lda+16(FP), DX")
	w.p("\tMOVQ b+24(FP), BX")
	w.p("\tMOVQ bstride+32(FP), R8")
	if mr > 3 {
		w.p("\tLEAQ (DX)(DX*2), R12")
		w.p("\tLEAQ (SI)(R12*1), R9")
	}
	if mr > 6 {
		w.p("\tLEAQ (R9)(R12*1), R10")
	}
	if mr > 9 {
		w.p("\tLEAQ (R10)(R12*1), R11")
	}
}

func advanceA(w *writer, mr, by int) {
	bases := []string{"SI", "R9", "R10", "R11"}
	for i := 0; i < (mr+2)/3; i++ {
		w.p("\tADDQ $%d, %s", by, bases[i])
	}
}

// genAVX512 emits an MR×(16·NV) kernel: accumulators Z0–Z23 (two sets when
// the tile is too small to hide VPDPBUSD's 4-cycle latency), B in Z24–Z27,
// the broadcast A quad in Z31.
func genAVX512(w *writer, is isa, mr, nv int) {
	sets := 1
	if mr*nv < 8 {
		sets = 2
	}
	acc := func(s, r, v int) string { return fmt.Sprintf("Z%d", s*mr*nv+r*nv+v) }
	prologue(w, is, mr, nv)
	for s := 0; s < sets; s++ {
		for r := 0; r < mr; r++ {
			for v := 0; v < nv; v++ {
				w.p("\tVPXORD %s, %s, %s", acc(s, r, v), acc(s, r, v), acc(s, r, v))
			}
		}
	}
	step := func(s int, bAddr func(v int) string, disp int) {
		for v := 0; v < nv; v++ {
			w.p("\tVMOVDQU32 %s, Z%d", bAddr(v), 24+v)
		}
		for r := 0; r < mr; r++ {
			w.p("\tVPBROADCASTD %s, Z31", rowAddr(r, disp))
			for v := 0; v < nv; v++ {
				w.p("\tVPDPBUSD Z%d, Z31, %s", 24+v, acc(s, r, v))
			}
		}
	}
	b0 := func(v int) string { return fmt.Sprintf("%d(BX)", 64*v) }
	b1 := func(v int) string { return fmt.Sprintf("%d(BX)(R8*1)", 64*v) }
	l := fname(is, mr, nv)
	if sets == 2 {
		w.p("\tMOVQ CX, R13")
		w.p("\tSHRQ $1, R13")
		w.p("\tJZ %s_tail", l)
		w.p("%s_loop2:", l)
		step(0, b0, 0)
		step(1, b1, 4)
		advanceA(w, mr, 8)
		w.p("\tLEAQ (BX)(R8*2), BX")
		w.p("\tDECQ R13")
		w.p("\tJNZ %s_loop2", l)
		w.p("%s_tail:", l)
		w.p("\tTESTQ $1, CX")
		w.p("\tJZ %s_sum", l)
		step(0, b0, 0)
		w.p("%s_sum:", l)
		for r := 0; r < mr; r++ {
			for v := 0; v < nv; v++ {
				w.p("\tVPADDD %s, %s, %s", acc(1, r, v), acc(0, r, v), acc(0, r, v))
			}
		}
	} else {
		w.p("\tTESTQ CX, CX")
		w.p("\tJZ %s_store", l)
		w.p("%s_loop:", l)
		step(0, b0, 0)
		advanceA(w, mr, 4)
		w.p("\tADDQ R8, BX")
		w.p("\tDECQ CX")
		w.p("\tJNZ %s_loop", l)
	}
	store(w, l, mr, nv, 64, "VMOVDQU32", func(r, v int) string { return acc(0, r, v) })
}

// store writes the accumulators to c (row stride ldc bytes), first adding
// the tile already there when accum != 0 (blocked K).
func store(w *writer, l string, mr, nv, vecBytes int, mov string, reg func(r, v int) string) {
	w.p("%s_store:", l)
	w.p("\tMOVQ c+40(FP), DI")
	w.p("\tMOVQ ldc+48(FP), R13")
	w.p("\tMOVQ accum+56(FP), AX")
	w.p("\tTESTQ AX, AX")
	w.p("\tJZ %s_put", l)
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			w.p("\tVPADDD %d(DI), %s, %s", vecBytes*v, reg(r, v), reg(r, v))
		}
		if r < mr-1 {
			w.p("\tADDQ R13, DI")
		}
	}
	w.p("\tMOVQ c+40(FP), DI")
	w.p("%s_put:", l)
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			w.p("\t%s %s, %d(DI)", mov, reg(r, v), vecBytes*v)
		}
		if r < mr-1 {
			w.p("\tADDQ R13, DI")
		}
	}
	w.p("\tVZEROUPPER")
	w.p("\tRET")
	w.p("")
}

// vexDPBUSD encodes the VEX.256 form of VPDPBUSD ymmD, ymmU, ymmS
// (D += u8(U)·s8(S)), which the Go assembler cannot write.
func vexDPBUSD(d, u, s int) string {
	b2 := 0x02 | 0x40 // X̄ = 1, map 0F38
	if d < 8 {
		b2 |= 0x80
	}
	if s < 8 {
		b2 |= 0x20
	}
	b3 := ((^u)&15)<<3 | 1<<2 | 0x01
	modrm := 0xC0 | (d&7)<<3 | s&7
	return fmt.Sprintf("BYTE $0xC4; BYTE $0x%02X; BYTE $0x%02X; BYTE $0x50; BYTE $0x%02X // VPDPBUSD Y%d, Y%d, Y%d (VEX)", b2, b3, modrm, s, u, d)
}

// genYMM emits an AVX-VNNI MR×16 kernel on 16 ymm registers: accumulators
// Y0–Y11 (MR·2 of them, or two sets for MR ≤ 3), B in Y12–Y13, the A quad
// broadcast in Y14.
func genYMM(w *writer, is isa, mr int) {
	nv := 2
	prologue(w, is, mr, nv)
	sets := 1
	if mr <= 3 {
		sets = 2 // hide VPDPBUSD latency with two accumulator sets
	}
	accS := func(s, r, v int) int { return s*mr*nv + r*nv + v }
	acc := func(r, v int) int { return accS(0, r, v) }
	for s := 0; s < sets; s++ {
		for r := 0; r < mr; r++ {
			for v := 0; v < nv; v++ {
				w.p("\tVPXOR Y%d, Y%d, Y%d", accS(s, r, v), accS(s, r, v), accS(s, r, v))
			}
		}
	}
	l := fname(is, mr, nv)
	vnniStep := func(s int, bOff string, disp int) {
		w.p("\tVMOVDQU %s, Y12", fmt.Sprintf(bOff, 0))
		w.p("\tVMOVDQU %s, Y13", fmt.Sprintf(bOff, 32))
		for r := 0; r < mr; r++ {
			w.p("\tVPBROADCASTD %s, Y14", rowAddr(r, disp))
			for v := 0; v < nv; v++ {
				w.p("\t%s", vexDPBUSD(accS(s, r, v), 14, 12+v))
			}
		}
	}
	if sets == 2 {
		w.p("\tMOVQ CX, R13")
		w.p("\tSHRQ $1, R13")
		w.p("\tJZ %s_tail", l)
		w.p("%s_loop2:", l)
		vnniStep(0, "%d(BX)", 0)
		vnniStep(1, "%d(BX)(R8*1)", 4)
		advanceA(w, mr, 8)
		w.p("\tLEAQ (BX)(R8*2), BX")
		w.p("\tDECQ R13")
		w.p("\tJNZ %s_loop2", l)
		w.p("%s_tail:", l)
		w.p("\tTESTQ $1, CX")
		w.p("\tJZ %s_sum", l)
		vnniStep(0, "%d(BX)", 0)
		w.p("%s_sum:", l)
		for r := 0; r < mr; r++ {
			for v := 0; v < nv; v++ {
				w.p("\tVPADDD Y%d, Y%d, Y%d", accS(1, r, v), acc(r, v), acc(r, v))
			}
		}
		store(w, l, mr, nv, 32, "VMOVDQU", func(r, v int) string { return fmt.Sprintf("Y%d", acc(r, v)) })
		return
	}
	w.p("\tTESTQ CX, CX")
	w.p("\tJZ %s_store", l)
	w.p("%s_loop:", l)
	vnniStep(0, "%d(BX)", 0)
	advanceA(w, mr, 4)
	w.p("\tADDQ R8, BX")
	w.p("\tDECQ CX")
	w.p("\tJNZ %s_loop", l)
	store(w, l, mr, nv, 32, "VMOVDQU", func(r, v int) string { return fmt.Sprintf("Y%d", acc(r, v)) })
}

// genAVX2 emits an exact AVX2 MR×16 kernel (MR ≤ 3). VPMADDUBSW would
// saturate on full 8-bit activations, so B comes pre-widened to int16 (same
// quad layout, 2 bytes per weight) and each A quad is widened with
// VPMOVZXBW; VPMADDWD then sums k pairs exactly. Accumulator Y(4r+g) holds,
// for channels 4g..4g+3, the two pair sums of each channel side by side; the
// store folds them with VPHADDD and restores channel order with VPERMQ.
func genAVX2(w *writer, is isa, mr int) {
	nv := 2
	prologue(w, is, mr, nv)
	acc := func(r, g int) int { return 4*r + g }
	for r := 0; r < mr; r++ {
		for g := 0; g < 4; g++ {
			w.p("\tVPXOR Y%d, Y%d, Y%d", acc(r, g), acc(r, g), acc(r, g))
		}
	}
	l := fname(is, mr, nv)
	w.p("\tTESTQ CX, CX")
	w.p("\tJZ %s_fold", l)
	w.p("%s_loop:", l)
	for r := 0; r < mr; r++ {
		w.p("\tVPBROADCASTD %s, X12", rowAddr(r, 0))
		w.p("\tVPMOVZXBW X12, Y12")
		for g := 0; g < 4; g++ {
			t := 13 + (r*4+g)%3
			w.p("\tVPMADDWD %d(BX), Y12, Y%d", 32*g, t)
			w.p("\tVPADDD Y%d, Y%d, Y%d", t, acc(r, g), acc(r, g))
		}
	}
	advanceA(w, mr, 4)
	w.p("\tADDQ R8, BX")
	w.p("\tDECQ CX")
	w.p("\tJNZ %s_loop", l)
	w.p("%s_fold:", l)
	for r := 0; r < mr; r++ {
		for h := 0; h < 2; h++ {
			w.p("\tVPHADDD Y%d, Y%d, Y%d", acc(r, 2*h+1), acc(r, 2*h), acc(r, h))
			w.p("\tVPERMQ $0xd8, Y%d, Y%d", acc(r, h), acc(r, h))
		}
	}
	store(w, l, mr, nv, 32, "VMOVDQU", func(r, v int) string { return fmt.Sprintf("Y%d", acc(r, v)) })
}

// Epilogue kinds of the generated AVX-512 epilogues.
var epiKinds = []string{"I32", "Q8", "F32"}

func epiName(kind string, zw bool, nch int) string {
	z := ""
	if zw {
		z = "ZW"
	}
	return fmt.Sprintf("epi%s%s_%dc_AVX512", kind, z, 16*nch)
}

// genEpi512 emits the AVX-512 epilogue for one output kind, with or without
// the weight-zero-point term, for panels of nch 16-column chunks. Per-column
// vectors (colComp, zw, mult, bias) are loaded once per call and kept in
// Z4–Z19, so the row loop only reads the raw tile and writes the output;
// the last chunk's store is masked to the valid columns. For Q8 the value
// is capped at 2³⁰ (VMINPS with the value second, so NaN passes through),
// rounded half to even by VCVTPS2DQ (Go's default MXCSR), which turns NaN,
// −Inf and anything below −2³¹ into INT32_MIN, clamped to
// [Min−zp, Max−zp] and offset by zp: exactly requantF32, whose NaN and
// −2⁴⁰ cases give Min and +2⁴⁰ gives Max. A nil bias is skipped with
// merge-masking (K7 = 0), which keeps −0 in float output.
func genEpi512(w *writer, kind string, zw bool, nch int) {
	l := epiName(kind, zw, nch)
	w.p("// func %s(e *epiArgs)", l)
	w.p("// Requires: AVX512F, AVX512BW, AVX512VL")
	w.p("TEXT ·%s(SB), NOSPLIT, $0-8", l)
	w.p("\tMOVQ e+0(FP), R13")
	w.p("\tMOVL $0xffff, AX")
	for j := 0; j < nch-1; j++ {
		w.p("\tKMOVW AX, K%d", j+1)
	}
	w.p("\tMOVQ 16(R13), CX")
	if nch > 1 {
		w.p("\tSUBQ $%d, CX", 16*(nch-1))
	}
	w.p("\tMOVL $1, AX")
	w.p("\tSHLL CX, AX")
	w.p("\tDECL AX")
	w.p("\tKMOVW AX, K%d", nch)
	w.p("\tMOVQ 24(R13), R10")
	for j := 0; j < nch; j++ {
		w.p("\tVMOVDQU32.Z %d(R10), K%d, Z%d", 64*j, j+1, 4+j)
	}
	if zw {
		w.p("\tMOVQ 32(R13), R11")
		for j := 0; j < nch; j++ {
			w.p("\tVMOVDQU32.Z %d(R11), K%d, Z%d", 64*j, j+1, 16+j)
		}
		w.p("\tMOVQ 40(R13), R12")
	}
	if kind != "I32" {
		w.p("\tMOVQ 72(R13), AX")
		for j := 0; j < nch; j++ {
			w.p("\tVMOVUPS.Z %d(AX), K%d, Z%d", 64*j, j+1, 8+j)
		}
		w.p("\tKXORW K7, K7, K7")
		w.p("\tMOVQ 80(R13), BX")
		w.p("\tTESTQ BX, BX")
		w.p("\tJZ %s_nobias", l)
		for j := 0; j < nch; j++ {
			w.p("\tVMOVUPS.Z %d(BX), K%d, Z%d", 64*j, j+1, 12+j)
		}
		w.p("\tMOVL $0xffff, AX")
		w.p("\tKMOVW AX, K7")
		w.p("%s_nobias:", l)
	}
	if kind == "Q8" {
		w.p("\tMOVL $0x4e800000, AX // 2³⁰")
		w.p("\tVPBROADCASTD AX, Z27")
		w.p("\tVPBROADCASTD 88(R13), Z28")
		w.p("\tMOVQ 96(R13), AX")
		w.p("\tSUBQ 88(R13), AX")
		w.p("\tVPBROADCASTD AX, Z29 // Min − zp")
		w.p("\tMOVQ 104(R13), AX")
		w.p("\tSUBQ 88(R13), AX")
		w.p("\tVPBROADCASTD AX, Z30 // Max − zp")
	}
	w.p("\tMOVQ 0(R13), DI")
	w.p("\tMOVQ 8(R13), R8")
	w.p("\tMOVQ 56(R13), SI")
	w.p("\tMOVQ 64(R13), DX")
	w.p("%s_row:", l)
	if zw {
		w.p("\tVPBROADCASTD (R12), Z25")
		w.p("\tADDQ $4, R12")
	}
	for j := 0; j < nch; j++ {
		v := fmt.Sprintf("Z%d", j)
		w.p("\tVPADDD %d(DI), Z%d, %s", 64*j, 4+j, v)
		if zw {
			w.p("\tVPMULLD Z%d, Z25, Z%d", 16+j, 20+j)
			w.p("\tVPSUBD Z%d, %s, %s", 20+j, v, v)
		}
		switch kind {
		case "I32":
			w.p("\tVMOVDQU32 %s, K%d, %d(SI)", v, j+1, 64*j)
		case "F32":
			w.p("\tVCVTDQ2PS %s, %s", v, v)
			w.p("\tVMULPS Z%d, %s, %s", 8+j, v, v)
			w.p("\tVADDPS Z%d, %s, K7, %s", 12+j, v, v)
			w.p("\tVMOVUPS %s, K%d, %d(SI)", v, j+1, 64*j)
		case "Q8":
			w.p("\tVCVTDQ2PS %s, %s", v, v)
			w.p("\tVMULPS Z%d, %s, %s", 8+j, v, v)
			w.p("\tVADDPS Z%d, %s, K7, %s", 12+j, v, v)
			w.p("\tVMINPS %s, Z27, %s", v, v)
			w.p("\tVCVTPS2DQ %s, %s", v, v)
			w.p("\tVPMAXSD Z29, %s, %s", v, v)
			w.p("\tVPMINSD Z30, %s, %s", v, v)
			w.p("\tVPADDD Z28, %s, %s", v, v)
			w.p("\tVPMOVDB %s, X%d", v, j)
			w.p("\tVMOVDQU8 X%d, K%d, %d(SI)", j, j+1, 16*j)
		}
	}
	w.p("\tADDQ $%d, DI", 4*64)
	w.p("\tADDQ DX, SI")
	w.p("\tDECQ R8")
	w.p("\tJNZ %s_row", l)
	w.p("\tVZEROUPPER")
	w.p("\tRET")
	w.p("")
}

const header = "// Code generated by go run ./internal/gen; DO NOT EDIT.\n\n"

func main() {
	dir := flag.String("dir", ".", "output directory (the kernels package)")
	flag.Parse()
	var s, g writer
	s.WriteString(header)
	s.p("//go:build amd64 && !purego")
	s.p("")
	s.p("#include \"textflag.h\"")
	s.p("")
	g.WriteString(header)
	g.p("//go:build amd64 && !purego")
	g.p("")
	g.p("package kernels")
	g.p("")
	for _, is := range isas {
		for nv := 1; nv <= is.maxNV; nv++ {
			for mr := 1; mr <= is.mrMax[nv]; mr++ {
				switch is.name {
				case "AVX512VNNI":
					genAVX512(&s, is, mr, nv)
				case "AVX2":
					genAVX2(&s, is, mr)
				default:
					genYMM(&s, is, mr)
				}
				g.p("// %s computes an %d×%d raw dot-product tile (see dotFunc).", fname(is, mr, nv), mr, nv*is.vecCols)
				g.p("//")
				g.p("//go:noescape")
				g.p("func %s(k4 int, a *uint8, lda int, b *%s, bstride int, c *int32, ldc int, accum int)", fname(is, mr, nv), is.bType())
				g.p("")
			}
		}
		g.p("// dot%s[nv][mr] is the %s microkernel for mr rows and nv·%d columns.", is.name, is.name, is.vecCols)
		g.p("var dot%s = [][]%s{", is.name, is.funcType())
		for nv := 0; nv <= is.maxNV; nv++ {
			if is.mrMax[nv] == 0 {
				g.p("\tnil,")
				continue
			}
			g.p("\t{nil,")
			for mr := 1; mr <= is.mrMax[nv]; mr++ {
				g.p("\t\t%s,", fname(is, mr, nv))
			}
			g.p("\t},")
		}
		g.p("}")
		g.p("")
	}
	g.p("// epiAVX512Tab[kind][zw][nch] is the AVX-512 epilogue for output kind")
	g.p("// (0 int32, 1 requantized bytes, 2 float32), with (zw = 1) or without the")
	g.p("// weight-zero-point term, for panels of nch 16-column chunks.")
	g.p("var epiAVX512Tab = [3][2][5]func(*epiArgs){")
	for _, kind := range epiKinds {
		g.p("\t{")
		for _, zw := range []bool{false, true} {
			g.p("\t\t{nil,")
			for nch := 1; nch <= 4; nch++ {
				genEpi512(&s, kind, zw, nch)
				g.p("\t\t\t%s,", epiName(kind, zw, nch))
			}
			g.p("\t\t},")
		}
		g.p("\t},")
	}
	g.p("}")
	g.p("")
	for _, kind := range epiKinds {
		for _, zw := range []bool{false, true} {
			for nch := 1; nch <= 4; nch++ {
				g.p("// %s is a generated AVX-512 epilogue (see epiAVX512Tab).", epiName(kind, zw, nch))
				g.p("//")
				g.p("//go:noescape")
				g.p("func %s(e *epiArgs)", epiName(kind, zw, nch))
				g.p("")
			}
		}
	}
	if err := os.WriteFile(filepath.Join(*dir, "gemm_kernels_amd64.s"), s.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	src, err := format.Source(g.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*dir, "gemm_kernels_amd64.go"), src, 0o644); err != nil {
		log.Fatal(err)
	}
}
