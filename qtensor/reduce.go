package qtensor

import (
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// Reductions, sort and top-k. Like PyTorch 1.13 they accept per-tensor
// quantized tensors only (PyTorch reads q_scale(), which fails on
// per-channel tensors), and their value outputs keep the input's qparams.

// qint is the storage type of a quantized dtype.
type qint interface{ ~uint8 | ~int8 | ~int32 }

// rowSplit returns the sizes before, along and after dim of shape; a 0-dim
// shape counts as [1].
func rowSplit(shape []int, dim int) (outer, n, inner int) {
	if len(shape) == 0 {
		return 1, 1, 1
	}
	return channelSplit(shape, dim)
}

// reducedShape is shape with dim set to 1 (keepdim) or removed.
func reducedShape(shape []int, dim int, keepdim bool) []int {
	if len(shape) == 0 {
		return []int{}
	}
	out := append([]int{}, shape...)
	if keepdim {
		out[dim] = 1
		return out
	}
	return append(out[:dim], out[dim+1:]...)
}

// Max returns the largest element as a 0-dim tensor with q's qparams;
// torch.max(x). Errors: an empty or per-channel tensor.
func (q *QTensor) Max() (*QTensor, error) { return q.extremum("max", true) }

// Min returns the smallest element as a 0-dim tensor with q's qparams;
// torch.min(x). Errors: an empty or per-channel tensor.
func (q *QTensor) Min() (*QTensor, error) { return q.extremum("min", false) }

func (q *QTensor) extremum(op string, max bool) (*QTensor, error) {
	if err := q.perTensorOnly(op); err != nil {
		return nil, err
	}
	n := q.Size()
	if n == 0 {
		return nil, fmt.Errorf("qtensor: %s: the tensor is empty; specify a reduction dimension", op)
	}
	out := newDense(q.d.Dtype(), nil)
	switch q.d.Dtype() {
	case qdtype.QUInt8Dtype:
		out.Uint8s()[0] = extremumT(q.d.Uint8s()[:n], max)
	case qdtype.QInt8Dtype:
		out.Int8s()[0] = extremumT(q.d.Int8s()[:n], max)
	default:
		out.Int32s()[0] = extremumT(q.d.Int32s()[:n], max)
	}
	return &QTensor{d: out, qp: q.qp.Clone()}, nil
}

func extremumT[T qint](s []T, max bool) T {
	if max {
		return slices.Max(s)
	}
	return slices.Min(s)
}

// MaxDim returns the largest element along dim and its index; torch.max(x,
// dim, keepdim). values has q's qparams; indices is an int64 Dense of the
// same shape (the reduced dimension removed, or kept as 1 with keepdim).
// Among equal maxima the first index is returned. Errors: dim out of range,
// a reduced dimension of size 0, a per-channel tensor.
func (q *QTensor) MaxDim(dim int, keepdim bool) (values *QTensor, indices *tensor.Dense, err error) {
	return q.extremumDim("max", dim, keepdim, true)
}

// MinDim is MaxDim for the smallest element; torch.min(x, dim, keepdim).
func (q *QTensor) MinDim(dim int, keepdim bool) (values *QTensor, indices *tensor.Dense, err error) {
	return q.extremumDim("min", dim, keepdim, false)
}

func (q *QTensor) extremumDim(op string, dim int, keepdim, max bool) (*QTensor, *tensor.Dense, error) {
	if err := q.perTensorOnly(op); err != nil {
		return nil, nil, err
	}
	shape := q.d.Shape()
	d, err := wrapDim(op, dim, len(shape))
	if err != nil {
		return nil, nil, err
	}
	outer, n, inner := rowSplit(shape, d)
	if n == 0 {
		return nil, nil, fmt.Errorf("qtensor: %s: reduction dimension %d has size 0", op, dim)
	}
	os := reducedShape(shape, d, keepdim)
	out := newDense(q.d.Dtype(), os)
	idx := make([]int64, outer*inner)
	switch q.d.Dtype() {
	case qdtype.QUInt8Dtype:
		argExtremumT(q.d.Uint8s(), out.Uint8s(), idx, outer, n, inner, max)
	case qdtype.QInt8Dtype:
		argExtremumT(q.d.Int8s(), out.Int8s(), idx, outer, n, inner, max)
	default:
		argExtremumT(q.d.Int32s(), out.Int32s(), idx, outer, n, inner, max)
	}
	return &QTensor{d: out, qp: q.qp.Clone()}, denseWithShape(os, idx), nil
}

// argExtremumT reduces src viewed as [outer, n, inner] along n, keeping the
// first index of the extreme value.
func argExtremumT[T qint](src, dst []T, idx []int64, outer, n, inner int, max bool) {
	for o := 0; o < outer; o++ {
		base := o * n * inner
		d := dst[o*inner : (o+1)*inner]
		ix := idx[o*inner : (o+1)*inner]
		copy(d, src[base:base+inner])
		for r := 1; r < n; r++ {
			row := src[base+r*inner : base+(r+1)*inner]
			if max {
				for i, v := range row {
					if v > d[i] {
						d[i], ix[i] = v, int64(r)
					}
				}
			} else {
				for i, v := range row {
					if v < d[i] {
						d[i], ix[i] = v, int64(r)
					}
				}
			}
		}
	}
}

// Mean returns the mean of all elements as a 0-dim tensor quantized with
// q's own qparams; torch.mean(x). See MeanDims for the arithmetic.
func (q *QTensor) Mean() (*QTensor, error) { return q.MeanDims(nil, false) }

// MeanDims averages over dims (negative counting from the end; nil or empty
// means all) and quantizes the result with q's own scale and zero point;
// torch.mean(x, dims, keepdim). Reduced dimensions are removed, or kept as
// size 1 with keepdim.
//
// The arithmetic is PyTorch 1.13's, bit for bit on its AVX2 CPU build:
//   - when dims are the innermost dimensions (or all), the integers of each
//     group are summed exactly and the mean is rne(f32(sum)/f32(N))
//     (qmean_inner_dim_kernel; the zero point cancels);
//   - otherwise the tensor is dequantized, summed in float32 in the order of
//     ATen's cascade_sum (8-lane vectors, 4-way interleaved partial sums,
//     chunks of 16), divided by f32(N) and quantized with q's qparams.
//     PyTorch splits reductions of 32768 or more elements across threads,
//     which may change float32 rounding there; the result then can differ
//     from a multi-threaded PyTorch by 1 LSB on ties.
//
// Errors: a per-channel tensor, a dimension out of range or repeated, or a
// reduction over zero elements (the mean of nothing is NaN).
func (q *QTensor) MeanDims(dims []int, keepdim bool) (*QTensor, error) {
	if err := q.perTensorOnly("mean"); err != nil {
		return nil, err
	}
	shape := []int(q.d.Shape())
	r := len(shape)
	red := make([]bool, r)
	wrapped := make([]int, len(dims))
	for i, dm := range dims {
		w, err := wrapDim("mean", dm, r)
		if err != nil {
			return nil, err
		}
		if r > 0 && red[w] {
			return nil, fmt.Errorf("qtensor: mean: dimension %d appears more than once in %v", w, dims)
		}
		if r > 0 {
			red[w] = true
		}
		wrapped[i] = w
	}
	if len(dims) == 0 {
		for i := range red {
			red[i] = true
		}
	}
	if r == 0 {
		if len(dims) > 1 {
			return nil, fmt.Errorf("qtensor: mean: dimension 0 appears more than once in %v", dims)
		}
		return q.Clone(), nil
	}
	N := 1
	var os []int
	for i, s := range shape {
		if red[i] {
			N *= s
			if keepdim {
				os = append(os, 1)
			}
		} else {
			os = append(os, s)
		}
	}
	if os == nil {
		os = []int{}
	}
	if N == 0 {
		return nil, fmt.Errorf("qtensor: mean: reduction over %v of shape %v has no elements", dims, shape)
	}
	// innermost: the reduced dimensions form a suffix of the shape.
	innermost := true
	seenKept := false
	for i := r - 1; i >= 0; i-- {
		if !red[i] {
			seenKept = true
		} else if seenKept {
			innermost = false
		}
	}
	qmin, qmax, _ := qdtype.Range(q.qp.Dtype)
	out := newDense(q.d.Dtype(), os)
	M := numel(os)
	if innermost {
		n := q.Size()
		sums := make([]int64, M)
		switch q.d.Dtype() {
		case qdtype.QUInt8Dtype:
			groupSumsT(q.d.Uint8s()[:n], sums, N)
		case qdtype.QInt8Dtype:
			groupSumsT(q.d.Int8s()[:n], sums, N)
		default:
			groupSumsT(q.d.Int32s()[:n], sums, N)
		}
		for i, s := range sums {
			v := math.RoundToEven(float64(float32(s) / float32(N)))
			setInt(out, i, clampInt(int64(v), qmin, qmax))
		}
		return &QTensor{d: out, qp: q.qp.Clone()}, nil
	}
	x, err := q.Dequantize()
	if err != nil {
		return nil, err
	}
	sums := cascadeReduceSum(x.Float32s(), shape, red)
	inv := qdtype.InvScale(q.qp.Scale())
	zp := q.qp.ZeroPoint()
	fN := float32(N)
	for i, s := range sums {
		setInt(out, i, qdtype.QuantizeValue(s/fN, inv, zp, qmin, qmax))
	}
	return &QTensor{d: out, qp: q.qp.Clone()}, nil
}

func clampInt(v, lo, hi int64) int64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// groupSumsT sums consecutive groups of n integers.
func groupSumsT[T qint](s []T, sums []int64, n int) {
	for g := range sums {
		var acc int64
		for _, v := range s[g*n : (g+1)*n] {
			acc += int64(v)
		}
		sums[g] = acc
	}
}

// Sort sorts the elements along dim; torch.sort(x, dim, descending, stable).
// values has q's qparams (integer order is real-value order); indices is an
// int64 Dense of the same shape giving each value's position along dim. The
// sort is always stable: equal elements keep their original order, so the
// result is also a valid unstable sort. Errors: dim out of range, a
// per-channel tensor.
func (q *QTensor) Sort(dim int, descending, stable bool) (values *QTensor, indices *tensor.Dense, err error) {
	if err := q.perTensorOnly("sort"); err != nil {
		return nil, nil, err
	}
	shape := q.d.Shape()
	d, err := wrapDim("sort", dim, len(shape))
	if err != nil {
		return nil, nil, err
	}
	outer, n, inner := rowSplit(shape, d)
	out := newDense(q.d.Dtype(), shape)
	idx := make([]int64, q.Size())
	switch q.d.Dtype() {
	case qdtype.QUInt8Dtype:
		sortRowsT(q.d.Uint8s(), out.Uint8s(), idx, outer, n, inner, descending, 0, 256)
	case qdtype.QInt8Dtype:
		sortRowsT(q.d.Int8s(), out.Int8s(), idx, outer, n, inner, descending, -128, 256)
	default:
		sortRowsT(q.d.Int32s(), out.Int32s(), idx, outer, n, inner, descending, 0, 0)
	}
	return &QTensor{d: out, qp: q.qp.Clone()}, denseWithShape(shape, idx), nil
}

// elem is a value and its position along the sorted dimension.
type elem[T qint] struct {
	v T
	i int64
}

// sortRowsT stably sorts every row of src viewed as [outer, n, inner] along
// n. For 8-bit types (buckets > 0) long rows use a counting sort over the
// values lo … lo+buckets−1.
func sortRowsT[T qint](src, dst []T, idx []int64, outer, n, inner int, desc bool, lo, buckets int) {
	row := make([]elem[T], n)
	var tmp []elem[T]
	var count []int
	if buckets > 0 && n >= 64 {
		tmp = make([]elem[T], n)
		count = make([]int, buckets+1)
	}
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			base := o*n*inner + in
			for j := range row {
				row[j] = elem[T]{src[base+j*inner], int64(j)}
			}
			if count != nil {
				countingSort(row, tmp, count, desc, lo, buckets)
			} else {
				sortElems(row, desc)
			}
			for j, e := range row {
				dst[base+j*inner] = e.v
				idx[base+j*inner] = e.i
			}
		}
	}
}

// sortElems stably sorts by value, ascending or descending.
func sortElems[T qint](row []elem[T], desc bool) {
	if desc {
		slices.SortStableFunc(row, func(a, b elem[T]) int {
			switch {
			case a.v > b.v:
				return -1
			case a.v < b.v:
				return 1
			}
			return 0
		})
		return
	}
	slices.SortStableFunc(row, func(a, b elem[T]) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
}

// countingSort stably sorts row (8-bit values) through tmp.
func countingSort[T qint](row, tmp []elem[T], count []int, desc bool, lo, buckets int) {
	clear(count)
	key := func(v T) int {
		k := int(v) - lo
		if desc {
			k = buckets - 1 - k
		}
		return k
	}
	for _, e := range row {
		count[key(e.v)+1]++
	}
	for k := 1; k < len(count); k++ {
		count[k] += count[k-1]
	}
	for _, e := range row {
		k := key(e.v)
		tmp[count[k]] = e
		count[k]++
	}
	copy(row, tmp)
}

// Topk returns the k largest (or smallest) elements along dim and their
// indices; torch.topk(x, k, dim, largest, sorted). values has q's qparams;
// both outputs have q's shape with dim reduced to k. With sorted the values
// are in order (largest first, or smallest first when !largest). Without
// it, the order is PyTorch's CPU order bit for bit: rows where k·64 ≤ size
// are sorted (std::partial_sort) and others are in the order libstdc++'s
// std::nth_element leaves them. Indices of equal values may differ from
// PyTorch's, which does not define them. Errors: k < 0 or k larger than the
// dimension, dim out of range, a per-channel tensor.
func (q *QTensor) Topk(k, dim int, largest, sorted bool) (values *QTensor, indices *tensor.Dense, err error) {
	if err := q.perTensorOnly("topk"); err != nil {
		return nil, nil, err
	}
	shape := q.d.Shape()
	d, err := wrapDim("topk", dim, len(shape))
	if err != nil {
		return nil, nil, err
	}
	outer, n, inner := rowSplit(shape, d)
	if k < 0 || k > n {
		return nil, nil, fmt.Errorf("qtensor: topk: k = %d is out of range for dimension %d of size %d", k, dim, n)
	}
	os := []int(shape.Clone())
	if len(os) > 0 {
		os[d] = k
	}
	out := newDense(q.d.Dtype(), os)
	idx := make([]int64, outer*k*inner)
	switch q.d.Dtype() {
	case qdtype.QUInt8Dtype:
		topkRowsT(q.d.Uint8s(), out.Uint8s(), idx, outer, n, inner, k, largest, sorted)
	case qdtype.QInt8Dtype:
		topkRowsT(q.d.Int8s(), out.Int8s(), idx, outer, n, inner, k, largest, sorted)
	default:
		topkRowsT(q.d.Int32s(), out.Int32s(), idx, outer, n, inner, k, largest, sorted)
	}
	return &QTensor{d: out, qp: q.qp.Clone()}, denseWithShape(os, idx), nil
}

// topkRowsT is ATen's topk_impl_loop on integer rows.
func topkRowsT[T qint](src, dst []T, idx []int64, outer, n, inner, k int, largest, sorted bool) {
	if k == 0 {
		return
	}
	row := make([]elem[T], n)
	less := func(a, b elem[T]) bool { return a.v < b.v }
	if largest {
		less = func(a, b elem[T]) bool { return a.v > b.v }
	}
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			base := o*n*inner + in
			for j := range row {
				row[j] = elem[T]{src[base+j*inner], int64(j)}
			}
			if k*64 <= n {
				// std::partial_sort: the first k in order.
				sortElems(row, largest)
			} else {
				nthElement(row, k-1, less)
				if sorted {
					sortElems(row[:k-1], largest)
				}
			}
			ob := o*k*inner + in
			for j := 0; j < k; j++ {
				dst[ob+j*inner] = row[j].v
				idx[ob+j*inner] = row[j].i
			}
		}
	}
}

// nthElement is libstdc++'s std::nth_element (introselect): it reorders s
// so that s[nth] is the element a full sort by less would put there, with
// no element before it greater and none after it less. The exact
// permutation matters because topk with sorted=false exposes it.
func nthElement[E any](s []E, nth int, less func(a, b E) bool) {
	if len(s) == 0 || nth == len(s) {
		return
	}
	first, last := 0, len(s)
	depth := 2 * (bits.Len(uint(len(s))) - 1)
	for last-first > 3 {
		if depth == 0 {
			heapSelect(s, first, nth+1, last, less)
			s[first], s[nth] = s[nth], s[first]
			return
		}
		depth--
		cut := unguardedPartitionPivot(s, first, last, less)
		if cut <= nth {
			first = cut
		} else {
			last = cut
		}
	}
	insertionSort(s, first, last, less)
}

func moveMedianToFirst[E any](s []E, result, a, b, c int, less func(a, b E) bool) {
	switch {
	case less(s[a], s[b]):
		switch {
		case less(s[b], s[c]):
			s[result], s[b] = s[b], s[result]
		case less(s[a], s[c]):
			s[result], s[c] = s[c], s[result]
		default:
			s[result], s[a] = s[a], s[result]
		}
	case less(s[a], s[c]):
		s[result], s[a] = s[a], s[result]
	case less(s[b], s[c]):
		s[result], s[c] = s[c], s[result]
	default:
		s[result], s[b] = s[b], s[result]
	}
}

func unguardedPartitionPivot[E any](s []E, first, last int, less func(a, b E) bool) int {
	mid := first + (last-first)/2
	moveMedianToFirst(s, first, first+1, mid, last-1, less)
	lo, hi, pivot := first+1, last, first
	for {
		for less(s[lo], s[pivot]) {
			lo++
		}
		hi--
		for less(s[pivot], s[hi]) {
			hi--
		}
		if !(lo < hi) {
			return lo
		}
		s[lo], s[hi] = s[hi], s[lo]
		lo++
	}
}

func insertionSort[E any](s []E, first, last int, less func(a, b E) bool) {
	if first == last {
		return
	}
	for i := first + 1; i < last; i++ {
		v := s[i]
		if less(v, s[first]) {
			copy(s[first+1:i+1], s[first:i])
			s[first] = v
			continue
		}
		j := i
		for less(v, s[j-1]) {
			s[j] = s[j-1]
			j--
		}
		s[j] = v
	}
}

// heapSelect, adjustHeap and friends are libstdc++'s __heap_select,
// __make_heap, __pop_heap, __adjust_heap and __push_heap on s[first:].
func heapSelect[E any](s []E, first, middle, last int, less func(a, b E) bool) {
	h := s[first:]
	m := middle - first
	makeHeap(h, m, less)
	for i := m; i < last-first; i++ {
		if less(h[i], h[0]) {
			v := h[i]
			h[i] = h[0]
			adjustHeap(h, 0, m, v, less)
		}
	}
}

func makeHeap[E any](h []E, n int, less func(a, b E) bool) {
	if n < 2 {
		return
	}
	for parent := (n - 2) / 2; ; parent-- {
		adjustHeap(h, parent, n, h[parent], less)
		if parent == 0 {
			return
		}
	}
}

func adjustHeap[E any](h []E, hole, n int, v E, less func(a, b E) bool) {
	top := hole
	child := hole
	for child < (n-1)/2 {
		child = 2 * (child + 1)
		if less(h[child], h[child-1]) {
			child--
		}
		h[hole] = h[child]
		hole = child
	}
	if n%2 == 0 && child == (n-2)/2 {
		child = 2 * (child + 1)
		h[hole] = h[child-1]
		hole = child - 1
	}
	parent := (hole - 1) / 2
	for hole > top && less(h[parent], v) {
		h[hole] = h[parent]
		hole = parent
		parent = (hole - 1) / 2
	}
	h[hole] = v
}
