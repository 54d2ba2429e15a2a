package kernels

import (
	"math"
	"math/rand"
	"testing"
)

// TestLSTMGatesF32 checks the written-out gate loop against the gate
// formula evaluated with Sigmoid32 and Tanh32, bit for bit, including
// saturating and NaN gate values.
func TestLSTMGatesF32(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, hs := range []int{1, 3, 17, 64} {
		gi, gh := make([]float32, 4*hs), make([]float32, 4*hs)
		for i := range gi {
			gi[i] = float32(r.NormFloat64() * 4)
			gh[i] = float32(r.NormFloat64() * 4)
		}
		gi[0], gh[hs] = 200, -300
		if hs > 3 {
			gi[2*hs+1] = float32(math.NaN())
		}
		c, h := make([]float32, hs), make([]float32, hs)
		for i := range c {
			c[i] = float32(r.NormFloat64() * 2)
		}
		wc, wh := append([]float32(nil), c...), make([]float32, hs)
		for j := 0; j < hs; j++ {
			ig := Sigmoid32(gh[j] + gi[j])
			fg := Sigmoid32(gh[hs+j] + gi[hs+j])
			cg := Tanh32(gh[2*hs+j] + gi[2*hs+j])
			og := Sigmoid32(gh[3*hs+j] + gi[3*hs+j])
			wc[j] = float32(float32(fg*wc[j]) + float32(ig*cg))
			wh[j] = float32(og * Tanh32(wc[j]))
		}
		LSTMGatesF32(gi, gh, h, c)
		for j := range c {
			if math.Float32bits(c[j]) != math.Float32bits(wc[j]) || math.Float32bits(h[j]) != math.Float32bits(wh[j]) {
				t.Fatalf("H=%d j=%d: (h, c) = (%v, %v), want (%v, %v)", hs, j, h[j], c[j], wh[j], wc[j])
			}
		}
	}
}

func BenchmarkLSTMGatesF32(b *testing.B) {
	const hs = 650
	r := rand.New(rand.NewSource(5))
	gi, gh := make([]float32, 4*hs), make([]float32, 4*hs)
	for i := range gi {
		gi[i] = float32(r.NormFloat64() * 2)
		gh[i] = float32(r.NormFloat64() * 2)
	}
	c, h := make([]float32, hs), make([]float32, hs)
	for i := 0; i < b.N; i++ {
		LSTMGatesF32(gi, gh, h, c)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*hs), "ns/elem")
}

// BenchmarkLSTMGatesSliced is the same math as separate passes over whole
// gate rows (the previous ops.lstmStep), for comparison with LSTMGatesF32.
func BenchmarkLSTMGatesSliced(b *testing.B) {
	const hs = 650
	r := rand.New(rand.NewSource(5))
	gi, gh := make([]float32, 4*hs), make([]float32, 4*hs)
	for i := range gi {
		gi[i] = float32(r.NormFloat64() * 2)
		gh[i] = float32(r.NormFloat64() * 2)
	}
	c, h := make([]float32, hs), make([]float32, hs)
	g, tc := make([]float32, 4*hs), make([]float32, hs)
	for i := 0; i < b.N; i++ {
		for k := range g {
			g[k] = gh[k] + gi[k]
		}
		SigmoidF32(g[:2*hs], g[:2*hs])
		TanhF32(g[2*hs:3*hs], g[2*hs:3*hs])
		SigmoidF32(g[3*hs:], g[3*hs:])
		for j := range c {
			c[j] = float32(float32(g[hs+j]*c[j]) + float32(g[j]*g[2*hs+j]))
		}
		TanhF32(tc, c)
		for j := range h {
			h[j] = float32(g[3*hs+j] * tc[j])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*hs), "ns/elem")
}
