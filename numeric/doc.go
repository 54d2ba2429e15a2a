// Package numeric is qgorgonia's Numeric Suite (PyTorch 1.13:
// torch.ao.ns._numeric_suite): when a quantized model loses accuracy, it
// tells which layer did it.
//
// Three comparisons of a float model with the model converted from it,
// each a Comparison with one Layer per module (or weight):
//
//   - CompareWeights (compare_weights): every int8 weight against the float
//     weight it was made from (batch norms folded in when the float model
//     still has them).
//   - CompareModelOutputs (compare_model_outputs): both models run on the
//     same batches; loggers on the output of every matching module pair
//     accumulate the error of the dequantized quantized output against the
//     float output. A layer's error here includes what it inherits.
//   - CompareModelStub (compare_model_stub with Shadow modules): each
//     quantized module runs beside its float twin on the same, dequantized
//     input; the error is the layer's own.
//
// Modules are matched by their path in the module tree ("features.0"). The
// float model should be the fused float model the quantized one was
// converted from; an unfused model works too (a fused group's quantized
// module is compared with the float output at the group's last path, and
// Conv+BN weights are folded before comparison).
//
// Each Layer carries Metrics, accumulated over all batches in float64:
// SQNR in dB (20·log10(‖x‖/‖x−y‖), compute_sqnr), max and mean absolute
// error, cosine similarity, and for quantized tensors the fraction of codes
// at qmin and qmax and of float values the quantized range cannot
// represent (Clipped: the sign of a scale that is too small). Run makes all
// three comparisons as a Report, written as plain-text tables ranked worst
// first (WriteText: a summary of each layer's own, output and weight SQNR,
// then one table per comparison), as JSON (WriteJSON), and as PNG plots
// through gonum.org/v1/plot (WritePlots: a per-layer SQNR bar chart per
// comparison, own against output SQNR per layer (PlotSummary) and, for the
// layers asked for, a histogram of float against dequantized values with
// the quantization range marked). SuggestFloatFallback names the k layers
// with the worst own (shadow) error; ApplyFloatFallback gives them a nil
// qconfig (eager.NoQConfig) so that Prepare and Convert keep them float.
//
// The models get temporary hooks (nn.Base PreHooks and OutputHooks) while a
// comparison runs, removed before it returns; outputs are read with
// gorgonia.Read, so later ops reusing a register cannot overwrite them.
// Modules whose forward depends on the mode (BatchNorm, Dropout, recurrent
// layers) must be in eval mode.
//
// Differences from PyTorch: the metrics are computed in float64 (PyTorch's
// compute_sqnr uses float32 norms: 14.7712125778 against 14.7712125472 dB
// for (1, 2, 3, 4) vs (1, 2, 3, 5)); SQNR is +Inf for identical tensors
// and −Inf for a zero reference (PyTorch: NaN for 0/0); loggers keep
// streaming sums and a fixed-seed uniform sample of values (WithMaxSamples)
// instead of every tensor; FloatFunctional operations are logged by
// CompareModelOutputs but not shadowed. PyTorch 1.13's ShadowLogger keeps
// only the first sample of a batched output (x = x[0] whenever len(x) > 1,
// meant for tuples); the shadow comparison here uses whole outputs, and
// agrees with PyTorch given one sample, or a ShadowLogger without the
// slicing (testdata/golden_suite.json). PyTorch's compare_model_outputs
// reports no entry for a fused LinearReLU of that golden model; here every
// matching module, fused ones included, is compared.
//
// A command line flag, e.g. examples/mnist's -numeric, needs ten lines:
//
//	if *numericFlag {
//		rep, err := numeric.Run(fusedFloat, quantized, testBatches[:8]) // float32 (N, 1, 28, 28)
//		if err != nil {
//			log.Fatal(err)
//		}
//		rep.WriteText(os.Stdout) // shadow, output and weight tables, worst first
//		worst, _ := rep.SuggestFloatFallback(2)
//		fmt.Println("keep in float:", worst)
//		files, err := rep.WritePlots(outDir, worst...) // sqnr_*.png, hist_*.png
//		fmt.Println("plots:", files, err)
//	}
package numeric
