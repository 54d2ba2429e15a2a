package ops

import (
	"reflect"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

// TestAvgPoolOneChannelNHWC: a contiguous (N, 1, H, W) tensor is also
// channels-last contiguous, so PyTorch 1.13 runs its channels-last average
// pool kernels (zero point added after rounding); with two channels it runs
// the NCHW ones. Expectations from F.avg_pool2d(x, 2, 1, 1, count_include_pad
// =False) and F.adaptive_avg_pool2d(x, [3, 2]) on qint8 (scale 0.05, zp 93).
func TestAvgPoolOneChannelNHWC(t *testing.T) {
	codes := []int64{25, 63, -48, -37, -47, 55, -115, -52, 33, -57, -46, -104, -19, -36, 48, 125, 32, -83, 108, -3}
	qp, err := qdtype.PerTensor(qdtype.QInt8Dtype, 0.05, 93)
	if err != nil {
		t.Fatal(err)
	}
	x, err := qtensor.FromInts([]int{1, 1, 4, 5}, codes, qp)
	if err != nil {
		t.Fatal(err)
	}
	two, err := qtensor.FromInts([]int{1, 2, 4, 5}, append(append([]int64{}, codes...), codes...), qp)
	if err != nil {
		t.Fatal(err)
	}
	wantAvg1 := []int64{25, 44, 7, -43, -42, -47, 40, 7, -38, -26, -27, -52, 5, -53, -73, -19, -3, -5, 39, 2, -43, -7, 29, 23, 125, 79, -25, 13, 53, -3}
	wantAvg2 := []int64{25, 44, 8, -42, -42, -47, 40, 7, -38, -26, -27, -52, 4, -52, -72, -18, -3, -4, 40, 2, -44, -8, 29, 22, 125, 78, -26, 12, 52, -3}
	y, err := AvgPool2d(x, []int{2}, []int{1}, []int{1}, false, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := y.Ints(); !reflect.DeepEqual(got, wantAvg1) {
		t.Errorf("avg_pool2d, 1 channel:\n got %v\nwant %v", got, wantAvg1)
	}
	y, err = AvgPool2d(two, []int{2}, []int{1}, []int{1}, false, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := y.Ints()[:30]; !reflect.DeepEqual(got, wantAvg2) {
		t.Errorf("avg_pool2d, 2 channels:\n got %v\nwant %v", got, wantAvg2)
	}
	y, err = AdaptiveAvgPool2d(x, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := y.Ints(), []int64{-12, -35, -47, -14, -16, 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("adaptive_avg_pool2d, 1 channel: got %v, want %v", got, want)
	}
	y, err = AdaptiveAvgPool2d(two, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := y.Ints()[:6], []int64{-12, -35, -47, -14, -16, 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("adaptive_avg_pool2d, 2 channels: got %v, want %v", got, want)
	}
}
