package kernels

import (
	"math/rand"
	"testing"
)

func naiveAcc(m, n, k int, a []uint8, aZP int32, w []int8, wZP []int32) []int32 {
	out := make([]int32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			zw := wZP[0]
			if len(wZP) > 1 {
				zw = wZP[j]
			}
			var s int64
			for t := 0; t < k; t++ {
				s += int64(int32(a[i*k+t])-aZP) * int64(int32(w[j*k+t])-zw)
			}
			out[i*n+j] = int32(s)
		}
	}
	return out
}

func TestGemmU8S8AccMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, sz := range [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 16, 33}, {4, 48, 256}, {2, 3, 4099}} {
		m, n, k := sz[0], sz[1], sz[2]
		a := make([]uint8, m*k)
		w := make([]int8, n*k)
		for i := range a {
			a[i] = uint8(r.Intn(256))
		}
		for i := range w {
			w[i] = int8(r.Intn(256) - 128)
		}
		wzp := []int32{int32(r.Intn(11) - 5)}
		if n > 1 && sz[0]%2 == 1 {
			wzp = make([]int32, n)
			for i := range wzp {
				wzp[i] = int32(r.Intn(11) - 5)
			}
		}
		p := PackWeights(w, n, k)
		got := make([]int32, m*n)
		GemmU8S8Acc(m, a, k, 7, p, wzp, got, n)
		want := naiveAcc(m, n, k, a, 7, w, wzp)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("m=%d n=%d k=%d: out[%d] = %d, want %d", m, n, k, i, got[i], want[i])
			}
		}
	}
}

func TestRequantizeValue(t *testing.T) {
	rq := &Requant{Multiplier: []float32{0.5}, ZeroPoint: 10, Min: 0, Max: 255}
	// 5·0.5 = 2.5 → 2 (ties to even) + 10.
	if got := RequantizeValue(5, 0, rq); got != 12 {
		t.Errorf("tie: got %d, want 12", got)
	}
	if got := RequantizeValue(7, 0, rq); got != 14 { // 3.5 → 4
		t.Errorf("tie up: got %d, want 14", got)
	}
	if got := RequantizeValue(-100, 0, rq); got != 0 {
		t.Errorf("clamp low: got %d", got)
	}
	if got := RequantizeValue(1000, 0, rq); got != 255 {
		t.Errorf("clamp high: got %d", got)
	}
	relu := &Requant{Multiplier: []float32{1}, Bias: []float32{-3}, ZeroPoint: 10, Min: 10, Max: 255}
	if got := RequantizeValue(1, 0, relu); got != 10 {
		t.Errorf("relu clamp: got %d", got)
	}
}
