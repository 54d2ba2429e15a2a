package main

import (
	"math"
	"testing"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/observer"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestQuantizeDynamicFloat16LSTMState: quantize_dynamic with float16
// converts the LSTM to nodes.DynamicFP16RNN, which runs from given
// (h0, c0) as evaluation with carried-over states needs: running 2T
// tokens at once equals running T, then T from the first run's final
// states, and carrying the states changes the result.
func TestQuantizeDynamicFloat16LSTMState(t *testing.T) {
	f, err := newLanguageModel(11, 6, 5, 2, 0, 3)
	must(t, err)
	nn.Eval(f)
	q, err := eager.QuantizeDynamic(f, eager.DynamicSpec{Types: []string{"LSTM", "Linear"}, Dtype: observer.Float16})
	must(t, err)
	rnn, err := nn.Get(q, "rnn")
	must(t, err)
	if _, ok := rnn.(*nodes.DynamicFP16RNN); !ok {
		t.Fatalf("float16 LSTM is %T, want *nodes.DynamicFP16RNN", rnn)
	}
	if _, ok := rnn.(stateful); !ok {
		t.Fatalf("float16 dynamic LSTM %T has no ForwardState(x, h0, c0)", rnn)
	}
	m := q.(*LanguageModel)
	const T, B, V = 3, 2, 11
	ids := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 1}
	runSeg := func(tok []int64, h, c *tensor.Dense) (logits, hn, cn *tensor.Dense) {
		g := gorgonia.NewGraph()
		x := gorgonia.NewMatrix(g, tensor.Int64, gorgonia.WithShape(len(tok)/B, B), gorgonia.WithValue(tensor.New(tensor.WithShape(len(tok)/B, B), tensor.WithBacking(tok))))
		var h0, c0 *gorgonia.Node
		if h != nil {
			h0 = gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(h.Shape()...), gorgonia.WithName("h0"))
			c0 = gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(c.Shape()...), gorgonia.WithName("c0"))
			must(t, gorgonia.Let(h0, h))
			must(t, gorgonia.Let(c0, c))
		}
		l, hN, cN, err := m.ForwardState(x, h0, c0)
		must(t, err)
		vm := gorgonia.NewTapeMachine(g)
		defer vm.Close()
		must(t, vm.RunAll())
		return l.Value().(*tensor.Dense).Clone().(*tensor.Dense), hN.Value().(*tensor.Dense).Clone().(*tensor.Dense), cN.Value().(*tensor.Dense).Clone().(*tensor.Dense)
	}
	all, _, _ := runSeg(ids, nil, nil)
	_, h1, c1 := runSeg(ids[:T*B], nil, nil)
	if s := h1.Shape(); !s.Eq(tensor.Shape{2, B, 5}) || !c1.Shape().Eq(s) {
		t.Fatalf("h_n %v, c_n %v, want (2, %d, 5)", s, B, c1.Shape())
	}
	second, _, _ := runSeg(ids[T*B:], h1, c1)
	fresh, _, _ := runSeg(ids[T*B:], nil, nil)
	a, s, z := all.Float32s()[T*B*V:], second.Float32s(), fresh.Float32s()
	differs := false
	for i := range s {
		if math.Abs(float64(a[i]-s[i])) > 1e-5 {
			t.Fatalf("logit %d: %v in one run, %v after carrying the state", i, a[i], s[i])
		}
		differs = differs || s[i] != z[i]
	}
	if !differs {
		t.Fatal("the carried states do not change the second segment's logits")
	}
}
