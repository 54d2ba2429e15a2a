// Command mnist trains a small CNN on MNIST-format images with Gorgonia and
// quantizes it to int8 with qgorgonia, the way PyTorch's eager-mode
// quantization tutorial does:
//
//  1. train the float model (TapeMachine, Adam, cross-entropy);
//  2. fuse conv+bn+relu and linear+relu (fuse.FuseModules);
//  3. post-training static quantization (eager.Prepare, calibrate on 1000
//     training images, eager.Convert), once with per-tensor and once with
//     per-channel weights;
//  4. quantization-aware training: fuse for QAT (fuse.FuseModulesQAT),
//     eager.PrepareQAT, train one more epoch with fake quantization,
//     eager.Convert;
//  5. save every model (eager.Save), load it back (eager.Load) and evaluate
//     the loaded model on the 10 000 test images.
//
// It prints accuracy, top-1 agreement with the float model, file size and
// inference speed for each model; -json writes the same numbers.
//
//	go run ./examples/mnist                      # Fashion-MNIST from Debian's dataset-fashion-mnist
//	go run ./examples/mnist -data ~/mnist        # real MNIST, same file names
//	go run ./examples/mnist -epochs 1 -limit 5000 -json out.json
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
)

func main() {
	cfg := defaultConfig()
	flag.StringVar(&cfg.Data, "data", cfg.Data, "directory with MNIST-format IDX files (train-images-idx3-ubyte[.gz], ...)")
	flag.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "float training epochs")
	flag.IntVar(&cfg.QATEpochs, "qat-epochs", cfg.QATEpochs, "quantization-aware training epochs (the float model is also fine-tuned this many epochs more, for a fair comparison; 0 skips QAT)")
	flag.IntVar(&cfg.Threads, "threads", cfg.Threads, "threads (GOMAXPROCS and int8 GEMM goroutines); 0 = all cores")
	flag.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed for weight initialisation and shuffling")
	flag.StringVar(&cfg.Out, "out", cfg.Out, "output directory for the saved models")
	flag.StringVar(&cfg.JSON, "json", cfg.JSON, "also write the results as JSON to this file")
	flag.IntVar(&cfg.Limit, "limit", cfg.Limit, "use only the first N training images (0 = all 60 000; the default keeps `make demo` under 10 minutes on 2 cores)")
	flag.IntVar(&cfg.TestLimit, "test-limit", cfg.TestLimit, "use only the first N test images (0 = all)")
	flag.IntVar(&cfg.Calib, "calib", cfg.Calib, "training images used to calibrate post-training quantization")
	flag.StringVar(&cfg.Backend, "backend", cfg.Backend, "qconfig backend: x86, fbgemm, onednn or qnnpack")
	flag.BoolVar(&cfg.Numeric, "numeric", cfg.Numeric, "run the numeric suite on the per-channel PTQ model: per-layer SQNR report, float-fallback suggestion and plots in <out>/numeric")
	flag.IntVar(&cfg.NumericImages, "numeric-images", cfg.NumericImages, "test images the numeric suite compares on")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.Threads > 0 {
		runtime.GOMAXPROCS(cfg.Threads)
	}
	res, err := run(cfg, os.Stdout)
	if err != nil {
		pprof.StopCPUProfile()
		log.Fatal(err)
	}
	printTable(os.Stdout, res)
	if cfg.JSON != "" {
		if err := writeJSON(cfg.JSON, res); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("results written to %s\n", cfg.JSON)
	}
	fmt.Printf("models saved in %s\n", cfg.Out)
}
