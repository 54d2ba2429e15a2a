package graphmode

import (
	"github.com/qgorgonia/qgorgonia/eager"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/observer"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func randDense(r *rand.Rand, scale float32, shape ...int) *tensor.Dense {
	n := tensor.Shape(shape).TotalSize()
	d := make([]float32, n)
	for i := range d {
		d[i] = scale * float32(r.NormFloat64())
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
}

func param(g *gorgonia.ExprGraph, name string, v *tensor.Dense) *gorgonia.Node {
	return gorgonia.NewTensor(g, tensor.Float32, v.Dims(), gorgonia.WithShape(v.Shape()...), gorgonia.WithName(name), gorgonia.WithValue(v.Clone()))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mlp is Gorgonia's MLP idiom: Mul + BroadcastAdd + Rectify, twice.
type mlp struct {
	g              *gorgonia.ExprGraph
	x, h, y        *gorgonia.Node
	w1, b1, w2, b2 *tensor.Dense
}

func newMLP(w1, b1, w2, b2 *tensor.Dense, bs int, act func(*gorgonia.Node) (*gorgonia.Node, error)) *mlp {
	m := &mlp{g: gorgonia.NewGraph(), w1: w1, b1: b1, w2: w2, b2: b2}
	m.x = gorgonia.NewMatrix(m.g, tensor.Float32, gorgonia.WithShape(bs, w1.Shape()[0]), gorgonia.WithName("x"))
	xw := gorgonia.Must(gorgonia.Mul(m.x, param(m.g, "w1", w1)))
	a := gorgonia.Must(gorgonia.BroadcastAdd(xw, param(m.g, "b1", b1), nil, []byte{0}))
	m.h = gorgonia.Must(act(a))
	hw := gorgonia.Must(gorgonia.Mul(m.h, param(m.g, "w2", w2)))
	m.y = gorgonia.Must(gorgonia.BroadcastAdd(hw, param(m.g, "b2", b2), nil, []byte{0}))
	return m
}

func mlpWeights(seed uint64, in, hid, out int) (w1, b1, w2, b2 *tensor.Dense) {
	r := rand.New(rand.NewPCG(seed, 1))
	return randDense(r, 0.4, in, hid), randDense(r, 0.1, 1, hid), randDense(r, 0.4, hid, out), randDense(r, 0.1, 1, out)
}

func batches(seed uint64, n int, shape ...int) []*tensor.Dense {
	r := rand.New(rand.NewPCG(seed, 2))
	out := make([]*tensor.Dense, n)
	for i := range out {
		out[i] = randDense(r, 1, shape...)
	}
	return out
}

// runFloat evaluates nodes of a float graph for one input value and returns
// copies of their values.
func runFloat(t testing.TB, g *gorgonia.ExprGraph, x *gorgonia.Node, xv *tensor.Dense, outs ...*gorgonia.Node) []*tensor.Dense {
	t.Helper()
	vals := make([]gorgonia.Value, len(outs))
	vm := gorgonia.NewTapeMachine(g, gorgonia.EvalMode(), gorgonia.TraceExec()) // TraceExec: node values are copies, not reused registers
	defer vm.Close()
	must(t, gorgonia.Let(x, xv))
	must(t, vm.RunAll())
	res := make([]*tensor.Dense, len(outs))
	for i, o := range outs {
		vals[i] = o.Value()
		res[i] = vals[i].(*tensor.Dense).Clone().(*tensor.Dense)
	}
	return res
}

func calibrateWith(x *gorgonia.Node, data []*tensor.Dense) func(*Calibration) error {
	return func(c *Calibration) error {
		for _, d := range data {
			if err := c.Run(map[*gorgonia.Node]gorgonia.Value{x: d}); err != nil {
				return err
			}
		}
		return nil
	}
}

// runResult runs a quantized result on one input and returns its outputs.
func runResult(t testing.TB, r *Result, x *gorgonia.Node, xv *tensor.Dense) []*tensor.Dense {
	t.Helper()
	nx, err := r.Input(x)
	must(t, err)
	vm := gorgonia.NewTapeMachine(r.Graph)
	defer vm.Close()
	must(t, gorgonia.Let(nx, xv))
	must(t, vm.RunAll())
	out := make([]*tensor.Dense, len(r.Outputs))
	for i, o := range r.Outputs {
		if d, ok := o.Value().(*tensor.Dense); ok {
			out[i] = d.Clone().(*tensor.Dense)
		} else {
			out[i] = tensor.New(tensor.FromScalar(o.Value().Data()))
		}
	}
	return out
}

func observerOver(t testing.TB, vals []*tensor.Dense) observer.Observer {
	t.Helper()
	o, err := observer.DefaultObserver()
	must(t, err)
	for _, v := range vals {
		must(t, o.Observe(v))
	}
	return o
}

func qparams(t testing.TB, o observer.Observer) (float64, int64) {
	qp, err := o.CalculateQParams()
	must(t, err)
	return qp.Scale(), qp.ZeroPoint()
}

func transposed(d *tensor.Dense) *tensor.Dense { return transpose2D(d.Clone().(*tensor.Dense)) }

func vec(d *tensor.Dense) *tensor.Dense {
	return tensor.New(tensor.WithShape(d.Shape().TotalSize()), tensor.WithBacking(append([]float32(nil), d.Float32s()...)))
}

func weightQ(t testing.TB, w *tensor.Dense) *qtensorQ { return weightQWith(t, w, false) }

// weightQWith quantizes a weight as from_float does, per tensor or per
// channel (default_per_channel_weight_observer).
func weightQWith(t testing.TB, w *tensor.Dense, perChannel bool) *qtensorQ {
	t.Helper()
	f := observer.DefaultWeightObserver
	if perChannel {
		f = observer.DefaultPerChannelWeightObserver
	}
	o, err := f()
	must(t, err)
	q, err := nodes.QuantizeWeight(w, o)
	must(t, err)
	return q
}

func sameBits(t *testing.T, what string, got, want *tensor.Dense) {
	t.Helper()
	if !got.Shape().Eq(want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	g, w := got.Float32s(), want.Float32s()
	for i := range w {
		if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
			t.Fatalf("%s: element %d = %v, want %v (bit-exact)", what, i, g[i], w[i])
		}
	}
}

func argmaxRows(d *tensor.Dense) []int {
	s := d.Shape()
	rows, cols := s[0], s.TotalSize()/s[0]
	v := d.Float32s()
	out := make([]int, rows)
	for i := 0; i < rows; i++ {
		best := 0
		for j := 1; j < cols; j++ {
			if v[i*cols+j] > v[i*cols+best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

// referenceMLP builds the int8 MLP directly from package nodes, with qparams
// observed on the float graph's values: PyTorch eager's
// QuantStub → LinearReLU → Linear → DeQuantStub.
func referenceMLP(t *testing.T, m *mlp, calib []*tensor.Dense, bs int) (*gorgonia.ExprGraph, *gorgonia.Node, *gorgonia.Node) {
	var hs, ys []*tensor.Dense
	for _, d := range calib {
		v := runFloat(t, m.g, m.x, d, m.h, m.y)
		hs, ys = append(hs, v[0]), append(ys, v[1])
	}
	sx, zx := qparams(t, observerOver(t, calib))
	s1, z1 := qparams(t, observerOver(t, hs))
	s2, z2 := qparams(t, observerOver(t, ys))
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(bs, m.w1.Shape()[0]), gorgonia.WithName("x"))
	qpx := mustPerTensor(t, sx, zx)
	xq, err := nodes.Quantize(x, qpx)
	must(t, err)
	h, err := nodes.QLinearReLU(xq, weightQ(t, transposed(m.w1)), vec(m.b1), s1, z1)
	must(t, err)
	y, err := nodes.QLinear(h, weightQ(t, transposed(m.w2)), vec(m.b2), s2, z2)
	must(t, err)
	out, err := nodes.Dequantize(y)
	must(t, err)
	return g, x, out
}

func graphSnapshot(g *gorgonia.ExprGraph) (int, []float32) {
	var vals []float32
	for _, n := range g.AllNodes() {
		if n.Op() == nil && n.Value() != nil {
			vals = append(vals, n.Value().(*tensor.Dense).Float32s()...)
		}
	}
	return len(g.AllNodes()), vals
}

func TestQuantizeGraphMLP(t *testing.T) {
	const bs, in, hid, out = 8, 16, 32, 10
	w1, b1, w2, b2 := mlpWeights(1, in, hid, out)
	data := newClusters(5, out, in)
	trainMLP(t, data, w1, b1, w2, b2, 600)
	m := newMLP(w1, b1, w2, b2, bs, gorgonia.Rectify)
	var calib, test []*tensor.Dense
	for i := 0; i < 50; i++ {
		x, _ := data.batch(bs)
		if i < 10 {
			calib = append(calib, x)
		} else {
			test = append(test, x)
		}
	}
	n0, v0 := graphSnapshot(m.g)

	r, err := QuantizeGraph(m.g, gorgonia.Nodes{m.y}, eager.DefaultQConfig(), calibrateWith(m.x, calib))
	must(t, err)
	if n1, v1 := graphSnapshot(m.g); n1 != n0 || len(v1) != len(v0) {
		t.Fatalf("original graph changed: %d nodes -> %d", n0, n1)
	} else {
		for i := range v0 {
			if v0[i] != v1[i] {
				t.Fatalf("original weight value %d changed", i)
			}
		}
	}
	rep := r.Describe()
	if len(r.Report.Quantized) != 2 || r.Report.Quantized[0].Op != "QLinearReLU" || r.Report.Quantized[1].Op != "QLinear" || len(r.Report.Float) != 0 {
		t.Fatalf("report:\n%s", rep)
	}
	if r.Report.Quantizes != 1 || r.Report.Dequantizes != 1 {
		t.Fatalf("boundaries: %s", rep)
	}

	rg, rx, rout := referenceMLP(t, m, calib, bs)
	vm := gorgonia.NewTapeMachine(rg)
	defer vm.Close()
	agree, total := 0, 0
	for i, d := range append(batches(4, 3, bs, in), test...) {
		got := runResult(t, r, m.x, d)[0]
		must(t, gorgonia.Let(rx, d))
		must(t, vm.RunAll())
		want := rout.Value().(*tensor.Dense).Clone().(*tensor.Dense)
		vm.Reset()
		sameBits(t, "mlp output", got, want)
		if i < 3 { // random inputs: bit-exact check only
			continue
		}
		fl := runFloat(t, m.g, m.x, d, m.y)[0]
		for j, c := range argmaxRows(fl) {
			total++
			if argmaxRows(got)[j] == c {
				agree++
			}
		}
	}
	if float64(agree) < 0.99*float64(total) {
		t.Errorf("top-1 agreement with the float graph %d/%d < 99%%", agree, total)
	}
	t.Logf("top-1 agreement %d/%d\n%s", agree, total, rep)
}
