package ops

import (
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

// oneByOneLayout reproduces PyTorch 1.13's output layout for a contiguous
// (N, C, 1, 1) or (N, C, 1, 1, 1) input with C > 1. Such a tensor is also
// channels-last contiguous, so the quantized max_pool2d, avg_pool2d,
// adaptive_avg_pool2d, upsample and avg_pool3d kernels take their
// channels-last paths and write the output in (N, [D,] H, W, C) order, but
// PyTorch allocates the output as an ordinary contiguous tensor. Whenever the output plane has more than
// one element, the values therefore land permuted: PyTorch's element
// (n, c, y, x) holds the logical result at flat NHWC position
// c·H·W + y·W + x of batch n. out (computed in logical NCHW order) is
// reordered in place and returned; other shapes are returned unchanged.
// (Checked against torch 1.13 for all six ops.)
func oneByOneLayout(x, out *qtensor.QTensor) *qtensor.QTensor {
	sh, os := x.Shape(), out.Shape()
	if (len(sh) != 4 && len(sh) != 5) || len(os) != len(sh) || sh[1] <= 1 {
		return out
	}
	in, plane := 1, 1
	for i := 2; i < len(sh); i++ {
		in, plane = in*sh[i], plane*os[i]
	}
	if in != 1 {
		return out
	}
	n, c := os[0], os[1]
	if plane <= 1 || n*c == 0 {
		return out
	}
	if out.Dtype() == qdtype.QInt8Dtype {
		scatterNHWC(out.Dense().Int8s()[:out.Size()], n, c, plane)
	} else {
		scatterNHWC(out.Dense().Uint8s()[:out.Size()], n, c, plane)
	}
	return out
}

// scatterNHWC rewrites d, n batches of c planes of plane values (NCHW), so
// that batch b's flat position p·c + ch holds the value of channel ch at
// plane position p.
func scatterNHWC[T int8 | uint8](d []T, n, c, plane int) {
	tmp := make([]T, c*plane)
	for b := 0; b < n; b++ {
		blk := d[b*c*plane : (b+1)*c*plane]
		for ch := 0; ch < c; ch++ {
			for p := 0; p < plane; p++ {
				tmp[p*c+ch] = blk[ch*plane+p]
			}
		}
		copy(blk, tmp)
	}
}
