package qdtype

import "testing"

// TestCalculateQParamsQInt32Overflow pins PyTorch 1.13's int32 zero-point
// arithmetic for qint32 observers (held-out observer cases, values from
// PerChannelMinMaxObserver(dtype=qint32, qscheme=per_channel_affine)).
func TestCalculateQParamsQInt32Overflow(t *testing.T) {
	mins := []float32{-1183348.125, -2.34372615814209, -1328333.625, -179867.3125}
	maxs := []float32{1921624.375, 1749326.375, 975945.5, 1516771.625}
	_, zps, _, err := CalculateQParams(mins, maxs, QInt32Dtype, PerChannelAffine, -1<<31, 1<<31-1, false, Eps)
	if err != nil {
		t.Fatal(err)
	}
	// channel 2: min⁻/scale ≈ −2.48e9 leaves int32; PyTorch gives 0.
	want := []int64{-510611968, -2147477894, 0, -1692157440}
	for i := range want {
		if zps[i] != want[i] {
			t.Errorf("channel %d: zero point %d, want %d", i, zps[i], want[i])
		}
	}
	// quint8 is unaffected.
	_, zps, _, err = CalculateQParams([]float32{-3}, []float32{1}, QUInt8Dtype, PerTensorAffine, 0, 255, false, Eps)
	if err != nil || zps[0] != 191 {
		t.Errorf("quint8 zero point %v (%v), want 191", zps, err)
	}
	if got := observerZeroPoint(-1<<31, -3e9); got != 0 {
		t.Errorf("observerZeroPoint(-2^31, -3e9) = %d, want 0", got)
	}
	if got := observerZeroPoint(0, -17); got != 17 {
		t.Errorf("observerZeroPoint(0, -17) = %d, want 17", got)
	}
}
