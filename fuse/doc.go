// Package fuse is the home of qgorgonia's fused float modules (Conv+BN,
// Conv+BN+ReLU, Conv+ReLU, Linear+BN, Linear+ReLU, BN+ReLU) and of
// FuseModules, PyTorch's torch.ao.quantization.fuse_modules, together with
// the batch-norm folding arithmetic they rely on: FuseConvBNWeights and
// FuseLinearBNWeights, PyTorch's torch.nn.utils.fusion.fuse_conv_bn_weights
// and fuse_linear_bn_weights, computed in float32 in PyTorch's operation
// order.
package fuse
