package ops

import (
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

// TestBatchNormEmptyKeepsInputQParams: PyTorch 1.13's quantized batch norm
// returns an empty input unchanged, with the input's qparams (0.25, 7 here),
// not the requested output qparams (checked with torch.ops.quantized
// batch_norm1d/2d/3d on (0, 3, …) and (1, 3, 0, 2) inputs).
func TestBatchNormEmptyKeepsInputQParams(t *testing.T) {
	one, zero := []float32{1, 1, 1}, []float32{0, 0, 0}
	qp, err := qdtype.PerTensor(qdtype.QUInt8Dtype, 0.25, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		shape []int
		f     func(*qtensor.QTensor, []float32, []float32, []float32, []float32, float64, float64, int64) (*qtensor.QTensor, error)
	}{
		{[]int{0, 3}, BatchNorm1d}, {[]int{2, 3, 0}, BatchNorm1d}, {[]int{0, 3, 2, 2}, BatchNorm2d},
		{[]int{1, 3, 0, 2}, BatchNorm2d}, {[]int{0, 3, 2, 2, 2}, BatchNorm3d},
	} {
		x, err := qtensor.Empty(c.shape, qp)
		if err != nil {
			t.Fatal(err)
		}
		y, err := c.f(x, one, zero, zero, one, 1e-5, 0.5, 9)
		if err != nil {
			t.Fatalf("%v: %v", c.shape, err)
		}
		yq := y.QParams()
		if yq.Scale() != 0.25 || yq.ZeroPoint() != 7 || !y.Shape().Eq(x.Shape()) {
			t.Errorf("%v: got shape %v scale %v zero point %d, want the input's (0.25, 7)", c.shape, y.Shape(), yq.Scale(), yq.ZeroPoint())
		}
	}
}
