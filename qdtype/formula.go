package qdtype

import (
	"errors"
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// Eps is float32 machine epsilon, the default lower bound observers put on
// scales (torch.finfo(torch.float32).eps).
const Eps float32 = 1.1920929e-07

// SmallScaleThreshold is the smallest scale ChooseQuantizationParams returns
// (fp16's smallest normal, as fbgemm's SMALL_SCALE_THRESHOLD).
const SmallScaleThreshold float32 = 6.1e-5

// RoundHalfEven rounds a float32 to the nearest integer, ties to even, as
// std::nearbyint and torch.round do under the default rounding mode.
func RoundHalfEven(v float32) float64 { return math.RoundToEven(float64(v)) }

// QuantizeValue computes q = clamp(zp + rne(f32(x·f32(1/f32(scale)))), qmin, qmax)
// where rne rounds half to even: PyTorch 1.13's quantize_val. The scale is
// taken as float32 and inverted in float32 (a reciprocal multiply, not a
// division); the zero point is added after rounding.
//
// Out-of-range values saturate, except that a rounded value whose magnitude
// does not fit in an int64 (|x/scale| ≥ 2⁶³, ±Inf) or NaN maps to qmin: PyTorch
// converts it to int64 on x86, which yields INT64_MIN, and then clamps. The
// conformance suite pins this (3.4e38 quantizes to qmin). Public entry points
// reject NaN before calling this.
func QuantizeValue(x float32, invScale float32, zp, qmin, qmax int64) int64 {
	r := math.RoundToEven(float64(x * invScale))
	if !(r > -twoTo63 && r < twoTo63) {
		return qmin
	}
	v := int64(r) + zp
	if v < qmin {
		return qmin
	}
	if v > qmax {
		return qmax
	}
	return v
}

const twoTo63 = 9223372036854775808.0

// InvScale returns f32(1/f32(scale)), the reciprocal QuantizeValue takes.
func InvScale(scale float64) float32 { return 1 / float32(scale) }

// DequantizeValue computes f32((q − zp)·f32(scale)), PyTorch's dequantize_val.
func DequantizeValue(q, zp int64, scale float64) float32 {
	return float32(q-zp) * float32(scale)
}

// QuantizeValueFloatQParams computes q = clamp(lrintf(x·inv + zp), qmin, qmax)
// with inv = 1/scale (1 when scale is 0): quantize_val_float_qparams, the
// per_channel_affine_float_qparams scheme, where the float zero point is
// added before rounding.
func QuantizeValueFloatQParams(x float32, scale float32, zp float32, qmin, qmax int64) int64 {
	inv := float32(1)
	if scale != 0 {
		inv = 1 / scale
	}
	r := math.RoundToEven(float64(x*inv + zp))
	if !(r > -twoTo63 && r < twoTo63) {
		return qmin
	}
	v := int64(r)
	if v < qmin {
		return qmin
	}
	if v > qmax {
		return qmax
	}
	return v
}

// ChooseQuantizationParams is PyTorch's C++ quant_utils::ChooseQuantizationParams
// (identical to fbgemm's), used by dynamic quantization and by
// FusedMovingAvgObsFakeQuantize. It differs from the observers' formula
// (CalculateQParams): a zero range gives scale 0.1, scales below
// SmallScaleThreshold are raised to it, and preserveSparsity (symmetric)
// uses max(|min|/128, max/127) with the zero point (qmin+qmax)/2 rounded.
//
// With reduceRange, qmin and qmax are halved (integer division) first. min
// must not exceed max, and both must be finite.
func ChooseQuantizationParams(min, max float32, qmin, qmax int64, preserveSparsity, reduceRange bool) (scale float64, zeroPoint int64, err error) {
	if math.IsNaN(float64(min)) || math.IsNaN(float64(max)) || math.IsInf(float64(min), 0) || math.IsInf(float64(max), 0) {
		return 0, 0, fmt.Errorf("qdtype: choose qparams: min %v and max %v must be finite", min, max)
	}
	if min > max {
		return 0, 0, fmt.Errorf("qdtype: choose qparams: min %v is greater than max %v", min, max)
	}
	if qmin >= qmax {
		return 0, 0, fmt.Errorf("qdtype: choose qparams: qmin %d must be less than qmax %d", qmin, qmax)
	}
	if reduceRange {
		qmin /= 2
		qmax /= 2
	}
	if min < 0 && max > 0 && preserveSparsity {
		symQmin := -((qmax-qmin)/2 + 1)
		symQmax := (qmax - qmin) / 2
		// float32 divisions, as the C++ (float min / int) does; OPS.md
		// verified this bit for bit against fused_moving_avg_obs_fake_quant.
		a := float32(math.Abs(float64(min / float32(symQmin))))
		b := float32(math.Abs(float64(max / float32(symQmax))))
		maxScale := a
		if b > a {
			maxScale = b
		}
		min = maxScale * float32(symQmin)
		max = maxScale * float32(symQmax)
	}
	if min > 0 {
		min = 0
	}
	if max < 0 {
		max = 0
	}
	scale = (float64(max) - float64(min)) / float64(qmax-qmin)
	if float32(scale) == 0 || math.IsInf(float64(1/float32(scale)), 0) {
		scale = 0.1
	}
	if scale < float64(SmallScaleThreshold) {
		org := scale
		scale = float64(SmallScaleThreshold)
		switch {
		case min == 0:
			max = SmallScaleThreshold * float32(qmax-qmin)
		case max == 0:
			min = -SmallScaleThreshold * float32(qmax-qmin)
		default:
			amp := SmallScaleThreshold / float32(org)
			min *= amp
			max *= amp
		}
	}
	zpFromMin := float64(qmin) - float64(min)/scale
	zpFromMax := float64(qmax) - float64(max)/scale
	errMin := math.Abs(float64(qmin)) - math.Abs(float64(min)/scale)
	errMax := math.Abs(float64(qmax)) - math.Abs(float64(max)/scale)
	zp0 := zpFromMax
	if errMin < errMax {
		zp0 = zpFromMin
	}
	if min < 0 && max > 0 && preserveSparsity {
		zp0 = float64(qmin+qmax) / 2
	}
	switch {
	case zp0 < float64(qmin):
		zeroPoint = qmin
	case zp0 > float64(qmax):
		zeroPoint = qmax
	default:
		zeroPoint = int64(math.RoundToEven(zp0))
	}
	return scale, zeroPoint, nil
}

// errMinMax prefixes CalculateQParams errors.
var errMinMax = errors.New("qdtype: calculate qparams")

// CalculateQParams is the observers' _calculate_qparams of PyTorch 1.13, in
// float32 arithmetic, for one range (per-tensor) or one range per channel.
//
//	affine:     scale = max(f32(max⁺ − min⁻)/f32(qmax − qmin), eps)
//	            zp = clamp(qmin − rne(min⁻/scale), qmin, qmax)
//	            (in int32, as PyTorch: see observerZeroPoint)
//	symmetric:  scale = max(max(−min⁻, max⁺)/f32((qmax − qmin)/2), eps)
//	            zp = 0, or 128 for quint8 ((qmin+qmax)/2 with a custom range)
//	float qparams: scale = (max − min)/(qmax − qmin) (1 where ≤ eps), zp = −min/scale (float)
//
// where min⁻ = min(min, 0) and max⁺ = max(max, 0). Never-observed ranges
// (no channels, or a per-tensor min of +Inf and max of −Inf) give scale 1 and
// zero point 0 with one entry, as PyTorch does. min > max or NaN is an error.
// zps is nil and floatZps is set for PerChannelAffineFloatQParams.
func CalculateQParams(minVals, maxVals []float32, dt tensor.Dtype, scheme QScheme, qmin, qmax int64, customRange bool, eps float32) (scales []float32, zps []int64, floatZps []float32, err error) {
	if len(minVals) != len(maxVals) {
		return nil, nil, nil, fmt.Errorf("%w: %d min values and %d max values", errMinMax, len(minVals), len(maxVals))
	}
	if len(minVals) == 0 || (len(minVals) == 1 && !scheme.PerChannel() && math.IsInf(float64(minVals[0]), 1) && math.IsInf(float64(maxVals[0]), -1)) {
		if scheme == PerChannelAffineFloatQParams {
			return []float32{1}, nil, []float32{0}, nil
		}
		return []float32{1}, []int64{0}, nil, nil
	}
	for i := range minVals {
		if !(minVals[i] <= maxVals[i]) {
			return nil, nil, nil, fmt.Errorf("%w: min %v should be less than max %v (channel %d)", errMinMax, minVals[i], maxVals[i], i)
		}
	}
	n := len(minVals)
	scales = make([]float32, n)
	if scheme == PerChannelAffineFloatQParams {
		floatZps = make([]float32, n)
		for i := range minVals {
			s := (maxVals[i] - minVals[i]) / float32(qmax-qmin)
			if !(s > eps) {
				s = 1
			}
			scales[i] = s
			floatZps[i] = -minVals[i] / s
		}
		return scales, nil, floatZps, nil
	}
	zps = make([]int64, n)
	for i := range minVals {
		minNeg := minVals[i]
		if minNeg > 0 {
			minNeg = 0
		}
		maxPos := maxVals[i]
		if maxPos < 0 {
			maxPos = 0
		}
		if scheme.Symmetric() {
			if -minNeg > maxPos {
				maxPos = -minNeg
			}
			s := maxPos / (float32(qmax-qmin) / 2)
			if s < eps {
				s = eps
			}
			scales[i] = s
			if dt == QUInt8Dtype {
				if customRange {
					zps[i] = floorDiv2(qmin + qmax)
				} else {
					zps[i] = 128
				}
			}
			continue
		}
		s := (maxPos - minNeg) / float32(qmax-qmin)
		if s < eps {
			s = eps
		}
		scales[i] = s
		z := observerZeroPoint(qmin, RoundHalfEven(minNeg/s))
		if z < qmin {
			z = qmin
		}
		if z > qmax {
			z = qmax
		}
		zps[i] = z
	}
	return scales, zps, nil, nil
}
