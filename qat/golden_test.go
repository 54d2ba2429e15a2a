package qat

import (
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/qgorgonia/qgorgonia/fake"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/internal/golden"
	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The golden file comes from scripts/golden_qat.py (PyTorch 1.13).

type goldenSpec struct {
	Kind                                 string
	Nd, In, Out, Kernel, Stride, Padding int
	Dilation, Groups                     int
	Bias                                 bool
	WFQ                                  string
	Eps, Momentum, LR                    float64
}

type goldenStep struct {
	Mode            string
	X, Out, R       []float32
	Shape, OutShape []int `json:"-"`
	ShapeJ          []int `json:"shape"`
	OutShapeJ       []int `json:"out_shape"`
	Grads, Params   map[string][]float32
	Scale           []float64
	ZeroPoint       []int64   `json:"zero_point"`
	RunningMean     []float32 `json:"running_mean"`
	RunningVar      []float32 `json:"running_var"`
}

type goldenCase struct {
	Name         string
	Spec         goldenSpec
	Params       map[string][]float32
	Steps        []goldenStep
	FoldedWeight []float32 `json:"folded_weight"`
	FoldedBias   []float32 `json:"folded_bias"`
}

func loadGolden(t *testing.T) []goldenCase {
	t.Helper()
	var f struct {
		Torch string
		Cases []goldenCase
	}
	golden.Load(t, "testdata/qat_golden.json", &f)
	if len(f.Cases) == 0 {
		t.Fatal("no golden cases")
	}
	return f.Cases
}

func wfqFactory(name string) (fake.Quantizer, error) {
	switch name {
	case "per_channel":
		return fake.DefaultPerChannelWeightFakeQuant()
	case "per_tensor":
		return fake.DefaultWeightFakeQuant()
	case "fused_per_channel":
		return fake.DefaultFusedPerChannelWtFakeQuant()
	case "fused_per_tensor":
		return fake.DefaultFusedWtFakeQuant()
	}
	return nil, fmt.Errorf("unknown weight fake quant %q", name)
}

func setData(t *testing.T, p *nn.Parameter, v []float32) {
	t.Helper()
	if p == nil || v == nil {
		if (p == nil) != (v == nil) {
			t.Fatalf("parameter presence mismatch (param %v, golden %v)", p != nil, v != nil)
		}
		return
	}
	d := p.Data.Float32s()
	if len(d) != len(v) {
		t.Fatalf("parameter has %d values, golden %d", len(d), len(v))
	}
	copy(d, v)
}

// buildGolden makes the float model of a case as a Sequential, fuses it
// with FuseModulesQAT and converts the fused module with FromFloat.
func buildGolden(t *testing.T, c goldenCase) Module {
	t.Helper()
	s := c.Spec
	var mods []nn.Module
	var first nn.Module
	var w, b *nn.Parameter
	switch s.Kind {
	case "Linear", "LinearReLU", "LinearBn1d":
		l, err := nn.NewLinear(s.In, s.Out, nn.WithBias(s.Bias))
		if err != nil {
			t.Fatal(err)
		}
		first, w, b = l, l.Weight, l.Bias
	default:
		opts := []nn.Option{nn.Stride(s.Stride), nn.Padding(s.Padding), nn.Dilation(s.Dilation), nn.Groups(s.Groups), nn.WithBias(s.Bias)}
		k := []int{s.Kernel}
		var err error
		switch s.Nd {
		case 1:
			var cv *nn.Conv1d
			cv, err = nn.NewConv1d(s.In, s.Out, k, opts...)
			first, w, b = cv, cv.Weight, cv.Bias
		case 2:
			var cv *nn.Conv2d
			cv, err = nn.NewConv2d(s.In, s.Out, k, opts...)
			first, w, b = cv, cv.Weight, cv.Bias
		default:
			var cv *nn.Conv3d
			cv, err = nn.NewConv3d(s.In, s.Out, k, opts...)
			first, w, b = cv, cv.Weight, cv.Bias
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	setData(t, w, c.Params["weight"])
	setData(t, b, c.Params["bias"])
	mods = append(mods, first)
	hasBN := c.Params["bn.weight"] != nil
	if hasBN {
		nd := s.Nd
		if nd == 0 {
			nd = 1
		}
		newBN := map[int]func(int) (*nn.BatchNorm, error){1: nn.NewBatchNorm1d, 2: nn.NewBatchNorm2d, 3: nn.NewBatchNorm3d}[nd]
		bn, err := newBN(s.Out)
		if err != nil {
			t.Fatal(err)
		}
		bn.Eps, bn.Momentum = s.Eps, s.Momentum
		setData(t, bn.Weight, c.Params["bn.weight"])
		setData(t, bn.Bias, c.Params["bn.bias"])
		setData(t, bn.RunningMean, c.Params["bn.running_mean"])
		setData(t, bn.RunningVar, c.Params["bn.running_var"])
		mods = append(mods, bn)
	}
	if len(s.Kind) > 4 && s.Kind[len(s.Kind)-6:len(s.Kind)-2] == "ReLU" || s.Kind == "LinearReLU" {
		mods = append(mods, nn.NewReLU())
	}
	seq, err := nn.NewSequential(mods...)
	if err != nil {
		t.Fatal(err)
	}
	var float nn.Module = first
	if len(mods) > 1 {
		group := make([]string, len(mods))
		for i := range group {
			group[i] = fmt.Sprint(i)
		}
		fused, err := fuse.FuseModulesQAT(seq, [][]string{group}, fuse.InPlace())
		if err != nil {
			t.Fatal(err)
		}
		float = fused.ModuleBase().Child("0")
	}
	wfq, err := wfqFactory(s.WFQ)
	if err != nil {
		t.Fatal(err)
	}
	q, err := FromFloat(float, wfq)
	if err != nil {
		t.Fatal(err)
	}
	if q.TypeName() != s.Kind {
		t.Fatalf("FromFloat(%s) gave %s, want %s", float.TypeName(), q.TypeName(), s.Kind)
	}
	return q
}

// closeTo reports the worst violation of |got − want| ≤ atol·scale + rtol·|want|
// with scale the largest |want|.
func closeTo(got, want []float32, rtol, atol float64) (int, float64, bool) {
	if len(got) != len(want) {
		return -1, 0, false
	}
	var maxW float64
	for _, w := range want {
		maxW = math.Max(maxW, math.Abs(float64(w)))
	}
	maxW = math.Max(maxW, 1)
	worst, idx := 0.0, -1
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		lim := atol*maxW + rtol*math.Abs(float64(want[i]))
		if d > lim && d-lim > worst {
			worst, idx = d-lim, i
		}
	}
	return idx, worst, idx < 0
}

func expectClose(t *testing.T, what string, got, want []float32, rtol, atol float64) {
	t.Helper()
	if idx, _, ok := closeTo(got, want, rtol, atol); !ok {
		if idx < 0 {
			t.Errorf("%s: %d values, want %d", what, len(got), len(want))
			return
		}
		t.Errorf("%s[%d] = %v, want %v", what, idx, got[idx], want[idx])
	}
}

func dense32(shape []int, v []float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float32(nil), v...)))
}

func TestGoldenPyTorch(t *testing.T) {
	for _, c := range loadGolden(t) {
		t.Run(c.Name, func(t *testing.T) { runGolden(t, c) })
	}
}

func runGolden(t *testing.T, c goldenCase) {
	m := buildGolden(t, c)
	var solver gorgonia.Solver
	if c.Spec.LR > 0 {
		solver = gorgonia.NewVanillaSolver(gorgonia.WithLearnRate(c.Spec.LR))
	}
	for si, st := range c.Steps {
		bm, isBN := m.(BNModule)
		switch st.Mode {
		case "freeze":
			bm.FreezeBNStats()
		case "update":
			bm.UpdateBNStats()
		}
		m.ModuleBase().Train(st.Mode != "eval")
		g := gorgonia.NewGraph()
		x := gorgonia.NewTensor(g, tensor.Float32, len(st.ShapeJ), gorgonia.WithShape(st.ShapeJ...), gorgonia.WithName("x"))
		y, err := nn.Call(m, x)
		if err != nil {
			t.Fatalf("step %d: %v", si, err)
		}
		if !y.Shape().Eq(tensor.Shape(st.OutShapeJ)) {
			t.Fatalf("step %d: output shape %v, want %v", si, y.Shape(), st.OutShapeJ)
		}
		r := gorgonia.NewTensor(g, tensor.Float32, len(st.OutShapeJ), gorgonia.WithShape(st.OutShapeJ...), gorgonia.WithValue(dense32(st.OutShapeJ, st.R)))
		prod, err := gorgonia.HadamardProd(y, r)
		if err != nil {
			t.Fatal(err)
		}
		loss, err := gorgonia.Sum(prod)
		if err != nil {
			t.Fatal(err)
		}
		learn := nn.Learnables(m, g)
		if _, err := gorgonia.Grad(loss, learn...); err != nil {
			t.Fatalf("step %d: grad: %v", si, err)
		}
		vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(learn...))
		if err := gorgonia.Let(x, dense32(st.ShapeJ, st.X)); err != nil {
			t.Fatal(err)
		}
		if err := vm.RunAll(); err != nil {
			t.Fatalf("step %d: run: %v", si, err)
		}
		tag := fmt.Sprintf("step %d (%s)", si, st.Mode)
		expectClose(t, tag+" out", y.Value().Data().([]float32), st.Out, 1e-5, 2e-6)
		if os.Getenv("QAT_GOLDEN_REPORT") != "" {
			var worst float64
			for i, v := range y.Value().Data().([]float32) {
				worst = math.Max(worst, math.Abs(float64(v-st.Out[i]))/math.Max(1, math.Abs(float64(st.Out[i]))))
			}
			t.Logf("%s: max output deviation %.3g (relative to max(1,|y|))", tag, worst)
		}
		for _, np := range nn.NamedParametersOf(m) {
			want, ok := st.Grads[np.Name]
			if !ok {
				t.Errorf("%s: PyTorch has no gradient for %s", tag, np.Name)
				continue
			}
			n, err := np.Param.Node(g)
			if err != nil {
				t.Fatal(err)
			}
			gv, err := n.Grad()
			if err != nil {
				t.Fatalf("%s: no gradient for %s: %v", tag, np.Name, err)
			}
			expectClose(t, tag+" grad "+np.Name, gv.Data().([]float32), want, 1e-4, 1e-5)
		}
		qp := m.WeightFakeQuant().QParams()
		if len(qp.Scales) != len(st.Scale) {
			t.Errorf("%s: %d weight scales, want %d", tag, len(qp.Scales), len(st.Scale))
		} else {
			for i := range st.Scale {
				if math.Abs(qp.Scales[i]-st.Scale[i]) > 2e-6*st.Scale[i] || qp.ZeroPoints[i] != st.ZeroPoint[i] {
					t.Errorf("%s: weight qparams[%d] = (%v, %d), want (%v, %d)", tag, i, qp.Scales[i], qp.ZeroPoints[i], st.Scale[i], st.ZeroPoint[i])
				}
			}
		}
		if isBN {
			bn := bm.BN()
			expectClose(t, tag+" running_mean", bn.RunningMean.Data.Float32s(), st.RunningMean, 1e-5, 1e-6)
			expectClose(t, tag+" running_var", bn.RunningVar.Data.Float32s(), st.RunningVar, 1e-5, 1e-6)
		}
		if solver != nil {
			if err := solver.Step(gorgonia.NodesToValueGrads(learn)); err != nil {
				t.Fatal(err)
			}
			for _, np := range nn.NamedParametersOf(m) {
				expectClose(t, tag+" param "+np.Name, np.Param.Data.Float32s(), st.Params[np.Name], 1e-5, 2e-6)
			}
		}
		vm.Close()
	}
	if c.FoldedWeight != nil {
		w, b, err := m.FoldedWeightBias()
		if err != nil {
			t.Fatal(err)
		}
		expectClose(t, "folded weight", w.Float32s(), c.FoldedWeight, 1e-5, 1e-6)
		expectClose(t, "folded bias", b.Float32s(), c.FoldedBias, 1e-5, 1e-6)
	}
}
