package main

import (
	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

// The activation family (OPS.md "activation").
func init() {
	unary := func(name string, f func(c *Case, x *qtensor.QTensor) (*qtensor.QTensor, error)) {
		register(name, func(c *Case) ([]*Tensor, error) {
			x, err := qInput(c, 0)
			if err != nil {
				return nil, err
			}
			y, err := f(c, x)
			if err != nil {
				return nil, err
			}
			return []*Tensor{fromQTensor(y)}, nil
		})
	}
	unary("relu", func(c *Case, x *qtensor.QTensor) (*qtensor.QTensor, error) { return ops.ReLU(x) })
	unary("relu6", func(c *Case, x *qtensor.QTensor) (*qtensor.QTensor, error) { return ops.ReLU6(x) })
	unary("hardsigmoid", func(c *Case, x *qtensor.QTensor) (*qtensor.QTensor, error) { return ops.Hardsigmoid(x) })
	unary("sigmoid", func(c *Case, x *qtensor.QTensor) (*qtensor.QTensor, error) { return ops.Sigmoid(x) })
	unary("tanh", func(c *Case, x *qtensor.QTensor) (*qtensor.QTensor, error) { return ops.Tanh(x) })
	unary("hardtanh", func(c *Case, x *qtensor.QTensor) (*qtensor.QTensor, error) {
		lo, err := c.float("min_val", -1)
		if err != nil {
			return nil, err
		}
		hi, err := c.float("max_val", 1)
		if err != nil {
			return nil, err
		}
		return ops.Hardtanh(x, lo, hi)
	})
	unary("elu", func(c *Case, x *qtensor.QTensor) (*qtensor.QTensor, error) {
		s, z, err := outScaleZP(c)
		if err != nil {
			return nil, err
		}
		alpha, err := c.float("alpha", 1)
		if err != nil {
			return nil, err
		}
		return ops.ELU(x, s, z, alpha)
	})
	unary("hardswish", func(c *Case, x *qtensor.QTensor) (*qtensor.QTensor, error) {
		s, z, err := outScaleZP(c)
		if err != nil {
			return nil, err
		}
		return ops.Hardswish(x, s, z)
	})
	unary("leaky_relu", func(c *Case, x *qtensor.QTensor) (*qtensor.QTensor, error) {
		slope, err := c.float("negative_slope", 0.01)
		if err != nil {
			return nil, err
		}
		if !c.has("scale") || !c.has("zero_point") {
			return ops.LeakyReLU(x, slope)
		}
		s, z, err := outScaleZP(c)
		if err != nil {
			return nil, err
		}
		return ops.LeakyReLUQ(x, slope, s, z)
	})
}

// outScaleZP reads the required output qparams attrs "scale" and
// "zero_point".
func outScaleZP(c *Case) (float64, int64, error) {
	if err := c.attr("scale", new(Num)); err != nil {
		return 0, 0, err
	}
	if err := c.attr("zero_point", new(Num)); err != nil {
		return 0, 0, err
	}
	s, err := c.float("scale", 0)
	if err != nil {
		return 0, 0, err
	}
	z, err := c.int("zero_point", 0)
	return s, z, err
}
