package kernels

import "unsafe"

// Direct convolution of one input channel per group (depthwise, and the
// C = 1 first layer), 16 output pixels per step.
//
// Each input plane is copied once into a byte plane padded with the input
// zero point. For a block of 16 consecutive output pixels of one output row
// and one kernel row, the bytes under taps 4q … 4q+3 of every pixel are
// gathered from one 64-byte load by a byte permutation (VPERMB): lane i gets
// padded[i·SW + (4q+t)·DW], t < 4, a quad the VPDPBUSD instruction
// multiplies by four weights at once. Each gathered vector feeds up to 16
// output channels of the group (one accumulator each):
//
//	acc[o] = Σ_j dot4(x_j, w[o][j]) + comp[o] − wz[o]·Σ_j dot4(x_j, ones_j)
//
// with comp[o] = −xZP·Σw[o] + taps·xZP·wz[o], which is the exact
// Σ (x − xZP)·(w − wz[o]); the epilogue then equals RequantizeValue. Padded
// taps (4q+t ≥ KW) have weight 0 and a ones entry of 0.

// dwArgs is one call of the direct kernel on one padded input plane; every
// field is 8 bytes wide because the assembly reads them by offset.
type dwArgs struct {
	src      *uint8   // 0: padded plane (window of output pixel (0, 0))
	ldsrc    int      // 8: bytes between the windows of two output rows, SH·Wp
	khStep   int      // 16: bytes between kernel rows, DH·Wp
	kh       int      // 24: kernel rows
	nq       int      // 32: quads per kernel row, ⌈KW/4⌉
	idx      *uint8   // 40: nq permutations of 64 bytes
	blocks   int      // 48: 16-pixel blocks per output row, ⌈OW/16⌉
	blkStep  int      // 56: 16·SW
	tailMask int      // 64: lanes of the last block of a row
	oh       int      // 72: output rows
	og       int      // 80: output channels, 1…16
	w        *int32   // 88: kh·nq × lanes weight quads, [j][o], zero for o ≥ og
	ones     *int32   // 96: kh·nq quads of ones (1 for a real tap)
	comp     *int32   // 104: lanes
	wz       *int32   // 112: lanes weight zero points
	mult     *float32 // 120: lanes
	bias     *float32 // 128: lanes (zeros without bias)
	zp       int64    // 136
	lo       int64    // 144: Min − ZeroPoint
	hi       int64    // 152: Max − ZeroPoint
	out      *uint8   // 160: output channel 0, pixel (0, 0)
	ldout    int      // 168: OW
	outPlane int      // 176: OH·OW
	sumx     int      // 184: 1 when some wz[o] ≠ 0 (the kernels may skip the window sums otherwise)
	wstride  int      // 192: bytes from quad j's weights to quad j+1's: 4·lanes
}

// dwMaxReach is the largest byte offset a lane may read within its 64-byte
// load: lane 15's last tap.
const dwMaxReach = 63

// directU8Fits reports whether the 16-pixel direct kernel handles g: a 1-D
// or 2-D convolution with one input channel per group whose 16 output
// pixels' taps all lie within one 64-byte load.
func directU8Fits(g *ConvGeom) bool {
	return g.Cg() == 1 && g.KD == 1 && g.D == 1 && g.OD == 1 && g.PD == 0 &&
		15*g.SW+(g.KW-1)*g.DW <= dwMaxReach
}

// dwPlan holds what the direct kernel needs of one convolution, built once
// per call and shared read-only by the workers. Output channels are taken
// 16 at a time per group ("chunks"); chunk c of group gr covers channels
// gr·Og + 16c … and its arrays start at index (gr·chunks + c)·lanes (·j
// for w), where lanes is 16, or 1 when Og = 1.
type dwPlan struct {
	g             *ConvGeom
	wp, hp        int // padded plane width and height
	planeLen      int // bytes of a padded plane including the slack of the last load
	nq, j, chunks int // quads per kernel row, quads per channel, chunks per group
	lanes         int // 16, or 1 when Og = 1
	idx           []uint8
	ones          []int32
	w             []int32 // [group][chunk][j][16]
	comp, wz      []int32 // [group][chunk][16]
	mult, bias    []float32
	zp, lo, hi    int64
}

func newDwPlan(g *ConvGeom, xZP int32, w []int8, wZP []int32, rq *Requant) *dwPlan {
	nq := (g.KW + 3) / 4
	og := g.Og()
	pl := &dwPlan{g: g, nq: nq, j: g.KH * nq, chunks: (og + 15) / 16, lanes: 1,
		zp: int64(rq.ZeroPoint), lo: int64(rq.Min - rq.ZeroPoint), hi: int64(rq.Max - rq.ZeroPoint)}
	pl.wp = max(g.W+2*g.PW, (g.OW-1)*g.SW+(g.KW-1)*g.DW+1)
	pl.hp = max(g.H+2*g.PH, (g.OH-1)*g.SH+(g.KH-1)*g.DH+1)
	blocks := (g.OW + 15) / 16
	// The last block's load starts at most here and reads 64 bytes.
	last := (g.OH-1)*g.SH*pl.wp + (g.KH-1)*g.DH*pl.wp + (blocks-1)*16*g.SW
	pl.planeLen = max(pl.wp*pl.hp, last+64)
	pl.idx = make([]uint8, nq*64)
	pl.ones = make([]int32, pl.j)
	for q := 0; q < nq; q++ {
		var one [4]uint8
		for i := 0; i < 16; i++ {
			for t := 0; t < 4; t++ {
				if 4*q+t < g.KW {
					pl.idx[q*64+4*i+t] = uint8(i*g.SW + (4*q+t)*g.DW)
					one[t] = 1
				}
			}
		}
		for kh := 0; kh < g.KH; kh++ {
			pl.ones[kh*nq+q] = int32(*(*uint32)(unsafe.Pointer(&one)))
		}
	}
	taps := int32(g.KH * g.KW)
	if og > 1 {
		pl.lanes = 16
	}
	slots := g.Groups * pl.chunks * pl.lanes
	pl.w = make([]int32, slots*pl.j)
	pl.comp, pl.wz = make([]int32, slots), make([]int32, slots)
	pl.mult, pl.bias = make([]float32, slots), make([]float32, slots)
	for oc := 0; oc < g.O; oc++ {
		gr, o := oc/og, oc%og
		chunk, lane := o/16, o%16
		base := (gr*pl.chunks + chunk) * pl.lanes
		zw := wZP[0]
		if len(wZP) > 1 {
			zw = wZP[oc]
		}
		var sum int32
		for kh := 0; kh < g.KH; kh++ {
			for q := 0; q < nq; q++ {
				var quad [4]int8
				for t := 0; t < 4 && 4*q+t < g.KW; t++ {
					v := w[(oc*g.KH+kh)*g.KW+4*q+t]
					quad[t] = v
					sum += int32(v)
				}
				pl.w[base*pl.j+(kh*nq+q)*pl.lanes+lane] = *(*int32)(unsafe.Pointer(&quad))
			}
		}
		pl.wz[base+lane] = zw
		pl.comp[base+lane] = -xZP*sum + taps*xZP*zw
		pl.mult[base+lane] = rq.Multiplier[0]
		if len(rq.Multiplier) > 1 {
			pl.mult[base+lane] = rq.Multiplier[oc]
		}
		if rq.Bias != nil {
			pl.bias[base+lane] = rq.Bias[oc]
		}
	}
	return pl
}

// convDirectU8Range runs the direct kernel on the (image, group) units
// [u0, u1) of n NCHW images into NCHW out; see directU8Fits.
func convDirectU8Range(g *ConvGeom, n int, x []uint8, pl *dwPlan, xZP uint8, out []uint8, u0, u1 int) {
	og := g.Og()
	inPlane, outPlane := g.H*g.W, g.OH*g.OW
	plane := make([]uint8, pl.planeLen)
	fill(plane, xZP)
	a := dwArgs{
		src: &plane[0], ldsrc: g.SH * pl.wp, khStep: g.DH * pl.wp, kh: g.KH, nq: pl.nq,
		idx: &pl.idx[0], blocks: (g.OW + 15) / 16, blkStep: 16 * g.SW, oh: g.OH,
		ones: &pl.ones[0], zp: pl.zp, lo: pl.lo, hi: pl.hi, ldout: g.OW, outPlane: outPlane,
		wstride: 4 * pl.lanes,
	}
	a.tailMask = 0xffff
	if r := g.OW % 16; r != 0 {
		a.tailMask = 1<<r - 1
	}
	kern := dwKernel(og)
	for u := u0; u < u1; u++ {
		i, gr := u/g.Groups, u%g.Groups
		src := x[(i*g.C+gr)*inPlane : (i*g.C+gr+1)*inPlane]
		copyRows(plane, g.PH*pl.wp+g.PW, pl.wp, src, 0, g.W, g.H, g.W)
		for c := 0; c < pl.chunks; c++ {
			base := (gr*pl.chunks + c) * pl.lanes
			a.og = min(16, og-16*c)
			a.w = &pl.w[base*pl.j]
			a.comp, a.wz, a.mult, a.bias = &pl.comp[base], &pl.wz[base], &pl.mult[base], &pl.bias[base]
			a.sumx = 0
			for _, z := range pl.wz[base : base+pl.lanes] {
				if z != 0 {
					a.sumx = 1
				}
			}
			a.out = &out[(i*g.O+gr*og+16*c)*outPlane]
			kern(&a)
		}
	}
}

// dwGeneric is the Go loop the assembly kernels implement:
//
//	for every output row r < oh, block b < blocks, lane i < 16 in the mask:
//	  s = src + r·ldsrc + b·blkStep
//	  x_j[t] = s[kh·khStep + idx[q][4i+t]]  for j = kh·nq + q, t < 4
//	  for o < og:
//	    acc = Σ_j Σ_t x_j[t]·w[j·lanes + o][t] + comp[o] − wz[o]·Σ_j Σ_t x_j[t]·ones[j][t]
//
// with lanes = wstride/4.
//
//	out[o·outPlane + r·ldout + 16b + i] = requantized acc (see Requant)
func dwGeneric(a *dwArgs) {
	j := a.kh * a.nq
	idx := unsafe.Slice(a.idx, a.nq*64)
	lanes := a.wstride / 4
	ws := unsafe.Slice((*[4]int8)(unsafe.Pointer(a.w)), lanes*j)
	ones := unsafe.Slice((*[4]uint8)(unsafe.Pointer(a.ones)), j)
	comp := unsafe.Slice(a.comp, a.og)
	mult := unsafe.Slice(a.mult, a.og)
	bias := unsafe.Slice(a.bias, a.og)
	wz := unsafe.Slice(a.wz, a.og)
	zp, lo, hi := int32(a.zp), int32(a.lo)+int32(a.zp), int32(a.hi)+int32(a.zp)
	xs := make([][4]uint8, j)
	for r := 0; r < a.oh; r++ {
		for b := 0; b < a.blocks; b++ {
			s := unsafe.Add(unsafe.Pointer(a.src), r*a.ldsrc+b*a.blkStep)
			for i := 0; i < 16; i++ {
				if a.tailMask>>i&1 == 0 && b == a.blocks-1 {
					continue
				}
				var sx int32
				for kh := 0; kh < a.kh; kh++ {
					for q := 0; q < a.nq; q++ {
						for t := 0; t < 4; t++ {
							v := *(*uint8)(unsafe.Add(s, kh*a.khStep+int(idx[q*64+4*i+t]&63)))
							xs[kh*a.nq+q][t] = v
							sx += int32(v) * int32(ones[kh*a.nq+q][t])
						}
					}
				}
				for o := 0; o < a.og; o++ {
					var acc int32
					for jj, x := range xs {
						w := &ws[jj*lanes+o]
						acc += int32(x[0])*int32(w[0]) + int32(x[1])*int32(w[1]) + int32(x[2])*int32(w[2]) + int32(x[3])*int32(w[3])
					}
					acc += comp[o] - wz[o]*sx
					v := float32(float32(float32(acc)*mult[o]) + bias[o])
					q := requantF32(v, zp, lo, hi)
					*(*uint8)(unsafe.Add(unsafe.Pointer(a.out), o*a.outPlane+r*a.ldout+16*b+i)) = uint8(q)
				}
			}
		}
	}
}

// ConvDirectU8 is ConvDirectNCHW for convolutions with one input channel
// per group (depthwise ones, and a single-channel first layer), 16 output
// pixels at a time; the results are identical. It panics unless
// ConvDirectU8Fits(g).
func ConvDirectU8(g *ConvGeom, n int, x []uint8, xZP int32, w []int8, wZP []int32, rq *Requant, out []uint8) {
	p := NewConvDirectU8Plan(g, xZP, w, wZP, rq)
	p.Run(n, x, out, 0, n*g.Groups)
}

// ConvDirectU8Fits reports whether ConvDirectU8 handles g: 1-D or 2-D, one
// input channel per group, and 15·SW + (KW−1)·DW ≤ 63 (the taps of 16
// consecutive output pixels of a kernel row span at most 64 input bytes).
func ConvDirectU8Fits(g *ConvGeom) bool {
	g.check()
	return directU8Fits(g)
}

// ConvDirectU8Plan is a direct convolution prepared for one geometry,
// input zero point, weights and epilogue (see ConvDirectU8); it is
// immutable, and Run may be called concurrently on disjoint units.
type ConvDirectU8Plan struct {
	pl  *dwPlan
	xZP uint8
}

// NewConvDirectU8Plan validates the arguments as ConvDirectNCHW does and
// prepares the kernel's weight quads and epilogue terms.
func NewConvDirectU8Plan(g *ConvGeom, xZP int32, w []int8, wZP []int32, rq *Requant) *ConvDirectU8Plan {
	g.check()
	if !directU8Fits(g) {
		panic("kernels: ConvDirectU8: geometry not supported (see ConvDirectU8Fits)")
	}
	if len(w) < g.O*g.Taps() {
		panic("kernels: ConvDirectU8: weights too short")
	}
	if len(wZP) != 1 && len(wZP) != g.O {
		panic("kernels: ConvDirectU8: wZP must have 1 or O entries")
	}
	checkRequant(rq, g.O, 0, 255)
	if xZP < 0 || xZP > 255 {
		panic("kernels: ConvDirectU8: input zero point outside [0, 255]")
	}
	return &ConvDirectU8Plan{pl: newDwPlan(g, xZP, w, wZP, rq), xZP: uint8(xZP)}
}

// Run computes the (image, group) units u ∈ [u0, u1), u = image·Groups +
// group, of n NCHW images x into NCHW out.
func (p *ConvDirectU8Plan) Run(n int, x, out []uint8, u0, u1 int) {
	g := p.pl.g
	if g.OH == 0 || g.OW == 0 || u0 >= u1 {
		return
	}
	if len(x) < n*g.C*g.H*g.W || len(out) < n*g.O*g.OH*g.OW || u0 < 0 || u1 > n*g.Groups {
		panic("kernels: ConvDirectU8: slice too short or bad range")
	}
	convDirectU8Range(g, n, x, p.pl, p.xZP, out, u0, u1)
}
