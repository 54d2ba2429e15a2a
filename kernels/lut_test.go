package kernels

import (
	"math"
	"testing"
)

// lutNaive is the table's definition without the table.
func lutNaive(in, out Codes8, f func(float32) float32, q int32) int32 {
	x := float32(q-in.ZeroPoint) * in.Scale
	lo, hi := out.Range()
	r := math.RoundToEven(float64(f(x) * (1 / out.Scale)))
	v := r + float64(out.ZeroPoint)
	return int32(math.Max(float64(lo), math.Min(float64(hi), v)))
}

func TestBuildLUTMatchesFormula(t *testing.T) {
	f := func(x float32) float32 { return x*x - 0.25 }
	for _, signed := range []bool{false, true} {
		in := Codes8{Signed: signed, Scale: 0.037, ZeroPoint: 3}
		out := Codes8{Signed: signed, Scale: 0.11, ZeroPoint: -7}
		if !signed {
			out.ZeroPoint = 40
		}
		tab := BuildLUT(in, out, f)
		lo, hi := in.Range()
		for q := lo; q <= hi; q++ {
			if got, want := int32(tab[uint8(q)]), lutNaive(in, out, f, q); signed && int32(int8(got)) != want || !signed && got != want {
				t.Fatalf("signed=%v q=%d: table %d, formula %d", signed, q, got, want)
			}
		}
	}
}

func TestBuildLUTNaN(t *testing.T) {
	tab := BuildLUT(Codes8{Scale: 1}, Codes8{Signed: true, Scale: 1}, func(float32) float32 { return float32(math.NaN()) })
	if int8(tab[7]) != -128 {
		t.Fatalf("NaN maps to %d, want qmin", int8(tab[7]))
	}
}

// TestApplyLUT checks both apply loops on lengths around the unroll width,
// with guard elements after the output.
func TestApplyLUT(t *testing.T) {
	tab := BuildLUTInt(Codes8{Signed: true}, func(q int32) int32 { return -q / 2 })
	for n := 0; n <= 17; n++ {
		src8 := make([]int8, n)
		srcU := make([]uint8, n)
		for i := range src8 {
			src8[i] = int8(i*37 - 128)
			srcU[i] = uint8(i*37 - 128)
		}
		dst8 := make([]int8, n+3)
		dstU := make([]uint8, n+3)
		for i := range dst8 {
			dst8[i], dstU[i] = 99, 99
		}
		ApplyLUTS8(tab, dst8, src8)
		ApplyLUTU8(tab, dstU, srcU)
		for i := 0; i < n; i++ {
			if want := int8(-int32(src8[i]) / 2); dst8[i] != want || dstU[i] != uint8(want) {
				t.Fatalf("n=%d i=%d: %d %d, want %d", n, i, dst8[i], dstU[i], want)
			}
		}
		for i := n; i < n+3; i++ {
			if dst8[i] != 99 || dstU[i] != 99 {
				t.Fatalf("n=%d: write past the end at %d", n, i)
			}
		}
	}
	// in place
	b := []uint8{1, 2, 3, 4, 5}
	ApplyLUTU8(tab, b, b)
	if int8(b[4]) != -2 {
		t.Fatalf("in place: %v", b)
	}
}

func BenchmarkApplyLUTU8(b *testing.B) {
	tab := BuildLUT(Codes8{Scale: 0.05, ZeroPoint: 128}, Codes8{Scale: 1.0 / 256}, func(x float32) float32 {
		return 1 / (1 + float32(math.Exp(float64(-x))))
	})
	src := make([]uint8, 1<<16)
	for i := range src {
		src[i] = uint8(i * 7)
	}
	dst := make([]uint8, len(src))
	b.SetBytes(int64(len(src)))
	for i := 0; i < b.N; i++ {
		ApplyLUTU8(tab, dst, src)
	}
}

// TestQuantizeF32 checks the fast rounding against math.RoundToEven on
// halves, the 2²² boundary, huge values, NaN and random values.
func TestQuantizeF32(t *testing.T) {
	ref := func(x, inv float32, zp int32) int32 {
		r := math.RoundToEven(float64(float32(x * inv)))
		if !(math.Abs(r) < 1<<63) { // NaN, ±Inf, beyond int64: qmin, as PyTorch on x86
			return -128
		}
		return int32(math.Max(-128, math.Min(127, r+float64(zp))))
	}
	xs := []float32{0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 127.5, -128.5, 4194303.5, 4194304, 4194305, -4194304.5, 1e30, -1e30,
		float32(math.Inf(1)), float32(math.Inf(-1)), math.MaxFloat32}
	r := uint32(1)
	for i := 0; i < 20000; i++ {
		r = r*1664525 + 1013904223
		xs = append(xs, math.Float32frombits(r&^(0xff<<23)|uint32(100+i%60)<<23))
	}
	for _, x := range xs {
		for _, zp := range []int32{-128, -3, 0, 77, 127} {
			for _, inv := range []float32{1, 0.37, 3} {
				if got, want := quantizeF32(x, inv, zp, -128, 127), ref(x, inv, zp); got != want {
					t.Fatalf("x=%v inv=%v zp=%d: %d, want %d", x, inv, zp, got, want)
				}
			}
		}
	}
	if got := quantizeF32(float32(math.NaN()), 1, 5, 0, 255); got != 0 {
		t.Fatalf("NaN → %d, want qmin", got)
	}
}

// FuzzQuantizeF32 compares the fast rounding with math.RoundToEven; the
// seeds run as a normal test, `go test -fuzz FuzzQuantizeF32` explores.
func FuzzQuantizeF32(f *testing.F) {
	for _, s := range [][3]float32{{2.5, 1, 0}, {-0.5, 1, 3}, {4194303.5, 1, 0}, {1e30, 1, 0}, {0.1, 3.3, -7}} {
		f.Add(s[0], s[1], int32(s[2]))
	}
	f.Fuzz(func(t *testing.T, x, inv float32, zp int32) {
		zp %= 128
		y := float64(float32(x * inv))
		want := int32(-128)
		if math.Abs(y) < 1<<63 {
			want = int32(math.Max(-128, math.Min(127, math.RoundToEven(y)+float64(zp))))
		}
		if got := quantizeF32(x, inv, zp, -128, 127); got != want {
			t.Fatalf("quantizeF32(%v, %v, %d) = %d, want %d", x, inv, zp, got, want)
		}
	})
}
