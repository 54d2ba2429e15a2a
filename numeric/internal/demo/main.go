// Command demo shows what the Numeric Suite finds in a model where one
// layer was quantized badly, and writes the material of the README's
// Numeric Suite section:
//
//	go run ./numeric/internal/demo -out numeric/internal/demo/output
//
// The model is a small CNN (QuantStub, Conv2d+BatchNorm2d+ReLU, MaxPool2d,
// Flatten, Linear+ReLU, Linear, DeQuantStub) with seeded random weights,
// fused, calibrated on random images and converted with the fbgemm qconfig;
// then the output scale of layer 6 (the QuantizedLinearReLU) is made 20
// times too small, the mistake a bad calibration set makes. The suite ranks
// layer 6 worst by its own (shadow) error, shows that layer 8 only inherits
// the damage, and suggests layer 6 for float fallback. It writes
// report.txt, report.json, sqnr_*.png and hist_shadow_6.png into -out.
package main

import (
	"flag"
	"fmt"
	"log"
	"math/rand"
	"os"
	"path/filepath"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/numeric"
	"gorgonia.org/tensor"
)

func batches(r *rand.Rand, n int, shape ...int) []*tensor.Dense {
	size := 1
	for _, d := range shape {
		size *= d
	}
	out := make([]*tensor.Dense, n)
	for i := range out {
		v := make([]float32, size)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		out[i] = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	return out
}

func run(out string) error {
	r := rand.New(rand.NewSource(6))
	conv, err := nn.NewConv2d(1, 8, []int{3}, nn.Padding(1), nn.WithSeed(1))
	if err != nil {
		return err
	}
	bn, err := nn.NewBatchNorm2d(8)
	if err != nil {
		return err
	}
	for i := range bn.RunningVar.Data.Float32s() {
		bn.RunningMean.Data.Float32s()[i] = float32(r.NormFloat64()) * 0.1
		bn.RunningVar.Data.Float32s()[i] = 1 + float32(r.Float64())
	}
	pool, err := nn.NewMaxPool2d([]int{2})
	if err != nil {
		return err
	}
	l1, err := nn.NewLinear(8*8*8, 32, nn.WithSeed(2))
	if err != nil {
		return err
	}
	l2, err := nn.NewLinear(32, 10, nn.WithSeed(3))
	if err != nil {
		return err
	}
	m, err := nn.NewSequential(eager.NewQuantStub(nil), conv, bn, nn.NewReLU(), pool, nn.NewFlatten(), l1, nn.NewReLU(), l2, eager.NewDeQuantStub(nil))
	if err != nil {
		return err
	}
	nn.Eval(m)
	fused, err := fuse.FuseModules(m, [][]string{{"1", "2", "3"}, {"6", "7"}})
	if err != nil {
		return err
	}
	if fused.ModuleBase().QConfig, err = eager.GetDefaultQConfig("fbgemm"); err != nil {
		return err
	}
	prepared, err := eager.Prepare(fused)
	if err != nil {
		return err
	}
	if err := eager.DefaultEvalFn(prepared, batches(r, 8, 32, 1, 16, 16)); err != nil {
		return err
	}
	quant, err := eager.Convert(prepared)
	if err != nil {
		return err
	}
	// The mistake: layer 6's output scale is 20 times too small.
	q6, err := nn.Get(quant, "6")
	if err != nil {
		return err
	}
	ql := q6.(*nodes.QuantizedLinear)
	w, b := ql.Weight()
	bad, err := nodes.NewQuantizedLinear(w, b, ql.Scale/20, ql.ZeroPoint, ql.ReLU)
	if err != nil {
		return err
	}
	if err := nn.Set(quant, "6", bad); err != nil {
		return err
	}

	rep, err := numeric.Run(fused, quant, batches(r, 4, 32, 1, 16, 16))
	if err != nil {
		return err
	}
	if err := rep.WriteText(os.Stdout); err != nil {
		return err
	}
	worst, err := rep.SuggestFloatFallback(1)
	if err != nil {
		return err
	}
	fmt.Println("\nkeep in float:", worst)
	if out == "" {
		return nil
	}
	for name, write := range map[string]func(*os.File) error{
		"report.txt":  func(f *os.File) error { return rep.WriteText(f) },
		"report.json": func(f *os.File) error { return rep.WriteJSON(f) },
	} {
		f, err := os.Create(filepath.Join(out, name))
		if err != nil {
			return err
		}
		if err := write(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	files, err := rep.WritePlots(out, worst...)
	if err != nil {
		return err
	}
	fmt.Println("written:", files)
	return nil
}

func main() {
	out := flag.String("out", "", "directory for report.txt, report.json and the PNG plots (empty: print only)")
	flag.Parse()
	if err := run(*out); err != nil {
		log.Fatal(err)
	}
}
