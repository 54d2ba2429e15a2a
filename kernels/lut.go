package kernels

import "math"

// LUT is a 256-entry lookup table for a unary op on 8-bit quantized codes.
// It is indexed by the input code's byte pattern (uint8(q) for int8 codes)
// and holds the output code's byte pattern. An 8-bit input has only 256
// possible values, so any elementwise function of the dequantized value,
// requantized to 8 bits, is exactly one table lookup per element; this is
// how PyTorch's scalar kernels behave, element by element.
type LUT [256]uint8

// Codes8 describes an 8-bit quantized encoding: signedness and per-tensor
// scale and zero point. Scale is the float32 value PyTorch's kernels use.
type Codes8 struct {
	Signed    bool
	Scale     float32
	ZeroPoint int32
}

// Range returns the code range: [−128, 127] when signed, else [0, 255].
func (c Codes8) Range() (qmin, qmax int32) {
	if c.Signed {
		return -128, 127
	}
	return 0, 255
}

// BuildLUT returns the table of out = quantize(f(dequantize(q))) for every
// code q of the input encoding, with PyTorch 1.13's scalar formulas:
//
//	x   = f32(f32(q − in.ZeroPoint)·in.Scale)
//	out = clamp(out.ZeroPoint + rne(f32(f(x)·f32(1/out.Scale))), qmin, qmax)
//
// where rne rounds half to even and [qmin, qmax] is the output dtype's
// range. A NaN result, or one beyond the int64 range after scaling, maps to
// qmin, as PyTorch's quantize_val does on x86. f runs 256 times.
func BuildLUT(in, out Codes8, f func(x float32) float32) *LUT {
	var t LUT
	inv := 1 / out.Scale
	omin, omax := out.Range()
	lo, hi := in.Range()
	for q := lo; q <= hi; q++ {
		x := float32(q-in.ZeroPoint) * in.Scale
		t[uint8(q)] = uint8(quantizeF32(f(x), inv, out.ZeroPoint, omin, omax))
	}
	return &t
}

// BuildLUTInt returns a table computed from the integer code alone,
// t[q] = g(q) for every code q of the range [qmin, qmax] of in; g's result
// must already be a valid output code. It serves the integer-only ops
// (relu, relu6, hardtanh: clamps of the code).
func BuildLUTInt(in Codes8, g func(q int32) int32) *LUT {
	var t LUT
	lo, hi := in.Range()
	for q := lo; q <= hi; q++ {
		t[uint8(q)] = uint8(g(q))
	}
	return &t
}

// quantizeF32 computes clamp(zp + rne(f32(x·inv)), qmin, qmax) with PyTorch's
// out-of-int64-range and NaN rule (→ qmin).
func quantizeF32(x, inv float32, zp, qmin, qmax int32) int32 {
	y := float32(x * inv)
	if y > -magicLimit && y < magicLimit {
		// For |y| < 2²², adding and subtracting 1.5·2²³ in float32 rounds y
		// to an integer, half to even (the hardware's rounding), exactly.
		r := int32(float32(y+magicRound) - magicRound)
		return min(max(r+zp, qmin), qmax)
	}
	r := math.RoundToEven(float64(y))
	if !(r > -9223372036854775808.0 && r < 9223372036854775808.0) {
		return qmin
	}
	v := int64(r) + int64(zp)
	if v < int64(qmin) {
		return qmin
	}
	if v > int64(qmax) {
		return qmax
	}
	return int32(v)
}

const (
	magicRound float32 = 12582912 // 1.5·2²³
	magicLimit float32 = 4194304  // 2²²
)

// ApplyLUTU8 sets dst[i] = t[src[i]] for i < len(src). dst must be at least
// as long as src; dst and src may be the same slice.
func ApplyLUTU8(t *LUT, dst, src []uint8) {
	dst = dst[:len(src)]
	n := len(src) &^ 3
	for i := 0; i < n; i += 4 {
		s := src[i : i+4 : i+4]
		d := dst[i : i+4 : i+4]
		d[0], d[1], d[2], d[3] = t[s[0]], t[s[1]], t[s[2]], t[s[3]]
	}
	for i := n; i < len(src); i++ {
		dst[i] = t[src[i]]
	}
}

// ApplyLUTS8 sets dst[i] = int8(t[uint8(src[i])]) for i < len(src), the
// int8 twin of ApplyLUTU8.
func ApplyLUTS8(t *LUT, dst, src []int8) {
	dst = dst[:len(src)]
	n := len(src) &^ 3
	for i := 0; i < n; i += 4 {
		s := src[i : i+4 : i+4]
		d := dst[i : i+4 : i+4]
		d[0], d[1], d[2], d[3] = int8(t[uint8(s[0])]), int8(t[uint8(s[1])]), int8(t[uint8(s[2])]), int8(t[uint8(s[3])])
	}
	for i := n; i < len(src); i++ {
		dst[i] = int8(t[uint8(src[i])])
	}
}
