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
