package qdtype

import "testing"

// TestPerChannelNoChannels: PyTorch quantizes per channel along an axis of
// size 0 (torch.quantize_per_channel(torch.zeros(2, 0, 3), tensor([]),
// tensor([]), 1, quint8) is an empty per-channel tensor), so empty scales
// are valid for a shape with a 0 along the axis, and only there.
func TestPerChannelNoChannels(t *testing.T) {
	qp, err := PerChannel(QUInt8Dtype, []float64{}, []int64{}, 1)
	if err != nil {
		t.Fatalf("no channels: %v", err)
	}
	if err := qp.ValidateFor([]int{2, 0, 3}); err != nil {
		t.Errorf("shape (2, 0, 3), axis 1: %v", err)
	}
	if err := qp.ValidateFor([]int{2, 1, 3}); err == nil {
		t.Error("shape (2, 1, 3), axis 1, no scales: want an error")
	}
	if _, err := PerChannel(QUInt8Dtype, []float64{0.1}, []int64{}, 0); err == nil {
		t.Error("1 scale, 0 zero points: want an error")
	}
}
