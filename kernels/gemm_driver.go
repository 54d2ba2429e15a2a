package kernels

import (
	"slices"
	"sync"
	"unsafe"
)

// Output modes of the GEMM epilogue.
const (
	modeInt32 = iota // int32 accumulators
	modeU8           // requantized uint8
	modeS8           // requantized int8
	modeF32          // float32 (dynamic quantization)
)

// gemmCall is one validated GEMM call: the arguments of the public entry
// points plus what the driver derives from them.
type gemmCall struct {
	m   int
	a   []uint8
	lda int
	aZP int32
	p   *PackedWeights
	wZP []int32
	rq  *Requant // multiplier/bias (scale/bias for modeF32); nil for modeInt32
	// mode selects the epilogue; out points at element (0,0) and ldo is the
	// output row stride in bytes.
	mode int
	out  unsafe.Pointer
	ldo  int

	// Derived once per call, shared read-only by the workers.
	colComp []int32   // −aZP·Σw[j] + K·aZP·zw[j]
	zw      []int32   // zw[j], nil when every weight zero point is 0
	rowSumA []int32   // Σ_k a[i][k], only when zw != nil
	mult    []float32 // N multipliers, or nil when multBuf holds the one
	multBuf [panelCols]float32
	bias    []float32 // nil or N
	// The kernels read whole k-quads, up to 3 bytes past K in a row. Those
	// bytes meet the zero padding of the weights, so their value never
	// matters, but they must exist: rows [tail0, m) whose quads would run
	// off the end of a are read from tail, a zero-padded copy (stride tlda).
	tail0 int
	tail  []uint8
	tlda  int
}

// epiArgs is the epilogue's view of one tile; every field is 8 bytes wide
// because the assembly reads them by offset.
type epiArgs struct {
	c       *int32         // 0: raw tile, row stride tileLd int32s
	rows    int            // 8
	cols    int            // 16: valid output columns (≤ panelCols)
	colComp *int32         // 24
	zw      *int32         // 32: nil → no Σa term
	rowSum  *int32         // 40: Σa of the tile's first row
	mode    int            // 48
	out     unsafe.Pointer // 56: output element (row 0, col 0) of the tile
	ldo     int            // 64: output row stride, bytes
	mult    *float32       // 72
	bias    *float32       // 80: nil → no bias
	zp      int64          // 88
	min     int64          // 96
	max     int64          // 104
}

// minWorkPerThread is the number of MACs below which another goroutine
// costs more than it saves: 2²⁰ MACs take about 4 µs on one AVX-512 VNNI
// core, the order of waking an idle worker thread, so a 1×1024×1024 GEMV
// stays on one goroutine.
const minWorkPerThread = 1 << 20

// aPool recycles the padded copies of A made when K is not a multiple of 4.
var aPool = sync.Pool{New: func() any { return new([]uint8) }}

// gemm runs a validated call on the active path: it derives the
// zero-point terms, pads the last rows of A if K is not a multiple of 4,
// and splits the output across up to Threads() goroutines, by panels when
// there are enough of them (each worker then reads only its share of the
// weights), else by rows in whole tiles.
func gemm(g *gemmCall) {
	im := activeImpl()
	p := g.p
	n, k := p.n, p.k
	t := p.terms(g.aZP, g.wZP)
	g.colComp, g.zw = t.colComp, t.zw
	if g.rq != nil {
		g.mult = g.rq.Multiplier
		if len(g.mult) == 1 {
			// Per-tensor: every panel reads the same 64 copies.
			for j := range g.multBuf {
				g.multBuf[j] = g.mult[0]
			}
			g.mult = nil
		}
		g.bias = g.rq.Bias
	}

	g.tail0 = g.m
	var pooled *[]uint8
	if k%4 != 0 {
		for g.tail0 > 0 && (g.tail0-1)*g.lda+p.k4*4 > len(g.a) {
			g.tail0--
		}
		if g.tail0 < g.m {
			pooled = aPool.Get().(*[]uint8)
			g.tlda = p.k4 * 4
			rows := g.m - g.tail0
			if cap(*pooled) < rows*g.tlda {
				*pooled = make([]uint8, rows*g.tlda)
			}
			g.tail = (*pooled)[:rows*g.tlda]
			for r := 0; r < rows; r++ {
				i := g.tail0 + r
				row := g.tail[r*g.tlda : (r+1)*g.tlda]
				copy(row, g.a[i*g.lda:i*g.lda+k])
				clear(row[k:])
			}
		}
	}
	if g.zw != nil {
		g.rowSumA = make([]int32, g.m)
		for i := range g.rowSumA {
			g.rowSumA[i] = sumU8(g.a[i*g.lda : i*g.lda+k])
		}
	}

	panels := (n + panelCols - 1) / panelCols
	nt := Threads()
	if w := g.m * n * k / minWorkPerThread; w < nt {
		nt = max(w, 1)
	}
	if nt <= 1 {
		g.run(im, 0, g.m, 0, panels)
	} else if panels >= nt && (panels >= 2*nt || g.m < nt*maxMR) {
		// Split the panels: each worker streams its share of B once.
		var wg sync.WaitGroup
		for t := 1; t < nt; t++ {
			wg.Add(1)
			go func(t int) {
				defer wg.Done()
				g.run(im, 0, g.m, panels*t/nt, panels*(t+1)/nt)
			}(t)
		}
		g.run(im, 0, g.m, 0, panels/nt)
		wg.Wait()
	} else {
		// Split the rows in whole tiles of the first panel.
		unit := im.mrMax(p.panelWidth(0))
		blocks := (g.m + unit - 1) / unit
		cut := func(t int) int { return min(g.m, blocks*t/nt*unit) }
		var wg sync.WaitGroup
		for t := 1; t < nt; t++ {
			wg.Add(1)
			go func(t int) {
				defer wg.Done()
				g.run(im, cut(t), cut(t+1), 0, panels)
			}(t)
		}
		g.run(im, 0, cut(1), 0, panels)
		wg.Wait()
	}
	if pooled != nil {
		aPool.Put(pooled)
	}
}

// Blocking. Within one panel, rows are taken mcRows at a time and K in
// blocks of kcQuads quads, so that a block of the panel (kcQuads·4·64 bytes
// = 32 KiB) stays in L1 while every row tile of the block streams past it;
// the int32 tiles of the mcRows rows accumulate in cbuf (24 KiB) across the
// K blocks, and the epilogue then turns all of them into output at once.
// (On the development machine kcQuads from 64 to 256 measured the same
// within noise; unblocked K was up to 18% slower in the microkernel alone.)
const (
	kcQuads = 128
	mcRows  = 96 // a multiple of every MR
)

var cbufPool = sync.Pool{New: func() any { return new([mcRows * tileLd]int32) }}

// run computes output rows [i0, i1) of panels [p0, p1).
func (g *gemmCall) run(im *gemmImpl, i0, i1, p0, p1 int) {
	if i0 >= i1 || p0 >= p1 {
		return
	}
	cbuf := cbufPool.Get().(*[mcRows * tileLd]int32)
	defer cbufPool.Put(cbuf)
	p := g.p
	elem := 4
	if g.mode == modeU8 || g.mode == modeS8 {
		elem = 1
	}
	e := epiArgs{c: &cbuf[0], mode: g.mode, ldo: g.ldo}
	// Equal K blocks of at most kcQuads quads (no short last block).
	nkb := max(1, (p.k4+kcQuads-1)/kcQuads)
	kc := max(1, (p.k4+nkb-1)/nkb)
	if g.rq != nil {
		e.zp, e.min, e.max = int64(g.rq.ZeroPoint), int64(g.rq.Min), int64(g.rq.Max)
	}
	for pi := p0; pi < p1; pi++ {
		c0 := pi * panelCols
		pw := p.panelWidth(c0)
		mrMax := im.mrMax(pw)
		e.cols = min(panelCols, p.n-c0)
		e.colComp = &g.colComp[c0]
		if g.zw != nil {
			e.zw = &g.zw[c0]
		}
		if g.mult != nil {
			e.mult = &g.mult[c0]
		} else {
			e.mult = &g.multBuf[0]
		}
		if g.bias != nil {
			e.bias = &g.bias[c0]
		}
		panel := c0 * p.k4 * 4
		for mb := i0; mb < i1; mb += mcRows {
			me := min(mb+mcRows, i1)
			if p.k4 == 0 {
				clear(cbuf[:(me-mb)*tileLd])
			}
			for kb := 0; kb < p.k4; kb += kc {
				kq := min(kc, p.k4-kb)
				boff := panel + kb*pw*4
				for i := mb; i < me; {
					mr := min(mrMax, me-i)
					c := &cbuf[(i-mb)*tileLd]
					if i < g.tail0 {
						mr = min(mr, g.tail0-i)
						im.dot(mr, pw, kq, &g.a[i*g.lda+kb*4], g.lda, p, boff, c, kb > 0)
					} else {
						im.dot(mr, pw, kq, &g.tail[(i-g.tail0)*g.tlda+kb*4], g.tlda, p, boff, c, kb > 0)
					}
					i += mr
				}
			}
			e.rows = me - mb
			if g.zw != nil {
				e.rowSum = &g.rowSumA[mb]
			}
			e.out = unsafe.Add(g.out, mb*g.ldo+c0*elem)
			im.epi(&e)
		}
	}
}

// compTerms holds the zero-point terms of one (aZP, wZP) pair; the last
// pair used is cached on the PackedWeights, since inference calls repeat it.
type compTerms struct {
	aZP     int32
	wZP     []int32
	colComp []int32 // −aZP·Σw[j] + K·aZP·zw[j]
	zw      []int32 // zw[j], nil when every weight zero point is 0
}

func (p *PackedWeights) terms(aZP int32, wZP []int32) *compTerms {
	if c := p.comp.Load(); c != nil && c.aZP == aZP && slices.Equal(c.wZP, wZP) {
		return c
	}
	c := &compTerms{aZP: aZP, wZP: slices.Clone(wZP), colComp: make([]int32, p.n)}
	for _, z := range wZP {
		if z != 0 {
			c.zw = make([]int32, p.n)
			break
		}
	}
	for j := range c.zw {
		c.zw[j] = wZP[0]
		if len(wZP) > 1 {
			c.zw[j] = wZP[j]
		}
	}
	if aZP != 0 {
		kz := int32(p.k) * aZP
		for j := range c.colComp {
			v := -aZP * p.rowSum[j]
			if c.zw != nil {
				v += kz * c.zw[j]
			}
			c.colComp[j] = v
		}
	}
	p.comp.Store(c)
	return c
}

// sumU8 returns Σ a[i] (wrapping in int32), eight bytes at a time.
func sumU8(a []uint8) int32 {
	var total uint64
	i := 0
	for i+8 <= len(a) {
		// Sum up to 128 words in 16-bit lanes before folding.
		var s uint64
		end := min(len(a)&^7, i+8*128)
		for ; i < end; i += 8 {
			x := uint64(a[i]) | uint64(a[i+1])<<8 | uint64(a[i+2])<<16 | uint64(a[i+3])<<24 |
				uint64(a[i+4])<<32 | uint64(a[i+5])<<40 | uint64(a[i+6])<<48 | uint64(a[i+7])<<56
			s += x&0x00ff00ff00ff00ff + (x>>8)&0x00ff00ff00ff00ff
		}
		total += s&0xffff + (s>>16)&0xffff + (s>>32)&0xffff + s>>48
	}
	for ; i < len(a); i++ {
		total += uint64(a[i])
	}
	return int32(total)
}
