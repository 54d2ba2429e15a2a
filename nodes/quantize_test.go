package nodes

import (
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestQuantizeDequantizeMatchQTensor(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	x := randFloat(r, -3, 3, 2, 3, 5)
	pc, err := qdtype.PerChannel(qdtype.QInt8Dtype, []float64{0.01, 0.02, 0.03}, []int64{0, 3, -4}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, qp := range []qdtype.QParams{
		mustQP(qdtype.QUInt8Dtype, 0.025, 128),
		mustQP(qdtype.QInt8Dtype, 0.01, -5),
		mustQP(qdtype.QInt32Dtype, 0.001, 7),
		pc,
	} {
		q, err := qtensor.Quantize(x, qp)
		if err != nil {
			t.Fatal(err)
		}
		dq, err := q.Dequantize()
		if err != nil {
			t.Fatal(err)
		}
		checkAllMachines(t, func(g *gorgonia.ExprGraph) ([]*gorgonia.Node, error) {
			xn := finput(g, "x", x)
			qn, err := Quantize(xn, qp)
			if err != nil {
				return nil, err
			}
			dn, err := Dequantize(qn)
			if err != nil {
				return nil, err
			}
			return []*gorgonia.Node{qn, dn}, nil
		}, []*tensor.Dense{q.Dense(), dq})
	}
}
