package nodes

import (
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// checkFloat checks a builder over float32 inputs (nil entries are passed
// as nil nodes) against expected outputs.
func checkFloat(t *testing.T, xs []*tensor.Dense, want []*tensor.Dense, b func([]*gorgonia.Node) ([]*gorgonia.Node, error)) {
	t.Helper()
	checkAllMachines(t, func(g *gorgonia.ExprGraph) ([]*gorgonia.Node, error) {
		ns := make([]*gorgonia.Node, len(xs))
		for i, x := range xs {
			if x != nil {
				ns[i] = finput(g, string(rune('a'+i)), x)
			}
		}
		return b(ns)
	}, want)
}

func TestDynamicLinearMatchesOps(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	for _, pc := range []bool{false, true} {
		w, b := linearWeights(t, r, 6, 5, pc)
		p, err := ops.PrepackLinear(w, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, rr := range []bool{false, true} {
			x := randFloat(r, -2, 3, 2, 3, 5)
			want, err := ops.LinearDynamic(x, p, rr)
			if err != nil {
				t.Fatal(err)
			}
			checkFloat(t, []*tensor.Dense{x}, []*tensor.Dense{want}, func(ns []*gorgonia.Node) ([]*gorgonia.Node, error) {
				y, err := DynamicLinear(ns[0], w, b, rr)
				return []*gorgonia.Node{y}, err
			})
		}
	}
	wf, bf := randFloat(r, -1, 1, 4, 5), randFloat(r, -1, 1, 4)
	pf, err := ops.PrepackLinearFP16(wf, bf)
	if err != nil {
		t.Fatal(err)
	}
	x := randFloat(r, -2, 2, 3, 5)
	want, err := ops.LinearDynamicFP16(x, pf)
	if err != nil {
		t.Fatal(err)
	}
	checkFloat(t, []*tensor.Dense{x}, []*tensor.Dense{want}, func(ns []*gorgonia.Node) ([]*gorgonia.Node, error) {
		y, err := DynamicLinearFP16(ns[0], wf, bf)
		return []*gorgonia.Node{y}, err
	})
}

func cellParams(t *testing.T, r *rand.Rand, gates, in, hidden int) *ops.RNNCellParams {
	t.Helper()
	p, err := ops.QuantizeRNNCell(randFloat(r, -0.5, 0.5, gates*hidden, in), randFloat(r, -0.5, 0.5, gates*hidden, hidden),
		randFloat(r, -0.2, 0.2, gates*hidden), randFloat(r, -0.2, 0.2, gates*hidden), qdtype.PerTensorSymmetric)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDynamicCellsMatchOps(t *testing.T) {
	r := rand.New(rand.NewSource(13))
	const b, in, hs = 3, 5, 4
	x := randFloat(r, -1, 1, b, in)
	h := randFloat(r, -1, 1, b, hs)
	c := randFloat(r, -1, 1, b, hs)
	lp := cellParams(t, r, 4, in, hs)
	for _, withState := range []bool{true, false} {
		hh, cc := h, c
		if !withState {
			hh, cc = nil, nil
		}
		h2, c2, err := ops.LSTMCell(x, hh, cc, lp)
		if err != nil {
			t.Fatal(err)
		}
		checkFloat(t, []*tensor.Dense{x, hh, cc}, []*tensor.Dense{h2, c2}, func(ns []*gorgonia.Node) ([]*gorgonia.Node, error) {
			hn, cn, err := DynamicLSTMCell(ns[0], ns[1], ns[2], lp)
			return []*gorgonia.Node{hn, cn}, err
		})
	}
	for _, f := range []struct {
		gates int
		op    cellFunc
		node  func(x, h *gorgonia.Node, p *ops.RNNCellParams) (*gorgonia.Node, error)
	}{{3, ops.GRUCell, DynamicGRUCell}, {1, ops.RNNTanhCell, DynamicRNNTanhCell}, {1, ops.RNNReLUCell, DynamicRNNReLUCell}} {
		p := cellParams(t, r, f.gates, in, hs)
		for _, hh := range []*tensor.Dense{h, nil} {
			want, err := f.op(x, hh, p)
			if err != nil {
				t.Fatal(err)
			}
			checkFloat(t, []*tensor.Dense{x, hh}, []*tensor.Dense{want}, func(ns []*gorgonia.Node) ([]*gorgonia.Node, error) {
				y, err := f.node(ns[0], ns[1], p)
				return []*gorgonia.Node{y}, err
			})
		}
	}
	// An LSTM cell's parameters in a GRU node are a build-time error.
	g := gorgonia.NewGraph()
	if _, err := DynamicGRUCell(finput(g, "x", x), nil, lp); err == nil {
		t.Fatal("GRU node with LSTM parameters: no error")
	}
}

func TestDynamicLSTMMatchesOps(t *testing.T) {
	r := rand.New(rand.NewSource(14))
	const steps, b, in, hs, layers = 4, 2, 3, 5, 2
	for _, bidi := range []bool{false, true} {
		for _, bf := range []bool{false, true} {
			dirs := 1
			if bidi {
				dirs = 2
			}
			var cells []*ops.RNNCellParams
			for l := 0; l < layers; l++ {
				for d := 0; d < dirs; d++ {
					lin := in
					if l > 0 {
						lin = dirs * hs
					}
					cells = append(cells, cellParams(t, r, 4, lin, hs))
				}
			}
			p, err := ops.NewLSTMParams(cells, layers, bidi, bf)
			if err != nil {
				t.Fatal(err)
			}
			x := randFloat(r, -1, 1, steps, b, in)
			if bf {
				x = randFloat(r, -1, 1, b, steps, in)
			}
			h0 := randFloat(r, -1, 1, layers*dirs, b, hs)
			c0 := randFloat(r, -1, 1, layers*dirs, b, hs)
			for _, st := range [][2]*tensor.Dense{{h0, c0}, {nil, nil}, {h0, nil}} {
				o, hn, cn, err := ops.LSTM(x, st[0], st[1], p)
				if err != nil {
					t.Fatal(err)
				}
				checkFloat(t, []*tensor.Dense{x, st[0], st[1]}, []*tensor.Dense{o, hn, cn}, func(ns []*gorgonia.Node) ([]*gorgonia.Node, error) {
					o, hn, cn, err := DynamicLSTM(ns[0], ns[1], ns[2], p)
					return []*gorgonia.Node{o, hn, cn}, err
				})
			}
		}
	}
}
