package kernels

import "math"

// Float32 sigmoid and tanh for the recurrent cells' gate math.
//
// Both evaluate e^y − 1 in float64 with a table-driven range reduction,
// y = (32n + j)·ln2/32 + r with |r| ≤ ln2/64 and k = 32n + j = rne(y·32/ln2)
// (the 1.5·2⁵² rounding trick), e^y − 1 = s·p(r) + (s − 1) with
// s = 2ⁿ·2^(j/32) from a 32-entry table and p the degree-4 Taylor
// polynomial of expm1(r) (truncation < r⁵/5!, relative < 2e-10). That
// and the float64 rounding errors are far below half a float32 ulp, so the
// float32 results are the correctly rounded sigmoid and tanh except within
// ~1e-9 relative of a rounding boundary, where they are 1 ulp off
// (measured against math.Exp and math.Tanh in the tests). The code is
// plain Go: every product is converted with float64(...) before it is
// added, so no platform fuses it into an FMA, and the table is literal, so
// the results are bit-identical on every build (purego included) and
// kernel path. NaN propagates.

const (
	actInvLn2x32 = 46.16624130844683   // 32/ln2
	actLn2d32    = 0.02166084939249829 // ln2/32
	actRound     = 6755399441055744.0  // 1.5·2⁵²: (y + actRound) − actRound is rne(y)
	actSigMax    = 104                 // |x| beyond which float32 sigmoid is 0 or 1 anyway
	actTanMax    = 20                  // |x| beyond which float32 tanh is ±1
)

// actExp2Tab[j] is 2^(j/32), correctly rounded to float64.
var actExp2Tab = [32]float64{
	1.0,
	1.0218971486541166,
	1.0442737824274138,
	1.0671404006768237,
	1.0905077326652577,
	1.1143867425958924,
	1.1387886347566916,
	1.1637248587775775,
	1.189207115002721,
	1.215247359980469,
	1.241857812073484,
	1.2690509571917332,
	1.2968395546510096,
	1.3252366431597413,
	1.3542555469368927,
	1.383909881963832,
	1.4142135623730951,
	1.4451808069770467,
	1.4768261459394993,
	1.5091644275934228,
	1.5422108254079407,
	1.5759808451078865,
	1.6104903319492543,
	1.645755478153965,
	1.681792830507429,
	1.718619298122478,
	1.7562521603732995,
	1.7947090750031072,
	1.8340080864093424,
	1.8741676341103,
	1.9152065613971474,
	1.9571441241754002,
}

// Sigmoid32 returns the float32 logistic function 1/(1 + e^(−x)), within
// 1 ulp of the correctly rounded value (see the file comment), identical on
// every platform and to SigmoidF32. PyTorch counterpart: torch.sigmoid on
// float32.
func Sigmoid32(x float32) float32 {
	a := [1]float32{x}
	SigmoidF32(a[:], a[:])
	return a[0]
}

// Tanh32 returns the float32 hyperbolic tangent, computed as
// expm1(2|x|)/(expm1(2|x|) + 2) with the sign of x (no cancellation near
// 0), within 1 ulp of the correctly rounded value, identical on every
// platform and to TanhF32. PyTorch counterpart: torch.tanh on float32.
func Tanh32(x float32) float32 {
	a := [1]float32{x}
	TanhF32(a[:], a[:])
	return a[0]
}

// SigmoidF32 writes dst[i] = 1/(1 + e^(−src[i])) (Sigmoid32); dst and src
// have equal lengths and may be the same slice.
func SigmoidF32(dst, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = actSigmoid(x)
	}
}

// TanhF32 writes dst[i] = tanh(src[i]) (Tanh32); dst and src have equal
// lengths and may be the same slice.
func TanhF32(dst, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = actTanh(x)
	}
}

// actSigmoid is the one implementation of the float32 sigmoid (see the
// file comment); it is small enough for the compiler to inline into the
// loops above and into LSTMGatesF32.
func actSigmoid(x float32) float32 {
	y := -float64(x) // NaN stays NaN through the clamp and the arithmetic
	if y < -actSigMax {
		y = -actSigMax
	} else if y > actSigMax {
		y = actSigMax
	}
	return float32(1 / (2 + actExpm1(y)))
}

// actTanh is the one implementation of the float32 tanh:
// expm1(2|x|)/(expm1(2|x|) + 2) with the sign of x.
func actTanh(x float32) float32 {
	a := math.Abs(float64(x)) // branch-free: gate signs are random
	if a > actTanMax {
		a = actTanMax
	}
	em := actExpm1(2 * a)
	return float32(math.Copysign(em/(em+2), float64(x)))
}

// actExpm1 returns e^y − 1 for |y| ≤ 2·actSigMax (see the file comment).
func actExpm1(y float64) float64 {
	t := float64(y*actInvLn2x32) + actRound
	kf := t - actRound
	k := int64(kf)
	r := y - float64(kf*actLn2d32)
	s := math.Float64frombits(math.Float64bits(actExp2Tab[k&31]) + uint64(k>>5)<<52)
	r2 := float64(r * r)
	q := float64(float64(r*(1.0/6))+0.5) + float64(r2*(1.0/24))
	p := float64(r2*q) + r // expm1(r), Estrin order
	return float64(s*p) + (s - 1)
}
