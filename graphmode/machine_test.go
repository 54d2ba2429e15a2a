package graphmode

import (
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/eager"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The calibrate callback may drive its own VM on Calibration.Graph, and the
// quantized graph runs the same under the LispMachine as under the
// TapeMachine.
func TestOwnCalibrationLoopAndLispMachine(t *testing.T) {
	const bs, in, hid, out = 4, 8, 12, 5
	w1, b1, w2, b2 := mlpWeights(41, in, hid, out)
	m := newMLP(w1, b1, w2, b2, bs, gorgonia.Rectify)
	calib := batches(42, 3, bs, in)
	ownLoop := func(c *Calibration) error {
		x, err := c.Input(m.x)
		if err != nil {
			return err
		}
		vm := gorgonia.NewTapeMachine(c.Graph)
		defer vm.Close()
		for _, d := range calib {
			if err := gorgonia.Let(x, d); err != nil {
				return err
			}
			if err := vm.RunAll(); err != nil {
				return err
			}
			vm.Reset()
		}
		return nil
	}
	r1, err := QuantizeGraph(m.g, gorgonia.Nodes{m.y}, eager.DefaultQConfig(), ownLoop)
	must(t, err)
	r2, err := QuantizeGraph(m.g, gorgonia.Nodes{m.y}, eager.DefaultQConfig(), calibrateWith(m.x, calib))
	must(t, err)
	d := batches(43, 1, bs, in)[0]
	want := runResult(t, r2, m.x, d)[0]
	sameBits(t, "own calibration loop", runResult(t, r1, m.x, d)[0], want)

	x, err := r2.Input(m.x)
	must(t, err)
	must(t, gorgonia.Let(x, d))
	lm := gorgonia.NewLispMachine(r2.Graph, gorgonia.ExecuteFwdOnly())
	defer lm.Close()
	must(t, lm.RunAll())
	sameBits(t, "LispMachine", r2.Outputs[0].Value().(*tensor.Dense), want)
}

// Graphs with nothing to quantize, or with odd ops, stay float and compute
// what the original computes.
func TestOddGraphsStayFloat(t *testing.T) {
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(3, 4), gorgonia.WithName("x"))
	v := gorgonia.NewVector(g, tensor.Float32, gorgonia.WithShape(4), gorgonia.WithName("v"), gorgonia.WithValue(tensor.New(tensor.WithShape(4), tensor.WithBacking([]float32{1, -2, 0.5, 3}))))
	c := gorgonia.NewConstant(float32(2), gorgonia.WithName("two"))
	mv := gorgonia.Must(gorgonia.Mul(x, v))                                              // matrix × vector: not a linear layer
	s := gorgonia.Must(gorgonia.Mul(mv, c))                                              // scalar multiply
	y := gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.Sigmoid(s))))                 // scalar output
	xs := gorgonia.Must(gorgonia.Mul(x, gorgonia.Must(gorgonia.Transpose(x))))           // activation × activation
	wx := gorgonia.Must(gorgonia.Mul(param(g, "w", randDense(newRand(46), 1, 2, 3)), x)) // W·X layout
	r, err := QuantizeGraph(g, gorgonia.Nodes{y, xs, wx}, eager.DefaultQConfig(), calibrateWith(x, batches(44, 2, 3, 4)))
	must(t, err)
	if len(r.Report.Quantized) != 0 || len(r.Report.Float) == 0 || r.Report.Quantizes != 0 || r.Report.Dequantizes != 0 {
		t.Fatalf("report:\n%s", r.Describe())
	}
	if !strings.Contains(r.Describe(), "W·X layout") || !strings.Contains(r.Describe(), "two activations") {
		t.Fatalf("report does not explain the float matmuls:\n%s", r.Describe())
	}
	d := batches(45, 1, 3, 4)[0]
	got := runResult(t, r, x, d)
	sameBits(t, "W·X", got[2], runFloat(t, g, x, d, wx)[0])
	want := runFloat(t, g, x, d, xs)[0]
	sameBits(t, "activation × activation", got[1], want)
	vm := gorgonia.NewTapeMachine(g, gorgonia.EvalMode())
	defer vm.Close()
	must(t, gorgonia.Let(x, d))
	must(t, vm.RunAll())
	if got[0].Data().(float32) != y.Value().Data().(float32) {
		t.Fatalf("scalar output %v, want %v", got[0].Data(), y.Value().Data())
	}
}

// A training graph (cost, Grad's backward nodes, a TapeMachine that ran it)
// quantizes the same way: only what the outputs need is read, so backward
// consumers do not break fusion.
func TestQuantizeTrainingGraph(t *testing.T) {
	const bs, in, hid, out = 4, 6, 8, 3
	w1, b1, w2, b2 := mlpWeights(61, in, hid, out)
	m := newMLP(w1, b1, w2, b2, bs, gorgonia.Rectify)
	target := gorgonia.NewMatrix(m.g, tensor.Float32, gorgonia.WithShape(bs, out), gorgonia.WithName("target"))
	cost := gorgonia.Must(gorgonia.Mean(gorgonia.Must(gorgonia.Square(gorgonia.Must(gorgonia.Sub(m.y, target))))))
	var learn gorgonia.Nodes
	for _, n := range m.g.AllNodes() {
		if n.Op() == nil && n.Value() != nil {
			learn = append(learn, n)
		}
	}
	_, err := gorgonia.Grad(cost, learn...)
	must(t, err)
	vm := gorgonia.NewTapeMachine(m.g, gorgonia.BindDualValues(learn...))
	must(t, gorgonia.Let(m.x, batches(62, 1, bs, in)[0]))
	must(t, gorgonia.Let(target, batches(63, 1, bs, out)[0]))
	must(t, vm.RunAll())
	vm.Close()
	r, err := QuantizeGraph(m.g, gorgonia.Nodes{m.y}, eager.DefaultQConfig(), calibrateWith(m.x, batches(64, 2, bs, in)))
	must(t, err)
	if len(r.Report.Quantized) != 2 || r.Report.Quantized[0].Op != "QLinearReLU" || len(r.Report.Float) != 0 {
		t.Fatalf("report:\n%s", r.Describe())
	}
	if _, err := r.Input(target); err == nil {
		t.Fatal("the target input, unused by the outputs, has a counterpart")
	}
}
