package eager

import (
	"testing"

	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"gorgonia.org/tensor"
)

// Convert must drop the qconfig of the float modules a Passthrough wraps,
// as PyTorch's convert removes every qconfig; otherwise Save writes their
// observer templates (found by examples/mnist: ~10% of a PTQ model file).
func TestConvertClearsPassthroughQConfig(t *testing.T) {
	conv, err := nn.NewConv2d(1, 2, []int{3}, nn.Padding(1), nn.WithSeed(1))
	must(t, err)
	pool, err := nn.NewMaxPool2d([]int{2})
	must(t, err)
	m, err := nn.NewSequential(NewQuantStub(nil), conv, pool, NewDeQuantStub(nil))
	must(t, err)
	nn.Eval(m)
	qc, err := GetDefaultQConfig("x86")
	must(t, err)
	m.ModuleBase().QConfig = qc
	p, err := Prepare(m)
	must(t, err)
	x := make([]float32, 2*16)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	_, err = Run(p, tensor.New(tensor.WithShape(2, 1, 4, 4), tensor.WithBacking(x)))
	must(t, err)
	q, err := Convert(p)
	must(t, err)
	pt, ok := q.ModuleBase().Child("2").(*nodes.Passthrough)
	if !ok {
		t.Fatalf("child 2 is %T, want *nodes.Passthrough", q.ModuleBase().Child("2"))
	}
	if got := pt.Float.ModuleBase().QConfig; got != nil {
		t.Fatalf("the MaxPool2d inside the Passthrough still has qconfig %T after Convert", got)
	}
}
