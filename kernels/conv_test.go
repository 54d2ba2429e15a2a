package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// convCase is a random grouped convolution for the conv kernel tests.
type convCase struct {
	g   ConvGeom
	n   int
	x   []uint8 // NCDHW
	w   []int8  // (O, Cg, KD, KH, KW)
	xZP int32
	wZP []int32
	rq  *Requant
}

func outDim(in, k, s, p, d int) int {
	if in+2*p-d*(k-1)-1 < 0 {
		return 0
	}
	return (in+2*p-d*(k-1)-1)/s + 1
}

func randConvCase(r *rand.Rand, n, c, o, groups, d, h, w, kd, kh, kw int) *convCase {
	g := ConvGeom{C: c, D: d, H: h, W: w, O: o, Groups: groups, KD: kd, KH: kh, KW: kw,
		SD: 1, SH: 1 + r.Intn(2), SW: 1 + r.Intn(3), DD: 1, DH: 1 + r.Intn(2), DW: 1 + r.Intn(2)}
	if kd > 1 {
		g.SD, g.DD, g.PD = 1+r.Intn(2), 1+r.Intn(2), r.Intn(2)
	}
	g.PH, g.PW = r.Intn(kh+1), r.Intn(kw+1)
	g.OD, g.OH, g.OW = outDim(d, kd, g.SD, g.PD, g.DD), outDim(h, kh, g.SH, g.PH, g.DH), outDim(w, kw, g.SW, g.PW, g.DW)
	if g.OD < 1 || g.OH < 1 || g.OW < 1 {
		g.SH, g.SW, g.DH, g.DW, g.PH, g.PW = 1, 1, 1, 1, kh/2, kw/2
		g.SD, g.DD, g.PD = 1, 1, kd/2
		g.OD, g.OH, g.OW = outDim(d, kd, 1, g.PD, 1), outDim(h, kh, 1, g.PH, 1), outDim(w, kw, 1, g.PW, 1)
	}
	cc := &convCase{g: g, n: n, xZP: int32(r.Intn(256))}
	cc.x = make([]uint8, n*c*d*h*w)
	for i := range cc.x {
		cc.x[i] = uint8(r.Intn(256))
	}
	cc.w = make([]int8, o*(c/groups)*kd*kh*kw)
	for i := range cc.w {
		cc.w[i] = int8(r.Intn(256) - 128)
	}
	if r.Intn(2) == 0 {
		cc.wZP = []int32{int32(r.Intn(9) - 4)}
	} else {
		cc.wZP = make([]int32, o)
		for i := range cc.wZP {
			cc.wZP[i] = int32(r.Intn(9) - 4)
		}
	}
	cc.rq = &Requant{Multiplier: make([]float32, o), Bias: make([]float32, o), ZeroPoint: int32(r.Intn(256)), Min: 0, Max: 255}
	for j := 0; j < o; j++ {
		cc.rq.Multiplier[j] = float32(1e-4 + 1e-3*r.Float64())
		cc.rq.Bias[j] = float32(20 * r.NormFloat64())
	}
	if r.Intn(3) == 0 {
		cc.rq.Min = cc.rq.ZeroPoint
	}
	return cc
}

// naiveConv is the reference: int64 accumulation straight from the
// definition, then RequantizeValue; output NCDHW.
func naiveConv(cc *convCase) []uint8 {
	g := &cc.g
	cg, og := g.Cg(), g.Og()
	out := make([]uint8, cc.n*g.O*g.OutSpatial())
	for i := 0; i < cc.n; i++ {
		for o := 0; o < g.O; o++ {
			zw := cc.wZP[0]
			if len(cc.wZP) > 1 {
				zw = cc.wZP[o]
			}
			for od := 0; od < g.OD; od++ {
				for oh := 0; oh < g.OH; oh++ {
					for ow := 0; ow < g.OW; ow++ {
						var acc int64
						for c := 0; c < cg; c++ {
							ci := (o/og)*cg + c
							for kd := 0; kd < g.KD; kd++ {
								for kh := 0; kh < g.KH; kh++ {
									for kw := 0; kw < g.KW; kw++ {
										id, ih, iw := od*g.SD-g.PD+kd*g.DD, oh*g.SH-g.PH+kh*g.DH, ow*g.SW-g.PW+kw*g.DW
										xv := cc.xZP
										if id >= 0 && id < g.D && ih >= 0 && ih < g.H && iw >= 0 && iw < g.W {
											xv = int32(cc.x[(((i*g.C+ci)*g.D+id)*g.H+ih)*g.W+iw])
										}
										wv := int32(cc.w[(((o*cg+c)*g.KD+kd)*g.KH+kh)*g.KW+kw])
										acc += int64(xv-cc.xZP) * int64(wv-zw)
									}
								}
							}
						}
						out[(((i*g.O+o)*g.OD+od)*g.OH+oh)*g.OW+ow] = uint8(RequantizeValue(int32(acc), o, cc.rq))
					}
				}
			}
		}
	}
	return out
}

// im2colConv runs the NHWC im2col + GEMM path the ops package uses.
func im2colConv(cc *convCase) []uint8 {
	g := &cc.g
	is, os := g.InSpatial(), g.OutSpatial()
	xn := make([]uint8, cc.n*is*g.C)
	NCHWToNHWC(xn, cc.x, cc.n, g.C, is)
	row := g.Groups * g.KGroup()
	col := make([]uint8, cc.n*os*row)
	Im2ColNHWC(g, cc.n, xn, uint8(cc.xZP), col)
	yn := make([]uint8, cc.n*os*g.O)
	og := g.Og()
	for gr := 0; gr < g.Groups; gr++ {
		p := PackWeights(ConvWeightsToGemm(g, cc.w, gr), og, g.KGroup())
		zp := cc.wZP
		if len(zp) > 1 {
			zp = zp[gr*og : (gr+1)*og]
		}
		rq := *cc.rq
		if len(rq.Multiplier) > 1 {
			rq.Multiplier = cc.rq.Multiplier[gr*og : (gr+1)*og]
		}
		if rq.Bias != nil {
			rq.Bias = cc.rq.Bias[gr*og : (gr+1)*og]
		}
		GemmU8S8Requant(cc.n*os, col[gr*g.KGroup():], row, cc.xZP, p, zp, &rq, yn[gr*og:], g.O)
	}
	out := make([]uint8, len(yn))
	NHWCToNCHW(out, yn, cc.n, g.O, os)
	return out
}

func convCases(r *rand.Rand) []*convCase {
	var cs []*convCase
	for _, s := range []struct{ n, c, o, groups, d, h, w, kd, kh, kw int }{
		{1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		{2, 1, 5, 1, 1, 9, 11, 1, 3, 3},   // single input channel
		{1, 1, 16, 1, 1, 12, 12, 1, 5, 5}, // conv b shape, smaller
		{2, 7, 7, 7, 1, 8, 13, 1, 3, 3},   // depthwise
		{1, 6, 12, 6, 1, 7, 7, 1, 3, 2},   // one input channel per group, multiplier 2
		{3, 4, 6, 2, 1, 5, 6, 1, 2, 3},
		{1, 17, 9, 1, 1, 4, 5, 1, 1, 1}, // pointwise
		{2, 3, 4, 1, 1, 1, 15, 1, 1, 4}, // 1-D
		{1, 4, 4, 2, 4, 5, 4, 3, 3, 2},  // 3-D
		{1, 3, 3, 3, 3, 4, 5, 2, 2, 2},  // 3-D depthwise
		{1, 9, 3, 1, 1, 6, 6, 1, 7, 7},  // kernel larger than the input with padding
	} {
		for rep := 0; rep < 3; rep++ {
			cs = append(cs, randConvCase(r, s.n, s.c, s.o, s.groups, s.d, s.h, s.w, s.kd, s.kh, s.kw))
		}
	}
	return cs
}

func TestConvPathsMatchNaive(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for ci, cc := range convCases(r) {
		want := naiveConv(cc)
		got := im2colConv(cc)
		const guard = 0xA5
		direct := make([]uint8, len(want)+16)
		for i := range direct {
			direct[i] = guard
		}
		ConvDirectNCHW(&cc.g, cc.n, cc.x, cc.xZP, cc.w, cc.wZP, cc.rq, direct)
		for i := len(want); i < len(direct); i++ {
			if direct[i] != guard {
				t.Fatalf("case %d %+v: direct kernel wrote past the output at %d", ci, cc.g, i)
			}
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("case %d %+v: im2col out[%d] = %d, want %d", ci, cc.g, i, got[i], want[i])
			}
			if direct[i] != want[i] {
				t.Fatalf("case %d %+v: direct out[%d] = %d, want %d", ci, cc.g, i, direct[i], want[i])
			}
		}
	}
}

func TestNCHWTransposeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, s := range [][3]int{{1, 1, 1}, {2, 3, 5}, {1, 8, 7}, {3, 17, 4}, {2, 9, 1}, {2, 16, 24}, {1, 64, 67}, {3, 9, 17}, {1, 24, 8}} {
		n, c, hw := s[0], s[1], s[2]
		x := make([]uint8, n*c*hw)
		for i := range x {
			x[i] = uint8(r.Intn(256))
		}
		nhwc := make([]uint8, len(x))
		NCHWToNHWC(nhwc, x, n, c, hw)
		for i := 0; i < n; i++ {
			for ch := 0; ch < c; ch++ {
				for p := 0; p < hw; p++ {
					if nhwc[(i*hw+p)*c+ch] != x[(i*c+ch)*hw+p] {
						t.Fatalf("%v: NHWC[%d,%d,%d] wrong", s, i, p, ch)
					}
				}
			}
		}
		back := make([]uint8, len(x))
		// Two ranges with a split at an odd position, as callers split work.
		mid := hw / 3
		NHWCToNCHWRange(back, nhwc, n, c, hw, mid, hw)
		NHWCToNCHWRange(back, nhwc, n, c, hw, 0, mid)
		again := make([]uint8, len(x))
		NCHWToNHWCRange(again, x, n, c, hw, 0, mid)
		NCHWToNHWCRange(again, x, n, c, hw, mid, hw)
		for i := range again {
			if again[i] != nhwc[i] {
				t.Fatalf("%v: split NCHWToNHWC differs at %d", s, i)
			}
		}
		for i := range x {
			if back[i] != x[i] {
				t.Fatalf("%v: round trip differs at %d", s, i)
			}
		}
	}
}

func TestRequantizeRowMatchesRequantizeValue(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	accs := []int32{0, 1, -1, 5, 7, math.MaxInt32, math.MinInt32, 1 << 24, -(1 << 24) - 1}
	for i := 0; i < 2000; i++ {
		accs = append(accs, int32(r.Uint32()))
	}
	biases := []float32{0, 0.5, -0.5, 2.5, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e30}
	for _, mult := range []float32{0.5, 1, 1e-3, 3.7e-5, 1e10} {
		for _, b := range biases {
			for _, zmm := range [][3]int32{{0, 0, 255}, {128, 0, 255}, {255, 0, 255}, {10, 10, 255}, {3, 0, 127}} {
				rq := &Requant{Multiplier: []float32{mult}, Bias: []float32{b}, ZeroPoint: zmm[0], Min: zmm[1], Max: zmm[2]}
				out := make([]uint8, len(accs))
				RequantizeRow(accs, 0, rq, out)
				for i, a := range accs {
					if want := uint8(RequantizeValue(a, 0, rq)); out[i] != want {
						t.Fatalf("mult %v bias %v zp/min/max %v acc %d: got %d, want %d", mult, b, zmm, a, out[i], want)
					}
				}
			}
		}
	}
}

func TestConvTransposeScatterMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for ci, s := range []struct{ n, c, o, groups, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oph, opw int }{
		{1, 3, 4, 1, 5, 4, 3, 3, 2, 2, 1, 0, 1, 1, 1, 0},
		{2, 4, 6, 2, 4, 4, 2, 3, 1, 2, 0, 1, 1, 1, 0, 1},
		{1, 2, 2, 1, 1, 7, 1, 3, 1, 2, 0, 1, 1, 2, 0, 1},
		{1, 6, 3, 3, 3, 3, 3, 3, 3, 1, 2, 1, 2, 1, 1, 0},
	} {
		g := ConvGeom{C: s.c, D: 1, H: s.h, W: s.w, O: s.o, Groups: s.groups, KD: 1, KH: s.kh, KW: s.kw,
			SD: 1, SH: s.sh, SW: s.sw, PH: s.ph, PW: s.pw, DD: 1, DH: s.dh, DW: s.dw, OD: 1}
		g.OH = (s.h-1)*s.sh - 2*s.ph + s.dh*(s.kh-1) + s.oph + 1
		g.OW = (s.w-1)*s.sw - 2*s.pw + s.dw*(s.kw-1) + s.opw + 1
		og, cg, taps := g.Og(), g.Cg(), g.Taps()
		x := make([]uint8, s.n*s.h*s.w*s.c) // NHWC
		for i := range x {
			x[i] = uint8(r.Intn(256))
		}
		w := make([]int8, s.c*og*taps) // (C, Og, KH, KW)
		for i := range w {
			w[i] = int8(r.Intn(256) - 128)
		}
		const xZP, wZP = 9, -3
		acc := make([]int32, s.n*g.OutSpatial()*s.o)
		for gr := 0; gr < s.groups; gr++ {
			wt := make([]int8, og*taps*cg)
			for c := 0; c < cg; c++ {
				for o := 0; o < og; o++ {
					for tp := 0; tp < taps; tp++ {
						wt[(o*taps+tp)*cg+c] = w[((gr*cg+c)*og+o)*taps+tp]
					}
				}
			}
			cols := make([]int32, s.n*s.h*s.w*og*taps)
			GemmU8S8Acc(s.n*s.h*s.w, x[gr*cg:], s.c, xZP, PackWeights(wt, og*taps, cg), []int32{wZP}, cols, og*taps)
			ConvTransposeScatterNHWC(&g, s.n, gr, cols, og*taps, acc)
		}
		want := make([]int32, len(acc))
		for i := 0; i < s.n; i++ {
			for ih := 0; ih < s.h; ih++ {
				for iw := 0; iw < s.w; iw++ {
					for c := 0; c < s.c; c++ {
						gr := c / cg
						for o := 0; o < og; o++ {
							for kh := 0; kh < s.kh; kh++ {
								for kw := 0; kw < s.kw; kw++ {
									oh, ow := ih*s.sh-s.ph+kh*s.dh, iw*s.sw-s.pw+kw*s.dw
									if oh < 0 || oh >= g.OH || ow < 0 || ow >= g.OW {
										continue
									}
									xv := int32(x[((i*s.h+ih)*s.w+iw)*s.c+c]) - xZP
									wv := int32(w[((c*og+o)*s.kh+kh)*s.kw+kw]) - wZP
									want[((i*g.OH+oh)*g.OW+ow)*s.o+gr*og+o] += xv * wv
								}
							}
						}
					}
				}
			}
		}
		for i := range want {
			if acc[i] != want[i] {
				t.Fatalf("case %d: acc[%d] = %d, want %d", ci, i, acc[i], want[i])
			}
		}
	}
}

// BenchmarkConvDirectVsIm2col compares the two exact conv paths on the
// single-channel and depthwise workloads (the ops package picks one).
func BenchmarkConvDirectVsIm2col(b *testing.B) {
	for _, s := range []struct {
		name                         string
		n, c, o, groups, h, w, k, pd int
	}{
		{"N64_C1_28x28_K16_5x5", 64, 1, 16, 1, 28, 28, 5, 0},
		{"N1_C128_56x56_dw3x3", 1, 128, 128, 128, 56, 56, 3, 1},
	} {
		g := ConvGeom{C: s.c, D: 1, H: s.h, W: s.w, O: s.o, Groups: s.groups, KD: 1, KH: s.k, KW: s.k,
			SD: 1, SH: 1, SW: 1, PH: s.pd, PW: s.pd, DD: 1, DH: 1, DW: 1, OD: 1}
		g.OH, g.OW = outDim(s.h, s.k, 1, s.pd, 1), outDim(s.w, s.k, 1, s.pd, 1)
		r := rand.New(rand.NewSource(1))
		cc := &convCase{g: g, n: s.n, xZP: 3, wZP: []int32{0}}
		cc.x = make([]uint8, s.n*s.c*s.h*s.w)
		for i := range cc.x {
			cc.x[i] = uint8(r.Intn(256))
		}
		cc.w = make([]int8, s.o*g.Cg()*s.k*s.k)
		for i := range cc.w {
			cc.w[i] = int8(r.Intn(256) - 128)
		}
		cc.rq = &Requant{Multiplier: []float32{1e-3}, ZeroPoint: 128, Min: 0, Max: 255}
		ops := 2 * float64(s.n*s.o*g.OutSpatial()*g.KGroup())
		out := make([]uint8, s.n*s.o*g.OutSpatial())
		b.Run(fmt.Sprintf("size=%s/impl=direct", s.name), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ConvDirectNCHW(&cc.g, cc.n, cc.x, cc.xZP, cc.w, cc.wZP, cc.rq, out)
			}
			b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
		b.Run(fmt.Sprintf("size=%s/impl=im2col", s.name), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				im2colConv(cc)
			}
			b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
	}
}
