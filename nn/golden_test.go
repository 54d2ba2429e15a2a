package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/qgorgonia/qgorgonia/internal/golden"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// goldenTensor is a tensor as scripts/golden_nn.py writes it.
type goldenTensor struct {
	Shape []int     `json:"shape"`
	Dtype string    `json:"dtype"`
	Data  []float64 `json:"data"`
}

func (g goldenTensor) dense() *tensor.Dense {
	shape := g.Shape
	if g.Dtype == "int64" {
		v := make([]int64, len(g.Data))
		for i, x := range g.Data {
			v[i] = int64(x)
		}
		if len(shape) == 0 {
			return tensor.New(tensor.FromScalar(v[0]))
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	v := make([]float32, len(g.Data))
	for i, x := range g.Data {
		v[i] = float32(x)
	}
	if len(shape) == 0 {
		return tensor.New(tensor.FromScalar(v[0]))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

type goldenCase struct {
	Name       string                  `json:"name"`
	Type       string                  `json:"type"`
	Args       map[string]any          `json:"args"`
	Train      bool                    `json:"train"`
	State      map[string]goldenTensor `json:"state"`
	StateAfter map[string]goldenTensor `json:"state_after"`
	Inputs     []goldenTensor          `json:"inputs"`
	Outputs    []goldenTensor          `json:"outputs"`
}

func loadGolden(t *testing.T) []goldenCase {
	t.Helper()
	var f struct {
		Torch string       `json:"torch"`
		Cases []goldenCase `json:"cases"`
	}
	golden.Load(t, "testdata/golden.json", &f)
	return f.Cases
}

func argInts(a map[string]any, k string) []int {
	v, ok := a[k].([]any)
	if !ok {
		return nil
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x.(float64))
	}
	return out
}

func argInt(a map[string]any, k string, def int) int {
	if v, ok := a[k].(float64); ok {
		return int(v)
	}
	return def
}

func argFloat(a map[string]any, k string, def float64) float64 {
	if v, ok := a[k].(float64); ok {
		return v
	}
	return def
}

func argBool(a map[string]any, k string, def bool) bool {
	if v, ok := a[k].(bool); ok {
		return v
	}
	return def
}

// buildGolden constructs the module a golden case describes.
func buildGolden(c goldenCase) (Module, error) {
	a := c.Args
	convOpts := func() []Option {
		opts := []Option{WithBias(argBool(a, "bias", true))}
		if v := argInts(a, "stride"); v != nil {
			opts = append(opts, Stride(v...))
		}
		if v := argInts(a, "padding"); v != nil {
			opts = append(opts, Padding(v...))
		}
		if v := argInts(a, "dilation"); v != nil {
			opts = append(opts, Dilation(v...))
		}
		if v := argInts(a, "output_padding"); v != nil {
			opts = append(opts, OutputPadding(v...))
		}
		if argBool(a, "same", false) {
			opts = append(opts, PaddingSame())
		}
		return append(opts, Groups(argInt(a, "groups", 1)))
	}
	in, out := argInt(a, "in", 0), argInt(a, "out", 0)
	switch c.Type {
	case "Linear":
		return NewLinear(in, out, WithBias(argBool(a, "bias", true)))
	case "Conv1d":
		return NewConv1d(in, out, argInts(a, "kernel"), convOpts()...)
	case "Conv2d":
		return NewConv2d(in, out, argInts(a, "kernel"), convOpts()...)
	case "Conv3d":
		return NewConv3d(in, out, argInts(a, "kernel"), convOpts()...)
	case "ConvTranspose1d":
		return NewConvTranspose1d(in, out, argInts(a, "kernel"), convOpts()...)
	case "ConvTranspose2d":
		return NewConvTranspose2d(in, out, argInts(a, "kernel"), convOpts()...)
	case "ConvTranspose3d":
		return NewConvTranspose3d(in, out, argInts(a, "kernel"), convOpts()...)
	case "BatchNorm1d", "BatchNorm2d", "BatchNorm3d":
		bn, err := newBatchNorm(int(c.Type[9]-'0'), argInt(a, "features", 0))
		if err != nil {
			return nil, err
		}
		if m, ok := a["momentum"]; ok {
			if m == nil {
				bn.CumulativeAverage = true
			} else {
				bn.Momentum = m.(float64)
			}
		}
		bn.Eps = argFloat(a, "eps", 1e-5)
		if !argBool(a, "affine", true) {
			bn.Weight, bn.Bias = nil, nil
		}
		if !argBool(a, "track", true) {
			bn.RunningMean, bn.RunningVar, bn.NumBatchesTracked = nil, nil, nil
		}
		return bn, nil
	case "LayerNorm":
		ln, err := NewLayerNorm(argInts(a, "shape")...)
		if err != nil {
			return nil, err
		}
		ln.Eps = argFloat(a, "eps", 1e-5)
		if !argBool(a, "affine", true) {
			ln.Weight, ln.Bias = nil, nil
		}
		return ln, nil
	case "GroupNorm":
		gn, err := NewGroupNorm(argInt(a, "groups", 0), argInt(a, "channels", 0))
		if err != nil {
			return nil, err
		}
		gn.Eps = argFloat(a, "eps", 1e-5)
		return gn, nil
	case "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d":
		m, err := newInstanceNorm(int(c.Type[12]-'0'), argInt(a, "features", 0), argBool(a, "affine", false))
		if err != nil {
			return nil, err
		}
		if argBool(a, "track", false) {
			m.TrackRunningStats()
		}
		m.Momentum = argFloat(a, "momentum", 0.1)
		return m, nil
	case "ReLU":
		return NewReLU(), nil
	case "ReLU6":
		return NewReLU6(), nil
	case "ELU":
		return NewELU(float32(argFloat(a, "alpha", 1))), nil
	case "LeakyReLU":
		return NewLeakyReLU(float32(argFloat(a, "slope", 0.01))), nil
	case "Hardtanh":
		return NewHardtanh(float32(argFloat(a, "min", -1)), float32(argFloat(a, "max", 1)))
	case "Hardsigmoid":
		return NewHardsigmoid(), nil
	case "Hardswish":
		return NewHardswish(), nil
	case "Sigmoid":
		return NewSigmoid(), nil
	case "Tanh":
		return NewTanh(), nil
	case "MaxPool2d":
		m, err := NewMaxPool2d(argInts(a, "kernel"), Stride(argInts(a, "stride")...), Padding(argInts(a, "padding")...), Dilation(argInts(a, "dilation")...))
		if err != nil {
			return nil, err
		}
		m.CeilMode = argBool(a, "ceil", false)
		return m, nil
	case "AvgPool2d":
		m, err := NewAvgPool2d(argInts(a, "kernel"), Stride(argInts(a, "stride")...), Padding(argInts(a, "padding")...))
		if err != nil {
			return nil, err
		}
		m.CeilMode = argBool(a, "ceil", false)
		m.CountIncludePad = argBool(a, "count_include_pad", true)
		m.DivisorOverride = argInt(a, "divisor", 0)
		return m, nil
	case "AdaptiveAvgPool2d":
		o := argInts(a, "out")
		return NewAdaptiveAvgPool2d(o[0], o[1]), nil
	case "Flatten":
		f := NewFlatten()
		f.StartDim, f.EndDim = argInt(a, "start", 1), argInt(a, "end", -1)
		return f, nil
	case "SequentialCNN":
		conv, err := NewConv2d(1, 4, []int{3}, Padding(1))
		if err != nil {
			return nil, err
		}
		bn, err := NewBatchNorm2d(4)
		if err != nil {
			return nil, err
		}
		pool, err := NewMaxPool2d([]int{2})
		if err != nil {
			return nil, err
		}
		lin, err := NewLinear(36, 5)
		if err != nil {
			return nil, err
		}
		return NewSequential(conv, bn, NewReLU(), pool, NewFlatten(), lin)
	}
	return buildGoldenMore(c)
}

// runGolden builds the case's module, loads its state, runs it on a
// TapeMachine and returns the outputs.
func runGolden(c goldenCase) (Module, []*tensor.Dense, error) {
	m, err := buildGolden(c)
	if err != nil {
		return nil, nil, err
	}
	sd := map[string]*tensor.Dense{}
	for k, v := range c.State {
		sd[k] = v.dense()
	}
	if err := LoadStateDict(m, sd, true); err != nil {
		return nil, nil, err
	}
	m.ModuleBase().Train(c.Train)
	g := gorgonia.NewGraph()
	var ins []*gorgonia.Node
	for i, in := range c.Inputs {
		d := in.dense()
		ins = append(ins, gorgonia.NewTensor(g, d.Dtype(), d.Dims(), gorgonia.WithShape(d.Shape()...), gorgonia.WithValue(d), gorgonia.WithName(fmt.Sprintf("in%d", i))))
	}
	outs, err := forwardGolden(m, ins)
	if err != nil {
		return nil, nil, err
	}
	vals := make([]gorgonia.Value, len(outs))
	for i, o := range outs {
		gorgonia.Read(o, &vals[i])
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return nil, nil, err
	}
	res := make([]*tensor.Dense, len(outs))
	for i, v := range vals {
		d, ok := v.(*tensor.Dense)
		if !ok {
			return nil, nil, fmt.Errorf("output %d is %T", i, v)
		}
		res[i] = d
	}
	return m, res, nil
}

// closeTo reports whether got matches want to rtol 1e-5 with an absolute
// floor of 1e-6·max|want| (float32 sums of differently ordered terms).
func closeTo(got []float32, want []float64) (bool, string) {
	if len(got) != len(want) {
		return false, fmt.Sprintf("length %d, want %d", len(got), len(want))
	}
	scale := 0.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	for i := range got {
		g, w := float64(got[i]), want[i]
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if math.Abs(g-w) > 1e-5*math.Abs(w)+1e-6*math.Max(scale, 1) {
			return false, fmt.Sprintf("element %d: got %.9g want %.9g", i, g, w)
		}
	}
	return true, ""
}

func TestGoldenForward(t *testing.T) {
	for _, c := range loadGolden(t) {
		t.Run(c.Name, func(t *testing.T) {
			m, outs, err := runGolden(c)
			if err != nil {
				t.Fatal(err)
			}
			if len(outs) != len(c.Outputs) {
				t.Fatalf("%d outputs, want %d", len(outs), len(c.Outputs))
			}
			for i, o := range outs {
				if !o.Shape().Eq(tensor.Shape(c.Outputs[i].Shape)) && !(len(c.Outputs[i].Shape) == 0 && o.Shape().IsScalarEquiv()) {
					t.Fatalf("output %d shape %v, want %v", i, o.Shape(), c.Outputs[i].Shape)
				}
				if ok, msg := closeTo(o.Float32s(), c.Outputs[i].Data); !ok {
					t.Errorf("output %d: %s", i, msg)
				}
			}
			// Running the graph must leave parameters untouched (no
			// in-place op may write into a bound parameter).
			for k, v := range c.State {
				if _, ok := c.StateAfter[k]; ok || v.Dtype == "int64" {
					continue
				}
				if ok, msg := closeTo(StateDict(m)[k].Float32s(), v.Data); !ok {
					t.Errorf("parameter %q changed by the run: %s", k, msg)
				}
			}
			if c.StateAfter != nil {
				sd := StateDict(m)
				for k, want := range c.StateAfter {
					got, ok := sd[k]
					if !ok {
						t.Fatalf("state after: missing %q", k)
					}
					if want.Dtype == "int64" {
						if got.Data().(int64) != int64(want.Data[0]) {
							t.Errorf("state after %q: %v, want %v", k, got.Data(), want.Data)
						}
						continue
					}
					if ok, msg := closeTo(got.Float32s(), want.Data); !ok {
						t.Errorf("state after %q: %s", k, msg)
					}
				}
			}
		})
	}
}
