package nn

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file holds the plumbing shared by the package's own Gorgonia ops:
// value checks that return errors (never panic, research note §5 P1),
// hashing, and gradient accumulation for the LispMachine's DoDiff.

var opIDs atomic.Uint64

// nextOpID returns a process-unique id that stateful ops write into their
// hash so Gorgonia's hash-consing never merges two of them (§5 P5).
func nextOpID() uint64 { return opIDs.Add(1) }

// hashOf is the fnv32a of an op's WriteHash, as Gorgonia's unexported simpleHash.
func hashOf(op interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// f32Type is the Gorgonia type of a float32 tensor of the given rank
// (the bare dtype for rank 0).
func f32Type(dims int) hm.Type {
	if dims == 0 {
		return tensor.Float32
	}
	return gorgonia.TensorType{Dims: dims, Of: tensor.Float32}
}

// sameType is the polymorphic a → a type.
func sameType() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}

// f32Data checks that v is a float32 *tensor.Dense of the expected shape
// (nil shape: any) and returns its logical elements in row-major order,
// materializing strided views first (§5 P13).
func f32Data(op string, v gorgonia.Value, shape tensor.Shape) ([]float32, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("nn: %s: input is %T, want *tensor.Dense", op, v)
	}
	if d.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("nn: %s: input dtype is %v, want float32", op, d.Dtype())
	}
	if shape != nil && !d.Shape().Eq(shape) {
		return nil, fmt.Errorf("nn: %s: input shape is %v, want %v", op, d.Shape(), shape)
	}
	if d.RequiresIterator() {
		d = d.Materialize().(*tensor.Dense)
	}
	return d.Float32s()[:d.Shape().TotalSize()], nil
}

// newF32 allocates a zeroed float32 Dense of the given shape.
func newF32(shape tensor.Shape) *tensor.Dense {
	if len(shape) == 0 {
		return tensor.New(tensor.FromScalar(float32(0)))
	}
	return tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape.Clone()...))
}

// preallocF32 returns prealloc's backing slice when it is a float32 Dense
// of the wanted shape that does not alias any input, else a fresh Dense
// (§5 P9: the tape may hand over an input register).
func preallocF32(prealloc gorgonia.Value, shape tensor.Shape, inputs ...gorgonia.Value) *tensor.Dense {
	d, ok := prealloc.(*tensor.Dense)
	if !ok || d.Dtype() != tensor.Float32 || !d.Shape().Eq(shape) || d.IsView() || d.RequiresIterator() {
		return newF32(shape)
	}
	for _, in := range inputs {
		if in != nil && in.Uintptr() == d.Uintptr() {
			return newF32(shape)
		}
	}
	return d
}

// accumulateGrad adds delta into the derivative of n, which the
// LispMachine keeps on n's dual value.
func accumulateGrad(op string, n *gorgonia.Node, delta []float32) error {
	gv, err := n.Grad()
	if err != nil {
		return fmt.Errorf("nn: %s: no gradient value on %v: %w", op, n.Name(), err)
	}
	gd, ok := gv.(*tensor.Dense)
	if !ok || gd.Dtype() != tensor.Float32 || gd.Shape().TotalSize() != len(delta) || gd.RequiresIterator() {
		return fmt.Errorf("nn: %s: gradient of %v is %T %v, want float32 of %d elements", op, n.Name(), gv, gv.Shape(), len(delta))
	}
	g := gd.Float32s()[:len(delta)]
	for i, v := range delta {
		g[i] += v
	}
	return nil
}

// outputGrad returns the derivative value of a node as float32 data.
func outputGrad(op string, n *gorgonia.Node) ([]float32, error) {
	gv, err := n.Grad()
	if err != nil {
		return nil, fmt.Errorf("nn: %s: no gradient value on output: %w", op, err)
	}
	return f32Data(op, gv, n.Shape())
}

// checkF32Node returns an error unless n is a float32 node of the given rank
// (rank < 0: any rank).
func checkF32Node(op string, n *gorgonia.Node, rank int) error {
	if n == nil {
		return fmt.Errorf("nn: %s: input node is nil", op)
	}
	if n.Dtype() != tensor.Float32 {
		return fmt.Errorf("nn: %s: input dtype is %v, want float32", op, n.Dtype())
	}
	if rank >= 0 && n.Shape().Dims() != rank {
		return fmt.Errorf("nn: %s: input has shape %v (rank %d), want rank %d", op, n.Shape(), n.Shape().Dims(), rank)
	}
	return nil
}

func prod(xs []int) int {
	p := 1
	for _, x := range xs {
		p *= x
	}
	return p
}

// sameShape compares shapes strictly (tensor.Shape.Eq equates (n) and (1, n)).
func sameShape(a, b tensor.Shape) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
