package nodes

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/ops"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// fp16StateRun builds x, h0 and c0 (nil: not given) as graph inputs, calls
// run on them and returns the values of its non-nil results.
func fp16StateRun(t *testing.T, x, h0, c0 *tensor.Dense, run func(x, h0, c0 *gorgonia.Node) (out, hn, cn *gorgonia.Node, err error)) []*tensor.Dense {
	t.Helper()
	g := gorgonia.NewGraph()
	in := func(d *tensor.Dense, name string) *gorgonia.Node {
		if d == nil {
			return nil
		}
		n := gorgonia.NewTensor(g, tensor.Float32, d.Dims(), gorgonia.WithShape(d.Shape().Clone()...), gorgonia.WithName(name))
		if err := gorgonia.Let(n, d); err != nil {
			t.Fatal(err)
		}
		return n
	}
	out, hn, cn, err := run(in(x, "x"), in(h0, "h0"), in(c0, "c0"))
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	var vals []*tensor.Dense
	for _, n := range []*gorgonia.Node{out, hn, cn} {
		if n != nil {
			vals = append(vals, n.Value().(*tensor.Dense).Clone().(*tensor.Dense))
		}
	}
	return vals
}

// dynRNNClose is the conformance DYN_RNN rule: Δ ≤ 1e-4·|want| +
// 1e-4·max|want|.
func dynRNNClose(t *testing.T, what string, got, want *tensor.Dense) {
	t.Helper()
	if !got.Shape().Eq(want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	g, w := got.Float32s(), want.Float32s()
	var peak float64
	for _, v := range w {
		peak = math.Max(peak, math.Abs(float64(v)))
	}
	for i := range w {
		if d := math.Abs(float64(g[i] - w[i])); d > 1e-4*math.Abs(float64(w[i]))+1e-4*peak {
			t.Fatalf("%s[%d] = %v, want %v (Δ %g, max|want| %g)", what, i, g[i], w[i], d, peak)
		}
	}
}

// fp16Float returns a clone of the float recurrent module m whose weight
// matrices are rounded to float16 (biases stay float32), the reference
// the float16 dynamic module must match.
func fp16Float(m nn.Module) nn.Module {
	c := m.Clone()
	for _, p := range c.NamedParameters() {
		if strings.HasPrefix(p.Name, "weight_") {
			v := p.Param.Data.Float32s()
			for i := range v {
				v[i] = ops.RoundToFloat16(v[i])
			}
		}
	}
	return c
}

func TestDynamicFP16RNNForwardState(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	const in, hid, T, B = 5, 6, 4, 3
	for _, tc := range []struct {
		kind       string
		layers     int
		bi, bFirst bool
	}{{"LSTM", 2, false, false}, {"LSTM", 2, true, true}, {"GRU", 2, true, false}, {"GRU", 1, false, true}} {
		var fm nn.Module
		var err error
		if tc.kind == "LSTM" {
			var l *nn.LSTM
			l, err = nn.NewLSTM(in, hid, tc.layers, tc.bi, nn.WithSeed(3))
			if l != nil {
				l.BatchFirst = tc.bFirst
			}
			fm = l
		} else {
			var g *nn.GRU
			g, err = nn.NewGRU(in, hid, tc.layers, tc.bi, nn.WithSeed(3))
			if g != nil {
				g.BatchFirst = tc.bFirst
			}
			fm = g
		}
		if err != nil {
			t.Fatal(err)
		}
		nn.Eval(fm)
		q, err := DynamicFP16RNNFromFloat(fm)
		if err != nil {
			t.Fatal(err)
		}
		ref := fp16Float(fm)
		dirs := 1
		if tc.bi {
			dirs = 2
		}
		x := modDense(r, 1, T, B, in)
		if tc.bFirst {
			x = modDense(r, 1, B, T, in)
		}
		h0 := modDense(r, 0.5, tc.layers*dirs, B, hid)
		var c0 *tensor.Dense
		if tc.kind == "LSTM" {
			c0 = modDense(r, 0.5, tc.layers*dirs, B, hid)
		}
		name := tc.kind + map[bool]string{true: " bidirectional", false: ""}[tc.bi] + map[bool]string{true: " batch_first", false: ""}[tc.bFirst]
		got := fp16StateRun(t, x, h0, c0, q.ForwardState)
		var want []*tensor.Dense
		if tc.kind == "LSTM" {
			want = fp16StateRun(t, x, h0, c0, ref.(*nn.LSTM).ForwardState)
		} else {
			want = fp16StateRun(t, x, h0, nil, func(x, h0, _ *gorgonia.Node) (out, hn, cn *gorgonia.Node, err error) {
				out, hn, err = ref.(*nn.GRU).ForwardState(x, h0)
				return out, hn, nil, err
			})
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d results, want %d", name, len(got), len(want))
		}
		for i, what := range []string{"output", "h_n", "c_n"}[:len(want)] {
			dynRNNClose(t, name+" "+what, got[i], want[i])
		}
		// The states matter: from zeros the output differs.
		zero := fp16StateRun(t, x, nil, nil, q.ForwardState)
		same := true
		for i, v := range zero[0].Float32s() {
			if v != got[0].Float32s()[i] {
				same = false
				break
			}
		}
		if same {
			t.Fatalf("%s: output from given states equals the zero-state output", name)
		}
		// Zero states given explicitly, nil states and Forward agree bit for bit.
		fwd := fp16StateRun(t, x, nil, nil, func(x, _, _ *gorgonia.Node) (out, hn, cn *gorgonia.Node, err error) {
			out, err = q.Forward(x)
			return out, nil, nil, err
		})
		var zc *tensor.Dense
		if c0 != nil {
			zc = tensor.New(tensor.WithShape(c0.Shape()...), tensor.Of(tensor.Float32))
		}
		zeros := fp16StateRun(t, x, tensor.New(tensor.WithShape(h0.Shape()...), tensor.Of(tensor.Float32)), zc, q.ForwardState)
		for _, o := range [][]*tensor.Dense{fwd, zeros} {
			for i, v := range o[0].Float32s() {
				if v != zero[0].Float32s()[i] {
					t.Fatalf("%s: zero-state output [%d] = %v, want %v", name, i, v, zero[0].Float32s()[i])
				}
			}
		}
	}
}

func TestDynamicFP16RNNForwardStateErrors(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	lstm, err := nn.NewLSTM(3, 4, 2, false, nn.WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	gru, err := nn.NewGRU(3, 4, 1, false, nn.WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	ql, err := DynamicFP16RNNFromFloat(lstm)
	if err != nil {
		t.Fatal(err)
	}
	qg, err := DynamicFP16RNNFromFloat(gru)
	if err != nil {
		t.Fatal(err)
	}
	x := modDense(r, 1, 5, 2, 3)
	for _, tc := range []struct {
		name   string
		m      *DynamicFP16RNN
		h0, c0 *tensor.Dense
		want   string
	}{
		{"h0 layers", ql, modDense(r, 1, 1, 2, 4), nil, "h0 has shape (1, 2, 4), want [2 2 4]"},
		{"c0 batch", ql, nil, modDense(r, 1, 2, 3, 4), "c0 has shape (2, 3, 4), want [2 2 4]"},
		{"h0 rank", qg, modDense(r, 1, 2, 4), nil, "h0 has shape (2, 4), want [1 2 4]"},
		{"GRU c0", qg, nil, modDense(r, 1, 1, 2, 4), "a GRU has no cell state"},
	} {
		g := gorgonia.NewGraph()
		node := func(d *tensor.Dense, name string) *gorgonia.Node {
			if d == nil {
				return nil
			}
			return gorgonia.NewTensor(g, tensor.Float32, d.Dims(), gorgonia.WithShape(d.Shape().Clone()...), gorgonia.WithName(name))
		}
		_, _, _, err := tc.m.ForwardState(node(x, "x"), node(tc.h0, "h0"), node(tc.c0, "c0"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: err %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
