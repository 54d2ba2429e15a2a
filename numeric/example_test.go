package numeric_test

import (
	"encoding/json"
	"fmt"
	"image/png"
	"math/rand"
	"os"
	"path/filepath"
	"strings"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/numeric"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// exampleModels builds a small MLP (QuantStub, Linear 8→16, ReLU,
// Linear 16→4, DeQuantStub), fuses Linear+ReLU, quantizes it statically
// with the fbgemm qconfig calibrated on random batches, and returns the
// fused float model, the quantized model and a few input batches.
func exampleModels() (float, quant nn.Module, inputs []*tensor.Dense) {
	l1, _ := nn.NewLinear(8, 16, nn.WithSeed(1))
	l2, _ := nn.NewLinear(16, 4, nn.WithSeed(2))
	m, _ := nn.NewSequential(eager.NewQuantStub(nil), l1, nn.NewReLU(), l2, eager.NewDeQuantStub(nil))
	nn.Eval(m)
	float, err := fuse.FuseModules(m, [][]string{{"1", "2"}})
	if err != nil {
		panic(err)
	}
	float.ModuleBase().QConfig, _ = eager.GetDefaultQConfig("fbgemm")
	r := rand.New(rand.NewSource(3))
	for i := 0; i < 4; i++ {
		x := make([]float32, 32*8)
		for j := range x {
			x[j] = float32(r.NormFloat64())
		}
		inputs = append(inputs, tensor.New(tensor.WithShape(32, 8), tensor.WithBacking(x)))
	}
	prepared, err := eager.Prepare(float)
	if err != nil {
		panic(err)
	}
	if err := eager.DefaultEvalFn(prepared, inputs); err != nil {
		panic(err)
	}
	quant, err = eager.Convert(prepared)
	if err != nil {
		panic(err)
	}
	return float, quant, inputs
}

func ExampleSQNR() {
	x := []float32{1, 2, 3, 4}
	y := []float32{1, 2, 3, 5}
	s, _ := numeric.SQNR(x, y)             // 10·log10(30/1)
	c, _ := numeric.CosineSimilarity(x, y) // 34/√(30·39)
	fmt.Printf("SQNR %.4f dB, cosine %.6f\n", s, c)
	// Output:
	// SQNR 14.7712 dB, cosine 0.993999
}

func ExampleCompareTensors() {
	x := tensor.New(tensor.WithShape(4), tensor.WithBacking([]float32{-1, 0, 0.5, 3}))
	q, _ := qtensor.Quantize(x, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.01, 128))
	m, _ := numeric.CompareTensors(x, q)
	fmt.Printf("max|err| %.2f, codes at qmax %.0f%%, clipped %.0f%%, range [%.2f, %.2f]\n",
		m.MaxAbsErr, 100*m.SatHigh, 100*m.Clipped, m.RangeLo, m.RangeHi)
	// Output:
	// max|err| 1.73, codes at qmax 25%, clipped 25%, range [-1.28, 1.27]
}

func ExampleCompareWeights() {
	float, quant, _ := exampleModels()
	c, err := numeric.CompareWeights(float, quant)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range c.Layers {
		fmt.Printf("%s: %s vs %s, %v %s, SQNR above 40 dB: %v\n", l.Name, l.FloatType, l.QuantType,
			l.Shape, qdtype.Name(l.QParams.Dtype), l.Metrics.SQNR > 40)
	}
	// Output:
	// 1.weight: LinearReLU vs QuantizedLinearReLU, [16 8] qint8, SQNR above 40 dB: true
	// 3.weight: Linear vs QuantizedLinear, [4 16] qint8, SQNR above 40 dB: true
}

func ExampleCompareModelOutputs() {
	float, quant, inputs := exampleModels()
	c, err := numeric.CompareModelOutputs(float, quant, inputs)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range c.Layers {
		fmt.Printf("%s %-20s %d batches, %4d values, SQNR above 25 dB: %v\n", l.Name, l.QuantType, l.Calls, l.Metrics.N, l.Metrics.SQNR > 25)
	}
	// Output:
	// 0 Quantize             4 batches, 1024 values, SQNR above 25 dB: true
	// 1 QuantizedLinearReLU  4 batches, 2048 values, SQNR above 25 dB: true
	// 3 QuantizedLinear      4 batches,  512 values, SQNR above 25 dB: true
}

func ExampleCompareModelStub() {
	float, quant, inputs := exampleModels()
	c, err := numeric.CompareModelStub(float, quant, inputs)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range c.Layers {
		fmt.Printf("%s: %s shadowed by %s\n", l.Name, l.QuantType, l.FloatType)
	}
	// Output:
	// 0: Quantize shadowed by QuantStub
	// 1: QuantizedLinearReLU shadowed by LinearReLU
	// 3: QuantizedLinear shadowed by Linear
}

func ExampleComparison_SuggestFloatFallback() {
	float, quant, inputs := exampleModels()
	// Spoil layer 3: its output scale becomes 50 times too small.
	ql := mustGet(quant, "3").(*nodes.QuantizedLinear)
	w, b := ql.Weight()
	bad, _ := nodes.NewQuantizedLinear(w, b, ql.Scale/50, ql.ZeroPoint, false)
	_ = nn.Set(quant, "3", bad)
	c, err := numeric.CompareModelStub(float, quant, inputs)
	if err != nil {
		fmt.Println(err)
		return
	}
	worst, _ := c.SuggestFloatFallback(1)
	fmt.Println("keep in float:", worst)
	// Turn them off and quantize again: Prepare and Convert leave them float.
	_ = numeric.ApplyFloatFallback(float, worst)
	fmt.Println(eager.QConfigOf(mustGet(float, worst[0])) == nil)
	// Output:
	// keep in float: [3]
	// true
}

func mustGet(m nn.Module, path string) nn.Module {
	c, err := nn.Get(m, path)
	if err != nil {
		panic(err)
	}
	return c
}

func ExampleRun() {
	float, quant, inputs := exampleModels()
	rep, err := numeric.Run(float, quant, inputs)
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "numeric")
	defer os.RemoveAll(dir)
	f, _ := os.Create(filepath.Join(dir, "report.json"))
	_ = rep.WriteJSON(f)
	f.Close()
	files, err := rep.WritePlots(dir, "1")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range files {
		fmt.Println(filepath.Base(f))
	}
	fmt.Println(len(rep.Shadow.Layers), len(rep.Outputs.Layers), len(rep.Weights.Layers))
	// Output:
	// sqnr_shadow.png
	// sqnr_outputs.png
	// sqnr_weights.png
	// sqnr_summary.png
	// hist_shadow_1.png
	// hist_outputs_1.png
	// 3 3 2
}

func ExampleSaturatedFraction() {
	x := tensor.New(tensor.WithShape(4), tensor.WithBacking([]float32{-5, 0, 1, 5}))
	q, _ := qtensor.Quantize(x, qdtype.MustPerTensor(qdtype.QInt8Dtype, 0.02, 0)) // range [-2.56, 2.54]
	lo, hi, _ := numeric.SaturatedFraction(q)
	fmt.Println(q.Ints(), lo, hi)
	// Output:
	// [-128 0 50 127] 0.25 0.25
}

func ExampleWithTypes() {
	float, quant, inputs := exampleModels()
	// Only the plain Linear layers, and no histogram samples.
	c, _ := numeric.CompareModelOutputs(float, quant, inputs, numeric.WithTypes("Linear"), numeric.WithMaxSamples(0))
	for _, l := range c.Layers {
		f, _ := l.Samples()
		fmt.Println(l.Name, l.FloatType, len(f))
	}
	// Output:
	// 3 Linear 0
}

func ExampleComparison_WriteText() {
	float, quant, inputs := exampleModels()
	c, _ := numeric.CompareModelStub(float, quant, inputs)
	var b strings.Builder
	_ = c.WriteText(&b)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	fmt.Println(lines[0])
	fmt.Println(lines[1])
	fmt.Println(len(lines)-3, "layers")
	// Output:
	// shadow: each quantized module vs its float twin on the same input (the layer's own error), 4 batches, worst first
	// #  layer  type                 SQNR dB  max|err|  mean|err|    cosine  sat lo %  sat hi %  clipped %
	// 3 layers
}

func ExampleComparison_PlotHistogram() {
	float, quant, inputs := exampleModels()
	c, _ := numeric.CompareModelOutputs(float, quant, inputs)
	dir, _ := os.MkdirTemp("", "numeric")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "layer1.png")
	if err := c.PlotHistogram("1", path, 640, 400, 50); err != nil {
		fmt.Println(err)
		return
	}
	f, _ := os.Open(path)
	defer f.Close()
	cfg, _ := png.DecodeConfig(f)
	fmt.Println(cfg.Width, cfg.Height)
	// Output:
	// 640 400
}

func ExampleApplyFloatFallback() {
	float, _, _ := exampleModels()
	if err := numeric.ApplyFloatFallback(float, []string{"3"}); err != nil {
		fmt.Println(err)
		return
	}
	m, _ := nn.Get(float, "3")
	fmt.Println(m.TypeName(), "qconfig:", eager.QConfigOf(m))
	// Output:
	// Linear qconfig: <nil>
}

func ExampleMaxAbsError() {
	x := []float32{0.5, -1, 2}
	y := []float32{0.5, -0.75, 2.5}
	mx, _ := numeric.MaxAbsError(x, y)
	mean, _ := numeric.MeanAbsError(x, y)
	fmt.Println(mx, mean)
	// Output:
	// 0.5 0.25
}

func ExampleComparison_Ranked() {
	float, quant, _ := exampleModels()
	c, _ := numeric.CompareWeights(float, quant)
	r := c.Ranked()
	fmt.Println(len(r), r[0].Metrics.SQNR <= r[1].Metrics.SQNR)
	// Output:
	// 2 true
}

func ExampleComparison_WriteJSON() {
	float, quant, inputs := exampleModels()
	c, _ := numeric.CompareModelStub(float, quant, inputs)
	var b strings.Builder
	_ = c.WriteJSON(&b)
	var doc struct {
		Kind    string
		Batches int
		Layers  []struct {
			Rank      int
			Name      string
			QuantType string `json:"quant_type"`
		}
	}
	_ = json.Unmarshal([]byte(b.String()), &doc)
	fmt.Println(doc.Kind, doc.Batches, len(doc.Layers), doc.Layers[0].Rank)
	// Output:
	// shadow 4 3 1
}

func ExampleComparison_PlotSQNR() {
	float, quant, inputs := exampleModels()
	c, _ := numeric.CompareModelOutputs(float, quant, inputs)
	dir, _ := os.MkdirTemp("", "numeric")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "sqnr.png")
	if err := c.PlotSQNR(path, 0, 0); err != nil { // default 900×540 pixels
		fmt.Println(err)
		return
	}
	f, _ := os.Open(path)
	defer f.Close()
	cfg, _ := png.DecodeConfig(f)
	fmt.Println(cfg.Width, cfg.Height)
	// Output:
	// 900 540
}

func ExampleReport_PlotSummary() {
	float, quant, inputs := exampleModels()
	rep, err := numeric.Run(float, quant, inputs)
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "numeric")
	defer os.RemoveAll(dir)
	fmt.Println(rep.PlotSummary(filepath.Join(dir, "summary.png"), 1200, 500))
	// Output:
	// <nil>
}
