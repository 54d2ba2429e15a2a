// Package qat holds qgorgonia's quantization-aware-training modules, the
// counterparts of PyTorch 1.13's torch.nn.qat (Linear, Conv1d/2d/3d) and
// torch.nn.intrinsic.qat (ConvBn{1,2,3}d, ConvBnReLU{1,2,3}d,
// ConvReLU{1,2,3}d, LinearReLU, LinearBn1d).
//
// Each module is made by FromFloat from a float module of package nn or a
// fused module of package fuse (as eager.PrepareQAT does), shares that
// module's Parameters and buffers, and holds a weight fake-quantizer
// (fake.Quantizer, PyTorch's weight_fake_quant). Its Forward builds the
// float computation with the weight passed through the differentiable
// fake.FakeQuantize op (straight-through estimator), so a model trains with
// Gorgonia's solvers while seeing int8-rounded weights. The output
// fake-quantization of activations is not part of the module: eager
// attaches it as an output hook, as PyTorch attaches activation_post_process.
//
// ConvBn and LinearBn follow PyTorch 1.13's default _forward_approximate
// exactly (the weight folded with the batch norm's running std before fake
// quantization, the conv output divided back by the scale factor, then a
// real batch norm that updates its running statistics); FreezeBNStats and
// UpdateBNStats switch the batch norm between its running and batch
// statistics. PyTorch's optional slow path
// (_enable_slow_path_for_better_numerical_stability) is not provided.
//
// For convert, every module reports its weight fake-quantizer
// (WeightFakeQuant), whether a ReLU is fused (FusedReLU), its convolution
// geometry (ConvModule.Conv) and the float weight and bias to quantize,
// with the batch norm folded in with its current running statistics
// (FoldedWeightBias).
package qat
