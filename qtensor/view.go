package qtensor

import (
	"fmt"
	"math"

	"github.com/qgorgonia/qgorgonia/qdtype"
)

// View-like methods. PyTorch returns views that share storage; a QTensor
// always owns contiguous storage, so every method here returns a new QTensor
// over new storage, written in the logical row-major order of the view. The
// integers are copied unchanged and the receiver is never modified.
//
// Quantization parameters follow PyTorch 1.13:
//   - per-tensor parameters are kept as they are;
//   - per-channel parameters follow the channel axis (Unsqueeze, Squeeze and
//     Select shift it; squeezing the axis itself is an error); selecting or slicing along the axis keeps the chosen
//     channels' parameters, and a result left with exactly one channel
//     becomes per-tensor with that channel's scale and zero point (PyTorch's
//     create_subtensor_quantizer). Float-zero-point (per_channel_affine_float_qparams)
//     tensors stay per-channel, since a per-tensor tensor cannot carry a float
//     zero point, and selecting one of their channels is an error;
//   - Transpose, Permute, Expand, AsStrided and IndexSelect of a per-channel
//     tensor are errors, as in PyTorch ("Setting strides is possible only on
//     uniformly quantized tensor");
//   - Reshape/View/Flatten of a per-channel tensor keep the parameters only
//     when the channel axis survives as a dimension of the new shape (same
//     size, same number of elements before it); otherwise they are an error.
//     This is stricter than PyTorch, which keeps the old axis number and
//     scales and returns a tensor whose dequantize() then fails or
//     silently pairs elements with the wrong channel.

// Reshape returns the tensor with a new shape and the same elements in
// row-major order; torch.Tensor.reshape / view. One entry may be -1, which
// is inferred from the others. It returns an error for other negative
// sizes, more than one -1, an element count that does not match, and a
// per-channel tensor whose channel axis the reshape destroys (see the notes
// above).
func (q *QTensor) Reshape(shape ...int) (*QTensor, error) {
	return q.reshape("reshape", shape)
}

// View is Reshape under PyTorch's other name (torch.Tensor.view). Unlike
// PyTorch, the result does not share storage with q.
func (q *QTensor) View(shape ...int) (*QTensor, error) {
	return q.reshape("view", shape)
}

func (q *QTensor) reshape(op string, shape []int) (*QTensor, error) {
	ns, err := inferShape(op, q.d.Shape(), shape)
	if err != nil {
		return nil, err
	}
	qp, err := reshapeQParams(op, q.qp, q.d.Shape(), ns)
	if err != nil {
		return nil, err
	}
	out := newDense(q.d.Dtype(), ns)
	copyStorage(out, q.d)
	return &QTensor{d: out, qp: qp}, nil
}

// inferShape resolves one -1 in shape against the element count of old.
func inferShape(op string, old, shape []int) ([]int, error) {
	n := numel(old)
	ns := append([]int{}, shape...)
	infer := -1
	known := 1
	for i, s := range ns {
		switch {
		case s == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("qtensor: %s: only one dimension can be inferred (-1), got shape %v", op, shape)
			}
			infer = i
		case s < 0:
			return nil, fmt.Errorf("qtensor: %s: invalid size %d in shape %v", op, s, shape)
		default:
			known *= s
		}
	}
	rest := make([]int, 0, len(ns))
	for _, s := range ns {
		if s != -1 {
			rest = append(rest, s)
		}
	}
	if _, err := checkedNumel(op, rest); err != nil {
		return nil, err
	}
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("qtensor: %s: shape %v is invalid for input of size %d", op, shape, n)
		}
		ns[infer] = n / known
		known = n
	}
	if known != n {
		return nil, fmt.Errorf("qtensor: %s: shape %v is invalid for input of size %d", op, shape, n)
	}
	return ns, nil
}

// reshapeQParams maps qparams through a reshape from old to ns. Per-channel
// parameters move to the dimension of ns that has the channel count and the
// same number of elements before it; if there are several (channel count 1
// amid size-1 dimensions) the one nearest the old axis index wins.
func reshapeQParams(op string, qp qdtype.QParams, old, ns []int) (qdtype.QParams, error) {
	qp = qp.Clone()
	if !qp.PerChannel() {
		return qp, nil
	}
	before := numel(old[:qp.Axis])
	ch := old[qp.Axis]
	best := -1
	p := 1
	for j, s := range ns {
		if s == ch && p == before {
			if best < 0 || absInt(j-qp.Axis) < absInt(best-qp.Axis) {
				best = j
			}
		}
		p *= s
	}
	if best < 0 {
		return qp, fmt.Errorf("qtensor: %s: shape %v destroys channel axis %d (size %d) of per-channel shape %v", op, ns, qp.Axis, ch, old)
	}
	qp.Axis = best
	return qp, nil
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// Flatten merges dimensions start..end (inclusive, negative counting from
// the end) into one; torch.flatten. A 0-dim tensor flattens to shape [1].
// start must not come after end. Per-channel tensors follow Reshape's rule.
func (q *QTensor) Flatten(start, end int) (*QTensor, error) {
	shape := q.d.Shape()
	r := len(shape)
	s, err := wrapDim("flatten", start, r)
	if err != nil {
		return nil, err
	}
	e, err := wrapDim("flatten", end, r)
	if err != nil {
		return nil, err
	}
	if s > e {
		return nil, fmt.Errorf("qtensor: flatten: start_dim %d cannot come after end_dim %d", start, end)
	}
	if r == 0 {
		return q.reshape("flatten", []int{1})
	}
	ns := append([]int{}, shape[:s]...)
	ns = append(ns, numel(shape[s:e+1]))
	ns = append(ns, shape[e+1:]...)
	return q.reshape("flatten", ns)
}

// subChannels returns the qparams of a sub-tensor that keeps channels
// [start, start+step·count) of q's channel axis. A result with exactly one
// channel becomes per-tensor (unless its zero points are float), as
// PyTorch's create_subtensor_quantizer does; axis is the new axis index.
func subChannels(op string, qp qdtype.QParams, start, step, count, axis int) (qdtype.QParams, error) {
	if count == 0 {
		return qp, fmt.Errorf("qtensor: %s: the result has no channel left along the per-channel axis", op)
	}
	out := qdtype.QParams{Dtype: qp.Dtype, Scheme: qp.Scheme, Axis: axis}
	for i := 0; i < count; i++ {
		c := start + i*step
		out.Scales = append(out.Scales, qp.Scales[c])
		if qp.Scheme == qdtype.PerChannelAffineFloatQParams {
			out.FloatZeroPoints = append(out.FloatZeroPoints, qp.FloatZeroPoints[c])
		} else {
			out.ZeroPoints = append(out.ZeroPoints, qp.ZeroPoints[c])
		}
	}
	if count == 1 && qp.Scheme != qdtype.PerChannelAffineFloatQParams {
		return qdtype.QParams{Dtype: qp.Dtype, Scheme: qdtype.PerTensorAffine, Scales: out.Scales, ZeroPoints: out.ZeroPoints}, nil
	}
	return out, nil
}

// Select returns the slice at index along dim, which drops that dimension;
// torch.Tensor.select. dim and index may be negative (counting from the
// end). Errors: a 0-dim tensor, dim or index out of range. Selecting along a
// per-channel tensor's axis gives a per-tensor tensor with that channel's
// scale and zero point; selecting before the axis shifts it down by one and
// selecting after it keeps it. (PyTorch 1.13 shifts the axis down for a
// selection after it too, which leaves a tensor whose dequantize() fails;
// we keep the correct axis.)
func (q *QTensor) Select(dim, index int) (*QTensor, error) {
	shape := q.d.Shape()
	r := len(shape)
	if r == 0 {
		return nil, fmt.Errorf("qtensor: select: cannot be applied to a 0-dim tensor")
	}
	d, err := wrapDim("select", dim, r)
	if err != nil {
		return nil, err
	}
	size := shape[d]
	if index < -size || index >= size {
		return nil, fmt.Errorf("qtensor: select: index %d is out of range for dimension %d of size %d", index, dim, size)
	}
	if index < 0 {
		index += size
	}
	qp := q.qp.Clone()
	if qp.PerChannel() {
		if d == qp.Axis {
			if qp.Scheme == qdtype.PerChannelAffineFloatQParams {
				return nil, fmt.Errorf("qtensor: select: selecting one channel of a %s tensor leaves a float zero point no per-tensor tensor can carry", qp.Scheme)
			}
			qp, err = subChannels("select", q.qp, index, 1, 1, 0)
		} else {
			axis := qp.Axis
			if axis > d {
				axis--
			}
			qp, err = subChannels("select", q.qp, 0, 1, len(q.qp.Scales), axis)
		}
		if err != nil {
			return nil, err
		}
	}
	st := contiguousStrides(shape)
	ns := append(append([]int{}, shape[:d]...), shape[d+1:]...)
	nst := append(append([]int{}, st[:d]...), st[d+1:]...)
	return q.strided(ns, nst, index*st[d], qp), nil
}

// SliceEnd is the end to pass to Slice for an open end (Python's x[a:]).
const SliceEnd = math.MaxInt

// Slice returns elements start, start+step, ... before end along dim, with
// Python slice semantics: negative start and end count from the end, both
// are clamped to [0, size], and start ≥ end gives an empty dimension;
// x[(slice(None),)*dim + (slice(start, end, step),)]. Pass 0 and SliceEnd for
// open bounds. step must be > 0 (PyTorch rejects other steps). Slicing along
// a per-channel tensor's axis keeps the chosen channels' parameters (one
// channel left: per-tensor; none left: an error).
func (q *QTensor) Slice(dim, start, end, step int) (*QTensor, error) {
	shape := q.d.Shape()
	r := len(shape)
	if r == 0 {
		return nil, fmt.Errorf("qtensor: slice: cannot be applied to a 0-dim tensor")
	}
	d, err := wrapDim("slice", dim, r)
	if err != nil {
		return nil, err
	}
	if step <= 0 {
		return nil, fmt.Errorf("qtensor: slice: step %d must be greater than zero", step)
	}
	size := shape[d]
	start, end = clampSliceBound(start, size), clampSliceBound(end, size)
	count := 0
	if end > start {
		count = 1 + (end-start-1)/step
	}
	return q.sliceDim("slice", d, start, step, count)
}

func clampSliceBound(v, size int) int {
	if v < 0 {
		v += size
		if v < 0 {
			v = 0
		}
	}
	if v > size {
		v = size
	}
	return v
}

// sliceDim keeps count elements start, start+step, ... along dimension d.
func (q *QTensor) sliceDim(op string, d, start, step, count int) (*QTensor, error) {
	shape := q.d.Shape()
	qp := q.qp.Clone()
	var err error
	if qp.PerChannel() {
		if d == qp.Axis {
			qp, err = subChannels(op, q.qp, start, step, count, qp.Axis)
		} else {
			qp, err = subChannels(op, q.qp, 0, 1, len(q.qp.Scales), qp.Axis)
		}
		if err != nil {
			return nil, err
		}
	}
	st := contiguousStrides(shape)
	ns := append([]int{}, shape...)
	ns[d] = count
	nst := append([]int{}, st...)
	nst[d] = st[d] * step
	off := 0
	if count > 0 {
		off = start * st[d]
	}
	return q.strided(ns, nst, off, qp), nil
}

// Narrow returns length elements from start along dim; torch.narrow. start
// may be negative (counting from the end); start+length must not pass the
// end. Per-channel parameters follow Slice's rule.
func (q *QTensor) Narrow(dim, start, length int) (*QTensor, error) {
	shape := q.d.Shape()
	r := len(shape)
	if r == 0 {
		return nil, fmt.Errorf("qtensor: narrow: cannot be applied to a 0-dim tensor")
	}
	d, err := wrapDim("narrow", dim, r)
	if err != nil {
		return nil, err
	}
	size := shape[d]
	if start < -size || start > size {
		return nil, fmt.Errorf("qtensor: narrow: start %d is out of range for dimension %d of size %d", start, dim, size)
	}
	if start < 0 {
		start += size
	}
	if length < 0 || length > size-start {
		return nil, fmt.Errorf("qtensor: narrow: start %d + length %d exceeds dimension %d of size %d", start, length, dim, size)
	}
	return q.sliceDim("narrow", d, start, 1, length)
}

// Expand broadcasts the tensor to size; torch.Tensor.expand. New leading
// dimensions may be added; an existing dimension must equal the new size or
// be 1 (then it is repeated); -1 keeps an existing dimension's size and is an
// error for a new leading one. Per-channel tensors are an error, as in
// PyTorch.
func (q *QTensor) Expand(size ...int) (*QTensor, error) {
	if err := q.perTensorOnly("expand"); err != nil {
		return nil, err
	}
	shape := q.d.Shape()
	if len(size) < len(shape) {
		return nil, fmt.Errorf("qtensor: expand: the number of sizes (%d) must be at least the rank %d of shape %v", len(size), len(shape), []int(shape))
	}
	off := len(size) - len(shape)
	st := contiguousStrides(shape)
	ns := make([]int, len(size))
	nst := make([]int, len(size))
	for i, s := range size {
		if i < off {
			if s < 0 {
				return nil, fmt.Errorf("qtensor: expand: size %d is invalid for new leading dimension %d of %v", s, i, size)
			}
			ns[i] = s
			continue
		}
		old := shape[i-off]
		switch {
		case s == -1:
			ns[i], nst[i] = old, st[i-off]
		case s == old:
			ns[i], nst[i] = s, st[i-off]
		case old == 1 && s >= 0:
			ns[i] = s
		default:
			return nil, fmt.Errorf("qtensor: expand: size %d at dimension %d must match the existing size %d (shape %v, sizes %v)", s, i, old, []int(shape), size)
		}
	}
	if _, err := checkedNumel("expand", ns); err != nil {
		return nil, err
	}
	return q.strided(ns, nst, 0, q.qp.Clone()), nil
}

// AsStrided returns the elements storage[offset + Σ idx[k]·stride[k]] of q's
// contiguous row-major storage for every index of size; torch.as_strided.
// Sizes, strides and offset must be non-negative and address only elements
// inside the storage. Per-channel tensors are an error, as in PyTorch.
func (q *QTensor) AsStrided(size, stride []int, offset int) (*QTensor, error) {
	if err := q.perTensorOnly("as_strided"); err != nil {
		return nil, err
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("qtensor: as_strided: %d sizes but %d strides", len(size), len(stride))
	}
	if offset < 0 {
		return nil, fmt.Errorf("qtensor: as_strided: negative storage offset %d", offset)
	}
	for i := range size {
		if size[i] < 0 || stride[i] < 0 {
			return nil, fmt.Errorf("qtensor: as_strided: negative size or stride (sizes %v, strides %v)", size, stride)
		}
	}
	total, err := checkedNumel("as_strided", size)
	if err != nil {
		return nil, err
	}
	if total > 0 {
		n := q.Size()
		last := offset
		for i := range size {
			// every step stays below n, so nothing overflows
			if last >= n || (size[i] > 1 && stride[i] > (n-1-last)/(size[i]-1)) {
				return nil, fmt.Errorf("qtensor: as_strided: sizes %v, strides %v and offset %d address elements beyond a storage of %d elements", size, stride, offset, n)
			}
			last += (size[i] - 1) * stride[i]
		}
		if last >= n {
			return nil, fmt.Errorf("qtensor: as_strided: sizes %v, strides %v and offset %d address elements beyond a storage of %d elements", size, stride, offset, n)
		}
	}
	return q.strided(append([]int{}, size...), append([]int{}, stride...), offset, q.qp.Clone()), nil
}

// Squeeze removes every dimension of size 1; torch.squeeze. For a
// per-channel tensor the channel axis must not be one of them (PyTorch's
// error); the axis shifts down past removed dimensions.
func (q *QTensor) Squeeze() (*QTensor, error) {
	shape := q.d.Shape()
	var dims []int
	for i, s := range shape {
		if s == 1 {
			dims = append(dims, i)
		}
	}
	return q.squeeze(dims)
}

// SqueezeDim removes dimension dim if its size is 1 and returns a copy
// otherwise; torch.squeeze(x, dim). dim may be negative.
func (q *QTensor) SqueezeDim(dim int) (*QTensor, error) {
	shape := q.d.Shape()
	d, err := wrapDim("squeeze", dim, len(shape))
	if err != nil {
		return nil, err
	}
	if len(shape) == 0 || shape[d] != 1 {
		return q.Clone(), nil
	}
	return q.squeeze([]int{d})
}

func (q *QTensor) squeeze(dims []int) (*QTensor, error) {
	shape := q.d.Shape()
	qp := q.qp.Clone()
	drop := make([]bool, len(shape))
	for _, d := range dims {
		drop[d] = true
	}
	if qp.PerChannel() {
		shift := 0
		for _, d := range dims {
			if d == qp.Axis {
				return nil, fmt.Errorf("qtensor: squeeze: dimension %d is the channel axis of a per-channel tensor", d)
			}
			if d < qp.Axis {
				shift++
			}
		}
		qp.Axis -= shift
	}
	ns := []int{}
	for i, s := range shape {
		if !drop[i] {
			ns = append(ns, s)
		}
	}
	out := newDense(q.d.Dtype(), ns)
	copyStorage(out, q.d)
	return &QTensor{d: out, qp: qp}, nil
}

// Unsqueeze inserts a dimension of size 1 at dim (-rank-1 ≤ dim ≤ rank);
// torch.unsqueeze. A per-channel axis at or after dim shifts up by one.
func (q *QTensor) Unsqueeze(dim int) (*QTensor, error) {
	shape := q.d.Shape()
	d, err := wrapDim("unsqueeze", dim, len(shape)+1)
	if err != nil {
		return nil, err
	}
	qp := q.qp.Clone()
	if qp.PerChannel() && qp.Axis >= d {
		qp.Axis++
	}
	ns := append(append(append([]int{}, shape[:d]...), 1), shape[d:]...)
	out := newDense(q.d.Dtype(), ns)
	copyStorage(out, q.d)
	return &QTensor{d: out, qp: qp}, nil
}

// Transpose swaps dimensions d0 and d1 (negative counting from the end);
// torch.transpose. Per-channel tensors are an error, as in PyTorch.
func (q *QTensor) Transpose(d0, d1 int) (*QTensor, error) {
	r := q.Dims()
	a, err := wrapDim("transpose", d0, r)
	if err != nil {
		return nil, err
	}
	b, err := wrapDim("transpose", d1, r)
	if err != nil {
		return nil, err
	}
	if r == 0 {
		if err := q.perTensorOnly("transpose"); err != nil {
			return nil, err
		}
		return q.Clone(), nil
	}
	perm := make([]int, r)
	for i := range perm {
		perm[i] = i
	}
	perm[a], perm[b] = perm[b], perm[a]
	return q.permute("transpose", perm)
}

// Permute reorders the dimensions: result dimension i is q's dimension
// dims[i] (negative counting from the end); torch.permute. dims must be a
// permutation of the dimensions. Per-channel tensors are an error, as in
// PyTorch.
func (q *QTensor) Permute(dims ...int) (*QTensor, error) {
	r := q.Dims()
	if len(dims) != r {
		return nil, fmt.Errorf("qtensor: permute: %d dims for a tensor of rank %d", len(dims), r)
	}
	perm := make([]int, r)
	seen := make([]bool, r)
	for i, d := range dims {
		w, err := wrapDim("permute", d, r)
		if err != nil {
			return nil, err
		}
		if seen[w] {
			return nil, fmt.Errorf("qtensor: permute: dimension %d repeats in %v", w, dims)
		}
		seen[w] = true
		perm[i] = w
	}
	return q.permute("permute", perm)
}

func (q *QTensor) permute(op string, perm []int) (*QTensor, error) {
	if err := q.perTensorOnly(op); err != nil {
		return nil, err
	}
	shape := q.d.Shape()
	st := contiguousStrides(shape)
	ns := make([]int, len(perm))
	nst := make([]int, len(perm))
	for i, p := range perm {
		ns[i], nst[i] = shape[p], st[p]
	}
	return q.strided(ns, nst, 0, q.qp.Clone()), nil
}

// IndexSelect gathers the entries index[0], index[1], ... along dim;
// torch.index_select. Indices must lie in [0, size) (negative indices are
// an error, as in PyTorch). Per-channel tensors are an error, as in PyTorch.
func (q *QTensor) IndexSelect(dim int, index []int64) (*QTensor, error) {
	if err := q.perTensorOnly("index_select"); err != nil {
		return nil, err
	}
	shape := q.d.Shape()
	r := len(shape)
	d, err := wrapDim("index_select", dim, r)
	if err != nil {
		return nil, err
	}
	if r == 0 {
		shape = []int{1}
	}
	size := shape[d]
	for i, ix := range index {
		if ix < 0 || ix >= int64(size) {
			return nil, fmt.Errorf("qtensor: index_select: index %d at %d is out of range for dimension %d of size %d", ix, i, dim, size)
		}
	}
	if r == 0 && len(index) != 1 {
		return nil, fmt.Errorf("qtensor: index_select: a 0-dim tensor takes exactly one index, got %d", len(index))
	}
	st := contiguousStrides(shape)
	ns := []int(shape.Clone())
	if r == 0 {
		ns = []int{}
	} else {
		ns[d] = len(index)
	}
	if _, err := checkedNumel("index_select", ns); err != nil {
		return nil, err
	}
	out := newDense(q.d.Dtype(), ns)
	if r > 0 {
		outer := numel(shape[:d])
		inner := st[d]
		for o := 0; o < outer; o++ {
			for j, ix := range index {
				src := o*size*inner + int(ix)*inner
				dst := (o*len(index) + j) * inner
				copyRange(out, dst, q.d, src, inner)
			}
		}
	} else {
		copyRange(out, 0, q.d, 0, 1)
	}
	return &QTensor{d: out, qp: q.qp.Clone()}, nil
}
