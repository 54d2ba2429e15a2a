package numeric_test

import (
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/tensor"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func randDense(r *rand.Rand, scale float32, shape ...int) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(r.NormFloat64()) * scale
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

func batches(seed int64, n int, shape ...int) []*tensor.Dense {
	r := rand.New(rand.NewSource(seed))
	out := make([]*tensor.Dense, n)
	for i := range out {
		out[i] = randDense(r, 1, shape...)
	}
	return out
}

// smallCNN is, in eval mode: 0 QuantStub, 1 Conv2d(1→4, 3×3, pad 1),
// 2 BatchNorm2d, 3 ReLU, 4 MaxPool2d(2), 5 Flatten, 6 Linear(64→16),
// 7 ReLU, 8 Linear(16→10), 9 DeQuantStub; input (N, 1, 8, 8).
func smallCNN(t testing.TB, seed int64) *nn.Sequential {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	conv, err := nn.NewConv2d(1, 4, []int{3}, nn.Padding(1), nn.WithSeed(seed))
	must(t, err)
	bn, err := nn.NewBatchNorm2d(4)
	must(t, err)
	copy(bn.RunningMean.Data.Float32s(), randDense(r, 0.1, 4).Float32s())
	for i, v := range randDense(r, 0.2, 4).Float32s() {
		bn.RunningVar.Data.Float32s()[i] = 1 + v*v
	}
	pool, err := nn.NewMaxPool2d([]int{2})
	must(t, err)
	l1, err := nn.NewLinear(64, 16, nn.WithSeed(seed+1))
	must(t, err)
	l2, err := nn.NewLinear(16, 10, nn.WithSeed(seed+2))
	must(t, err)
	m, err := nn.NewSequential(eager.NewQuantStub(nil), conv, bn, nn.NewReLU(), pool, nn.NewFlatten(), l1, nn.NewReLU(), l2, eager.NewDeQuantStub(nil))
	must(t, err)
	nn.Eval(m)
	return m
}

// quantizeCNN fuses m (conv-bn-relu, linear-relu), calibrates it with the
// fbgemm qconfig and converts it; it returns the fused float model and the
// quantized one.
func quantizeCNN(t testing.TB, m nn.Module, calib []*tensor.Dense) (fused, quant nn.Module) {
	t.Helper()
	fused, err := fuse.FuseModules(m, [][]string{{"1", "2", "3"}, {"6", "7"}})
	must(t, err)
	qc, err := eager.GetDefaultQConfig("fbgemm")
	must(t, err)
	fused.ModuleBase().QConfig = qc
	prepared, err := eager.Prepare(fused)
	must(t, err)
	must(t, eager.DefaultEvalFn(prepared, calib))
	quant, err = eager.Convert(prepared)
	must(t, err)
	return fused, quant
}
