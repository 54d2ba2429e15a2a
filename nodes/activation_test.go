package nodes

import (
	"math"
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
)

// gel is a smooth test function for QMapFloat.
func gel(v float32) float32 { return v / (1 + float32(math.Exp(float64(-1.702*v)))) }

func TestActivationsMatchOps(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	type act struct {
		name string
		op   func(*qtensor.QTensor) (*qtensor.QTensor, error)
		node func(*gorgonia.Node) (*gorgonia.Node, error)
	}
	acts := []act{
		{"relu", ops.ReLU, QReLU},
		{"relu6", ops.ReLU6, QReLU6},
		{"hardtanh", func(q *qtensor.QTensor) (*qtensor.QTensor, error) { return ops.Hardtanh(q, -0.5, 1.25) },
			func(n *gorgonia.Node) (*gorgonia.Node, error) { return QHardtanh(n, -0.5, 1.25) }},
		{"elu", func(q *qtensor.QTensor) (*qtensor.QTensor, error) { return ops.ELU(q, 0.03, 60, 0.7) },
			func(n *gorgonia.Node) (*gorgonia.Node, error) { return QELU(n, 0.03, 60, 0.7) }},
		{"leaky", func(q *qtensor.QTensor) (*qtensor.QTensor, error) { return ops.LeakyReLU(q, 0.1) },
			func(n *gorgonia.Node) (*gorgonia.Node, error) { return QLeakyReLU(n, 0.1) }},
		{"leakyq", func(q *qtensor.QTensor) (*qtensor.QTensor, error) { return ops.LeakyReLUQ(q, 0.2, 0.02, 10) },
			func(n *gorgonia.Node) (*gorgonia.Node, error) { return QLeakyReLUQ(n, 0.2, 0.02, 10) }},
		{"hardsigmoid", ops.Hardsigmoid, QHardsigmoid},
		{"hardswish", func(q *qtensor.QTensor) (*qtensor.QTensor, error) { return ops.Hardswish(q, 0.025, 20) },
			func(n *gorgonia.Node) (*gorgonia.Node, error) { return QHardswish(n, 0.025, 20) }},
		{"sigmoid", ops.Sigmoid, QSigmoid},
		{"tanh", ops.Tanh, QTanh},
		{"gelu-like", func(q *qtensor.QTensor) (*qtensor.QTensor, error) { return ops.MapFloat(q, 0.02, 5, gel) },
			func(n *gorgonia.Node) (*gorgonia.Node, error) { return QMapFloat(n, 0.02, 5, gel) }},
	}
	for _, qp := range []qdtype.QParams{mustQP(qdtype.QUInt8Dtype, 0.05, 128), mustQP(qdtype.QInt8Dtype, 0.04, -3)} {
		x := randQ(t, r, qp, 2, 3, 7)
		for _, a := range acts {
			want, err := a.op(x)
			if err != nil {
				t.Fatalf("%s: %v", a.name, err)
			}
			checkUnary(t, x, want, a.node)
		}
	}
}
