package nodes

import (
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// checkMulti checks a node builder over several quantized inputs against
// the ops result.
func checkMulti(t *testing.T, xs []*qtensor.QTensor, want *qtensor.QTensor, b func([]*gorgonia.Node) (*gorgonia.Node, error)) {
	t.Helper()
	checkAllMachines(t, func(g *gorgonia.ExprGraph) ([]*gorgonia.Node, error) {
		ns := make([]*gorgonia.Node, len(xs))
		for i, x := range xs {
			var err error
			if ns[i], err = qinput(g, string(rune('a'+i)), x); err != nil {
				return nil, err
			}
		}
		y, err := b(ns)
		if err != nil {
			return nil, err
		}
		qp, err := QParamsOf(y)
		if err != nil {
			return nil, err
		}
		if !qp.Equal(want.QParams()) {
			t.Fatalf("node qparams %v, want %v", qp, want.QParams())
		}
		return []*gorgonia.Node{y}, nil
	}, []*tensor.Dense{want.Dense()})
}

type unaryCase struct {
	name string
	op   func(*qtensor.QTensor) (*qtensor.QTensor, error)
	node func(*gorgonia.Node) (*gorgonia.Node, error)
}

func runUnaryCases(t *testing.T, x *qtensor.QTensor, cases []unaryCase) {
	t.Helper()
	for _, c := range cases {
		want, err := c.op(x)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		checkUnary(t, x, want, c.node)
	}
}

func TestPoolsMatchOps(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	for _, qp := range []qdtype.QParams{mustQP(qdtype.QUInt8Dtype, 0.05, 128), mustQP(qdtype.QInt8Dtype, 0.04, -3)} {
		for _, shape := range [][]int{{2, 3, 7, 6}, {3, 5, 5}} {
			x := randQ(t, r, qp, shape...)
			runUnaryCases(t, x, []unaryCase{
				{"maxpool", func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
					return ops.MaxPool2d(q, []int{3, 2}, []int{2}, []int{1}, []int{1}, true)
				}, func(n *gorgonia.Node) (*gorgonia.Node, error) {
					return QMaxPool2d(n, []int{3, 2}, []int{2}, []int{1}, []int{1}, true)
				}},
				{"avgpool", func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
					return ops.AvgPool2d(q, []int{3}, []int{2}, []int{1}, false, false, 0)
				}, func(n *gorgonia.Node) (*gorgonia.Node, error) {
					return QAvgPool2d(n, []int{3}, []int{2}, []int{1}, false, false, 0)
				}},
				{"adaptive", func(q *qtensor.QTensor) (*qtensor.QTensor, error) { return ops.AdaptiveAvgPool2d(q, 3, 4) },
					func(n *gorgonia.Node) (*gorgonia.Node, error) { return QAdaptiveAvgPool2d(n, 3, 4) }},
			})
		}
		x4 := randQ(t, r, qp, 2, 3, 5, 4)
		runUnaryCases(t, x4, []unaryCase{
			{"nearest", func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
				return ops.Interpolate(q, nil, []float64{1.5, 2}, "nearest", false)
			},
				func(n *gorgonia.Node) (*gorgonia.Node, error) {
					return QInterpolate(n, nil, []float64{1.5, 2}, "nearest", false)
				}},
			{"bilinear", func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
				return ops.Interpolate(q, []int{7, 3}, nil, "bilinear", true)
			},
				func(n *gorgonia.Node) (*gorgonia.Node, error) {
					return QInterpolate(n, []int{7, 3}, nil, "bilinear", true)
				}},
		})
		x5 := randQ(t, r, qp, 2, 2, 5, 4, 6)
		runUnaryCases(t, x5, []unaryCase{
			{"avgpool3d", func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
				return ops.AvgPool3d(q, []int{2, 3, 2}, nil, []int{1}, true, true, 0)
			}, func(n *gorgonia.Node) (*gorgonia.Node, error) {
				return QAvgPool3d(n, []int{2, 3, 2}, nil, []int{1}, true, true, 0)
			}},
		})
	}
}

func TestBinaryMatchOps(t *testing.T) {
	r := rand.New(rand.NewSource(10))
	for _, dt := range []tensor.Dtype{qdtype.QUInt8Dtype, qdtype.QInt8Dtype} {
		zp := int64(100)
		if dt == qdtype.QInt8Dtype {
			zp = -20
		}
		a := randQ(t, r, mustQP(dt, 0.05, zp), 2, 3, 4)
		b := randQ(t, r, mustQP(dt, 0.03, zp/2), 3, 1)
		c := randQ(t, r, mustQP(dt, 0.07, 0), 2, 2, 4)
		for _, f := range []struct {
			name string
			op   binaryFunc
			node func(a, b *gorgonia.Node, s float64, z int64) (*gorgonia.Node, error)
		}{{"add", ops.Add, QAdd}, {"addrelu", ops.AddReLU, QAddReLU}, {"mul", ops.Mul, QMul}, {"mulrelu", ops.MulReLU, QMulReLU}} {
			want, err := f.op(a, b, 0.06, zp)
			if err != nil {
				t.Fatalf("%s: %v", f.name, err)
			}
			checkMulti(t, []*qtensor.QTensor{a, b}, want, func(ns []*gorgonia.Node) (*gorgonia.Node, error) { return f.node(ns[0], ns[1], 0.06, zp) })
		}
		for _, cval := range []float64{-3.3, 0, 0.4, 12} {
			for _, f := range []struct {
				name string
				op   func(*qtensor.QTensor, float64) (*qtensor.QTensor, error)
				node func(*gorgonia.Node, float64) (*gorgonia.Node, error)
			}{{"addscalar", ops.AddScalar, QAddScalar}, {"addscalarrelu", ops.AddScalarReLU, QAddScalarReLU},
				{"mulscalar", ops.MulScalar, QMulScalar}, {"mulscalarrelu", ops.MulScalarReLU, QMulScalarReLU}} {
				want, err := f.op(a, cval)
				if err != nil {
					t.Fatalf("%s: %v", f.name, err)
				}
				checkUnary(t, a, want, func(n *gorgonia.Node) (*gorgonia.Node, error) { return f.node(n, cval) })
			}
		}
		xs := []*qtensor.QTensor{a, c, a}
		want, err := ops.Cat(xs, 1, 0.05, zp)
		if err != nil {
			t.Fatal(err)
		}
		checkMulti(t, xs, want, func(ns []*gorgonia.Node) (*gorgonia.Node, error) { return QCat(ns, 1, 0.05, zp) })
		want, err = ops.CatReLU(xs, -2, 0.05, zp)
		if err != nil {
			t.Fatal(err)
		}
		checkMulti(t, xs, want, func(ns []*gorgonia.Node) (*gorgonia.Node, error) { return QCatReLU(ns, -2, 0.05, zp) })
		want, err = ops.CatKeepQParams(xs, 1)
		if err != nil {
			t.Fatal(err)
		}
		checkMulti(t, xs, want, func(ns []*gorgonia.Node) (*gorgonia.Node, error) { return QCatKeepQParams(ns, 1) })
		// The same node twice is fine.
		want, err = ops.Add(a, a, 0.1, zp)
		if err != nil {
			t.Fatal(err)
		}
		checkUnary(t, a, want, func(n *gorgonia.Node) (*gorgonia.Node, error) { return QAdd(n, n, 0.1, zp) })
	}
}

func randF32s(r *rand.Rand, n int, lo, hi float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = lo + (hi-lo)*r.Float32()
	}
	return v
}

func TestNormsMatchOps(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for _, qp := range []qdtype.QParams{mustQP(qdtype.QUInt8Dtype, 0.05, 128), mustQP(qdtype.QInt8Dtype, 0.04, -3)} {
		c := 4
		w, b := randF32s(r, c, 0.5, 1.5), randF32s(r, c, -0.5, 0.5)
		mean, vr := randF32s(r, c, -1, 1), randF32s(r, c, 0.5, 2)
		bn := func(f batchNormFunc, node func(*gorgonia.Node, []float32, []float32, []float32, []float32, float64, float64, int64) (*gorgonia.Node, error)) unaryCase {
			return unaryCase{"bn", func(q *qtensor.QTensor) (*qtensor.QTensor, error) { return f(q, w, b, mean, vr, 1e-5, 0.1, 10) },
				func(n *gorgonia.Node) (*gorgonia.Node, error) { return node(n, w, b, mean, vr, 1e-5, 0.1, 10) }}
		}
		runUnaryCases(t, randQ(t, r, qp, 3, c, 5), []unaryCase{bn(ops.BatchNorm1d, QBatchNorm1d), bn(ops.BatchNormReLU, QBatchNormReLU),
			{"instance", func(q *qtensor.QTensor) (*qtensor.QTensor, error) { return ops.InstanceNorm(q, w, b, 1e-5, 0.1, 10) },
				func(n *gorgonia.Node) (*gorgonia.Node, error) { return QInstanceNorm(n, w, b, 1e-5, 0.1, 10) }}})
		runUnaryCases(t, randQ(t, r, qp, 3, c), []unaryCase{bn(ops.BatchNorm1d, QBatchNorm1d)})
		x4 := randQ(t, r, qp, 2, c, 3, 5)
		runUnaryCases(t, x4, []unaryCase{bn(ops.BatchNorm2d, QBatchNorm2d), bn(ops.BatchNormReLU, QBatchNormReLU),
			{"group", func(q *qtensor.QTensor) (*qtensor.QTensor, error) { return ops.GroupNorm(q, 2, w, b, 1e-5, 0.1, 10) },
				func(n *gorgonia.Node) (*gorgonia.Node, error) { return QGroupNorm(n, 2, w, b, 1e-5, 0.1, 10) }},
			{"group-noaffine", func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
				return ops.GroupNorm(q, 4, nil, nil, 1e-5, 0.1, 10)
			},
				func(n *gorgonia.Node) (*gorgonia.Node, error) { return QGroupNorm(n, 4, nil, nil, 1e-5, 0.1, 10) }},
			{"instance", func(q *qtensor.QTensor) (*qtensor.QTensor, error) { return ops.InstanceNorm(q, w, b, 1e-5, 0.1, 10) },
				func(n *gorgonia.Node) (*gorgonia.Node, error) { return QInstanceNorm(n, w, b, 1e-5, 0.1, 10) }},
		})
		lw, lb := randF32s(r, 15, 0.5, 1.5), randF32s(r, 15, -0.5, 0.5)
		for _, ns := range [][]int{{3, 5}, {5}, {2, c, 3, 5}} {
			var lww, lbb []float32
			if len(ns) < 3 {
				k := 1
				for _, d := range ns {
					k *= d
				}
				lww, lbb = lw[:k], lb[:k]
			}
			runUnaryCases(t, x4, []unaryCase{{"layer", func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
				return ops.LayerNorm(q, ns, lww, lbb, 1e-5, 0.1, 10)
			},
				func(n *gorgonia.Node) (*gorgonia.Node, error) { return QLayerNorm(n, ns, lww, lbb, 1e-5, 0.1, 10) }}})
		}
		runUnaryCases(t, randQ(t, r, qp, 2, c, 2, 3, 2), []unaryCase{bn(ops.BatchNorm3d, QBatchNorm3d)})
	}
	// Weights are copied at build time: changing the caller's slice after
	// building does not change the node.
	x := randQ(t, r, mustQP(qdtype.QUInt8Dtype, 0.05, 128), 2, 3)
	w := []float32{1, 2, 3}
	b := []float32{0, 0, 0}
	mean, vr := []float32{0, 0, 0}, []float32{1, 1, 1}
	want, err := ops.BatchNorm1d(x, w, b, mean, vr, 1e-5, 0.1, 10)
	if err != nil {
		t.Fatal(err)
	}
	checkUnary(t, x, want, func(n *gorgonia.Node) (*gorgonia.Node, error) {
		wc := append([]float32(nil), w...)
		y, err := QBatchNorm1d(n, wc, b, mean, vr, 1e-5, 0.1, 10)
		wc[0] = 100
		return y, err
	})
}
