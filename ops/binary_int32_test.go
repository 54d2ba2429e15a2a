package ops

import (
	"reflect"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

func int32Q(t *testing.T, shape []int, codes []int64, scale float64, zp int64) *qtensor.QTensor {
	t.Helper()
	qp, err := qdtype.PerTensor(qdtype.QInt32Dtype, scale, zp)
	if err != nil {
		t.Fatal(err)
	}
	q, err := qtensor.FromInts(shape, codes, qp)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestBinaryQInt32 pins qint32 add, add_relu, mul and cat to PyTorch 1.13
// (torch.ops.quantized.add/add_relu/mul/cat, onednn engine) on small codes,
// where PyTorch's float32 kernels equal exact arithmetic.
func TestBinaryQInt32(t *testing.T) {
	a := int32Q(t, []int{2, 3}, []int64{-7, 0, 5, 1200, -3000, 33}, 0.125, -2)
	b := int32Q(t, []int{3}, []int64{9, -4, 100}, 0.25, 3)
	b2 := int32Q(t, []int{1, 3}, []int64{9, -4, 100}, 0.25, 3)
	check := func(name string, q *qtensor.QTensor, err error, want []int64) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := q.Ints(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	q, err := Add(a, b, 0.3, 5)
	check("add", q, err, []int64{8, 0, 89, 511, -1250, 100})
	q, err = AddReLU(a, b, 0.3, 5)
	check("add_relu", q, err, []int64{8, 5, 89, 511, 5, 100})
	q, err = Mul(a, b, 0.7, -1)
	check("mul", q, err, []int64{-2, -2, 29, 321, 936, 151})
	q, err = Cat([]*qtensor.QTensor{a, b2}, 0, 0.2, 4)
	check("cat", q, err, []int64{1, 5, 8, 755, -1870, 26, 12, -5, 125})
	if _, err := Cat([]*qtensor.QTensor{a, int32Q(t, []int{2, 2}, []int64{1, 2, 3, 4}, 0.2, 0)}, 0, 0.2, 4); err == nil {
		t.Error("cat of (2, 3) and (2, 2) along 0: want an error")
	}
	if _, err := Add(a, int32Q(t, []int{4}, []int64{1, 2, 3, 4}, 0.2, 0), 0.2, 0); err == nil {
		t.Error("add of (2, 3) and (4,): want an error")
	}
}
