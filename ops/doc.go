// Package ops holds qgorgonia's quantized functional operators on
// qtensor.QTensor values, with PyTorch 1.13 semantics: linear and
// convolutions, activations, pooling and resampling, elementwise add/mul/cat,
// normalizations, and the dynamic (float in, float out) linear and recurrent
// cells. Every op validates its arguments and returns an error rather than
// panicking; inputs are never modified. PyTorch counterparts:
// torch.nn.quantized.functional, torch.ops.quantized, QFunctional.
package ops
