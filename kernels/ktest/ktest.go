// Package ktest is the shared test and benchmark suite of the kernels
// package, in the style of gonum's testblas: every kernel path runs the same
// bit-exact checks against a naive reference written here, independent of
// the code under test.
//
//	func TestGemm(t *testing.T) {
//		for _, path := range kernels.Paths() {
//			t.Run(path, func(t *testing.T) { ktest.TestGemm(t, path) })
//		}
//	}
package ktest

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"testing"

	"github.com/qgorgonia/qgorgonia/kernels"
)

// NaiveAcc is the reference GEMM: out[i·ldc+j] = Σ_k (a[i·lda+k]−aZP)·(w[j·K+k]−wZP[j])
// accumulated in int64 and wrapped to int32 at the end (equal to wrapping
// int32 accumulation).
func NaiveAcc(m, n, k int, a []uint8, lda int, aZP int32, w []int8, wZP []int32, out []int32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			zw := wZP[0]
			if len(wZP) > 1 {
				zw = wZP[j]
			}
			var s int64
			for t := 0; t < k; t++ {
				s += int64(int32(a[i*lda+t])-aZP) * int64(int32(w[j*k+t])-zw)
			}
			out[i*ldc+j] = int32(s)
		}
	}
}

// usePath switches the kernels to path for the duration of the test.
func usePath(tb testing.TB, path string) {
	tb.Helper()
	prev := kernels.Path()
	if err := kernels.SetPath(path); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = kernels.SetPath(prev) })
}

const guard = 37 // guard elements before and after every output

// gemmCase is one GEMM problem with its operands.
type gemmCase struct {
	m, n, k, lda, ldo int
	a                 []uint8
	w                 []int8
	aZP               int32
	wZP               []int32
}

func (c gemmCase) String() string {
	return fmt.Sprintf("m=%d n=%d k=%d lda=%d ldo=%d aZP=%d wZP=%v", c.m, c.n, c.k, c.lda, c.ldo, c.aZP, shortZP(c.wZP))
}

func shortZP(z []int32) string {
	if len(z) <= 3 {
		return fmt.Sprint(z)
	}
	return fmt.Sprintf("per-channel[%d]", len(z))
}

func newCase(r *rand.Rand, m, n, k, padA, padO int) gemmCase {
	c := gemmCase{m: m, n: n, k: k, lda: k + padA, ldo: n + padO}
	c.a = make([]uint8, max(0, (m-1)*c.lda+k))
	c.w = make([]int8, n*k)
	for i := range c.a {
		c.a[i] = uint8(r.Intn(256))
	}
	for i := range c.w {
		c.w[i] = int8(r.Intn(256) - 128)
	}
	switch r.Intn(6) {
	case 0:
		c.aZP = 0
	case 1:
		c.aZP = 255
	default:
		c.aZP = int32(r.Intn(256))
	}
	switch r.Intn(5) {
	case 0:
		c.wZP = []int32{0}
	case 1:
		c.wZP = []int32{-128}
	case 2:
		c.wZP = []int32{127}
	default:
		c.wZP = make([]int32, n)
		for j := range c.wZP {
			c.wZP[j] = int32(r.Intn(256) - 128)
		}
		if n > 0 {
			c.wZP[0] = -128
			c.wZP[n-1] = 127
		}
	}
	return c
}

// outLen is the output length without guards.
func (c gemmCase) outLen() int {
	if c.m == 0 {
		return 0
	}
	return (c.m-1)*c.ldo + c.n
}

// want returns the reference accumulators (row stride ldo).
func (c gemmCase) want() []int32 {
	out := make([]int32, c.outLen())
	NaiveAcc(c.m, c.n, c.k, c.a, c.lda, c.aZP, c.w, c.wZP, out, c.ldo)
	return out
}

// inside reports whether output index i (no guard offset) is an element of the result.
func (c gemmCase) inside(i int) bool { return i%c.ldo < c.n }

func checkGuards[T comparable](t *testing.T, name string, c gemmCase, buf []T, sentinel T) bool {
	t.Helper()
	for i, v := range buf {
		o := i - guard
		if o >= 0 && o < c.outLen() && c.inside(o) {
			continue
		}
		if v != sentinel {
			t.Errorf("%s %v: stray write at output offset %d (%v)", name, c, o, v)
			return false
		}
	}
	return true
}

// sizes that break kernels: 1…17, vector widths ±1, primes, m < tile.
var (
	mSizes = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 16, 17, 25}
	nSizes = []int{1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 97, 129}
	kSizes = []int{0, 1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 31, 64, 67}
)

// TestGemm checks GemmU8S8Acc, GemmU8S8Requant, GemmU8S8RequantS8 and
// GemmU8S8Float on path against the naive reference, bit for bit, with guard
// regions around every output and strided inputs and outputs, then checks
// that the results do not depend on the thread count.
func TestGemm(t *testing.T, path string) {
	usePath(t, path)
	r := rand.New(rand.NewSource(int64(len(path))))
	var cases []gemmCase
	for _, m := range mSizes {
		for _, n := range nSizes {
			for _, k := range kSizes {
				if r.Intn(3) != 0 && !(m == 1 || n == 1 || k == 1) {
					continue // a third of the product, plus every 1-edge
				}
				cases = append(cases, newCase(r, m, n, k, r.Intn(2)*r.Intn(9), r.Intn(2)*r.Intn(9)))
			}
		}
	}
	// Deep K, primes, and large tiles.
	for _, s := range [][3]int{{3, 70, 4099}, {13, 64, 4096}, {1, 1, 8191}, {7, 131, 1021}, {37, 67, 257}, {24, 128, 512}, {1, 1000, 1024}, {130, 65, 777}, {97, 17, 385}} {
		cases = append(cases, newCase(r, s[0], s[1], s[2], r.Intn(5), r.Intn(5)))
	}
	for _, c := range cases {
		testAcc(t, c)
		testRequant(t, r, c)
		testFloat(t, r, c)
		if t.Failed() {
			return
		}
	}
	testExtremes(t)
	testSignedZero(t)
	testThreads(t, r)
}

func testAcc(t *testing.T, c gemmCase) {
	t.Helper()
	p := kernels.PackWeights(c.w, c.n, c.k)
	if got := p.Unpack(); !slices.Equal(got, c.w) {
		t.Fatalf("%v: Unpack differs from the packed weights", c)
	}
	aCopy := slices.Clone(c.a)
	const sentinel = int32(-0x5a5a5a5b)
	buf := make([]int32, c.outLen()+2*guard)
	for i := range buf {
		buf[i] = sentinel
	}
	kernels.GemmU8S8Acc(c.m, c.a, c.lda, c.aZP, p, c.wZP, buf[guard:guard+c.outLen()], c.ldo)
	want := c.want()
	for i, v := range want {
		if c.inside(i) && buf[guard+i] != v {
			t.Errorf("GemmU8S8Acc %v: out[%d][%d] = %d, want %d", c, i/c.ldo, i%c.ldo, buf[guard+i], v)
			return
		}
	}
	checkGuards(t, "GemmU8S8Acc", c, buf, sentinel)
	if !slices.Equal(aCopy, c.a) {
		t.Errorf("GemmU8S8Acc %v: modified a", c)
	}
}

func randRequant(r *rand.Rand, n int, lo, hi int32) *kernels.Requant {
	rq := &kernels.Requant{Min: lo, Max: hi}
	rq.ZeroPoint = lo + int32(r.Intn(int(hi-lo+1)))
	nm := 1
	if r.Intn(2) == 0 {
		nm = n
	}
	rq.Multiplier = make([]float32, nm)
	for j := range rq.Multiplier {
		switch r.Intn(4) {
		case 0:
			rq.Multiplier[j] = 0.5 // exact ties
		case 1:
			rq.Multiplier[j] = float32(math.Ldexp(1, -r.Intn(20)))
		default:
			rq.Multiplier[j] = float32(math.Exp(-12 * r.Float64()))
		}
	}
	if r.Intn(3) != 0 {
		rq.Bias = make([]float32, n)
		for j := range rq.Bias {
			rq.Bias[j] = float32(r.NormFloat64() * 50)
			if r.Intn(8) == 0 {
				rq.Bias[j] = float32(r.Intn(41)-20) + 0.5
			}
		}
	}
	if r.Intn(4) == 0 {
		rq.Min = rq.ZeroPoint // fused ReLU
	}
	return rq
}

func testRequant(t *testing.T, r *rand.Rand, c gemmCase) {
	t.Helper()
	p := kernels.PackWeights(c.w, c.n, c.k)
	want := c.want()
	rq := randRequant(r, c.n, 0, 255)
	const sentinel = uint8(0xa5)
	buf := make([]uint8, c.outLen()+2*guard)
	for i := range buf {
		buf[i] = sentinel
	}
	kernels.GemmU8S8Requant(c.m, c.a, c.lda, c.aZP, p, c.wZP, rq, buf[guard:guard+c.outLen()], c.ldo)
	for i, v := range want {
		if !c.inside(i) {
			continue
		}
		if w := uint8(kernels.RequantizeValue(v, i%c.ldo, rq)); buf[guard+i] != w {
			t.Errorf("GemmU8S8Requant %v: out[%d][%d] = %d, want %d (acc %d)", c, i/c.ldo, i%c.ldo, buf[guard+i], w, v)
			return
		}
	}
	checkGuards(t, "GemmU8S8Requant", c, buf, sentinel)

	rq = randRequant(r, c.n, -128, 127)
	const sentinel8 = int8(-0x5b)
	buf8 := make([]int8, c.outLen()+2*guard)
	for i := range buf8 {
		buf8[i] = sentinel8
	}
	kernels.GemmU8S8RequantS8(c.m, c.a, c.lda, c.aZP, p, c.wZP, rq, buf8[guard:guard+c.outLen()], c.ldo)
	for i, v := range want {
		if !c.inside(i) {
			continue
		}
		if w := int8(kernels.RequantizeValue(v, i%c.ldo, rq)); buf8[guard+i] != w {
			t.Errorf("GemmU8S8RequantS8 %v: out[%d][%d] = %d, want %d (acc %d)", c, i/c.ldo, i%c.ldo, buf8[guard+i], w, v)
			return
		}
	}
	checkGuards(t, "GemmU8S8RequantS8", c, buf8, sentinel8)
}

func testFloat(t *testing.T, r *rand.Rand, c gemmCase) {
	t.Helper()
	p := kernels.PackWeights(c.w, c.n, c.k)
	want := c.want()
	rq := randRequant(r, c.n, 0, 255)
	scale, bias := rq.Multiplier, rq.Bias
	sentinel := math.Float32frombits(0x7fc0dead)
	buf := make([]float32, c.outLen()+2*guard)
	for i := range buf {
		buf[i] = sentinel
	}
	kernels.GemmU8S8Float(c.m, c.a, c.lda, c.aZP, p, c.wZP, scale, bias, buf[guard:guard+c.outLen()], c.ldo)
	for i, v := range want {
		if !c.inside(i) {
			continue
		}
		j := i % c.ldo
		s := scale[0]
		if len(scale) > 1 {
			s = scale[j]
		}
		w := float32(float32(v) * s)
		if bias != nil {
			w = float32(w + bias[j])
		}
		if math.Float32bits(buf[guard+i]) != math.Float32bits(w) {
			t.Errorf("GemmU8S8Float %v: out[%d][%d] = %v, want %v (acc %d)", c, i/c.ldo, j, buf[guard+i], w, v)
			return
		}
	}
	for i, v := range buf {
		o := i - guard
		if !(o >= 0 && o < c.outLen() && c.inside(o)) && math.Float32bits(v) != math.Float32bits(sentinel) {
			t.Errorf("GemmU8S8Float %v: stray write at output offset %d", c, o)
			return
		}
	}
}

// testExtremes drives the accumulators to the int32 limits and the
// requantization to saturation, NaN multipliers and signed zeros.
func testExtremes(t *testing.T) {
	t.Helper()
	// (255−0)·(−128−127) = −65025 per k; K = 33025 gives −2147450625.
	k := 33025
	for _, s := range []struct {
		a     uint8
		w     int8
		aZP   int32
		wZP   int32
		label string
	}{{255, -128, 0, 127, "min"}, {0, 127, 255, -128, "min2"}, {255, 127, 0, -128, "max"}, {0, -128, 255, 127, "max2"}} {
		m, n := 3, 17
		c := gemmCase{m: m, n: n, k: k, lda: k, ldo: n, aZP: s.aZP, wZP: []int32{s.wZP}}
		c.a = make([]uint8, m*k)
		c.w = make([]int8, n*k)
		for i := range c.a {
			c.a[i] = s.a
		}
		for i := range c.w {
			c.w[i] = s.w
		}
		testAcc(t, c)
		c.k = k + 1000 // past the int32 range: wraps identically
		c.lda = c.k
		c.a = append(c.a, make([]uint8, m*1000)...)
		c.w = append(c.w, make([]int8, n*1000)...)
		for i := range c.a {
			c.a[i] = s.a
		}
		for i := range c.w {
			c.w[i] = s.w
		}
		testAcc(t, c)
	}
	// Saturating and odd multipliers.
	r := rand.New(rand.NewSource(7))
	c := newCase(r, 5, 70, 9, 0, 0)
	p := kernels.PackWeights(c.w, c.n, c.k)
	want := c.want()
	for _, mult := range []float32{1e30, -1e30, 3e9, -3e9, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 0, 1} {
		rq := &kernels.Requant{Multiplier: []float32{mult}, ZeroPoint: 3, Min: 0, Max: 255}
		out := make([]uint8, c.m*c.n)
		kernels.GemmU8S8Requant(c.m, c.a, c.lda, c.aZP, p, c.wZP, rq, out, c.n)
		for i, v := range want {
			if w := uint8(kernels.RequantizeValue(v, i%c.n, rq)); out[i] != w {
				t.Errorf("GemmU8S8Requant multiplier %v: out[%d] = %d, want %d (acc %d)", mult, i, out[i], w, v)
				break
			}
		}
		rq8 := &kernels.Requant{Multiplier: []float32{mult}, ZeroPoint: -100, Min: -128, Max: 127}
		out8 := make([]int8, c.m*c.n)
		kernels.GemmU8S8RequantS8(c.m, c.a, c.lda, c.aZP, p, c.wZP, rq8, out8, c.n)
		for i, v := range want {
			if w := int8(kernels.RequantizeValue(v, i%c.n, rq8)); out8[i] != w {
				t.Errorf("GemmU8S8RequantS8 multiplier %v: out[%d] = %d, want %d (acc %d)", mult, i, out8[i], w, v)
				break
			}
		}
		f := make([]float32, c.m*c.n)
		negZero := make([]float32, c.n)
		for j := range negZero {
			negZero[j] = float32(math.Copysign(0, -1))
		}
		kernels.GemmU8S8Float(c.m, c.a, c.lda, c.aZP, p, c.wZP, []float32{mult}, negZero, f, c.n)
		for i, v := range want {
			w := float32(float32(float32(v)*mult) + negZero[i%c.n])
			if math.Float32bits(f[i]) != math.Float32bits(w) && !(w != w && f[i] != f[i]) {
				t.Errorf("GemmU8S8Float scale %v: out[%d] = %v, want %v", mult, i, f[i], w)
				break
			}
		}
	}
}

// testSignedZero checks that a float epilogue without bias keeps the sign
// of f32(0·scale) for a negative scale (−0), on every panel width.
func testSignedZero(t *testing.T) {
	t.Helper()
	for _, n := range []int{5, 16, 37, 64, 100} {
		m, k := 3, 9
		a := make([]uint8, m*k)
		for i := range a {
			a[i] = 7 // equal to aZP: every accumulator is 0
		}
		w := make([]int8, n*k)
		for i := range w {
			w[i] = int8(i%200 - 100)
		}
		p := kernels.PackWeights(w, n, k)
		out := make([]float32, m*n)
		kernels.GemmU8S8Float(m, a, k, 7, p, []int32{0}, []float32{-0.5}, nil, out, n)
		for i, v := range out {
			if math.Float32bits(v) != math.Float32bits(float32(math.Copysign(0, -1))) {
				t.Fatalf("GemmU8S8Float n=%d: out[%d] = %v (bits %#x), want -0", n, i, v, math.Float32bits(v))
			}
		}
	}
}

// testThreads checks that results do not depend on the thread count, on
// shapes large enough to be split by rows and by panels.
func testThreads(t *testing.T, r *rand.Rand) {
	t.Helper()
	defer kernels.SetThreads(kernels.SetThreads(0))
	for _, s := range [][3]int{{96, 200, 300}, {5, 1000, 600}, {300, 40, 700}} {
		c := newCase(r, s[0], s[1], s[2], 3, 1)
		p := kernels.PackWeights(c.w, c.n, c.k)
		rq := randRequant(r, c.n, 0, 255)
		var first []uint8
		for _, th := range []int{1, 2, 3, 4} {
			kernels.SetThreads(th)
			out := make([]uint8, c.outLen())
			kernels.GemmU8S8Requant(c.m, c.a, c.lda, c.aZP, p, c.wZP, rq, out, c.ldo)
			if first == nil {
				first = out
				want := c.want()
				for i, v := range want {
					if c.inside(i) && out[i] != uint8(kernels.RequantizeValue(v, i%c.ldo, rq)) {
						t.Fatalf("%v: threads %d: wrong result at %d", c, th, i)
					}
				}
			} else if !slices.Equal(first, out) {
				t.Fatalf("%v: %d threads differ from 1 thread", c, th)
			}
		}
	}
}

// CheckRandom runs GemmU8S8Acc and GemmU8S8Requant on path for one random
// problem of the given size (seeded), against the naive reference; it is
// the body of the kernels' fuzz target.
func CheckRandom(t *testing.T, path string, m, n, k int, seed int64) {
	t.Helper()
	usePath(t, path)
	r := rand.New(rand.NewSource(seed))
	c := newCase(r, m, n, k, r.Intn(3)*r.Intn(7), r.Intn(3)*r.Intn(7))
	testAcc(t, c)
	testRequant(t, r, c)
}
