package ops

import (
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

// TestInterpolateZeroSizes follows PyTorch 1.13's quantized upsampling: an
// output height of 0 (also from a scale factor, 1×3 by 0.5 → 0×1) gives an
// empty tensor; an output width of 0 fails its kernels' assertion
// input_width > 0 && output_width > 0, even for an empty batch.
func TestInterpolateZeroSizes(t *testing.T) {
	qp, err := qdtype.PerTensor(qdtype.QUInt8Dtype, 0.1, 3)
	if err != nil {
		t.Fatal(err)
	}
	x, err := qtensor.FromInts([]int{1, 2, 1, 3}, []int64{1, 2, 3, 4, 5, 6}, qp)
	if err != nil {
		t.Fatal(err)
	}
	x0, err := qtensor.Empty([]int{0, 2, 1, 3}, qp)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"nearest", "bilinear"} {
		y, err := Interpolate(x, nil, []float64{0.5}, mode, false)
		if err != nil || !y.Shape().Eq([]int{1, 2, 0, 1}) {
			t.Errorf("%s, scale 0.5: %v, %v; want shape (1, 2, 0, 1)", mode, err, y)
		}
		y, err = Interpolate(x, []int{0, 2}, nil, mode, false)
		if err != nil || !y.Shape().Eq([]int{1, 2, 0, 2}) {
			t.Errorf("%s, size (0, 2): %v; want shape (1, 2, 0, 2)", mode, err)
		}
		if _, err := Interpolate(x, []int{2, 0}, nil, mode, false); err == nil {
			t.Errorf("%s, size (2, 0): want an error", mode)
		}
		if _, err := Interpolate(x0, nil, []float64{0.2}, mode, false); err == nil {
			t.Errorf("%s, empty batch, scale 0.2: want an error", mode)
		}
		if y, err := Interpolate(x0, []int{4, 4}, nil, mode, false); err != nil || !y.Shape().Eq([]int{0, 2, 4, 4}) {
			t.Errorf("%s, empty batch, size (4, 4): %v", mode, err)
		}
	}
}
