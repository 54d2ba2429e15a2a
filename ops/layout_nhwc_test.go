package ops

import (
	"reflect"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

// TestOneByOneInputLayout pins PyTorch 1.13's permuted outputs for a
// (2, 3, 1, 1) quint8 input (codes 10…60): its channels-last kernels write
// NHWC order into a contiguous NCHW output.
func TestOneByOneInputLayout(t *testing.T) {
	qp, err := qdtype.PerTensor(qdtype.QUInt8Dtype, 0.1, 3)
	if err != nil {
		t.Fatal(err)
	}
	x, err := qtensor.FromInts([]int{2, 3, 1, 1}, []int64{10, 20, 30, 40, 50, 60}, qp)
	if err != nil {
		t.Fatal(err)
	}
	up := []int64{10, 20, 30, 10, 20, 30, 10, 20, 30, 10, 20, 30, 40, 50, 60, 40, 50, 60, 40, 50, 60, 40, 50, 60}
	check := func(name string, y *qtensor.QTensor, err error, want []int64) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := y.Ints(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	y, err := Interpolate(x, []int{2, 2}, nil, "nearest", false)
	check("interpolate nearest (2, 2)", y, err, up)
	y, err = MaxPool2d(x, []int{2}, []int{1}, []int{1}, nil, false)
	check("max_pool2d k2 s1 p1", y, err, up)
	y, err = AdaptiveAvgPool2d(x, 1, 2)
	check("adaptive_avg_pool2d (1, 2)", y, err, []int64{10, 20, 30, 10, 20, 30, 40, 50, 60, 40, 50, 60})
	y, err = AvgPool2d(x, []int{1}, []int{1}, []int{0}, false, true, 0)
	check("avg_pool2d k1 (1×1 output, no permutation)", y, err, []int64{10, 20, 30, 40, 50, 60})
	x5, err := qtensor.FromInts([]int{2, 3, 1, 1, 1}, []int64{10, 20, 30, 40, 50, 60}, qp)
	if err != nil {
		t.Fatal(err)
	}
	y, err = AvgPool3d(x5, []int{2}, []int{1}, []int{1}, false, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := y.Ints()[:16], []int64{10, 20, 30, 10, 20, 30, 10, 20, 30, 10, 20, 30, 10, 20, 30, 10}; !reflect.DeepEqual(got, want) {
		t.Errorf("avg_pool3d (2, 3, 1, 1, 1) k2 s1 p1: got %v…, want %v…", got, want)
	}
}
