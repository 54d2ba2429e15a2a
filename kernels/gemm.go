package kernels

import (
	"math"
	"sync/atomic"
	"unsafe"
)

//go:generate go run ./internal/gen

// Packed layout. The weights are cut into panels of panelCols output
// channels (the last panel is narrowed to a multiple of 16 channels). Within
// a panel, k runs in quads: quad q of channel c holds w[c][4q..4q+3] as 4
// consecutive bytes, the 4·width bytes of one quad are contiguous, and K is
// padded with zeros to a multiple of 4. This is the operand order of
// VPDPBUSD: one 32-bit lane = one channel's 4 consecutive k.
const (
	panelCols = 64 // output channels per full panel
	colGroup  = 16 // panel widths are multiples of this
	tileLd    = panelCols
	maxMR     = 12 // most rows any microkernel handles
)

// PackedWeights is an N×K int8 weight matrix (row j holds output channel j's
// K weights) packed once for the u8×s8 GEMMs and reused across calls, with
// each row's sum for zero-point compensation. PyTorch counterpart: the
// prepacked weights of quantized::linear_prepack / conv_prepack (FBGEMM's
// PackBMatrix). The layout is internal and the same for every kernel path;
// the AVX2 path (CPUs without VNNI) also keeps an int16 copy, 2 bytes per
// weight, built on its first call. A PackedWeights is immutable and safe
// for concurrent use.
type PackedWeights struct {
	n, k   int
	k4     int     // ⌈K/4⌉ quads
	data   []int8  // panels, 64-byte aligned
	rowSum []int32 // Σ_k w[j][k]
	comp   atomic.Pointer[compTerms]
	wide   atomic.Pointer[[]int16] // data widened to int16, built by the first AVX2 call
}

// wide16 returns the packed weights widened to int16 (same layout), which
// the AVX2 kernels read; it is built once, on first use.
func (p *PackedWeights) wide16() []int16 {
	if w := p.wide.Load(); w != nil {
		return *w
	}
	buf := make([]int16, len(p.data)+32)
	off := int((64 - uintptr(unsafe.Pointer(unsafe.SliceData(buf)))%64) % 64 / 2)
	w := buf[off : off+len(p.data) : off+len(p.data)]
	for i, v := range p.data {
		w[i] = int16(v)
	}
	p.wide.CompareAndSwap(nil, &w)
	return *p.wide.Load()
}

// PackWeights packs a row-major N×K int8 matrix. It panics if len(w) < n·k.
func PackWeights(w []int8, n, k int) *PackedWeights {
	if n < 0 || k < 0 || len(w) < n*k {
		panic("kernels: PackWeights: len(w) < n*k")
	}
	k4 := (k + 3) / 4
	p := &PackedWeights{n: n, k: k, k4: k4, rowSum: make([]int32, n)}
	size := 0
	for c0 := 0; c0 < n; c0 += panelCols {
		size += p.panelWidth(c0) * k4 * 4
	}
	p.data = alignedInt8(size)
	for j := 0; j < n; j++ {
		var s int32
		row := w[j*k : (j+1)*k]
		for _, v := range row {
			s += int32(v)
		}
		p.rowSum[j] = s
		c0 := j / panelCols * panelCols
		pw := p.panelWidth(c0)
		base := c0*k4*4 + (j-c0)*4
		for t, v := range row {
			p.data[base+(t>>2)*pw*4+t&3] = v
		}
	}
	return p
}

// alignedInt8 returns a zeroed slice of n bytes starting on a 64-byte
// boundary, so that no vector load of a panel splits a cache line.
func alignedInt8(n int) []int8 {
	buf := make([]int8, n+64)
	off := int((64 - uintptr(unsafe.Pointer(unsafe.SliceData(buf)))%64) % 64)
	return buf[off : off+n : off+n]
}

// panelWidth is the padded width of the panel starting at column c0.
func (p *PackedWeights) panelWidth(c0 int) int {
	w := p.n - c0
	if w >= panelCols {
		return panelCols
	}
	return (w + colGroup - 1) / colGroup * colGroup
}

// N returns the number of output channels (rows).
func (p *PackedWeights) N() int { return p.n }

// K returns the reduction length (columns).
func (p *PackedWeights) K() int { return p.k }

// RowSums returns Σ_k w[j][k] for every row j (shared; do not modify).
func (p *PackedWeights) RowSums() []int32 { return p.rowSum }

// Unpack returns a copy of the row-major N×K weights.
func (p *PackedWeights) Unpack() []int8 {
	w := make([]int8, p.n*p.k)
	for j := 0; j < p.n; j++ {
		c0 := j / panelCols * panelCols
		pw := p.panelWidth(c0)
		base := c0*p.k4*4 + (j-c0)*4
		for t := 0; t < p.k; t++ {
			w[j*p.k+t] = p.data[base+(t>>2)*pw*4+t&3]
		}
	}
	return w
}

// Requant describes the requantizing epilogue of GemmU8S8Requant:
//
//	q[i][j] = clamp(ZeroPoint + rne(f32(f32(acc[i][j])·Multiplier[j]) + Bias[j]), Min, Max)
//
// where rne rounds half to even. Multiplier holds f32(sx·sw[j]/sy) (one
// value for per-tensor weights, or N), Bias holds f32(bias[j]/sy) (nil for
// no bias, else N values). [Min, Max] is the output range, raised to
// [ZeroPoint, Max] for a fused ReLU. |ZeroPoint| must not exceed 2²⁴.
type Requant struct {
	Multiplier []float32
	Bias       []float32
	ZeroPoint  int32
	Min, Max   int32
}

func checkGemm(m int, a []uint8, lda int, p *PackedWeights, wZP []int32, outLen, ldo, outCols int) {
	if m < 0 || lda < p.k || ldo < outCols {
		panic("kernels: gemm: bad m, lda or ldc")
	}
	if m > 0 && (len(a) < (m-1)*lda+p.k || outLen < (m-1)*ldo+outCols) {
		panic("kernels: gemm: slice too short")
	}
	if len(wZP) != 1 && len(wZP) != p.n {
		panic("kernels: gemm: wZP must have 1 or N entries")
	}
}

// GemmU8S8Acc computes the int32 accumulators
//
//	out[i·ldc+j] = Σ_k (int32(a[i·lda+k]) − aZP)·(int32(w[j][k]) − wZP[j])
//
// for i < m, j < N, where wZP has one entry (per-tensor) or N. a is row-major
// m×K with row stride lda ≥ K. Accumulators wrap on int32 overflow (the
// caller keeps K·255·255 within range, as every 8-bit GEMM must); the result
// is the same on every kernel path and for every thread count.
func GemmU8S8Acc(m int, a []uint8, lda int, aZP int32, p *PackedWeights, wZP []int32, out []int32, ldc int) {
	checkGemm(m, a, lda, p, wZP, len(out), ldc, p.n)
	if m == 0 || p.n == 0 {
		return
	}
	gemm(&gemmCall{m: m, a: a, lda: lda, aZP: aZP, p: p, wZP: wZP,
		mode: modeInt32, out: unsafe.Pointer(unsafe.SliceData(out)), ldo: ldc * 4})
}

// RequantizeValue applies the Requant epilogue to one accumulator of
// column j; the reference every kernel path matches bit for bit.
func RequantizeValue(acc int32, j int, rq *Requant) int32 {
	mult := rq.Multiplier[0]
	if len(rq.Multiplier) > 1 {
		mult = rq.Multiplier[j]
	}
	v := float32(float32(acc) * mult)
	if rq.Bias != nil {
		v = float32(v + rq.Bias[j])
	}
	return requantF32(v, rq.ZeroPoint, rq.Min, rq.Max)
}

// requantF32 returns clamp(zp + rne(v), lo, hi); NaN and values below −2⁴⁰
// give lo, values above 2⁴⁰ give hi.
func requantF32(v float32, zp, lo, hi int32) int32 {
	r := math.RoundToEven(float64(v))
	var q int64
	switch {
	case r != r || r < -(1<<40):
		q = int64(lo) - int64(zp)
	case r > 1<<40:
		q = int64(hi) - int64(zp)
	default:
		q = int64(r)
	}
	q += int64(zp)
	if q < int64(lo) {
		q = int64(lo)
	}
	if q > int64(hi) {
		q = int64(hi)
	}
	return int32(q)
}

// GemmU8S8Requant computes the accumulators of GemmU8S8Acc and requantizes
// them to uint8 with rq: out[i·ldo+j] = RequantizeValue(acc[i][j], j, rq).
// rq.Min and rq.Max must lie in [0, 255]. PyTorch counterpart:
// quantized::linear (FBGEMM's ReQuantizeOutput with a float multiplier).
func GemmU8S8Requant(m int, a []uint8, lda int, aZP int32, p *PackedWeights, wZP []int32, rq *Requant, out []uint8, ldo int) {
	checkGemm(m, a, lda, p, wZP, len(out), ldo, p.n)
	checkRequant(rq, p.n, 0, 255)
	if m == 0 || p.n == 0 {
		return
	}
	gemm(&gemmCall{m: m, a: a, lda: lda, aZP: aZP, p: p, wZP: wZP, rq: rq,
		mode: modeU8, out: unsafe.Pointer(unsafe.SliceData(out)), ldo: ldo})
}

// GemmU8S8RequantS8 is GemmU8S8Requant with int8 output:
// out[i·ldo+j] = int8(RequantizeValue(acc[i][j], j, rq)); rq.Min and rq.Max
// must lie in [−128, 127].
func GemmU8S8RequantS8(m int, a []uint8, lda int, aZP int32, p *PackedWeights, wZP []int32, rq *Requant, out []int8, ldo int) {
	checkGemm(m, a, lda, p, wZP, len(out), ldo, p.n)
	checkRequant(rq, p.n, -128, 127)
	if m == 0 || p.n == 0 {
		return
	}
	gemm(&gemmCall{m: m, a: a, lda: lda, aZP: aZP, p: p, wZP: wZP, rq: rq,
		mode: modeS8, out: unsafe.Pointer(unsafe.SliceData(out)), ldo: ldo})
}

func checkRequant(rq *Requant, n int, lo, hi int32) {
	if rq == nil || (len(rq.Multiplier) != 1 && len(rq.Multiplier) != n) || (rq.Bias != nil && len(rq.Bias) != n) {
		panic("kernels: gemm: bad Requant multiplier or bias length")
	}
	if rq.Min < lo || rq.Max > hi || rq.Min > rq.Max {
		panic("kernels: gemm: Requant range outside the output type")
	}
	if rq.ZeroPoint < -1<<24 || rq.ZeroPoint > 1<<24 {
		panic("kernels: gemm: Requant zero point out of range")
	}
}

// GemmU8S8Float computes the accumulators of GemmU8S8Acc and converts them
// to float32, the dynamic-quantization epilogue:
//
//	out[i·ldo+j] = f32(f32(acc[i][j])·scale[j]) + bias[j]
//
// where scale holds f32(sx·sw[j]) (1 or N values) and bias is nil or N values.
// PyTorch counterpart: quantized::linear_dynamic's output stage.
func GemmU8S8Float(m int, a []uint8, lda int, aZP int32, p *PackedWeights, wZP []int32, scale, bias []float32, out []float32, ldo int) {
	checkGemm(m, a, lda, p, wZP, len(out), ldo, p.n)
	if (len(scale) != 1 && len(scale) != p.n) || (bias != nil && len(bias) != p.n) {
		panic("kernels: GemmU8S8Float: bad scale or bias length")
	}
	if m == 0 || p.n == 0 {
		return
	}
	gemm(&gemmCall{m: m, a: a, lda: lda, aZP: aZP, p: p, wZP: wZP,
		rq:   &Requant{Multiplier: scale, Bias: bias},
		mode: modeF32, out: unsafe.Pointer(unsafe.SliceData(out)), ldo: ldo * 4})
}
