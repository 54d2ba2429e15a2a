package fuse

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/tensor"
)

// ConvOf returns the convolution state of an nn.Conv1d/2d/3d or
// nn.ConvTranspose1d/2d/3d and whether it is a transposed one; ok is false
// for any other module.
func ConvOf(m nn.Module) (c *nn.ConvNd, transposed, ok bool) {
	switch v := m.(type) {
	case *nn.Conv1d:
		return &v.ConvNd, false, v != nil
	case *nn.Conv2d:
		return &v.ConvNd, false, v != nil
	case *nn.Conv3d:
		return &v.ConvNd, false, v != nil
	case *nn.ConvTranspose1d:
		return &v.ConvNd, true, v != nil
	case *nn.ConvTranspose2d:
		return &v.ConvNd, true, v != nil
	case *nn.ConvTranspose3d:
		return &v.ConvNd, true, v != nil
	}
	return nil, false, false
}

// bnState returns the batch norm's folding inputs.
func bnState(op string, bn *nn.BatchNorm) error {
	if bn == nil {
		return fmt.Errorf("fuse: %s: batch norm is nil", op)
	}
	if bn.RunningMean == nil || bn.RunningVar == nil {
		return fmt.Errorf("fuse: %s: %s has no running statistics (track_running_stats=False) to fold", op, bn.TypeName())
	}
	if bn.Training() {
		return fmt.Errorf("fuse: %s: fusion only for eval: %s is in training mode", op, bn.TypeName())
	}
	return nil
}

func data(p *nn.Parameter) *tensor.Dense {
	if p == nil {
		return nil
	}
	return p.Data
}

// FoldConvBN is torch.nn.utils.fusion.fuse_conv_bn_eval: a copy of conv
// (nn.Conv1d/2d/3d or nn.ConvTranspose1d/2d/3d, in eval mode) whose weight
// and bias absorb the eval-mode batch norm bn (FuseConvBNWeights with bn's
// running statistics, eps, weight and bias; transposed weights scale along
// dim 1). A conv without bias gets one. The copy has no hooks; conv and bn
// are not changed. Errors: either module in training mode, a module of
// another type, bn without running statistics, channel mismatch.
func FoldConvBN(conv nn.Module, bn *nn.BatchNorm) (nn.Module, error) {
	const op = "fuse_conv_bn_eval"
	if conv == nil {
		return nil, fmt.Errorf("fuse: %s: conv is nil", op)
	}
	if _, _, ok := ConvOf(conv); !ok {
		return nil, fmt.Errorf("fuse: %s: %s is not a convolution", op, conv.TypeName())
	}
	if err := bnState(op, bn); err != nil {
		return nil, err
	}
	if conv.ModuleBase().Training() {
		return nil, fmt.Errorf("fuse: %s: fusion only for eval: %s is in training mode", op, conv.TypeName())
	}
	fused := conv.Clone()
	c, transposed, _ := ConvOf(fused)
	w, b, err := FuseConvBNWeights(c.Weight.Data, data(c.Bias), bn.RunningMean.Data, bn.RunningVar.Data, bn.Eps, data(bn.Weight), data(bn.Bias), transposed)
	if err != nil {
		return nil, err
	}
	c.Weight = nn.NewParameter(w)
	c.Bias = nn.NewParameter(b)
	fb := fused.ModuleBase()
	fb.PreHooks, fb.OutputHooks = nil, nil
	return fused, nil
}

// FoldLinearBN is torch.nn.utils.fusion.fuse_linear_bn_eval: a copy of
// linear whose weight and bias absorb the eval-mode BatchNorm1d bn
// (FuseLinearBNWeights). Both must be in eval mode; the copy has no hooks.
func FoldLinearBN(linear *nn.Linear, bn *nn.BatchNorm) (*nn.Linear, error) {
	const op = "fuse_linear_bn_eval"
	if linear == nil {
		return nil, fmt.Errorf("fuse: %s: linear is nil", op)
	}
	if err := bnState(op, bn); err != nil {
		return nil, err
	}
	if linear.Training() {
		return nil, fmt.Errorf("fuse: %s: fusion only for eval: Linear is in training mode", op)
	}
	fused := linear.Clone().(*nn.Linear)
	w, b, err := FuseLinearBNWeights(fused.Weight.Data, data(fused.Bias), bn.RunningMean.Data, bn.RunningVar.Data, bn.Eps, data(bn.Weight), data(bn.Bias))
	if err != nil {
		return nil, err
	}
	fused.Weight = nn.NewParameter(w)
	fused.Bias = nn.NewParameter(b)
	fused.PreHooks, fused.OutputHooks = nil, nil
	return fused, nil
}
