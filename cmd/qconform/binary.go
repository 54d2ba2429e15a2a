package main

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

// The binary family (OPS.md "binary").
func init() {
	two := func(name string, f func(a, b *qtensor.QTensor, scale float64, zp int64) (*qtensor.QTensor, error)) {
		register(name, func(c *Case) ([]*Tensor, error) {
			a, err := qInput(c, 0)
			if err != nil {
				return nil, err
			}
			b, err := qInput(c, 1)
			if err != nil {
				return nil, err
			}
			s, z, err := outScaleZP(c)
			if err != nil {
				return nil, err
			}
			y, err := f(a, b, s, z)
			if err != nil {
				return nil, err
			}
			return []*Tensor{fromQTensor(y)}, nil
		})
	}
	two("add", ops.Add)
	two("add_relu", ops.AddReLU)
	two("mul", ops.Mul)
	two("mul_relu", ops.MulReLU)
	scalar := func(name string, f func(x *qtensor.QTensor, c float64) (*qtensor.QTensor, error)) {
		register(name, func(c *Case) ([]*Tensor, error) {
			x, err := qInput(c, 0)
			if err != nil {
				return nil, err
			}
			if !c.has("other") {
				return nil, fmt.Errorf("qconform: %s: missing attr \"other\"", name)
			}
			v, err := c.float("other", 0)
			if err != nil {
				return nil, err
			}
			y, err := f(x, v)
			if err != nil {
				return nil, err
			}
			return []*Tensor{fromQTensor(y)}, nil
		})
	}
	scalar("add_scalar", ops.AddScalar)
	scalar("mul_scalar", ops.MulScalar)
	register("cat", func(c *Case) ([]*Tensor, error) {
		xs := make([]*qtensor.QTensor, len(c.Inputs))
		for i := range c.Inputs {
			x, err := qInput(c, i)
			if err != nil {
				return nil, err
			}
			xs[i] = x
		}
		dim, err := c.int("dim", 0)
		if err != nil {
			return nil, err
		}
		var y *qtensor.QTensor
		if c.has("scale") || c.has("zero_point") {
			s, z, err := outScaleZP(c)
			if err != nil {
				return nil, err
			}
			y, err = ops.Cat(xs, int(dim), s, z)
			if err != nil {
				return nil, err
			}
		} else if y, err = ops.CatKeepQParams(xs, int(dim)); err != nil {
			return nil, err
		}
		return []*Tensor{fromQTensor(y)}, nil
	})
}
