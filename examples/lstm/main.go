// Command lstm trains a word-level LSTM language model with Gorgonia and
// quantizes it dynamically with qgorgonia, as PyTorch's dynamic
// quantization tutorial does:
//
//  1. train Embedding → 2-layer LSTM → Linear on the King James Bible (or
//     any text file) with truncated back-propagation through time, for a
//     time budget (or load a saved model);
//
//  2. eager.QuantizeDynamic {LSTM, Linear} to qint8 and to float16;
//
//  3. save each model (eager.Save), load it back and report validation and
//     test perplexity, model size and tokens/s at batch 20 and batch 1.
//
//     go run ./examples/lstm                               # KJV from Debian's bible-kjv, 3 minutes of training
//     go run ./examples/lstm -train-minutes 8 -save lm.qgm
//     go run ./examples/lstm -load lm.qgm -json results.json
//     go run ./examples/lstm -text mybook.txt -vocab-size 5000
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
	flag.StringVar(&cfg.Text, "text", cfg.Text, "text file, one sentence per line (default: the King James Bible from Debian's bible-kjv)")
	flag.Float64Var(&cfg.TrainMinutes, "train-minutes", cfg.TrainMinutes, "training time budget in minutes")
	flag.IntVar(&cfg.MaxSteps, "max-steps", cfg.MaxSteps, "stop training after this many steps (0 = only the time budget)")
	flag.StringVar(&cfg.Load, "load", cfg.Load, "load the float model from this file instead of training")
	flag.StringVar(&cfg.Save, "save", cfg.Save, "save the trained float model to this file")
	flag.StringVar(&cfg.Out, "out", cfg.Out, "output directory for the float, int8 and float16 models")
	flag.StringVar(&cfg.JSON, "json", cfg.JSON, "also write the results as JSON to this file")
	flag.IntVar(&cfg.VocabSize, "vocab-size", cfg.VocabSize, "keep the N−2 most frequent training words plus <eos> and <unk> (0 = every word)")
	flag.IntVar(&cfg.EvalTokens, "eval-tokens", cfg.EvalTokens, "evaluate on at most this many validation and test tokens (0 = all)")
	flag.IntVar(&cfg.B1Tokens, "b1-tokens", cfg.B1Tokens, "test tokens run at batch 1 for the batch-1 speed")
	flag.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam learning rate")
	flag.IntVar(&cfg.Threads, "threads", cfg.Threads, "threads (GOMAXPROCS and int8 GEMM goroutines); 0 = all cores")
	flag.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed for weight initialisation and dropout")
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
