package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// toyLines is a small corpus with structure an LSTM can pick up.
func toyLines(n int) []string {
	subj := []string{"the lord", "moses", "the people", "david", "a man"}
	verb := []string{"said unto", "went to", "spake unto", "came to"}
	obj := []string{"israel", "the king", "his servants", "the city", "aaron"}
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("And %s %s %s, and %s.", subj[i%5], verb[(i/5)%4], obj[(i*7)%5], subj[(i+2)%5])
	}
	return lines
}

func smallConfig(dir string) config {
	cfg := defaultConfig()
	cfg.Lines = toyLines(300)
	cfg.Out = filepath.Join(dir, "out")
	cfg.VocabSize = 0
	cfg.Embed, cfg.Hidden, cfg.Layers = 16, 32, 2
	cfg.BPTT, cfg.Batch = 8, 4
	cfg.MaxSteps = 6
	cfg.TrainMinutes = 1
	cfg.EvalTokens = 0
	cfg.B1Tokens = 40
	cfg.LR = 1e-2
	cfg.Progress = false
	return cfg
}

// TestPipeline runs the whole example on a tiny corpus and model: train a
// few steps, save, quantize dynamically (int8, float16), save and reload
// each, evaluate. It checks the plumbing, not the perplexity targets.
func TestPipeline(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(dir)
	cfg.Save = filepath.Join(dir, "trained.qgm")
	res, err := run(cfg, io.Discard)
	must(t, err)
	if res.TrainSteps != cfg.MaxSteps {
		t.Errorf("trained %d steps, want %d", res.TrainSteps, cfg.MaxSteps)
	}
	if len(res.Variants) != 3 {
		t.Fatalf("%d variants, want float, int8, float16: %+v", len(res.Variants), res.Variants)
	}
	f := res.Variants[0]
	for _, v := range res.Variants {
		if !(v.ValidPPL > 1) || !(v.TestPPL > 1) || math.IsInf(v.TestPPL, 0) || !(v.TokPerSB20 > 0) || !(v.TokPerSB1 > 0) {
			t.Errorf("%s: implausible numbers %+v", v.Name, v)
		}
		if st, err := os.Stat(v.File); err != nil || st.Size() != v.FileBytes {
			t.Errorf("%s: file %s: %v", v.Name, v.File, err)
		}
		// A few training steps leave the model near uniform over a
		// vocabulary of ~25 words; the quantized models must stay close.
		if math.Abs(v.TestPPL-f.TestPPL) > 0.05*f.TestPPL {
			t.Errorf("%s: test ppl %.3f far from float's %.3f", v.Name, v.TestPPL, f.TestPPL)
		}
	}
	if f.TestPPL >= float64(res.Vocab) {
		t.Errorf("float test ppl %.2f is no better than uniform over %d words: training did not work", f.TestPPL, res.Vocab)
	}
	if n := res.Variants[2].Name; n != "float16 dynamic" || len(res.Notes) != 0 {
		t.Errorf("float16 row %q, notes %q: want the LSTM and the Linear in float16, no fallback", n, res.Notes)
	}
	if i8 := res.Variants[1]; 2*i8.RNNBytes > f.RNNBytes {
		t.Errorf("int8 LSTM+Linear %d bytes, float %d: not 2× smaller", i8.RNNBytes, f.RNNBytes)
	}
	var sb strings.Builder
	printTable(&sb, res)
	if !strings.Contains(sb.String(), "int8 dynamic") {
		t.Errorf("table:\n%s", sb.String())
	}
	jp := filepath.Join(dir, "r.json")
	must(t, writeJSON(jp, res))
	b, err := os.ReadFile(jp)
	must(t, err)
	var back results
	must(t, json.Unmarshal(b, &back))
	if len(back.Variants) != 3 || back.Variants[1].TestPPL != res.Variants[1].TestPPL {
		t.Errorf("JSON round trip: %s", b)
	}

	// -load skips training and gives the same float perplexity.
	cfg2 := smallConfig(dir)
	cfg2.Load = cfg.Save
	res2, err := run(cfg2, io.Discard)
	must(t, err)
	if res2.LoadedFrom != cfg.Save || res2.TrainSteps != 0 || res2.Variants[0].TestPPL != f.TestPPL {
		t.Errorf("loaded run: from %q, %d steps, ppl %v (want %v)", res2.LoadedFrom, res2.TrainSteps, res2.Variants[0].TestPPL, f.TestPPL)
	}
	// A model over another vocabulary is refused.
	cfg3 := smallConfig(dir)
	cfg3.Load = cfg.Save
	cfg3.VocabSize = 10
	if _, err := run(cfg3, io.Discard); err == nil || !strings.Contains(err.Error(), "vocab") {
		t.Errorf("loading over another vocabulary: %v", err)
	}
}

// TestVocabCap keeps the most frequent words and maps the rest to <unk>.
func TestVocabCap(t *testing.T) {
	lines := make([]string, 40)
	for i := range lines {
		lines[i] = "a a a b b c"
	}
	c, err := newCorpusVocab(lines, 4)
	must(t, err)
	if strings.Join(c.Words, " ") != "<eos> <unk> a b" {
		t.Fatalf("words %q", c.Words)
	}
	want := []int{2, 2, 2, 3, 3, 1, 0}
	for i, id := range want {
		if c.Train[i] != id {
			t.Fatalf("train ids %v, want prefix %v", c.Train[:7], want)
		}
	}
	if _, err := newCorpusVocab(lines, 2); err == nil {
		t.Error("a vocabulary of 2: no error")
	}
}

// TestLanguageModelStateCarries checks that ForwardState continues from
// given states: running 2T tokens at once equals running T, then T from
// the first run's final states.
func TestLanguageModelStateCarries(t *testing.T) {
	m, err := newLanguageModel(11, 6, 5, 2, 0.2, 3)
	must(t, err)
	nn.Eval(m)
	const T, B = 3, 2
	ids := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 1}
	runSeg := func(tok []int64, h, c *tensor.Dense) (logits, hn, cn *tensor.Dense) {
		g := gorgonia.NewGraph()
		x := gorgonia.NewMatrix(g, tensor.Int64, gorgonia.WithShape(len(tok)/B, B), gorgonia.WithValue(tensor.New(tensor.WithShape(len(tok)/B, B), tensor.WithBacking(tok))))
		var h0, c0 *gorgonia.Node
		if h != nil {
			// Named input nodes: Gorgonia merges unnamed nodes of equal
			// type and shape (NodeFromAny would make h0 and c0 one node).
			h0 = gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(h.Shape()...), gorgonia.WithName("h0"))
			c0 = gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(c.Shape()...), gorgonia.WithName("c0"))
			must(t, gorgonia.Let(h0, h))
			must(t, gorgonia.Let(c0, c))
		}
		l, hN, cN, err := m.ForwardState(x, h0, c0)
		must(t, err)
		vm := gorgonia.NewTapeMachine(g)
		defer vm.Close()
		must(t, vm.RunAll())
		return l.Value().(*tensor.Dense).Clone().(*tensor.Dense), hN.Value().(*tensor.Dense).Clone().(*tensor.Dense), cN.Value().(*tensor.Dense).Clone().(*tensor.Dense)
	}
	all, _, _ := runSeg(ids, nil, nil)
	_, h1, c1 := runSeg(ids[:T*B], nil, nil)
	second, _, _ := runSeg(ids[T*B:], h1, c1)
	a, s := all.Float32s()[T*B*11:], second.Float32s()
	for i := range s {
		if math.Abs(float64(a[i]-s[i])) > 1e-5 {
			t.Fatalf("logit %d: %v in one run, %v after carrying the state", i, a[i], s[i])
		}
	}
}

// TestLanguageModelSaveLoad round-trips the model through its codec.
func TestLanguageModelSaveLoad(t *testing.T) {
	m, err := newLanguageModel(9, 4, 3, 1, 0, 5)
	must(t, err)
	path := filepath.Join(t.TempDir(), "m.qgm")
	must(t, saveFile(path, m))
	b, err := os.ReadFile(path)
	must(t, err)
	back, err := eager.LoadBytes(b)
	must(t, err)
	lm, ok := back.(*LanguageModel)
	if !ok || lm.Vocab != 9 || lm.Hidden != 3 {
		t.Fatalf("loaded %T %+v", back, back)
	}
	sd1, sd2 := nn.StateDict(m), nn.StateDict(lm)
	for k, v := range sd1 {
		if !v.Eq(sd2[k]) {
			t.Errorf("%s differs after loading", k)
		}
	}
	if _, err := eager.LoadBytes(b[:len(b)/2]); err == nil {
		t.Error("truncated file: no error")
	}
}
