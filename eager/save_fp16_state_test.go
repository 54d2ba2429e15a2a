package eager

import (
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/observer"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A float16 dynamic LSTM run from given (h0, c0) gives the same output,
// h_n and c_n after save and load (the codec stores the weights; the
// states are the caller's).
func TestFloat16LSTMStateRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(43))
	lstm, err := nn.NewLSTM(5, 6, 2, true, nn.WithSeed(44))
	must(t, err)
	seq, err := nn.NewSequential(lstm)
	must(t, err)
	qs, err := QuantizeDynamic(seq, DynamicSpec{Dtype: observer.Float16})
	must(t, err)
	ls := roundTrip(t, qs)
	q, l := qs.ModuleBase().Children()[0].Module, ls.ModuleBase().Children()[0].Module
	x, h0, c0 := randDense(r, 1, 7, 3, 5), randDense(r, 0.5, 4, 3, 6), randDense(r, 0.5, 4, 3, 6)
	run := func(m nn.Module) []*tensor.Dense {
		f, ok := m.(*nodes.DynamicFP16RNN)
		if !ok {
			t.Fatalf("%T, want *nodes.DynamicFP16RNN", m)
		}
		g := gorgonia.NewGraph()
		var ins []*gorgonia.Node
		for i, d := range []*tensor.Dense{x, h0, c0} {
			n := gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(d.Shape().Clone()...), gorgonia.WithName([]string{"x", "h0", "c0"}[i]))
			must(t, gorgonia.Let(n, d))
			ins = append(ins, n)
		}
		out, hn, cn, err := f.ForwardState(ins[0], ins[1], ins[2])
		must(t, err)
		vm := gorgonia.NewTapeMachine(g)
		defer vm.Close()
		must(t, vm.RunAll())
		return []*tensor.Dense{out.Value().(*tensor.Dense), hn.Value().(*tensor.Dense), cn.Value().(*tensor.Dense)}
	}
	a, b := run(q), run(l)
	for i, what := range []string{"output", "h_n", "c_n"} {
		equalDense(t, "fp16 LSTM from states, round trip, "+what, a[i], b[i])
	}
}
