package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file exports what packages building on nn (fuse, qat, eager and
// the quantized modules of nodes) need to write modules of their own.

// CloneBase returns a copy of b for a module's Clone: children are cloned
// recursively, hook slices copied (the functions shared), QConfig and the
// training flag kept.
func (b *Base) CloneBase() Base { return b.cloneBase() }

// ApplyOutputHooks runs b's output hooks on y, in order; a module whose
// results do not come out of Forward (FloatFunctional-like) calls it.
func (b *Base) ApplyOutputHooks(y *gorgonia.Node) (*gorgonia.Node, error) {
	return b.applyOutputHooks(y)
}

// NewBuffer wraps d as a non-learnable buffer (RequiresGrad false), listed
// by NamedBuffers and saved in state dicts but skipped by Learnables.
func NewBuffer(d *tensor.Dense) *Parameter { return newBuffer(d) }

// ChannelAffine returns y = x·scale[c] + shift[c] with c the index along
// axis (scale and shift are vectors of x.Shape()[axis] elements; either may
// be nil). Differentiable in x, scale and shift; QAT's ConvBn uses it to
// scale a convolution's output or weight per channel.
func ChannelAffine(x, scale, shift *gorgonia.Node, axis int) (*gorgonia.Node, error) {
	if err := checkF32Node("channel_affine", x, -1); err != nil {
		return nil, err
	}
	if axis < 0 || axis >= x.Shape().Dims() {
		return nil, fmt.Errorf("nn: channel_affine: axis %d out of range for shape %v", axis, x.Shape())
	}
	y := x
	var err error
	if scale != nil {
		if y, err = spanApply(y, scale, spanMul, axis, axis+1); err != nil {
			return nil, err
		}
	}
	if shift != nil {
		if y, err = spanApply(y, shift, spanAdd, axis, axis+1); err != nil {
			return nil, err
		}
	}
	return y, nil
}

// InvStd returns 1/√(v + eps) elementwise (float32 v), the BatchNorm
// inverse standard deviation, with a correct gradient (Gorgonia's
// InverseSqrt has a wrong one).
func InvStd(v *gorgonia.Node, eps float64) (*gorgonia.Node, error) {
	return activate(v, act{kind: actInvStd, e: eps})
}
