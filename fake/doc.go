// Package fake implements PyTorch 1.13's fake quantization
// (torch.ao.quantization.fake_quantize and the fake_quantize_* operators)
// for quantization-aware training with Gorgonia.
//
// Three layers:
//   - pure functions on float32 tensors: FakeQuantizePerTensorAffine and
//     FakeQuantizePerChannelAffine (forward and STE mask), and the learnable
//     (LSQ) forward and backward, FakeQuantizeLearnablePerTensorAffine[Backward]
//     and FakeQuantizeLearnablePerChannelAffine[Backward];
//   - the modules, which own an observer and the qparam buffers:
//     FakeQuantizer (FakeQuantize, and FixedQParamsFakeQuantize through
//     NewFixedQParamsFakeQuantize), FusedMovingAvgObsFakeQuantize and
//     LearnableFakeQuantizer (_LearnableFakeQuantize);
//   - differentiable Gorgonia ops built by FakeQuantize (straight-through
//     estimator: dX = dY·[qmin ≤ zp + rne(x/scale) ≤ qmax]) and
//     LearnableFakeQuantize (gradients to x, scale and zero point, whose
//     scale and zero point are graph inputs a solver trains). Both implement
//     SDOp (TapeMachine, Grad) and ADOp (LispMachine), UsePreallocDoer and
//     TrainModeOp, and hash uniquely so two of them on the same input never
//     merge.
//
// Everything is float32 with PyTorch's operation order: the quantized value is
// zp + rne(x·f32(1/scale)) (reciprocal multiply, ties to even) and the output
// f32((clamp(q) − zp)·scale).
//
// Deviation: PyTorch's FakeQuantize observes in eval mode too; the Gorgonia
// op observes only while it is in training mode (the default, and what a
// machine built without gorgonia.EvalMode sets), so an evaluation machine
// does not move the qparams.
package fake
