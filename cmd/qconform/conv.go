package main

import (
	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

type convFn func(*qtensor.QTensor, *ops.PackedConv, float64, int64) (*qtensor.QTensor, error)
type prepackFn func(*qtensor.QTensor, *tensor.Dense, ops.ConvOptions) (*ops.PackedConv, error)

// The conv family (OPS.md "linear, conv"): conv1d/2d/3d (+relu) and
// conv_transpose1d/2d.
func init() {
	reg := func(op string, dims int, transposed bool, pack prepackFn, f convFn) {
		register(op, func(c *Case) ([]*Tensor, error) { return runConv(c, dims, transposed, pack, f) })
	}
	reg("conv1d", 1, false, ops.PrepackConv1d, ops.Conv1d)
	reg("conv1d_relu", 1, false, ops.PrepackConv1d, ops.Conv1dReLU)
	reg("conv2d", 2, false, ops.PrepackConv2d, ops.Conv2d)
	reg("conv2d_relu", 2, false, ops.PrepackConv2d, ops.Conv2dReLU)
	reg("conv3d", 3, false, ops.PrepackConv3d, ops.Conv3d)
	reg("conv3d_relu", 3, false, ops.PrepackConv3d, ops.Conv3dReLU)
	reg("conv_transpose1d", 1, true, ops.PrepackConvTranspose1d, ops.ConvTranspose1d)
	reg("conv_transpose2d", 2, true, ops.PrepackConvTranspose2d, ops.ConvTranspose2d)
}

func runConv(c *Case, dims int, transposed bool, pack prepackFn, f convFn) ([]*Tensor, error) {
	x, err := qInput(c, 0)
	if err != nil {
		return nil, err
	}
	w, err := qInput(c, 1)
	if err != nil {
		return nil, err
	}
	b, err := optDense(c, 2)
	if err != nil {
		return nil, err
	}
	var opt ops.ConvOptions
	if opt.Stride, err = c.ints("stride", dims, nil); err != nil {
		return nil, err
	}
	if opt.Padding, err = c.ints("padding", dims, nil); err != nil {
		return nil, err
	}
	if opt.Dilation, err = c.ints("dilation", dims, nil); err != nil {
		return nil, err
	}
	if transposed {
		if opt.OutputPadding, err = c.ints("output_padding", dims, nil); err != nil {
			return nil, err
		}
	}
	g, err := c.int("groups", 1)
	if err != nil {
		return nil, err
	}
	opt.Groups = int(g)
	scale, err := c.float("scale", 1)
	if err != nil {
		return nil, err
	}
	zp, err := c.int("zero_point", 0)
	if err != nil {
		return nil, err
	}
	p, err := pack(w, b, opt)
	if err != nil {
		return nil, err
	}
	y, err := f(x, p, scale, zp)
	if err != nil {
		return nil, err
	}
	return []*Tensor{fromQTensor(y)}, nil
}
