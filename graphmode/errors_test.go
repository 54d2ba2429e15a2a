package graphmode

import (
	"errors"
	"github.com/qgorgonia/qgorgonia/eager"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestBadInputsAreErrors(t *testing.T) {
	w1, b1, w2, b2 := mlpWeights(1, 4, 6, 3)
	m := newMLP(w1, b1, w2, b2, 2, gorgonia.Rectify)
	other := newMLP(w1, b1, w2, b2, 2, gorgonia.Rectify)
	calib := calibrateWith(m.x, batches(1, 1, 2, 4))
	noop := func(*Calibration) error { return nil }

	// A matmul and a conv whose weight input has no value.
	gw := gorgonia.NewGraph()
	xw := gorgonia.NewMatrix(gw, tensor.Float32, gorgonia.WithShape(2, 4), gorgonia.WithName("x"))
	ww := gorgonia.NewMatrix(gw, tensor.Float32, gorgonia.WithShape(4, 3), gorgonia.WithName("w"))
	yw := gorgonia.Must(gorgonia.Mul(xw, ww))
	gc := gorgonia.NewGraph()
	xc := gorgonia.NewTensor(gc, tensor.Float32, 4, gorgonia.WithShape(1, 1, 5, 5), gorgonia.WithName("x"))
	fc := gorgonia.NewTensor(gc, tensor.Float32, 4, gorgonia.WithShape(2, 1, 3, 3), gorgonia.WithName("f"))
	yc := gorgonia.Must(gorgonia.Conv2d(xc, fc, tensor.Shape{3, 3}, []int{0, 0}, []int{1, 1}, []int{1, 1}))
	// A float64 graph.
	g64 := gorgonia.NewGraph()
	x64 := gorgonia.NewMatrix(g64, tensor.Float64, gorgonia.WithShape(2, 2), gorgonia.WithName("x"))
	y64 := gorgonia.Must(gorgonia.Tanh(x64))

	// A BatchNormOp not built by gorgonia.BatchNorm (no statistics).
	gb := gorgonia.NewGraph()
	xb := gorgonia.NewTensor(gb, tensor.Float32, 4, gorgonia.WithShape(1, 2, 3, 3), gorgonia.WithName("x"))
	yb, err := gorgonia.ApplyOp(&gorgonia.BatchNormOp{}, xb)
	must(t, err)

	qint8Acts := &QConfig{Activation: eager.ObserverFactory(observer.WithArgs(observer.NewMinMaxObserver, observer.WithDtype(qdtype.QInt8Dtype))), Weight: eager.ObserverFactory(observer.DefaultWeightObserver)}
	boom := errors.New("boom")
	cases := []struct {
		name string
		run  func() error
		want string
	}{
		{"nil graph", func() error {
			_, err := QuantizeGraph(nil, gorgonia.Nodes{m.y}, eager.DefaultQConfig(), calib)
			return err
		}, "nil graph"},
		{"no outputs", func() error { _, err := QuantizeGraph(m.g, nil, eager.DefaultQConfig(), calib); return err }, "no outputs"},
		{"nil output", func() error {
			_, err := QuantizeGraph(m.g, gorgonia.Nodes{nil}, eager.DefaultQConfig(), calib)
			return err
		}, "nil"},
		{"output of another graph", func() error {
			_, err := QuantizeGraph(m.g, gorgonia.Nodes{other.y}, eager.DefaultQConfig(), calib)
			return err
		}, "not a node of the graph"},
		{"nil qconfig", func() error { _, err := QuantizeGraph(m.g, gorgonia.Nodes{m.y}, nil, calib); return err }, "nil qconfig"},
		{"empty qconfig", func() error { _, err := QuantizeGraph(m.g, gorgonia.Nodes{m.y}, &QConfig{}, calib); return err }, "no activation observer"},
		{"qint8 activations", func() error { _, err := QuantizeGraph(m.g, gorgonia.Nodes{m.y}, qint8Acts, calib); return err }, "quint8"},
		{"QAT qconfig", func() error {
			_, err := QuantizeGraph(m.g, gorgonia.Nodes{m.y}, eager.DefaultQATQConfig(), calib)
			return err
		}, "fake quantizer"},
		{"nil calibrate", func() error {
			_, err := QuantizeGraph(m.g, gorgonia.Nodes{m.y}, eager.DefaultQConfig(), nil)
			return err
		}, "nil calibrate"},
		{"calibrate fails", func() error {
			_, err := QuantizeGraph(m.g, gorgonia.Nodes{m.y}, eager.DefaultQConfig(), func(*Calibration) error { return boom })
			if !errors.Is(err, boom) {
				return errors.New("calibrate's error is not wrapped")
			}
			return err
		}, "boom"},
		{"no calibration data", func() error {
			_, err := QuantizeGraph(m.g, gorgonia.Nodes{m.y}, eager.DefaultQConfig(), noop)
			return err
		}, "saw no data"},
		{"unknown calibration input", func() error {
			_, err := QuantizeGraph(m.g, gorgonia.Nodes{m.y}, eager.DefaultQConfig(), func(c *Calibration) error {
				return c.Run(map[*gorgonia.Node]gorgonia.Value{other.x: batches(1, 1, 2, 4)[0]})
			})
			return err
		}, "not an input"},
		{"matmul weight without value", func() error {
			_, err := QuantizeGraph(gw, gorgonia.Nodes{yw}, eager.DefaultQConfig(), noop)
			return err
		}, "has no value"},
		{"conv filter without value", func() error {
			_, err := QuantizeGraph(gc, gorgonia.Nodes{yc}, eager.DefaultQConfig(), noop)
			return err
		}, "has no value"},
		{"batch norm without statistics", func() error {
			_, err := QuantizeGraph(gb, gorgonia.Nodes{yb}, eager.DefaultQConfig(), noop)
			return err
		}, "no running statistics"},
		{"float64 graph", func() error {
			_, err := QuantizeGraph(g64, gorgonia.Nodes{y64}, eager.DefaultQConfig(), noop)
			return err
		}, "float32"},
		{"dynamic nil graph", func() error {
			_, err := QuantizeDynamicGraph(nil, gorgonia.Nodes{m.y}, eager.DefaultDynamicQConfig())
			return err
		}, "nil graph"},
		{"dynamic nil qconfig", func() error { _, err := QuantizeDynamicGraph(m.g, gorgonia.Nodes{m.y}, nil); return err }, "nil qconfig"},
		{"dynamic weight without value", func() error {
			_, err := QuantizeDynamicGraph(gw, gorgonia.Nodes{yw}, eager.DefaultDynamicQConfig())
			return err
		}, "has no value"},
		{"dynamic quint8 weights", func() error {
			_, err := QuantizeDynamicGraph(m.g, gorgonia.Nodes{m.y}, &QConfig{Weight: eager.ObserverFactory(observer.DefaultObserver)})
			return err
		}, "qint8 or float16"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "graphmode: ") {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	var r Result
	if _, err := r.Input(m.x); err == nil {
		t.Error("Input on an empty result: no error")
	}
	if _, err := r.Output(nil); err == nil {
		t.Error("Output(nil): no error")
	}
}
