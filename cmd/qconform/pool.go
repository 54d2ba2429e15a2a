package main

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

// The pool family (OPS.md "pool").
func init() {
	pool := func(name string, d int, f func(c *Case, x *qtensor.QTensor, k, s, p []int, ceil bool) (*qtensor.QTensor, error)) {
		register(name, func(c *Case) ([]*Tensor, error) {
			x, err := qInput(c, 0)
			if err != nil {
				return nil, err
			}
			if !c.has("kernel_size") {
				return nil, fmt.Errorf("qconform: %s: missing attr \"kernel_size\"", name)
			}
			k, err := c.ints("kernel_size", d, nil)
			if err != nil {
				return nil, err
			}
			s, err := c.ints("stride", d, nil)
			if err != nil {
				return nil, err
			}
			p, err := c.ints("padding", d, nil)
			if err != nil {
				return nil, err
			}
			ceil, err := c.bool("ceil_mode", false)
			if err != nil {
				return nil, err
			}
			y, err := f(c, x, k, s, p, ceil)
			if err != nil {
				return nil, err
			}
			return []*Tensor{fromQTensor(y)}, nil
		})
	}
	pool("max_pool2d", 2, func(c *Case, x *qtensor.QTensor, k, s, p []int, ceil bool) (*qtensor.QTensor, error) {
		dil, err := c.ints("dilation", 2, nil)
		if err != nil {
			return nil, err
		}
		return ops.MaxPool2d(x, k, s, p, dil, ceil)
	})
	avg := func(f func(*qtensor.QTensor, []int, []int, []int, bool, bool, int) (*qtensor.QTensor, error)) func(c *Case, x *qtensor.QTensor, k, s, p []int, ceil bool) (*qtensor.QTensor, error) {
		return func(c *Case, x *qtensor.QTensor, k, s, p []int, ceil bool) (*qtensor.QTensor, error) {
			cip, err := c.bool("count_include_pad", true)
			if err != nil {
				return nil, err
			}
			div, err := c.int("divisor_override", 0)
			if err != nil {
				return nil, err
			}
			if c.has("divisor_override") && div == 0 {
				return nil, fmt.Errorf("qconform: divisor_override must not be zero")
			}
			return f(x, k, s, p, ceil, cip, int(div))
		}
	}
	pool("avg_pool2d", 2, avg(ops.AvgPool2d))
	pool("avg_pool3d", 3, avg(ops.AvgPool3d))
	register("adaptive_avg_pool2d", func(c *Case) ([]*Tensor, error) {
		x, err := qInput(c, 0)
		if err != nil {
			return nil, err
		}
		if !c.has("output_size") {
			return nil, fmt.Errorf("qconform: adaptive_avg_pool2d: missing attr \"output_size\"")
		}
		// an int, or a list whose null entries keep the input's size
		var o []int
		var list []*int
		if err := c.attr("output_size", &list); err == nil {
			shape := x.Shape()
			for i, v := range list {
				switch {
				case v != nil:
					o = append(o, *v)
				case len(shape) >= len(list):
					o = append(o, shape[len(shape)-len(list)+i])
				}
			}
		} else if o, err = c.ints("output_size", 2, nil); err != nil {
			return nil, err
		}
		if len(o) != 2 {
			return nil, fmt.Errorf("qconform: adaptive_avg_pool2d: output_size %v must have 2 entries", o)
		}
		y, err := ops.AdaptiveAvgPool2d(x, o[0], o[1])
		if err != nil {
			return nil, err
		}
		return []*Tensor{fromQTensor(y)}, nil
	})
	register("interpolate", func(c *Case) ([]*Tensor, error) {
		x, err := qInput(c, 0)
		if err != nil {
			return nil, err
		}
		size, err := c.ints("size", 2, nil)
		if err != nil {
			return nil, err
		}
		var sf []float64
		if c.has("scale_factor") {
			var one Num
			if err := c.attr("scale_factor", &one); err == nil {
				sf = []float64{float64(one)}
			} else if sf, err = c.floats("scale_factor", nil); err != nil {
				return nil, err
			}
		}
		mode, err := c.str("mode", "nearest")
		if err != nil {
			return nil, err
		}
		ac, err := c.bool("align_corners", false)
		if err != nil {
			return nil, err
		}
		y, err := ops.Interpolate(x, size, sf, mode, ac)
		if err != nil {
			return nil, err
		}
		return []*Tensor{fromQTensor(y)}, nil
	})
}
