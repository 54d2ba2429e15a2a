package main

import (
	"bytes"
	"testing"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/tensor"
)

// TestSaveInt8WeightsOneBytePerValue guards the int8 model file size the
// example reports: a converted Linear(1568, 128) has 200 704 int8 weights,
// and its eager.Save file must be about that size plus a few hundred bytes
// of bias, scales and framing. (Until eager's commit bff7a59 the codes were
// zig-zag varints, two bytes for codes outside [-64, 63], which made the
// example's int8 files only ~2.6× smaller than the float ones.)
func TestSaveInt8WeightsOneBytePerValue(t *testing.T) {
	lin, err := nn.NewLinear(1568, 128, nn.WithSeed(1))
	must(t, err)
	m, err := nn.NewSequential(eager.NewQuantStub(nil), lin, eager.NewDeQuantStub(nil))
	must(t, err)
	nn.Eval(m)
	m.ModuleBase().QConfig = eager.DefaultQConfig()
	p, err := eager.Prepare(m)
	must(t, err)
	x := make([]float32, 8*1568)
	for i := range x {
		x[i] = float32(i%13) - 6
	}
	_, err = eager.Run(p, tensor.New(tensor.WithShape(8, 1568), tensor.WithBacking(x)))
	must(t, err)
	q, err := eager.Convert(p)
	must(t, err)
	var buf bytes.Buffer
	must(t, eager.Save(&buf, q))
	const weights = 1568 * 128
	if buf.Len() > weights+4096 {
		t.Fatalf("saved int8 Linear(1568, 128) is %d bytes, want ≤ %d (%d int8 weights + bias and framing)", buf.Len(), weights+4096, weights)
	}
}
