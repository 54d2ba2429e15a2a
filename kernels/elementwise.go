package kernels

// Elementwise requantized arithmetic on 8-bit codes, as PyTorch 1.13's
// quantized add, mul, add_scalar and mul_scalar kernels compute them
// element by element (their scalar path). Slices have equal lengths;
// broadcasting is the caller's job.

// Requant8 is the per-tensor encoding of one operand or of the output:
// float32 scale and zero point.
type Requant8 struct {
	Scale     float32
	ZeroPoint int32
}

// AddRequant computes quantized add (and add_relu) as PyTorch's qadd kernel:
//
//	x   = f32(f32(qa − za)·sa) + f32(f32(qb − zb)·sb)     (float32)
//	x   = max(x, 0) when relu
//	out = clamp(zc + rne(f32(x·f32(1/sc))), qmin, qmax)
//
// for i < len(dst); a and b must be at least as long as dst. Rounding is
// half to even.
func AddRequant[T Code](dst, a, b []T, qa, qb, qc Requant8, relu bool) {
	lo, hi := codeRange[T]()
	a, b = a[:len(dst)], b[:len(dst)]
	inv := 1 / qc.Scale
	// The dequantized value of every code, looked up instead of recomputed.
	var da, db [256]float32
	for q := lo; q <= hi; q++ {
		da[uint8(q)] = float32(q-qa.ZeroPoint) * qa.Scale
		db[uint8(q)] = float32(q-qb.ZeroPoint) * qb.Scale
	}
	f := func(ca, cb uint8) T {
		x := da[ca] + db[cb]
		if relu && x < 0 {
			x = 0
		}
		return T(quantizeF32(x, inv, qc.ZeroPoint, lo, hi))
	}
	if len(dst) >= pairTableMin {
		pairTable(dst, a, b, f)
		return
	}
	for i := range dst {
		dst[i] = f(uint8(a[i]), uint8(b[i]))
	}
}

// pairTableMin is the length from which a binary op first tabulates all
// 256·256 code pairs (64 KiB) and then looks results up.
const pairTableMin = 1 << 17

// pairTable sets dst[i] = f(a[i], b[i]) through a 65536-entry table of f
// over every pair of code bytes; the table holds exactly f's values.
func pairTable[T Code](dst, a, b []T, f func(ca, cb uint8) T) {
	t := make([]T, 1<<16)
	for ca := 0; ca < 256; ca++ {
		row := t[ca<<8 : ca<<8+256]
		for cb := range row {
			row[cb] = f(uint8(ca), uint8(cb))
		}
	}
	for i := range dst {
		dst[i] = t[uint16(uint8(a[i]))<<8|uint16(uint8(b[i]))]
	}
}

// MulMultiplier returns the float32 multiplier of quantized mul,
// f32(f32(sa·sb)·f32(1/sc)), computed as PyTorch's qmul kernel does.
func MulMultiplier(sa, sb, sc float32) float32 {
	return float32(sa*sb) * (1 / sc)
}

// MulRequant computes quantized mul (and mul_relu) as PyTorch's qmul
// kernel, in integers then one float32 rescale:
//
//	out = clamp(zc + rne(f32(f32((qa − za)·(qb − zb))·multiplier)), qmin, qmax)
//	out = max(out, zc) when relu
//
// with multiplier = MulMultiplier(sa, sb, sc) (requantize_from_int).
func MulRequant[T Code](dst, a, b []T, za, zb int32, multiplier float32, zc int32, relu bool) {
	lo, hi := codeRange[T]()
	if relu {
		lo = max(lo, min(zc, hi))
	}
	a, b = a[:len(dst)], b[:len(dst)]
	if len(dst) >= pairTableMin {
		pairTable(dst, a, b, func(ca, cb uint8) T {
			p := (int32(T(ca)) - za) * (int32(T(cb)) - zb)
			return T(quantizeF32(float32(p), multiplier, zc, lo, hi))
		})
		return
	}
	for i := range dst {
		p := (int32(a[i]) - za) * (int32(b[i]) - zb)
		dst[i] = T(quantizeF32(float32(p), multiplier, zc, lo, hi))
	}
}

// RequantizeFromInt computes dst[i] = clamp(zp + rne(f32(f32(q[i] − zin +
// offset)·multiplier)), qmin, qmax), clamped below at zp too when relu:
// PyTorch's requantize_from_int as quantized add_scalar applies it.
func RequantizeFromInt[T Code](dst, src []T, zin, offset int32, multiplier float32, zp int32, relu bool) {
	lo, hi := codeRange[T]()
	if relu {
		lo = max(lo, min(zp, hi))
	}
	src = src[:len(dst)]
	for i := range dst {
		dst[i] = T(quantizeF32(float32(int32(src[i])-zin+offset), multiplier, zp, lo, hi))
	}
}

// FlipCodes sets dst[i] = qmax + qmin − src[i], the code map of quantized
// mul_scalar by a negative number (the scale becomes |c|·s and the zero
// point qmax + qmin − z). When relu, the result is clamped below at zp.
func FlipCodes[T Code](dst, src []T, relu bool, zp int32) {
	lo, hi := codeRange[T]()
	src = src[:len(dst)]
	for i := range dst {
		v := lo + hi - int32(src[i])
		if relu && v < zp {
			v = zp
		}
		dst[i] = T(v)
	}
}

// ClampCodes sets dst[i] = min(max(src[i], lo), hi): relu (lo = zero point),
// relu6 and hardtanh on codes. lo ≤ hi must be valid codes of T. It runs
// as a table lookup, which is faster than compare-and-select here.
func ClampCodes[T Code](dst, src []T, lo, hi T) {
	src = src[:len(dst)]
	if len(src) < 256 {
		for i, v := range src {
			dst[i] = min(max(v, lo), hi)
		}
		return
	}
	var signed bool
	var z T
	z--
	signed = z < 0
	t := BuildLUTInt(Codes8{Signed: signed}, func(q int32) int32 { return min(max(q, int32(lo)), int32(hi)) })
	applyLUT(t, dst, src)
}

// applyLUT dispatches to ApplyLUTU8 or ApplyLUTS8; other element types
// (named 8-bit types) take a plain loop.
func applyLUT[T Code](t *LUT, dst, src []T) {
	switch d := any(dst).(type) {
	case []uint8:
		ApplyLUTU8(t, d, any(src).([]uint8))
	case []int8:
		ApplyLUTS8(t, d, any(src).([]int8))
	default:
		for i, v := range src {
			dst[i] = T(t[uint8(v)])
		}
	}
}
