package kernels

import (
	"math"
	"unsafe"
)

// Quantize and dequantize kernels on raw slices. They match
// qdtype.QuantizeValue and qdtype.DequantizeValue bit for bit (PyTorch 1.13's
// quantize_val / dequantize_val):
//
//	q = clamp(zp + rne(f32(x·invScale)), qmin, qmax)   (rne: half to even)
//	x = f32(f32(q − zp)·scale)
//
// where invScale = f32(1/f32(scale)). As in PyTorch on x86, a product whose
// magnitude reaches 2⁶³ (or ±Inf) converts to INT64_MIN and so gives qmin,
// even when positive. NaN never reaches these kernels: callers reject it
// (it also gives qmin here). len(dst) must equal len(src).

const twoTo63 = 9223372036854775808.0

// quantizeOne is QuantizeValue for the ranges of these kernels.
func quantizeOne(x, inv float32, zp, qmin, qmax int64) int64 {
	y := x * inv
	if !(y > -twoTo63 && y < twoTo63) {
		return qmin
	}
	v := int64(math.RoundToEven(float64(y))) + zp
	return min(max(v, qmin), qmax)
}

func checkLen(op string, a, b int) {
	if a != b {
		panic("kernels: " + op + ": len(dst) != len(src)")
	}
}

// QuantizeF32U8 quantizes src to quint8: dst[i] = clamp(zp + rne(f32(src[i]·invScale)), 0, 255).
// PyTorch counterpart: quantize_per_tensor(x, scale, zp, torch.quint8).
func QuantizeF32U8(dst []uint8, src []float32, invScale float32, zp int32) {
	checkLen("QuantizeF32U8", len(dst), len(src))
	quantU8(dst, src, invScale, zp)
}

// quantU8, quantS8, dequantU8 and dequantS8 run the active path's vector
// loop (if it has one) on whole vectors and Go on the rest.
func quantU8(dst []uint8, src []float32, inv float32, zp int32) {
	i := 0
	if f := activeImpl().quant; f != nil && len(src) >= 16 && zp >= -1<<24 && zp <= 1<<24 {
		i = len(src) &^ 15
		f(&dst[0], &src[0], i, inv, zp, 0, 255)
	}
	z := int64(zp)
	for ; i < len(src); i++ {
		dst[i] = uint8(quantizeOne(src[i], inv, z, 0, 255))
	}
}

func quantS8(dst []int8, src []float32, inv float32, zp int32) {
	i := 0
	if f := activeImpl().quant; f != nil && len(src) >= 16 && zp >= -1<<24 && zp <= 1<<24 {
		i = len(src) &^ 15
		f((*byte)(unsafe.Pointer(&dst[0])), &src[0], i, inv, zp, -128, 127)
	}
	z := int64(zp)
	for ; i < len(src); i++ {
		dst[i] = int8(quantizeOne(src[i], inv, z, -128, 127))
	}
}

func dequantU8(dst []float32, src []uint8, scale float32, zp int32) {
	i := 0
	if f := activeImpl().dequantU8; f != nil && len(src) >= 16 {
		i = len(src) &^ 15
		f(&dst[0], &src[0], i, scale, zp)
	}
	for ; i < len(src); i++ {
		dst[i] = float32(int32(src[i])-zp) * scale
	}
}

func dequantS8(dst []float32, src []int8, scale float32, zp int32) {
	i := 0
	if f := activeImpl().dequantS8; f != nil && len(src) >= 16 {
		i = len(src) &^ 15
		f(&dst[0], &src[0], i, scale, zp)
	}
	for ; i < len(src); i++ {
		dst[i] = float32(int32(src[i])-zp) * scale
	}
}

// QuantizeF32S8 quantizes src to qint8: dst[i] = clamp(zp + rne(f32(src[i]·invScale)), −128, 127).
func QuantizeF32S8(dst []int8, src []float32, invScale float32, zp int32) {
	checkLen("QuantizeF32S8", len(dst), len(src))
	quantS8(dst, src, invScale, zp)
}

// QuantizeF32S32 quantizes src to qint32: dst[i] = clamp(zp + rne(f32(src[i]·invScale)), −2³¹, 2³¹−1).
func QuantizeF32S32(dst []int32, src []float32, invScale float32, zp int32) {
	checkLen("QuantizeF32S32", len(dst), len(src))
	z := int64(zp)
	for i, x := range src {
		dst[i] = int32(quantizeOne(x, invScale, z, math.MinInt32, math.MaxInt32))
	}
}

// checkPerChannel validates the [outer, channels, inner] view of a
// per-channel call.
func checkPerChannel(op string, n, outer, channels, inner, nInv, nZP int) {
	if outer < 0 || channels < 0 || inner < 0 || outer*channels*inner != n || nInv != channels || nZP != channels {
		panic("kernels: " + op + ": shape does not match the slices")
	}
}

// QuantizePerChannelF32U8 quantizes src, viewed as [outer, channels, inner]
// (the quantization axis in the middle), to quint8 with channel c's
// invScales[c] and zps[c]. PyTorch counterpart: quantize_per_channel.
func QuantizePerChannelF32U8(dst []uint8, src []float32, invScales []float32, zps []int32, outer, channels, inner int) {
	checkLen("QuantizePerChannelF32U8", len(dst), len(src))
	checkPerChannel("QuantizePerChannelF32U8", len(src), outer, channels, inner, len(invScales), len(zps))
	i := 0
	for o := 0; o < outer; o++ {
		for c := 0; c < channels; c++ {
			quantU8(dst[i:i+inner], src[i:i+inner], invScales[c], zps[c])
			i += inner
		}
	}
}

// QuantizePerChannelF32S8 is QuantizePerChannelF32U8 with qint8 output.
func QuantizePerChannelF32S8(dst []int8, src []float32, invScales []float32, zps []int32, outer, channels, inner int) {
	checkLen("QuantizePerChannelF32S8", len(dst), len(src))
	checkPerChannel("QuantizePerChannelF32S8", len(src), outer, channels, inner, len(invScales), len(zps))
	i := 0
	for o := 0; o < outer; o++ {
		for c := 0; c < channels; c++ {
			quantS8(dst[i:i+inner], src[i:i+inner], invScales[c], zps[c])
			i += inner
		}
	}
}

// DequantizeU8F32 computes dst[i] = f32(f32(src[i] − zp)·scale). PyTorch
// counterpart: dequantize of a per-tensor quint8 tensor.
func DequantizeU8F32(dst []float32, src []uint8, scale float32, zp int32) {
	checkLen("DequantizeU8F32", len(dst), len(src))
	dequantU8(dst, src, scale, zp)
}

// DequantizeS8F32 computes dst[i] = f32(f32(src[i] − zp)·scale) for qint8.
func DequantizeS8F32(dst []float32, src []int8, scale float32, zp int32) {
	checkLen("DequantizeS8F32", len(dst), len(src))
	dequantS8(dst, src, scale, zp)
}

// DequantizeS32F32 computes dst[i] = f32(f32(src[i] − zp)·scale) for
// qint32, the difference taken in int64 as PyTorch does.
func DequantizeS32F32(dst []float32, src []int32, scale float32, zp int32) {
	checkLen("DequantizeS32F32", len(dst), len(src))
	for i, q := range src {
		dst[i] = float32(int64(q)-int64(zp)) * scale
	}
}

// DequantizePerChannelU8F32 dequantizes src, viewed as [outer, channels,
// inner], with channel c's scales[c] and zps[c].
func DequantizePerChannelU8F32(dst []float32, src []uint8, scales []float32, zps []int32, outer, channels, inner int) {
	checkLen("DequantizePerChannelU8F32", len(dst), len(src))
	checkPerChannel("DequantizePerChannelU8F32", len(src), outer, channels, inner, len(scales), len(zps))
	i := 0
	for o := 0; o < outer; o++ {
		for c := 0; c < channels; c++ {
			dequantU8(dst[i:i+inner], src[i:i+inner], scales[c], zps[c])
			i += inner
		}
	}
}

// DequantizePerChannelS8F32 is DequantizePerChannelU8F32 for qint8.
func DequantizePerChannelS8F32(dst []float32, src []int8, scales []float32, zps []int32, outer, channels, inner int) {
	checkLen("DequantizePerChannelS8F32", len(dst), len(src))
	checkPerChannel("DequantizePerChannelS8F32", len(src), outer, channels, inner, len(scales), len(zps))
	i := 0
	for o := 0; o < outer; o++ {
		for c := 0; c < channels; c++ {
			dequantS8(dst[i:i+inner], src[i:i+inner], scales[c], zps[c])
			i += inner
		}
	}
}
