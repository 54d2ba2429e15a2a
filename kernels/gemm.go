package kernels

import "math"

// PackedWeights is an N×K int8 weight matrix (row j holds output channel j's
// K weights) packed once for the u8×s8 GEMMs and reused across calls, with
// each row's sum for zero-point compensation. PyTorch counterpart: the
// prepacked weights of quantized::linear_prepack / conv_prepack.
type PackedWeights struct {
	n, k   int
	w      []int8  // row-major N×K copy (reference layout)
	rowSum []int32 // Σ_k w[j][k]
}

// PackWeights packs a row-major N×K int8 matrix. It panics if len(w) < n·k.
func PackWeights(w []int8, n, k int) *PackedWeights {
	if n < 0 || k < 0 || len(w) < n*k {
		panic("kernels: PackWeights: len(w) < n*k")
	}
	p := &PackedWeights{n: n, k: k, w: append([]int8(nil), w[:n*k]...), rowSum: make([]int32, n)}
	for j := 0; j < n; j++ {
		var s int32
		for _, v := range p.w[j*k : (j+1)*k] {
			s += int32(v)
		}
		p.rowSum[j] = s
	}
	return p
}

// N returns the number of output channels (rows).
func (p *PackedWeights) N() int { return p.n }

// K returns the reduction length (columns).
func (p *PackedWeights) K() int { return p.k }

// RowSums returns Σ_k w[j][k] for every row j (shared; do not modify).
func (p *PackedWeights) RowSums() []int32 { return p.rowSum }

// Unpack returns a copy of the row-major N×K weights.
func (p *PackedWeights) Unpack() []int8 { return append([]int8(nil), p.w...) }

// Requant describes the requantizing epilogue of GemmU8S8Requant:
//
//	q[i][j] = clamp(ZeroPoint + rne(f32(f32(acc[i][j])·Multiplier[j]) + Bias[j]), Min, Max)
//
// where rne rounds half to even. Multiplier holds f32(sx·sw[j]/sy) (one
// value for per-tensor weights, or N), Bias holds f32(bias[j]/sy) (nil for
// no bias, else N values). [Min, Max] is the output range, raised to
// [ZeroPoint, Max] for a fused ReLU.
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
// caller keeps K·255·255 within range, as every 8-bit GEMM must).
func GemmU8S8Acc(m int, a []uint8, lda int, aZP int32, p *PackedWeights, wZP []int32, out []int32, ldc int) {
	checkGemm(m, a, lda, p, wZP, len(out), ldc, p.n)
	gemmU8S8AccGeneric(m, a, lda, aZP, p, wZP, out, ldc)
}

// gemmU8S8AccGeneric is the portable reference of GemmU8S8Acc.
func gemmU8S8AccGeneric(m int, a []uint8, lda int, aZP int32, p *PackedWeights, wZP []int32, out []int32, ldc int) {
	k := p.k
	for i := 0; i < m; i++ {
		row := a[i*lda : i*lda+k]
		for j := 0; j < p.n; j++ {
			zw := wZP[0]
			if len(wZP) > 1 {
				zw = wZP[j]
			}
			w := p.w[j*k : (j+1)*k]
			var acc int32
			for t, av := range row {
				acc += (int32(av) - aZP) * (int32(w[t]) - zw)
			}
			out[i*ldc+j] = acc
		}
	}
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
	r := math.RoundToEven(float64(v))
	var q int64
	switch {
	case r != r || r < -(1<<40):
		q = int64(rq.Min) - int64(rq.ZeroPoint)
	case r > 1<<40:
		q = int64(rq.Max) - int64(rq.ZeroPoint)
	default:
		q = int64(r)
	}
	q += int64(rq.ZeroPoint)
	if q < int64(rq.Min) {
		q = int64(rq.Min)
	}
	if q > int64(rq.Max) {
		q = int64(rq.Max)
	}
	return int32(q)
}

// GemmU8S8Requant computes the accumulators of GemmU8S8Acc and requantizes
// them to uint8 with rq: out[i·ldo+j] = RequantizeValue(acc[i][j], j, rq).
// rq.Min and rq.Max must lie in [0, 255].
func GemmU8S8Requant(m int, a []uint8, lda int, aZP int32, p *PackedWeights, wZP []int32, rq *Requant, out []uint8, ldo int) {
	checkGemm(m, a, lda, p, wZP, len(out), ldo, p.n)
	checkRequant(rq, p.n, 0, 255)
	gemmU8S8RequantGeneric(m, a, lda, aZP, p, wZP, rq, out, ldo)
}

func checkRequant(rq *Requant, n int, lo, hi int32) {
	if rq == nil || (len(rq.Multiplier) != 1 && len(rq.Multiplier) != n) || (rq.Bias != nil && len(rq.Bias) != n) {
		panic("kernels: gemm: bad Requant multiplier or bias length")
	}
	if rq.Min < lo || rq.Max > hi || rq.Min > rq.Max {
		panic("kernels: gemm: Requant range outside the output type")
	}
}

func gemmU8S8RequantGeneric(m int, a []uint8, lda int, aZP int32, p *PackedWeights, wZP []int32, rq *Requant, out []uint8, ldo int) {
	acc := make([]int32, p.n)
	for i := 0; i < m; i++ {
		gemmU8S8AccGeneric(1, a[i*lda:], lda, aZP, p, wZP, acc, p.n)
		o := out[i*ldo : i*ldo+p.n]
		for j, v := range acc {
			o[j] = uint8(RequantizeValue(v, j, rq))
		}
	}
}

// GemmU8S8Float computes the accumulators of GemmU8S8Acc and converts them
// to float32, the dynamic-quantization epilogue:
//
//	out[i·ldo+j] = f32(f32(acc[i][j])·scale[j]) + bias[j]
//
// where scale holds f32(sx·sw[j]) (1 or N values) and bias is nil or N values.
func GemmU8S8Float(m int, a []uint8, lda int, aZP int32, p *PackedWeights, wZP []int32, scale, bias []float32, out []float32, ldo int) {
	checkGemm(m, a, lda, p, wZP, len(out), ldo, p.n)
	if (len(scale) != 1 && len(scale) != p.n) || (bias != nil && len(bias) != p.n) {
		panic("kernels: GemmU8S8Float: bad scale or bias length")
	}
	gemmU8S8FloatGeneric(m, a, lda, aZP, p, wZP, scale, bias, out, ldo)
}

func gemmU8S8FloatGeneric(m int, a []uint8, lda int, aZP int32, p *PackedWeights, wZP []int32, scale, bias []float32, out []float32, ldo int) {
	acc := make([]int32, p.n)
	for i := 0; i < m; i++ {
		gemmU8S8AccGeneric(1, a[i*lda:], lda, aZP, p, wZP, acc, p.n)
		o := out[i*ldo : i*ldo+p.n]
		for j, v := range acc {
			s := scale[0]
			if len(scale) > 1 {
				s = scale[j]
			}
			y := float32(float32(v) * s)
			if bias != nil {
				y = float32(y + bias[j])
			}
			o[j] = y
		}
	}
}
