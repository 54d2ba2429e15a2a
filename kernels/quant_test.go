package kernels

import (
	"math"
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
)

// quantInputs returns values that stress rounding and saturation: ties,
// ±0, subnormals, huge values (the INT64_MIN → qmin rule), ±Inf.
func quantInputs(r *rand.Rand, scale float32) []float32 {
	v := []float32{0, float32(math.Copysign(0, -1)), 0.5 * scale, 1.5 * scale, 2.5 * scale, -0.5 * scale, -2.5 * scale,
		1e-45, -1e-45, 3.4e38, -3.4e38, float32(math.Inf(1)), float32(math.Inf(-1)),
		9.2e18 * scale, -9.2e18 * scale, 9.3e18 * scale, 2147483647 * scale, -2147483648 * scale, 3e9 * scale, -3e9 * scale}
	for i := 0; i < 2000; i++ {
		switch r.Intn(3) {
		case 0:
			v = append(v, float32(r.NormFloat64())*200*scale)
		case 1:
			v = append(v, (float32(r.Intn(600)-300)+0.5)*scale)
		default:
			v = append(v, math.Float32frombits(r.Uint32()))
		}
	}
	out := v[:0]
	for _, x := range v {
		if x == x { // callers reject NaN
			out = append(out, x)
		}
	}
	return out
}

// forPaths runs f once per kernel path this CPU and build can run.
func forPaths(t *testing.T, f func(t *testing.T)) {
	prev := Path()
	defer SetPath(prev)
	for _, p := range Paths() {
		if err := SetPath(p); err != nil {
			t.Fatal(err)
		}
		t.Run(p, f)
	}
}

func TestQuantizeMatchesQdtype(t *testing.T) { forPaths(t, testQuantize) }

func TestQuantizePerChannelMatchesQdtype(t *testing.T) { forPaths(t, testQuantizePerChannel) }

func testQuantize(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, scale := range []float64{0.1, 1, 0.0123, 1e-6, 3.7} {
		inv := qdtype.InvScale(scale)
		src := quantInputs(r, float32(scale))
		for _, zp := range []int32{0, 1, 128, 255} {
			u := make([]uint8, len(src))
			QuantizeF32U8(u, src, inv, zp)
			for i, x := range src {
				if want := qdtype.QuantizeValue(x, inv, int64(zp), 0, 255); int64(u[i]) != want {
					t.Fatalf("QuantizeF32U8(%v, scale %v, zp %d) = %d, want %d", x, scale, zp, u[i], want)
				}
			}
			d := make([]float32, len(u))
			DequantizeU8F32(d, u, float32(scale), zp)
			for i, q := range u {
				if want := qdtype.DequantizeValue(int64(q), int64(zp), scale); math.Float32bits(d[i]) != math.Float32bits(want) {
					t.Fatalf("DequantizeU8F32(%d) = %v, want %v", q, d[i], want)
				}
			}
		}
		for _, zp := range []int32{-128, 0, 5, 127} {
			s := make([]int8, len(src))
			QuantizeF32S8(s, src, inv, zp)
			for i, x := range src {
				if want := qdtype.QuantizeValue(x, inv, int64(zp), -128, 127); int64(s[i]) != want {
					t.Fatalf("QuantizeF32S8(%v, scale %v, zp %d) = %d, want %d", x, scale, zp, s[i], want)
				}
			}
			d := make([]float32, len(s))
			DequantizeS8F32(d, s, float32(scale), zp)
			for i, q := range s {
				if want := qdtype.DequantizeValue(int64(q), int64(zp), scale); math.Float32bits(d[i]) != math.Float32bits(want) {
					t.Fatalf("DequantizeS8F32(%d) = %v, want %v", q, d[i], want)
				}
			}
		}
		q32 := make([]int32, len(src))
		QuantizeF32S32(q32, src, inv, 7)
		for i, x := range src {
			if want := qdtype.QuantizeValue(x, inv, 7, math.MinInt32, math.MaxInt32); int64(q32[i]) != want {
				t.Fatalf("QuantizeF32S32(%v) = %d, want %d", x, q32[i], want)
			}
		}
		d := make([]float32, len(q32))
		DequantizeS32F32(d, q32, float32(scale), 7)
		for i, q := range q32 {
			if want := qdtype.DequantizeValue(int64(q), 7, scale); math.Float32bits(d[i]) != math.Float32bits(want) {
				t.Fatalf("DequantizeS32F32(%d) = %v, want %v", q, d[i], want)
			}
		}
	}
}

func testQuantizePerChannel(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	outer, ch, inner := 3, 5, 37
	scales := []float64{0.1, 0.02, 1, 3e-5, 0.7}
	inv := make([]float32, ch)
	sc := make([]float32, ch)
	for c := range scales {
		inv[c], sc[c] = qdtype.InvScale(scales[c]), float32(scales[c])
	}
	src := quantInputs(r, 0.1)[:outer*ch*inner]
	zu := []int32{0, 255, 128, 3, 77}
	zs := []int32{-128, 127, 0, 3, -7}
	u := make([]uint8, len(src))
	s := make([]int8, len(src))
	QuantizePerChannelF32U8(u, src, inv, zu, outer, ch, inner)
	QuantizePerChannelF32S8(s, src, inv, zs, outer, ch, inner)
	du := make([]float32, len(src))
	ds := make([]float32, len(src))
	DequantizePerChannelU8F32(du, u, sc, zu, outer, ch, inner)
	DequantizePerChannelS8F32(ds, s, sc, zs, outer, ch, inner)
	for i, x := range src {
		c := i / inner % ch
		if want := qdtype.QuantizeValue(x, inv[c], int64(zu[c]), 0, 255); int64(u[i]) != want {
			t.Fatalf("u8 [%d] ch %d: %d, want %d", i, c, u[i], want)
		}
		if want := qdtype.QuantizeValue(x, inv[c], int64(zs[c]), -128, 127); int64(s[i]) != want {
			t.Fatalf("s8 [%d] ch %d: %d, want %d", i, c, s[i], want)
		}
		if want := qdtype.DequantizeValue(int64(u[i]), int64(zu[c]), scales[c]); du[i] != want {
			t.Fatalf("dequant u8 [%d]: %v, want %v", i, du[i], want)
		}
		if want := qdtype.DequantizeValue(int64(s[i]), int64(zs[c]), scales[c]); ds[i] != want {
			t.Fatalf("dequant s8 [%d]: %v, want %v", i, ds[i], want)
		}
	}
}

// FuzzQuantizeF32U8 checks the kernel against qdtype.QuantizeValue and the
// round-trip bound |dequant(quant(x)) − x| ≤ scale/2 inside the range.
func FuzzQuantizeF32U8(f *testing.F) {
	f.Add(float32(1.25), float32(0.5), int32(128))
	f.Add(float32(-3e38), float32(0.01), int32(0))
	f.Fuzz(func(t *testing.T, x, scale float32, zp int32) {
		if x != x || !(scale > 1e-30 && scale < 1e30) || zp < 0 || zp > 255 {
			t.Skip()
		}
		inv := qdtype.InvScale(float64(scale))
		var q [1]uint8
		QuantizeF32U8(q[:], []float32{x}, inv, zp)
		if want := qdtype.QuantizeValue(x, inv, int64(zp), 0, 255); int64(q[0]) != want {
			t.Fatalf("QuantizeF32U8(%v, %v, %d) = %d, want %d", x, scale, zp, q[0], want)
		}
		lo, hi := float64(-zp)*float64(scale), float64(255-zp)*float64(scale)
		if float64(x) > lo && float64(x) < hi && scale > 1e-20 && math.Abs(float64(x)) < 1e30 {
			var d [1]float32
			DequantizeU8F32(d[:], q[:], scale, zp)
			if err := math.Abs(float64(d[0]) - float64(x)); err > float64(scale)*0.5001+1e-6*math.Abs(float64(x)) {
				t.Fatalf("round trip of %v (scale %v zp %d): %v, error %v", x, scale, zp, d[0], err)
			}
		}
	})
}

// BenchmarkQuantizeF32U8 reports elements per second on each path:
// size=N/impl=path.
func BenchmarkQuantizeF32U8(b *testing.B) {
	prev := Path()
	defer SetPath(prev)
	src := quantInputs(rand.New(rand.NewSource(1)), 0.1)[:1024]
	dst := make([]uint8, len(src))
	for _, p := range Paths() {
		SetPath(p)
		b.Run("size=1024/impl="+p, func(b *testing.B) {
			b.SetBytes(int64(4 * len(src)))
			for b.Loop() {
				QuantizeF32U8(dst, src, 10, 128)
			}
		})
	}
}
