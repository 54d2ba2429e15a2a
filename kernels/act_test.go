package kernels

import (
	"math"
	"math/rand"
	"testing"
)

func actULP(got, want float32) int64 {
	a, b := int64(int32(math.Float32bits(got))), int64(int32(math.Float32bits(want)))
	if (a < 0) != (b < 0) {
		if got == want { // ±0
			return 0
		}
		return math.MaxInt64
	}
	if a < b {
		return b - a
	}
	return a - b
}

// actInputs spans the gate range densely, with values near 0, large
// magnitudes, exact integers and random points.
func actInputs() []float32 {
	r := rand.New(rand.NewSource(7))
	var xs []float32
	for i := -4000; i <= 4000; i++ {
		xs = append(xs, float32(i)/100)
	}
	for e := -40; e <= 7; e++ {
		v := float32(math.Ldexp(1, e))
		xs = append(xs, v, -v, math.Nextafter32(v, 0), -math.Nextafter32(v, 0))
	}
	for i := 0; i < 200000; i++ {
		xs = append(xs, float32(r.NormFloat64()*6))
	}
	return append(xs, 0, 88, -88, 104, -104, 150, -150, 3e38, -3e38)
}

func TestSigmoid32Accuracy(t *testing.T) {
	var worst int64
	for _, x := range actInputs() {
		want := float32(1 / (1 + math.Exp(-float64(x))))
		got := Sigmoid32(x)
		if d := actULP(got, want); d > 1 {
			t.Fatalf("Sigmoid32(%v) = %v, want %v (%d ulp)", x, got, want, d)
		} else if d > worst {
			worst = d
		}
	}
	t.Logf("worst %d ulp", worst)
}

func TestTanh32Accuracy(t *testing.T) {
	var worst int64
	for _, x := range actInputs() {
		want := float32(math.Tanh(float64(x)))
		got := Tanh32(x)
		if d := actULP(got, want); d > 1 {
			t.Fatalf("Tanh32(%v) = %v, want %v (%d ulp)", x, got, want, d)
		} else if d > worst {
			worst = d
		}
	}
	t.Logf("worst %d ulp", worst)
}

func TestActSpecialValues(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	if v := Sigmoid32(nan); v == v {
		t.Errorf("Sigmoid32(NaN) = %v", v)
	}
	if v := Tanh32(nan); v == v {
		t.Errorf("Tanh32(NaN) = %v", v)
	}
	cases := []struct {
		f       func(float32) float32
		x, want float32
	}{
		{Sigmoid32, 0, 0.5}, {Sigmoid32, inf, 1}, {Sigmoid32, -inf, 0},
		{Tanh32, 0, 0}, {Tanh32, inf, 1}, {Tanh32, -inf, -1},
	}
	for _, c := range cases {
		if got := c.f(c.x); got != c.want {
			t.Errorf("f(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	dst := make([]float32, 3)
	SigmoidF32(dst, []float32{-1, 0, 1})
	if dst[1] != 0.5 || dst[0] != 1-dst[2] && actULP(dst[0], 1-dst[2]) > 1 {
		t.Errorf("SigmoidF32 = %v", dst)
	}
	TanhF32(dst, []float32{-1, 0, 1})
	if dst[1] != 0 || dst[0] != -dst[2] {
		t.Errorf("TanhF32 = %v", dst)
	}
}

func BenchmarkAct(b *testing.B) {
	all := actInputs()
	xs := all[len(all)-8192-9 : len(all)-9] // random gate-like values
	dst := make([]float32, len(xs))
	b.Run("sigmoid", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			SigmoidF32(dst, xs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(xs)), "ns/elem")
	})
	b.Run("tanh", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			TanhF32(dst, xs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(xs)), "ns/elem")
	})
	b.Run("math_exp", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for j, v := range xs {
				dst[j] = float32(1 / (1 + math.Exp(-float64(v))))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(xs)), "ns/elem")
	})
}
