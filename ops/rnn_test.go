package ops

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// h5Cell returns random float cell weights and their quantized parameters.
func h5Cell(t testing.TB, r *rand.Rand, gates, in, hidden int, scheme qdtype.QScheme) *RNNCellParams {
	t.Helper()
	p, err := QuantizeRNNCell(h5RandFloat(r, []int{gates * hidden, in}, 0.4), h5RandFloat(r, []int{gates * hidden, hidden}, 0.4),
		h5RandFloat(r, []int{gates * hidden}, 0.2), h5RandFloat(r, []int{gates * hidden}, 0.2), scheme)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func h5Sig(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

// h5Proj returns the two dynamic projections through LinearDynamic
// (reduce_range=True), whose exactness TestLinearDynamicMatchesDefinition
// covers.
func h5Proj(t *testing.T, p *RNNCellParams, x, h *tensor.Dense) ([]float32, []float32) {
	gi, err := LinearDynamic(x, p.ih, true)
	if err != nil {
		t.Fatal(err)
	}
	gh, err := LinearDynamic(h, p.hh, true)
	if err != nil {
		t.Fatal(err)
	}
	return gi.Float32s(), gh.Float32s()
}

func h5Close(t *testing.T, name string, got []float32, want []float64) {
	t.Helper()
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-6*(1+math.Abs(want[i])) {
			t.Fatalf("%s: element %d = %v, want %v", name, i, got[i], want[i])
		}
	}
}

func TestCellsMatchGateMath(t *testing.T) {
	r := rand.New(rand.NewSource(31))
	for _, scheme := range []qdtype.QScheme{qdtype.PerTensorSymmetric, qdtype.PerChannelSymmetric} {
		const b, in, hs = 3, 5, 4
		x := h5RandFloat(r, []int{b, in}, 1)
		h := h5RandFloat(r, []int{b, hs}, 0.5)
		c := h5RandFloat(r, []int{b, hs}, 0.5)
		hd, cd := h.Float32s(), c.Float32s()
		hBefore, cBefore := fmt.Sprint(hd), fmt.Sprint(cd)

		lp := h5Cell(t, r, 4, in, hs, scheme)
		gi, gh := h5Proj(t, lp, x, h)
		h2, c2, err := LSTMCell(x, h, c, lp)
		if err != nil {
			t.Fatal(err)
		}
		wantH, wantC := make([]float64, b*hs), make([]float64, b*hs)
		for i := 0; i < b; i++ {
			g := func(k, j int) float64 { return float64(gh[i*4*hs+k*hs+j]) + float64(gi[i*4*hs+k*hs+j]) }
			for j := 0; j < hs; j++ {
				cy := h5Sig(g(1, j))*float64(cd[i*hs+j]) + h5Sig(g(0, j))*math.Tanh(g(2, j))
				wantC[i*hs+j] = cy
				wantH[i*hs+j] = h5Sig(g(3, j)) * math.Tanh(cy)
			}
		}
		h5Close(t, "lstm h", h2.Float32s(), wantH)
		h5Close(t, "lstm c", c2.Float32s(), wantC)

		gp := h5Cell(t, r, 3, in, hs, scheme)
		gi, gh = h5Proj(t, gp, x, h)
		hg, err := GRUCell(x, h, gp)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < b; i++ {
			for j := 0; j < hs; j++ {
				o := i*3*hs + j
				rg := h5Sig(float64(gi[o]) + float64(gh[o]))
				zg := h5Sig(float64(gi[o+hs]) + float64(gh[o+hs]))
				ng := math.Tanh(float64(gi[o+2*hs]) + rg*float64(gh[o+2*hs]))
				wantH[i*hs+j] = (1-zg)*ng + zg*float64(hd[i*hs+j])
			}
		}
		h5Close(t, "gru h", hg.Float32s(), wantH)

		rp := h5Cell(t, r, 1, in, hs, scheme)
		gi, gh = h5Proj(t, rp, x, h)
		ht, err := RNNTanhCell(x, h, rp)
		if err != nil {
			t.Fatal(err)
		}
		hr, err := RNNReLUCell(x, h, rp)
		if err != nil {
			t.Fatal(err)
		}
		wantR := make([]float64, b*hs)
		for i := range wantH {
			wantH[i] = math.Tanh(float64(gi[i]) + float64(gh[i]))
			wantR[i] = math.Max(float64(gi[i])+float64(gh[i]), 0)
		}
		h5Close(t, "rnn tanh", ht.Float32s(), wantH)
		h5Close(t, "rnn relu", hr.Float32s(), wantR)

		if fmt.Sprint(h.Float32s()) != hBefore || fmt.Sprint(c.Float32s()) != cBefore {
			t.Fatal("a cell modified its state inputs")
		}
	}
}

// TestLSTMOneStepIsCell: with one time step the sequence quantization and
// the cell's coincide, so LSTM must equal LSTMCell exactly; nil states are
// zeros.
func TestLSTMOneStepIsCell(t *testing.T) {
	r := rand.New(rand.NewSource(32))
	const b, in, hs = 2, 3, 5
	cell := h5Cell(t, r, 4, in, hs, qdtype.PerChannelSymmetric)
	p, err := NewLSTMParams([]*RNNCellParams{cell}, 1, false, false)
	if err != nil {
		t.Fatal(err)
	}
	x := h5RandFloat(r, []int{1, b, in}, 1)
	out, hn, cn, err := LSTM(x, nil, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	h, c, err := LSTMCell(float32Dense([]int{b, in}, x.Float32s()), nil, nil, cell)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(out.Float32s()) != fmt.Sprint(h.Float32s()) || fmt.Sprint(hn.Float32s()) != fmt.Sprint(h.Float32s()) ||
		fmt.Sprint(cn.Float32s()) != fmt.Sprint(c.Float32s()) {
		t.Fatal("one-step LSTM differs from LSTMCell")
	}
	if fmt.Sprint(out.Shape(), hn.Shape()) != "(1, 2, 5) (1, 2, 5)" {
		t.Fatalf("shapes %v %v", out.Shape(), hn.Shape())
	}
}

// TestLSTMBatchFirstAndReverse: batch_first only transposes, and the reverse
// direction of a bidirectional layer equals a forward run on the reversed
// sequence.
func TestLSTMBatchFirstAndReverse(t *testing.T) {
	r := rand.New(rand.NewSource(33))
	const T, B, in, hs = 4, 3, 2, 3
	fw, bw := h5Cell(t, r, 4, in, hs, qdtype.PerTensorSymmetric), h5Cell(t, r, 4, in, hs, qdtype.PerTensorSymmetric)
	x := h5RandFloat(r, []int{T, B, in}, 1)
	bi, _ := NewLSTMParams([]*RNNCellParams{fw, bw}, 1, true, false)
	out, hn, _, err := LSTM(x, nil, nil, bi)
	if err != nil {
		t.Fatal(err)
	}
	xb := float32Dense([]int{B, T, in}, swap01(x.Float32s(), T, B, in))
	biBF, _ := NewLSTMParams([]*RNNCellParams{fw, bw}, 1, true, true)
	outBF, hnBF, _, err := LSTM(xb, nil, nil, biBF)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(swap01(outBF.Float32s(), B, T, 2*hs)) != fmt.Sprint(out.Float32s()) || fmt.Sprint(hnBF.Float32s()) != fmt.Sprint(hn.Float32s()) {
		t.Fatal("batch_first differs from the transposed run")
	}
	// Reverse direction = forward-only LSTM with bw on the reversed sequence.
	rev := make([]float32, 0, T*B*in)
	for ts := T - 1; ts >= 0; ts-- {
		rev = append(rev, x.Float32s()[ts*B*in:(ts+1)*B*in]...)
	}
	one, _ := NewLSTMParams([]*RNNCellParams{bw}, 1, false, false)
	outR, hnR, _, err := LSTM(float32Dense([]int{T, B, in}, rev), nil, nil, one)
	if err != nil {
		t.Fatal(err)
	}
	for ts := 0; ts < T; ts++ {
		for b := 0; b < B; b++ {
			got := out.Float32s()[(ts*B+b)*2*hs+hs : (ts*B+b)*2*hs+2*hs]
			want := outR.Float32s()[((T-1-ts)*B+b)*hs : ((T-1-ts)*B+b+1)*hs]
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("t=%d b=%d: reverse output %v, want %v", ts, b, got, want)
			}
		}
	}
	if fmt.Sprint(hn.Float32s()[B*hs:]) != fmt.Sprint(hnR.Float32s()) {
		t.Fatal("reverse h_n differs")
	}
}

func TestQuantizeDynamicWeight(t *testing.T) {
	w := float32Dense([]int{2, 3}, []float32{-1, 0.5, 0.25, 0.1, -0.2, 0.3})
	q, err := QuantizeDynamicWeight(w, qdtype.PerTensorSymmetric)
	if err != nil {
		t.Fatal(err)
	}
	qp := q.QParams()
	if want := float64(float32(1) / float32(127.5)); qp.Scale() != want || qp.ZeroPoint() != 0 || q.Dtype() != qdtype.QInt8Dtype {
		t.Fatalf("per-tensor qparams %v, want scale %v zp 0", qp, want)
	}
	// f32(1/f32(1/127.5)) is just below 127.5, so −1 and −0.2 round toward 0.
	if got := q.Ints(); fmt.Sprint(got) != "[-127 64 32 13 -25 38]" {
		t.Fatalf("per-tensor ints %v", got)
	}
	q, err = QuantizeDynamicWeight(w, qdtype.PerChannelSymmetric)
	if err != nil {
		t.Fatal(err)
	}
	qp = q.QParams()
	if !qp.PerChannel() || qp.Axis != 0 || float32(qp.Scales[1]) != float32(0.3)/float32(127.5) {
		t.Fatalf("per-channel qparams %v", qp)
	}
	if _, err := QuantizeDynamicWeight(float32Dense([]int{1}, []float32{float32(math.Inf(1))}), qdtype.PerTensorSymmetric); err == nil {
		t.Fatal("Inf weight accepted")
	}
}

func TestRNNErrors(t *testing.T) {
	r := rand.New(rand.NewSource(34))
	lp := h5Cell(t, r, 4, 3, 2, qdtype.PerTensorSymmetric)
	gp := h5Cell(t, r, 3, 3, 2, qdtype.PerTensorSymmetric)
	x := h5RandFloat(r, []int{2, 3}, 1)
	for _, tc := range []struct {
		name, want string
		err        func() error
	}{
		{"gate count", "have 4 gates, want 3", func() error { _, e := GRUCell(x, nil, lp); return e }},
		{"input size", "want (batch, 3)", func() error { _, _, e := LSTMCell(h5RandFloat(r, []int{2, 4}, 1), nil, nil, lp); return e }},
		{"state shape", "h has shape", func() error { _, e := GRUCell(x, h5RandFloat(r, []int{3, 2}, 1), gp); return e }},
		{"nil params", "nil cell", func() error { _, e := RNNTanhCell(x, nil, nil); return e }},
		{"cells count", "2 cells for 1 layers", func() error { _, e := NewLSTMParams([]*RNNCellParams{lp, lp}, 1, false, false); return e }},
		{"layer input", "layer 1 takes 3 inputs", func() error { _, e := NewLSTMParams([]*RNNCellParams{lp, lp}, 2, false, false); return e }},
		{"not lstm", "not an LSTM cell", func() error { _, e := NewLSTMParams([]*RNNCellParams{gp}, 1, false, false); return e }},
		{"shapes", "want (G·H, I) and (G·H, H)", func() error {
			_, e := QuantizeRNNCell(h5RandFloat(r, []int{8, 3}, 1), h5RandFloat(r, []int{6, 2}, 1), h5RandBias(r, 8), h5RandBias(r, 6), qdtype.PerTensorSymmetric)
			return e
		}},
		{"lstm input", "want 3-D with 3 features", func() error {
			p, _ := NewLSTMParams([]*RNNCellParams{lp}, 1, false, false)
			_, _, _, e := LSTM(x, nil, nil, p)
			return e
		}},
		{"lstm h0", "h0 has shape", func() error {
			p, _ := NewLSTMParams([]*RNNCellParams{lp}, 1, false, false)
			_, _, _, e := LSTM(h5RandFloat(r, []int{4, 2, 3}, 1), h5RandFloat(r, []int{2, 2, 2}, 1), nil, p)
			return e
		}},
		{"no bias", "needs both biases", func() error {
			_, e := QuantizeRNNCell(h5RandFloat(r, []int{8, 3}, 1), h5RandFloat(r, []int{8, 2}, 1), nil, nil, qdtype.PerTensorSymmetric)
			return e
		}},
		{"scheme", "not supported", func() error { _, e := QuantizeDynamicWeight(x, qdtype.PerChannelAffineFloatQParams); return e }},
	} {
		err := tc.err()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ops: ") {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// BenchmarkLSTM runs a one-layer dynamic LSTM (T=32, B=8, I=H=128); GOPS
// counts the multiply-adds of both projections.
func BenchmarkLSTM(b *testing.B) {
	const T, B, I, H = 32, 8, 128, 128
	r := rand.New(rand.NewSource(1))
	cell := h5Cell(b, r, 4, I, H, qdtype.PerChannelSymmetric)
	p, err := NewLSTMParams([]*RNNCellParams{cell}, 1, false, false)
	if err != nil {
		b.Fatal(err)
	}
	x := h5RandFloat(r, []int{T, B, I}, 1)
	ops := 2 * float64(T*B*4*H*(I+H))
	b.Run("size=T32_B8_I128_H128/impl=op", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, _, err := LSTM(x, nil, nil, p); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
	})
	// The harness's lstm_t35_b20_650x650 workload, one layer, per-tensor weights.
	const T2, B2, H2 = 35, 20, 650
	cell2 := h5Cell(b, r, 4, H2, H2, qdtype.PerTensorSymmetric)
	p2, err := NewLSTMParams([]*RNNCellParams{cell2}, 1, false, false)
	if err != nil {
		b.Fatal(err)
	}
	x2 := h5RandFloat(r, []int{T2, B2, H2}, 1)
	ops2 := 2 * float64(T2*B2*4*H2*(H2+H2))
	b.Run("size=T35_B20_I650_H650/impl=op", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, _, err := LSTM(x2, nil, nil, p2); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(ops2*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
	})
	// lstm_t35_b20_128x256_l2: two layers, per-tensor weights.
	const I3, H3 = 128, 256
	p3, err := NewLSTMParams([]*RNNCellParams{h5Cell(b, r, 4, I3, H3, qdtype.PerTensorSymmetric),
		h5Cell(b, r, 4, H3, H3, qdtype.PerTensorSymmetric)}, 2, false, false)
	if err != nil {
		b.Fatal(err)
	}
	x3 := h5RandFloat(r, []int{T2, B2, I3}, 1)
	ops3 := 2 * float64(T2*B2*4*H3*(I3+H3+H3+H3))
	b.Run("size=T35_B20_I128_H256_L2/impl=op", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, _, err := LSTM(x3, nil, nil, p3); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(ops3*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
	})
}
