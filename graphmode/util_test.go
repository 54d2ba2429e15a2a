package graphmode

import (
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

type qtensorQ = qtensor.QTensor

func mustPerTensor(t testing.TB, s float64, zp int64) qdtype.QParams {
	t.Helper()
	qp, err := qdtype.PerTensor(qdtype.QUInt8Dtype, s, zp)
	must(t, err)
	return qp
}

// clusters draws n batches of inputs around classes random centres, the
// stand-in for a real classification data set.
type clusters struct {
	centres *tensor.Dense
	r       *rand.Rand
}

func newClusters(seed uint64, classes, dim int) *clusters {
	r := rand.New(rand.NewPCG(seed, 7))
	return &clusters{centres: randDense(r, 1.5, classes, dim), r: r}
}

// batch returns inputs (bs, dim) and one-hot targets (bs, classes).
func (c *clusters) batch(bs int) (*tensor.Dense, *tensor.Dense) {
	k, dim := c.centres.Shape()[0], c.centres.Shape()[1]
	cs := c.centres.Float32s()
	x := make([]float32, bs*dim)
	y := make([]float32, bs*k)
	for i := 0; i < bs; i++ {
		cl := c.r.IntN(k)
		y[i*k+cl] = 1
		for j := 0; j < dim; j++ {
			x[i*dim+j] = cs[cl*dim+j] + 0.6*float32(c.r.NormFloat64())
		}
	}
	return tensor.New(tensor.WithShape(bs, dim), tensor.WithBacking(x)), tensor.New(tensor.WithShape(bs, k), tensor.WithBacking(y))
}

// trainMLP trains Gorgonia's MLP idiom (Mul, BroadcastAdd, Rectify) on the
// clusters with Adam and a squared error, as Gorgonia's examples train, and
// returns the trained weights.
func trainMLP(t testing.TB, data *clusters, w1, b1, w2, b2 *tensor.Dense, steps int) {
	t.Helper()
	const bs = 32
	m := newMLP(w1, b1, w2, b2, bs, gorgonia.Rectify)
	target := gorgonia.NewMatrix(m.g, tensor.Float32, gorgonia.WithShape(bs, w2.Shape()[1]), gorgonia.WithName("target"))
	cost := gorgonia.Must(gorgonia.Mean(gorgonia.Must(gorgonia.Square(gorgonia.Must(gorgonia.Sub(m.y, target))))))
	var learn gorgonia.Nodes
	for _, n := range m.g.AllNodes() {
		if n.Op() == nil && n.Value() != nil {
			learn = append(learn, n)
		}
	}
	_, err := gorgonia.Grad(cost, learn...)
	must(t, err)
	vm := gorgonia.NewTapeMachine(m.g, gorgonia.BindDualValues(learn...))
	defer vm.Close()
	solver := gorgonia.NewAdamSolver(gorgonia.WithLearnRate(0.01))
	for s := 0; s < steps; s++ {
		x, y := data.batch(bs)
		must(t, gorgonia.Let(m.x, x))
		must(t, gorgonia.Let(target, y))
		must(t, vm.RunAll())
		must(t, solver.Step(gorgonia.NodesToValueGrads(learn)))
		vm.Reset()
	}
	for _, n := range learn {
		var dst *tensor.Dense
		switch n.Name() {
		case "w1":
			dst = w1
		case "b1":
			dst = b1
		case "w2":
			dst = w2
		case "b2":
			dst = b2
		}
		copy(dst.Float32s(), n.Value().(*tensor.Dense).Float32s())
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 9)) }
