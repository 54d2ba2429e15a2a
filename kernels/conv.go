package kernels

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
	if len(src) < n*c*hw || len(dst) < n*c*hw {
		panic("kernels: NCHWToNHWC: slice too short")
	}
	for i := 0; i < n; i++ {
		s := src[i*c*hw : (i+1)*c*hw]
		d := dst[i*c*hw : (i+1)*c*hw]
		// Blocks of 8 channels keep 8 source rows in cache while writing.
		ch := 0
		for ; ch+8 <= c; ch += 8 {
			r0, r1, r2, r3 := s[ch*hw:(ch+1)*hw], s[(ch+1)*hw:(ch+2)*hw], s[(ch+2)*hw:(ch+3)*hw], s[(ch+3)*hw:(ch+4)*hw]
			r4, r5, r6, r7 := s[(ch+4)*hw:(ch+5)*hw], s[(ch+5)*hw:(ch+6)*hw], s[(ch+6)*hw:(ch+7)*hw], s[(ch+7)*hw:(ch+8)*hw]
			for p := 0; p < hw; p++ {
				o := d[p*c+ch : p*c+ch+8]
				o[0], o[1], o[2], o[3] = r0[p], r1[p], r2[p], r3[p]
				o[4], o[5], o[6], o[7] = r4[p], r5[p], r6[p], r7[p]
			}
		}
		for ; ch < c; ch++ {
			r := s[ch*hw : (ch+1)*hw]
			for p, v := range r {
				d[p*c+ch] = v
			}
		}
	}
}

// NHWCToNCHW is the inverse of NCHWToNHWC:
// dst[(i·c+ch)·hw+p] = src[(i·hw+p)·c+ch].
func NHWCToNCHW(dst, src []uint8, n, c, hw int) {
	if len(src) < n*c*hw || len(dst) < n*c*hw {
		panic("kernels: NHWCToNCHW: slice too short")
	}
	for i := 0; i < n; i++ {
		s := src[i*c*hw : (i+1)*c*hw]
		d := dst[i*c*hw : (i+1)*c*hw]
		for ch := 0; ch < c; ch++ {
			r := d[ch*hw : (ch+1)*hw]
			for p := range r {
				r[p] = s[p*c+ch]
			}
		}
	}
}

// Im2ColNHWC writes the im2col matrix of n channel-minor (NDHWC) images x
// into col: one row per output position (image-major, then od, oh, ow), each
// row Groups·KGroup() bytes laid out as [group][kd][kh][kw][cg]. Taps that
// fall into the padding hold xZP. Group g's GEMM operand is col[g·KGroup():]
// with row stride Groups·KGroup().
func Im2ColNHWC(g *ConvGeom, n int, x []uint8, xZP uint8, col []uint8) {
	g.checkForward()
	cg, kg := g.Cg(), g.KGroup()
	row := g.Groups * kg
	inImg := g.InSpatial() * g.C
	if len(x) < n*inImg || len(col) < n*g.OutSpatial()*row {
		panic("kernels: Im2ColNHWC: slice too short")
	}
	r := 0
	for i := 0; i < n; i++ {
		img := x[i*inImg : (i+1)*inImg]
		for od := 0; od < g.OD; od++ {
			for oh := 0; oh < g.OH; oh++ {
				for ow := 0; ow < g.OW; ow++ {
					dst := col[r*row : (r+1)*row]
					r++
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
									switch {
									case cg == 1 && g.Groups == 1:
										dst[t] = src[0]
									case g.Groups == 1:
										copy(dst[t*cg:(t+1)*cg], src[:cg])
									default:
										for gr := 0; gr < g.Groups; gr++ {
											copy(dst[gr*kg+t*cg:gr*kg+(t+1)*cg], src[gr*cg:(gr+1)*cg])
										}
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

func fill(b []uint8, v uint8) {
	for i := range b {
		b[i] = v
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
	g.checkForward()
	cg, og, taps := g.Cg(), g.Og(), g.Taps()
	inPlane, outPlane := g.InSpatial(), g.OutSpatial()
	if len(x) < n*g.C*inPlane || len(out) < n*g.O*outPlane || len(w) < g.O*cg*taps {
		panic("kernels: ConvDirectNCHW: slice too short")
	}
	if len(wZP) != 1 && len(wZP) != g.O {
		panic("kernels: ConvDirectNCHW: wZP must have 1 or O entries")
	}
	checkRequant(rq, g.O, 0, 255)
	// Weights minus their zero points, (O, Cg, taps).
	wv := make([]int32, g.O*cg*taps)
	for o := 0; o < g.O; o++ {
		zw := wZP[0]
		if len(wZP) > 1 {
			zw = wZP[o]
		}
		for t, v := range w[o*cg*taps : (o+1)*cg*taps] {
			wv[o*cg*taps+t] = int32(v) - zw
		}
	}
	pd, ph, pw := g.D+2*g.PD, g.H+2*g.PH, g.W+2*g.PW
	padded := make([]int32, pd*ph*pw)
	acc := make([]int32, og*outPlane)
	for i := 0; i < n; i++ {
		for gr := 0; gr < g.Groups; gr++ {
			for j := range acc {
				acc[j] = 0
			}
			for c := 0; c < cg; c++ {
				ci := gr*cg + c
				padPlane(g, x[(i*g.C+ci)*inPlane:(i*g.C+ci+1)*inPlane], xZP, padded, pd, ph, pw)
				for o := 0; o < og; o++ {
					oc := gr*og + o
					directPlane(g, padded, ph, pw, wv[(oc*cg+c)*taps:(oc*cg+c+1)*taps], acc[o*outPlane:(o+1)*outPlane])
				}
			}
			for o := 0; o < og; o++ {
				oc := gr*og + o
				RequantizeRow(acc[o*outPlane:(o+1)*outPlane], oc, rq, out[(i*g.O+oc)*outPlane:(i*g.O+oc+1)*outPlane])
			}
		}
	}
}

// padPlane writes x − xZP into the interior of a zero-padded pd×ph×pw plane.
func padPlane(g *ConvGeom, x []uint8, xZP int32, padded []int32, pd, ph, pw int) {
	for j := range padded {
		padded[j] = 0
	}
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
