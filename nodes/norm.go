package nodes

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func cloneF32(v []float32) []float32 {
	if v == nil {
		return nil
	}
	return append([]float32(nil), v...)
}

type batchNormFunc func(x *qtensor.QTensor, weight, bias, mean, variance []float32, eps, scale float64, zeroPoint int64) (*qtensor.QTensor, error)

func batchNormNode(name string, x *gorgonia.Node, weight, bias, mean, variance []float32, eps, scale float64, zeroPoint int64, f batchNormFunc) (*gorgonia.Node, error) {
	weight, bias, mean, variance = cloneF32(weight), cloneF32(bias), cloneF32(mean), cloneF32(variance)
	return batched(name, fmt.Sprintf("channels=%d eps=%g scale=%g zero_point=%d", len(mean), eps, scale, zeroPoint), true, x, 2,
		func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
			return f(q, weight, bias, mean, variance, eps, scale, zeroPoint)
		})
}

// QBatchNorm1d returns a node computing ops.BatchNorm1d (nn.quantized.BatchNorm1d
// semantics of torch.ops.quantized.batch_norm1d) on an (N, C) or (N, C, L)
// node with running statistics mean and variance, affine weight and bias
// (C values each, copied here) and output qparams (scale, zeroPoint).
// Errors (at build time): anything ops.BatchNorm1d rejects.
func QBatchNorm1d(x *gorgonia.Node, weight, bias, mean, variance []float32, eps, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return batchNormNode("QBatchNorm1d", x, weight, bias, mean, variance, eps, scale, zeroPoint, ops.BatchNorm1d)
}

// QBatchNorm2d returns a node computing ops.BatchNorm2d on an (N, C, H, W)
// node; nn.quantized.BatchNorm2d. See QBatchNorm1d.
func QBatchNorm2d(x *gorgonia.Node, weight, bias, mean, variance []float32, eps, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return batchNormNode("QBatchNorm2d", x, weight, bias, mean, variance, eps, scale, zeroPoint, ops.BatchNorm2d)
}

// QBatchNorm3d returns a node computing ops.BatchNorm3d on an
// (N, C, D, H, W) node; nn.quantized.BatchNorm3d. See QBatchNorm1d.
func QBatchNorm3d(x *gorgonia.Node, weight, bias, mean, variance []float32, eps, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return batchNormNode("QBatchNorm3d", x, weight, bias, mean, variance, eps, scale, zeroPoint, ops.BatchNorm3d)
}

// QBatchNormReLU returns a node computing ops.BatchNormReLU, batch
// normalization fused with ReLU, for ranks 2 to 5; nn.intrinsic.quantized.
// BNReLU2d / BNReLU3d.
func QBatchNormReLU(x *gorgonia.Node, weight, bias, mean, variance []float32, eps, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	return batchNormNode("QBatchNormReLU", x, weight, bias, mean, variance, eps, scale, zeroPoint, ops.BatchNormReLU)
}

// QLayerNorm returns a node computing ops.LayerNorm over the trailing
// dimensions normalizedShape, with optional affine weight and bias (nil, or
// one value per normalized element, copied here) and output qparams;
// nn.quantized.LayerNorm. Errors (at build time): anything ops.LayerNorm
// rejects.
func QLayerNorm(x *gorgonia.Node, normalizedShape []int, weight, bias []float32, eps, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	const name = "QLayerNorm"
	normalizedShape, weight, bias = cloneInts(normalizedShape), cloneF32(weight), cloneF32(bias)
	in, err := quantPort(name, "input", x, qdtype.QUInt8Dtype, qdtype.QInt8Dtype)
	if err != nil {
		return nil, err
	}
	if err := perTensor(name, "input", in); err != nil {
		return nil, err
	}
	// Leading dimensions are independent: dry-run with them set to 1.
	probe, shape := in.shape.Clone(), in.shape.Clone()
	if k := len(in.shape) - len(normalizedShape); k >= 0 && in.shape.TotalSize() > 0 {
		for i := 0; i < k; i++ {
			probe[i] = 1
		}
	}
	n, _, err := build(spec{
		name: name, stateful: true, ins: []port{in}, children: []*gorgonia.Node{x},
		params:   fmt.Sprintf("normalized_shape=%v eps=%g scale=%g zero_point=%d", normalizedShape, eps, scale, zeroPoint),
		probe:    []tensor.Shape{probe},
		outShape: func(tensor.Shape) tensor.Shape { return shape.Clone() },
		fn: func(a []operand) (operand, error) {
			q, err := ops.LayerNorm(a[0].q, normalizedShape, weight, bias, eps, scale, zeroPoint)
			return operand{q: q}, err
		},
	})
	return n, err
}

// QGroupNorm returns a node computing ops.GroupNorm on an (N, C, *) node
// with groups groups, optional per-channel weight and bias (copied here)
// and output qparams; nn.quantized.GroupNorm. Errors (at build time):
// anything ops.GroupNorm rejects.
func QGroupNorm(x *gorgonia.Node, groups int, weight, bias []float32, eps, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	weight, bias = cloneF32(weight), cloneF32(bias)
	return batched("QGroupNorm", fmt.Sprintf("groups=%d eps=%g scale=%g zero_point=%d", groups, eps, scale, zeroPoint), true, x, 3,
		func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
			return ops.GroupNorm(q, groups, weight, bias, eps, scale, zeroPoint)
		})
}

// QInstanceNorm returns a node computing ops.InstanceNorm on an (N, C, L),
// (N, C, H, W) or (N, C, D, H, W) node with optional per-channel weight and
// bias (copied here) and output qparams; nn.quantized.InstanceNorm1d/2d/3d.
func QInstanceNorm(x *gorgonia.Node, weight, bias []float32, eps, scale float64, zeroPoint int64) (*gorgonia.Node, error) {
	weight, bias = cloneF32(weight), cloneF32(bias)
	return batched("QInstanceNorm", fmt.Sprintf("eps=%g scale=%g zero_point=%d", eps, scale, zeroPoint), true, x, 3,
		func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
			return ops.InstanceNorm(q, weight, bias, eps, scale, zeroPoint)
		})
}
