package qtensor

import "math/bits"

// This file reproduces the float32 summation order of ATen's CPU sum
// (aten/src/ATen/native/cpu/SumKernel.cpp, cascade_sum) for a contiguous
// input, so that the non-innermost quantized mean rounds exactly as PyTorch
// 1.13 does. ATen iterates a reduction through TensorIterator: the reduced
// dimensions go first (fastest), kept dimensions after, both in ascending
// stride order; adjacent dimensions that are contiguous with each other are
// merged; then a 2-D kernel runs over the first two dimensions for every
// index of the others, accumulating into the output. The kernel sums each
// lane with multi_row_sum (a 4-level cascade over chunks of 16) or row_sum
// (4 interleaved partial sums, each a cascade), and vectorizes over 8 float
// lanes (Vectorized<float> under the AVX2 capability PyTorch selects by
// default).

// sumVecLanes is Vectorized<float>::size() on PyTorch's AVX2 code path.
const sumVecLanes = 8

type iterDim struct {
	size, in, out int // size, input stride, output stride (elements)
}

// cascadeReduceSum sums x (contiguous, shape) over the dimensions marked in
// red and returns one float32 sum per kept index, in row-major order of the
// kept dimensions.
func cascadeReduceSum(x []float32, shape []int, red []bool) []float32 {
	r := len(shape)
	inSt := contiguousStrides(shape)
	keep := make([]int, r)
	for i := range shape {
		keep[i] = shape[i]
		if red[i] {
			keep[i] = 1
		}
	}
	outSt := contiguousStrides(keep)
	out := make([]float32, numel(keep))
	if len(x) == 0 || len(out) == 0 {
		return out
	}
	// Reduced dimensions first, then kept ones, each fastest first; size-1
	// dimensions merge into any neighbour and vanish.
	var dims []iterDim
	for _, want := range []bool{true, false} {
		for i := r - 1; i >= 0; i-- {
			if red[i] == want && shape[i] != 1 {
				o := outSt[i]
				if red[i] {
					o = 0
				}
				dims = append(dims, iterDim{shape[i], inSt[i], o})
			}
		}
	}
	if len(dims) == 0 || dims[0].out != 0 {
		// Nothing of size > 1 is reduced: each sum is 0 + x.
		for i, v := range x {
			out[i] = 0 + v
		}
		return out
	}
	// coalesce
	merged := dims[:1]
	for _, d := range dims[1:] {
		p := &merged[len(merged)-1]
		if p.size*p.in == d.in && p.size*p.out == d.out {
			p.size *= d.size
			continue
		}
		merged = append(merged, d)
	}
	dims = merged
	d0 := dims[0]
	d1 := iterDim{1, 0, 0}
	if len(dims) > 1 {
		d1 = dims[1]
	}
	rest := dims[min(2, len(dims)):]
	idx := make([]int, len(rest))
	inBase, outBase := 0, 0
	for {
		sumBlock(x, out, inBase, outBase, d0, d1)
		k := 0
		for ; k < len(rest); k++ {
			idx[k]++
			inBase += rest[k].in
			outBase += rest[k].out
			if idx[k] < rest[k].size {
				break
			}
			inBase -= rest[k].in * rest[k].size
			outBase -= rest[k].out * rest[k].size
			idx[k] = 0
		}
		if k == len(rest) {
			return out
		}
	}
}

// sumBlock is cascade_sum's 2-D loop body: d0 is reduced, d1 is kept
// (out ≠ 0) or reduced too (out = 0, all sums go to one output).
func sumBlock(x, out []float32, inBase, outBase int, d0, d1 iterDim) {
	size0, size1 := d0.size, d1.size
	in0, in1 := d0.in, d1.in
	outStride := d1.out
	switch {
	case in0 == 1 && size0 >= sumVecLanes:
		// vectorized_inner_sum
		vecSize := size0 / sumVecLanes
		for j := 0; j < size1; j++ {
			row := inBase + j*in1
			var final float32
			for k := vecSize * sumVecLanes; k < size0; k++ {
				final += x[row+k]
			}
			for l := 0; l < sumVecLanes; l++ {
				final += rowSum(x, row+l, sumVecLanes, vecSize)
			}
			out[outBase+j*outStride] += final
		}
	case in1 == 1 && size1 >= sumVecLanes:
		// vectorized_outer_sum
		j := 0
		for ; j+4*sumVecLanes <= size1; j += 4 * sumVecLanes {
			for c := j; c < j+4*sumVecLanes; c++ {
				out[outBase+c*outStride] += cascadeSum(x, inBase+c, in0, size0)
			}
		}
		for ; j < size1; j++ {
			out[outBase+j*outStride] += rowSum(x, inBase+j, in0, size0)
		}
	case in0 < in1:
		// scalar_inner_sum
		for j := 0; j < size1; j++ {
			out[outBase+j*outStride] += rowSum(x, inBase+j*in1, in0, size0)
		}
	default:
		// scalar_outer_sum
		j := 0
		for ; j+3 < size1; j += 4 {
			for c := j; c < j+4; c++ {
				out[outBase+c*outStride] += cascadeSum(x, inBase+c*in1, in0, size0)
			}
		}
		for ; j < size1; j++ {
			out[outBase+j*outStride] += rowSum(x, inBase+j*in1, in0, size0)
		}
	}
}

// cascadeSum is one lane of ATen's multi_row_sum over the size elements
// x[base], x[base+stride], ...
func cascadeSum(x []float32, base, stride, size int) float32 {
	const levels = 4
	power := max(4, ceilLog2(size)/levels)
	step := 1 << power
	mask := step - 1
	var acc [levels]float32
	i, p := 0, base
	for i+step <= size {
		a := acc[0]
		for j := 0; j < step; j++ {
			a += x[p]
			p += stride
		}
		acc[0] = a
		i += step
		for j := 1; j < levels; j++ {
			acc[j] += acc[j-1]
			acc[j-1] = 0
			if i&(mask<<(j*power)) != 0 {
				break
			}
		}
	}
	for ; i < size; i++ {
		acc[0] += x[p]
		p += stride
	}
	for j := 1; j < levels; j++ {
		acc[0] += acc[j]
	}
	return acc[0]
}

// rowSum is one lane of ATen's row_sum over x[base], x[base+stride], ...:
// four interleaved cascades, the tail added to the first, then the four
// combined in order.
func rowSum(x []float32, base, stride, size int) float32 {
	const ilp = 4
	n := size / ilp
	var p [ilp]float32
	for k := 0; k < ilp; k++ {
		p[k] = cascadeSum(x, base+k*stride, stride*ilp, n)
	}
	for i := n * ilp; i < size; i++ {
		p[0] += x[base+i*stride]
	}
	for k := 1; k < ilp; k++ {
		p[0] += p[k]
	}
	return p[0]
}

// ceilLog2 is ATen's utils::CeilLog2 (1 for x ≤ 2).
func ceilLog2(x int) int {
	if x <= 2 {
		return 1
	}
	return bits.Len64(uint64(x - 1))
}
