package qdtype

// observerZeroPoint is the unclamped affine zero point of the observers'
// _calculate_qparams, `quant_min - torch.round(min_val_neg / scale).to(torch.int)`,
// with PyTorch 1.13's int32 arithmetic on x86: the float-to-int32 conversion
// of a value outside the int32 range (or NaN) gives −2³¹ (cvttss2si), and
// the subtraction wraps. Only qint32 ranges reach those values: with
// qmin = −2³¹ and min⁻/scale below −2³¹ (|min| larger than max), PyTorch's
// zero point is 0, not a clamped large value.
func observerZeroPoint(qmin int64, rounded float64) int64 {
	r := int32(-1 << 31)
	if rounded >= -(1<<31) && rounded < 1<<31 {
		r = int32(rounded)
	}
	return int64(int32(qmin) - r)
}
