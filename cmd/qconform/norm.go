package main

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

// The norm family (OPS.md "norm").
func init() {
	bn := func(name string, f func(x *qtensor.QTensor, w, b, m, v []float32, eps, s float64, z int64) (*qtensor.QTensor, error)) {
		register(name, func(c *Case) ([]*Tensor, error) {
			x, err := qInput(c, 0)
			if err != nil {
				return nil, err
			}
			p := make([][]float32, 4)
			for i := range p {
				if p[i], err = floatInput(c, i+1); err != nil {
					return nil, err
				}
			}
			eps, s, z, err := normAttrs(c)
			if err != nil {
				return nil, err
			}
			y, err := f(x, p[0], p[1], p[2], p[3], eps, s, z)
			if err != nil {
				return nil, err
			}
			return []*Tensor{fromQTensor(y)}, nil
		})
	}
	bn("batch_norm1d", ops.BatchNorm1d)
	bn("batch_norm2d", ops.BatchNorm2d)
	bn("batch_norm3d", ops.BatchNorm3d)
	affine := func(name string, f func(c *Case, x *qtensor.QTensor, w, b []float32, eps, s float64, z int64) (*qtensor.QTensor, error)) {
		register(name, func(c *Case) ([]*Tensor, error) {
			x, err := qInput(c, 0)
			if err != nil {
				return nil, err
			}
			w, err := optFloatInput(c, 1)
			if err != nil {
				return nil, err
			}
			b, err := optFloatInput(c, 2)
			if err != nil {
				return nil, err
			}
			eps, s, z, err := normAttrs(c)
			if err != nil {
				return nil, err
			}
			y, err := f(c, x, w, b, eps, s, z)
			if err != nil {
				return nil, err
			}
			return []*Tensor{fromQTensor(y)}, nil
		})
	}
	affine("layer_norm", func(c *Case, x *qtensor.QTensor, w, b []float32, eps, s float64, z int64) (*qtensor.QTensor, error) {
		if !c.has("normalized_shape") {
			return nil, fmt.Errorf("qconform: layer_norm: missing attr \"normalized_shape\"")
		}
		ns, err := c.ints("normalized_shape", 1, nil)
		if err != nil {
			return nil, err
		}
		return ops.LayerNorm(x, ns, w, b, eps, s, z)
	})
	affine("group_norm", func(c *Case, x *qtensor.QTensor, w, b []float32, eps, s float64, z int64) (*qtensor.QTensor, error) {
		if !c.has("num_groups") {
			return nil, fmt.Errorf("qconform: group_norm: missing attr \"num_groups\"")
		}
		g, err := c.int("num_groups", 1)
		if err != nil {
			return nil, err
		}
		return ops.GroupNorm(x, int(g), w, b, eps, s, z)
	})
	affine("instance_norm", func(c *Case, x *qtensor.QTensor, w, b []float32, eps, s float64, z int64) (*qtensor.QTensor, error) {
		return ops.InstanceNorm(x, w, b, eps, s, z)
	})
}

// normAttrs reads eps (default 1e-5) and the output qparams.
func normAttrs(c *Case) (float64, float64, int64, error) {
	eps, err := c.float("eps", 1e-5)
	if err != nil {
		return 0, 0, 0, err
	}
	s, z, err := outScaleZP(c)
	return eps, s, z, err
}

// floatInput decodes inputs[i] as float32 data.
func floatInput(c *Case, i int) ([]float32, error) {
	t, err := c.input(i)
	if err != nil {
		return nil, err
	}
	return t.Float32s()
}

// optFloatInput is floatInput that returns nil for an absent input.
func optFloatInput(c *Case, i int) ([]float32, error) {
	if c.optInput(i) == nil {
		return nil, nil
	}
	return floatInput(c, i)
}
