package eager

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/internal/golden"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/observer"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Golden vectors from scripts/golden_eager.py (PyTorch 1.13, onednn).
type goldenTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

func (g goldenTensor) dense() *tensor.Dense {
	v := make([]float32, len(g.Data))
	for i, x := range g.Data {
		v[i] = float32(x)
	}
	return tensor.New(tensor.WithShape(g.Shape...), tensor.WithBacking(v))
}

type goldenFile struct {
	Static []struct {
		QConfig   string                  `json:"qconfig"`
		StateDict map[string]goldenTensor `json:"state_dict"`
		Batches   []goldenTensor          `json:"batches"`
		X         goldenTensor            `json:"x"`
		QParams   map[string][]float64    `json:"qparams"`
		Q         struct {
			Shape     []int   `json:"shape"`
			Data      []int64 `json:"data"`
			Scale     float64 `json:"scale"`
			ZeroPoint int64   `json:"zero_point"`
		} `json:"q"`
	} `json:"static"`
	Dynamic struct {
		StateDict map[string]goldenTensor `json:"state_dict"`
		X         goldenTensor            `json:"x"`
		YOut      goldenTensor            `json:"y"`
	} `json:"dynamic"`
	GRU struct {
		StateDict map[string]goldenTensor `json:"state_dict"`
		X         goldenTensor            `json:"x"`
		Y         goldenTensor            `json:"y"`
		H         goldenTensor            `json:"h"`
	} `json:"gru"`
	Memoryless struct {
		StateDict map[string]goldenTensor `json:"state_dict"`
		Batches   []goldenTensor          `json:"batches"`
		QParams   map[string][]float64    `json:"qparams"`
	} `json:"memoryless"`
}

// goldenStatic mirrors the PyTorch model of the script: a user module with
// a FloatFunctional residual add, saved through RegisterCodec.
type goldenStatic struct {
	nn.Base
	nn.Stateless
}

func (m *goldenStatic) TypeName() string { return "GoldenStatic" }
func (m *goldenStatic) Clone() nn.Module { return &goldenStatic{Base: m.CloneBase()} }

func (m *goldenStatic) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	call := func(name string, x *gorgonia.Node) (*gorgonia.Node, error) { return nn.Call(m.Child(name), x) }
	var err error
	for _, n := range []string{"quant", "conv", "bn", "relu"} {
		if x, err = call(n, x); err != nil {
			return nil, err
		}
	}
	y, err := call("conv2", x)
	if err != nil {
		return nil, err
	}
	if y, err = call("hs", y); err != nil {
		return nil, err
	}
	adder, ok := m.Child("ff").(interface {
		Add(a, b *gorgonia.Node) (*gorgonia.Node, error)
	})
	if !ok {
		return nil, fmt.Errorf("ff is %T", m.Child("ff"))
	}
	if x, err = adder.Add(x, y); err != nil {
		return nil, err
	}
	for _, n := range []string{"ln", "pool", "flat", "fc", "dequant"} {
		if x, err = call(n, x); err != nil {
			return nil, err
		}
	}
	return x, nil
}

func newGoldenStatic(t *testing.T) *goldenStatic {
	m := &goldenStatic{}
	conv, _ := nn.NewConv2d(2, 4, []int{3}, nn.Padding(1))
	bn, _ := nn.NewBatchNorm2d(4)
	conv2, _ := nn.NewConv2d(4, 4, []int{1})
	ln, _ := nn.NewLayerNorm(4, 6, 6)
	pool, _ := nn.NewAvgPool2d([]int{2})
	fc, _ := nn.NewLinear(36, 5)
	for _, c := range []nn.Child{{Name: "quant", Module: NewQuantStub(nil)}, {Name: "conv", Module: conv}, {Name: "bn", Module: bn},
		{Name: "relu", Module: nn.NewReLU()}, {Name: "conv2", Module: conv2}, {Name: "hs", Module: nn.NewHardswish()},
		{Name: "ff", Module: nn.NewFloatFunctional()}, {Name: "ln", Module: ln}, {Name: "pool", Module: pool},
		{Name: "flat", Module: nn.NewFlatten()}, {Name: "fc", Module: fc}, {Name: "dequant", Module: NewDeQuantStub(nil)}} {
		must(t, m.AddModule(c.Name, c.Module))
	}
	return m
}

func loadGolden(t *testing.T) *goldenFile {
	t.Helper()
	var g goldenFile
	golden.Load(t, "testdata/golden_eager.json", &g)
	return &g
}

func TestGoldenStatic(t *testing.T) {
	RegisterCodec("GoldenStatic", Codec{
		Encode: func(nn.Module, *Record) error { return nil },
		Decode: func(_ *Record, children []nn.Child) (nn.Module, error) { return addChildren(&goldenStatic{}, children) },
	})
	g := loadGolden(t)
	for _, c := range g.Static {
		t.Run(c.QConfig, func(t *testing.T) {
			m := newGoldenStatic(t)
			sd := map[string]*tensor.Dense{}
			for k, v := range c.StateDict {
				sd[k] = v.dense()
			}
			must(t, nn.LoadStateDict(m, sd, false))
			nn.Eval(m)
			f, err := fuse.FuseModules(m, [][]string{{"conv", "bn", "relu"}})
			must(t, err)
			qc := DefaultQConfig()
			if c.QConfig == "per_channel" {
				qc = DefaultPerChannelQConfig()
			}
			f.ModuleBase().QConfig = qc
			p, err := Prepare(f)
			must(t, err)
			for _, b := range c.Batches {
				_, err := Run(p, b.dense())
				must(t, err)
			}
			q, err := Convert(p)
			must(t, err)
			var buf bytes.Buffer
			must(t, Save(&buf, q))
			q, err = Load(&buf)
			must(t, err)
			for name, want := range c.QParams {
				mod := q.ModuleBase().Child(name)
				var s float64
				var z int64
				switch v := mod.(type) {
				case *nodes.QuantizeModule:
					s, z = v.QParams.Scale(), v.QParams.ZeroPoint()
				case *nodes.QuantizedConv:
					s, z = v.Scale, v.ZeroPoint
				case *nodes.QuantizedLinear:
					s, z = v.Scale, v.ZeroPoint
				case *nodes.QuantizedActivation:
					s, z = v.Scale, v.ZeroPoint
				case *nodes.QuantizedNorm:
					s, z = v.Scale, v.ZeroPoint
				case *nodes.QFunctional:
					s, z = v.Scale, v.ZeroPoint
				default:
					t.Fatalf("%s converted to %T", name, mod)
				}
				if math.Abs(s-want[0]) > 1e-5*want[0] || z != int64(want[1]) {
					t.Errorf("%s: qparams (%v, %d), PyTorch (%v, %v)", name, s, z, want[0], want[1])
				}
			}
			got, _ := quantizedBeforeDequant(t, q, c.X.dense())
			if gs, _ := got.QScale(); math.Abs(gs-c.Q.Scale) > 1e-5*c.Q.Scale {
				t.Errorf("output scale %v, PyTorch %v", gs, c.Q.Scale)
			}
			off := 0
			for i, v := range got.Ints() {
				d := v - c.Q.Data[i]
				if d < -1 || d > 1 {
					t.Fatalf("code %d: %d, PyTorch %d", i, v, c.Q.Data[i])
				}
				if d != 0 {
					off++
				}
			}
			if off > len(c.Q.Data)/5+2 {
				t.Errorf("%d of %d codes differ by 1 LSB", off, len(c.Q.Data))
			}
			t.Logf("%d of %d codes differ by 1 LSB", off, len(c.Q.Data))
		})
	}
}

func TestGoldenDynamic(t *testing.T) {
	g := loadGolden(t)
	l1, _ := nn.NewLinear(5, 6)
	gru, _ := nn.NewGRUCell(6, 4)
	rnn, _ := nn.NewRNNCell(4, 4, "relu")
	l2, _ := nn.NewLinear(4, 3)
	m, _ := nn.NewSequential(l1, gru, rnn, l2)
	sd := map[string]*tensor.Dense{}
	for k, v := range g.Dynamic.StateDict {
		sd[k] = v.dense()
	}
	must(t, nn.LoadStateDict(m, sd, true))
	q, err := QuantizeDynamic(m, DynamicSpec{})
	must(t, err)
	y, err := Run(q, g.Dynamic.X.dense())
	must(t, err)
	want := g.Dynamic.YOut.Data
	var max float64
	for _, v := range want {
		max = math.Max(max, math.Abs(v))
	}
	for i, v := range y.Float32s() {
		if math.Abs(float64(v)-want[i]) > 1e-4*max {
			t.Errorf("y[%d] = %v, PyTorch %v", i, v, want[i])
		}
	}
}

// A 2-layer bidirectional GRU through QuantizeDynamic against nnqd.GRU.
func TestGoldenDynamicGRU(t *testing.T) {
	g := loadGolden(t)
	gru, err := nn.NewGRU(5, 6, 2, true)
	must(t, err)
	m, _ := nn.NewSequential(gru)
	sd := map[string]*tensor.Dense{}
	for k, v := range g.GRU.StateDict {
		sd[k] = v.dense()
	}
	must(t, nn.LoadStateDict(m, sd, true))
	q, err := QuantizeDynamic(m, DynamicSpec{})
	must(t, err)
	if _, ok := q.ModuleBase().Children()[0].Module.(*nodes.DynamicQuantizedGRU); !ok {
		t.Fatalf("GRU converted to %T", q.ModuleBase().Children()[0].Module)
	}
	q = roundTrip(t, q)
	dq, ok := q.ModuleBase().Children()[0].Module.(*nodes.DynamicQuantizedGRU)
	if !ok {
		t.Fatalf("GRU loaded as %T", q.ModuleBase().Children()[0].Module)
	}
	gr := gorgonia.NewGraph()
	x := gorgonia.NewTensor(gr, tensor.Float32, 3, gorgonia.WithShape(g.GRU.X.Shape...), gorgonia.WithValue(g.GRU.X.dense()))
	out, hn, err := dq.ForwardState(x, nil)
	must(t, err)
	vm := gorgonia.NewTapeMachine(gr)
	defer vm.Close()
	must(t, vm.RunAll())
	for _, c := range []struct {
		name string
		got  []float32
		want []float64
	}{{"output", out.Value().Data().([]float32), g.GRU.Y.Data}, {"h_n", hn.Value().Data().([]float32), g.GRU.H.Data}} {
		var max float64
		for _, v := range c.want {
			max = math.Max(max, math.Abs(v))
		}
		if len(c.got) != len(c.want) {
			t.Fatalf("%s: %d values, PyTorch %d", c.name, len(c.got), len(c.want))
		}
		for i, v := range c.got {
			if math.Abs(float64(v)-c.want[i]) > 1e-5*max {
				t.Errorf("%s[%d] = %v, PyTorch %v", c.name, i, v, c.want[i])
			}
		}
	}
}

// Memoryless observers (averaging constant 1): a plain Linear observes its
// input, the fused LinearReLU its input and then its output, as in PyTorch.
func TestGoldenMemoryless(t *testing.T) {
	g := loadGolden(t).Memoryless
	l1, _ := nn.NewLinear(4, 5)
	l2, _ := nn.NewLinear(5, 3)
	m, _ := nn.NewSequential(NewQuantStub(nil), l1, nn.NewReLU(), l2, NewDeQuantStub(nil))
	sd := map[string]*tensor.Dense{}
	for k, v := range g.StateDict {
		sd[k] = v.dense()
	}
	must(t, nn.LoadStateDict(m, sd, true))
	nn.Eval(m)
	f, err := fuse.FuseModules(m, [][]string{{"1", "2"}})
	must(t, err)
	f.ModuleBase().QConfig = &QConfig{
		Activation: ObserverFactory(observer.WithArgs(observer.NewMovingAverageMinMaxObserver, observer.WithAveragingConstant(1))),
		Weight:     ObserverFactory(observer.DefaultWeightObserver)}
	p, err := Prepare(f)
	must(t, err)
	for _, b := range g.Batches {
		_, err := Run(p, b.dense())
		must(t, err)
	}
	for path, want := range g.QParams {
		mod, err := nn.Get(p, path)
		must(t, err)
		qp, err := OutputQParams(mod)
		must(t, err)
		if math.Abs(qp.Scale()-want[0]) > 1e-6*want[0] || qp.ZeroPoint() != int64(want[1]) {
			t.Errorf("%s: (%v, %d), PyTorch (%v, %v)", path, qp.Scale(), qp.ZeroPoint(), want[0], want[1])
		}
	}
}
