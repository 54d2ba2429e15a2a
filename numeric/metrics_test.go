package numeric_test

import (
	"math"
	"testing"

	"github.com/qgorgonia/qgorgonia/numeric"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.12g, want %.12g (±%g)", what, got, want, tol)
	}
}

// TestMetricsHandComputed checks the metric functions on x = (1, 2, 3, 4),
// y = (1, 2, 3, 5): Σx² = 30, Σ(x−y)² = 1, Σxy = 34, Σy² = 39.
// PyTorch 1.13's compute_sqnr gives 14.7712125778 and
// compute_cosine_similarity 0.9939991236 on the same tensors (float32 sums).
func TestMetricsHandComputed(t *testing.T) {
	x := []float32{1, 2, 3, 4}
	y := []float32{1, 2, 3, 5}
	s, err := numeric.SQNR(x, y)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "SQNR", s, 10*math.Log10(30), 1e-12)
	near(t, "SQNR vs PyTorch", s, 14.7712125778, 1e-6)
	c, err := numeric.CosineSimilarity(x, y)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "cosine", c, 34/math.Sqrt(30*39), 1e-12)
	near(t, "cosine vs PyTorch", c, 0.9939991236, 1e-7)
	ma, err := numeric.MaxAbsError(x, y)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "max abs", ma, 1, 0)
	me, err := numeric.MeanAbsError(x, y)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "mean abs", me, 0.25, 0)

	if s, _ := numeric.SQNR(x, x); !math.IsInf(s, 1) {
		t.Errorf("SQNR of identical slices = %v, want +Inf", s)
	}
	if s, _ := numeric.SQNR([]float32{0, 0}, []float32{0, 1}); !math.IsInf(s, -1) {
		t.Errorf("SQNR of a zero reference = %v, want -Inf", s)
	}
	if c, _ := numeric.CosineSimilarity([]float32{1, 0}, []float32{0, 1}); c != 0 {
		t.Errorf("cosine of orthogonal vectors = %v", c)
	}
	if c, _ := numeric.CosineSimilarity([]float32{1, 2}, []float32{-2, -4}); math.Abs(c+1) > 1e-12 {
		t.Errorf("cosine of opposite vectors = %v", c)
	}
}

func TestMetricsErrors(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name string
		x, y []float32
	}{
		{"empty", nil, nil},
		{"lengths", []float32{1, 2}, []float32{1}},
		{"nan x", []float32{nan}, []float32{1}},
		{"inf y", []float32{1}, []float32{float32(math.Inf(1))}},
	} {
		if _, err := numeric.SQNR(tc.x, tc.y); err == nil {
			t.Errorf("%s: SQNR: no error", tc.name)
		}
		if _, err := numeric.CosineSimilarity(tc.x, tc.y); err == nil {
			t.Errorf("%s: cosine: no error", tc.name)
		}
		if _, err := numeric.MaxAbsError(tc.x, tc.y); err == nil {
			t.Errorf("%s: max abs: no error", tc.name)
		}
		if _, err := numeric.MeanAbsError(tc.x, tc.y); err == nil {
			t.Errorf("%s: mean abs: no error", tc.name)
		}
	}
}

// TestCompareTensorsHandComputed quantizes x = (−1, 0, 0.5, 3) to quint8
// with scale 0.01, zero point 128: codes (28, 128, 178, 255), the last one
// saturated; the representable range is [−1.28, 1.27] so 3 is clipped and
// dequantizes to f32(127·f32(0.01)) = 1.2699999809.
func TestCompareTensorsHandComputed(t *testing.T) {
	x := tensor.New(tensor.WithShape(4), tensor.WithBacking([]float32{-1, 0, 0.5, 3}))
	qp := qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.01, 128)
	q, err := qtensor.Quantize(x, qp)
	if err != nil {
		t.Fatal(err)
	}
	m, err := numeric.CompareTensors(x, q)
	if err != nil {
		t.Fatal(err)
	}
	y3 := float64(float32(127 * float32(0.01)))
	e := 3 - y3
	near(t, "SQNR", m.SQNR, 10*math.Log10(10.25/(e*e)), 1e-9)
	near(t, "SQNR literal", m.SQNR, 5.346316495578703, 1e-9)
	near(t, "max abs", m.MaxAbsErr, 1.7300000190734863, 1e-12)
	near(t, "mean abs", m.MeanAbsErr, 0.4325000047683716, 1e-12)
	near(t, "cosine", m.Cosine, 0.9340830548404844, 1e-12)
	if !m.Quantized || m.N != 4 {
		t.Fatalf("Quantized %v N %d", m.Quantized, m.N)
	}
	near(t, "sat low", m.SatLow, 0, 0)
	near(t, "sat high", m.SatHigh, 0.25, 0)
	near(t, "clipped", m.Clipped, 0.25, 0)
	near(t, "range lo", m.RangeLo, -128*float64(float32(0.01)), 1e-12)
	near(t, "range hi", m.RangeHi, 127*float64(float32(0.01)), 1e-12)

	lo, hi, err := numeric.SaturatedFraction(q)
	if err != nil || lo != 0 || hi != 0.25 {
		t.Fatalf("SaturatedFraction = %v, %v, %v; want 0, 0.25", lo, hi, err)
	}

	// A value just inside the half step above the top code is not clipped.
	x2 := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{1.274, -1.3}))
	q2, err := qtensor.Quantize(x2, qp)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := numeric.CompareTensors(x2, q2)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "clipped 2", m2.Clipped, 0.5, 0)
	near(t, "sat low 2", m2.SatLow, 0.5, 0)
	near(t, "sat high 2", m2.SatHigh, 0.5, 0)
}

// TestCompareTensorsPerChannel: a per-channel qint8 weight (2, 2) with
// scales (0.1, 1) along axis 0; 20 in channel 0 is beyond 127·0.1 and
// clipped, the same value in channel 1 is not.
func TestCompareTensorsPerChannel(t *testing.T) {
	x := tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{20, 1, 20, 1}))
	qp, err := qdtype.PerChannel(qdtype.QInt8Dtype, []float64{0.1, 1}, []int64{0, 0}, 0)
	if err != nil {
		t.Fatal(err)
	}
	q, err := qtensor.Quantize(x, qp)
	if err != nil {
		t.Fatal(err)
	}
	m, err := numeric.CompareTensors(x, q)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "clipped", m.Clipped, 0.25, 0)
	near(t, "sat high", m.SatHigh, 0.25, 0)
	near(t, "range lo", m.RangeLo, -128, 1e-12)
	near(t, "range hi", m.RangeHi, 127, 1e-12)
}

func TestCompareTensorsErrors(t *testing.T) {
	x := tensor.New(tensor.WithShape(3), tensor.WithBacking([]float32{1, 2, 3}))
	q, err := qtensor.Quantize(tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{1, 2})), qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := numeric.CompareTensors(x, q); err == nil {
		t.Error("shape mismatch: no error")
	}
	if _, err := numeric.CompareTensors(nil, q); err == nil {
		t.Error("nil reference: no error")
	}
	xi := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{1, 2}))
	if _, err := numeric.CompareTensors(xi, q); err == nil {
		t.Error("float64 reference: no error")
	}
	if _, _, err := numeric.SaturatedFraction(nil); err == nil {
		t.Error("SaturatedFraction(nil): no error")
	}
}
