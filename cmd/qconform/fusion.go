package main

import (
	"github.com/qgorgonia/qgorgonia/fuse"
	"gorgonia.org/tensor"
)

// The fusion family (OPS.md "fusion").
func init() {
	register("fuse_conv_bn_weights", func(c *Case) ([]*Tensor, error) {
		in, err := foldInputs(c)
		if err != nil {
			return nil, err
		}
		eps, err := c.float("eps", 1e-5)
		if err != nil {
			return nil, err
		}
		tr, err := c.bool("transpose", false)
		if err != nil {
			return nil, err
		}
		w, b, err := fuse.FuseConvBNWeights(in[0], in[1], in[2], in[3], eps, in[4], in[5], tr)
		if err != nil {
			return nil, err
		}
		return foldOutputs(w, b)
	})
	register("fuse_linear_bn_weights", func(c *Case) ([]*Tensor, error) {
		in, err := foldInputs(c)
		if err != nil {
			return nil, err
		}
		eps, err := c.float("eps", 1e-5)
		if err != nil {
			return nil, err
		}
		w, b, err := fuse.FuseLinearBNWeights(in[0], in[1], in[2], in[3], eps, in[4], in[5])
		if err != nil {
			return nil, err
		}
		return foldOutputs(w, b)
	})
}

// foldInputs decodes [w, b?, running_mean, running_var, bn_w?, bn_b?];
// absent optional tensors are nil.
func foldInputs(c *Case) ([]*tensor.Dense, error) {
	out := make([]*tensor.Dense, 6)
	for i := range out {
		t := c.optInput(i)
		if t == nil {
			if i == 0 || i == 2 || i == 3 {
				if _, err := c.input(i); err != nil {
					return nil, err
				}
			}
			continue
		}
		d, err := t.Dense()
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

func foldOutputs(w, b *tensor.Dense) ([]*Tensor, error) {
	wt, err := fromDense(w)
	if err != nil {
		return nil, err
	}
	bt, err := fromDense(b)
	if err != nil {
		return nil, err
	}
	return []*Tensor{wt, bt}, nil
}
