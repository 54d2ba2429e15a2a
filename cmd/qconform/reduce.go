package main

import (
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// The reduce family (OPS.md "reduce"): max, min (whole tensor or along
// dim), mean (whole tensor or over a list of dims), sort and topk.
func init() {
	register("max", func(c *Case) ([]*Tensor, error) { return runExtremum(c, true) })
	register("min", func(c *Case) ([]*Tensor, error) { return runExtremum(c, false) })
	register("mean", func(c *Case) ([]*Tensor, error) {
		x, err := qInput(c, 0)
		if err != nil {
			return nil, err
		}
		dims, err := c.ints("dim", 1, nil)
		if err != nil {
			return nil, err
		}
		keepdim, err := c.bool("keepdim", false)
		if err != nil {
			return nil, err
		}
		if !c.has("dim") {
			dims = nil
		}
		y, err := x.MeanDims(dims, keepdim)
		if err != nil {
			return nil, err
		}
		return []*Tensor{fromQTensor(y)}, nil
	})
	register("sort", func(c *Case) ([]*Tensor, error) {
		x, err := qInput(c, 0)
		if err != nil {
			return nil, err
		}
		dim, err := c.int("dim", -1)
		if err != nil {
			return nil, err
		}
		desc, err := c.bool("descending", false)
		if err != nil {
			return nil, err
		}
		stable, err := c.bool("stable", false)
		if err != nil {
			return nil, err
		}
		v, idx, err := x.Sort(int(dim), desc, stable)
		if err != nil {
			return nil, err
		}
		return valuesIndices(v, idx)
	})
	register("topk", func(c *Case) ([]*Tensor, error) {
		x, err := qInput(c, 0)
		if err != nil {
			return nil, err
		}
		var k int
		if err := c.attr("k", &k); err != nil {
			return nil, err
		}
		dim, err := c.int("dim", -1)
		if err != nil {
			return nil, err
		}
		largest, err := c.bool("largest", true)
		if err != nil {
			return nil, err
		}
		sorted, err := c.bool("sorted", true)
		if err != nil {
			return nil, err
		}
		v, idx, err := x.Topk(k, int(dim), largest, sorted)
		if err != nil {
			return nil, err
		}
		return valuesIndices(v, idx)
	})
}

func runExtremum(c *Case, max bool) ([]*Tensor, error) {
	x, err := qInput(c, 0)
	if err != nil {
		return nil, err
	}
	if !c.has("dim") {
		var y *qtensor.QTensor
		if max {
			y, err = x.Max()
		} else {
			y, err = x.Min()
		}
		if err != nil {
			return nil, err
		}
		return []*Tensor{fromQTensor(y)}, nil
	}
	dim, err := c.int("dim", 0)
	if err != nil {
		return nil, err
	}
	keepdim, err := c.bool("keepdim", false)
	if err != nil {
		return nil, err
	}
	var v *qtensor.QTensor
	var idx *tensor.Dense
	if max {
		v, idx, err = x.MaxDim(int(dim), keepdim)
	} else {
		v, idx, err = x.MinDim(int(dim), keepdim)
	}
	if err != nil {
		return nil, err
	}
	return valuesIndices(v, idx)
}

// valuesIndices encodes a (values, int64 indices) pair.
func valuesIndices(v *qtensor.QTensor, idx *tensor.Dense) ([]*Tensor, error) {
	it, err := fromDense(idx)
	if err != nil {
		return nil, err
	}
	return []*Tensor{fromQTensor(v), it}, nil
}
