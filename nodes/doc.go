// Package nodes provides PyTorch 1.13's quantized operators as Gorgonia
// graph nodes: Quantize and Dequantize, and one builder per functional op
// of package ops (QLinear, QConv2d, QReLU, QMaxPool2d, QAdd, QBatchNorm2d,
// DynamicLinear, ...). PyTorch counterparts: torch.nn.quantized,
// torch.nn.quantized.dynamic and torch.nn.intrinsic.quantized.
//
// Inside a graph a quantized value is a plain *tensor.Dense of dtype
// qdtype.QUInt8Dtype, QInt8Dtype or QInt32Dtype; Gorgonia clones and copies
// values through type switches that only keep *tensor.Dense. Quantization
// parameters therefore live on the op that produced a node and are fixed
// when the node is built, as PyTorch's convert bakes them into quantized
// modules. QParamsOf finds them; Value returns a node's value as a
// qtensor.QTensor; AttachQParams declares the qparams of a quantized input
// node.
//
// Every builder validates dtypes, shapes and parameters at graph
// construction by a dry run of the ops function on zeros (with batch 1
// where the op has a batch dimension), so mistakes surface as build errors,
// not in RunAll. Weights are packed once, when the node is built.
//
// All nodes are built from one op type, *Op. It is a gorgonia.SDOp that is
// not differentiable (DiffWRT is all false; Grad through a quantized node
// returns an error, and the LispMachine's backward pass treats these nodes
// as constants), implements UsePreallocDo, never overwrites or aliases its
// inputs, and never panics: a bad value reaching Do (wrong type, dtype or
// shape) is an error from RunAll. Ops that hold weights hash uniquely, so
// Gorgonia's hash-consing never merges two of them; stateless ops with
// equal parameters on the same inputs may be merged, which is harmless.
// Results are bit-identical to the ops functions under TapeMachine (with or
// without TraceExec) and LispMachine, and a RunAll after Reset reproduces
// them exactly.
//
// Limits that come from Gorgonia v0.9.18 itself: the LispMachine cannot run
// a graph whose root (a node nothing consumes) is quantized, because it
// cannot make the root's dual value ("Unhandled dtype"), so end such graphs
// with Dequantize; it also writes err.dot into the working directory when a
// run fails. Zero-size tensors crash TraceExec (tensor.Copy) and Gorgonia's
// own float ops, though the nodes of this package handle them.
package nodes
