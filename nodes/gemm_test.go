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

// unaryCase checks a one-input node builder against the ops result for a
// random quantized input.
func checkUnary(t *testing.T, x *qtensor.QTensor, want *qtensor.QTensor, b func(*gorgonia.Node) (*gorgonia.Node, error)) {
	t.Helper()
	checkAllMachines(t, func(g *gorgonia.ExprGraph) ([]*gorgonia.Node, error) {
		xn, err := qinput(g, "x", x)
		if err != nil {
			return nil, err
		}
		y, err := b(xn)
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

func linearWeights(t *testing.T, r *rand.Rand, n, k int, perChannel bool) (*qtensor.QTensor, *tensor.Dense) {
	t.Helper()
	qp := mustQP(qdtype.QInt8Dtype, 0.02, 0)
	if perChannel {
		s := make([]float64, n)
		z := make([]int64, n)
		for i := range s {
			s[i] = 0.01 + 0.001*float64(i)
			z[i] = int64(i%5) - 2
		}
		var err error
		if qp, err = qdtype.PerChannel(qdtype.QInt8Dtype, s, z, 0); err != nil {
			t.Fatal(err)
		}
	}
	return randQ(t, r, qp, n, k), randFloat(r, -1, 1, n)
}

func TestQLinearMatchesOps(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for _, tc := range []struct {
		shape []int
		n     int
		pc    bool
		relu  bool
	}{
		{[]int{3, 7}, 5, false, false},
		{[]int{2, 3, 16}, 9, true, true},
		{[]int{16}, 4, true, false},
	} {
		k := tc.shape[len(tc.shape)-1]
		w, b := linearWeights(t, r, tc.n, k, tc.pc)
		x := randQ(t, r, mustQP(qdtype.QUInt8Dtype, 0.05, 120), tc.shape...)
		p, err := ops.PrepackLinear(w, b)
		if err != nil {
			t.Fatal(err)
		}
		f, build := ops.Linear, QLinear
		if tc.relu {
			f, build = ops.LinearReLU, QLinearReLU
		}
		want, err := f(x, p, 0.3, 100)
		if err != nil {
			t.Fatal(err)
		}
		checkUnary(t, x, want, func(xn *gorgonia.Node) (*gorgonia.Node, error) { return build(xn, w, b, 0.3, 100) })
		pf := QLinearPacked
		if tc.relu {
			pf = QLinearReLUPacked
		}
		checkUnary(t, x, want, func(xn *gorgonia.Node) (*gorgonia.Node, error) { return pf(xn, p, 0.3, 100) })
	}
}

func TestQConvMatchesOps(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	xqp := mustQP(qdtype.QUInt8Dtype, 0.04, 110)
	type tcase struct {
		kind    ConvKind
		x, w    []int
		opt     ops.ConvOptions
		pack    prepackFunc
		f       convFunc
		builder func(*gorgonia.Node, *qtensor.QTensor, *tensor.Dense, ops.ConvOptions, float64, int64) (*gorgonia.Node, error)
		axis    int
	}
	for _, tc := range []tcase{
		{Conv1d, []int{2, 3, 9}, []int{4, 3, 3}, ops.ConvOptions{Stride: []int{2}, Padding: []int{1}}, ops.PrepackConv1d, ops.Conv1d, QConv1d, 0},
		{Conv1dReLU, []int{1, 4, 8}, []int{4, 2, 3}, ops.ConvOptions{Groups: 2}, ops.PrepackConv1d, ops.Conv1dReLU, QConv1dReLU, 0},
		{Conv2d, []int{2, 3, 7, 6}, []int{5, 3, 3, 2}, ops.ConvOptions{Padding: []int{1}, Dilation: []int{1, 2}}, ops.PrepackConv2d, ops.Conv2d, QConv2d, 0},
		{Conv2dReLU, []int{1, 4, 5, 5}, []int{4, 1, 3, 3}, ops.ConvOptions{Groups: 4, Padding: []int{1}}, ops.PrepackConv2d, ops.Conv2dReLU, QConv2dReLU, 0},
		{Conv3d, []int{1, 2, 4, 4, 3}, []int{3, 2, 2, 2, 2}, ops.ConvOptions{}, ops.PrepackConv3d, ops.Conv3d, QConv3d, 0},
		{Conv3dReLU, []int{2, 2, 3, 3, 3}, []int{2, 2, 1, 2, 2}, ops.ConvOptions{Stride: []int{1, 2, 1}}, ops.PrepackConv3d, ops.Conv3dReLU, QConv3dReLU, 0},
		{ConvTranspose1d, []int{2, 4, 5}, []int{4, 3, 3}, ops.ConvOptions{Stride: []int{2}, OutputPadding: []int{1}}, ops.PrepackConvTranspose1d, ops.ConvTranspose1d, QConvTranspose1d, 1},
		{ConvTranspose2d, []int{1, 4, 3, 4}, []int{4, 1, 2, 3}, ops.ConvOptions{Groups: 2, Padding: []int{1}, Stride: []int{2}}, ops.PrepackConvTranspose2d, ops.ConvTranspose2d, QConvTranspose2d, 1},
	} {
		for _, pc := range []bool{false, true} {
			wqp := mustQP(qdtype.QInt8Dtype, 0.015, 0)
			if pc {
				ch := tc.w[tc.axis]
				s := make([]float64, ch)
				z := make([]int64, ch)
				for i := range s {
					s[i] = 0.01 + 0.002*float64(i)
				}
				var err error
				if wqp, err = qdtype.PerChannel(qdtype.QInt8Dtype, s, z, tc.axis); err != nil {
					t.Fatal(err)
				}
			}
			w := randQ(t, r, wqp, tc.w...)
			outC := tc.w[0]
			if tc.axis == 1 {
				outC = tc.w[1] * max(tc.opt.Groups, 1)
			}
			b := randFloat(r, -1, 1, outC)
			x := randQ(t, r, xqp, tc.x...)
			p, err := tc.pack(w, b, tc.opt)
			if err != nil {
				t.Fatalf("%s: %v", convKinds[tc.kind].name, err)
			}
			want, err := tc.f(x, p, 0.2, 90)
			if err != nil {
				t.Fatalf("%s: %v", convKinds[tc.kind].name, err)
			}
			checkUnary(t, x, want, func(xn *gorgonia.Node) (*gorgonia.Node, error) { return tc.builder(xn, w, b, tc.opt, 0.2, 90) })
			checkUnary(t, x, want, func(xn *gorgonia.Node) (*gorgonia.Node, error) { return QConvPacked(tc.kind, xn, p, 0.2, 90) })
		}
	}
}
