package observer

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/qgorgonia/qgorgonia/internal/golden"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// num reads a golden float ("inf", "-inf", "nan" or a number).
type num = golden.Num

type goldenTensor struct {
	Shape []int `json:"shape"`
	Data  []num `json:"data"`
}

func (g goldenTensor) dense() *tensor.Dense {
	data := make([]float32, len(g.Data))
	for i, v := range g.Data {
		data[i] = float32(v)
	}
	if len(g.Shape) == 0 {
		return tensor.New(tensor.FromScalar(data[0]))
	}
	return tensor.New(tensor.WithShape(g.Shape...), tensor.WithBacking(data))
}

func (g goldenTensor) f32() []float32 {
	out := make([]float32, len(g.Data))
	for i, v := range g.Data {
		out[i] = float32(v)
	}
	return out
}

type goldenCase struct {
	Kind    string                     `json:"kind"`
	Kwargs  map[string]json.RawMessage `json:"kwargs"`
	Batches []goldenTensor             `json:"batches"`
	Expect  struct {
		Scale     []num        `json:"scale"`
		ZeroPoint []int64      `json:"zero_point"`
		MinVal    goldenTensor `json:"min_val"`
		MaxVal    goldenTensor `json:"max_val"`
		Histogram []num        `json:"histogram"`
	} `json:"expect"`
}

func loadGolden(t *testing.T) []goldenCase {
	t.Helper()
	var f struct {
		Cases []goldenCase `json:"cases"`
	}
	golden.Load(t, "testdata/observers.json", &f)
	return f.Cases
}

// options turns PyTorch kwargs into observer options.
func options(t *testing.T, kw map[string]json.RawMessage) []Option {
	t.Helper()
	var opts []Option
	var qmin, qmax *int64
	for k, raw := range kw {
		var s string
		var f float64
		switch k {
		case "dtype":
			_ = json.Unmarshal(raw, &s)
			dt, err := qdtype.ParseDtype(s)
			if err != nil {
				t.Fatal(err)
			}
			opts = append(opts, WithDtype(dt))
		case "qscheme":
			_ = json.Unmarshal(raw, &s)
			sch, err := qdtype.ParseQScheme(s)
			if err != nil {
				t.Fatal(err)
			}
			opts = append(opts, WithQScheme(sch))
		case "reduce_range":
			var b bool
			_ = json.Unmarshal(raw, &b)
			opts = append(opts, WithReduceRange(b))
		case "quant_min", "quant_max":
			_ = json.Unmarshal(raw, &f)
			v := int64(f)
			if k == "quant_min" {
				qmin = &v
			} else {
				qmax = &v
			}
		case "eps":
			_ = json.Unmarshal(raw, &f)
			opts = append(opts, WithEps(float32(f)))
		case "averaging_constant":
			_ = json.Unmarshal(raw, &f)
			opts = append(opts, WithAveragingConstant(float32(f)))
		case "ch_axis":
			_ = json.Unmarshal(raw, &f)
			opts = append(opts, WithChAxis(int(f)))
		case "bins":
			_ = json.Unmarshal(raw, &f)
			opts = append(opts, WithBins(int(f)))
		case "upsample_rate":
			_ = json.Unmarshal(raw, &f)
			opts = append(opts, WithUpsampleRate(int(f)))
		default:
			t.Fatalf("unknown kwarg %q", k)
		}
	}
	if qmin != nil && qmax != nil {
		opts = append(opts, WithQuantRange(*qmin, *qmax))
	}
	return opts
}

func newByKind(kind string, opts ...Option) (Observer, error) {
	switch kind {
	case KindMinMax:
		return NewMinMaxObserver(opts...)
	case KindMovingAverageMinMax:
		return NewMovingAverageMinMaxObserver(opts...)
	case KindPerChannelMinMax:
		return NewPerChannelMinMaxObserver(opts...)
	case KindMovingAveragePerChannelMinMax:
		return NewMovingAveragePerChannelMinMaxObserver(opts...)
	case KindHistogram:
		return NewHistogramObserver(opts...)
	}
	return nil, fmt.Errorf("unknown kind %s", kind)
}

func closeRel(got, want float64, rel, abs float64) bool {
	if math.IsInf(want, 0) || math.IsNaN(want) {
		return got == want || (math.IsNaN(got) && math.IsNaN(want))
	}
	return math.Abs(got-want) <= rel*math.Abs(want)+abs
}

func TestGoldenPyTorch(t *testing.T) {
	for i, c := range loadGolden(t) {
		c := c
		t.Run(fmt.Sprintf("%d_%s", i, c.Kind), func(t *testing.T) {
			o, err := newByKind(c.Kind, options(t, c.Kwargs)...)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range c.Batches {
				if err := o.Observe(b.dense()); err != nil {
					t.Fatal(err)
				}
			}
			qp, err := o.CalculateQParams()
			if err != nil {
				t.Fatal(err)
			}
			rel := 1e-6
			if c.Kind == KindHistogram {
				rel = 1e-5
			}
			if len(qp.Scales) != len(c.Expect.Scale) {
				t.Fatalf("%d scales, want %d", len(qp.Scales), len(c.Expect.Scale))
			}
			for j := range qp.Scales {
				if !closeRel(float64(float32(qp.Scales[j])), float64(c.Expect.Scale[j]), rel, 0) {
					t.Errorf("scale[%d] = %v, want %v", j, qp.Scales[j], c.Expect.Scale[j])
				}
				zp := int64(0)
				if qp.ZeroPoints != nil {
					zp = qp.ZeroPoints[j]
				} else {
					zp = int64(qp.FloatZeroPoints[j])
				}
				if qp.ZeroPoints != nil && zp != c.Expect.ZeroPoint[j] {
					t.Errorf("zero point[%d] = %d, want %d", j, zp, c.Expect.ZeroPoint[j])
				}
			}
			for name, pair := range map[string][2][]float32{"min": {o.MinVal(), c.Expect.MinVal.f32()}, "max": {o.MaxVal(), c.Expect.MaxVal.f32()}} {
				if len(pair[0]) != len(pair[1]) {
					t.Fatalf("%s has %d values, want %d", name, len(pair[0]), len(pair[1]))
				}
				for j := range pair[0] {
					if !closeRel(float64(pair[0][j]), float64(pair[1][j]), rel, 0) {
						t.Errorf("%s[%d] = %v, want %v", name, j, pair[0][j], pair[1][j])
					}
				}
			}
			if h, ok := o.(*HistogramObserver); ok {
				got := h.Histogram()
				var maxW float64
				for _, v := range c.Expect.Histogram {
					maxW = math.Max(maxW, math.Abs(float64(v)))
				}
				for j, w := range c.Expect.Histogram {
					if !closeRel(float64(got[j]), float64(w), 1e-5, 1e-6*maxW) {
						t.Errorf("histogram[%d] = %v, want %v", j, got[j], w)
					}
				}
			}
		})
	}
}

// pytorch-semantics.md §12: the 10000-value Gaussian batch of the golden
// file with reduce_range and with qint8 symmetric.
func TestHistogramGaussianVariants(t *testing.T) {
	var batch *tensor.Dense
	for _, c := range loadGolden(t) {
		if c.Kind == KindHistogram && len(c.Batches) == 1 && len(c.Batches[0].Data) == 10000 {
			batch = c.Batches[0].dense()
		}
	}
	if batch == nil {
		t.Fatal("gaussian batch missing from the golden file")
	}
	for _, tc := range []struct {
		opts  []Option
		scale float64
		zp    int64
	}{
		{nil, 0.047035847, 85},
		{[]Option{WithReduceRange(true)}, 0.094442055, 42},
		{[]Option{WithDtype(qdtype.QInt8Dtype), WithQScheme(qdtype.PerTensorSymmetric)}, 0.062699139, 0},
	} {
		o, err := NewHistogramObserver(tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Observe(batch); err != nil {
			t.Fatal(err)
		}
		qp, err := o.CalculateQParams()
		if err != nil {
			t.Fatal(err)
		}
		if !closeRel(qp.Scale(), tc.scale, 1e-6, 0) || qp.ZeroPoint() != tc.zp {
			t.Errorf("%d options: (%v, %d), want (%v, %d)", len(tc.opts), qp.Scale(), qp.ZeroPoint(), tc.scale, tc.zp)
		}
	}
}

func vec(v ...float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(v))
}

// pytorch-semantics.md §3.4 golden values on x = [-1, 2].
func TestMinMaxSemanticsNote(t *testing.T) {
	x := vec(-1, 2)
	for _, tc := range []struct {
		opts  []Option
		scale float64
		zp    int64
	}{
		{nil, 0.011764706, 85},
		{[]Option{WithReduceRange(true)}, 0.023622047, 42},
		{[]Option{WithQScheme(qdtype.PerTensorSymmetric)}, 0.015686275, 128},
		{[]Option{WithDtype(qdtype.QInt8Dtype), WithQScheme(qdtype.PerTensorSymmetric)}, 0.015686275, 0},
		{[]Option{WithDtype(qdtype.QInt8Dtype), WithQScheme(qdtype.PerTensorSymmetric), WithReduceRange(true)}, 0.031496063, 0},
		{[]Option{WithDtype(qdtype.QInt8Dtype)}, 0.011764706, -43},
		{[]Option{WithQuantRange(0, 127), WithQScheme(qdtype.PerTensorSymmetric)}, 0.031496063, 63},
		{[]Option{WithQuantRange(0, 255), WithReduceRange(true)}, 0.023622047, 42},
		{[]Option{WithDtype(qdtype.QInt8Dtype), WithQuantRange(-128, 127), WithReduceRange(true)}, 0.023622047, -22},
	} {
		o, err := NewMinMaxObserver(tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Observe(x); err != nil {
			t.Fatal(err)
		}
		qp, err := o.CalculateQParams()
		if err != nil {
			t.Fatal(err)
		}
		if !closeRel(qp.Scale(), tc.scale, 1e-6, 0) || qp.ZeroPoint() != tc.zp {
			t.Errorf("options %d: (%v, %d), want (%v, %d)", len(tc.opts), qp.Scale(), qp.ZeroPoint(), tc.scale, tc.zp)
		}
	}
	if _, err := NewMinMaxObserver(WithQScheme(qdtype.PerTensorSymmetric), WithReduceRange(true)); err == nil {
		t.Error("symmetric quint8 with reduce_range accepted")
	}
	if _, err := NewMinMaxObserver(WithQScheme(qdtype.PerChannelAffine)); err == nil {
		t.Error("per-channel scheme accepted by MinMaxObserver")
	}
	if _, err := NewMinMaxObserver(WithQuantRange(1, 10)); err == nil {
		t.Error("range without 0 accepted")
	}
	if _, err := NewMinMaxObserver(WithChAxis(1)); err == nil {
		t.Error("ch_axis accepted by MinMaxObserver")
	}
}

func TestNaNLeavesStateUnchanged(t *testing.T) {
	for _, kind := range []string{KindMinMax, KindMovingAverageMinMax, KindPerChannelMinMax, KindMovingAveragePerChannelMinMax, KindHistogram} {
		o, err := newByKind(kind)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Observe(vec(-1, 3)); err != nil {
			t.Fatal(err)
		}
		before := o.State()
		if err := o.Observe(vec(0, float32(math.NaN()))); err == nil {
			t.Errorf("%s: NaN accepted", kind)
		}
		if err := o.Observe(tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{1, 2}))); err == nil {
			t.Errorf("%s: float64 accepted", kind)
		}
		after := o.State()
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Errorf("%s: state changed by a failed Observe:\n%v\n%v", kind, before, after)
		}
	}
}

func TestEmptyBatchesAndReset(t *testing.T) {
	o, _ := NewMinMaxObserver()
	if err := o.Observe(tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(0, 3))); err != nil {
		t.Fatal(err)
	}
	qp, err := o.CalculateQParams()
	if err != nil || qp.Scale() != 1 || qp.ZeroPoint() != 0 {
		t.Fatalf("never observed: %v %v", qp, err)
	}
	if err := o.Observe(vec(0, 0)); err != nil {
		t.Fatal(err)
	}
	if qp, _ := o.CalculateQParams(); float32(qp.Scale()) != qdtype.Eps || qp.ZeroPoint() != 0 {
		t.Fatalf("all zero: %v", qp)
	}
	o.Reset()
	if !math.IsInf(float64(o.MinVal()[0]), 1) || !math.IsInf(float64(o.MaxVal()[0]), -1) {
		t.Fatalf("reset: %v %v", o.MinVal(), o.MaxVal())
	}
	pc, _ := NewPerChannelMinMaxObserver()
	qp, err = pc.CalculateQParams()
	if err != nil || len(qp.Scales) != 1 || len(pc.MinVal()) != 0 {
		t.Fatalf("per-channel never observed: %v %v %v", qp, pc.MinVal(), err)
	}
}

func TestViewsAreRead(t *testing.T) {
	x := tensor.New(tensor.WithShape(3, 3), tensor.WithBacking([]float32{9, -1, 9, 9, 2, 9, 9, 0.5, 9}))
	col, err := x.Slice(nil, tensor.S(1))
	if err != nil {
		t.Fatal(err)
	}
	o, _ := NewMinMaxObserver()
	if err := o.Observe(col.(*tensor.Dense)); err != nil {
		t.Fatal(err)
	}
	if o.MinVal()[0] != -1 || o.MaxVal()[0] != 2 {
		t.Fatalf("view column: min %v max %v, want -1 2", o.MinVal(), o.MaxVal())
	}
	pc, _ := NewPerChannelMinMaxObserver(WithChAxis(-1))
	tr := x.Clone().(*tensor.Dense)
	if err := tr.T(); err != nil {
		t.Fatal(err)
	}
	if err := pc.Observe(tr); err != nil {
		t.Fatal(err)
	}
	// tr[i][j] = x[j][i]; channel j (last axis) = row j of x.
	if got := pc.MinVal(); got[0] != -1 || got[1] != 2 || got[2] != 0.5 {
		t.Fatalf("transposed view per-channel min %v", got)
	}
}

func TestStateRoundTripAndClone(t *testing.T) {
	makers := []Factory{
		WithArgs(NewMinMaxObserver, WithDtype(qdtype.QInt8Dtype)),
		WithArgs(NewMovingAverageMinMaxObserver, WithAveragingConstant(0.5)),
		WithArgs(NewPerChannelMinMaxObserver, WithChAxis(1)),
		WithArgs(NewMovingAveragePerChannelMinMaxObserver, WithChAxis(-1), WithQScheme(qdtype.PerChannelSymmetric), WithDtype(qdtype.QInt8Dtype)),
		WithArgs(NewHistogramObserver, WithBins(16), WithUpsampleRate(4)),
		DefaultFixedQParamsRange0To1Observer, DefaultDynamicQuantObserver, DefaultDebugObserver,
		WithArgs(NewNoopObserver),
	}
	x := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{-1, 0.5, 2, 3, -2, 0}))
	y := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{4, -3, 1, 0, 0.25, 7}))
	for _, mk := range makers {
		o, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Observe(x); err != nil {
			t.Fatal(err)
		}
		c := o.Clone()
		b, err := Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("%s: %v", o.State().Kind, err)
		}
		if err := o.Observe(y); err != nil {
			t.Fatal(err)
		}
		for _, other := range []Observer{c, r} {
			if err := other.Observe(y); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(other.State()) != fmt.Sprint(o.State()) {
				t.Errorf("%s: copy diverged:\n%v\n%v", o.State().Kind, other.State(), o.State())
			}
			q1, e1 := o.CalculateQParams()
			q2, e2 := other.CalculateQParams()
			if (e1 == nil) != (e2 == nil) || (e1 == nil && !q1.Equal(q2)) {
				t.Errorf("%s: qparams %v/%v vs %v/%v", o.State().Kind, q1, e1, q2, e2)
			}
		}
		fresh, _ := mk()
		if err := fresh.SetState(o.State()); err != nil {
			t.Errorf("%s: SetState: %v", o.State().Kind, err)
		}
	}
	m, _ := NewMinMaxObserver()
	h, _ := NewHistogramObserver()
	if err := m.SetState(h.State()); err == nil {
		t.Error("MinMaxObserver accepted a histogram state")
	}
	if _, err := Unmarshal([]byte("junk")); err == nil {
		t.Error("junk unmarshalled")
	}
}

func TestDefaults(t *testing.T) {
	for name, f := range map[string]Factory{"default": DefaultObserver, "histogram": DefaultHistogramObserver} {
		o, err := f()
		if err != nil {
			t.Fatal(err)
		}
		if lo, hi := o.QuantRange(); lo != 0 || hi != 127 || o.Dtype() != qdtype.QUInt8Dtype {
			t.Errorf("%s: range %d..%d dtype %v", name, lo, hi, o.Dtype())
		}
	}
	w, _ := DefaultWeightObserver()
	if lo, hi := w.QuantRange(); lo != -128 || hi != 127 || w.QScheme() != qdtype.PerTensorSymmetric {
		t.Errorf("weight: %d..%d %v", lo, hi, w.QScheme())
	}
	pc, _ := DefaultPerChannelWeightObserver()
	if pc.QScheme() != qdtype.PerChannelSymmetric || pc.(*PerChannelMinMaxObserver).ChAxis() != 0 {
		t.Errorf("per-channel weight: %v", pc.QScheme())
	}
	d, _ := DefaultDynamicQuantObserver()
	if cd, ok := d.(*PlaceholderObserver).ComputeDtype(); !ok || cd != qdtype.QUInt8Dtype || d.Dtype() != qdtype.QUInt8Dtype {
		t.Errorf("dynamic: %v %v", cd, ok)
	}
	if _, err := d.CalculateQParams(); err == nil {
		t.Error("placeholder computed qparams")
	}
	n, _ := WeightObserverRangeNeg127To127()
	if err := n.Observe(vec(-1, 0.5)); err != nil {
		t.Fatal(err)
	}
	if qp, _ := n.CalculateQParams(); !closeRel(qp.Scale(), 1.0/127, 1e-6, 0) {
		t.Errorf("-127..127: scale %v", qp.Scale())
	}
	f, _ := DefaultFixedQParamsRangeNeg1To1Observer()
	if qp, _ := f.CalculateQParams(); qp.Scale() != 2.0/256 || qp.ZeroPoint() != 128 {
		t.Errorf("fixed: %v", qp)
	}
	fq, _ := DefaultFloatQParamsObserver()
	if err := fq.Observe(tensor.New(tensor.WithShape(3, 3), tensor.WithBacking([]float32{-1, 2, 0, 0.5, 4, 1, 2, 2, 2}))); err != nil {
		t.Fatal(err)
	}
	qp, err := fq.CalculateQParams()
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{85, -36.428570, -2}
	for i, z := range qp.FloatZeroPoints {
		if !closeRel(float64(z), float64(want[i]), 1e-6, 0) {
			t.Errorf("float zp[%d] = %v, want %v", i, z, want[i])
		}
	}
	r, _ := DefaultDebugObserver()
	_ = r.Observe(vec(1, 2))
	if len(r.(*RecordingObserver).Values()) != 1 {
		t.Error("recording observer did not record")
	}
}

func TestPerChannelBroadcastAndMismatch(t *testing.T) {
	o, _ := NewPerChannelMinMaxObserver()
	_ = o.Observe(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6})))
	if err := o.Observe(tensor.New(tensor.WithShape(1, 3), tensor.WithBacking([]float32{-1, 0, 9}))); err != nil {
		t.Fatal(err)
	}
	if got := o.MinVal(); len(got) != 2 || got[0] != -1 || got[1] != -1 {
		t.Fatalf("broadcast min %v", got)
	}
	if err := o.Observe(tensor.New(tensor.WithShape(3, 3), tensor.WithBacking(make([]float32, 9)))); err == nil {
		t.Fatal("3 channels accepted by a 2-channel observer")
	}
	if err := o.Observe(tensor.New(tensor.FromScalar(float32(1)))); err == nil {
		t.Fatal("0-dim input accepted by a per-channel observer")
	}
}
