package main

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
)

// The observers family (OPS.md "observers").
func init() {
	for _, op := range []string{observer.KindMinMax, observer.KindMovingAverageMinMax,
		observer.KindPerChannelMinMax, observer.KindMovingAveragePerChannelMinMax, observer.KindHistogram} {
		op := op
		register(op, func(c *Case) ([]*Tensor, error) { return runObserver(c, op) })
	}
}

// observerOptions translates the observer attrs of a case (dtype, qscheme,
// reduce_range, quant_min/quant_max, averaging_constant, ch_axis, bins,
// upsample_rate, eps) into options for the observer of kind op.
func observerOptions(c *Case, op string) ([]observer.Option, error) {
	var opts []observer.Option
	dt, err := c.dtype("dtype", qdtype.QUInt8Dtype)
	if err != nil {
		return nil, err
	}
	opts = append(opts, observer.WithDtype(dt))
	if c.has("qscheme") {
		s, err := c.str("qscheme", "")
		if err != nil {
			return nil, err
		}
		sch, err := qdtype.ParseQScheme(s)
		if err != nil {
			return nil, err
		}
		opts = append(opts, observer.WithQScheme(sch))
	}
	rr, err := c.bool("reduce_range", false)
	if err != nil {
		return nil, err
	}
	opts = append(opts, observer.WithReduceRange(rr))
	if c.has("quant_min") && c.has("quant_max") {
		qmin, err := c.int("quant_min", 0)
		if err != nil {
			return nil, err
		}
		qmax, err := c.int("quant_max", 0)
		if err != nil {
			return nil, err
		}
		opts = append(opts, observer.WithQuantRange(qmin, qmax))
	}
	if c.has("eps") {
		eps, err := c.float("eps", 0)
		if err != nil {
			return nil, err
		}
		opts = append(opts, observer.WithEps(float32(eps)))
	}
	// Attrs a constructor does not take are passed on anyway: the observer
	// rejects them, as PyTorch raises TypeError for an unexpected kwarg.
	if c.has("averaging_constant") {
		a, err := c.float("averaging_constant", 0.01)
		if err != nil {
			return nil, err
		}
		opts = append(opts, observer.WithAveragingConstant(float32(a)))
	}
	if c.has("ch_axis") {
		ax, err := c.int("ch_axis", 0)
		if err != nil {
			return nil, err
		}
		opts = append(opts, observer.WithChAxis(int(ax)))
	}
	if c.has("bins") {
		bins, err := c.int("bins", 2048)
		if err != nil {
			return nil, err
		}
		opts = append(opts, observer.WithBins(int(bins)))
	}
	if c.has("upsample_rate") {
		up, err := c.int("upsample_rate", 128)
		if err != nil {
			return nil, err
		}
		opts = append(opts, observer.WithUpsampleRate(int(up)))
	}
	return opts, nil
}

// newObserver builds the observer named op from the case attrs.
func newObserver(c *Case, op string) (observer.Observer, error) {
	opts, err := observerOptions(c, op)
	if err != nil {
		return nil, err
	}
	switch op {
	case observer.KindMinMax:
		return observer.NewMinMaxObserver(opts...)
	case observer.KindMovingAverageMinMax:
		return observer.NewMovingAverageMinMaxObserver(opts...)
	case observer.KindPerChannelMinMax:
		return observer.NewPerChannelMinMaxObserver(opts...)
	case observer.KindMovingAveragePerChannelMinMax:
		return observer.NewMovingAveragePerChannelMinMaxObserver(opts...)
	case observer.KindHistogram:
		return observer.NewHistogramObserver(opts...)
	}
	return nil, fmt.Errorf("qconform: unknown observer %q", op)
}

func runObserver(c *Case, op string) ([]*Tensor, error) {
	obs, err := newObserver(c, op)
	if err != nil {
		return nil, err
	}
	for i := range c.Inputs {
		x, err := c.denseInput(i)
		if err != nil {
			return nil, err
		}
		if err := obs.Observe(x); err != nil {
			return nil, err
		}
	}
	qp, err := obs.CalculateQParams()
	if err != nil {
		return nil, err
	}
	outs := qparamTensors(qp)
	mins, maxs := obs.MinVal(), obs.MaxVal()
	if obs.QScheme().PerChannel() {
		outs = append(outs, fromFloat32([]int{len(mins)}, mins), fromFloat32([]int{len(maxs)}, maxs))
	} else {
		outs = append(outs, fromFloat32([]int{}, mins), fromFloat32([]int{}, maxs))
	}
	if h, ok := obs.(*observer.HistogramObserver); ok {
		hist := h.Histogram()
		outs = append(outs, fromFloat32([]int{len(hist)}, hist))
	}
	return outs, nil
}

// qparamTensors encodes qparams as [scale float32 [n], zero_point int64 [n]].
func qparamTensors(qp qdtype.QParams) []*Tensor {
	scales := make([]float32, len(qp.Scales))
	for i, s := range qp.Scales {
		scales[i] = float32(s)
	}
	zps := qp.ZeroPoints
	if zps == nil {
		zps = make([]int64, len(scales))
	}
	return []*Tensor{fromFloat32([]int{len(scales)}, scales), fromInt64s([]int{len(zps)}, zps)}
}
