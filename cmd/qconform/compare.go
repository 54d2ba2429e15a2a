package main

import (
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// The compare family (OPS.md "compare"): eq, ne, ge, le, gt, lt against a
// quantized tensor or a float attr "other", and equal.
func init() {
	for _, name := range []string{"eq", "ne", "ge", "le", "gt", "lt"} {
		op, err := qtensor.ParseComparison(name)
		if err != nil {
			panic(err)
		}
		register(name, func(c *Case) ([]*Tensor, error) { return runComparison(c, op) })
	}
	register("equal", func(c *Case) ([]*Tensor, error) {
		a, err := qInput(c, 0)
		if err != nil {
			return nil, err
		}
		b, err := qInput(c, 1)
		if err != nil {
			return nil, err
		}
		return []*Tensor{fromBools([]int{}, []bool{qtensor.Equal(a, b)})}, nil
	})
}

func runComparison(c *Case, op qtensor.Comparison) ([]*Tensor, error) {
	a, err := qInput(c, 0)
	if err != nil {
		return nil, err
	}
	if c.has("other") {
		v, err := c.float("other", 0)
		if err != nil {
			return nil, err
		}
		d, err := qtensor.CompareScalar(a, v, op)
		if err != nil {
			return nil, err
		}
		return comparisonOutput(d)
	}
	b, err := qInput(c, 1)
	if err != nil {
		return nil, err
	}
	d, err := qtensor.Compare(a, b, op)
	if err != nil {
		return nil, err
	}
	return comparisonOutput(d)
}

func comparisonOutput(d *tensor.Dense) ([]*Tensor, error) {
	t, err := fromDense(d)
	if err != nil {
		return nil, err
	}
	return []*Tensor{t}, nil
}
