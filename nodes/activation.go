package nodes

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// elementwise builds a node applying f to a per-tensor quint8 or qint8
// node elementwise; the dry run uses one element.
func elementwise(name, params string, x *gorgonia.Node, f func(*qtensor.QTensor) (*qtensor.QTensor, error)) (*gorgonia.Node, error) {
	in, err := quantPort(name, "input", x, qdtype.QUInt8Dtype, qdtype.QInt8Dtype)
	if err != nil {
		return nil, err
	}
	if err := perTensor(name, "input", in); err != nil {
		return nil, err
	}
	shape := in.shape.Clone()
	n, _, err := build(spec{
		name: name, params: params, ins: []port{in}, children: []*gorgonia.Node{x},
		probe:    []tensor.Shape{{1}},
		outShape: func(tensor.Shape) tensor.Shape { return shape.Clone() },
		fn: func(a []operand) (operand, error) {
			q, err := f(a[0].q)
			return operand{q: q}, err
		},
	})
	return n, err
}

// QReLU returns a node computing ops.ReLU, max(x, 0) with x's qparams
// (q' = max(q, zero_point)); torch.nn.quantized.ReLU / F.relu. x is a
// per-tensor quint8 or qint8 node; other inputs are build-time errors.
func QReLU(x *gorgonia.Node) (*gorgonia.Node, error) {
	return elementwise("QReLU", "", x, ops.ReLU)
}

// QReLU6 returns a node computing ops.ReLU6, min(max(x, 0), 6) with x's
// qparams; torch.nn.quantized.ReLU6.
func QReLU6(x *gorgonia.Node) (*gorgonia.Node, error) {
	return elementwise("QReLU6", "", x, ops.ReLU6)
}

// QHardtanh returns a node computing ops.Hardtanh, clamp(x, minVal, maxVal)
// with x's qparams; torch.nn.quantized.functional.hardtanh. NaN bounds are
// a build-time error.
func QHardtanh(x *gorgonia.Node, minVal, maxVal float64) (*gorgonia.Node, error) {
	return elementwise("QHardtanh", fmt.Sprintf("min=%g max=%g", minVal, maxVal), x, func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
		return ops.Hardtanh(q, minVal, maxVal)
	})
}

// QELU returns a node computing ops.ELU with output qparams (scale,
// zeroPoint); torch.nn.quantized.ELU.
func QELU(x *gorgonia.Node, scale float64, zeroPoint int64, alpha float64) (*gorgonia.Node, error) {
	return elementwise("QELU", fmt.Sprintf("scale=%g zero_point=%d alpha=%g", scale, zeroPoint, alpha), x, func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
		return ops.ELU(q, scale, zeroPoint, alpha)
	})
}

// QLeakyReLU returns a node computing ops.LeakyReLU with x's own qparams;
// F.leaky_relu on a quantized tensor.
func QLeakyReLU(x *gorgonia.Node, negativeSlope float64) (*gorgonia.Node, error) {
	return elementwise("QLeakyReLU", fmt.Sprintf("slope=%g", negativeSlope), x, func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
		return ops.LeakyReLU(q, negativeSlope)
	})
}

// QLeakyReLUQ returns a node computing ops.LeakyReLUQ, LeakyReLU with
// output qparams (scale, zeroPoint); torch.nn.quantized.LeakyReLU.
func QLeakyReLUQ(x *gorgonia.Node, negativeSlope float64, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return elementwise("QLeakyReLU", fmt.Sprintf("slope=%g scale=%g zero_point=%d", negativeSlope, scale, zeroPoint), x, func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
		return ops.LeakyReLUQ(q, negativeSlope, scale, zeroPoint)
	})
}

// QHardsigmoid returns a node computing ops.Hardsigmoid, whose output has
// PyTorch's fixed qparams (ops.FixedQParams); F.hardsigmoid.
func QHardsigmoid(x *gorgonia.Node) (*gorgonia.Node, error) {
	return elementwise("QHardsigmoid", "", x, ops.Hardsigmoid)
}

// QHardswish returns a node computing ops.Hardswish with output qparams
// (scale, zeroPoint); torch.nn.quantized.Hardswish.
func QHardswish(x *gorgonia.Node, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return elementwise("QHardswish", fmt.Sprintf("scale=%g zero_point=%d", scale, zeroPoint), x, func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
		return ops.Hardswish(q, scale, zeroPoint)
	})
}

// QSigmoid returns a node computing ops.Sigmoid, whose output has PyTorch's
// fixed qparams (scale 1/256; zero point 0 for quint8, −128 for qint8);
// torch.sigmoid on a quantized tensor.
func QSigmoid(x *gorgonia.Node) (*gorgonia.Node, error) {
	return elementwise("QSigmoid", "", x, ops.Sigmoid)
}

// QTanh returns a node computing ops.Tanh, whose output has PyTorch's fixed
// qparams (scale 2/256; zero point 128 for quint8, 0 for qint8);
// torch.tanh on a quantized tensor.
func QTanh(x *gorgonia.Node) (*gorgonia.Node, error) {
	return elementwise("QTanh", "", x, ops.Tanh)
}

// QMapFloat returns a node computing ops.MapFloat: an arbitrary float32
// function applied elementwise as quantize(f(dequantize(q))) with output
// qparams (scale, zeroPoint), through a 256-entry table; the pattern of
// PyTorch's quantized unary kernels (e.g. F.gelu). f must be a pure
// function. Because functions cannot be compared, every QMapFloat node
// hashes uniquely. Errors (at build time): nil f, bad input, invalid output
// qparams.
func QMapFloat(x *gorgonia.Node, scale float64, zeroPoint int64, f func(float32) float32) (*gorgonia.Node, error) {
	const name = "QMapFloat"
	if f == nil {
		return nil, fmt.Errorf("nodes: %s: nil function", name)
	}
	in, err := quantPort(name, "input", x, qdtype.QUInt8Dtype, qdtype.QInt8Dtype)
	if err != nil {
		return nil, err
	}
	if err := perTensor(name, "input", in); err != nil {
		return nil, err
	}
	shape := in.shape.Clone()
	n, _, err := build(spec{
		name: name, params: fmt.Sprintf("scale=%g zero_point=%d", scale, zeroPoint), stateful: true,
		ins: []port{in}, children: []*gorgonia.Node{x},
		probe:    []tensor.Shape{{1}},
		outShape: func(tensor.Shape) tensor.Shape { return shape.Clone() },
		fn: func(a []operand) (operand, error) {
			q, err := ops.MapFloat(a[0].q, scale, zeroPoint, f)
			return operand{q: q}, err
		},
	})
	return n, err
}
