package qtensor

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// This file holds the storage plumbing the tensor methods share: typed
// access to the integer backing, strided gathers, dimension wrapping and
// broadcasting. Every helper works on the contiguous row-major storage a
// QTensor owns.

// contiguousStrides returns the row-major strides (in elements) of shape.
func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

// numel is the product of shape (1 for a 0-dim shape).
func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// gatherT writes into dst, in row-major order of shape, the elements
// src[offset + Σ idx[k]·strides[k]]. len(dst) must be numel(shape) and every
// addressed element must lie inside src (callers check).
func gatherT[T any](dst, src []T, shape, strides []int, offset int) {
	n := len(dst)
	if n == 0 {
		return
	}
	rank := len(shape)
	if rank == 0 {
		dst[0] = src[offset]
		return
	}
	inner, is := shape[rank-1], strides[rank-1]
	idx := make([]int, rank)
	pos := offset
	for o := 0; o < n; o += inner {
		d := dst[o : o+inner]
		switch is {
		case 1:
			copy(d, src[pos:pos+inner])
		case 0:
			v := src[pos]
			for i := range d {
				d[i] = v
			}
		default:
			p := pos
			for i := range d {
				d[i] = src[p]
				p += is
			}
		}
		for k := rank - 2; k >= 0; k-- {
			idx[k]++
			pos += strides[k]
			if idx[k] < shape[k] {
				break
			}
			pos -= strides[k] * shape[k]
			idx[k] = 0
		}
	}
}

// gatherDense fills the contiguous Dense dst (same quantized dtype as src)
// with the strided view (shape, strides, offset) of src's storage.
func gatherDense(dst, src *tensor.Dense, shape, strides []int, offset int) {
	switch src.Dtype() {
	case qdtype.QUInt8Dtype:
		gatherT(dst.Uint8s(), src.Uint8s(), shape, strides, offset)
	case qdtype.QInt8Dtype:
		gatherT(dst.Int8s(), src.Int8s(), shape, strides, offset)
	default:
		gatherT(dst.Int32s(), src.Int32s(), shape, strides, offset)
	}
}

// strided returns a new QTensor holding the view (shape, strides, offset) of
// q's storage, with qparams qp.
func (q *QTensor) strided(shape, strides []int, offset int, qp qdtype.QParams) *QTensor {
	out := newDense(q.d.Dtype(), shape)
	gatherDense(out, q.d, shape, strides, offset)
	return &QTensor{d: out, qp: qp}
}

// wrapDim maps a possibly negative dimension index onto [0, rank). As in
// PyTorch, a 0-dim tensor accepts dim 0 and -1.
func wrapDim(op string, dim, rank int) (int, error) {
	r := rank
	if r == 0 {
		r = 1
	}
	if dim < -r || dim >= r {
		return 0, fmt.Errorf("qtensor: %s: dimension %d is out of range for a tensor of rank %d (expected [%d, %d])", op, dim, rank, -r, r-1)
	}
	if dim < 0 {
		dim += r
	}
	return dim, nil
}

// BroadcastShapes returns the NumPy-style broadcast of two shapes (the rule
// PyTorch's elementwise ops follow), or an error naming the first dimension
// that does not broadcast. The error has no package prefix; callers add
// their own.
func BroadcastShapes(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v cannot be broadcast (dimension %d: %d vs %d)", a, b, i, da, db)
		}
	}
	return out, nil
}

// broadcastShapes is BroadcastShapes with qtensor's error prefix.
func broadcastShapes(op string, a, b []int) ([]int, error) {
	out, err := BroadcastShapes(a, b)
	if err != nil {
		return nil, fmt.Errorf("qtensor: %s: %w", op, err)
	}
	return out, nil
}

// broadcastStrides returns the strides that read a contiguous tensor of shape
// src as if it had the (broadcast) shape dst: 0 along broadcast dimensions.
func broadcastStrides(src, dst []int) []int {
	st := contiguousStrides(src)
	out := make([]int, len(dst))
	off := len(dst) - len(src)
	for i := range src {
		if src[i] != 1 || dst[i+off] == 1 {
			out[i+off] = st[i]
		}
	}
	return out
}

// denseWithShape wraps a backing slice in a Dense of shape (0-dim for an
// empty shape).
func denseWithShape(shape []int, backing interface{}) *tensor.Dense {
	if len(shape) == 0 {
		return tensor.New(tensor.WithShape(), tensor.WithBacking(backing))
	}
	return tensor.New(tensor.WithShape(append([]int(nil), shape...)...), tensor.WithBacking(backing))
}

// perTensorOnly returns an error naming op if q is quantized per channel.
func (q *QTensor) perTensorOnly(op string) error {
	if q.qp.PerChannel() {
		return fmt.Errorf("qtensor: %s: only per-tensor quantized tensors are supported, got %s (as in PyTorch 1.13)", op, q.qp.Scheme)
	}
	return nil
}

// copyStorage copies all of src's elements into dst (same quantized dtype
// and element count).
func copyStorage(dst, src *tensor.Dense) {
	copyRange(dst, 0, src, 0, src.Shape().TotalSize())
}

// copyRange copies n elements from src[so:] to dst[do:] (same quantized
// dtype).
func copyRange(dst *tensor.Dense, do int, src *tensor.Dense, so, n int) {
	switch src.Dtype() {
	case qdtype.QUInt8Dtype:
		copy(dst.Uint8s()[do:do+n], src.Uint8s()[so:so+n])
	case qdtype.QInt8Dtype:
		copy(dst.Int8s()[do:do+n], src.Int8s()[so:so+n])
	default:
		copy(dst.Int32s()[do:do+n], src.Int32s()[so:so+n])
	}
}

// sameShape reports whether two shapes are identical (rank and sizes;
// tensor.Shape.Eq treats [n] and [1, n] as equal).
func sameShape(a, b []int) bool {
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

// maxElements bounds the element count of any tensor qtensor creates; it
// keeps every index and byte count of a shape representable in an int.
const maxElements = 1 << 48

// checkedNumel returns the element count of shape, or an error naming op
// for a negative size or a count beyond maxElements.
func checkedNumel(op string, shape []int) (int, error) {
	n := 1
	zero := false
	for _, s := range shape {
		if s < 0 {
			return 0, fmt.Errorf("qtensor: %s: negative dimension in shape %v", op, shape)
		}
		if s == 0 {
			zero = true
		}
	}
	if zero {
		return 0, nil
	}
	for _, s := range shape {
		if s > maxElements/n {
			return 0, fmt.Errorf("qtensor: %s: shape %v has more than 2^48 elements", op, shape)
		}
		n *= s
	}
	return n, nil
}
