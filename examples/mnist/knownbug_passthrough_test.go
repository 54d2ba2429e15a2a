//go:build knownbugs

package main

import (
	"testing"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"gorgonia.org/tensor"
)

// TestConvertClearsPassthroughQConfig shows where ~10 % of the PTQ model
// file goes: eager.Convert wraps float modules that run on quantized
// tensors (MaxPool2d, Flatten, the Identity left by fusion) in
// nodes.Passthrough, but the wrapped module keeps its qconfig (it is a
// field of the Passthrough, not a Base child, so the qconfig removal walk
// misses it), and eager.Save then writes that qconfig's observer templates:
// about 3.1 KB per Passthrough with the x86 histogram qconfig, 25 KB of the
// example's 236 KB per-tensor PTQ file. PyTorch's convert removes every
// qconfig. Run with: go test -tags knownbugs ./examples/mnist
func TestConvertClearsPassthroughQConfig(t *testing.T) {
	conv, err := nn.NewConv2d(1, 2, []int{3}, nn.Padding(1), nn.WithSeed(1))
	must(t, err)
	pool, err := nn.NewMaxPool2d([]int{2})
	must(t, err)
	m, err := nn.NewSequential(eager.NewQuantStub(nil), conv, pool, eager.NewDeQuantStub(nil))
	must(t, err)
	nn.Eval(m)
	qc, err := eager.GetDefaultQConfig("x86")
	must(t, err)
	m.ModuleBase().QConfig = qc
	p, err := eager.Prepare(m)
	must(t, err)
	x := make([]float32, 2*16)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	_, err = eager.Run(p, tensor.New(tensor.WithShape(2, 1, 4, 4), tensor.WithBacking(x)))
	must(t, err)
	q, err := eager.Convert(p)
	must(t, err)
	pt, ok := q.ModuleBase().Child("2").(*nodes.Passthrough)
	if !ok {
		t.Fatalf("child 2 is %T, want *nodes.Passthrough", q.ModuleBase().Child("2"))
	}
	if got := pt.Float.ModuleBase().QConfig; got != nil {
		t.Fatalf("the MaxPool2d inside the Passthrough still has qconfig %T after Convert", got)
	}
}
