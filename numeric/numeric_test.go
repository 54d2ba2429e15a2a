package numeric_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/numeric"
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qat"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func names(ls []*numeric.Layer) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Name
	}
	return out
}

func hookCounts(m nn.Module) []int {
	var out []int
	for _, nm := range nn.NamedModules(m) {
		b := nm.Module.ModuleBase()
		out = append(out, len(b.PreHooks), len(b.OutputHooks))
	}
	return out
}

func TestCompareWeightsCNN(t *testing.T) {
	float := smallCNN(t, 1)
	fused, quant := quantizeCNN(t, float, batches(2, 3, 8, 1, 8, 8))
	c, err := numeric.CompareWeights(fused, quant)
	must(t, err)
	if got := strings.Join(names(c.Layers), ","); got != "1.weight,6.weight,8.weight" {
		t.Fatalf("weights %s, want 1.weight,6.weight,8.weight", got)
	}
	for _, l := range c.Layers {
		m := l.Metrics
		if m.SQNR < 30 || m.Cosine < 0.999 || !m.Quantized || l.QParams == nil {
			t.Errorf("%s: SQNR %.2f dB, cosine %.5f, quantized %v", l.Name, m.SQNR, m.Cosine, m.Quantized)
		}
		if m.N != int64(len(first(l.Samples()))) {
			t.Errorf("%s: %d samples for %d values", l.Name, len(first(l.Samples())), m.N)
		}
		// Symmetric per-channel weights: every channel's extreme is at ±127,
		// never beyond.
		if m.Clipped != 0 {
			t.Errorf("%s: clipped %.4f, want 0", l.Name, m.Clipped)
		}
	}
	// The unfused float model gives the same numbers: the batch norm that
	// follows the convolution is folded into the float weight first.
	cu, err := numeric.CompareWeights(float, quant)
	must(t, err)
	for i, l := range cu.Layers {
		if l.Name != c.Layers[i].Name || l.Metrics != c.Layers[i].Metrics {
			t.Errorf("unfused %s: %+v, fused %s: %+v", l.Name, l.Metrics, c.Layers[i].Name, c.Layers[i].Metrics)
		}
	}
	if cu.Layers[0].FloatType != "Conv2d+BatchNorm2d+ReLU" {
		t.Errorf("unfused float type %q", cu.Layers[0].FloatType)
	}
}

func first(a, _ []float32) []float32 { return a }

// TestCompareModelOutputsCNN: the logged output of the last layer equals
// the models' own outputs compared directly, accumulated over the batches;
// the unfused float model gives the same comparison; hooks are removed.
func TestCompareModelOutputsCNN(t *testing.T) {
	float := smallCNN(t, 3)
	fused, quant := quantizeCNN(t, float, batches(4, 3, 8, 1, 8, 8))
	in := batches(5, 3, 6, 1, 8, 8)
	hf, hq := hookCounts(fused), hookCounts(quant)
	c, err := numeric.CompareModelOutputs(fused, quant, in)
	must(t, err)
	if got := strings.Join(names(c.Layers), ","); got != "0,1,4,5,6,8" {
		t.Fatalf("layers %s, want 0,1,4,5,6,8", got)
	}
	if !equalInts(hf, hookCounts(fused)) || !equalInts(hq, hookCounts(quant)) {
		t.Fatal("hooks were not restored")
	}
	var fAll, qAll []float32
	for _, x := range in {
		yf, err := eager.Run(fused, x)
		must(t, err)
		yq, err := eager.Run(quant, x)
		must(t, err)
		fAll = append(fAll, yf.Float32s()...)
		qAll = append(qAll, yq.Float32s()...)
	}
	want, err := numeric.SQNR(fAll, qAll)
	must(t, err)
	last := c.Layer("8")
	if last.Calls != 3 || last.Metrics.N != int64(len(fAll)) {
		t.Fatalf("layer 8: %d calls, %d values; want 3, %d", last.Calls, last.Metrics.N, len(fAll))
	}
	if math.Abs(last.Metrics.SQNR-want) > 1e-9 {
		t.Fatalf("layer 8 SQNR %.12g, direct comparison %.12g", last.Metrics.SQNR, want)
	}
	mae, _ := numeric.MeanAbsError(fAll, qAll)
	if math.Abs(last.Metrics.MeanAbsErr-mae) > 1e-12 {
		t.Fatalf("layer 8 mean abs %.12g, direct %.12g", last.Metrics.MeanAbsErr, mae)
	}
	// The input quantizer: the quantized model's first output is the
	// quantized input, and its float twin the input itself.
	if q := c.Layer("0"); q.QuantType != "Quantize" || !q.Metrics.Quantized || q.Metrics.SQNR < 25 {
		t.Fatalf("layer 0: %+v", q)
	}

	// The unfused float model's conv, bn, relu differ from the folded conv
	// by float rounding only.
	cu, err := numeric.CompareModelOutputs(float, quant, in)
	must(t, err)
	if l := cu.Layer("1"); l.FloatPath != "3" || math.Abs(l.Metrics.SQNR-c.Layer("1").Metrics.SQNR) > 1e-3 {
		t.Fatalf("unfused layer 1: float path %q, SQNR %.6f; fused %.6f", l.FloatPath, l.Metrics.SQNR, c.Layer("1").Metrics.SQNR)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// spoil replaces the QuantizedLinear at path by one whose output scale is
// 20 times too small, so that most of its outputs saturate.
func spoil(t *testing.T, quant nn.Module, path string) {
	t.Helper()
	m, err := nn.Get(quant, path)
	must(t, err)
	ql := m.(*nodes.QuantizedLinear)
	w, b := ql.Weight()
	bad, err := nodes.NewQuantizedLinear(w, b, ql.Scale/20, ql.ZeroPoint, ql.ReLU)
	must(t, err)
	must(t, nn.Set(quant, path, bad))
}

// TestShadowRanksBadScaleWorst: layer 6 gets an output scale 20 times too
// small. The shadow comparison ranks it worst and suggests it for float
// fallback, while layer 8, which only inherits the damage, keeps a good
// shadow SQNR but a poor output SQNR.
func TestShadowRanksBadScaleWorst(t *testing.T) {
	float := smallCNN(t, 6)
	fused, quant := quantizeCNN(t, float, batches(7, 4, 8, 1, 8, 8))
	in := batches(8, 2, 8, 1, 8, 8)
	good, err := numeric.CompareModelStub(fused, quant, in)
	must(t, err)
	spoil(t, quant, "6")
	s, err := numeric.CompareModelStub(fused, quant, in)
	must(t, err)
	if got := strings.Join(names(s.Layers), ","); got != "0,1,4,5,6,8" {
		t.Fatalf("shadow layers %s", got)
	}
	r := s.Ranked()
	if r[0].Name != "6" {
		t.Fatalf("worst shadow layer %s (SQNR %.2f), want 6; ranking %v", r[0].Name, r[0].Metrics.SQNR, names(r))
	}
	if m := r[0].Metrics; m.Clipped < 0.1 || m.SatHigh < 0.1 {
		t.Errorf("layer 6: clipped %.3f, saturated high %.3f; want both ≥ 0.1", m.Clipped, m.SatHigh)
	}
	fb, err := s.SuggestFloatFallback(1)
	must(t, err)
	if len(fb) != 1 || fb[0] != "6" {
		t.Fatalf("SuggestFloatFallback(1) = %v, want [6]", fb)
	}
	fb, err = s.SuggestFloatFallback(100)
	must(t, err)
	for _, p := range fb {
		if p == "0" || p == "4" || p == "5" {
			t.Errorf("SuggestFloatFallback suggests %s (a quantize stub or pass-through)", p)
		}
	}
	// Layer 8's own error is unchanged by the damage upstream (within the
	// noise of a different input), but its output comparison inherits it.
	o, err := numeric.CompareModelOutputs(fused, quant, in)
	must(t, err)
	sh8, out8 := s.Layer("8").Metrics.SQNR, o.Layer("8").Metrics.SQNR
	if sh8 < good.Layer("8").Metrics.SQNR-6 || out8 > sh8-6 {
		t.Errorf("layer 8: shadow SQNR %.2f (before the damage %.2f), output SQNR %.2f", sh8, good.Layer("8").Metrics.SQNR, out8)
	}
	var text strings.Builder
	must(t, (&numeric.Report{Outputs: o, Shadow: s}).WriteText(&text))
	lines := strings.Split(text.String(), "\n")
	if f := strings.Fields(lines[2]); len(f) < 7 || f[0] != "1" || f[1] != "6" || f[4] != strconv.FormatFloat(out6(o), 'f', 2, 64) {
		t.Errorf("summary's first row %q, want layer 6 with output SQNR %.2f", lines[2], out6(o))
	}
	if good.Layer("6").Metrics.SQNR < s.Layer("6").Metrics.SQNR+10 {
		t.Errorf("layer 6 shadow SQNR %.2f before, %.2f after spoiling", good.Layer("6").Metrics.SQNR, s.Layer("6").Metrics.SQNR)
	}

	// ApplyFloatFallback marks the suggested module float for a new round.
	must(t, numeric.ApplyFloatFallback(fused, []string{"6"}))
	m6, _ := nn.Get(fused, "6")
	if eager.QConfigOf(m6) != nil || m6.ModuleBase().QConfig == nil {
		t.Fatalf("layer 6 qconfig %v, want eager.NoQConfig", m6.ModuleBase().QConfig)
	}
	if err := numeric.ApplyFloatFallback(fused, []string{"nope"}); err == nil {
		t.Fatal("ApplyFloatFallback on a missing path: no error")
	}
}

func out6(o *numeric.Comparison) float64 { return o.Layer("6").Metrics.SQNR }

// TestReportAndPlots writes the text and JSON report and the plots into a
// temporary directory and decodes every PNG.
func TestReportAndPlots(t *testing.T) {
	float := smallCNN(t, 9)
	fused, quant := quantizeCNN(t, float, batches(10, 2, 8, 1, 8, 8))
	rep, err := numeric.Run(fused, quant, batches(11, 2, 4, 1, 8, 8))
	must(t, err)
	dir := t.TempDir()

	var text bytes.Buffer
	must(t, rep.WriteText(&text))
	for _, want := range []string{"summary, worst own error first", "own SQNR dB", "shadow:", "module outputs:", "weights:", "SQNR dB", "QuantizedConvReLU2d", "6.weight"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	must(t, os.WriteFile(filepath.Join(dir, "report.txt"), text.Bytes(), 0o644))

	jf := filepath.Join(dir, "report.json")
	f, err := os.Create(jf)
	must(t, err)
	must(t, rep.WriteJSON(f))
	must(t, f.Close())
	raw, err := os.ReadFile(jf)
	must(t, err)
	var decoded map[string]struct {
		Kind   string `json:"kind"`
		Layers []struct {
			Rank int    `json:"rank"`
			Name string `json:"name"`
			SQNR any    `json:"sqnr_db"`
		} `json:"layers"`
	}
	must(t, json.Unmarshal(raw, &decoded))
	sh := decoded["shadow"]
	if sh.Kind != "shadow" || len(sh.Layers) != len(rep.Shadow.Layers) || sh.Layers[0].Rank != 1 {
		t.Fatalf("json shadow section: %+v", sh)
	}
	if sh.Layers[0].Name != rep.Shadow.Ranked()[0].Name {
		t.Fatalf("json worst layer %s, Ranked %s", sh.Layers[0].Name, rep.Shadow.Ranked()[0].Name)
	}
	if len(decoded["weights"].Layers) != 3 || len(decoded["outputs"].Layers) != 6 {
		t.Fatalf("json: %d weights, %d outputs", len(decoded["weights"].Layers), len(decoded["outputs"].Layers))
	}

	files, err := rep.WritePlots(dir, "1", "8.weight")
	must(t, err)
	// 3 SQNR charts and the summary; layer 1 is in shadow and outputs;
	// 8.weight in weights.
	if len(files) != 7 {
		t.Fatalf("plots %v, want 7 files", files)
	}
	for _, fn := range files {
		checkPNG(t, fn, numeric.DefaultPlotWidth, numeric.DefaultPlotHeight)
	}
	small := filepath.Join(dir, "small.png")
	must(t, rep.Outputs.PlotSQNR(small, 320, 200))
	checkPNG(t, small, 320, 200)
	sum := filepath.Join(dir, "summary.png")
	must(t, rep.PlotSummary(sum, 800, 300))
	checkPNG(t, sum, 800, 300)
	if err := (&numeric.Report{Shadow: rep.Shadow}).PlotSummary(sum, 0, 0); err == nil {
		t.Error("PlotSummary without outputs: no error")
	}
	h := filepath.Join(dir, "hist.png")
	must(t, rep.Shadow.PlotHistogram("6", h, 640, 480, 30))
	checkPNG(t, h, 640, 480)
}

func checkPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("%s: %d×%d pixels, want %d×%d", path, b.Dx(), b.Dy(), w, h)
	}
}

// TestLSTMDynamic compares a dynamically quantized LSTM language-model
// head: weights per matrix, outputs and shadows of the float32 modules.
func TestLSTMDynamic(t *testing.T) {
	lstm, err := nn.NewLSTM(4, 5, 2, false, nn.WithSeed(1))
	must(t, err)
	lin, err := nn.NewLinear(5, 3, nn.WithSeed(2))
	must(t, err)
	float, err := nn.NewSequential(lstm, lin)
	must(t, err)
	nn.Eval(float)
	quant, err := eager.QuantizeDynamic(float, eager.DynamicSpec{})
	must(t, err)
	w, err := numeric.CompareWeights(float, quant)
	must(t, err)
	want := "0.weight_ih_l0,0.weight_hh_l0,0.weight_ih_l1,0.weight_hh_l1,1.weight"
	if got := strings.Join(names(w.Layers), ","); got != want {
		t.Fatalf("weights %s, want %s", got, want)
	}
	in := batches(3, 2, 3, 2, 4)
	o, err := numeric.CompareModelOutputs(float, quant, in)
	must(t, err)
	s, err := numeric.CompareModelStub(float, quant, in)
	must(t, err)
	for _, c := range []*numeric.Comparison{w, o, s} {
		for _, l := range c.Layers {
			if l.Metrics.SQNR < 20 || l.Metrics.Cosine < 0.99 {
				t.Errorf("%s %s: SQNR %.2f cosine %.5f", c.Kind, l.Name, l.Metrics.SQNR, l.Metrics.Cosine)
			}
		}
	}
	if l := o.Layer("0"); l == nil || l.QuantType != "DynamicQuantizedLSTM" || l.Metrics.Quantized || l.QParams != nil || l.Calls != 2 {
		t.Fatalf("LSTM output layer: %+v", l)
	}
	// The first module's input is the same float batch in both runs, so
	// its shadow and output comparisons agree.
	if a, b := o.Layer("0").Metrics, s.Layer("0").Metrics; a != b {
		t.Fatalf("LSTM output %+v, shadow %+v", a, b)
	}
}

func TestErrors(t *testing.T) {
	float := smallCNN(t, 12)
	fused, quant := quantizeCNN(t, float, batches(13, 1, 4, 1, 8, 8))
	in := batches(14, 1, 2, 1, 8, 8)
	lin, err := nn.NewLinear(3, 3)
	must(t, err)
	nn.Eval(lin)
	intIn := tensor.New(tensor.WithShape(2), tensor.WithBacking([]int{1, 2}))
	training := smallCNN(t, 12)
	training.Train(true)

	for name, f := range map[string]func() error{
		"weights nil float":    func() error { _, err := numeric.CompareWeights(nil, quant); return err },
		"weights same model":   func() error { _, err := numeric.CompareWeights(quant, quant); return err },
		"weights no quantized": func() error { _, err := numeric.CompareWeights(fused, float); return err },
		"outputs no inputs":    func() error { _, err := numeric.CompareModelOutputs(fused, quant, nil); return err },
		"outputs nil input":    func() error { _, err := numeric.CompareModelOutputs(fused, quant, []*tensor.Dense{nil}); return err },
		"outputs int input":    func() error { _, err := numeric.CompareModelOutputs(fused, quant, []*tensor.Dense{intIn}); return err },
		"outputs training":     func() error { _, err := numeric.CompareModelOutputs(training, quant, in); return err },
		"outputs no match":     func() error { _, err := numeric.CompareModelOutputs(lin, quant, in); return err },
		"outputs wrong shape": func() error {
			_, err := numeric.CompareModelOutputs(fused, quant, batches(1, 1, 2, 1, 10, 10))
			return err
		},
		"stub nil quant": func() error { _, err := numeric.CompareModelStub(fused, nil, in); return err },
		"stub all float": func() error { _, err := numeric.CompareModelStub(fused, fused.Clone(), in); return err },
		"stub types none match": func() error {
			_, err := numeric.CompareModelStub(fused, quant, in, numeric.WithTypes("GRU"))
			return err
		},
	} {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.HasPrefix(err.Error(), "numeric: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}

	o, err := numeric.CompareModelOutputs(fused, quant, in, numeric.WithTypes("LinearReLU", "Linear"), numeric.WithMaxSamples(0))
	must(t, err)
	if got := strings.Join(names(o.Layers), ","); got != "6,8" {
		t.Fatalf("WithTypes(LinearReLU, Linear): layers %s", got)
	}
	if _, err := o.SuggestFloatFallback(1); err == nil {
		t.Error("SuggestFloatFallback on an output comparison: no error")
	}
	s, err := numeric.CompareModelStub(fused, quant, in)
	must(t, err)
	if _, err := s.SuggestFloatFallback(0); err == nil {
		t.Error("SuggestFloatFallback(0): no error")
	}
	dir := t.TempDir()
	if err := o.PlotHistogram("6", filepath.Join(dir, "h.png"), 0, 0, 0); err == nil {
		t.Error("histogram without samples: no error")
	}
	if err := s.PlotHistogram("nope", filepath.Join(dir, "h.png"), 0, 0, 0); err == nil {
		t.Error("histogram of a missing layer: no error")
	}
	if err := s.PlotHistogram("6", filepath.Join(dir, "h.png"), 0, 0, -3); err == nil {
		t.Error("histogram with -3 bins: no error")
	}
	if err := s.PlotSQNR(filepath.Join(dir, "s.png"), 10, 10); err == nil {
		t.Error("10×10 plot: no error")
	}
	if err := s.PlotSQNR(filepath.Join(dir, "missing", "s.png"), 0, 0); err == nil {
		t.Error("plot into a missing directory: no error")
	}
	rep := &numeric.Report{Shadow: s}
	if _, err := rep.WritePlots(filepath.Join(dir, "missing")); err == nil {
		t.Error("WritePlots into a missing directory: no error")
	}
	if _, err := rep.WritePlots(dir, "nope"); err == nil {
		t.Error("WritePlots of a missing layer: no error")
	}
}

// tinyLM is examples/lstm's LanguageModel in small: tokens (T, B) →
// "encoder" Embedding → "rnn" LSTM, called through ForwardState as the
// example does (so output hooks never see it) → "decoder" Linear.
type tinyLM struct {
	nn.Base
	nn.Stateless
	hidden int
}

func (m *tinyLM) TypeName() string { return "TinyLM" }
func (m *tinyLM) Clone() nn.Module {
	c := *m
	c.Base = m.CloneBase()
	return &c
}

func (m *tinyLM) Forward(tokens *gorgonia.Node) (*gorgonia.Node, error) {
	s := tokens.Shape()
	emb, err := nn.Call(m.Child("encoder"), tokens)
	if err != nil {
		return nil, err
	}
	rnn, ok := m.Child("rnn").(interface {
		ForwardState(x, h0, c0 *gorgonia.Node) (out, hn, cn *gorgonia.Node, err error)
	})
	if !ok {
		return nil, fmt.Errorf("rnn child %T has no ForwardState", m.Child("rnn"))
	}
	out, _, _, err := rnn.ForwardState(emb, nil, nil)
	if err != nil {
		return nil, err
	}
	flat, err := gorgonia.Reshape(out, tensor.Shape{s[0] * s[1], m.hidden})
	if err != nil {
		return nil, err
	}
	return nn.Call(m.Child("decoder"), flat)
}

func TestLanguageModelForwardState(t *testing.T) {
	enc, err := nn.NewEmbedding(20, 6, nn.WithSeed(1))
	must(t, err)
	lstm, err := nn.NewLSTM(6, 8, 1, false, nn.WithSeed(2))
	must(t, err)
	dec, err := nn.NewLinear(8, 20, nn.WithSeed(3))
	must(t, err)
	lm := &tinyLM{hidden: 8}
	must(t, lm.AddModule("encoder", enc))
	must(t, lm.AddModule("rnn", lstm))
	must(t, lm.AddModule("decoder", dec))
	nn.Eval(lm)
	quant, err := eager.QuantizeDynamic(lm, eager.DynamicSpec{})
	must(t, err)
	r := rand.New(rand.NewSource(4))
	var in []*tensor.Dense
	for b := 0; b < 2; b++ {
		ids := make([]int64, 5*3)
		for i := range ids {
			ids[i] = r.Int63n(20)
		}
		in = append(in, tensor.New(tensor.WithShape(5, 3), tensor.WithBacking(ids)))
	}
	rep, err := numeric.Run(lm, quant, in)
	must(t, err)
	if got := strings.Join(names(rep.Outputs.Layers), ","); got != "encoder,rnn,decoder" {
		t.Fatalf("output layers %s, want encoder,rnn,decoder", got)
	}
	if got := strings.Join(names(rep.Shadow.Layers), ","); got != "rnn,decoder" {
		t.Fatalf("shadow layers %s, want rnn,decoder (the float embedding is not shadowed)", got)
	}
	if l := rep.Outputs.Layer("encoder"); !math.IsInf(l.Metrics.SQNR, 1) {
		t.Errorf("float embedding: SQNR %v, want +Inf", l.Metrics.SQNR)
	}
	for _, c := range []*numeric.Comparison{rep.Outputs, rep.Shadow, rep.Weights} {
		for _, l := range c.Layers {
			if l.Metrics.SQNR < 20 {
				t.Errorf("%s %s: SQNR %.2f", c.Kind, l.Name, l.Metrics.SQNR)
			}
		}
	}
	if rnn := rep.Shadow.Layer("rnn"); rnn.Calls != 2 || rnn.Shape[0] != 5 {
		t.Fatalf("shadow rnn: %d calls, shape %v", rnn.Calls, rnn.Shape)
	}
	// The wrappers are gone again.
	if m, _ := nn.Get(quant, "rnn"); m.TypeName() != "DynamicQuantizedLSTM" {
		t.Fatalf("quantized rnn is %T after the comparison", m)
	}
	if m, _ := nn.Get(lm, "rnn"); m != nn.Module(lstm) {
		t.Fatalf("float rnn is %T after the comparison", m)
	}
}

// TestCompareWeightsQAT: against the QAT model a quantized model was
// converted from, the float weight of a ConvBnReLU2d is its batch-norm-folded
// weight (FoldedWeightBias), the one convert quantized. Three training-mode
// batches move the running variance after the weight fake-quantizer saw
// the weight, so some folded values fall outside the quantized range: the
// comparison shows it as clipping.
func TestCompareWeightsQAT(t *testing.T) {
	m := smallCNN(t, 15)
	m.Train(true)
	fused, err := fuse.FuseModulesQAT(m, [][]string{{"1", "2", "3"}, {"6", "7"}})
	must(t, err)
	qc, err := eager.GetDefaultQATQConfig("x86", 1)
	must(t, err)
	fused.ModuleBase().QConfig = qc
	prepared, err := eager.PrepareQAT(fused)
	must(t, err)
	must(t, eager.DefaultEvalFn(prepared, batches(16, 3, 8, 1, 8, 8)))
	nn.Eval(prepared)
	quant, err := eager.Convert(prepared)
	must(t, err)
	c, err := numeric.CompareWeights(prepared, quant)
	must(t, err)
	if got := strings.Join(names(c.Layers), ","); got != "1.weight,6.weight,8.weight" {
		t.Fatalf("weights %s", got)
	}
	l := c.Layer("1.weight")
	if l.FloatType != "ConvBnReLU2d" {
		t.Fatalf("1.weight float type %s", l.FloatType)
	}
	qm, err := nn.Get(prepared, "1")
	must(t, err)
	w, _, err := qm.(qat.Module).FoldedWeightBias()
	must(t, err)
	cm, err := nn.Get(quant, "1")
	must(t, err)
	qw, _ := cm.(*nodes.QuantizedConv).Weight()
	want, err := numeric.CompareTensors(w, qw)
	must(t, err)
	if l.Metrics != want {
		t.Fatalf("1.weight metrics %+v, CompareTensors on the folded weight %+v", l.Metrics, want)
	}
	if l.Metrics.SQNR < 15 {
		t.Fatalf("1.weight SQNR %.2f", l.Metrics.SQNR)
	}
}

// resBlock is x + relu(conv(x)) with the addition through a
// FloatFunctional "skip", as PyTorch's quantizable residual blocks do.
type resBlock struct {
	nn.Base
	nn.Stateless
}

func (m *resBlock) TypeName() string { return "ResBlock" }
func (m *resBlock) Clone() nn.Module {
	c := *m
	c.Base = m.CloneBase()
	return &c
}

func (m *resBlock) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	y, err := nn.Call(m.Child("conv"), x)
	if err != nil {
		return nil, err
	}
	if y, err = nn.Call(m.Child("relu"), y); err != nil {
		return nil, err
	}
	skip, ok := m.Child("skip").(interface {
		Add(a, b *gorgonia.Node) (*gorgonia.Node, error)
	})
	if !ok {
		return nil, fmt.Errorf("skip is %T", m.Child("skip"))
	}
	return skip.Add(x, y)
}

// TestFunctionalAdd: the output of a FloatFunctional add (its quantized
// QFunctional twin runs output hooks but no pre-hooks) is logged by
// CompareModelOutputs; the shadow comparison leaves it out.
func TestFunctionalAdd(t *testing.T) {
	conv, err := nn.NewConv2d(3, 3, []int{3}, nn.Padding(1), nn.WithSeed(1))
	must(t, err)
	blk := &resBlock{}
	must(t, blk.AddModule("conv", conv))
	must(t, blk.AddModule("relu", nn.NewReLU()))
	must(t, blk.AddModule("skip", nn.NewFloatFunctional()))
	m, err := nn.NewSequential(eager.NewQuantStub(nil), blk, eager.NewDeQuantStub(nil))
	must(t, err)
	nn.Eval(m)
	fused, err := fuse.FuseModules(m, [][]string{{"1.conv", "1.relu"}})
	must(t, err)
	fused.ModuleBase().QConfig = eager.DefaultQConfig()
	prepared, err := eager.Prepare(fused)
	must(t, err)
	calib := batches(17, 3, 4, 3, 6, 6)
	must(t, eager.DefaultEvalFn(prepared, calib))
	quant, err := eager.Convert(prepared)
	must(t, err)
	o, err := numeric.CompareModelOutputs(fused, quant, calib)
	must(t, err)
	if got := strings.Join(names(o.Layers), ","); got != "0,1.conv,1.skip" {
		t.Fatalf("output layers %s, want 0,1.conv,1.skip", got)
	}
	if l := o.Layer("1.skip"); l.QuantType != "QFunctional" || l.Calls != 3 || l.Metrics.SQNR < 25 {
		t.Fatalf("1.skip: %s, %d calls, SQNR %.2f", l.QuantType, l.Calls, l.Metrics.SQNR)
	}
	s, err := numeric.CompareModelStub(fused, quant, calib)
	must(t, err)
	if got := strings.Join(names(s.Layers), ","); got != "0,1.conv" {
		t.Fatalf("shadow layers %s, want 0,1.conv", got)
	}
}

// TestFloat16Dynamic: float16 dynamic quantization has no int8 weight, so
// CompareWeights is an error and Run leaves Weights nil; outputs and
// shadows still compare the float16-weight modules.
func TestFloat16Dynamic(t *testing.T) {
	l1, err := nn.NewLinear(6, 5, nn.WithSeed(1))
	must(t, err)
	l2, err := nn.NewLinear(5, 3, nn.WithSeed(2))
	must(t, err)
	float, err := nn.NewSequential(l1, nn.NewReLU(), l2)
	must(t, err)
	nn.Eval(float)
	quant, err := eager.QuantizeDynamic(float, eager.DynamicSpec{Dtype: observer.Float16})
	must(t, err)
	if _, err := numeric.CompareWeights(float, quant); err == nil {
		t.Fatal("CompareWeights of a float16 model: no error")
	}
	rep, err := numeric.Run(float, quant, batches(5, 2, 4, 6))
	must(t, err)
	if rep.Weights != nil {
		t.Fatalf("weights comparison of a float16 model: %v", names(rep.Weights.Layers))
	}
	if got := strings.Join(names(rep.Shadow.Layers), ","); got != "0,2" {
		t.Fatalf("shadow layers %s, want 0,2", got)
	}
	for _, l := range rep.Shadow.Layers {
		if l.Metrics.SQNR < 50 || l.Metrics.Quantized {
			t.Errorf("%s: SQNR %.2f, quantized %v", l.Name, l.Metrics.SQNR, l.Metrics.Quantized)
		}
	}
	var b strings.Builder
	must(t, rep.WriteText(&b))
	must(t, rep.WriteJSON(&b))
	must(t, rep.WriteText(&b))
	if strings.Contains(b.String(), "weights:") {
		t.Error("text report has a weights table")
	}
}
