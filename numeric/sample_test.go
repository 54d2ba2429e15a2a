package numeric

import (
	"math"
	"testing"
)

// feed streams the values 0 … n−1 (as x, and −x as y) into a in chunks of
// the given size.
func feed(t *testing.T, a *accum, n, chunk int) {
	t.Helper()
	for s := 0; s < n; s += chunk {
		e := min(s+chunk, n)
		x := make([]float32, e-s)
		y := make([]float32, e-s)
		for i := range x {
			x[i] = float32(s + i)
			y[i] = -x[i]
		}
		if err := a.addFloat(x, y); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReservoir: the sample has the requested size, keeps pairs together,
// holds distinct stream elements, does not depend on how the stream is cut
// into batches, and is uniform (mean index and first-half share).
func TestReservoir(t *testing.T) {
	const n, k = 200000, 2000
	ref := newAccum(k)
	feed(t, ref, n, 777)
	if len(ref.sf) != k || ref.seen != n {
		t.Fatalf("sample of %d from %d seen, want %d from %d", len(ref.sf), ref.seen, k, n)
	}
	seen := map[float32]bool{}
	var sum float64
	firstHalf := 0
	for i, v := range ref.sf {
		if ref.sq[i] != -v {
			t.Fatalf("pair %d split: %v, %v", i, v, ref.sq[i])
		}
		if seen[v] || v < 0 || v >= n {
			t.Fatalf("sample value %v repeated or out of range", v)
		}
		seen[v] = true
		sum += float64(v)
		if v < n/2 {
			firstHalf++
		}
	}
	// Mean of k uniform indices: n/2 ± n/√(12k) ≈ 1291 (one sd).
	if mean := sum / k; math.Abs(mean-n/2) > 4*n/math.Sqrt(12*k) {
		t.Errorf("mean sampled index %.0f, want about %d", mean, n/2)
	}
	if f := float64(firstHalf) / k; math.Abs(f-0.5) > 4*0.5/math.Sqrt(k) {
		t.Errorf("first-half share %.3f, want about 0.5", f)
	}
	for _, chunk := range []int{1, 1999, 2000, 2001, n} {
		a := newAccum(k)
		feed(t, a, n, chunk)
		for i := range a.sf {
			if a.sf[i] != ref.sf[i] {
				t.Fatalf("chunk %d: sample differs at %d (%v vs %v)", chunk, i, a.sf[i], ref.sf[i])
			}
		}
	}
	small := newAccum(k)
	feed(t, small, 500, 64)
	if len(small.sf) != 500 || small.sf[499] != 499 {
		t.Fatalf("short stream: kept %d", len(small.sf))
	}
}
