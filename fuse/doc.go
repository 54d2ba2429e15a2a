// Package fuse is the home of qgorgonia's fused float modules (Conv+BN,
// Conv+BN+ReLU, Conv+ReLU, Linear+BN, Linear+ReLU, BN+ReLU) and of
// FuseModules, PyTorch's torch.ao.quantization.fuse_modules, together with
// the batch-norm folding arithmetic they rely on: FuseConvBNWeights and
// FuseLinearBNWeights, PyTorch's torch.nn.utils.fusion.fuse_conv_bn_weights
// and fuse_linear_bn_weights, computed in float32 in PyTorch's operation
// order.
//
// The fused modules (ConvBn2d, ConvBnReLU2d, ConvReLU2d, LinearReLU,
// LinearBn1d, BNReLU2d, ... of torch.nn.intrinsic) are sequences: they hold
// the float modules as children "0", "1"[, "2"] and run them in order, so
// their float output is that of the unfused modules and their state-dict
// keys are PyTorch's ("0.weight", "1.running_mean"). Package qat and the
// quantized modules are made from their children. TypeName returns the
// PyTorch class name, which torch.nn.intrinsic shares with the QAT twins of
// package qat; tell them apart by Go type (the Fused interface).
//
// FuseModules (eval: batch norms folded into the weights with FoldConvBN /
// FoldLinearBN) and FuseModulesQAT (training: ConvBn/ConvBnReLU/LinearBn1d
// keep the batch norm) replace each group of dotted paths by the module its
// fuser method builds, the other paths by nn.Identity, and move the first
// module's pre-hooks and the last module's output hooks to the fused
// module. The fuser-method table is PyTorch 1.13's
// DEFAULT_OP_LIST_TO_FUSER_METHOD (DefaultFuserMethods) and can be
// extended per call with WithFuserMethod. One deliberate difference: the
// folded convolution of an eval fusion is a hook-free copy, where PyTorch's
// deepcopy keeps the conv's hooks and then registers its pre-hooks a second
// time.
package fuse
