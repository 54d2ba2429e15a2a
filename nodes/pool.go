package nodes

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// probeBatch returns the dry-run shape of an op whose first dimension is
// independent (a batch or, for unbatched pools, a channel dimension): s with
// that dimension 1, or s itself when it is 0 (so an empty batch is probed
// as it will run).
func probeBatch(s tensor.Shape) tensor.Shape {
	if len(s) == 0 || s[0] == 0 {
		return s.Clone()
	}
	return batchOne(s)
}

// batched builds a node applying f to a per-tensor quint8 or qint8 node
// whose first dimension is independent (N, or C for unbatched inputs),
// dry-running it with that dimension 1.
func batched(name, params string, stateful bool, x *gorgonia.Node, minRank int, f func(*qtensor.QTensor) (*qtensor.QTensor, error)) (*gorgonia.Node, error) {
	in, err := quantPort(name, "input", x, qdtype.QUInt8Dtype, qdtype.QInt8Dtype)
	if err != nil {
		return nil, err
	}
	if err := perTensor(name, "input", in); err != nil {
		return nil, err
	}
	if len(in.shape) < minRank {
		return nil, fmt.Errorf("nodes: %s: input has shape %v, want rank ≥ %d", name, in.shape, minRank)
	}
	n, _, err := build(spec{
		name: name, params: params, stateful: stateful, ins: []port{in}, children: []*gorgonia.Node{x},
		probe:    []tensor.Shape{probeBatch(in.shape)},
		outShape: withBatch(in.shape[0]),
		fn: func(a []operand) (operand, error) {
			q, err := f(a[0].q)
			return operand{q: q}, err
		},
	})
	return n, err
}

func cloneInts(v []int) []int {
	if v == nil {
		return nil
	}
	return append([]int(nil), v...)
}

// QMaxPool2d returns a node computing ops.MaxPool2d on a (N,)C,H,W node:
// the window maximum of the codes, keeping x's qparams; nn.MaxPool2d on a
// quantized tensor. kernel, stride, padding and dilation are one or two
// ints (empty stride = kernel, empty padding 0, empty dilation 1). Errors
// (at build time): anything ops.MaxPool2d rejects.
func QMaxPool2d(x *gorgonia.Node, kernel, stride, padding, dilation []int, ceilMode bool) (*gorgonia.Node, error) {
	kernel, stride, padding, dilation = cloneInts(kernel), cloneInts(stride), cloneInts(padding), cloneInts(dilation)
	return batched("QMaxPool2d", fmt.Sprintf("kernel=%v stride=%v padding=%v dilation=%v ceil=%t", kernel, stride, padding, dilation, ceilMode), false, x, 3,
		func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
			return ops.MaxPool2d(q, kernel, stride, padding, dilation, ceilMode)
		})
}

// QAvgPool2d returns a node computing ops.AvgPool2d on a (N,)C,H,W node,
// keeping x's qparams; nn.AvgPool2d on a quantized tensor. Errors (at build
// time): anything ops.AvgPool2d rejects.
func QAvgPool2d(x *gorgonia.Node, kernel, stride, padding []int, ceilMode, countIncludePad bool, divisorOverride int) (*gorgonia.Node, error) {
	kernel, stride, padding = cloneInts(kernel), cloneInts(stride), cloneInts(padding)
	return batched("QAvgPool2d", fmt.Sprintf("kernel=%v stride=%v padding=%v ceil=%t include_pad=%t divisor=%d", kernel, stride, padding, ceilMode, countIncludePad, divisorOverride), false, x, 3,
		func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
			return ops.AvgPool2d(q, kernel, stride, padding, ceilMode, countIncludePad, divisorOverride)
		})
}

// QAvgPool3d returns a node computing ops.AvgPool3d on an N,C,D,H,W node,
// keeping x's qparams; nn.AvgPool3d on a quantized tensor. Errors (at build
// time): anything ops.AvgPool3d rejects.
func QAvgPool3d(x *gorgonia.Node, kernel, stride, padding []int, ceilMode, countIncludePad bool, divisorOverride int) (*gorgonia.Node, error) {
	kernel, stride, padding = cloneInts(kernel), cloneInts(stride), cloneInts(padding)
	return batched("QAvgPool3d", fmt.Sprintf("kernel=%v stride=%v padding=%v ceil=%t include_pad=%t divisor=%d", kernel, stride, padding, ceilMode, countIncludePad, divisorOverride), false, x, 5,
		func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
			return ops.AvgPool3d(q, kernel, stride, padding, ceilMode, countIncludePad, divisorOverride)
		})
}

// QAdaptiveAvgPool2d returns a node computing ops.AdaptiveAvgPool2d on a
// (N,)C,H,W node to outH×outW, keeping x's qparams;
// nn.AdaptiveAvgPool2d on a quantized tensor.
func QAdaptiveAvgPool2d(x *gorgonia.Node, outH, outW int) (*gorgonia.Node, error) {
	return batched("QAdaptiveAvgPool2d", fmt.Sprintf("out=%dx%d", outH, outW), false, x, 3,
		func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
			return ops.AdaptiveAvgPool2d(q, outH, outW)
		})
}

// QInterpolate returns a node computing ops.Interpolate on an N,C,H,W
// node: resizing to size, or by scaleFactor (exactly one of them),
// with mode "nearest" or "bilinear" and alignCorners, keeping x's qparams;
// F.interpolate / nn.Upsample on a quantized tensor. Errors (at build
// time): anything ops.Interpolate rejects.
func QInterpolate(x *gorgonia.Node, size []int, scaleFactor []float64, mode string, alignCorners bool) (*gorgonia.Node, error) {
	size = cloneInts(size)
	if scaleFactor != nil {
		scaleFactor = append([]float64(nil), scaleFactor...)
	}
	return batched("QInterpolate", fmt.Sprintf("size=%v scale_factor=%v mode=%s align_corners=%t", size, scaleFactor, mode, alignCorners), false, x, 1,
		func(q *qtensor.QTensor) (*qtensor.QTensor, error) {
			return ops.Interpolate(q, size, scaleFactor, mode, alignCorners)
		})
}

// QUpsampleNearest returns a node computing ops.UpsampleNearest
// (nn.UpsamplingNearest2d): QInterpolate with mode "nearest".
func QUpsampleNearest(x *gorgonia.Node, size []int, scaleFactor []float64) (*gorgonia.Node, error) {
	return QInterpolate(x, size, scaleFactor, "nearest", false)
}

// QUpsampleBilinear returns a node computing ops.UpsampleBilinear
// (nn.UpsamplingBilinear2d): QInterpolate with mode "bilinear" and
// align_corners true.
func QUpsampleBilinear(x *gorgonia.Node, size []int, scaleFactor []float64) (*gorgonia.Node, error) {
	return QInterpolate(x, size, scaleFactor, "bilinear", true)
}
