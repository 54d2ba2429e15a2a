package qtensor

import (
	"fmt"

	"gorgonia.org/tensor"
)

// More of PyTorch's shape methods, built on the view methods of view.go and
// with the same rules: new storage, per-tensor qparams kept, per-channel
// qparams following Slice and Select.

// T transposes a tensor of rank ≤ 2 (rank 0 and 1 are returned as copies);
// torch.Tensor.t. Higher ranks and per-channel tensors are errors, as in
// PyTorch.
func (q *QTensor) T() (*QTensor, error) {
	switch q.Dims() {
	case 0, 1:
		if err := q.perTensorOnly("t"); err != nil {
			return nil, err
		}
		return q.Clone(), nil
	case 2:
		return q.Transpose(0, 1)
	}
	return nil, fmt.Errorf("qtensor: t: expects a tensor of rank ≤ 2, got rank %d", q.Dims())
}

// Split cuts the tensor along dim into pieces of size elements (the last
// may be shorter); torch.split(x, size, dim). size must be > 0, or 0 for a
// dimension of size 0 (one empty piece).
func (q *QTensor) Split(size, dim int) ([]*QTensor, error) {
	if q.Dims() == 0 {
		return nil, fmt.Errorf("qtensor: split: cannot be applied to a 0-dim tensor")
	}
	d, err := wrapDim("split", dim, q.Dims())
	if err != nil {
		return nil, err
	}
	n := q.d.Shape()[d]
	if size < 0 || (size == 0 && n != 0) {
		return nil, fmt.Errorf("qtensor: split: split size %d is invalid for dimension %d of size %d (only a size-0 dimension splits by 0)", size, dim, n)
	}
	if n == 0 {
		p, err := q.sliceDim("split", d, 0, 1, 0)
		if err != nil {
			return nil, err
		}
		return []*QTensor{p}, nil
	}
	var out []*QTensor
	for start := 0; start < n; start += size {
		p, err := q.sliceDim("split", d, start, 1, min(size, n-start))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Chunk cuts the tensor along dim into at most chunks pieces of
// ⌈size/chunks⌉ elements (the last may be shorter); torch.chunk. A
// dimension of size 0 gives chunks empty pieces. chunks must be > 0.
func (q *QTensor) Chunk(chunks, dim int) ([]*QTensor, error) {
	if chunks <= 0 {
		return nil, fmt.Errorf("qtensor: chunk: chunks %d must be greater than 0", chunks)
	}
	if q.Dims() == 0 {
		return nil, fmt.Errorf("qtensor: chunk: cannot be applied to a 0-dim tensor")
	}
	d, err := wrapDim("chunk", dim, q.Dims())
	if err != nil {
		return nil, err
	}
	n := q.d.Shape()[d]
	if n == 0 {
		out := make([]*QTensor, chunks)
		for i := range out {
			if out[i], err = q.sliceDim("chunk", d, 0, 1, 0); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return q.Split((n+chunks-1)/chunks, d)
}

// Unbind returns every slice along dim with that dimension removed;
// torch.unbind. Per-channel qparams follow Select.
func (q *QTensor) Unbind(dim int) ([]*QTensor, error) {
	if q.Dims() == 0 {
		return nil, fmt.Errorf("qtensor: unbind: cannot be applied to a 0-dim tensor")
	}
	d, err := wrapDim("unbind", dim, q.Dims())
	if err != nil {
		return nil, err
	}
	n := q.d.Shape()[d]
	out := make([]*QTensor, n)
	for i := range out {
		if out[i], err = q.Select(d, i); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Repeat tiles the tensor reps[i] times along each dimension;
// torch.Tensor.repeat. len(reps) must be at least the rank (leading
// dimensions are added); reps must be ≥ 0. Per-channel tensors are an error.
func (q *QTensor) Repeat(reps ...int) (*QTensor, error) {
	if err := q.perTensorOnly("repeat"); err != nil {
		return nil, err
	}
	shape := q.d.Shape()
	if len(reps) < len(shape) {
		return nil, fmt.Errorf("qtensor: repeat: %d repeats for a tensor of rank %d", len(reps), len(shape))
	}
	off := len(reps) - len(shape)
	pshape := make([]int, len(reps))
	for i := range pshape {
		pshape[i] = 1
		if i >= off {
			pshape[i] = shape[i-off]
		}
	}
	st := contiguousStrides(pshape)
	out := make([]int, len(reps))
	tiled := make([]int, 0, 2*len(reps))
	tst := make([]int, 0, 2*len(reps))
	for i, r := range reps {
		if r < 0 {
			return nil, fmt.Errorf("qtensor: repeat: negative repeat %d in %v", r, reps)
		}
		out[i] = r * pshape[i]
		tiled = append(tiled, r, pshape[i])
		tst = append(tst, 0, st[i])
	}
	if _, err := checkedNumel("repeat", tiled); err != nil {
		return nil, err
	}
	// The row-major order of [r0, p0, r1, p1, ...] is that of
	// [r0·p0, r1·p1, ...].
	res := newDense(q.d.Dtype(), out)
	gatherDense(res, q.d, tiled, tst, 0)
	return &QTensor{d: res, qp: q.qp.Clone()}, nil
}

// MaskedFill returns a copy of q with the elements where mask is true set
// to v quantized with q's own parameters (per channel for per-channel
// tensors); torch.Tensor.masked_fill. mask is a bool Dense that broadcasts
// to q's shape. NaN v is an error. PyTorch 1.13 rejects per-channel
// tensors here; qgorgonia fills them channel by channel.
func (q *QTensor) MaskedFill(mask *tensor.Dense, v float32) (*QTensor, error) {
	if mask == nil || mask.Dtype() != tensor.Bool {
		return nil, fmt.Errorf("qtensor: masked_fill: mask must be a bool tensor")
	}
	if v != v {
		return nil, fmt.Errorf("qtensor: masked_fill: value is NaN")
	}
	shape := q.d.Shape()
	ms := mask.Shape()
	bs, err := broadcastShapes("masked_fill", ms, shape)
	if err != nil {
		return nil, err
	}
	if !sameShape(bs, shape) {
		return nil, fmt.Errorf("qtensor: masked_fill: mask of shape %v does not broadcast to shape %v", []int(ms), []int(shape))
	}
	if mask.RequiresIterator() {
		mask = mask.Materialize().(*tensor.Dense)
	}
	m := make([]bool, q.Size())
	gatherT(m, mask.Bools()[:ms.TotalSize()], shape, broadcastStrides(ms, shape), 0)
	filled := q.Clone()
	if err := filled.Fill(v); err != nil {
		return nil, err
	}
	out := q.Clone()
	for i, on := range m {
		if on {
			setInt(out.d, i, filled.Int(i))
		}
	}
	return out, nil
}
