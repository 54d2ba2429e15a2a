package kernels

import "encoding/binary"

// ConvGeom describes a grouped 3-D convolution over inputs of Groups·Cg
// channels and D×H×W positions, producing O = Groups·Og channels of
// OD×OH×OW positions. 1-D and 2-D convolutions use D = KD = OD = 1 (and
// H = KH = OH = 1), with stride and dilation 1 and padding 0 there.
//
// Output position (od, oh, ow) and tap (kd, kh, kw) read input position
//
//	(od·SD − PD + kd·DD, oh·SH − PH + kh·DH, ow·SW − PW + kw·DW);
//
// taps outside the input read the input zero point ("zero padding" in the
// quantized domain), so they add nothing to the accumulator.
type ConvGeom struct {
	C, D, H, W int // input channels and spatial size
	O          int // output channels
	Groups     int
	KD, KH, KW int // kernel size
	SD, SH, SW int // strides (≥ 1)
	PD, PH, PW int // leading paddings (≥ 0)
	DD, DH, DW int // dilations (≥ 1)
	OD, OH, OW int // output spatial size
}

// Cg returns the input channels per group.
func (g *ConvGeom) Cg() int { return g.C / g.Groups }

// Og returns the output channels per group.
func (g *ConvGeom) Og() int { return g.O / g.Groups }

// Taps returns KD·KH·KW.
func (g *ConvGeom) Taps() int { return g.KD * g.KH * g.KW }

// InSpatial returns D·H·W.
func (g *ConvGeom) InSpatial() int { return g.D * g.H * g.W }

// OutSpatial returns OD·OH·OW.
func (g *ConvGeom) OutSpatial() int { return g.OD * g.OH * g.OW }

// KGroup returns the GEMM reduction length of one group, Cg·KD·KH·KW.
func (g *ConvGeom) KGroup() int { return g.Cg() * g.Taps() }

func (g *ConvGeom) check() {
	if g.Groups < 1 || g.C%g.Groups != 0 || g.O%g.Groups != 0 || g.C < 1 || g.O < 1 ||
		g.KD < 1 || g.KH < 1 || g.KW < 1 || g.SD < 1 || g.SH < 1 || g.SW < 1 ||
		g.DD < 1 || g.DH < 1 || g.DW < 1 || g.PD < 0 || g.PH < 0 || g.PW < 0 ||
		g.D < 0 || g.H < 0 || g.W < 0 || g.OD < 0 || g.OH < 0 || g.OW < 0 {
		panic("kernels: conv: bad geometry")
	}
}

// checkForward also checks that every tap of every output position lies
// within the padded input, as a forward convolution's output size ensures.
func (g *ConvGeom) checkForward() {
	g.check()
	for _, d := range [][5]int{{g.OD, g.SD, g.KD, g.DD, g.D + 2*g.PD}, {g.OH, g.SH, g.KH, g.DH, g.H + 2*g.PH}, {g.OW, g.SW, g.KW, g.DW, g.W + 2*g.PW}} {
		if d[0] > 0 && (d[0]-1)*d[1]+(d[2]-1)*d[3] >= d[4] {
			panic("kernels: conv: output size exceeds the padded input")
		}
	}
}

// NCHWToNHWC transposes n images of c channels and hw positions from
// channel-major (NCHW, NCDHW) to channel-minor (NHWC, NDHWC) layout:
// dst[(i·hw+p)·c+ch] = src[(i·c+ch)·hw+p].
func NCHWToNHWC(dst, src []uint8, n, c, hw int) {
	NCHWToNHWCRange(dst, src, n, c, hw, 0, hw)
}

// NCHWToNHWCRange is NCHWToNHWC restricted to positions [p0, p1) of every
// image, so that callers can split the work.
func NCHWToNHWCRange(dst, src []uint8, n, c, hw, p0, p1 int) {
	if len(src) < n*c*hw || len(dst) < n*c*hw || p0 < 0 || p1 > hw || p0 > p1 {
		panic("kernels: NCHWToNHWC: slice too short or bad range")
	}
	for i := 0; i < n; i++ {
		transposeBytes(dst[i*c*hw:(i+1)*c*hw], src[i*c*hw:(i+1)*c*hw], c, hw, p0, p1)
	}
}

// transposeBytes writes the transpose of the rows×cols matrix src
// (row-major) into dst (cols×rows, row-major), for columns [c0, c1) only.
// It moves 8×8 blocks through registers.
func transposeBytes(dst, src []uint8, rows, cols, c0, c1 int) {
	// Column blocks outside, row blocks inside: each block of 8 destination
	// rows is finished before the next, and the source is read through one
	// cache line per row.
	r8 := rows &^ 7
	c := c0
	for ; c+8 <= c1; c += 8 {
		for r := 0; r < r8; r += 8 {
			block8(dst, src, c*rows+r, rows, r*cols+c, cols)
		}
	}
	for ; c < c1; c++ {
		for r := 0; r < r8; r++ {
			dst[c*rows+r] = src[r*cols+c]
		}
	}
	for r := r8; r < rows; r++ {
		row := src[r*cols : (r+1)*cols]
		for c := c0; c < c1; c++ {
			dst[c*rows+r] = row[c]
		}
	}
}

// transpose8x8 transposes the 8×8 byte matrix whose row k is mk (byte j
// of row k at bits 8j) by swapping 4×4, then 2×2, then 1×1 blocks. The
// matrix travels in registers (eight arguments and eight results).
func transpose8x8(m0, m1, m2, m3, m4, m5, m6, m7 uint64) (uint64, uint64, uint64, uint64, uint64, uint64, uint64, uint64) {
	const lo4, hi4 = 0x00000000FFFFFFFF, 0xFFFFFFFF00000000
	m0, m4 = m0&lo4|m4<<32, m0>>32|m4&hi4
	m1, m5 = m1&lo4|m5<<32, m1>>32|m5&hi4
	m2, m6 = m2&lo4|m6<<32, m2>>32|m6&hi4
	m3, m7 = m3&lo4|m7<<32, m3>>32|m7&hi4
	const lo2, hi2 = 0x0000FFFF0000FFFF, 0xFFFF0000FFFF0000
	m0, m2 = m0&lo2|(m2&lo2)<<16, (m0>>16)&lo2|m2&hi2
	m1, m3 = m1&lo2|(m3&lo2)<<16, (m1>>16)&lo2|m3&hi2
	m4, m6 = m4&lo2|(m6&lo2)<<16, (m4>>16)&lo2|m6&hi2
	m5, m7 = m5&lo2|(m7&lo2)<<16, (m5>>16)&lo2|m7&hi2
	const lo1, hi1 = 0x00FF00FF00FF00FF, 0xFF00FF00FF00FF00
	m0, m1 = m0&lo1|(m1&lo1)<<8, (m0>>8)&lo1|m1&hi1
	m2, m3 = m2&lo1|(m3&lo1)<<8, (m2>>8)&lo1|m3&hi1
	m4, m5 = m4&lo1|(m5&lo1)<<8, (m4>>8)&lo1|m5&hi1
	m6, m7 = m6&lo1|(m7&lo1)<<8, (m6>>8)&lo1|m7&hi1
	return m0, m1, m2, m3, m4, m5, m6, m7
}

// block8 moves one 8×8 byte block: rows of src at s, s+ss, …, s+7·ss are
// transposed into rows of dst at d, d+ds, …, d+7·ds.
func block8(dst, src []uint8, d, ds, s, ss int) {
	le := binary.LittleEndian
	t0, t1, t2, t3, t4, t5, t6, t7 := transpose8x8(
		le.Uint64(src[s:]), le.Uint64(src[s+ss:]), le.Uint64(src[s+2*ss:]), le.Uint64(src[s+3*ss:]),
		le.Uint64(src[s+4*ss:]), le.Uint64(src[s+5*ss:]), le.Uint64(src[s+6*ss:]), le.Uint64(src[s+7*ss:]))
	le.PutUint64(dst[d:], t0)
	le.PutUint64(dst[d+ds:], t1)
	le.PutUint64(dst[d+2*ds:], t2)
	le.PutUint64(dst[d+3*ds:], t3)
	le.PutUint64(dst[d+4*ds:], t4)
	le.PutUint64(dst[d+5*ds:], t5)
	le.PutUint64(dst[d+6*ds:], t6)
	le.PutUint64(dst[d+7*ds:], t7)
}

// NHWCToNCHW is the inverse of NCHWToNHWC:
// dst[(i·c+ch)·hw+p] = src[(i·hw+p)·c+ch].
func NHWCToNCHW(dst, src []uint8, n, c, hw int) {
	NHWCToNCHWRange(dst, src, n, c, hw, 0, hw)
}

// NHWCToNCHWRange is NHWCToNCHW restricted to positions [p0, p1) of every
// image.
func NHWCToNCHWRange(dst, src []uint8, n, c, hw, p0, p1 int) {
	if len(src) < n*c*hw || len(dst) < n*c*hw || p0 < 0 || p1 > hw || p0 > p1 {
		panic("kernels: NHWCToNCHW: slice too short or bad range")
	}
	for i := 0; i < n; i++ {
		transposeRows(dst[i*c*hw:(i+1)*c*hw], src[i*c*hw:(i+1)*c*hw], hw, c, p0, p1)
	}
}

// transposeRows writes the transpose of the rows×cols matrix src into dst
// (cols×rows) for rows [r0, r1) only, in 8×8 blocks.
func transposeRows(dst, src []uint8, rows, cols, r0, r1 int) {
	// Row blocks outside, column blocks inside: 8 source rows are read
	// whole before moving on, and the destination is written through one
	// cache line per column.
	c8 := cols &^ 7
	r := r0
	for ; r+8 <= r1; r += 8 {
		for c := 0; c < c8; c += 8 {
			block8(dst, src, c*rows+r, rows, r*cols+c, cols)
		}
	}
	for ; r < r1; r++ {
		for c := 0; c < c8; c++ {
			dst[c*rows+r] = src[r*cols+c]
		}
	}
	for c := c8; c < cols; c++ {
		d := dst[c*rows : (c+1)*rows]
		for r := r0; r < r1; r++ {
			d[r] = src[r*cols+c]
		}
	}
}

// Im2ColNHWC writes the im2col matrix of n channel-minor (NDHWC) images x
// into col: one row per output position (image-major, then od, oh, ow), each
// row Groups·KGroup() bytes laid out as [group][kd][kh][kw][cg]. Taps that
// fall into the padding, or past it (PyTorch's output size may let the
// last window overhang), hold xZP. Group g's GEMM operand is col[g·KGroup():]
// with row stride Groups·KGroup().
func Im2ColNHWC(g *ConvGeom, n int, x []uint8, xZP uint8, col []uint8) {
	Im2ColNHWCRows(g, n, x, xZP, 0, n*g.OutSpatial(), col)
}

// Im2ColNHWCRows writes rows [r0, r1) of the matrix of Im2ColNHWC into col,
// row r at col[(r−r0)·Groups·KGroup():], so that callers can build the
// matrix in cache-sized blocks.
func Im2ColNHWCRows(g *ConvGeom, n int, x []uint8, xZP uint8, r0, r1 int, col []uint8) {
	g.check() // every tap is bounds-checked: taps past the padding read xZP too
	cg, kg := g.Cg(), g.KGroup()
	row := g.Groups * kg
	inImg := g.InSpatial() * g.C
	os := g.OutSpatial()
	if len(x) < n*inImg || len(col) < (r1-r0)*row || r0 < 0 || r0 > r1 || r1 > n*os {
		panic("kernels: Im2ColNHWC: slice too short or bad rows")
	}
	if g.Groups == 1 && g.DW == 1 {
		im2colContig(g, x[:n*inImg], xZP, r0, r1, col[:(r1-r0)*row])
		return
	}
	for r := r0; r < r1; r++ {
		i, pos := r/os, r%os
		od, oh, ow := pos/(g.OH*g.OW), pos/g.OW%g.OH, pos%g.OW
		img := x[i*inImg : (i+1)*inImg]
		dst := col[(r-r0)*row : (r-r0+1)*row]
		t := 0
		for kd := 0; kd < g.KD; kd++ {
			id := od*g.SD - g.PD + kd*g.DD
			for kh := 0; kh < g.KH; kh++ {
				ih := oh*g.SH - g.PH + kh*g.DH
				inRow := id >= 0 && id < g.D && ih >= 0 && ih < g.H
				for kw := 0; kw < g.KW; kw++ {
					iw := ow*g.SW - g.PW + kw*g.DW
					if !inRow || iw < 0 || iw >= g.W {
						for gr := 0; gr < g.Groups; gr++ {
							fill(dst[gr*kg+t*cg:gr*kg+(t+1)*cg], xZP)
						}
					} else {
						src := img[((id*g.H+ih)*g.W+iw)*g.C:]
						for gr := 0; gr < g.Groups; gr++ {
							copy(dst[gr*kg+t*cg:gr*kg+(t+1)*cg], src[gr*cg:(gr+1)*cg])
						}
					}
					t++
				}
			}
		}
	}
}

// im2colContig is Im2ColNHWCRows for one group and width dilation 1, where
// the KW taps of a kernel row are KW·C contiguous input bytes. col holds
// exactly rows [r0, r1). Runs of at most 16 bytes move as 8-byte words; a
// word may spill past its run into bytes written later, never past col.
func im2colContig(g *ConvGeom, x []uint8, xZP uint8, r0, r1 int, col []uint8) {
	// Local copies: the compiler cannot keep *g's fields in registers
	// across the stores into col.
	lC, lD, lH, lW := g.C, g.D, g.H, g.W
	lKD, lKH, lKW := g.KD, g.KH, g.KW
	lSD, lSH, lSW, lPD, lPH, lPW, lDD, lDH := g.SD, g.SH, g.SW, g.PD, g.PH, g.PW, g.DD, g.DH
	lOD, lOH, lOW := g.OD, g.OH, g.OW
	c := lC
	run := lKW * c
	inImg := g.InSpatial() * c
	os := g.OutSpatial()
	i, pos := r0/os, r0%os
	od, oh, ow := pos/(lOH*lOW), pos/lOW%lOH, pos%lOW
	t := 0
	for r := r0; r < r1; r++ {
		img := x[i*inImg : (i+1)*inImg]
		iw0 := ow*lSW - lPW
		inW := iw0 >= 0 && iw0+lKW <= lW
		for kd := 0; kd < lKD; kd++ {
			id := od*lSD - lPD + kd*lDD
			for kh := 0; kh < lKH; kh++ {
				ih := oh*lSH - lPH + kh*lDH
				inRow := id >= 0 && id < lD && ih >= 0 && ih < lH
				switch {
				case inRow && inW:
					s := ((id*lH+ih)*lW + iw0) * c
					switch {
					case run <= 8 && t+8 <= len(col) && s+8 <= len(img):
						binary.LittleEndian.PutUint64(col[t:], binary.LittleEndian.Uint64(img[s:]))
					case run <= 16 && t+16 <= len(col) && s+16 <= len(img):
						binary.LittleEndian.PutUint64(col[t:], binary.LittleEndian.Uint64(img[s:]))
						binary.LittleEndian.PutUint64(col[t+8:], binary.LittleEndian.Uint64(img[s+8:]))
					default:
						copy(col[t:t+run], img[s:s+run])
					}
				case !inRow:
					fill(col[t:t+run], xZP)
				default:
					kw0 := min(max(-iw0, 0), lKW)
					kw1 := max(min(lW-iw0, lKW), kw0)
					seg := col[t : t+run]
					fill(seg[:kw0*c], xZP)
					if kw1 > kw0 {
						copy(seg[kw0*c:kw1*c], img[((id*lH+ih)*lW+iw0+kw0)*c:])
					}
					fill(seg[kw1*c:], xZP)
				}
				t += run
			}
		}
		if ow++; ow == lOW {
			ow = 0
			if oh++; oh == lOH {
				oh = 0
				if od++; od == lOD {
					od = 0
					i++
				}
			}
		}
	}
}

func fill(b []uint8, v uint8) {
	if len(b) <= 16 {
		for i := range b {
			b[i] = v
		}
		return
	}
	b[0] = v
	for i := 1; i < len(b); i *= 2 {
		copy(b[i:], b[:i])
	}
}

// ConvWeightsToGemm reorders the weights of one group for the im2col GEMM:
// w is PyTorch's (O, Cg, KD, KH, KW) layout, and the result holds Og rows
// of KGroup() values in [kd][kh][kw][cg] order, the column order of
// Im2ColNHWC.
func ConvWeightsToGemm(g *ConvGeom, w []int8, group int) []int8 {
	g.check()
	cg, taps, og := g.Cg(), g.Taps(), g.Og()
	if len(w) < g.O*cg*taps || group < 0 || group >= g.Groups {
		panic("kernels: ConvWeightsToGemm: bad weights or group")
	}
	out := make([]int8, og*cg*taps)
	for o := 0; o < og; o++ {
		src := w[(group*og+o)*cg*taps:]
		dst := out[o*cg*taps : (o+1)*cg*taps]
		for c := 0; c < cg; c++ {
			for t := 0; t < taps; t++ {
				dst[t*cg+c] = src[c*taps+t]
			}
		}
	}
	return out
}

// ConvDirectNCHW computes a grouped convolution of n channel-major (NCDHW)
// images directly, without im2col, and requantizes it into out (NCDHW):
//
//	acc[i][o][p] = Σ_{c ∈ group(o), taps} (x − xZP)·(w[o][c][tap] − wZP[o])
//	out[i][o][p] = RequantizeValue(acc, o, rq)
//
// w has PyTorch's (O, Cg, KD, KH, KW) layout; wZP holds 1 or O entries. Each
// input plane is widened once into a zero-padded int32 plane of x − xZP,
// and each output row then accumulates whole rows per tap with no bounds
// tests, so the kernel suits convolutions with few input channels per group
// (depthwise ones above all). Its results are identical to the im2col +
// GEMM path.
func ConvDirectNCHW(g *ConvGeom, n int, x []uint8, xZP int32, w []int8, wZP []int32, rq *Requant, out []uint8) {
	ConvDirectNCHWRange(g, n, x, xZP, w, wZP, rq, out, 0, n*g.Groups)
}

// ConvDirectNCHWRange is ConvDirectNCHW restricted to the (image, group)
// pairs u in [u0, u1), u = image·Groups + group, so that callers can split
// the work.
func ConvDirectNCHWRange(g *ConvGeom, n int, x []uint8, xZP int32, w []int8, wZP []int32, rq *Requant, out []uint8, u0, u1 int) {
	g.checkForward()
	cg, og, taps := g.Cg(), g.Og(), g.Taps()
	inPlane, outPlane := g.InSpatial(), g.OutSpatial()
	if len(x) < n*g.C*inPlane || len(out) < n*g.O*outPlane || len(w) < g.O*cg*taps || u0 < 0 || u0 > u1 || u1 > n*g.Groups {
		panic("kernels: ConvDirectNCHW: slice too short or bad range")
	}
	if len(wZP) != 1 && len(wZP) != g.O {
		panic("kernels: ConvDirectNCHW: wZP must have 1 or O entries")
	}
	checkRequant(rq, g.O, 0, 255)
	pd, ph, pw := g.D+2*g.PD, g.H+2*g.PH, g.W+2*g.PW
	padded := make([]int32, pd*ph*pw)
	acc := make([]int32, og*outPlane)
	wv := make([]int32, og*cg*taps) // one group's weights minus zero points
	lastGroup := -1
	for u := u0; u < u1; u++ {
		i, gr := u/g.Groups, u%g.Groups
		if gr != lastGroup {
			for o := 0; o < og; o++ {
				oc := gr*og + o
				zw := wZP[0]
				if len(wZP) > 1 {
					zw = wZP[oc]
				}
				for t, v := range w[oc*cg*taps : (oc+1)*cg*taps] {
					wv[o*cg*taps+t] = int32(v) - zw
				}
			}
			lastGroup = gr
		}
		for j := range acc {
			acc[j] = 0
		}
		for c := 0; c < cg; c++ {
			ci := gr*cg + c
			padPlane(g, x[(i*g.C+ci)*inPlane:(i*g.C+ci+1)*inPlane], xZP, padded, pd, ph, pw)
			for o := 0; o < og; o++ {
				directPlane(g, padded, ph, pw, wv[(o*cg+c)*taps:(o*cg+c+1)*taps], acc[o*outPlane:(o+1)*outPlane])
			}
		}
		for o := 0; o < og; o++ {
			oc := gr*og + o
			RequantizeRow(acc[o*outPlane:(o+1)*outPlane], oc, rq, out[(i*g.O+oc)*outPlane:(i*g.O+oc+1)*outPlane])
		}
	}
}

// padPlane writes x − xZP into the interior of a pd×ph×pw plane whose
// border the caller has zeroed (it is never written).
func padPlane(g *ConvGeom, x []uint8, xZP int32, padded []int32, pd, ph, pw int) {
	for d := 0; d < g.D; d++ {
		for h := 0; h < g.H; h++ {
			src := x[(d*g.H+h)*g.W : (d*g.H+h+1)*g.W]
			dst := padded[((d+g.PD)*ph+h+g.PH)*pw+g.PW:]
			dst = dst[:len(src)]
			for j, v := range src {
				dst[j] = int32(v) - xZP
			}
		}
	}
}

// directPlane adds one padded input plane's contribution, with the taps'
// weights wv, to one output plane acc.
func directPlane(g *ConvGeom, padded []int32, ph, pw int, wv []int32, acc []int32) {
	ow := g.OW
	if g.KD == 1 && g.KH == 3 && g.KW == 3 && g.SW == 1 {
		direct3x3(g, padded, pw, wv, acc)
		return
	}
	for od := 0; od < g.OD; od++ {
		for oh := 0; oh < g.OH; oh++ {
			dst := acc[(od*g.OH+oh)*ow : (od*g.OH+oh+1)*ow]
			t := 0
			for kd := 0; kd < g.KD; kd++ {
				id := od*g.SD + kd*g.DD
				for kh := 0; kh < g.KH; kh++ {
					row := padded[((id*ph)+oh*g.SH+kh*g.DH)*pw:]
					kw := 0
					if g.SW == 1 {
						for ; kw+3 <= g.KW; kw += 3 {
							w0, w1, w2 := wv[t], wv[t+1], wv[t+2]
							t += 3
							o0 := kw * g.DW
							s0 := row[o0 : o0+ow]
							s1 := row[o0+g.DW : o0+g.DW+ow]
							s2 := row[o0+2*g.DW : o0+2*g.DW+ow]
							for j := range dst {
								dst[j] += s0[j]*w0 + s1[j]*w1 + s2[j]*w2
							}
						}
						for ; kw < g.KW; kw++ {
							w0 := wv[t]
							t++
							s0 := row[kw*g.DW : kw*g.DW+ow]
							for j := range dst {
								dst[j] += s0[j] * w0
							}
						}
						continue
					}
					for ; kw < g.KW; kw++ {
						w0 := wv[t]
						t++
						s0 := row[kw*g.DW:]
						s0 = s0[:(ow-1)*g.SW+1]
						for j := range dst {
							dst[j] += s0[j*g.SW] * w0
						}
					}
				}
			}
		}
	}
}

// direct3x3 is directPlane for a 2-D 3×3 kernel with width stride 1: each
// output element takes its nine taps in one pass.
func direct3x3(g *ConvGeom, padded []int32, pw int, wv []int32, acc []int32) {
	ow := g.OW
	w0, w1, w2, w3, w4, w5, w6, w7, w8 := wv[0], wv[1], wv[2], wv[3], wv[4], wv[5], wv[6], wv[7], wv[8]
	dw := g.DW
	for oh := 0; oh < g.OH; oh++ {
		dst := acc[oh*ow : (oh+1)*ow]
		q0 := padded[(oh*g.SH)*pw:]
		q1 := padded[(oh*g.SH+g.DH)*pw:]
		q2 := padded[(oh*g.SH+2*g.DH)*pw:]
		a0, a1, a2 := q0[:len(dst)], q0[dw:dw+len(dst)], q0[2*dw:2*dw+len(dst)]
		b0, b1, b2 := q1[:len(dst)], q1[dw:dw+len(dst)], q1[2*dw:2*dw+len(dst)]
		c0, c1, c2 := q2[:len(dst)], q2[dw:dw+len(dst)], q2[2*dw:2*dw+len(dst)]
		for j := range dst {
			dst[j] += a0[j]*w0 + a1[j]*w1 + a2[j]*w2 + b0[j]*w3 + b1[j]*w4 + b2[j]*w5 + c0[j]*w6 + c1[j]*w7 + c2[j]*w8
		}
	}
}

// RequantizeRow applies the Requant epilogue of column (channel) j to a run
// of accumulators: out[i] = RequantizeValue(acc[i], j, rq), bit for bit.
func RequantizeRow(acc []int32, j int, rq *Requant, out []uint8) {
	mult := rq.Multiplier[0]
	if len(rq.Multiplier) > 1 {
		mult = rq.Multiplier[j]
	}
	var bias float32
	if rq.Bias != nil {
		bias = rq.Bias[j]
	}
	zp, lo, hi := rq.ZeroPoint, rq.Min, rq.Max
	out = out[:len(acc)]
	for i, a := range acc {
		// Adding 0 for "no bias" is exact (it only turns −0 into +0).
		v := float32(float32(float32(a)*mult) + bias)
		var q int32
		switch {
		case v >= 1<<22: // beyond every int8 output: saturate (also +Inf)
			q = hi
		case !(v > -(1 << 22)): // likewise, and NaN, as RequantizeValue does
			q = lo
		default:
			// In float32, (v + 1.5·2²³) − 1.5·2²³ rounds v to an integer,
			// ties to even, for |v| < 2²².
			q = int32(float32(float32(v+rneMagic)-rneMagic)) + zp
			q = min(max(q, lo), hi)
		}
		out[i] = uint8(q)
	}
}

const rneMagic = float32(1.5 * (1 << 23))

// ConvTransposeScatterNHWC adds the GEMM result of one group of a
// transposed convolution into the channel-minor (NDHWC) accumulator acc of
// n images. cols has one row per input position (image-major, then d, h, w),
// with row stride ldc, holding Og·KD·KH·KW values in [og][kd][kh][kw] order:
// the contribution of that input position to output channel group·Og+og at
// output position (d·SD − PD + kd·DD, h·SH − PH + kh·DH, w·SW − PW + kw·DW).
// Positions outside the output are dropped. In g, (D, H, W) is the input
// size and (OD, OH, OW) the output size; O counts all output channels.
func ConvTransposeScatterNHWC(g *ConvGeom, n, group int, cols []int32, ldc int, acc []int32) {
	g.check()
	og, taps := g.Og(), g.Taps()
	if ldc < og*taps || len(acc) < n*g.OutSpatial()*g.O {
		panic("kernels: ConvTransposeScatterNHWC: bad ldc or short acc")
	}
	r := 0
	for i := 0; i < n; i++ {
		outImg := acc[i*g.OutSpatial()*g.O:]
		for d := 0; d < g.D; d++ {
			for h := 0; h < g.H; h++ {
				for w := 0; w < g.W; w++ {
					src := cols[r*ldc : r*ldc+og*taps]
					r++
					t := 0
					for kd := 0; kd < g.KD; kd++ {
						od := d*g.SD - g.PD + kd*g.DD
						for kh := 0; kh < g.KH; kh++ {
							oh := h*g.SH - g.PH + kh*g.DH
							for kw := 0; kw < g.KW; kw++ {
								ow := w*g.SW - g.PW + kw*g.DW
								if od >= 0 && od < g.OD && oh >= 0 && oh < g.OH && ow >= 0 && ow < g.OW {
									dst := outImg[((od*g.OH+oh)*g.OW+ow)*g.O+group*og:]
									for o := 0; o < og; o++ {
										dst[o] += src[o*taps+t]
									}
								}
								t++
							}
						}
					}
				}
			}
		}
	}
}
