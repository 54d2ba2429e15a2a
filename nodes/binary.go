package nodes

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
)

type binaryFunc func(a, b *qtensor.QTensor, scale float64, zeroPoint int64) (*qtensor.QTensor, error)

func binaryNode(name string, a, b *gorgonia.Node, scale float64, zeroPoint int64, f binaryFunc) (*gorgonia.Node, error) {
	pa, err := quantPort(name, "first operand", a, qdtype.QUInt8Dtype, qdtype.QInt8Dtype)
	if err != nil {
		return nil, err
	}
	pb, err := quantPort(name, "second operand", b, qdtype.QUInt8Dtype, qdtype.QInt8Dtype)
	if err != nil {
		return nil, err
	}
	if err := perTensor(name, "first operand", pa); err != nil {
		return nil, err
	}
	if err := perTensor(name, "second operand", pb); err != nil {
		return nil, err
	}
	// The dry run uses the full shapes, so that broadcasting is checked
	// exactly as ops does it.
	n, _, err := build(spec{
		name: name, params: fmt.Sprintf("scale=%g zero_point=%d", scale, zeroPoint),
		ins: []port{pa, pb}, children: []*gorgonia.Node{a, b},
		fn: func(args []operand) (operand, error) {
			q, err := f(args[0].q, args[1].q, scale, zeroPoint)
			return operand{q: q}, err
		},
	})
	return n, err
}

// QAdd returns a node computing ops.Add, a + b requantized to the output
// qparams (scale, zeroPoint), with NumPy broadcasting; QFunctional.add /
// torch.ops.quantized.add. a and b are per-tensor nodes of one dtype
// (quint8 or qint8). Errors (at build time): anything ops.Add rejects.
func QAdd(a, b *gorgonia.Node, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return binaryNode("QAdd", a, b, scale, zeroPoint, ops.Add)
}

// QAddReLU returns a node computing ops.AddReLU, quantize(max(a + b, 0));
// QFunctional.add_relu.
func QAddReLU(a, b *gorgonia.Node, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return binaryNode("QAddReLU", a, b, scale, zeroPoint, ops.AddReLU)
}

// QMul returns a node computing ops.Mul, a·b requantized to the output
// qparams, with broadcasting; QFunctional.mul / torch.ops.quantized.mul.
func QMul(a, b *gorgonia.Node, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return binaryNode("QMul", a, b, scale, zeroPoint, ops.Mul)
}

// QMulReLU returns a node computing ops.MulReLU; QFunctional.mul_relu.
func QMulReLU(a, b *gorgonia.Node, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return binaryNode("QMulReLU", a, b, scale, zeroPoint, ops.MulReLU)
}

func scalarNode(name string, x *gorgonia.Node, c float64, f func(*qtensor.QTensor, float64) (*qtensor.QTensor, error)) (*gorgonia.Node, error) {
	return elementwise(name, fmt.Sprintf("c=%g", c), x, func(q *qtensor.QTensor) (*qtensor.QTensor, error) { return f(q, c) })
}

// QAddScalar returns a node computing ops.AddScalar, x + c with the output
// qparams PyTorch 1.13 chooses from x's qparams and c (fixed when the node
// is built; QParamsOf reports them); QFunctional.add_scalar.
func QAddScalar(x *gorgonia.Node, c float64) (*gorgonia.Node, error) {
	return scalarNode("QAddScalar", x, c, ops.AddScalar)
}

// QAddScalarReLU returns a node computing ops.AddScalarReLU;
// torch.ops.quantized.add_scalar_relu.
func QAddScalarReLU(x *gorgonia.Node, c float64) (*gorgonia.Node, error) {
	return scalarNode("QAddScalarReLU", x, c, ops.AddScalarReLU)
}

// QMulScalar returns a node computing ops.MulScalar, x·c with the output
// qparams PyTorch 1.13 chooses; QFunctional.mul_scalar.
func QMulScalar(x *gorgonia.Node, c float64) (*gorgonia.Node, error) {
	return scalarNode("QMulScalar", x, c, ops.MulScalar)
}

// QMulScalarReLU returns a node computing ops.MulScalarReLU;
// torch.ops.quantized.mul_scalar_relu.
func QMulScalarReLU(x *gorgonia.Node, c float64) (*gorgonia.Node, error) {
	return scalarNode("QMulScalarReLU", x, c, ops.MulScalarReLU)
}

func catNode(name, params string, xs []*gorgonia.Node, f func([]*qtensor.QTensor) (*qtensor.QTensor, error)) (*gorgonia.Node, error) {
	if len(xs) == 0 {
		return nil, fmt.Errorf("nodes: %s: no inputs", name)
	}
	ins := make([]port, len(xs))
	for i, x := range xs {
		p, err := quantPort(name, fmt.Sprintf("input %d", i), x, qdtype.QUInt8Dtype, qdtype.QInt8Dtype)
		if err != nil {
			return nil, err
		}
		if err := perTensor(name, fmt.Sprintf("input %d", i), p); err != nil {
			return nil, err
		}
		ins[i] = p
	}
	n, _, err := build(spec{
		name: name, params: params, ins: ins, children: append([]*gorgonia.Node(nil), xs...),
		fn: func(args []operand) (operand, error) {
			qs := make([]*qtensor.QTensor, len(args))
			for i, a := range args {
				qs[i] = a.q
			}
			q, err := f(qs)
			return operand{q: q}, err
		},
	})
	return n, err
}

// QCat returns a node computing ops.Cat: xs concatenated along dim
// (negative counts from the end) and requantized to (scale, zeroPoint);
// QFunctional.cat / torch.ops.quantized.cat. Errors (at build time):
// anything ops.Cat rejects.
func QCat(xs []*gorgonia.Node, dim int, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return catNode("QCat", fmt.Sprintf("dim=%d scale=%g zero_point=%d", dim, scale, zeroPoint), xs,
		func(qs []*qtensor.QTensor) (*qtensor.QTensor, error) { return ops.Cat(qs, dim, scale, zeroPoint) })
}

// QCatReLU returns a node computing ops.CatReLU; torch.ops.quantized.cat_relu.
func QCatReLU(xs []*gorgonia.Node, dim int, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return catNode("QCatReLU", fmt.Sprintf("dim=%d scale=%g zero_point=%d", dim, scale, zeroPoint), xs,
		func(qs []*qtensor.QTensor) (*qtensor.QTensor, error) { return ops.CatReLU(qs, dim, scale, zeroPoint) })
}

// QCatKeepQParams returns a node computing ops.CatKeepQParams, torch.cat on
// quantized tensors: the output takes the first input's qparams.
func QCatKeepQParams(xs []*gorgonia.Node, dim int) (*gorgonia.Node, error) {
	return catNode("QCatKeepQParams", fmt.Sprintf("dim=%d", dim), xs,
		func(qs []*qtensor.QTensor) (*qtensor.QTensor, error) { return ops.CatKeepQParams(qs, dim) })
}
