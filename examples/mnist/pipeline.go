package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"time"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/numeric"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// config holds every knob of the pipeline; main fills it from flags and
// the tests from small literals.
type config struct {
	Data      string // directory of the IDX files
	Epochs    int    // float training epochs
	QATEpochs int    // QAT epochs (and extra float fine-tuning epochs); 0 skips QAT
	Threads   int    // int8 GEMM goroutines; 0 = GOMAXPROCS
	Seed      int64
	Out       string // where models are saved
	JSON      string
	Limit     int // training images (0 = all)
	TestLimit int // test images (0 = all)
	Calib     int // calibration images for PTQ
	Backend   string
	Batch     int     // training batch size
	EvalBatch int     // inference batch size
	LR        float64 // Adam learning rate
	Progress  bool    // draw progress bars
	// Numeric, if set, runs the numeric suite on the per-channel PTQ model
	// (numeric.Run on NumericImages test images) and writes its report and
	// plots to Out/numeric.
	Numeric       bool
	NumericImages int
}

func defaultConfig() config {
	return config{
		Data:      "/usr/share/datasets/fashion-mnist",
		Epochs:    2,
		QATEpochs: 1,
		Limit:     12000,
		Seed:      1,
		Out:       "out/mnist",
		Calib:     1000,
		Backend:   "x86",
		Batch:     64,
		EvalBatch: 200,
		LR:        1e-3,
		Progress:  true,

		NumericImages: 400,
	}
}

// row is one line of the results table.
type row struct {
	Name      string  `json:"name"`
	Accuracy  float64 `json:"accuracy"`       // fraction of test images classified correctly
	Agreement float64 `json:"top1_agreement"` // fraction of test images where the top-1 class equals the float model's
	FileBytes int64   `json:"file_bytes"`     // size of the eager.Save file
	File      string  `json:"file"`           // path of the saved model
	Seconds   float64 `json:"inference_s"`
	CPUSecs   float64 `json:"inference_cpu_s"`  // process CPU time (user+system) of the same runs      // wall time of inference over the test set
	ImagesPS  float64 `json:"images_per_s"`     // test images per second
	Speedup   float64 `json:"speedup_vs_float"` // float inference time / this model's
}

// results is what run returns and -json writes.
type results struct {
	Dataset       string  `json:"dataset"`
	TrainImages   int     `json:"train_images"`
	TestImages    int     `json:"test_images"`
	Epochs        int     `json:"epochs"`
	QATEpochs     int     `json:"qat_epochs"`
	Backend       string  `json:"backend"`
	Threads       int     `json:"threads"`
	EvalBatch     int     `json:"eval_batch"`
	TrainSeconds  float64 `json:"float_train_s"`
	TrainImagesPS float64 `json:"float_train_images_per_s"`
	QATSeconds    float64 `json:"qat_train_s"`
	QATImagesPS   float64 `json:"qat_train_images_per_s"`
	Rows          []row   `json:"rows"`
}

// Indices of the layers in newModel's Sequential; fusion groups name them.
var (
	fuseGroups = [][]string{{"1", "2", "3"}, {"5", "6", "7"}, {"10", "11"}}
)

// newModel builds the float network with its quantization stubs:
//
//	0 QuantStub
//	1 Conv2d(1, 16, 5, padding 2)   2 BatchNorm2d(16)   3 ReLU   4 MaxPool2d(2)
//	5 Conv2d(16, 32, 5, padding 2)  6 BatchNorm2d(32)   7 ReLU   8 MaxPool2d(2)
//	9 Flatten   10 Linear(1568, 128)   11 ReLU   12 Linear(128, 10)
//	13 DeQuantStub
//
// Input N×1×28×28, output N×10 logits.
func newModel(seed int64) (*nn.Sequential, error) {
	r := rand.New(rand.NewSource(seed))
	conv1, err := nn.NewConv2d(1, 16, []int{5}, nn.Padding(2), nn.WithRand(r))
	if err != nil {
		return nil, err
	}
	bn1, err := nn.NewBatchNorm2d(16)
	if err != nil {
		return nil, err
	}
	pool1, err := nn.NewMaxPool2d([]int{2})
	if err != nil {
		return nil, err
	}
	conv2, err := nn.NewConv2d(16, 32, []int{5}, nn.Padding(2), nn.WithRand(r))
	if err != nil {
		return nil, err
	}
	bn2, err := nn.NewBatchNorm2d(32)
	if err != nil {
		return nil, err
	}
	pool2, err := nn.NewMaxPool2d([]int{2})
	if err != nil {
		return nil, err
	}
	fc1, err := nn.NewLinear(32*7*7, 128, nn.WithRand(r))
	if err != nil {
		return nil, err
	}
	fc2, err := nn.NewLinear(128, 10, nn.WithRand(r))
	if err != nil {
		return nil, err
	}
	return nn.NewSequential(
		eager.NewQuantStub(nil),
		conv1, bn1, nn.NewReLU(), pool1,
		conv2, bn2, nn.NewReLU(), pool2,
		nn.NewFlatten(), fc1, nn.NewReLU(), fc2,
		eager.NewDeQuantStub(nil),
	)
}

// run is the whole example: load data, train, quantize four ways, save,
// load, evaluate. Progress and step headings go to w.
func run(cfg config, w io.Writer) (*results, error) {
	if cfg.Threads > 0 {
		kernels.SetThreads(cfg.Threads)
		defer kernels.SetThreads(0)
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("mnist: %w", err)
	}
	train, err := loadSplit(cfg.Data, "train", cfg.Limit)
	if err != nil {
		return nil, err
	}
	test, err := loadSplit(cfg.Data, "t10k", cfg.TestLimit)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "data: %d training and %d test images of %d×%d from %s\n", train.N, test.N, train.Rows, train.Cols, cfg.Data)
	res := &results{
		Dataset: cfg.Data, TrainImages: train.N, TestImages: test.N, Epochs: cfg.Epochs, QATEpochs: cfg.QATEpochs,
		Backend: cfg.Backend, Threads: kernels.Threads(), EvalBatch: cfg.EvalBatch,
	}
	rng := rand.New(rand.NewSource(cfg.Seed))

	// Step 1: train the float model.
	fmt.Fprintf(w, "\n== 1. train the float model (%d epochs, Adam lr %g, batch %d)\n", cfg.Epochs, cfg.LR, cfg.Batch)
	model, err := newModel(cfg.Seed)
	if err != nil {
		return nil, err
	}
	st, err := trainEpochs(model, train, cfg, cfg.Epochs, "float", rng, w)
	if err != nil {
		return nil, err
	}
	res.TrainSeconds, res.TrainImagesPS = st.seconds, st.imagesPS
	nn.Eval(model)

	// Evaluate the float model; its predictions are the reference for the
	// top-1 agreement of the quantized models.
	floatRow, floatPred, err := saveLoadEvaluate("float", model, test, nil, cfg, w)
	if err != nil {
		return nil, err
	}
	res.Rows = append(res.Rows, floatRow)
	floatSeconds := floatRow.Seconds

	// Step 2: fuse conv+bn+relu and linear+relu. FuseModules works on a
	// copy of an eval-mode model and folds each batch norm into its conv.
	fmt.Fprintf(w, "\n== 2. fuse %v\n", fuseGroups)
	fused, err := fuse.FuseModules(model, fuseGroups)
	if err != nil {
		return nil, err
	}

	// Step 3: post-training static quantization, per-tensor and per-channel
	// weights. Both use the backend's histogram activation observer.
	pc, err := eager.GetDefaultQConfig(cfg.Backend)
	if err != nil {
		return nil, err
	}
	pt := &eager.QConfig{Activation: pc.Activation, Weight: eager.DefaultQConfig().Weight}
	calib := calibrationBatches(train, cfg.Calib, cfg.EvalBatch)
	for _, v := range []struct {
		name, file string
		qc         *eager.QConfig
	}{
		{"PTQ per-tensor", "ptq_per_tensor", pt},
		{"PTQ per-channel", "ptq_per_channel", pc},
	} {
		fmt.Fprintf(w, "\n== 3. %s: prepare, calibrate on %d training images, convert\n", v.name, cfg.Calib)
		fused.ModuleBase().QConfig = v.qc
		prepared, err := eager.Prepare(fused)
		if err != nil {
			return nil, err
		}
		bar := newBar(cfg, len(calib), "calibrate")
		for _, b := range calib {
			if _, err := eager.Run(prepared, b); err != nil {
				return nil, err
			}
			bar.Add(1)
		}
		bar.Finish()
		q, err := eager.Convert(prepared)
		if err != nil {
			return nil, err
		}
		r, _, err := saveLoadEvaluate(v.file, q, test, floatPred, cfg, w)
		if err != nil {
			return nil, err
		}
		r.Name = v.name
		r.Speedup = floatSeconds / r.Seconds
		res.Rows = append(res.Rows, r)
		if cfg.Numeric && v.file == "ptq_per_channel" {
			if err := numericReport(fused, q, test, cfg, w); err != nil {
				return nil, err
			}
		}
	}
	fused.ModuleBase().QConfig = nil

	if cfg.QATEpochs > 0 {
		// Step 4: quantization-aware training from the trained float model.
		fmt.Fprintf(w, "\n== 4. quantization-aware training (%d epoch, from the float model)\n", cfg.QATEpochs)
		qatModel := model.Clone()
		qatModel.ModuleBase().Train(true)
		qatFused, err := fuse.FuseModulesQAT(qatModel, fuseGroups)
		if err != nil {
			return nil, err
		}
		qqc, err := eager.GetDefaultQATQConfig(cfg.Backend, 1)
		if err != nil {
			return nil, err
		}
		qatFused.ModuleBase().QConfig = qqc
		prepared, err := eager.PrepareQAT(qatFused)
		if err != nil {
			return nil, err
		}
		st, err := trainEpochs(prepared, train, cfg, cfg.QATEpochs, "QAT", rng, w)
		if err != nil {
			return nil, err
		}
		res.QATSeconds, res.QATImagesPS = st.seconds, st.imagesPS
		nn.Eval(prepared)
		q, err := eager.Convert(prepared)
		if err != nil {
			return nil, err
		}
		r, _, err := saveLoadEvaluate("qat", q, test, floatPred, cfg, w)
		if err != nil {
			return nil, err
		}
		r.Name = "QAT"
		r.Speedup = floatSeconds / r.Seconds
		res.Rows = append(res.Rows, r)

		// The fair float baseline for QAT: the float model trained for
		// the same extra epochs without fake quantization.
		fmt.Fprintf(w, "\n== 4b. float baseline for QAT: the float model fine-tuned %d epoch more\n", cfg.QATEpochs)
		more := model.Clone()
		more.ModuleBase().Train(true)
		if _, err := trainEpochs(more, train, cfg, cfg.QATEpochs, "float+", rng, w); err != nil {
			return nil, err
		}
		nn.Eval(more)
		r, _, err = saveLoadEvaluate("float_plus", more, test, floatPred, cfg, w)
		if err != nil {
			return nil, err
		}
		r.Name = fmt.Sprintf("float +%d epoch", cfg.QATEpochs)
		r.Speedup = floatSeconds / r.Seconds
		res.Rows = append(res.Rows, r)
	}
	res.Rows[0].Name = "float"
	res.Rows[0].Speedup = 1
	return res, nil
}

// saveLoadEvaluate writes m to cfg.Out/<file>.qgm with eager.Save, loads
// it back with eager.Load and evaluates the loaded model on test. ref, if
// not nil, holds the float model's predictions for the agreement column.
func saveLoadEvaluate(file string, m nn.Module, test *Dataset, ref []int, cfg config, w io.Writer) (row, []int, error) {
	var buf bytes.Buffer
	if err := eager.Save(&buf, m); err != nil {
		return row{}, nil, fmt.Errorf("mnist: saving %s: %w", file, err)
	}
	path := filepath.Join(cfg.Out, file+".qgm")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return row{}, nil, fmt.Errorf("mnist: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return row{}, nil, fmt.Errorf("mnist: %w", err)
	}
	loaded, err := eager.LoadBytes(data)
	if err != nil {
		return row{}, nil, fmt.Errorf("mnist: loading %s: %w", path, err)
	}
	pred, secs, cpu, err := predict(loaded, test, cfg, "test "+file)
	if err != nil {
		return row{}, nil, fmt.Errorf("mnist: evaluating %s: %w", path, err)
	}
	r := row{Name: file, FileBytes: int64(len(data)), File: path, Seconds: secs, CPUSecs: cpu, ImagesPS: float64(test.N) / secs}
	correct, agree := 0, 0
	for i, p := range pred {
		if p == int(test.Labels[i]) {
			correct++
		}
		if ref != nil && p == ref[i] {
			agree++
		}
	}
	r.Accuracy = float64(correct) / float64(test.N)
	if ref == nil {
		r.Agreement = 1
	} else {
		r.Agreement = float64(agree) / float64(test.N)
	}
	fmt.Fprintf(w, "%s: accuracy %.2f%%, %.0f images/s, %s\n", file, 100*r.Accuracy, r.ImagesPS, path)
	return r, pred, nil
}

// trainStats are the timing of a training run.
type trainStats struct {
	seconds, imagesPS float64
}

// trainEpochs trains m (in training mode) with Adam and cross-entropy on
// shuffled batches of cfg.Batch images; a last partial batch is dropped.
// The graph is built once and reused: each step binds a new batch (Let),
// runs forward and backward (RunAll) and lets the solver update the
// parameters in place.
func trainEpochs(m nn.Module, ds *Dataset, cfg config, epochs int, label string, rng *rand.Rand, w io.Writer) (trainStats, error) {
	B := cfg.Batch
	steps := ds.N / B
	if steps == 0 {
		return trainStats{}, fmt.Errorf("mnist: %d training images are fewer than one batch of %d", ds.N, B)
	}
	m.ModuleBase().Train(true)
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(B, 1, ds.Rows, ds.Cols), gorgonia.WithName("x"))
	y := gorgonia.NewVector(g, tensor.Int64, gorgonia.WithShape(B), gorgonia.WithName("y"))
	logits, err := nn.Call(m, x)
	if err != nil {
		return trainStats{}, err
	}
	loss, err := nn.CrossEntropyLoss(logits, y)
	if err != nil {
		return trainStats{}, err
	}
	learn := nn.Learnables(m, g)
	if _, err := gorgonia.Grad(loss, learn...); err != nil {
		return trainStats{}, err
	}
	var lossVal gorgonia.Value
	gorgonia.Read(loss, &lossVal)
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(learn...))
	defer vm.Close()
	solver := gorgonia.NewAdamSolver(gorgonia.WithLearnRate(cfg.LR))

	px := ds.Rows * ds.Cols
	xb := make([]float32, B*px)
	yb := make([]int64, B)
	xt := tensor.New(tensor.WithShape(B, 1, ds.Rows, ds.Cols), tensor.WithBacking(xb))
	yt := tensor.New(tensor.WithShape(B), tensor.WithBacking(yb))
	start := time.Now()
	for ep := 0; ep < epochs; ep++ {
		perm := rng.Perm(ds.N)
		bar := newBar(cfg, steps*B, fmt.Sprintf("%s epoch %d/%d", label, ep+1, epochs))
		var avg float64
		for s := 0; s < steps; s++ {
			for i := 0; i < B; i++ {
				k := perm[s*B+i]
				copy(xb[i*px:(i+1)*px], ds.Images[k*px:(k+1)*px])
				yb[i] = int64(ds.Labels[k])
			}
			if err := gorgonia.Let(x, xt); err != nil {
				return trainStats{}, err
			}
			if err := gorgonia.Let(y, yt); err != nil {
				return trainStats{}, err
			}
			if err := vm.RunAll(); err != nil {
				return trainStats{}, err
			}
			l := float64(lossVal.Data().(float32))
			if s == 0 {
				avg = l
			} else {
				avg = 0.98*avg + 0.02*l
			}
			if err := solver.Step(gorgonia.NodesToValueGrads(learn)); err != nil {
				return trainStats{}, err
			}
			vm.Reset()
			bar.Describe(fmt.Sprintf("%s epoch %d/%d batch %d/%d loss %.4f", label, ep+1, epochs, s+1, steps, avg))
			bar.Add(B)
		}
		bar.Finish()
	}
	secs := time.Since(start).Seconds()
	return trainStats{seconds: secs, imagesPS: float64(epochs*steps*B) / secs}, nil
}

// predict runs m (eval mode) over ds in batches of cfg.EvalBatch and
// returns the arg-max class of every image and the wall and CPU time of
// the runs.
// One graph per batch size is built before the clock starts; the timed
// loop binds each batch, runs the graph and reads the logits.
func predict(m nn.Module, ds *Dataset, cfg config, label string) (pred []int, secs, cpuSecs float64, err error) {
	nn.Eval(m)
	px := ds.Rows * ds.Cols
	type runner struct {
		x, out *gorgonia.Node
		vm     gorgonia.VM
	}
	runners := map[int]*runner{}
	get := func(b int) (*runner, error) {
		if r, ok := runners[b]; ok {
			return r, nil
		}
		g := gorgonia.NewGraph()
		x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(b, 1, ds.Rows, ds.Cols), gorgonia.WithName("x"))
		out, err := nn.Call(m, x)
		if err != nil {
			return nil, err
		}
		r := &runner{x: x, out: out, vm: gorgonia.NewTapeMachine(g)}
		runners[b] = r
		return r, nil
	}
	defer func() {
		for _, r := range runners {
			r.vm.Close()
		}
	}()
	B := cfg.EvalBatch
	if _, err := get(min(B, ds.N)); err != nil {
		return nil, 0, 0, err
	}
	if rem := ds.N % B; rem != 0 && ds.N > B {
		if _, err := get(rem); err != nil {
			return nil, 0, 0, err
		}
	}
	pred = make([]int, ds.N)
	bar := newBar(cfg, ds.N, label)
	start, cpu0 := time.Now(), cpuTime()
	for lo := 0; lo < ds.N; lo += B {
		hi := min(lo+B, ds.N)
		r, err := get(hi - lo)
		if err != nil {
			return nil, 0, 0, err
		}
		xt := tensor.New(tensor.WithShape(hi-lo, 1, ds.Rows, ds.Cols), tensor.WithBacking(ds.Images[lo*px:hi*px]))
		if err := gorgonia.Let(r.x, xt); err != nil {
			return nil, 0, 0, err
		}
		if err := r.vm.RunAll(); err != nil {
			return nil, 0, 0, err
		}
		logits, ok := r.out.Value().Data().([]float32)
		if !ok {
			return nil, 0, 0, fmt.Errorf("mnist: the model's output is %v, want float32 logits", r.out.Dtype())
		}
		for i := lo; i < hi; i++ {
			row := logits[(i-lo)*10 : (i-lo+1)*10]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			pred[i] = best
		}
		r.vm.Reset()
		bar.Add(hi - lo)
	}
	secs, cpuSecs = time.Since(start).Seconds(), (cpuTime() - cpu0).Seconds()
	bar.Finish()
	return pred, secs, cpuSecs, nil
}

// calibrationBatches returns the first n images of ds in batches (the
// calibration set, or test images for the numeric suite).
func calibrationBatches(ds *Dataset, n, batch int) []*tensor.Dense {
	n = min(n, ds.N)
	px := ds.Rows * ds.Cols
	var out []*tensor.Dense
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		data := append([]float32(nil), ds.Images[lo*px:hi*px]...)
		out = append(out, tensor.New(tensor.WithShape(hi-lo, 1, ds.Rows, ds.Cols), tensor.WithBacking(data)))
	}
	return out
}

// numericReport compares the fused float model with its per-channel PTQ
// twin layer by layer (package numeric, PyTorch's Numeric Suite): weights,
// module outputs, and each quantized module shadowing its float twin on
// the same input. It prints the ranked report, names the layers worth
// keeping in float, and writes report.txt, report.json and PNG plots to
// cfg.Out/numeric.
func numericReport(fused, quantized nn.Module, test *Dataset, cfg config, w io.Writer) error {
	fmt.Fprintf(w, "\n== numeric suite: fused float vs PTQ per-channel on %d test images\n", cfg.NumericImages)
	rep, err := numeric.Run(fused, quantized, calibrationBatches(test, cfg.NumericImages, cfg.EvalBatch))
	if err != nil {
		return err
	}
	if err := rep.WriteText(w); err != nil {
		return err
	}
	worst, err := rep.SuggestFloatFallback(2)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "layers to keep in float first (worst own error): %v\n", worst)
	dir := filepath.Join(cfg.Out, "numeric")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mnist: %w", err)
	}
	var txt, js bytes.Buffer
	if err := rep.WriteText(&txt); err != nil {
		return err
	}
	if err := rep.WriteJSON(&js); err != nil {
		return err
	}
	for name, b := range map[string][]byte{"report.txt": txt.Bytes(), "report.json": js.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("mnist: %w", err)
		}
	}
	files, err := rep.WritePlots(dir, worst...)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "numeric report and %d plots written to %s\n", len(files), dir)
	return nil
}
