package ops

import (
	"math"
	"testing"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

func TestNormGolden(t *testing.T) {
	h4RunGolden(t, "norm", func(t *testing.T, c *h4GoldenCase) (*qtensor.QTensor, error) {
		x := c.Inputs[0].q(t)
		eps, s, z := c.num(t, "eps"), c.num(t, "scale"), int64(c.num(t, "zero_point"))
		in := func(i int) []float32 {
			if i >= len(c.Inputs) {
				return nil
			}
			return c.Inputs[i].f32()
		}
		switch c.Op {
		case "batch_norm1d":
			return BatchNorm1d(x, in(1), in(2), in(3), in(4), eps, s, z)
		case "batch_norm2d":
			return BatchNorm2d(x, in(1), in(2), in(3), in(4), eps, s, z)
		case "batch_norm3d":
			return BatchNorm3d(x, in(1), in(2), in(3), in(4), eps, s, z)
		case "layer_norm":
			return LayerNorm(x, c.intsAttr(t, "normalized_shape"), in(1), in(2), eps, s, z)
		case "group_norm":
			return GroupNorm(x, int(c.num(t, "num_groups")), in(1), in(2), eps, s, z)
		case "instance_norm":
			return InstanceNorm(x, in(1), in(2), eps, s, z)
		}
		t.Fatalf("%s: unknown op %s", c.ID, c.Op)
		return nil, nil
	})
}

func TestBatchNormHandValues(t *testing.T) {
	// identity statistics: y = 2x + 1 with x = (q − 10)·0.5.
	x := h4MustQ(t, "quint8", []int{1, 1, 1, 3}, []int64{6, 10, 14}, 0.5, 10)
	one := []float32{1}
	y, err := BatchNorm2d(x, []float32{2}, one, []float32{0}, one, 0, 0.5, 100)
	if err != nil {
		t.Fatal(err)
	}
	// x = −2, 0, 2 → −3, 1, 5 → codes 94, 102, 110.
	h4CheckInts(t, "bn", y, []int64{94, 102, 110})
	y, _ = BatchNormReLU(x, []float32{2}, one, []float32{0}, one, 0, 0.5, 100)
	h4CheckInts(t, "bn relu", y, []int64{100, 102, 110})
	y, _ = BatchNorm1d(h4MustQ(t, "quint8", []int{3, 1}, []int64{6, 10, 14}, 0.5, 10), []float32{2}, one, []float32{0}, one, 0, 0.5, 100)
	h4CheckInts(t, "bn1d rank 2", y, []int64{94, 102, 110})
}

func TestLayerNormHandValues(t *testing.T) {
	// codes 0, 2 (scale 1, zp 1): x = −1, 1, mean 0, var 1 → ±1/sqrt(1+eps).
	x := h4MustQ(t, "quint8", []int{2, 2}, []int64{0, 2, 5, 5}, 1, 1)
	y, err := LayerNorm(x, []int{2}, nil, nil, 1e-5, 0.5, 10)
	if err != nil {
		t.Fatal(err)
	}
	// row 2 is constant: variance 0, output 0 → zp.
	h4CheckInts(t, "layer_norm", y, []int64{8, 12, 10, 10})
	y, _ = GroupNorm(h4MustQ(t, "quint8", []int{1, 2, 1}, []int64{0, 2}, 1, 1), 1, []float32{1, 3}, []float32{0, 1}, 1e-5, 0.5, 10)
	// normalized −1, 1; channel 1 scaled by 3 and shifted by 1 → 4 → code 18.
	h4CheckInts(t, "group_norm", y, []int64{8, 18})
	y, _ = InstanceNorm(h4MustQ(t, "quint8", []int{1, 2, 2}, []int64{0, 2, 7, 7}, 1, 1), nil, nil, 1e-5, 0.5, 10)
	h4CheckInts(t, "instance_norm", y, []int64{8, 12, 10, 10})
}

func TestFMA32(t *testing.T) {
	// 1 + 2^-24 is halfway between 1 and the next float32; an FMA keeps the
	// tiny product and rounds up, two roundings would give 1.
	a := float32(1 + 1.0/(1<<12))
	got := fma32(a, a, -1) // exact: 2^-11 + 2^-24
	if want := float32(1.0/(1<<11) + 1.0/(1<<24)); got != want {
		t.Fatalf("fma32 = %v, want %v", got, want)
	}
	c := float32(1)
	e := float32(1.0 / (1 << 24))
	if got := fma32(e, 1+float32(1.0/(1<<20)), c); got != math.Nextafter32(1, 2) {
		t.Fatalf("fma32 halfway+ = %v", got)
	}
	if got := fma32(e, 1-float32(1.0/(1<<20)), c); got != 1 {
		t.Fatalf("fma32 halfway- = %v", got)
	}
	for _, v := range [][3]float32{{1.5, 2.25, -3}, {1e-3, 7, 0.25}, {-2, 3, 6}} {
		if got, want := fma32(v[0], v[1], v[2]), float32(float64(v[0])*float64(v[1])+float64(v[2])); got != want {
			t.Fatalf("fma32%v = %v, want %v", v, got, want)
		}
	}
}

func TestNormErrors(t *testing.T) {
	x4 := h4MustQ(t, "quint8", []int{1, 2, 1, 1}, []int64{1, 2}, 0.1, 0)
	x2 := h4MustQ(t, "quint8", []int{1, 2}, []int64{1, 2}, 0.1, 0)
	p := []float32{1, 1}
	cases := map[string]func() (*qtensor.QTensor, error){
		"bn2d rank":     func() (*qtensor.QTensor, error) { return BatchNorm2d(x2, p, p, p, p, 1e-5, 0.1, 0) },
		"bn3d rank":     func() (*qtensor.QTensor, error) { return BatchNorm3d(x4, p, p, p, p, 1e-5, 0.1, 0) },
		"bn1d rank":     func() (*qtensor.QTensor, error) { return BatchNorm1d(x4, p, p, p, p, 1e-5, 0.1, 0) },
		"bn weight len": func() (*qtensor.QTensor, error) { return BatchNorm2d(x4, p[:1], p, p, p, 1e-5, 0.1, 0) },
		"bn nil mean":   func() (*qtensor.QTensor, error) { return BatchNorm2d(x4, p, p, nil, p, 1e-5, 0.1, 0) },
		"bn nan var": func() (*qtensor.QTensor, error) {
			return BatchNorm2d(x4, p, p, p, []float32{1, float32(math.NaN())}, 1e-5, 0.1, 0)
		},
		"bn eps":         func() (*qtensor.QTensor, error) { return BatchNorm2d(x4, p, p, p, p, -1, 0.1, 0) },
		"bn scale":       func() (*qtensor.QTensor, error) { return BatchNorm2d(x4, p, p, p, p, 1e-5, 0, 0) },
		"ln shape":       func() (*qtensor.QTensor, error) { return LayerNorm(x2, []int{3}, nil, nil, 1e-5, 0.1, 0) },
		"ln empty shape": func() (*qtensor.QTensor, error) { return LayerNorm(x2, nil, nil, nil, 1e-5, 0.1, 0) },
		"ln weight len":  func() (*qtensor.QTensor, error) { return LayerNorm(x2, []int{2}, []float32{1}, nil, 1e-5, 0.1, 0) },
		"gn rank":        func() (*qtensor.QTensor, error) { return GroupNorm(x2, 1, nil, nil, 1e-5, 0.1, 0) },
		"gn groups":      func() (*qtensor.QTensor, error) { return GroupNorm(x4, 3, nil, nil, 1e-5, 0.1, 0) },
		"gn zero groups": func() (*qtensor.QTensor, error) { return GroupNorm(x4, 0, nil, nil, 1e-5, 0.1, 0) },
		"in rank":        func() (*qtensor.QTensor, error) { return InstanceNorm(x2, nil, nil, 1e-5, 0.1, 0) },
		"in weight len":  func() (*qtensor.QTensor, error) { return InstanceNorm(x4, []float32{1}, nil, 1e-5, 0.1, 0) },
		"gn zero point":  func() (*qtensor.QTensor, error) { return GroupNorm(x4, 1, nil, nil, 1e-5, 0.1, -1) },
		"in nil":         func() (*qtensor.QTensor, error) { return InstanceNorm(nil, nil, nil, 1e-5, 0.1, 0) },
	}
	for name, f := range cases {
		if _, err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestNormThreadCounts checks that layer and group norm give identical
// codes with one goroutine and with several.
func TestNormThreadCounts(t *testing.T) {
	n := 64 * 4 * 1024
	ints := make([]int64, n)
	for i := range ints {
		ints[i] = int64(i*2654435761>>11) % 256
	}
	x := h4MustQ(t, "quint8", []int{64, 4, 1024}, ints, 0.03, 117)
	w := make([]float32, 1024)
	for i := range w {
		w[i] = 0.5 + float32(i%7)/8
	}
	defer kernels.SetThreads(kernels.SetThreads(1))
	for _, f := range []func() (*qtensor.QTensor, error){
		func() (*qtensor.QTensor, error) { return LayerNorm(x, []int{1024}, w, w, 1e-5, 0.02, 120) },
		func() (*qtensor.QTensor, error) { return GroupNorm(x, 2, w[:4], w[:4], 1e-5, 0.02, 120) },
	} {
		kernels.SetThreads(1)
		one, err := f()
		if err != nil {
			t.Fatal(err)
		}
		kernels.SetThreads(4)
		four, _ := f()
		h4CheckInts(t, "threads", four, one.Ints())
	}
}
