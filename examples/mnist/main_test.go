package main

import (
	"encoding/json"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSyntheticSplit writes n 28×28 images whose class is the row of a
// bright horizontal bar (plus noise), in MNIST's IDX format.
func writeSyntheticSplit(t *testing.T, dir, prefix string, n int, seed int64) {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	pix := make([]byte, n*28*28)
	lbl := make([]byte, n)
	for i := 0; i < n; i++ {
		c := r.Intn(10)
		lbl[i] = byte(c)
		img := pix[i*784 : (i+1)*784]
		for j := range img {
			img[j] = byte(r.Intn(60))
		}
		row := 3 + 2*c
		for x := 4; x < 24; x++ {
			img[row*28+x] = 255
			img[(row+1)*28+x] = 200
		}
	}
	must(t, os.WriteFile(filepath.Join(dir, prefix+"-images-idx3-ubyte"), idxBytes([]uint32{uint32(n), 28, 28}, pix), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, prefix+"-labels-idx1-ubyte"), idxBytes([]uint32{uint32(n)}, lbl), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func smallConfig(dir string) config {
	cfg := defaultConfig()
	cfg.Data = dir
	cfg.Out = filepath.Join(dir, "out")
	cfg.Limit = 256
	cfg.TestLimit = 150
	cfg.Calib = 100
	cfg.EvalBatch = 64
	cfg.Epochs = 1
	cfg.QATEpochs = 1
	cfg.Progress = false
	return cfg
}

// TestPipeline runs the whole example on a few hundred synthetic images:
// train, fuse, PTQ per-tensor and per-channel, QAT, save, load, evaluate.
// It checks the plumbing (every model saved, loaded and evaluated; int8
// files smaller; the table and JSON written), not the accuracy targets.
func TestPipeline(t *testing.T) {
	dir := t.TempDir()
	writeSyntheticSplit(t, dir, "train", 256, 1)
	writeSyntheticSplit(t, dir, "t10k", 150, 2)
	cfg := smallConfig(dir)
	res, err := run(cfg, io.Discard)
	must(t, err)
	want := []string{"float", "PTQ per-tensor", "PTQ per-channel", "QAT", "float +1 epoch"}
	if len(res.Rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(res.Rows), len(want), res.Rows)
	}
	floatBytes := res.Rows[0].FileBytes
	for i, r := range res.Rows {
		if r.Name != want[i] {
			t.Errorf("row %d is %q, want %q", i, r.Name, want[i])
		}
		st, err := os.Stat(r.File)
		if err != nil || st.Size() != r.FileBytes {
			t.Errorf("%s: file %s: %v (size %d, row says %d)", r.Name, r.File, err, st.Size(), r.FileBytes)
		}
		if r.Accuracy < 0 || r.Accuracy > 1 || r.Agreement < 0 || r.Agreement > 1 || !(r.Seconds > 0) || !(r.ImagesPS > 0) {
			t.Errorf("%s: implausible numbers %+v", r.Name, r)
		}
		quantized := strings.HasPrefix(r.Name, "PTQ") || r.Name == "QAT"
		// PyTorch's int8 state is 3.9× smaller than its float one.
		if quantized && 3.5*float64(r.FileBytes) > float64(floatBytes) {
			t.Errorf("%s: int8 file %d bytes is not 3.5× smaller than the float one (%d)", r.Name, r.FileBytes, floatBytes)
		}
	}
	// The bar task is easy: even one epoch on 256 images must beat chance
	// by far, and PTQ must mostly agree with float. These guard against a
	// pipeline that silently evaluates an untrained or broken model.
	if res.Rows[0].Accuracy < 0.5 {
		t.Errorf("float accuracy %.2f on the bar task: training did not work", res.Rows[0].Accuracy)
	}
	for _, r := range res.Rows[1:3] {
		if r.Agreement < 0.8 {
			t.Errorf("%s agrees with float on only %.2f of the images", r.Name, r.Agreement)
		}
	}

	var sb strings.Builder
	printTable(&sb, res)
	for _, name := range want {
		if !strings.Contains(sb.String(), name) {
			t.Errorf("table lacks %q:\n%s", name, sb.String())
		}
	}
	jp := filepath.Join(dir, "r.json")
	must(t, writeJSON(jp, res))
	b, err := os.ReadFile(jp)
	must(t, err)
	var back results
	must(t, json.Unmarshal(b, &back))
	if len(back.Rows) != len(res.Rows) || back.Rows[1].Accuracy != res.Rows[1].Accuracy {
		t.Errorf("JSON round trip lost rows: %s", b)
	}
}

// TestPipelineMissingData names the missing file.
func TestPipelineMissingData(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig(dir)
	_, err := run(cfg, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "train-images-idx3-ubyte") {
		t.Fatalf("got %v, want an error naming train-images-idx3-ubyte", err)
	}
}

// TestPipelineNumeric runs the PTQ part with -numeric: the report names
// every quantized layer and the plots are written beside it.
func TestPipelineNumeric(t *testing.T) {
	dir := t.TempDir()
	writeSyntheticSplit(t, dir, "train", 128, 1)
	writeSyntheticSplit(t, dir, "t10k", 64, 2)
	cfg := smallConfig(dir)
	cfg.Limit, cfg.TestLimit, cfg.Calib = 128, 64, 64
	cfg.QATEpochs = 0
	cfg.Numeric, cfg.NumericImages = true, 64
	var out strings.Builder
	_, err := run(cfg, &out)
	must(t, err)
	report, err := os.ReadFile(filepath.Join(cfg.Out, "numeric", "report.txt"))
	must(t, err)
	for _, layer := range []string{"QuantizedConvReLU2d", "QuantizedLinearReLU", "QuantizedLinear"} {
		if !strings.Contains(string(report), layer) {
			t.Errorf("numeric report does not mention %s:\n%s", layer, report)
		}
	}
	if !strings.Contains(out.String(), "layers to keep in float first") {
		t.Errorf("no float-fallback suggestion in the output")
	}
	pngs, err := filepath.Glob(filepath.Join(cfg.Out, "numeric", "*.png"))
	must(t, err)
	if len(pngs) == 0 {
		t.Errorf("no plots written")
	}
}
