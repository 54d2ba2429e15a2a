package numeric_test

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/qgorgonia/qgorgonia/numeric"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// golden is testdata/golden_metrics.json, written by
// scripts/golden_numeric.py with PyTorch 1.13.
type golden struct {
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

func loadGolden(t *testing.T) *golden {
	t.Helper()
	raw, err := os.ReadFile("testdata/golden_metrics.json")
	must(t, err)
	var g golden
	must(t, json.Unmarshal(raw, &g))
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
