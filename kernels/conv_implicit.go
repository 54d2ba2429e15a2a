package kernels

import (
	"sync"
	"unsafe"
)

// Implicit-GEMM convolution. The im2col matrix of a convolution with one
// group and width dilation 1 is never built: the input is copied once into
// a zero-point-padded channel-minor (NHWC) image, where the KW·C bytes of
// one kernel row under output pixel (oh, ow) are contiguous and the same
// bytes for pixel ow+1 start SW·C bytes later. So for each kernel row kh
// the GEMM microkernels read their A operand straight from the padded
// image (row stride SW·C) against the kh-th slice of the packed weights,
// accumulating the KH slices in the int32 tile; the GEMM epilogue then
// requantizes a block of output pixels, which is transposed into the NCHW
// output while it is still in cache.

// ConvImplicitFits reports whether ConvImplicitNCHW handles g: 1-D or 2-D,
// one group, width dilation 1, and KW·C a multiple of 4 (so that the kernel
// rows are whole k-quads of the packed weights) of at least 32 bytes.
func ConvImplicitFits(g *ConvGeom) bool {
	g.check()
	return g.Groups == 1 && g.KD == 1 && g.D == 1 && g.OD == 1 && g.PD == 0 &&
		g.DW == 1 && (g.KW*g.C)%4 == 0 && g.KW*g.C >= 32
}

// ConvImplicitNCHW computes the convolution of n NCHW images x with the
// weights p (PackWeights of ConvWeightsToGemm(g, w, 0): O rows of
// KH·KW·C) into NCHW out, requantized with rq; the result is identical to
// Im2ColNHWC + GemmU8S8Requant + NHWCToNCHW. wZP has 1 or O entries. It
// splits the work over up to Threads() goroutines and panics unless
// ConvImplicitFits(g).
func ConvImplicitNCHW(g *ConvGeom, n int, x []uint8, xZP int32, p *PackedWeights, wZP []int32, rq *Requant, out []uint8) {
	if !ConvImplicitFits(g) {
		panic("kernels: ConvImplicitNCHW: geometry not supported (see ConvImplicitFits)")
	}
	if p.n != g.O || p.k != g.KGroup() || len(x) < n*g.C*g.H*g.W || len(out) < n*g.O*g.OH*g.OW {
		panic("kernels: ConvImplicitNCHW: weights or slices do not match the geometry")
	}
	if len(wZP) != 1 && len(wZP) != p.n {
		panic("kernels: ConvImplicitNCHW: wZP must have 1 or O entries")
	}
	if xZP < 0 || xZP > 255 {
		panic("kernels: ConvImplicitNCHW: input zero point outside [0, 255]")
	}
	checkRequant(rq, p.n, 0, 255)
	if n == 0 || g.OH == 0 || g.OW == 0 {
		return
	}
	c := &implicitCall{g: g, n: n, p: p, rq: rq, out: out, im: activeImpl()}
	c.wp = max(g.W+2*g.PW, (g.OW-1)*g.SW+g.KW)
	c.hp = max(g.H+2*g.PH, (g.OH-1)*g.SH+(g.KH-1)*g.DH+1)
	img := c.hp * c.wp * g.C
	xp := implicitPool.Get().(*[]uint8)
	defer implicitPool.Put(xp)
	if cap(*xp) < n*img {
		*xp = make([]uint8, n*img)
	}
	c.xp = (*xp)[:n*img]
	t := p.terms(xZP, wZP)
	c.colComp, c.zw = t.colComp, t.zw
	c.mult = rq.Multiplier
	if len(c.mult) == 1 {
		for j := range c.multBuf {
			c.multBuf[j] = c.mult[0]
		}
		c.mult = nil
	}
	// Output pixels per block (at most mcRows, the int32 tile block): whole
	// output rows, or equal segments of one row when a row is wider.
	c.rowsPerBlock, c.segs, c.segW = max(1, mcRows/g.OW), 1, g.OW
	if g.OW > mcRows {
		c.segs = (g.OW + mcRows - 1) / mcRows
		c.segW = (g.OW + c.segs - 1) / c.segs
	}
	c.blocksPerImg = (g.OH + c.rowsPerBlock - 1) / c.rowsPerBlock * c.segs
	c.blocks = n * c.blocksPerImg

	nt := min(Threads(), max(1, n*g.OH*g.OW*g.O*g.KGroup()/minWorkPerThread))
	run := func(f func(lo, hi int), total int) {
		if nt <= 1 || total < 2 {
			f(0, total)
			return
		}
		parts := min(nt, total)
		var wg sync.WaitGroup
		for t := 1; t < parts; t++ {
			wg.Add(1)
			go func(t int) {
				defer wg.Done()
				f(total*t/parts, total*(t+1)/parts)
			}(t)
		}
		f(0, total/parts)
		wg.Wait()
	}
	run(func(lo, hi int) { padNHWC(g, x, uint8(xZP), c.xp, c.hp, c.wp, lo, hi) }, n)
	if c.zw != nil {
		c.rowSum = make([]int32, n*g.OH*g.OW)
		run(c.rowSums, n*g.OH)
	}
	run(c.runBlocks, c.blocks)
}

var implicitPool = sync.Pool{New: func() any { return new([]uint8) }}

type implicitCall struct {
	g            *ConvGeom
	n            int
	p            *PackedWeights
	rq           *Requant
	out          []uint8
	im           *gemmImpl
	xp           []uint8 // n padded NHWC images
	hp, wp       int
	colComp, zw  []int32
	rowSum       []int32 // Σ of each output pixel's window, only when zw != nil
	mult         []float32
	multBuf      [panelCols]float32
	rowsPerBlock int // output rows per block (1 when segs > 1)
	segs, segW   int // segments per output row and their width
	blocks       int
	blocksPerImg int
}

// padNHWC writes images [i0, i1) of the NCHW x into xp as hp×wp×C NHWC
// images with the input at (PH, PW) and xZP everywhere else.
func padNHWC(g *ConvGeom, x []uint8, xZP uint8, xp []uint8, hp, wp, i0, i1 int) {
	cc, hw := g.C, g.H*g.W
	img := hp * wp * cc
	for i := i0; i < i1; i++ {
		dst := xp[i*img : (i+1)*img]
		src := x[i*cc*hw : (i+1)*cc*hw]
		// Border rows, then the left and right borders of interior rows.
		fill(dst[:g.PH*wp*cc], xZP)
		fill(dst[(g.PH+g.H)*wp*cc:], xZP)
		c16 := cc &^ 15
		for h := 0; h < g.H; h++ {
			row := dst[(h+g.PH)*wp*cc : (h+g.PH+1)*wp*cc]
			fill(row[:g.PW*cc], xZP)
			fill(row[(g.PW+g.W)*cc:], xZP)
			base := (h+g.PH)*wp*cc + g.PW*cc
			for ch := 0; ch < c16; ch += 16 {
				for w := 0; w < g.W; w += 64 {
					transpose16(dst, base+w*cc+ch, cc, src, ch*hw+h*g.W+w, hw, min(64, g.W-w), 16)
				}
			}
			for ch := c16; ch < cc; ch++ {
				s := src[ch*hw+h*g.W : ch*hw+(h+1)*g.W]
				for w, v := range s {
					dst[base+w*cc+ch] = v
				}
			}
		}
	}
}

// rowSums computes the window sums of output rows [r0, r1) (image-major).
func (c *implicitCall) rowSums(r0, r1 int) {
	g := c.g
	img := c.hp * c.wp * g.C
	run := g.KW * g.C
	for r := r0; r < r1; r++ {
		i, oh := r/g.OH, r%g.OH
		for ow := 0; ow < g.OW; ow++ {
			var s int32
			for kh := 0; kh < g.KH; kh++ {
				off := i*img + ((oh*g.SH+kh*g.DH)*c.wp+ow*g.SW)*g.C
				s += sumU8(c.xp[off : off+run])
			}
			c.rowSum[r*g.OW+ow] = s
		}
	}
}

// runBlocks computes output blocks [b0, b1): block b of image
// b / blocksPerImg, k = b % blocksPerImg, covers rows [r·rowsPerBlock, …)
// and columns [s·segW, …) with r = k / segs, s = k % segs; its pixels are
// consecutive in the output plane.
func (c *implicitCall) runBlocks(b0, b1 int) {
	if b0 >= b1 {
		return
	}
	g, p, im := c.g, c.p, c.im
	cbuf := cbufPool.Get().(*[mcRows * tileLd]int32)
	defer cbufPool.Put(cbuf)
	rowsMax := c.rowsPerBlock * c.segW
	ybuf := make([]uint8, (rowsMax+16)*g.O)
	img := c.hp * c.wp * g.C
	chunk := g.KW * g.C / 4 // quads per kernel row
	lda := g.SW * g.C
	os := g.OH * g.OW
	e := epiArgs{c: &cbuf[0], mode: modeU8, ldo: g.O,
		zp: int64(c.rq.ZeroPoint), min: int64(c.rq.Min), max: int64(c.rq.Max)}
	for b := b0; b < b1; b++ {
		i, k := b/c.blocksPerImg, b%c.blocksPerImg
		oh0 := k / c.segs * c.rowsPerBlock
		oh1 := min(oh0+c.rowsPerBlock, g.OH)
		ow0 := k % c.segs * c.segW
		ow1 := min(ow0+c.segW, g.OW)
		bw := ow1 - ow0
		pix0, pixels := oh0*g.OW+ow0, (oh1-oh0)*bw
		for c0 := 0; c0 < p.n; c0 += panelCols {
			pw := p.panelWidth(c0)
			mrMax := im.mrMax(pw)
			panel := c0 * p.k4 * 4
			for kh := 0; kh < g.KH; kh++ {
				for q0 := 0; q0 < chunk; q0 += kcQuads {
					kq := min(kcQuads, chunk-q0)
					boff := panel + (kh*chunk+q0)*pw*4
					accum := kh > 0 || q0 > 0
					for oh := oh0; oh < oh1; oh++ {
						rowA := i*img + ((oh*g.SH+kh*g.DH)*c.wp)*g.C + q0*4
						crow := (oh-oh0)*bw - ow0
						for ow := ow0; ow < ow1; {
							mr := min(mrMax, ow1-ow)
							im.dot(mr, pw, kq, &c.xp[rowA+ow*lda], lda, p, boff, &cbuf[(crow+ow)*tileLd], accum)
							ow += mr
						}
					}
				}
			}
			e.rows = pixels
			e.cols = min(panelCols, p.n-c0)
			e.colComp = &c.colComp[c0]
			if c.zw != nil {
				e.zw = &c.zw[c0]
				e.rowSum = &c.rowSum[i*os+pix0]
			}
			if c.mult != nil {
				e.mult = &c.mult[c0]
			} else {
				e.mult = &c.multBuf[0]
			}
			if c.rq.Bias != nil {
				e.bias = &c.rq.Bias[c0]
			}
			e.out = unsafe.Pointer(&ybuf[c0])
			im.epi(&e)
		}
		// NHWC block → NCHW output.
		dst := c.out[i*g.O*os:]
		transposeBlock(dst, ybuf, pixels, g.O, os, pix0)
	}
}

// transposeBlock writes the pixels×o row-major block src (one row per
// output pixel) into the channel planes of dst: dst[ch·os + pix0 + r] =
// src[r·o + ch]. src must hold 16 rows past the last multiple of 16 below
// pixels (transpose16 loads whole 16-row blocks).
func transposeBlock(dst, src []uint8, pixels, o, os, pix0 int) {
	for r := 0; r < pixels; r += 16 {
		for ch := 0; ch < o; ch += 64 {
			transpose16(dst, ch*os+pix0+r, os, src, r*o+ch, o, min(64, o-ch), min(16, pixels-r))
		}
	}
}
