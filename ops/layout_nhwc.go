package ops

import (
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

// oneByOneLayout reproduces PyTorch 1.13's output layout for a contiguous
// (N, C, 1, 1) input with C > 1. Such a tensor is also channels-last
// contiguous, so the quantized max_pool2d, avg_pool2d, adaptive_avg_pool2d
// and upsample kernels take their channels-last paths and write the output
// in (N, H, W, C) order, but PyTorch allocates the output as an ordinary
// contiguous (N, C, H, W) tensor. Whenever the output plane has more than
// one element, the values therefore land permuted: PyTorch's element
// (n, c, y, x) holds the logical result at flat NHWC position
// c·H·W + y·W + x of batch n. out (computed in logical NCHW order) is
// reordered in place and returned; other shapes are returned unchanged.
// (Checked against torch 1.13 for all five ops, C = 2 and 6.)
func oneByOneLayout(x, out *qtensor.QTensor) *qtensor.QTensor {
	sh, os := x.Shape(), out.Shape()
	if len(sh) != 4 || len(os) != 4 || sh[2]*sh[3] != 1 || sh[1] <= 1 {
		return out
	}
	n, c, plane := os[0], os[1], os[2]*os[3]
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
