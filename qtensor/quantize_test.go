package qtensor

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

func TestQuantizeNonFinite(t *testing.T) {
	inf := float32(math.Inf(1))
	x := []float32{inf, -inf, 3.4e38, -3.4e38, 1e6, -1e6, 2e10, 0.5}
	cases := []struct {
		dt   tensor.Dtype
		zp   int64
		want []int64
	}{
		// ±Inf and |x/scale| ≥ 2⁶³ map to qmin (PyTorch on x86); large
		// finite values saturate.
		{qdtype.QUInt8Dtype, 3, []int64{0, 0, 0, 0, 255, 0, 255, 3}},
		{qdtype.QInt8Dtype, 0, []int64{-128, -128, -128, -128, 127, -128, 127, 0}},
		{qdtype.QInt32Dtype, 0, []int64{math.MinInt32, math.MinInt32, math.MinInt32, math.MinInt32, 1000000, -1000000, math.MaxInt32, 0}},
	}
	for _, c := range cases {
		q, err := QuantizePerTensor(denseF32([]int{len(x)}, x), 1, c.zp, c.dt)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.Ints(); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", qdtype.Name(c.dt), got, c.want)
		}
	}
	orig := []float32{1, float32(math.NaN()), 2}
	xn := denseF32([]int{3}, slices.Clone(orig))
	_, err := QuantizePerTensor(xn, 0.1, 0, qdtype.QUInt8Dtype)
	if err == nil || !strings.Contains(err.Error(), "NaN") || !strings.Contains(err.Error(), "index 1") {
		t.Fatalf("NaN: error %v", err)
	}
	if got := xn.Float32s(); got[0] != 1 || got[2] != 2 || got[1] == got[1] {
		t.Fatal("input modified")
	}
	if _, err := QuantizePerChannel(xn, []float64{1, 1, 1}, []int64{0, 0, 0}, 0, qdtype.QInt8Dtype); err == nil {
		t.Fatal("per-channel NaN accepted")
	}
}

func TestQuantizeErrors(t *testing.T) {
	x := denseF32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	bad := []struct {
		name string
		f    func() error
	}{
		{"scale 0", func() error { _, err := QuantizePerTensor(x, 0, 0, qdtype.QUInt8Dtype); return err }},
		{"scale -1", func() error { _, err := QuantizePerTensor(x, -1, 0, qdtype.QUInt8Dtype); return err }},
		{"scale NaN", func() error { _, err := QuantizePerTensor(x, math.NaN(), 0, qdtype.QUInt8Dtype); return err }},
		{"zp 256", func() error { _, err := QuantizePerTensor(x, 1, 256, qdtype.QUInt8Dtype); return err }},
		{"zp -129", func() error { _, err := QuantizePerTensor(x, 1, -129, qdtype.QInt8Dtype); return err }},
		{"float dtype", func() error { _, err := QuantizePerTensor(x, 1, 0, tensor.Float32); return err }},
		{"int input", func() error {
			_, err := QuantizePerTensor(tensor.New(tensor.WithShape(2), tensor.WithBacking([]int{1, 2})), 1, 0, qdtype.QInt8Dtype)
			return err
		}},
		{"nil input", func() error { _, err := QuantizePerTensor(nil, 1, 0, qdtype.QInt8Dtype); return err }},
		{"axis 2", func() error {
			_, err := QuantizePerChannel(x, []float64{1, 1}, []int64{0, 0}, 2, qdtype.QInt8Dtype)
			return err
		}},
		{"axis -1", func() error {
			_, err := QuantizePerChannel(x, []float64{1, 1}, []int64{0, 0}, -1, qdtype.QInt8Dtype)
			return err
		}},
		{"scales count", func() error {
			_, err := QuantizePerChannel(x, []float64{1, 1}, []int64{0, 0}, 1, qdtype.QInt8Dtype)
			return err
		}},
		{"zps count", func() error {
			_, err := QuantizePerChannel(x, []float64{1, 1}, []int64{0}, 0, qdtype.QInt8Dtype)
			return err
		}},
		{"channel zp", func() error {
			_, err := QuantizePerChannel(x, []float64{1, 1}, []int64{0, 200}, 0, qdtype.QInt8Dtype)
			return err
		}},
	}
	for _, c := range bad {
		if err := c.f(); err == nil {
			t.Errorf("%s: no error", c.name)
		} else if !strings.HasPrefix(err.Error(), "qtensor: ") {
			t.Errorf("%s: error %q lacks the package prefix", c.name, err)
		}
	}
}

func TestRoundTripHalfScale(t *testing.T) {
	scale := 0.037
	var x []float32
	for v := float32(-4); v <= 4; v += 0.0123 {
		x = append(x, v)
	}
	q, err := QuantizePerTensor(denseF32([]int{len(x)}, x), scale, 110, qdtype.QUInt8Dtype)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := q.Dequantize()
	for i, v := range d.Float32s() {
		if e := math.Abs(float64(v - x[i])); e > scale/2*(1+1e-6) {
			t.Fatalf("x=%v: round trip %v, error %v > scale/2", x[i], v, e)
		}
	}
}
