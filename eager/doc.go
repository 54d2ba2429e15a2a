// Package eager is PyTorch 1.13's eager-mode quantization workflow
// (torch.ao.quantization) for qgorgonia's module trees: QConfig and the
// per-backend defaults, QuantStub / DeQuantStub / QuantWrapper,
// PropagateQConfig, Prepare, PrepareQAT, Convert, Quantize, QuantizeDynamic,
// QuantizeQAT, SwapModule, GetObserverDict, the module mappings, and a
// versioned Save / Load format.
//
// # The flow
//
//	model := ...                                   // nn modules + NewQuantStub / NewDeQuantStub
//	fused, _ := fuse.FuseModules(nn.Eval(model), groups)
//	fused.ModuleBase().QConfig, _ = eager.GetDefaultQConfig("x86")
//	prepared, _ := eager.Prepare(fused)            // observers on module outputs
//	for _, b := range batches { eager.Run(prepared, b) } // calibration
//	quantized, _ := eager.Convert(prepared)        // int8 modules of package nodes
//	y, _ := eager.Run(quantized, x)                // or nn.Call on your own graph
//
// PrepareQAT swaps modules for package qat's twins (weights fake-quantized,
// activations through fake.FakeQuantize) so the model trains with Gorgonia's
// solvers; Convert then folds batch norms and quantizes. QuantizeDynamic
// replaces Linear, LSTM, GRU and the recurrent cells by dynamically
// quantized modules (qint8 weights; float16 weights for Linear, LSTM and
// GRU) without calibration.
//
// A Gorgonia graph cannot be rewritten from outside its package, so every
// step changes the module tree and the caller builds a fresh graph (Run does
// that). Prepared models observe every time their graph runs.
//
// # Semantics kept from PyTorch
//
//   - A module's qconfig is Base.QConfig: a *QConfig, nil (inherit) or
//     NoQConfig (PyTorch's None). Precedence: own, QConfigDict name, type,
//     parent.
//   - Observers (QConfig.Activation) go on the output of the QuantStub, of
//     every module whose TypeName is a key of the static, QAT or dynamic
//     mapping (fused and QAT modules as a unit, after their ReLU) and of
//     FloatFunctional; Dropout, DeQuantStub and unmapped modules (ReLU,
//     pools, Flatten, ...) get none. Prepare puts the observer first in
//     OutputHooks and records it in an *Observed left in Base.QConfig.
//   - A fused float module (package fuse) observes its output twice per
//     forward, as PyTorch's nn.Sequential-based fused modules run their
//     activation_post_process child inside forward and again in the hook; it
//     matters for moving-average observers and is required to match
//     PyTorch's numbers.
//   - Convert makes a fresh weight observer (QConfig.Weight) observe the
//     final float weight once; QAT modules instead run their trained weight
//     fake quantizer once more on the (batch-norm folded) weight. Weights are
//     clamped into narrow observer ranges (_clamp_weights). Output qparams
//     are the activation observer's calculate_qparams().
//   - Module types are matched by TypeName. QAT modules share their float
//     twins' names (as PyTorch's classes do); the converters tell them apart
//     by Go type.
//   - The root module itself is never swapped (PyTorch's _convert walks
//     children); wrap a bare layer in a Sequential or a QuantWrapper.
//
// # Choices of this port
//
//   - Float modules that PyTorch runs unchanged on quantized tensors (ReLU,
//     MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Hardtanh, Upsample, Flatten,
//     Dropout, Identity, Sigmoid, Tanh, Hardsigmoid) are wrapped by Convert
//     in nodes.Passthrough, which dispatches on the input dtype when the
//     graph is built.
//
//   - After a static Convert, every module left float gets a pre-hook that
//     turns a quantized input into an error naming the module's path and why
//     it stayed float; quantized modules fed float32 say that a QuantStub is
//     probably missing.
//
//   - Extend the mappings with RegisterStatic, RegisterQAT and
//     RegisterDynamic (keyed by TypeName), or pass WithMapping; extend Save
//     and Load with RegisterCodec.
//
//   - Memoryless observers (moving average with averaging constant 1)
//     observe the module's input through a pre-hook, and in training mode
//     Sigmoid, Hardsigmoid, Softmax and Tanh get PyTorch's fixed-qparams
//     fake quantizers, as add_observer_ does.
//
// Not provided: the custom-module swaps (quantizable LSTM and
// MultiheadAttention), reference (is_reference) modules and the embedding
// weight-only configs.
package eager
