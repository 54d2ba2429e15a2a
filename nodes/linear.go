package nodes

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// QLinear returns a node computing the quantized linear layer
// y = x·Wᵀ + b of ops.Linear (torch.nn.quantized.Linear): x is a quint8
// per-tensor node (…, K), w a qint8 (N, K) weight quantized per tensor or
// per channel along axis 0, bias nil or float32 (N); the output is a quint8
// per-tensor node (…, N) with the given scale and zero point. The weights
// are packed once, here, with ops.PrepackLinear; w and bias are not
// retained. Errors (at build time): anything ops.PrepackLinear or
// ops.Linear rejects (dtypes, per-channel input, K mismatch, bias size,
// output qparams).
func QLinear(x *gorgonia.Node, w *qtensor.QTensor, bias *tensor.Dense, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	p, err := ops.PrepackLinear(w, bias)
	if err != nil {
		return nil, fmt.Errorf("nodes: QLinear: %w", err)
	}
	return linearNode("QLinear", x, p, scale, zeroPoint, ops.Linear)
}

// QLinearReLU is QLinear with a fused ReLU (ops.LinearReLU,
// torch.nn.intrinsic.quantized.LinearReLU): the output is clamped below at
// its zero point.
func QLinearReLU(x *gorgonia.Node, w *qtensor.QTensor, bias *tensor.Dense, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	p, err := ops.PrepackLinear(w, bias)
	if err != nil {
		return nil, fmt.Errorf("nodes: QLinearReLU: %w", err)
	}
	return linearNode("QLinearReLU", x, p, scale, zeroPoint, ops.LinearReLU)
}

// QLinearPacked is QLinear on weights already packed with
// ops.PrepackLinear, which may be shared by several nodes (a PackedLinear
// is immutable).
func QLinearPacked(x *gorgonia.Node, p *ops.PackedLinear, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return linearNode("QLinear", x, p, scale, zeroPoint, ops.Linear)
}

// QLinearReLUPacked is QLinearReLU on packed weights.
func QLinearReLUPacked(x *gorgonia.Node, p *ops.PackedLinear, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return linearNode("QLinearReLU", x, p, scale, zeroPoint, ops.LinearReLU)
}

type linearFunc func(x *qtensor.QTensor, p *ops.PackedLinear, scale float64, zeroPoint int64) (*qtensor.QTensor, error)

func linearNode(name string, x *gorgonia.Node, p *ops.PackedLinear, scale float64, zeroPoint int64, f linearFunc) (*gorgonia.Node, error) {
	if p == nil {
		return nil, fmt.Errorf("nodes: %s: nil packed weights", name)
	}
	in, err := quantPort(name, "input", x, qdtype.QUInt8Dtype)
	if err != nil {
		return nil, err
	}
	if len(in.shape) == 0 {
		return nil, fmt.Errorf("nodes: %s: input is a scalar, want shape (…, %d)", name, p.K())
	}
	n, _, err := build(spec{
		name: name, stateful: true,
		params: fmt.Sprintf("in=%d out=%d scale=%g zero_point=%d", p.K(), p.N(), scale, zeroPoint),
		ins:    []port{in}, children: []*gorgonia.Node{x},
		probe:    []tensor.Shape{leadingOnes(in.shape)},
		outShape: withLeading(in.shape),
		fn: func(a []operand) (operand, error) {
			q, err := f(a[0].q, p, scale, zeroPoint)
			return operand{q: q}, err
		},
	})
	return n, err
}

// leadingOnes returns s with every dimension but the last set to 1: the
// dry-run shape of an op on (…, K) rows.
func leadingOnes(s tensor.Shape) tensor.Shape {
	c := s.Clone()
	for i := 0; i < len(c)-1; i++ {
		c[i] = 1
	}
	return c
}

// withLeading returns a function that puts in's leading dimensions back
// into a dry-run output shape of the same rank.
func withLeading(in tensor.Shape) func(tensor.Shape) tensor.Shape {
	return func(s tensor.Shape) tensor.Shape {
		c := s.Clone()
		for i := 0; i < len(c)-1 && i < len(in)-1; i++ {
			c[i] = in[i]
		}
		return c
	}
}
