package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// config holds every knob of the pipeline; main fills it from flags and
// the tests from small literals.
type config struct {
	Text         string   // text file, one sentence per line ("" = the KJV Bible via `bible`)
	Lines        []string // the corpus itself (tests); overrides Text
	TrainMinutes float64  // training time budget
	MaxSteps     int      // stop training after this many steps too (0 = no limit)
	Load, Save   string   // float model files
	Out          string   // directory for the saved models
	JSON         string
	VocabSize    int // keep the VocabSize−2 most frequent training words (+ <eos>, <unk>); 0 = all
	Embed        int
	Hidden       int
	Layers       int
	Dropout      float64
	BPTT         int // sequence length
	Batch        int // training and evaluation batch size
	LR           float64
	Clip         float64 // Adam element-wise gradient clip
	Seed         int64
	EvalTokens   int // cap on validation/test tokens (0 = all)
	B1Tokens     int // tokens for the batch-1 speed measurement
	Threads      int
	Progress     bool
}

func defaultConfig() config {
	return config{
		TrainMinutes: 3,
		Out:          "out/lstm",
		VocabSize:    2000,
		Embed:        128,
		Hidden:       256,
		Layers:       2,
		Dropout:      0.2,
		BPTT:         35,
		Batch:        20,
		LR:           2e-3,
		Clip:         1,
		Seed:         1,
		EvalTokens:   3500,
		B1Tokens:     700,
		Progress:     true,
	}
}

// variant is one row of the results table.
type variant struct {
	Name         string  `json:"name"`
	ValidPPL     float64 `json:"valid_ppl"`
	TestPPL      float64 `json:"test_ppl"`
	PPLChange    float64 `json:"test_ppl_change_vs_float"` // relative, (ppl − float ppl) / float ppl
	FileBytes    int64   `json:"file_bytes"`               // whole model (eager.Save)
	RNNBytes     int64   `json:"lstm_linear_bytes"`        // LSTM and decoder Linear alone (eager.Save of each)
	File         string  `json:"file"`
	TokPerSB20   float64 `json:"tokens_per_s_batch20"` // model forward on the test set, batch 20
	TokPerSB1    float64 `json:"tokens_per_s_batch1"`  // model forward on B1Tokens test tokens, batch 1
	SpeedupB20   float64 `json:"speedup_batch20"`
	SpeedupB1    float64 `json:"speedup_batch1"`
	EvalSecondsB float64 `json:"test_forward_s_batch20"`
	EvalCPUB     float64 `json:"test_forward_cpu_s_batch20"` // process CPU time (user+system) of the same runs
	CPUSpeedupB  float64 `json:"cpu_speedup_batch20"`        // float CPU time / this model's
}

// results is what run returns and -json writes.
type results struct {
	Corpus       string    `json:"corpus"`
	Vocab        int       `json:"vocab"`
	TrainTokens  int       `json:"train_tokens"`
	ValidTokens  int       `json:"valid_tokens"`
	TestTokens   int       `json:"test_tokens"`
	TrainSeconds float64   `json:"train_s"`
	TrainSteps   int       `json:"train_steps"`
	TrainTokPerS float64   `json:"train_tokens_per_s"`
	TrainEpochs  float64   `json:"train_epochs"`
	Threads      int       `json:"threads"`
	LoadedFrom   string    `json:"loaded_from,omitempty"`
	Variants     []variant `json:"variants"`
	Notes        []string  `json:"notes,omitempty"`
}

// run is the whole example: read the corpus, train (or load) the float
// model, quantize it dynamically to int8 and to float16, save and reload
// each, and evaluate perplexity and speed. Progress goes to w.
func run(cfg config, w io.Writer) (*results, error) {
	if cfg.Threads > 0 {
		kernels.SetThreads(cfg.Threads)
		defer kernels.SetThreads(0)
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("lstm: %w", err)
	}
	lines, name := cfg.Lines, "(given lines)"
	var err error
	switch {
	case lines != nil:
	case cfg.Text != "":
		lines, err = readTextFile(cfg.Text)
		name = cfg.Text
	default:
		lines, err = readBible()
		name = "King James Bible (bible-kjv)"
	}
	if err != nil {
		return nil, err
	}
	c, err := newCorpusVocab(lines, cfg.VocabSize)
	if err != nil {
		return nil, err
	}
	valid, test := capTokens(c.Valid, cfg.EvalTokens), capTokens(c.Test, cfg.EvalTokens)
	fmt.Fprintf(w, "corpus: %s, %d lines, vocabulary %d, tokens train/valid/test %d/%d/%d\n", name, len(lines), len(c.Words), len(c.Train), len(valid), len(test))
	res := &results{Corpus: name, Vocab: len(c.Words), TrainTokens: len(c.Train), ValidTokens: len(valid), TestTokens: len(test), Threads: kernels.Threads()}

	// Step 1: the float model, trained for the time budget or loaded.
	var model *LanguageModel
	if cfg.Load != "" {
		fmt.Fprintf(w, "\n== 1. load the float model from %s\n", cfg.Load)
		data, err := os.ReadFile(cfg.Load)
		if err != nil {
			return nil, fmt.Errorf("lstm: %w", err)
		}
		m, err := eager.LoadBytes(data)
		if err != nil {
			return nil, fmt.Errorf("lstm: loading %s: %w", cfg.Load, err)
		}
		lm, ok := m.(*LanguageModel)
		if !ok || lm.Vocab != len(c.Words) {
			return nil, fmt.Errorf("lstm: %s is not a LanguageModel over this corpus's %d words (use the same -text and -vocab-size as when it was saved)", cfg.Load, len(c.Words))
		}
		model, res.LoadedFrom = lm, cfg.Load
	} else {
		fmt.Fprintf(w, "\n== 1. train the float model for %.1f minutes (Embedding %d → LSTM %d×%d, dropout %.1f → Linear %d; seq %d, batch %d, Adam lr %g)\n",
			cfg.TrainMinutes, cfg.Embed, cfg.Layers, cfg.Hidden, cfg.Dropout, len(c.Words), cfg.BPTT, cfg.Batch, cfg.LR)
		model, err = newLanguageModel(len(c.Words), cfg.Embed, cfg.Hidden, cfg.Layers, cfg.Dropout, cfg.Seed)
		if err != nil {
			return nil, err
		}
		if err := train(model, c.Train, cfg, res); err != nil {
			return nil, err
		}
	}
	nn.Eval(model)
	if cfg.Save != "" {
		if err := saveFile(cfg.Save, model); err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "float model saved to %s\n", cfg.Save)
	}

	// Step 2: dynamic quantization of the LSTM and the decoder Linear,
	// int8 and float16. The embedding stays float, as in PyTorch.
	fmt.Fprintf(w, "\n== 2. quantize_dynamic {LSTM, Linear}: qint8 and float16\n")
	int8Model, err := eager.QuantizeDynamic(model, eager.DynamicSpec{Types: []string{"LSTM", "Linear"}, Dtype: qdtype.QInt8Dtype})
	if err != nil {
		return nil, err
	}
	fp16Model, err := eager.QuantizeDynamic(model, eager.DynamicSpec{Types: []string{"LSTM", "Linear"}, Dtype: observer.Float16})
	if err != nil {
		return nil, err
	}
	// Evaluation carries the states from one segment to the next, so the
	// float16 LSTM (nodes.DynamicFP16RNN) must run from given states.
	if rnn, _ := nn.Get(fp16Model, "rnn"); rnn != nil {
		if _, ok := rnn.(stateful); !ok {
			return nil, fmt.Errorf("lstm: the float16 LSTM (%T) cannot run from given states", rnn)
		}
	}

	// Step 3: save, load back, evaluate.
	fmt.Fprintf(w, "\n== 3. save, load back, evaluate (perplexity at batch %d; speed at batch %d and 1)\n", cfg.Batch, cfg.Batch)
	for _, v := range []struct {
		name, file string
		m          nn.Module
	}{
		{"float", "float", model},
		{"int8 dynamic", "int8_dynamic", int8Model},
		{"float16 dynamic", "fp16_dynamic", fp16Model},
	} {
		path := filepath.Join(cfg.Out, v.file+".qgm")
		if err := saveFile(path, v.m); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("lstm: %w", err)
		}
		lm, err := eager.LoadBytes(data)
		if err != nil {
			return nil, fmt.Errorf("lstm: loading %s: %w", path, err)
		}
		m, ok := lm.(*LanguageModel)
		if !ok {
			return nil, fmt.Errorf("lstm: %s loaded as %T", path, lm)
		}
		r := variant{Name: v.name, File: path, FileBytes: int64(len(data))}
		for _, child := range []string{"rnn", "decoder"} {
			var buf bytes.Buffer
			if err := eager.Save(&buf, m.Child(child)); err != nil {
				return nil, err
			}
			r.RNNBytes += int64(buf.Len())
		}
		vppl, _, _, err := evaluate(m, valid, cfg.Batch, cfg, v.file+" valid")
		if err != nil {
			return nil, err
		}
		tppl, secs, cpu, err := evaluate(m, test, cfg.Batch, cfg, v.file+" test")
		if err != nil {
			return nil, err
		}
		b1 := capTokens(test, cfg.B1Tokens)
		_, secs1, _, err := evaluate(m, b1, 1, cfg, v.file+" batch 1")
		if err != nil {
			return nil, err
		}
		r.ValidPPL, r.TestPPL, r.EvalSecondsB, r.EvalCPUB = vppl, tppl, secs, cpu
		r.TokPerSB20 = float64(len(test)/cfg.Batch*cfg.Batch) / secs
		r.TokPerSB1 = float64(len(b1)) / secs1
		if len(res.Variants) > 0 {
			f := res.Variants[0]
			r.PPLChange = (r.TestPPL - f.TestPPL) / f.TestPPL
			r.SpeedupB20 = r.TokPerSB20 / f.TokPerSB20
			r.SpeedupB1 = r.TokPerSB1 / f.TokPerSB1
			if r.EvalCPUB > 0 {
				r.CPUSpeedupB = f.EvalCPUB / r.EvalCPUB
			}
		} else {
			r.SpeedupB20, r.SpeedupB1, r.CPUSpeedupB = 1, 1, 1
		}
		fmt.Fprintf(w, "%s: valid ppl %.2f, test ppl %.2f, %.0f tokens/s at batch %d, %.0f at batch 1, %s\n", v.name, vppl, tppl, r.TokPerSB20, cfg.Batch, r.TokPerSB1, path)
		res.Variants = append(res.Variants, r)
	}
	return res, nil
}

func capTokens(ids []int, n int) []int {
	if n > 0 && n < len(ids) {
		return ids[:n]
	}
	return ids
}

func saveFile(path string, m nn.Module) error {
	var buf bytes.Buffer
	if err := eager.Save(&buf, m); err != nil {
		return fmt.Errorf("lstm: saving %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("lstm: %w", err)
	}
	return nil
}

// lmGraph is one compiled graph of the model for a fixed (T, B): inputs
// tokens, h0, c0 (and targets when training), outputs logits, hn, cn.
type lmGraph struct {
	T, B                    int
	tokens, targets, h0, c0 *gorgonia.Node
	logits, loss, hn, cn    *gorgonia.Node
	learn                   gorgonia.Nodes
	vm                      gorgonia.VM
	lossVal                 gorgonia.Value
}

// newLMGraph builds m (in its current train/eval mode) for segments of T
// steps at batch B; withLoss adds the cross-entropy and its gradients.
func newLMGraph(m *LanguageModel, T, B int, withLoss bool) (*lmGraph, error) {
	g := gorgonia.NewGraph()
	lg := &lmGraph{T: T, B: B}
	lg.tokens = gorgonia.NewMatrix(g, tensor.Int64, gorgonia.WithShape(T, B), gorgonia.WithName("tokens"))
	st := tensor.Shape{m.Layers, B, m.Hidden}
	lg.h0 = gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(st...), gorgonia.WithName("h0"))
	lg.c0 = gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(st...), gorgonia.WithName("c0"))
	var err error
	lg.logits, lg.hn, lg.cn, err = m.ForwardState(lg.tokens, lg.h0, lg.c0)
	if err != nil {
		return nil, err
	}
	if withLoss {
		lg.targets = gorgonia.NewVector(g, tensor.Int64, gorgonia.WithShape(T*B), gorgonia.WithName("targets"))
		if lg.loss, err = nn.CrossEntropyLoss(lg.logits, lg.targets); err != nil {
			return nil, err
		}
		lg.learn = nn.Learnables(m, g)
		if _, err := gorgonia.Grad(lg.loss, lg.learn...); err != nil {
			return nil, err
		}
		gorgonia.Read(lg.loss, &lg.lossVal)
		lg.vm = gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(lg.learn...))
	} else {
		lg.vm = gorgonia.NewTapeMachine(g)
	}
	return lg, nil
}

// segment fills the (T, B) token matrix and the T·B next-token targets
// from the batchified stream data (steps×B) starting at row i.
func segment(data []int, B, i, T int, tok, tgt []int64) {
	for t := 0; t < T; t++ {
		for b := 0; b < B; b++ {
			tok[t*B+b] = int64(data[(i+t)*B+b])
			if tgt != nil {
				tgt[t*B+b] = int64(data[(i+t+1)*B+b])
			}
		}
	}
}

// train runs truncated back-propagation through time on the training
// stream, laid out as cfg.Batch columns, in segments of cfg.BPTT tokens,
// carrying the LSTM states from one segment to the next (detached: each
// segment starts from their values), until the time budget or MaxSteps.
func train(m *LanguageModel, ids []int, cfg config, res *results) error {
	m.Train(true)
	B, T := cfg.Batch, cfg.BPTT
	data, steps := batchify(ids, B)
	if steps < T+1 {
		return fmt.Errorf("lstm: the training split has %d tokens, fewer than one segment of %d×%d", len(ids), T+1, B)
	}
	lg, err := newLMGraph(m, T, B, true)
	if err != nil {
		return err
	}
	defer lg.vm.Close()
	solver := gorgonia.NewAdamSolver(gorgonia.WithLearnRate(cfg.LR), gorgonia.WithClip(cfg.Clip))
	nst := m.Layers * B * m.Hidden
	h := make([]float32, nst)
	c := make([]float32, nst)
	tok := make([]int64, T*B)
	tgt := make([]int64, T*B)
	shape := []int{m.Layers, B, m.Hidden}
	segs := (steps - 1) / T
	budget := time.Duration(cfg.TrainMinutes * float64(time.Minute))
	start := time.Now()
	var avg float64
	done := 0
	for epoch := 1; ; epoch++ {
		clear(h)
		clear(c)
		bar := newBar(cfg, segs*T*B, fmt.Sprintf("train epoch %d", epoch), "tok")
		for s := 0; s < segs; s++ {
			segment(data, B, s*T, T, tok, tgt)
			if err := gorgonia.Let(lg.tokens, tensor.New(tensor.WithShape(T, B), tensor.WithBacking(tok))); err != nil {
				return err
			}
			if err := gorgonia.Let(lg.targets, tensor.New(tensor.WithShape(T*B), tensor.WithBacking(tgt))); err != nil {
				return err
			}
			if err := gorgonia.Let(lg.h0, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(h))); err != nil {
				return err
			}
			if err := gorgonia.Let(lg.c0, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(c))); err != nil {
				return err
			}
			if err := lg.vm.RunAll(); err != nil {
				return err
			}
			l := float64(lg.lossVal.Data().(float32))
			if done == 0 {
				avg = l
			} else {
				avg = 0.95*avg + 0.05*l
			}
			// The next segment starts from this one's final states.
			h = append(h[:0], lg.hn.Value().Data().([]float32)...)
			c = append(c[:0], lg.cn.Value().Data().([]float32)...)
			if err := solver.Step(gorgonia.NodesToValueGrads(lg.learn)); err != nil {
				return err
			}
			lg.vm.Reset()
			done++
			el := time.Since(start)
			bar.Describe(fmt.Sprintf("train epoch %d step %d loss %.3f ppl %.0f, %s left", epoch, done, avg, math.Exp(avg), (budget - el).Round(time.Second)))
			bar.Add(T * B)
			if el >= budget || (cfg.MaxSteps > 0 && done >= cfg.MaxSteps) {
				bar.Exit()
				if cfg.Progress {
					fmt.Fprintln(os.Stderr)
				}
				res.TrainSeconds = el.Seconds()
				res.TrainSteps = done
				res.TrainTokPerS = float64(done*T*B) / el.Seconds()
				res.TrainEpochs = float64(done) / float64(segs)
				m.Train(false)
				return nil
			}
		}
		bar.Finish()
	}
}

// evaluate returns the perplexity of m on the token stream ids, laid out
// as B columns and run in segments of cfg.BPTT with the states carried
// over, and the wall time of the model's forward runs (the negative
// log-likelihood is computed from the logits outside the timed region),
// and their process CPU time.
func evaluate(m *LanguageModel, ids []int, B int, cfg config, label string) (ppl, secs, cpuSecs float64, err error) {
	nn.Eval(m)
	data, steps := batchify(ids, B)
	if steps < 2 {
		return 0, 0, 0, fmt.Errorf("lstm: %s: %d tokens are too few for batch %d", label, len(ids), B)
	}
	graphs := map[int]*lmGraph{}
	get := func(T int) (*lmGraph, error) {
		if g, ok := graphs[T]; ok {
			return g, nil
		}
		g, err := newLMGraph(m, T, B, false)
		if err != nil {
			return nil, err
		}
		graphs[T] = g
		return g, nil
	}
	defer func() {
		for _, g := range graphs {
			g.vm.Close()
		}
	}()
	// Build the graphs before the clock starts.
	if _, err := get(min(cfg.BPTT, steps-1)); err != nil {
		return 0, 0, 0, err
	}
	if rem := (steps - 1) % cfg.BPTT; rem != 0 {
		if _, err := get(rem); err != nil {
			return 0, 0, 0, err
		}
	}
	shape := []int{m.Layers, B, m.Hidden}
	h := make([]float32, m.Layers*B*m.Hidden)
	c := make([]float32, len(h))
	var nll float64
	n := 0
	bar := newBar(cfg, (steps-1)*B, label, "tok")
	for i := 0; i < steps-1; i += cfg.BPTT {
		T := min(cfg.BPTT, steps-1-i)
		g, err := get(T)
		if err != nil {
			return 0, 0, 0, err
		}
		tok := make([]int64, T*B)
		tgt := make([]int64, T*B)
		segment(data, B, i, T, tok, tgt)
		start, cpu0 := time.Now(), cpuTime()
		if err := gorgonia.Let(g.tokens, tensor.New(tensor.WithShape(T, B), tensor.WithBacking(tok))); err != nil {
			return 0, 0, 0, err
		}
		if err := gorgonia.Let(g.h0, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(h))); err != nil {
			return 0, 0, 0, err
		}
		if err := gorgonia.Let(g.c0, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(c))); err != nil {
			return 0, 0, 0, err
		}
		if err := g.vm.RunAll(); err != nil {
			return 0, 0, 0, err
		}
		h = append(h[:0], g.hn.Value().Data().([]float32)...)
		c = append(c[:0], g.cn.Value().Data().([]float32)...)
		secs += time.Since(start).Seconds()
		cpuSecs += (cpuTime() - cpu0).Seconds()
		logits, ok := g.logits.Value().Data().([]float32)
		if !ok {
			return 0, 0, 0, fmt.Errorf("lstm: %s: logits are %v, want float32", label, g.logits.Dtype())
		}
		nll += sumNLL(logits, tgt, m.Vocab)
		n += T * B
		g.vm.Reset()
		bar.Add(T * B)
	}
	bar.Finish()
	return math.Exp(nll / float64(n)), secs, cpuSecs, nil
}

// sumNLL returns Σ −log softmax(row)[target] over the rows of logits
// (rows×V), in float64, split over the available cores.
func sumNLL(logits []float32, tgt []int64, V int) float64 {
	rows := len(tgt)
	workers := min(runtime.GOMAXPROCS(0), rows)
	parts := make([]float64, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var s float64
			for r := w; r < rows; r += workers {
				row := logits[r*V : (r+1)*V]
				mx := row[0]
				for _, v := range row {
					mx = max(mx, v)
				}
				var z float64
				for _, v := range row {
					z += math.Exp(float64(v - mx))
				}
				s += math.Log(z) - float64(row[tgt[r]]-mx)
			}
			parts[w] = s
		}(w)
	}
	wg.Wait()
	var s float64
	for _, p := range parts {
		s += p
	}
	return s
}
