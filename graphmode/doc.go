// Package graphmode quantizes plain Gorgonia expression graphs, built
// directly from Gorgonia's own ops without a module tree: PyTorch 1.13's
// graph-mode entry points torch.ao.quantization.quantize_jit (static
// post-training quantization, QuantizeGraph) and quantize_dynamic_jit
// (QuantizeDynamicGraph).
//
// A Gorgonia graph cannot be rewritten from outside its package, so both
// functions read the float graph (g.AllNodes, g.From, node ops, names and
// values) and build NEW graphs: the original graph, its nodes, values and
// ops are never modified. The Result maps the original data inputs and
// outputs to the new nodes, so callers Let the new inputs and read the new
// outputs exactly as before; its Report (Describe) lists what was
// quantized, what stayed float and why.
//
// # Recognised patterns
//
// Gorgonia's ops are unexported types; graphmode identifies them by their
// Go type name (fmt's %T) and String(), and reads hyper-parameters of
// im2col, max-pool and batch-norm ops with reflection (read only). The
// patterns, each rooted at the last node it covers:
//
//   - linear: gorgonia.Mul(x, W) ("A × B", or "A × Bᵀ" with W as (N, K)) of a
//     rank-2 activation x and a rank-2 weight input W that has a value,
//     optionally followed by a bias add (Add, or BroadcastAdd's
//     reshape/repeat chain, of a weight input holding N values), by
//     gorgonia.BatchNorm (folded, as fuse_linear_bn_eval) and by Rectify,
//     which is fused (nn.intrinsic.quantized.LinearReLU);
//   - conv: gorgonia.Conv2d's subgraph im2col → reshape → A × Bᵀ → reshape →
//     transpose{0,3,1,2} with its filter input (O, C, kh, kw), optionally
//     followed by a per-channel bias add, by gorgonia.BatchNorm (folded into
//     the weights with its running statistics, eps and per-channel γ and β,
//     as fuse_conv_bn_eval) and by Rectify (ConvReLU2d);
//   - add: Add of two activations of one shape, with Rectify fused (add_relu);
//   - ops that keep their input's qparams when their input is quantized:
//     Rectify alone (quantized ReLU), MaxPool2D (symmetric padding),
//     Reshape;
//   - Dropout is the identity at inference and is dropped.
//
// Rectify is Gorgonia's x ⊙ (x ≥ 0) pair of element-wise ops ("⊙ false" of x
// and the "≥ true" comparison of x with the constant 0). A fused
// intermediate (the matmul, the bias add, the conv, the batch norm) must feed
// only the next op of its pattern and must not be an output; otherwise the
// pattern ends there.
//
// Every other op (Tanh, SoftMax, Sigmoid, matmuls of two activations or of
// a weight and a data input, ...) stays float: its quantized inputs are
// dequantized, and a quantized pattern consuming its float output quantizes
// it again with the qparams an observer recorded there during calibration.
// Data inputs are float32 nodes; quantized outputs are dequantized, so the
// new graph has the same float32 interface as the original. A batch norm
// that cannot be folded (not after a conv or linear, or with γ and β that
// vary along other axes, as gorgonia.BatchNorm's default full-shape γ and β
// do) stays float in its eval form (running statistics), computed by an op
// of this package rather than by sharing Gorgonia's stateful BatchNormOp
// with the original graph.
//
// QuantizeDynamicGraph replaces only linear patterns (matmul with a weight,
// bias add); convolutions and everything else stay float, as PyTorch's
// dynamic quantization covers Linear and RNN modules.
//
// # Inputs, weights, values
//
// An input node (no op) in a weight position — the right operand of a
// matmul whose left operand carries data, a Conv2d filter, a bias or
// batch-norm γ/β of a recognised pattern — is a weight and must hold a value
// (gorgonia.WithValue or WithInit); one without a value is an error. An
// input without a value on the right of a matmul whose left operand is a
// weight is data (the W·X layout, which stays float). Other input nodes are
// data inputs: they are recreated in the new graphs (with a copy of their
// value, if they have one) for the caller to Let. Only float32 graphs are
// supported.
//
// # Numerics
//
// The quantized graph is built from package nodes (Quantize, QLinear,
// QConv2d, QReLU, QMaxPool2d, QAdd, QReshape, DynamicLinear, Dequantize)
// and computes exactly what PyTorch 1.13's fbgemm quantized ops compute
// with the same weights and observed qparams: weights are quantized once
// with a fresh weight observer of the QConfig (eager.QConfig, shared with
// the eager workflow; nodes.QuantizeWeight, with _clamp_weights), output
// qparams come from one activation observer per quantized op output and
// per float value entering a quantized op, watched while the caller's
// calibration runs (observers see the float graph with batch norms folded,
// as PyTorch's fused modules do). Fused patterns match eager mode after
// fuse_modules: a fused ReLU is observed after the ReLU.
//
// The result equals eager mode on the equivalent nn model up to the float
// arithmetic of calibration: gorgonia.Mul and package nn's matmul can
// differ in the last bit, so observed ranges (and then scales) can differ
// by an ulp; with the same observed ranges the int8 graphs are bit-identical.
package graphmode
