package ops

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

func h5RandFloat(r *rand.Rand, shape []int, scale float64) *tensor.Dense {
	n := 1
	for _, s := range shape {
		n *= s
	}
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(scale * r.NormFloat64())
	}
	return float32Dense(shape, d)
}

// TestDynamicGolden checks linear_dynamic and multi-layer (bidirectional,
// batch-first) LSTMs against PyTorch with the conformance tolerances
// (DYN_LINEAR, DYN_RNN).
func TestDynamicGolden(t *testing.T) {
	lstms := 0
	for _, c := range h5Load(t, "dynamic") {
		switch c.Op {
		case "linear_dynamic":
			var rr bool
			c.attr(t, "reduce_range", &rr)
			p, err := PrepackLinear(c.Inputs[1].q(t), c.Inputs[2].dense())
			if err != nil {
				t.Fatalf("%s: %v", c.ID, err)
			}
			y, err := LinearDynamic(c.Inputs[0].dense(), p, rr)
			if err != nil {
				t.Fatalf("%s: %v", c.ID, err)
			}
			h5CheckF(t, c.ID, y, c.Expect[0], 1e-4, 1e-5)
		case "quantized_lstm":
			lstms++
			var layers int
			var bidir, bf bool
			var scheme string
			c.attr(t, "num_layers", &layers)
			c.attr(t, "bidirectional", &bidir)
			c.attr(t, "batch_first", &bf)
			c.attr(t, "weight_qscheme", &scheme)
			qs, err := qdtype.ParseQScheme(scheme)
			if err != nil {
				t.Fatal(err)
			}
			dirs := 1
			if bidir {
				dirs = 2
			}
			cells := make([]*RNNCellParams, layers*dirs)
			for i := range cells {
				w := c.Inputs[3+4*i : 7+4*i]
				if cells[i], err = QuantizeRNNCell(w[0].dense(), w[1].dense(), w[2].dense(), w[3].dense(), qs); err != nil {
					t.Fatalf("%s: %v", c.ID, err)
				}
			}
			p, err := NewLSTMParams(cells, layers, bidir, bf)
			if err != nil {
				t.Fatalf("%s: %v", c.ID, err)
			}
			out, hn, cn, err := LSTM(c.Inputs[0].dense(), c.Inputs[1].dense(), c.Inputs[2].dense(), p)
			if err != nil {
				t.Fatalf("%s: %v", c.ID, err)
			}
			h5CheckF(t, c.ID+" output", out, c.Expect[0], 1e-4, 1e-4)
			h5CheckF(t, c.ID+" h_n", hn, c.Expect[1], 1e-4, 1e-4)
			h5CheckF(t, c.ID+" c_n", cn, c.Expect[2], 1e-4, 1e-4)
		default:
			t.Fatalf("%s: unexpected op %s", c.ID, c.Op)
		}
	}
	if lstms == 0 {
		t.Fatal("no LSTM cases")
	}
}

// h5LinearDynamicRef is LinearDynamic's definition in float64: the chosen
// qparams, the quantized activation, and the exact sum with the bias.
func h5LinearDynamicRef(t *testing.T, x []float32, m int, w *qtensor.QTensor, b []float32, rr bool) []float64 {
	lo, hi := float32(0), float32(0)
	if len(x) > 0 {
		lo, hi = x[0], x[0]
	}
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	s, z, err := qdtype.ChooseQuantizationParams(lo, hi, 0, 255, false, rr)
	if err != nil {
		t.Fatal(err)
	}
	sx := float64(float32(s))
	inv := qdtype.InvScale(float64(float32(s)))
	wr := h5Deq(w)
	n, k := w.Shape()[0], w.Shape()[1]
	y := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var acc float64
			for c := 0; c < k; c++ {
				q := qdtype.QuantizeValue(x[i*k+c], inv, z, 0, 255)
				acc += float64(q-z) * sx * wr[j*k+c]
			}
			if b != nil {
				acc += float64(b[j])
			}
			y[i*n+j] = acc
		}
	}
	return y
}

func TestLinearDynamicMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewSource(21))
	for _, s := range [][3]int{{1, 1, 1}, {3, 17, 5}, {8, 64, 33}, {2, 300, 4}, {0, 5, 3}} {
		for variant := 0; variant < 4; variant++ {
			m, k, n := s[0], s[1], s[2]
			axis := -1
			if variant&1 == 1 {
				axis = 0
			}
			w := h5RandQ(r, []int{n, k}, qdtype.QInt8Dtype, axis, 2*(variant>>1))
			var b *tensor.Dense
			var bd []float32
			if variant != 2 {
				b = h5RandBias(r, n)
				bd = b.Float32s()
			}
			x := h5RandFloat(r, []int{m, k}, 1+float64(variant))
			xBefore := fmt.Sprint(x.Float32s())
			p, err := PrepackLinear(w, b)
			if err != nil {
				t.Fatal(err)
			}
			rr := variant%2 == 0
			y, err := LinearDynamic(x, p, rr)
			if err != nil {
				t.Fatal(err)
			}
			want := h5LinearDynamicRef(t, x.Float32s(), m, w, bd, rr)
			var mx float64
			for _, v := range want {
				mx = math.Max(mx, math.Abs(v))
			}
			for i, v := range y.Float32s() {
				if math.Abs(float64(v)-want[i]) > 1e-6*math.Abs(want[i])+1e-6*mx {
					t.Fatalf("%v variant %d: y[%d] = %v, want %v", s, variant, i, v, want[i])
				}
			}
			if fmt.Sprint(x.Float32s()) != xBefore {
				t.Fatal("LinearDynamic modified its input")
			}
		}
	}
}

func TestRoundToFloat16(t *testing.T) {
	for _, tc := range []struct{ in, want float32 }{
		{0, 0},
		{1, 1},
		{1 + 1.0/2048, 1},                        // tie between 1 and 1+2^-10: even is 1
		{1 + 3.0/2048, 1 + 2.0/1024},             // tie: rounds up to the even mantissa
		{1 + 1.0/4096, 1},                        // below the tie
		{-2.5e-8, float32(math.Copysign(0, -1))}, // below half the smallest subnormal: −0
		{float32(math.Ldexp(1, -24)), float32(math.Ldexp(1, -24))}, // smallest subnormal
		{float32(math.Ldexp(3, -25)), float32(math.Ldexp(1, -23))}, // 1.5 ulp tie → even (2 ulps)
		{float32(math.Ldexp(5, -26)), float32(math.Ldexp(1, -24))}, // 1.25 ulp → 1 ulp
		{65504, 65504},
		{65519, 65504},
		{1e6, 65504},
		{-1e6, -65504},
		{float32(math.Inf(1)), 65504},
		{0.1, 0.0999755859375},
		{float32(math.Ldexp(1, -14)), float32(math.Ldexp(1, -14))}, // smallest normal
	} {
		if got := RoundToFloat16(tc.in); got != tc.want || math.Signbit(float64(got)) != math.Signbit(float64(tc.want)) {
			t.Errorf("RoundToFloat16(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if v := RoundToFloat16(float32(math.NaN())); v == v {
		t.Error("NaN must stay NaN")
	}
}

func TestLinearDynamicFP16(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	x := h5RandFloat(r, []int{2, 3, 7}, 1)
	w := h5RandFloat(r, []int{4, 7}, 0.3)
	w.Float32s()[0] = 1e5 // saturates
	b := h5RandBias(r, 4)
	wBefore := fmt.Sprint(w.Float32s())
	p, err := PrepackLinearFP16(w, b)
	if err != nil {
		t.Fatal(err)
	}
	y, err := LinearDynamicFP16(x, p)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(w.Float32s()) != wBefore {
		t.Fatal("PrepackLinearFP16 modified the weight")
	}
	if fmt.Sprint(y.Shape()) != "(2, 3, 4)" {
		t.Fatalf("shape %v", y.Shape())
	}
	xd, wd, bd := x.Float32s(), w.Float32s(), b.Float32s()
	for i := 0; i < 6; i++ {
		for j := 0; j < 4; j++ {
			var s float64
			for c := 0; c < 7; c++ {
				s += float64(xd[i*7+c]) * float64(RoundToFloat16(wd[j*7+c]))
			}
			s += float64(bd[j])
			if got := y.Float32s()[i*4+j]; got != float32(s) {
				t.Fatalf("y[%d][%d] = %v, want %v", i, j, got, float32(s))
			}
		}
	}
	if _, err := LinearDynamicFP16(h5RandFloat(r, []int{2, 6}, 1), p); err == nil || !strings.Contains(err.Error(), "last dimension of 7") {
		t.Fatalf("K mismatch: %v", err)
	}
}

func TestLinearDynamicErrors(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	w := h5RandQ(r, []int{3, 4}, qdtype.QInt8Dtype, -1, 0)
	p, err := PrepackLinear(w, nil)
	if err != nil {
		t.Fatal(err)
	}
	nan := h5RandFloat(r, []int{2, 4}, 1)
	nan.Float32s()[3] = float32(math.NaN())
	inf := h5RandFloat(r, []int{2, 4}, 1)
	inf.Float32s()[1] = float32(math.Inf(-1))
	i64 := tensor.New(tensor.WithShape(2, 4), tensor.WithBacking(make([]int64, 8)))
	for _, tc := range []struct {
		name, want string
		err        func() error
	}{
		{"nil", "nil input", func() error { _, e := LinearDynamic(nil, p, true); return e }},
		{"nil packed", "nil packed", func() error { _, e := LinearDynamic(nan, nil, true); return e }},
		{"NaN", "NaN at flat index 3", func() error { _, e := LinearDynamic(nan, p, true); return e }},
		{"Inf", "not finite", func() error { _, e := LinearDynamic(inf, p, false); return e }},
		{"dtype", "want float32", func() error { _, e := LinearDynamic(i64, p, false); return e }},
		{"rank 1", "at least 2 dimensions", func() error { _, e := LinearDynamic(h5RandFloat(r, []int{4}, 1), p, false); return e }},
		{"K", "last dimension of 4", func() error { _, e := LinearDynamic(h5RandFloat(r, []int{2, 5}, 1), p, false); return e }},
		{"fp16 NaN weight", "NaN", func() error { _, e := PrepackLinearFP16(nan, nil); return e }},
		{"fp16 bias", "want [2]", func() error { _, e := PrepackLinearFP16(h5RandFloat(r, []int{2, 4}, 1), h5RandBias(r, 3)); return e }},
	} {
		err := tc.err()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ops: ") {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestDynamicQuantizeIntoMatchesScalar checks the unrolled range scan and
// the kernel quantization against one sequential scan and QuantizeValue,
// for lengths around the unroll width and the vector width.
func TestDynamicQuantizeIntoMatchesScalar(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, n := range []int{1, 2, 3, 4, 5, 7, 15, 16, 17, 33, 650, 1301} {
		for _, rr := range []bool{false, true} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64()*3 + 0.5)
			}
			lo, hi := x[0], x[0]
			for _, v := range x {
				if v < lo {
					lo = v
				}
				if v > hi {
					hi = v
				}
			}
			s, z, err := qdtype.ChooseQuantizationParams(lo, hi, 0, 255, false, rr)
			if err != nil {
				t.Fatal(err)
			}
			q := make([]uint8, n)
			sx, zx, err := dynamicQuantizeInto("t", x, rr, q)
			if err != nil {
				t.Fatal(err)
			}
			if sx != float32(s) || int64(zx) != z {
				t.Fatalf("n=%d: qparams (%v, %d), want (%v, %d)", n, sx, zx, float32(s), z)
			}
			for i, v := range x {
				if want := qdtype.QuantizeValue(v, 1/float32(s), z, 0, 255); int64(q[i]) != want {
					t.Fatalf("n=%d: q[%d] = %d, want %d", n, i, q[i], want)
				}
			}
		}
	}
}
