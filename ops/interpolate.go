package ops

import (
	"fmt"
	"math"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

// Interpolate resizes an N,C,H,W quantized tensor, keeping its qparams, as
// F.interpolate does on quantized tensors in PyTorch 1.13. Give either size
// (one int for both dimensions, or [H, W]) or scaleFactor (one value or
// two); the output size is then ⌊in·scaleFactor⌋ and the coordinate map
// uses the given factor (recompute_scale_factor unset).
//
// mode "nearest": out[y][x] = in[min(⌊f32(y)·step⌋, H−1)][…] with
// step = f32(1/scaleFactor), or f32(H)/f32(outH) when a size was given
// (PyTorch's quantized kernel, without the float kernel's per-dimension
// shortcuts); codes are copied. mode "bilinear": PyTorch's float32 formula on the raw codes with
// one half-to-even rounding (kernels.UpsampleBilinear2d); alignCorners maps
// corner to corner, src = y·(H−1)/(outH−1), else src = max((y+0.5)·scale −
// 0.5, 0). alignCorners must be false for "nearest".
//
// An output height of 0 gives an empty tensor, as in PyTorch; an input or
// output width of 0 is an error (PyTorch's kernels assert both > 0).
//
// Errors: bad input, rank not 4, both or neither of size and scaleFactor,
// non-positive or non-finite factors, negative sizes, a zero input or
// output width, an unknown mode.
func Interpolate(x *qtensor.QTensor, size []int, scaleFactor []float64, mode string, alignCorners bool) (*qtensor.QTensor, error) {
	op := "interpolate"
	a, err := perTensor8(op, x)
	if err != nil {
		return nil, err
	}
	shape := x.Shape()
	if len(shape) != 4 {
		return nil, fmt.Errorf("ops: %s: input has shape %v; want rank 4 (N, C, H, W)", op, []int(shape))
	}
	switch mode {
	case "nearest":
		if alignCorners {
			return nil, fmt.Errorf("ops: %s: align_corners only applies to bilinear mode, not %q", op, mode)
		}
	case "bilinear":
	default:
		return nil, fmt.Errorf("ops: %s: mode %q is not supported; want \"nearest\" or \"bilinear\"", op, mode)
	}
	in := []int{shape[2], shape[3]}
	var out []int
	scales := []float64{0, 0}
	switch {
	case len(size) > 0 && len(scaleFactor) > 0:
		return nil, fmt.Errorf("ops: %s: give either size or scale_factor, not both", op)
	case len(size) > 0:
		out, err = expandInts(op, "size", size, 2, nil, 0)
		if err != nil {
			return nil, err
		}
	case len(scaleFactor) > 0:
		sf := scaleFactor
		if len(sf) == 1 {
			sf = []float64{sf[0], sf[0]}
		}
		if len(sf) != 2 {
			return nil, fmt.Errorf("ops: %s: scale_factor must be one value or 2, got %v", op, scaleFactor)
		}
		for i, f := range sf {
			if !(f > 0) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("ops: %s: scale_factor %v must be finite and > 0", op, scaleFactor)
			}
			out = append(out, int(math.Floor(float64(in[i])*f)))
		}
		scales = sf
	default:
		return nil, fmt.Errorf("ops: %s: give size or scale_factor", op)
	}
	// PyTorch's quantized kernels assert input_width > 0 && output_width > 0
	// (for any batch size); an output height of 0 gives an empty tensor.
	if out[1] < 1 || in[1] < 1 {
		return nil, fmt.Errorf("ops: %s: input width %d and output width %d must be > 0 (output size %v)", op, in[1], out[1], out)
	}
	res, err := emptyLike8(op, []int{shape[0], shape[1], out[0], out[1]}, x.QParams())
	if err != nil {
		return nil, err
	}
	if res.Size() == 0 {
		return res, nil
	}
	if in[0] == 0 || in[1] == 0 {
		return nil, fmt.Errorf("ops: %s: input has shape %v with an empty spatial dimension", op, []int(shape))
	}
	planes := shape[0] * shape[1]
	zp := int32(a.zp)
	switch {
	case mode == "nearest" && a.signed:
		kernels.UpsampleNearest2d(res.Dense().Int8s(), x.Dense().Int8s(), planes, in[0], in[1], out[0], out[1], scales[0], scales[1])
	case mode == "nearest":
		kernels.UpsampleNearest2d(res.Dense().Uint8s(), x.Dense().Uint8s(), planes, in[0], in[1], out[0], out[1], scales[0], scales[1])
	case a.signed:
		kernels.UpsampleBilinear2d(res.Dense().Int8s(), x.Dense().Int8s(), planes, in[0], in[1], out[0], out[1], alignCorners, scales[0], scales[1], zp, zp, 1)
	default:
		kernels.UpsampleBilinear2d(res.Dense().Uint8s(), x.Dense().Uint8s(), planes, in[0], in[1], out[0], out[1], alignCorners, scales[0], scales[1], zp, zp, 1)
	}
	// A (N, C, 1, 1) input: PyTorch's channels-last kernel permutes the values.
	return oneByOneLayout(x, res), nil
}

// Upsample is Interpolate under the name of nn.Upsample, which calls
// F.interpolate with the same arguments.
func Upsample(x *qtensor.QTensor, size []int, scaleFactor []float64, mode string, alignCorners bool) (*qtensor.QTensor, error) {
	return Interpolate(x, size, scaleFactor, mode, alignCorners)
}

// UpsampleNearest is nn.UpsamplingNearest2d: Interpolate with mode
// "nearest".
func UpsampleNearest(x *qtensor.QTensor, size []int, scaleFactor []float64) (*qtensor.QTensor, error) {
	return Interpolate(x, size, scaleFactor, "nearest", false)
}

// UpsampleBilinear is nn.UpsamplingBilinear2d: Interpolate with mode
// "bilinear" and align_corners true (that module always aligns corners).
func UpsampleBilinear(x *qtensor.QTensor, size []int, scaleFactor []float64) (*qtensor.QTensor, error) {
	return Interpolate(x, size, scaleFactor, "bilinear", true)
}
