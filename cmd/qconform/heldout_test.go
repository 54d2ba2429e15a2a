package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The held-out conformance set (testdata/heldout/*.jsonl, written by
// scripts/gen_heldout.py from PyTorch 1.13) is scored here without Python:
// every case goes through the runner in-process (runLine) with the fields
// acceptance removes (expect, expect_error, error_text, engine, note)
// stripped, and the result is checked with a Go port of compare.py's rules
// for the non-workflow operators (SCHEMA.md §6.1):
//
//   - EXACT: quantized and integer data identical; float32 within 1e-6·|want|
//     (NaN matches NaN, ±Inf must match); bools identical.
//   - ELEMWISE, NORM, GEMM: quantized data within 1 LSB on at most
//     ⌊0.02·n⌋+1 elements; AVERAGE: ⌊0.25·n⌋+2 elements. Floats as EXACT.
//   - OBSERVER, HISTOGRAM, FUSION, FP16, DYN_LINEAR, DYN_RNN, LEARNABLE: float
//     data within atol + rtol·|want| + ntol·max|want| with compare.py's
//     constants; integer outputs (zero points) identical.
//   - Quantized outputs: dtype, shape, qscheme, zero point(s) and axis equal;
//     scales within relative 1e-6.
//   - Index outputs of max/min (with dim), topk and unstable sort: each index
//     selects, along dim, an input element equal to the expected value; sort
//     indices distinct per row. Stable sort indices are EXACT.
//   - expect_error: the runner must return an error.
//
// The workflow rules (WORKFLOW, DYN_WORKFLOW) are not ported: the held-out
// set has no workflow family.

// heldoutRule is one row of compare.py's tolerance table.
type heldoutRule struct {
	qLSB                int64   // max |got − want| of quantized values
	qFrac               float64 // at most ⌊qFrac·n⌋ + qSlack quantized values may differ
	qSlack              int
	fRtol, fNtol, fAtol float64 // float tolerance: atol + rtol·|want| + ntol·max|want|
	intLSB              int64   // plain integer outputs
	scaleRtol           float64 // output scales
}

func mkRule(mod func(r *heldoutRule)) heldoutRule {
	r := heldoutRule{fRtol: 1e-6, scaleRtol: 1e-6}
	if mod != nil {
		mod(&r)
	}
	return r
}

var (
	hExact    = mkRule(nil)
	hElemwise = mkRule(func(r *heldoutRule) { r.qLSB, r.qFrac, r.qSlack = 1, 0.02, 1 })
	hAverage  = mkRule(func(r *heldoutRule) { r.qLSB, r.qFrac, r.qSlack = 1, 0.25, 2 })
	hObserver = mkRule(func(r *heldoutRule) { r.fRtol = 1e-6 })
	hHist     = mkRule(func(r *heldoutRule) { r.fRtol, r.fNtol = 1e-5, 1e-6 })
	hFusion   = mkRule(func(r *heldoutRule) { r.fRtol, r.fNtol = 1e-5, 1e-6 })
	hFP16     = mkRule(func(r *heldoutRule) { r.fRtol, r.fNtol = 1e-5, 1e-5 })
	hDynLin   = mkRule(func(r *heldoutRule) { r.fRtol, r.fNtol = 1e-4, 1e-5 })
	hDynRNN   = mkRule(func(r *heldoutRule) { r.fRtol, r.fNtol = 1e-4, 1e-4 })
	hLearnGr  = mkRule(func(r *heldoutRule) { r.fRtol, r.fNtol = 1e-5, 1e-5 })
)

// heldoutRules maps an op to its rule per output (the last entry repeats).
var heldoutRules = map[string][]heldoutRule{}

func init() {
	set := func(r heldoutRule, ops ...string) {
		for _, op := range ops {
			heldoutRules[op] = []heldoutRule{r}
		}
	}
	set(hExact, "quantize_per_tensor", "quantize_per_channel", "dequantize", "int_repr", "eq", "ne", "ge", "le",
		"gt", "lt", "equal", "max", "min", "sort", "topk", "clone", "flatten", "view", "select", "slice", "expand",
		"fake_quantize_per_tensor_affine", "fake_quantize_per_channel_affine", "FakeQuantize", "relu", "relu6",
		"hardtanh", "max_pool2d")
	set(hAverage, "mean", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool2d", "interpolate")
	set(hObserver, "MinMaxObserver", "MovingAverageMinMaxObserver", "PerChannelMinMaxObserver",
		"MovingAveragePerChannelMinMaxObserver")
	set(hHist, "HistogramObserver")
	set(hElemwise, "linear", "linear_relu", "conv1d", "conv2d", "conv3d", "conv1d_relu", "conv2d_relu",
		"conv3d_relu", "conv_transpose1d", "conv_transpose2d", // GEMM
		"elu", "leaky_relu", "hardsigmoid", "hardswish", "sigmoid", "tanh", "add", "add_relu", "mul", "mul_relu",
		"add_scalar", "mul_scalar", "cat", // ELEMWISE
		"batch_norm1d", "batch_norm2d", "batch_norm3d", "layer_norm", "group_norm", "instance_norm") // NORM
	set(hDynLin, "linear_dynamic")
	set(hFP16, "linear_dynamic_fp16")
	set(hDynRNN, "quantized_lstm", "quantized_lstm_cell_dynamic", "quantized_gru_cell_dynamic",
		"quantized_rnn_tanh_cell_dynamic", "quantized_rnn_relu_cell_dynamic")
	set(hFusion, "fuse_conv_bn_weights", "fuse_linear_bn_weights")
	learn := []heldoutRule{hExact, hExact, hLearnGr, hLearnGr}
	heldoutRules["fake_quantize_learnable_per_tensor_affine"] = learn
	heldoutRules["fake_quantize_learnable_per_channel_affine"] = learn
}

// heldoutIndexOutput: outputs that are indices into the input.
var heldoutIndexOutput = map[string]int{"max": 1, "min": 1, "topk": 1, "sort": 1}

// TestHeldOut runs the held-out set through the runner and scores it.
func TestHeldOut(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "heldout", "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no held-out files (%v)", err)
	}
	for _, f := range files {
		fam := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		t.Run(fam, func(t *testing.T) {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			sc := bufio.NewScanner(fh)
			sc.Buffer(make([]byte, 1<<20), 1<<26)
			n, failed := 0, 0
			for sc.Scan() {
				line := bytes.TrimSpace(sc.Bytes())
				if len(line) == 0 {
					continue
				}
				n++
				if err := heldoutCase(line); err != nil {
					failed++
					t.Error(err)
				}
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatal("empty file")
			}
			t.Logf("%s: %d cases, %d failed", fam, n, failed)
		})
	}
}

func heldoutDecode(b []byte) (map[string]interface{}, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]interface{}
	err := d.Decode(&m)
	return m, err
}

// heldoutCase runs one expectation line and returns why it fails, or nil.
func heldoutCase(line []byte) error {
	exp, err := heldoutDecode(line)
	if err != nil {
		return fmt.Errorf("bad expectation line: %v", err)
	}
	id, _ := exp["id"].(string)
	in := map[string]interface{}{}
	for k, v := range exp {
		switch k {
		case "expect", "expect_error", "error_text", "engine", "note":
		default:
			in[k] = v
		}
	}
	inLine, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: %v", id, err)
	}
	res := runLine(inLine)
	if res.ID != id {
		return fmt.Errorf("%s: result id %q", id, res.ID)
	}
	if e, _ := exp["expect_error"].(bool); e {
		if res.Error == "" {
			return fmt.Errorf("%s: PyTorch rejects this case; the runner returned outputs", id)
		}
		return nil
	}
	if res.Error != "" {
		return fmt.Errorf("%s: runner error: %.300s", id, res.Error)
	}
	ob, err := json.Marshal(res.Outputs)
	if err != nil {
		return fmt.Errorf("%s: %v", id, err)
	}
	var got []interface{}
	d := json.NewDecoder(bytes.NewReader(ob))
	d.UseNumber()
	if err := d.Decode(&got); err != nil {
		return fmt.Errorf("%s: %v", id, err)
	}
	want, _ := exp["expect"].([]interface{})
	if len(got) != len(want) {
		return fmt.Errorf("%s: %d outputs, want %d", id, len(got), len(want))
	}
	op, _ := exp["op"].(string)
	rules, ok := heldoutRules[op]
	if !ok {
		rules = []heldoutRule{hExact}
	}
	for k := range want {
		g, _ := got[k].(map[string]interface{})
		w, _ := want[k].(map[string]interface{})
		if g == nil || w == nil {
			return fmt.Errorf("%s: output %d is not a tensor object", id, k)
		}
		var err error
		if ix, ok := heldoutIndexOutput[op]; ok && ix == k {
			wv, _ := want[k-1].(map[string]interface{})
			err = heldoutIndices(exp, g, w, wv)
		} else {
			err = heldoutTensor(g, w, rules[min(k, len(rules)-1)])
		}
		if err != nil {
			return fmt.Errorf("%s: output %d: %v", id, k, err)
		}
	}
	return nil
}

func hShape(t map[string]interface{}) []int {
	l, _ := t["shape"].([]interface{})
	s := make([]int, len(l))
	for i, v := range l {
		n, _ := v.(json.Number).Int64()
		s[i] = int(n)
	}
	return s
}

func hInt(v interface{}) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

func hFloat(v interface{}) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		switch strings.ToLower(x) {
		case "nan":
			return math.NaN(), true
		case "inf":
			return math.Inf(1), true
		case "-inf":
			return math.Inf(-1), true
		}
	}
	return 0, false
}

func hF32(v interface{}) (float64, bool) {
	f, ok := hFloat(v)
	return float64(float32(f)), ok
}

func hEqualShape(a, b []int) bool {
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

func hNumel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// heldoutTensor is compare.py's check_tensor.
func heldoutTensor(g, w map[string]interface{}, r heldoutRule) error {
	dt, _ := w["dtype"].(string)
	if g["dtype"] != dt {
		return fmt.Errorf("dtype %v, want %s", g["dtype"], dt)
	}
	ws := hShape(w)
	if !hEqualShape(hShape(g), ws) {
		return fmt.Errorf("shape %v, want %v", g["shape"], w["shape"])
	}
	gd, _ := g["data"].([]interface{})
	wd, _ := w["data"].([]interface{})
	if len(gd) != len(wd) || len(wd) != hNumel(ws) {
		return fmt.Errorf("data has %d values, want %d", len(gd), len(wd))
	}
	switch dt {
	case "quint8", "qint8", "qint32":
		if g["qscheme"] != w["qscheme"] {
			return fmt.Errorf("qscheme %v, want %v", g["qscheme"], w["qscheme"])
		}
		if strings.HasPrefix(w["qscheme"].(string), "per_tensor") {
			gs, ok := hFloat(g["scale"])
			wsc, _ := hFloat(w["scale"])
			if !ok || math.Abs(gs-wsc) > r.scaleRtol*math.Abs(wsc) {
				return fmt.Errorf("scale %v, want %v", g["scale"], w["scale"])
			}
			gz, ok := hInt(g["zero_point"])
			wz, _ := hInt(w["zero_point"])
			if !ok || gz != wz {
				return fmt.Errorf("zero_point %v, want %v", g["zero_point"], w["zero_point"])
			}
		} else {
			gsl, _ := g["scales"].([]interface{})
			wsl, _ := w["scales"].([]interface{})
			if gsl == nil || len(gsl) != len(wsl) {
				return fmt.Errorf("scales %v, want %v", g["scales"], w["scales"])
			}
			for i := range wsl {
				a, ok := hFloat(gsl[i])
				b, _ := hFloat(wsl[i])
				if !ok || math.Abs(a-b) > r.scaleRtol*math.Abs(b) {
					return fmt.Errorf("scales %v, want %v", g["scales"], w["scales"])
				}
			}
			gzl, _ := g["zero_points"].([]interface{})
			wzl, _ := w["zero_points"].([]interface{})
			if gzl == nil || len(gzl) != len(wzl) {
				return fmt.Errorf("zero_points %v, want %v", g["zero_points"], w["zero_points"])
			}
			for i := range wzl {
				a, ok := hInt(gzl[i])
				b, _ := hInt(wzl[i])
				if !ok || a != b {
					return fmt.Errorf("zero_points %v, want %v", g["zero_points"], w["zero_points"])
				}
			}
			ga, ok := hInt(g["axis"])
			wa, _ := hInt(w["axis"])
			if !ok || ga != wa {
				return fmt.Errorf("axis %v, want %v", g["axis"], w["axis"])
			}
		}
		nd, beyond, first := 0, 0, -1
		for i := range wd {
			a, ok := hInt(gd[i])
			if !ok {
				return fmt.Errorf("non-integer value %v at %d", gd[i], i)
			}
			b, _ := hInt(wd[i])
			if d := a - b; d != 0 {
				nd++
				if first < 0 {
					first = i
				}
				if d > r.qLSB || -d > r.qLSB {
					beyond++
				}
			}
		}
		allowed := 0
		if r.qLSB > 0 {
			allowed = int(math.Floor(r.qFrac*float64(len(wd)))) + r.qSlack
		}
		if beyond > 0 || nd > allowed {
			return fmt.Errorf("%d of %d values differ (allowed %d within ±%d LSB), %d beyond; first at %d: got %v want %v",
				nd, len(wd), allowed, r.qLSB, beyond, first, gd[first], wd[first])
		}
		return nil
	case "float32":
		wmax := 0.0
		wv := make([]float64, len(wd))
		for i := range wd {
			v, ok := hF32(wd[i])
			if !ok {
				return fmt.Errorf("expected data is not float")
			}
			wv[i] = v
			if !math.IsInf(v, 0) && !math.IsNaN(v) && math.Abs(v) > wmax {
				wmax = math.Abs(v)
			}
		}
		bad, first := 0, -1
		for i := range wd {
			a, ok := hF32(gd[i])
			if !ok {
				return fmt.Errorf("data is not a list of float values")
			}
			b := wv[i]
			var fail bool
			switch {
			case math.IsNaN(b):
				fail = !math.IsNaN(a)
			case math.IsInf(b, 0):
				fail = a != b
			default:
				fail = math.IsNaN(a) || math.IsInf(a, 0) || math.Abs(a-b) > r.fAtol+r.fRtol*math.Abs(b)+r.fNtol*wmax
			}
			if fail {
				bad++
				if first < 0 {
					first = i
				}
			}
		}
		if bad > 0 {
			return fmt.Errorf("%d of %d values out of tolerance (rtol %g, ntol %g); first at %d: got %v want %v",
				bad, len(wd), r.fRtol, r.fNtol, first, gd[first], wd[first])
		}
		return nil
	case "bool":
		for i := range wd {
			a, ok := gd[i].(bool)
			if !ok || a != wd[i].(bool) {
				return fmt.Errorf("value %d: got %v want %v", i, gd[i], wd[i])
			}
		}
		return nil
	default:
		for i := range wd {
			a, ok := hInt(gd[i])
			b, _ := hInt(wd[i])
			if d := a - b; !ok || d > r.intLSB || -d > r.intLSB {
				return fmt.Errorf("value %d: got %v want %v", i, gd[i], wd[i])
			}
		}
		return nil
	}
}

// heldoutIndices is compare.py's check_indices: the indices must select,
// along dim, input elements whose integer values equal the expected values.
func heldoutIndices(c, g, w, wantVals map[string]interface{}) error {
	op, _ := c["op"].(string)
	attrs, _ := c["attrs"].(map[string]interface{})
	if g["dtype"] != w["dtype"] || !hEqualShape(hShape(g), hShape(w)) {
		return fmt.Errorf("dtype/shape %v %v, want %v %v", g["dtype"], g["shape"], w["dtype"], w["shape"])
	}
	if st, _ := attrs["stable"].(bool); op == "sort" && st {
		return heldoutTensor(g, w, hExact)
	}
	inputs, _ := c["inputs"].([]interface{})
	x, _ := inputs[0].(map[string]interface{})
	shape := hShape(x)
	nd := len(shape)
	dim := -1
	if v, ok := hInt(attrs["dim"]); ok {
		dim = int(v)
	}
	if dim < 0 {
		dim += nd
	}
	keep := true
	if op == "max" || op == "min" {
		if k, ok := attrs["keepdim"].(bool); ok {
			keep = k
		}
	}
	oshape := hShape(w)
	if !keep {
		oshape = append(append(append([]int{}, oshape[:dim]...), 1), oshape[dim:]...)
	}
	xd, _ := x["data"].([]interface{})
	vd, _ := wantVals["data"].([]interface{})
	gi, _ := g["data"].([]interface{})
	wi, _ := w["data"].([]interface{})
	if len(gi) != len(wi) {
		return fmt.Errorf("wrong number of indices")
	}
	strides := make([]int, nd)
	for k := nd - 1; k >= 0; k-- {
		if k == nd-1 {
			strides[k] = 1
		} else {
			strides[k] = strides[k+1] * shape[k+1]
		}
	}
	seen := map[string]map[int64]bool{}
	pos := make([]int, len(oshape))
	for j := range gi {
		rem := j
		for k := len(oshape) - 1; k >= 0; k-- {
			if oshape[k] > 0 {
				pos[k] = rem % oshape[k]
				rem /= oshape[k]
			}
		}
		ix, ok := hInt(gi[j])
		if !ok || ix < 0 || ix >= int64(shape[dim]) {
			return fmt.Errorf("index %d: %v out of range", j, gi[j])
		}
		off := 0
		for k := 0; k < nd; k++ {
			p := pos[k]
			if k == dim {
				p = int(ix)
			}
			off += p * strides[k]
		}
		a, _ := hInt(xd[off])
		b, _ := hInt(vd[j])
		if a != b {
			return fmt.Errorf("index %d: %d selects %d, want value %d", j, ix, a, b)
		}
		if op == "sort" {
			key := make([]int, 0, nd)
			key = append(key, pos[:dim]...)
			key = append(key, pos[dim+1:]...)
			ks := fmt.Sprint(key)
			if seen[ks] == nil {
				seen[ks] = map[int64]bool{}
			}
			if seen[ks][ix] {
				return fmt.Errorf("index %d: %d repeated in a sort row", j, ix)
			}
			seen[ks][ix] = true
		}
	}
	return nil
}

// TestHeldOutScorer checks the Go scorer itself on hand-made results: it
// must accept the expectation and reject a 2-LSB difference, a changed zero
// point and a wrong index.
func TestHeldOutScorer(t *testing.T) {
	mk := func(s string) map[string]interface{} {
		m, err := heldoutDecode([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	w := mk(`{"dtype":"quint8","shape":[4],"data":[1,2,3,4],"qscheme":"per_tensor_affine","scale":0.5,"zero_point":3}`)
	if err := heldoutTensor(w, w, hExact); err != nil {
		t.Errorf("identical: %v", err)
	}
	oneOff := mk(`{"dtype":"quint8","shape":[4],"data":[1,2,3,5],"qscheme":"per_tensor_affine","scale":0.5,"zero_point":3}`)
	if heldoutTensor(oneOff, w, hExact) == nil || heldoutTensor(oneOff, w, hAverage) != nil {
		t.Error("1 LSB: EXACT must reject, AVERAGE accept")
	}
	twoOff := mk(`{"dtype":"quint8","shape":[4],"data":[1,2,3,6],"qscheme":"per_tensor_affine","scale":0.5,"zero_point":3}`)
	if heldoutTensor(twoOff, w, hAverage) == nil {
		t.Error("2 LSB accepted")
	}
	zp := mk(`{"dtype":"quint8","shape":[4],"data":[1,2,3,4],"qscheme":"per_tensor_affine","scale":0.5,"zero_point":4}`)
	if heldoutTensor(zp, w, hAverage) == nil {
		t.Error("wrong zero point accepted")
	}
	f := mk(`{"dtype":"float32","shape":[2],"data":[1.0,"nan"]}`)
	f2 := mk(`{"dtype":"float32","shape":[2],"data":[1.00001,"nan"]}`)
	if heldoutTensor(f, f, hExact) != nil || heldoutTensor(f2, f, hExact) == nil || heldoutTensor(f2, f, hDynLin) != nil {
		t.Error("float tolerances")
	}
	c := mk(`{"op":"max","attrs":{"dim":0,"keepdim":false},"inputs":[{"dtype":"quint8","shape":[3],"data":[5,7,7]}]}`)
	vals := mk(`{"dtype":"quint8","shape":[],"data":[7]}`)
	want := mk(`{"dtype":"int64","shape":[],"data":[1]}`)
	if err := heldoutIndices(c, mk(`{"dtype":"int64","shape":[],"data":[2]}`), want, vals); err != nil {
		t.Errorf("tied index: %v", err)
	}
	if heldoutIndices(c, mk(`{"dtype":"int64","shape":[],"data":[0]}`), want, vals) == nil {
		t.Error("wrong index accepted")
	}
	keys := make([]string, 0, len(heldoutRules))
	for k := range heldoutRules {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) < 60 {
		t.Errorf("only %d ops have rules", len(keys))
	}
}
