package fake

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/qgorgonia/qgorgonia/internal/golden"
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

type num = golden.Num

type gt struct {
	Shape []int `json:"shape"`
	Data  []num `json:"data"`
}

func (g gt) dense() *tensor.Dense {
	d := make([]float32, len(g.Data))
	for i, v := range g.Data {
		d[i] = float32(v)
	}
	return tensor.New(tensor.WithShape(g.Shape...), tensor.WithBacking(d))
}

var f32s = golden.Float32s

type goldenFile struct {
	PerTensor []struct {
		X, Dy, Y, Dx gt
		Scale        num   `json:"scale"`
		ZeroPoint    int64 `json:"zero_point"`
		Qmin         int64 `json:"qmin"`
		Qmax         int64 `json:"qmax"`
	} `json:"per_tensor"`
	PerChannel []struct {
		X, Dy, Y, Dx gt
		Scales       []num   `json:"scales"`
		ZeroPoints   []int64 `json:"zero_points"`
		Axis         int     `json:"axis"`
		Qmin         int64   `json:"qmin"`
		Qmax         int64   `json:"qmax"`
	} `json:"per_channel"`
	LearnablePerTensor []struct {
		X, Dy, Y, Dx gt
		Scale        num   `json:"scale"`
		ZeroPoint    num   `json:"zero_point"`
		Qmin         int64 `json:"qmin"`
		Qmax         int64 `json:"qmax"`
		GradFactor   num   `json:"grad_factor"`
		DScale       num   `json:"dscale"`
		DZeroPoint   num   `json:"dzero_point"`
	} `json:"learnable_per_tensor"`
	LearnablePerChannel []struct {
		X, Dy, Y, Dx gt
		Scales       []num `json:"scales"`
		ZeroPoints   []num `json:"zero_points"`
		Axis         int   `json:"axis"`
		Qmin         int64 `json:"qmin"`
		Qmax         int64 `json:"qmax"`
		GradFactor   num   `json:"grad_factor"`
		DScale       []num `json:"dscale"`
		DZeroPoint   []num `json:"dzero_point"`
	} `json:"learnable_per_channel"`
	Modules []struct {
		Module        string                     `json:"module"`
		Kwargs        map[string]json.RawMessage `json:"kwargs"`
		ObserverSteps int                        `json:"observer_steps"`
		Batches       []gt                       `json:"batches"`
		Y             []gt                       `json:"y"`
		Scale         []num                      `json:"scale"`
		ZeroPoint     []int64                    `json:"zero_point"`
	} `json:"modules"`
}

func loadFakeGolden(t *testing.T) goldenFile {
	t.Helper()
	var f goldenFile
	golden.Load(t, "testdata/fake.json", &f)
	return f
}

// exact compares float32 data bit for bit (NaN matches NaN).
func exact(t *testing.T, what string, got *tensor.Dense, want gt) {
	t.Helper()
	g := got.Float32s()
	if len(g) != len(want.Data) {
		t.Fatalf("%s: %d values, want %d", what, len(g), len(want.Data))
	}
	for i, w := range want.Data {
		wf := float32(w)
		if g[i] != wf && !(g[i] != g[i] && wf != wf) {
			t.Errorf("%s[%d] = %v, want %v", what, i, g[i], wf)
		}
	}
}

func maskGrad(dy *tensor.Dense, mask []bool) *tensor.Dense {
	d := dy.Clone().(*tensor.Dense)
	for i, m := range mask {
		if !m {
			d.Float32s()[i] = 0
		}
	}
	return d
}

func near(a, b, rel, abs float64) bool { return math.Abs(a-b) <= rel*math.Abs(b)+abs }

func TestGoldenKernels(t *testing.T) {
	f := loadFakeGolden(t)
	if len(f.PerTensor) == 0 || len(f.PerChannel) == 0 || len(f.LearnablePerTensor) == 0 || len(f.LearnablePerChannel) == 0 {
		t.Fatal("golden file incomplete")
	}
	for i, c := range f.PerTensor {
		y, mask, err := FakeQuantizePerTensorAffine(c.X.dense(), float32(c.Scale), c.ZeroPoint, c.Qmin, c.Qmax)
		if err != nil {
			t.Fatal(err)
		}
		exact(t, fmt.Sprintf("per-tensor %d y", i), y, c.Y)
		exact(t, fmt.Sprintf("per-tensor %d dx", i), maskGrad(c.Dy.dense(), mask), c.Dx)
	}
	for i, c := range f.PerChannel {
		y, mask, err := FakeQuantizePerChannelAffine(c.X.dense(), f32s(c.Scales), c.ZeroPoints, c.Axis, c.Qmin, c.Qmax)
		if err != nil {
			t.Fatal(err)
		}
		exact(t, fmt.Sprintf("per-channel %d y", i), y, c.Y)
		exact(t, fmt.Sprintf("per-channel %d dx", i), maskGrad(c.Dy.dense(), mask), c.Dx)
	}
	for i, c := range f.LearnablePerTensor {
		y, err := FakeQuantizeLearnablePerTensorAffine(c.X.dense(), float32(c.Scale), float32(c.ZeroPoint), c.Qmin, c.Qmax)
		if err != nil {
			t.Fatal(err)
		}
		exact(t, fmt.Sprintf("learnable %d y", i), y, c.Y)
		g, err := FakeQuantizeLearnablePerTensorAffineBackward(c.Dy.dense(), c.X.dense(), float32(c.Scale), float32(c.ZeroPoint), c.Qmin, c.Qmax, float32(c.GradFactor))
		if err != nil {
			t.Fatal(err)
		}
		exact(t, fmt.Sprintf("learnable %d dx", i), g.X, c.Dx)
		if !near(float64(g.Scale[0]), float64(c.DScale), 1e-5, 1e-6) || !near(float64(g.ZeroPoint[0]), float64(c.DZeroPoint), 1e-5, 1e-6) {
			t.Errorf("learnable %d: dscale %v dzp %v, want %v %v", i, g.Scale, g.ZeroPoint, c.DScale, c.DZeroPoint)
		}
	}
	for i, c := range f.LearnablePerChannel {
		y, err := FakeQuantizeLearnablePerChannelAffine(c.X.dense(), f32s(c.Scales), f32s(c.ZeroPoints), c.Axis, c.Qmin, c.Qmax)
		if err != nil {
			t.Fatal(err)
		}
		exact(t, fmt.Sprintf("learnable pc %d y", i), y, c.Y)
		g, err := FakeQuantizeLearnablePerChannelAffineBackward(c.Dy.dense(), c.X.dense(), f32s(c.Scales), f32s(c.ZeroPoints), c.Axis, c.Qmin, c.Qmax, float32(c.GradFactor))
		if err != nil {
			t.Fatal(err)
		}
		exact(t, fmt.Sprintf("learnable pc %d dx", i), g.X, c.Dx)
		var maxS float64
		for _, v := range c.DScale {
			maxS = math.Max(maxS, math.Abs(float64(v)))
		}
		for j := range c.DScale {
			if !near(float64(g.Scale[j]), float64(c.DScale[j]), 1e-5, 1e-5*maxS) || !near(float64(g.ZeroPoint[j]), float64(c.DZeroPoint[j]), 1e-5, 1e-5*maxS) {
				t.Errorf("learnable pc %d channel %d: dscale %v dzp %v, want %v %v", i, j, g.Scale[j], g.ZeroPoint[j], c.DScale[j], c.DZeroPoint[j])
			}
		}
	}
}

func observerFactoryFor(t *testing.T, kw map[string]json.RawMessage) observer.Factory {
	t.Helper()
	var name, s string
	var opts []observer.Option
	var qmin, qmax float64
	for k, raw := range kw {
		switch k {
		case "observer":
			_ = json.Unmarshal(raw, &name)
		case "quant_min":
			_ = json.Unmarshal(raw, &qmin)
		case "quant_max":
			_ = json.Unmarshal(raw, &qmax)
		case "dtype":
			_ = json.Unmarshal(raw, &s)
			dt, err := qdtype.ParseDtype(s)
			if err != nil {
				t.Fatal(err)
			}
			opts = append(opts, observer.WithDtype(dt))
		case "qscheme":
			_ = json.Unmarshal(raw, &s)
			sch, err := qdtype.ParseQScheme(s)
			if err != nil {
				t.Fatal(err)
			}
			opts = append(opts, observer.WithQScheme(sch))
		case "reduce_range":
			var b bool
			_ = json.Unmarshal(raw, &b)
			opts = append(opts, observer.WithReduceRange(b))
		case "ch_axis":
			var a int
			_ = json.Unmarshal(raw, &a)
			opts = append(opts, observer.WithChAxis(a))
		case "scale", "zero_point":
		default:
			t.Fatalf("unknown kwarg %q", k)
		}
	}
	if _, ok := kw["quant_min"]; ok {
		opts = append(opts, observer.WithQuantRange(int64(qmin), int64(qmax)))
	}
	switch name {
	case observer.KindMovingAverageMinMax:
		return observer.WithArgs(observer.NewMovingAverageMinMaxObserver, opts...)
	case observer.KindMovingAveragePerChannelMinMax:
		return observer.WithArgs(observer.NewMovingAveragePerChannelMinMaxObserver, opts...)
	}
	return nil
}

func TestGoldenModules(t *testing.T) {
	f := loadFakeGolden(t)
	kinds := map[string]int{}
	for i, c := range f.Modules {
		var q Quantizer
		var err error
		switch c.Module {
		case "FakeQuantize":
			q, err = NewFakeQuantizer(observerFactoryFor(t, c.Kwargs))
		case "FusedMovingAvgObsFakeQuantize":
			q, err = NewFusedMovingAvgObsFakeQuantize(observerFactoryFor(t, c.Kwargs))
		case "FixedQParamsFakeQuantize":
			q, err = NewFixedQParamsFakeQuantize(observer.DefaultFixedQParamsRangeNeg1To1Observer)
		default:
			t.Fatalf("unknown module %s", c.Module)
		}
		if err != nil {
			t.Fatal(err)
		}
		kinds[c.Module]++
		for j, b := range c.Batches {
			if j == c.ObserverSteps {
				q.EnableObserver(false)
			}
			y, err := q.Forward(b.dense())
			if err != nil {
				t.Fatal(err)
			}
			exact(t, fmt.Sprintf("module %d (%s) batch %d", i, c.Module, j), y, c.Y[j])
		}
		qp := q.QParams()
		for j := range c.Scale {
			if !near(qp.Scales[j], float64(c.Scale[j]), 1e-6, 0) || qp.ZeroPoints[j] != c.ZeroPoint[j] {
				t.Errorf("module %d (%s): qparams %v, want %v %v", i, c.Module, qp, c.Scale, c.ZeroPoint)
			}
		}
	}
	if len(kinds) != 3 {
		t.Fatalf("module kinds covered: %v", kinds)
	}
}

// pytorch-semantics.md §4.1, §4.2, §4.4 and §4.5 golden values.
func TestSemanticsNoteGoldens(t *testing.T) {
	x := tensor.New(tensor.WithShape(3), tensor.WithBacking([]float32{-0.505, -0.51, 1.27}))
	y, mask, err := FakeQuantizePerTensorAffine(x, 0.01, 50, 0, 127)
	if err != nil {
		t.Fatal(err)
	}
	if y.Float32s()[0] != -0.5 || !mask[0] || mask[1] || mask[2] {
		t.Fatalf("§4.1: y %v mask %v", y.Float32s(), mask)
	}
	fq, err := NewFakeQuantizer(observer.WithArgs(observer.NewMovingAverageMinMaxObserver, observer.WithQuantRange(0, 255)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := fq.Forward(vecOf(-1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if qp := fq.QParams(); !near(qp.Scale(), 0.0078431, 1e-4, 0) || qp.ZeroPoint() != 127 || !near(float64(out.Float32s()[1]), 0.99608, 1e-5, 0) {
		t.Fatalf("§4.2 step 1: %v %v", qp, out.Float32s())
	}
	if _, err := fq.Forward(vecOf(-3, 3)); err != nil {
		t.Fatal(err)
	}
	if qp := fq.QParams(); !near(qp.Scale(), 0.008, 1e-6, 0) || qp.ZeroPoint() != 128 {
		t.Fatalf("§4.2 step 2: %v", qp)
	}
	fq.EnableObserver(false)
	out, err = fq.Forward(vecOf(-30, 30))
	if err != nil {
		t.Fatal(err)
	}
	if !near(float64(out.Float32s()[0]), -1.024, 1e-6, 0) || !near(float64(out.Float32s()[1]), 1.016, 1e-6, 0) {
		t.Fatalf("§4.2 step 3: %v", out.Float32s())
	}
	// §4.4: fused vs python formula on a qint8 symmetric weight.
	fused, err := NewFusedMovingAvgObsFakeQuantize(observer.WithArgs(observer.NewMovingAverageMinMaxObserver,
		observer.WithDtype(qdtype.QInt8Dtype), observer.WithQScheme(qdtype.PerTensorSymmetric), observer.WithQuantRange(-128, 127)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fused.Forward(vecOf(-1, 0.3, 2)); err != nil {
		t.Fatal(err)
	}
	if qp := fused.QParams(); !near(qp.Scale(), 2.0/127, 1e-6, 0) || qp.ZeroPoint() != 0 {
		t.Fatalf("§4.4 fused: %v", qp)
	}
	if qp, _ := fused.CalculateQParams(); !near(qp.Scale(), 2.0/127.5, 1e-6, 0) {
		t.Fatalf("§4.4 python formula: %v", qp)
	}
	// §4.5 LSQ.
	lx := vecOf(-1.5, -0.2, 0.3, 0.9, 5.0)
	ly, err := FakeQuantizeLearnablePerTensorAffine(lx, 0.01, 100.3, 0, 255)
	if err != nil {
		t.Fatal(err)
	}
	wantY := []float32{-1.0, -0.2, 0.3, 0.9, 1.55}
	for i, w := range wantY {
		if !near(float64(ly.Float32s()[i]), float64(w), 1e-6, 0) {
			t.Fatalf("§4.5 y %v", ly.Float32s())
		}
	}
	g, err := FakeQuantizeLearnablePerTensorAffineBackward(vecOf(1, 1, 1, 1, 1), lx, 0.01, 100.3, 0, 255, float32(1/math.Sqrt(5*255)))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(g.X.Float32s()) != "[0 1 1 1 0]" || !near(float64(g.Scale[0]), 1.5403082, 1e-5, 0) || !near(float64(g.ZeroPoint[0]), -0.00056011, 1e-4, 0) {
		t.Fatalf("§4.5 grads: dx %v ds %v dz %v", g.X.Float32s(), g.Scale, g.ZeroPoint)
	}
}

func vecOf(v ...float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(v))
}

func TestKernelErrors(t *testing.T) {
	x := vecOf(1, 2)
	if _, _, err := FakeQuantizePerTensorAffine(x, 0.1, 300, 0, 255); err == nil {
		t.Error("zero point above quant_max accepted")
	}
	if _, _, err := FakeQuantizePerTensorAffine(x, 0.1, 0, 10, 5); err == nil {
		t.Error("quant_min > quant_max accepted")
	}
	if _, _, err := FakeQuantizePerTensorAffine(x, 0, 0, 0, 255); err == nil {
		t.Error("scale 0 accepted")
	}
	m := tensor.New(tensor.WithShape(3, 4), tensor.WithBacking(make([]float32, 12)))
	if _, _, err := FakeQuantizePerChannelAffine(m, []float32{.1, .1, .1, .1}, []int64{0, 0, 0, 0}, 2, 0, 255); err == nil {
		t.Error("axis 2 of rank 2 accepted")
	}
	if _, _, err := FakeQuantizePerChannelAffine(m, []float32{.1, .1, .1, .1}, []int64{0, 0, 0, 0}, -1, 0, 255); err == nil {
		t.Error("negative axis accepted")
	}
	if _, _, err := FakeQuantizePerChannelAffine(m, []float32{.1, .1, .1}, []int64{0, 256, 0}, 0, 0, 255); err == nil {
		t.Error("zero point 256 accepted")
	}
	before := append([]float32(nil), x.Float32s()...)
	_, _, _ = FakeQuantizePerTensorAffine(x, 0.3, 0, 0, 255)
	if fmt.Sprint(before) != fmt.Sprint(x.Float32s()) {
		t.Error("input changed")
	}
}
