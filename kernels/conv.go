package kernels

import "math"

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
	g.check()
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
									if g.Groups == 1 {
										copy(dst[t*cg:(t+1)*cg], src[:cg])
									} else {
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

// tapRange returns the output indices [lo, hi) whose input index
// o·s − p + k·d lies in [0, n), for o in [0, on).
func tapRange(on, s, p, kd, n int) (lo, hi int) {
	off := kd - p // input index = o·s + off
	lo = 0
	if off < 0 {
		lo = (-off + s - 1) / s
	}
	// o·s + off ≤ n−1  ⇔  o ≤ (n−1−off)/s
	if n-1-off < 0 {
		return 0, 0
	}
	hi = (n-1-off)/s + 1
	if hi > on {
		hi = on
	}
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

// ConvDirectNCHW computes a grouped convolution of n channel-major (NCDHW)
// images directly, without im2col, and requantizes it into out (NCDHW):
//
//	acc[i][o][p] = Σ_{c ∈ group(o), taps} (x − xZP)·(w[o][c][tap] − wZP[o])
//	out[i][o][p] = RequantizeValue(acc, o, rq)
//
// w has PyTorch's (O, Cg, KD, KH, KW) layout; wZP holds 1 or O entries. The
// kernel walks whole output rows per tap, so it suits convolutions with few
// input channels per group (depthwise, C = 1); its results are identical to
// the im2col + GEMM path.
func ConvDirectNCHW(g *ConvGeom, n int, x []uint8, xZP int32, w []int8, wZP []int32, rq *Requant, out []uint8) {
	g.check()
	cg, og, taps := g.Cg(), g.Og(), g.Taps()
	inPlane, outPlane := g.InSpatial(), g.OutSpatial()
	if len(x) < n*g.C*inPlane || len(out) < n*g.O*outPlane || len(w) < g.O*cg*taps {
		panic("kernels: ConvDirectNCHW: slice too short")
	}
	if len(wZP) != 1 && len(wZP) != g.O {
		panic("kernels: ConvDirectNCHW: wZP must have 1 or O entries")
	}
	checkRequant(rq, g.O, 0, 255)
	acc := make([]int32, outPlane)
	wv := make([]int32, cg*taps)
	for o := 0; o < g.O; o++ {
		zw := wZP[0]
		if len(wZP) > 1 {
			zw = wZP[o]
		}
		for t, v := range w[o*cg*taps : (o+1)*cg*taps] {
			wv[t] = int32(v) - zw
		}
		grp := o / og
		for i := 0; i < n; i++ {
			for j := range acc {
				acc[j] = 0
			}
			for c := 0; c < cg; c++ {
				plane := x[(i*g.C+grp*cg+c)*inPlane : (i*g.C+grp*cg+c+1)*inPlane]
				convPlaneAcc(g, plane, xZP, wv[c*taps:(c+1)*taps], acc)
			}
			RequantizeRow(acc, o, rq, out[(i*g.O+o)*outPlane:(i*g.O+o+1)*outPlane])
		}
	}
}

// convPlaneAcc adds one input plane's contribution to one output plane:
// acc[od][oh][ow] += Σ_taps (plane[id][ih][iw] − xZP)·wv[tap].
func convPlaneAcc(g *ConvGeom, plane []uint8, xZP int32, wv []int32, acc []int32) {
	t := 0
	for kd := 0; kd < g.KD; kd++ {
		d0, d1 := tapRange(g.OD, g.SD, g.PD, kd*g.DD, g.D)
		for kh := 0; kh < g.KH; kh++ {
			h0, h1 := tapRange(g.OH, g.SH, g.PH, kh*g.DH, g.H)
			for kw := 0; kw < g.KW; kw++ {
				wt := wv[t]
				t++
				if wt == 0 {
					continue
				}
				w0, w1 := tapRange(g.OW, g.SW, g.PW, kw*g.DW, g.W)
				if w0 >= w1 {
					continue
				}
				offW := kw*g.DW - g.PW
				for od := d0; od < d1; od++ {
					id := od*g.SD - g.PD + kd*g.DD
					for oh := h0; oh < h1; oh++ {
						ih := oh*g.SH - g.PH + kh*g.DH
						src := plane[(id*g.H+ih)*g.W:]
						dst := acc[(od*g.OH+oh)*g.OW : (od*g.OH+oh+1)*g.OW]
						if g.SW == 1 {
							s := src[w0+offW : w1+offW]
							d := dst[w0:w1]
							for j, v := range s {
								d[j] += (int32(v) - xZP) * wt
							}
						} else {
							for ow := w0; ow < w1; ow++ {
								dst[ow] += (int32(src[ow*g.SW+offW]) - xZP) * wt
							}
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
	hasBias := rq.Bias != nil
	if hasBias {
		bias = rq.Bias[j]
	}
	zp := float64(rq.ZeroPoint)
	lo, hi := float64(rq.Min), float64(rq.Max)
	out = out[:len(acc)]
	for i, a := range acc {
		v := float32(float32(a) * mult)
		if hasBias {
			v = float32(v + bias)
		}
		// |v| < 2^40 here keeps r + zp exact; larger values clamp alike.
		r := math.RoundToEven(float64(v)) + zp
		switch {
		case !(r >= lo): // also NaN, as RequantizeValue does
			out[i] = uint8(rq.Min)
		case r > hi:
			out[i] = uint8(rq.Max)
		default:
			out[i] = uint8(int32(r))
		}
	}
}

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
