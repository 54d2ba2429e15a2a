package main

import (
	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// The linear family (OPS.md "linear, conv"): linear and linear_relu.
func init() {
	register("linear", func(c *Case) ([]*Tensor, error) { return runLinear(c, ops.Linear) })
	register("linear_relu", func(c *Case) ([]*Tensor, error) { return runLinear(c, ops.LinearReLU) })
}

// optDense decodes an optional float32 input (nil when absent or null).
func optDense(c *Case, i int) (*tensor.Dense, error) {
	t := c.optInput(i)
	if t == nil {
		return nil, nil
	}
	return t.Dense()
}

func runLinear(c *Case, f func(*qtensor.QTensor, *ops.PackedLinear, float64, int64) (*qtensor.QTensor, error)) ([]*Tensor, error) {
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
	scale, err := c.float("scale", 1)
	if err != nil {
		return nil, err
	}
	zp, err := c.int("zero_point", 0)
	if err != nil {
		return nil, err
	}
	p, err := ops.PrepackLinear(w, b)
	if err != nil {
		return nil, err
	}
	y, err := f(x, p, scale, zp)
	if err != nil {
		return nil, err
	}
	return []*Tensor{fromQTensor(y)}, nil
}
