package main

import (
	"fmt"
	"math"

	"github.com/qgorgonia/qgorgonia/qtensor"
)

// The shape family (OPS.md "shape"): clone, flatten, view, select, slice
// and expand. Outputs are written in logical row-major order.
func init() {
	register("clone", func(c *Case) ([]*Tensor, error) {
		x, err := qInput(c, 0)
		if err != nil {
			return nil, err
		}
		return []*Tensor{fromQTensor(x.Clone())}, nil
	})
	register("flatten", func(c *Case) ([]*Tensor, error) {
		x, err := qInput(c, 0)
		if err != nil {
			return nil, err
		}
		start, err := c.int("start_dim", 0)
		if err != nil {
			return nil, err
		}
		end, err := c.int("end_dim", -1)
		if err != nil {
			return nil, err
		}
		return shapeResult(x.Flatten(int(start), int(end)))
	})
	register("view", func(c *Case) ([]*Tensor, error) {
		x, err := qInput(c, 0)
		if err != nil {
			return nil, err
		}
		var shape []int
		if err := c.attr("shape", &shape); err != nil {
			return nil, err
		}
		return shapeResult(x.View(shape...))
	})
	register("select", func(c *Case) ([]*Tensor, error) {
		x, err := qInput(c, 0)
		if err != nil {
			return nil, err
		}
		var dim, index int
		if err := c.attr("dim", &dim); err != nil {
			return nil, err
		}
		if err := c.attr("index", &index); err != nil {
			return nil, err
		}
		return shapeResult(x.Select(dim, index))
	})
	register("slice", func(c *Case) ([]*Tensor, error) {
		x, err := qInput(c, 0)
		if err != nil {
			return nil, err
		}
		dim, err := c.int("dim", 0)
		if err != nil {
			return nil, err
		}
		start, err := sliceBound(c, "start", 0)
		if err != nil {
			return nil, err
		}
		end, err := sliceBound(c, "end", qtensor.SliceEnd)
		if err != nil {
			return nil, err
		}
		step, err := c.int("step", 1)
		if err != nil {
			return nil, err
		}
		return shapeResult(x.Slice(int(dim), start, end, int(step)))
	})
	register("expand", func(c *Case) ([]*Tensor, error) {
		x, err := qInput(c, 0)
		if err != nil {
			return nil, err
		}
		var size []int
		if err := c.attr("size", &size); err != nil {
			return nil, err
		}
		return shapeResult(x.Expand(size...))
	})
}

func shapeResult(q *qtensor.QTensor, err error) ([]*Tensor, error) {
	if err != nil {
		return nil, err
	}
	if q == nil {
		return nil, fmt.Errorf("qconform: no result")
	}
	return []*Tensor{fromQTensor(q)}, nil
}

// sliceBound reads a slice bound: an integer, null or absent (def). Bounds
// beyond ±2^62, such as sys.maxsize, are clamped, as Python clamps any
// bound to the dimension.
func sliceBound(c *Case, key string, def int) (int, error) {
	if !c.has(key) {
		return def, nil
	}
	f, err := c.float(key, 0)
	if err != nil {
		return 0, err
	}
	switch {
	case f != math.Trunc(f):
		return 0, fmt.Errorf("qconform: %s: attr %q = %v is not an integer", c.Op, key, f)
	case f >= 1<<62:
		return math.MaxInt, nil
	case f <= -(1 << 62):
		return math.MinInt, nil
	}
	return int(f), nil
}
