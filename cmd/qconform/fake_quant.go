package main

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/fake"
	"github.com/qgorgonia/qgorgonia/observer"
	"gorgonia.org/tensor"
)

// The fake_quant family (OPS.md "fake_quant").
func init() {
	register("fake_quantize_per_tensor_affine", func(c *Case) ([]*Tensor, error) {
		x, dy, err := fakeInputs(c)
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
		qmin, qmax, err := quantMinMax(c)
		if err != nil {
			return nil, err
		}
		y, mask, err := fake.FakeQuantizePerTensorAffine(x, float32(scale), zp, qmin, qmax)
		if err != nil {
			return nil, err
		}
		return steOutputs(y, mask, dy)
	})
	register("fake_quantize_per_channel_affine", func(c *Case) ([]*Tensor, error) {
		x, dy, err := fakeInputs(c)
		if err != nil {
			return nil, err
		}
		scales, zps, axis, err := perChannelAttrs(c)
		if err != nil {
			return nil, err
		}
		qmin, qmax, err := quantMinMax(c)
		if err != nil {
			return nil, err
		}
		y, mask, err := fake.FakeQuantizePerChannelAffine(x, toF32(scales), zps, axis, qmin, qmax)
		if err != nil {
			return nil, err
		}
		return steOutputs(y, mask, dy)
	})
	register("fake_quantize_learnable_per_tensor_affine", func(c *Case) ([]*Tensor, error) {
		return learnableCase(c, false)
	})
	register("fake_quantize_learnable_per_channel_affine", func(c *Case) ([]*Tensor, error) {
		return learnableCase(c, true)
	})
	register("FakeQuantize", runFakeQuantize)
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, s := range v {
		out[i] = float32(s)
	}
	return out
}

func quantMinMax(c *Case) (int64, int64, error) {
	qmin, err := c.int("quant_min", 0)
	if err != nil {
		return 0, 0, err
	}
	qmax, err := c.int("quant_max", 255)
	return qmin, qmax, err
}

// fakeInputs decodes [x, grad_out].
func fakeInputs(c *Case) (x, dy *tensor.Dense, err error) {
	if x, err = c.denseInput(0); err != nil {
		return nil, nil, err
	}
	if dy, err = c.denseInput(1); err != nil {
		return nil, nil, err
	}
	if !x.Shape().Eq(dy.Shape()) {
		return nil, nil, fmt.Errorf("qconform: %s: grad_out shape %v differs from x shape %v", c.Op, dy.Shape(), x.Shape())
	}
	return x, dy, nil
}

// steOutputs returns [y, grad_out·mask].
func steOutputs(y *tensor.Dense, mask []bool, dy *tensor.Dense) ([]*Tensor, error) {
	yt, err := fromDense(y)
	if err != nil {
		return nil, err
	}
	g := dy.Float32s()
	dx := make([]float32, len(mask))
	for i, m := range mask {
		if m {
			dx[i] = g[i]
		}
	}
	return []*Tensor{yt, fromFloat32(yt.Shape, dx)}, nil
}

func learnableCase(c *Case, perChannel bool) ([]*Tensor, error) {
	x, dy, err := fakeInputs(c)
	if err != nil {
		return nil, err
	}
	scales, err := floatInput(c, 2)
	if err != nil {
		return nil, err
	}
	zps, err := floatInput(c, 3)
	if err != nil {
		return nil, err
	}
	qmin, qmax, err := quantMinMax(c)
	if err != nil {
		return nil, err
	}
	gf, err := c.float("grad_factor", 1)
	if err != nil {
		return nil, err
	}
	var y *tensor.Dense
	var g fake.LearnableGrads
	if perChannel {
		axis, err := c.int("axis", 0)
		if err != nil {
			return nil, err
		}
		if y, err = fake.FakeQuantizeLearnablePerChannelAffine(x, scales, zps, int(axis), qmin, qmax); err != nil {
			return nil, err
		}
		if g, err = fake.FakeQuantizeLearnablePerChannelAffineBackward(dy, x, scales, zps, int(axis), qmin, qmax, float32(gf)); err != nil {
			return nil, err
		}
	} else {
		if len(scales) != 1 || len(zps) != 1 {
			return nil, fmt.Errorf("qconform: %s: want one scale and one zero point, got %d and %d", c.Op, len(scales), len(zps))
		}
		if y, err = fake.FakeQuantizeLearnablePerTensorAffine(x, scales[0], zps[0], qmin, qmax); err != nil {
			return nil, err
		}
		if g, err = fake.FakeQuantizeLearnablePerTensorAffineBackward(dy, x, scales[0], zps[0], qmin, qmax, float32(gf)); err != nil {
			return nil, err
		}
	}
	yt, err := fromDense(y)
	if err != nil {
		return nil, err
	}
	dxt, err := fromDense(g.X)
	if err != nil {
		return nil, err
	}
	return []*Tensor{yt, dxt, fromFloat32([]int{len(g.Scale)}, g.Scale), fromFloat32([]int{len(g.ZeroPoint)}, g.ZeroPoint)}, nil
}

// runFakeQuantize runs a FakeQuantize module over the batches, disabling
// the observer after observer_steps batches.
func runFakeQuantize(c *Case) ([]*Tensor, error) {
	name, err := c.str("observer", observer.KindMovingAverageMinMax)
	if err != nil {
		return nil, err
	}
	opts, err := observerOptions(c, name)
	if err != nil {
		return nil, err
	}
	var f observer.Factory
	switch name {
	case observer.KindMinMax:
		f = observer.WithArgs(observer.NewMinMaxObserver, opts...)
	case observer.KindMovingAverageMinMax:
		f = observer.WithArgs(observer.NewMovingAverageMinMaxObserver, opts...)
	case observer.KindPerChannelMinMax:
		f = observer.WithArgs(observer.NewPerChannelMinMaxObserver, opts...)
	case observer.KindMovingAveragePerChannelMinMax:
		f = observer.WithArgs(observer.NewMovingAveragePerChannelMinMaxObserver, opts...)
	case observer.KindHistogram:
		f = observer.WithArgs(observer.NewHistogramObserver, opts...)
	default:
		return nil, fmt.Errorf("qconform: FakeQuantize: unknown observer %q", name)
	}
	fq, err := fake.NewFakeQuantizer(f)
	if err != nil {
		return nil, err
	}
	steps, err := c.int("observer_steps", -1)
	if err != nil {
		return nil, err
	}
	var outs []*Tensor
	for i := range c.Inputs {
		if int64(i) == steps {
			fq.EnableObserver(false)
		}
		x, err := c.denseInput(i)
		if err != nil {
			return nil, err
		}
		y, err := fq.Forward(x)
		if err != nil {
			return nil, err
		}
		t, err := fromDense(y)
		if err != nil {
			return nil, err
		}
		outs = append(outs, t)
	}
	return append(outs, qparamTensors(fq.QParams())...), nil
}
