package main

import (
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

// The quantize family (OPS.md "quantize").
func init() {
	register("quantize_per_tensor", func(c *Case) ([]*Tensor, error) {
		x, err := c.denseInput(0)
		if err != nil {
			return nil, err
		}
		scale, err := c.float("scale", 0)
		if err != nil {
			return nil, err
		}
		zp, err := c.int("zero_point", 0)
		if err != nil {
			return nil, err
		}
		dt, err := c.dtype("dtype", qdtype.QUInt8Dtype)
		if err != nil {
			return nil, err
		}
		q, err := qtensor.QuantizePerTensor(x, scale, zp, dt)
		if err != nil {
			return nil, err
		}
		return []*Tensor{fromQTensor(q)}, nil
	})
	register("quantize_per_channel", func(c *Case) ([]*Tensor, error) {
		x, err := c.denseInput(0)
		if err != nil {
			return nil, err
		}
		scales, zps, axis, err := perChannelAttrs(c)
		if err != nil {
			return nil, err
		}
		dt, err := c.dtype("dtype", qdtype.QUInt8Dtype)
		if err != nil {
			return nil, err
		}
		q, err := qtensor.QuantizePerChannel(x, scales, zps, axis, dt)
		if err != nil {
			return nil, err
		}
		return []*Tensor{fromQTensor(q)}, nil
	})
	register("dequantize", func(c *Case) ([]*Tensor, error) {
		q, err := qInput(c, 0)
		if err != nil {
			return nil, err
		}
		d, err := q.Dequantize()
		if err != nil {
			return nil, err
		}
		t, err := fromDense(d)
		if err != nil {
			return nil, err
		}
		return []*Tensor{t}, nil
	})
	register("int_repr", func(c *Case) ([]*Tensor, error) {
		q, err := qInput(c, 0)
		if err != nil {
			return nil, err
		}
		t, err := fromDense(q.IntRepr())
		if err != nil {
			return nil, err
		}
		return []*Tensor{t}, nil
	})
}

// qInput decodes inputs[i] as a quantized tensor.
func qInput(c *Case, i int) (*qtensor.QTensor, error) {
	in, err := c.input(i)
	if err != nil {
		return nil, err
	}
	return in.QTensor()
}

// perChannelAttrs reads the per-channel qparams attrs "scales",
// "zero_points" and "axis" (default 0).
func perChannelAttrs(c *Case) (scales []float64, zps []int64, axis int, err error) {
	if scales, err = c.floats("scales", nil); err != nil {
		return nil, nil, 0, err
	}
	if zps, err = c.int64s("zero_points", nil); err != nil {
		return nil, nil, 0, err
	}
	a, err := c.int("axis", 0)
	return scales, zps, int(a), err
}
