package numeric_test

import (
	"math"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/internal/golden"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/numeric"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// goldenFile is testdata/golden_metrics.json, written by
// scripts/golden_numeric.py with PyTorch 1.13.
type goldenFile struct {
	Torch string `json:"torch"`
	Pairs []struct {
		X, Y         []float32
		SQNR, Cosine float64
		MaxAbs       float64 `json:"max_abs"`
		MeanAbs      float64 `json:"mean_abs"`
	} `json:"pairs"`
	Quant []struct {
		Scheme, Dtype string
		Shape         []int
		Scales        []float64
		ZeroPoints    []int64 `json:"zero_points"`
		Axis          int
		X             []float32
		Codes         []int64
		Dequantized   []float32
		SQNR          float64
		SatLow        float64 `json:"sat_low"`
		SatHigh       float64 `json:"sat_high"`
	} `json:"quant"`
}

func loadGolden(t *testing.T) *goldenFile {
	t.Helper()
	var g goldenFile
	golden.Load(t, "testdata/golden_metrics.json", &g)
	if len(g.Pairs) == 0 || len(g.Quant) == 0 {
		t.Fatal("empty golden file")
	}
	return &g
}

func relNear(t *testing.T, what string, got, want, rel float64) {
	t.Helper()
	if math.Abs(got-want) > rel*math.Max(math.Abs(want), 1) {
		t.Errorf("%s = %.10g, PyTorch %.10g (rel tol %g)", what, got, want, rel)
	}
}

// TestGoldenMetrics compares the metrics with PyTorch's compute_sqnr and
// compute_cosine_similarity, which reduce in float32 (ours in float64):
// they agree to about 1e-6 relative.
func TestGoldenMetrics(t *testing.T) {
	g := loadGolden(t)
	for i, p := range g.Pairs {
		s, err := numeric.SQNR(p.X, p.Y)
		must(t, err)
		relNear(t, "sqnr", s, p.SQNR, 1e-5)
		c, err := numeric.CosineSimilarity(p.X, p.Y)
		must(t, err)
		relNear(t, "cosine", c, p.Cosine, 1e-6)
		ma, err := numeric.MaxAbsError(p.X, p.Y)
		must(t, err)
		relNear(t, "max abs", ma, p.MaxAbs, 1e-6)
		me, err := numeric.MeanAbsError(p.X, p.Y)
		must(t, err)
		relNear(t, "mean abs", me, p.MeanAbs, 1e-5)
		if t.Failed() {
			t.Fatalf("pair %d (n = %d)", i, len(p.X))
		}
	}
}

// TestGoldenQuantized quantizes PyTorch's tensors with qtensor (the codes
// must match torch.quantize_per_*'s int_repr), then checks CompareTensors'
// saturation fractions exactly and its SQNR against compute_sqnr.
func TestGoldenQuantized(t *testing.T) {
	g := loadGolden(t)
	for i, c := range g.Quant {
		dt, err := qdtype.ParseDtype(c.Dtype)
		must(t, err)
		var qp qdtype.QParams
		if c.Scheme == "per_tensor" {
			qp, err = qdtype.PerTensor(dt, c.Scales[0], c.ZeroPoints[0])
		} else {
			qp, err = qdtype.PerChannel(dt, c.Scales, c.ZeroPoints, c.Axis)
		}
		must(t, err)
		x := tensor.New(tensor.WithShape(c.Shape...), tensor.WithBacking(c.X))
		q, err := qtensor.Quantize(x, qp)
		must(t, err)
		for j, v := range q.Ints() {
			if v != c.Codes[j] {
				t.Fatalf("case %d: code %d = %d, PyTorch %d", i, j, v, c.Codes[j])
			}
		}
		m, err := numeric.CompareTensors(x, q)
		must(t, err)
		if m.SatLow != c.SatLow || m.SatHigh != c.SatHigh {
			t.Errorf("case %d (%s %s): saturated %v/%v, PyTorch %v/%v", i, c.Scheme, c.Dtype, m.SatLow, m.SatHigh, c.SatLow, c.SatHigh)
		}
		relNear(t, "sqnr", m.SQNR, c.SQNR, 1e-5)
		s, err := numeric.SQNR(c.X, c.Dequantized)
		must(t, err)
		if s != m.SQNR {
			t.Errorf("case %d: SQNR of PyTorch's dequantized values %.12g, of ours %.12g", i, s, m.SQNR)
		}
	}
}

type goldenTensor struct {
	Shape []int
	Data  []float32
}

func (g goldenTensor) dense() *tensor.Dense {
	return tensor.New(tensor.WithShape(g.Shape...), tensor.WithBacking(append([]float32(nil), g.Data...)))
}

// TestGoldenSuite runs the suite on the MLP of scripts/golden_numeric.py
// (QuantStub, Linear(8, 16), ReLU, Linear(16, 4), DeQuantStub; fused
// Linear+ReLU; default_qconfig; PyTorch's weights and batches) and
// compares every SQNR with compute_sqnr of PyTorch 1.13's compare_weights,
// compare_model_outputs and compare_model_stub entries. The quantized models
// agree bit for bit, so the SQNRs differ only by PyTorch's float32 norms.
// The shadow golden uses a ShadowLogger that keeps whole outputs; PyTorch's
// own keeps only the first sample of a batch, which is checked too.
func TestGoldenSuite(t *testing.T) {
	var g struct {
		State                    map[string]goldenTensor
		Calib, Data              goldenTensor
		Weights, Outputs, Shadow map[string]float64
		ShadowFirst              map[string]float64 `json:"shadow_first_sample"`
	}
	golden.Load(t, "testdata/golden_suite.json", &g)
	l1, err := nn.NewLinear(8, 16)
	must(t, err)
	l2, err := nn.NewLinear(16, 4)
	must(t, err)
	m, err := nn.NewSequential(eager.NewQuantStub(nil), l1, nn.NewReLU(), l2, eager.NewDeQuantStub(nil))
	must(t, err)
	sd := map[string]*tensor.Dense{}
	for k, v := range g.State {
		sd[k] = v.dense()
	}
	must(t, nn.LoadStateDict(m, sd, true))
	nn.Eval(m)
	fused, err := fuse.FuseModules(m, [][]string{{"1", "2"}})
	must(t, err)
	fused.ModuleBase().QConfig = eager.DefaultQConfig()
	prepared, err := eager.Prepare(fused)
	must(t, err)
	_, err = eager.Run(prepared, g.Calib.dense())
	must(t, err)
	quant, err := eager.Convert(prepared)
	must(t, err)
	in := []*tensor.Dense{g.Data.dense()}

	w, err := numeric.CompareWeights(fused, quant)
	must(t, err)
	o, err := numeric.CompareModelOutputs(fused, quant, in)
	must(t, err)
	s, err := numeric.CompareModelStub(fused, quant, in, numeric.WithTypes("Linear", "LinearReLU"))
	must(t, err)
	// PyTorch's own ShadowLogger keeps only the first sample of a batched
	// output (x = x[0] when len(x) > 1): our shadow of that sample alone.
	first := tensor.New(tensor.WithShape(1, g.Data.Shape[1]), tensor.WithBacking(append([]float32(nil), g.Data.Data[:g.Data.Shape[1]]...)))
	s1, err := numeric.CompareModelStub(fused, quant, []*tensor.Dense{first}, numeric.WithTypes("Linear", "LinearReLU"))
	must(t, err)
	for _, c := range []struct {
		name string
		cmp  *numeric.Comparison
		want map[string]float64
	}{{"weights", w, g.Weights}, {"outputs", o, g.Outputs}, {"shadow", s, g.Shadow}, {"shadow, first sample", s1, g.ShadowFirst}} {
		if len(c.want) == 0 {
			t.Fatalf("%s: empty golden", c.name)
		}
		for name, want := range c.want {
			l := c.cmp.Layer(name)
			if l == nil {
				t.Errorf("%s: no layer %s (have %v)", c.name, name, names(c.cmp.Layers))
				continue
			}
			if math.Abs(l.Metrics.SQNR-want) > 1e-3 {
				t.Errorf("%s %s: SQNR %.6f dB, PyTorch %.6f dB", c.name, name, l.Metrics.SQNR, want)
			}
		}
	}
	if got := strings.Join(names(s.Layers), ","); got != "1,3" {
		t.Errorf("shadow layers %s, want 1,3 (PyTorch's module_swap_list {Linear, LinearReLU})", got)
	}
}
