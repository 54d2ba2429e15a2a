package ops

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

// Quantized pooling on NCHW (or CHW) and NCDHW (or CDHW) tensors. The
// outputs keep the input's qparams, as in PyTorch.

// expandInts returns v as n values: one value repeated, or n values. An
// empty v gives def (nil def: an error). Every value must be ≥ lo.
func expandInts(op, name string, v []int, n int, def []int, lo int) ([]int, error) {
	switch {
	case len(v) == 0 && def != nil:
		v = def
	case len(v) == 1:
		r := make([]int, n)
		for i := range r {
			r[i] = v[0]
		}
		v = r
	case len(v) != n:
		return nil, fmt.Errorf("ops: %s: %s must be one int or %d ints, got %v", op, name, n, v)
	}
	for _, x := range v {
		if x < lo {
			return nil, fmt.Errorf("ops: %s: %s %v must be ≥ %d", op, name, v, lo)
		}
	}
	return v, nil
}

// poolGeom holds the validated geometry of a pool along d dimensions.
type poolGeom struct {
	batch, planes int   // leading size (n·c) and c
	in, out       []int // spatial sizes
	k, s, p, dil  []int
}

// poolSetup validates x's rank (d+1 or d+2), the window parameters and
// PyTorch's "pad at most half of the kernel" rule, and computes the output
// sizes with kernels.PoolOutputSize. allowEmpty admits an output size of 0
// (avg pools); negative sizes are always errors.
func poolSetup(op string, x *qtensor.QTensor, d int, kernel, stride, padding, dilation []int, ceil, allowEmpty bool, padMsg string) (poolGeom, error) {
	var g poolGeom
	shape := x.Shape()
	if len(shape) != d+1 && len(shape) != d+2 {
		return g, fmt.Errorf("ops: %s: input has shape %v; want rank %d or %d", op, []int(shape), d+1, d+2)
	}
	k, err := expandInts(op, "kernel_size", kernel, d, nil, 1)
	if err != nil {
		return g, err
	}
	s, err := expandInts(op, "stride", stride, d, k, 1)
	if err != nil {
		return g, err
	}
	p, err := expandInts(op, "padding", padding, d, make([]int, d), 0)
	if err != nil {
		return g, err
	}
	dil, err := expandInts(op, "dilation", dilation, d, onesInts(d), 1)
	if err != nil {
		return g, err
	}
	g = poolGeom{k: k, s: s, p: p, dil: dil, batch: 1}
	sp := len(shape) - d
	for _, v := range shape[:sp] {
		g.batch *= v
	}
	g.planes = shape[sp-1]
	g.in = append([]int(nil), shape[sp:]...)
	for i := 0; i < d; i++ {
		if p[i] > k[i]/2 {
			return g, fmt.Errorf("ops: %s: %s (padding %v, kernel_size %v)", op, padMsg, p, k)
		}
		o := kernels.PoolOutputSize(g.in[i], k[i], p[i], s[i], dil[i], ceil)
		if o < 0 || (o == 0 && !allowEmpty) {
			return g, fmt.Errorf("ops: %s: input spatial size %v gives output size %d along dimension %d; the window does not fit", op, g.in, o, i)
		}
		g.out = append(g.out, o)
	}
	return g, nil
}

func onesInts(n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = 1
	}
	return r
}

// pooledShape returns x's shape with the last d sizes replaced by out.
func pooledShape(x *qtensor.QTensor, out []int) []int {
	shape := []int(x.Shape())
	return append(append([]int(nil), shape[:len(shape)-len(out)]...), out...)
}

// MaxPool2d returns the 2-D max pool of a (N,)C,H,W quantized tensor: each
// output is the largest code of its window (rows oh·stride − padding +
// i·dilation, i < kernel, likewise columns), so it keeps x's qparams and is
// exact. kernel, stride, padding and dilation are one int or two (height,
// width); an empty stride means stride = kernel, an empty padding 0 and an
// empty dilation 1. Output size per dimension is PyTorch's
// pooling_output_shape (floor, or ceil without starting a window in the
// right padding). PyTorch: F.max_pool2d / nn.MaxPool2d on a quantized
// tensor (return_indices is not supported there either); a (N, C, 1, 1)
// input with C > 1 gives PyTorch's permuted values (see oneByOneLayout).
// Errors: bad input, rank not 3 or 4, kernel/stride/dilation < 1, padding < 0
// or more than half the kernel, output size < 1.
func MaxPool2d(x *qtensor.QTensor, kernel, stride, padding, dilation []int, ceilMode bool) (*qtensor.QTensor, error) {
	const op = "max_pool2d"
	a, err := perTensor8(op, x)
	if err != nil {
		return nil, err
	}
	g, err := poolSetup(op, x, 2, kernel, stride, padding, dilation, ceilMode, false, "padding should be at most half of kernel_size")
	if err != nil {
		return nil, err
	}
	out, err := emptyLike8(op, pooledShape(x, g.out), x.QParams())
	if err != nil {
		return nil, err
	}
	w := kernels.Window2d{KH: g.k[0], KW: g.k[1], SH: g.s[0], SW: g.s[1], PH: g.p[0], PW: g.p[1], DH: g.dil[0], DW: g.dil[1]}
	if out.Size() == 0 || x.Size() == 0 {
		return out, nil
	}
	if a.signed {
		kernels.MaxPool2d(out.Dense().Int8s(), x.Dense().Int8s(), g.batch, g.in[0], g.in[1], g.out[0], g.out[1], w)
	} else {
		kernels.MaxPool2d(out.Dense().Uint8s(), x.Dense().Uint8s(), g.batch, g.in[0], g.in[1], g.out[0], g.out[1], w)
	}
	return oneByOneLayout(x, out), nil
}

// AvgPool2d returns the 2-D average pool of a (N,)C,H,W quantized tensor
// with x's qparams, as PyTorch 1.13's NCHW quantized kernel computes it
// (for a 4-D input with one channel or a 1×1 plane, which PyTorch also
// sees as channels-last contiguous, its channels-last kernel: AvgPool3d's
// formula with depth 1, the zero point added after rounding):
// an exact integer sum and one rounding,
//
//	q' = clamp(rne(f32(Σq − size·zp)·f32(1/div) + zp), qmin, qmax)
//
// where size counts the window's elements inside the input and div is
// divisorOverride when non-zero, else the window clipped to the padded
// input (countIncludePad) or size. Ties round to even. kernel, stride and
// padding are as MaxPool2d's (no dilation). PyTorch: F.avg_pool2d /
// nn.AvgPool2d on a quantized tensor. Errors: as MaxPool2d's; an output
// size of 0 gives an empty tensor.
func AvgPool2d(x *qtensor.QTensor, kernel, stride, padding []int, ceilMode, countIncludePad bool, divisorOverride int) (*qtensor.QTensor, error) {
	const op = "avg_pool2d"
	a, err := perTensor8(op, x)
	if err != nil {
		return nil, err
	}
	g, err := poolSetup(op, x, 2, kernel, stride, padding, nil, ceilMode, true, "pad should be at most half of kernel size")
	if err != nil {
		return nil, err
	}
	out, err := emptyLike8(op, pooledShape(x, g.out), x.QParams())
	if err != nil {
		return nil, err
	}
	if out.Size() == 0 || x.Size() == 0 {
		return out, nil
	}
	zp := int32(a.zp)
	if sh := x.Shape(); channelsLastToo(sh) {
		// PyTorch runs its channels-last kernel (avg_pool3d's, depth 1).
		w3 := kernels.Window3d{KD: 1, KH: g.k[0], KW: g.k[1], SD: 1, SH: g.s[0], SW: g.s[1], PH: g.p[0], PW: g.p[1]}
		s := float32(a.scale)
		if a.signed {
			kernels.AvgPool3d(out.Dense().Int8s(), x.Dense().Int8s(), sh[0], sh[1], 1, g.in[0], g.in[1], 1, g.out[0], g.out[1], w3, countIncludePad, divisorOverride, zp, zp, s, s)
		} else {
			kernels.AvgPool3d(out.Dense().Uint8s(), x.Dense().Uint8s(), sh[0], sh[1], 1, g.in[0], g.in[1], 1, g.out[0], g.out[1], w3, countIncludePad, divisorOverride, zp, zp, s, s)
		}
		return oneByOneLayout(x, out), nil
	}
	w := kernels.Window2d{KH: g.k[0], KW: g.k[1], SH: g.s[0], SW: g.s[1], PH: g.p[0], PW: g.p[1], DH: 1, DW: 1}
	if a.signed {
		kernels.AvgPool2d(out.Dense().Int8s(), x.Dense().Int8s(), g.batch, g.in[0], g.in[1], g.out[0], g.out[1], w, countIncludePad, divisorOverride, zp, zp, 1)
	} else {
		kernels.AvgPool2d(out.Dense().Uint8s(), x.Dense().Uint8s(), g.batch, g.in[0], g.in[1], g.out[0], g.out[1], w, countIncludePad, divisorOverride, zp, zp, 1)
	}
	return out, nil
}

// AvgPool3d returns the 3-D average pool of an N,C,D,H,W quantized tensor
// with x's qparams, as PyTorch 1.13 computes it (always its channels-last
// kernel): an exact integer sum, then
//
//	q' = clamp(zp + rne(f32(Σq − size·zp)·m), qmin, qmax),  m ≈ f32(1/div)
//
// with the zero point added after rounding (see kernels.AvgPool3d for the
// exact multiplier per channel); size and div as AvgPool2d's. kernel,
// stride and padding are one int or three (depth, height, width). PyTorch:
// F.avg_pool3d / nn.AvgPool3d on a quantized tensor, which needs a rank-5
// input (a (N, C>1, 1, 1, 1) input gives PyTorch's permuted values, see
// oneByOneLayout). Errors: as AvgPool2d's, and rank not 5.
func AvgPool3d(x *qtensor.QTensor, kernel, stride, padding []int, ceilMode, countIncludePad bool, divisorOverride int) (*qtensor.QTensor, error) {
	const op = "avg_pool3d"
	a, err := perTensor8(op, x)
	if err != nil {
		return nil, err
	}
	if x.Dims() != 5 {
		return nil, fmt.Errorf("ops: %s: input has shape %v; want rank 5 (N, C, D, H, W)", op, []int(x.Shape()))
	}
	g, err := poolSetup(op, x, 3, kernel, stride, padding, nil, ceilMode, true, "pad should be at most half of kernel size")
	if err != nil {
		return nil, err
	}
	out, err := emptyLike8(op, pooledShape(x, g.out), x.QParams())
	if err != nil {
		return nil, err
	}
	if out.Size() == 0 || x.Size() == 0 {
		return out, nil
	}
	shape := x.Shape()
	w := kernels.Window3d{KD: g.k[0], KH: g.k[1], KW: g.k[2], SD: g.s[0], SH: g.s[1], SW: g.s[2], PD: g.p[0], PH: g.p[1], PW: g.p[2]}
	zp, s := int32(a.zp), float32(a.scale)
	if a.signed {
		kernels.AvgPool3d(out.Dense().Int8s(), x.Dense().Int8s(), shape[0], shape[1], g.in[0], g.in[1], g.in[2], g.out[0], g.out[1], g.out[2], w, countIncludePad, divisorOverride, zp, zp, s, s)
	} else {
		kernels.AvgPool3d(out.Dense().Uint8s(), x.Dense().Uint8s(), shape[0], shape[1], g.in[0], g.in[1], g.in[2], g.out[0], g.out[1], g.out[2], w, countIncludePad, divisorOverride, zp, zp, s, s)
	}
	return oneByOneLayout(x, out), nil
}

// AdaptiveAvgPool2d returns the adaptive average pool of a (N,)C,H,W
// quantized tensor to outH×outW, with x's qparams: output (y, x) averages
// input rows [⌊y·H/outH⌋, ⌈(y+1)·H/outH⌉) (float32 index math) and the
// likewise columns, on the raw codes: q' = rne(f32(Σq)·f32(f32(1/kh)/kw)),
// ties to even (see kernels.AdaptiveAvgPool2d); a 4-D input with one
// channel or a 1×1 plane goes through PyTorch's channels-last kernel
// instead (kernels.AdaptiveAvgPool2dNHWC; values of a several-channel 1×1
// input land permuted as in PyTorch, see oneByOneLayout). PyTorch:
// F.adaptive_avg_pool2d / nn.AdaptiveAvgPool2d on a contiguous quantized
// tensor. Errors: bad input, rank not 3 or 4, negative output sizes, an
// empty input with a non-empty output.
func AdaptiveAvgPool2d(x *qtensor.QTensor, outH, outW int) (*qtensor.QTensor, error) {
	const op = "adaptive_avg_pool2d"
	a, err := perTensor8(op, x)
	if err != nil {
		return nil, err
	}
	shape := x.Shape()
	if len(shape) != 3 && len(shape) != 4 {
		return nil, fmt.Errorf("ops: %s: input has shape %v; want rank 3 or 4", op, []int(shape))
	}
	if outH < 0 || outW < 0 {
		return nil, fmt.Errorf("ops: %s: output size (%d, %d) must not be negative", op, outH, outW)
	}
	ih, iw := shape[len(shape)-2], shape[len(shape)-1]
	if (ih == 0 || iw == 0) && outH*outW > 0 {
		return nil, fmt.Errorf("ops: %s: input has shape %v with an empty spatial dimension", op, []int(shape))
	}
	out, err := emptyLike8(op, pooledShape(x, []int{outH, outW}), x.QParams())
	if err != nil {
		return nil, err
	}
	if out.Size() == 0 {
		return out, nil
	}
	planes := x.Size() / (ih * iw)
	if channelsLastToo(shape) {
		zp := int32(a.zp)
		if a.signed {
			kernels.AdaptiveAvgPool2dNHWC(out.Dense().Int8s(), x.Dense().Int8s(), planes, ih, iw, outH, outW, zp)
		} else {
			kernels.AdaptiveAvgPool2dNHWC(out.Dense().Uint8s(), x.Dense().Uint8s(), planes, ih, iw, outH, outW, zp)
		}
		return oneByOneLayout(x, out), nil
	}
	if a.signed {
		kernels.AdaptiveAvgPool2d(out.Dense().Int8s(), x.Dense().Int8s(), planes, ih, iw, outH, outW)
	} else {
		kernels.AdaptiveAvgPool2d(out.Dense().Uint8s(), x.Dense().Uint8s(), planes, ih, iw, outH, outW)
	}
	return out, nil
}

// channelsLastToo reports whether PyTorch sees a contiguous NCHW tensor of
// this shape as channels-last contiguous too (size-1 dimensions have any
// stride): rank 4 with one channel or a 1×1 plane. PyTorch's quantized
// average pools then take their channels-last kernels.
func channelsLastToo(shape []int) bool {
	return len(shape) == 4 && (shape[1] == 1 || shape[2]*shape[3] == 1)
}
