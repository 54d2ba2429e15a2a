package nn

import (
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
