package ops

import (
	"encoding/json"
	"testing"

	"github.com/qgorgonia/qgorgonia/qtensor"
)

func TestPoolGolden(t *testing.T) {
	h4RunGolden(t, "pool", func(t *testing.T, c *h4GoldenCase) (*qtensor.QTensor, error) {
		x := c.Inputs[0].q(t)
		var ceil, cip bool
		c.attr(t, "ceil_mode", &ceil)
		cip = true
		c.attr(t, "count_include_pad", &cip)
		div := 0
		c.attr(t, "divisor_override", &div)
		k, s, p := c.intsAttr(t, "kernel_size"), c.intsAttr(t, "stride"), c.intsAttr(t, "padding")
		switch c.Op {
		case "max_pool2d":
			return MaxPool2d(x, k, s, p, c.intsAttr(t, "dilation"), ceil)
		case "avg_pool2d":
			return AvgPool2d(x, k, s, p, ceil, cip, div)
		case "avg_pool3d":
			return AvgPool3d(x, k, s, p, ceil, cip, div)
		case "adaptive_avg_pool2d":
			o := c.intsAttr(t, "output_size")
			return AdaptiveAvgPool2d(x, o[0], o[1])
		case "interpolate":
			var mode string
			var ac bool
			c.attr(t, "mode", &mode)
			c.attr(t, "align_corners", &ac)
			var sf []float64
			var one float64
			if raw, ok := c.Attrs["scale_factor"]; ok && json.Unmarshal(raw, &one) == nil {
				sf = []float64{one}
			} else {
				c.attr(t, "scale_factor", &sf)
			}
			return Interpolate(x, c.intsAttr(t, "size"), sf, mode, ac)
		}
		t.Fatalf("%s: unknown op %s", c.ID, c.Op)
		return nil, nil
	})
}

func TestPoolHandValues(t *testing.T) {
	// research note §12: avg_pool2d 2x2 (s=1, zp=0) of [[0,1,2,3],[1,1,1,2]]
	// gives [1, 2] (means 0.75 → 1, 1.25 → 1, 2 → 2 with stride 2).
	x := h4MustQ(t, "quint8", []int{1, 1, 2, 4}, []int64{0, 1, 2, 3, 1, 1, 1, 2}, 1, 0)
	y, err := AvgPool2d(x, []int{2}, nil, nil, false, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	h4CheckInts(t, "avg_pool2d", y, []int64{1, 2})
	// ties go to even: window means 0.5 → 0 and 1.5 → 2.
	x = h4MustQ(t, "quint8", []int{1, 1, 2, 4}, []int64{0, 1, 1, 2, 0, 1, 1, 2}, 1, 0)
	y, _ = AvgPool2d(x, []int{2}, nil, nil, false, true, 0)
	h4CheckInts(t, "avg_pool2d ties", y, []int64{0, 2})
	// adaptive (1x1) of [[1,2],[1,2]] → 1.5 → 2.
	x = h4MustQ(t, "quint8", []int{1, 1, 2, 2}, []int64{1, 2, 1, 2}, 1, 0)
	y, _ = AdaptiveAvgPool2d(x, 1, 1)
	h4CheckInts(t, "adaptive", y, []int64{2})
	// max pool with padding: padding never wins, even over the lowest code.
	x = h4MustQ(t, "qint8", []int{1, 1, 2, 2}, []int64{-128, -100, -90, -128}, 1, 0)
	y, _ = MaxPool2d(x, []int{3}, []int{1}, []int{1}, nil, false)
	h4CheckInts(t, "max_pool2d", y, []int64{-90, -90, -90, -90})
	// avg_pool3d 2x2x2 over 8 equal codes keeps them; zp handled exactly.
	x = h4MustQ(t, "qint8", []int{1, 1, 2, 2, 2}, []int64{-7, -7, -7, -7, -7, -7, -7, -7}, 0.3, -7)
	y, _ = AvgPool3d(x, []int{2}, nil, nil, false, true, 0)
	h4CheckInts(t, "avg_pool3d", y, []int64{-7})
	// nearest ×2 repeats every code.
	x = h4MustQ(t, "quint8", []int{1, 1, 1, 2}, []int64{3, 9}, 1, 0)
	y, _ = Interpolate(x, nil, []float64{2}, "nearest", false)
	h4CheckInts(t, "nearest", y, []int64{3, 3, 9, 9, 3, 3, 9, 9})
	// bilinear with aligned corners: 1x2 → 1x3 puts the mean in the middle.
	y, _ = Interpolate(x, []int{1, 3}, nil, "bilinear", true)
	h4CheckInts(t, "bilinear", y, []int64{3, 6, 9})
	y, _ = UpsampleBilinear(x, []int{1, 3}, nil)
	h4CheckInts(t, "upsample bilinear", y, []int64{3, 6, 9})
	y, _ = Upsample(x, nil, []float64{1, 1.5}, "nearest", false)
	h4CheckInts(t, "upsample", y, []int64{3, 3, 9})
	y, _ = UpsampleNearest(x, []int{2, 2}, nil)
	h4CheckInts(t, "upsample nearest", y, []int64{3, 9, 3, 9})
}

func TestPoolErrors(t *testing.T) {
	x := h4MustQ(t, "quint8", []int{1, 1, 4, 4}, make([]int64, 16), 0.1, 0)
	x3 := h4MustQ(t, "quint8", []int{1, 1, 2, 2, 2}, make([]int64, 8), 0.1, 0)
	cases := map[string]func() (*qtensor.QTensor, error){
		"max pad > k/2":    func() (*qtensor.QTensor, error) { return MaxPool2d(x, []int{2}, nil, []int{2}, nil, false) },
		"max kernel 0":     func() (*qtensor.QTensor, error) { return MaxPool2d(x, []int{0}, nil, nil, nil, false) },
		"max stride 0":     func() (*qtensor.QTensor, error) { return MaxPool2d(x, []int{2}, []int{0}, nil, nil, false) },
		"max dilation 0":   func() (*qtensor.QTensor, error) { return MaxPool2d(x, []int{2}, nil, nil, []int{0}, false) },
		"max too small":    func() (*qtensor.QTensor, error) { return MaxPool2d(x, []int{5}, nil, nil, nil, false) },
		"max 3 kernels":    func() (*qtensor.QTensor, error) { return MaxPool2d(x, []int{2, 2, 2}, nil, nil, nil, false) },
		"max rank 5":       func() (*qtensor.QTensor, error) { return MaxPool2d(x3, []int{2}, nil, nil, nil, false) },
		"avg pad > k/2":    func() (*qtensor.QTensor, error) { return AvgPool2d(x, []int{2}, nil, []int{2}, false, true, 0) },
		"avg negative":     func() (*qtensor.QTensor, error) { return AvgPool2d(x, []int{6}, []int{1}, nil, false, true, 0) },
		"avg3d rank 4":     func() (*qtensor.QTensor, error) { return AvgPool3d(x, []int{2}, nil, nil, false, true, 0) },
		"avg3d neg pad":    func() (*qtensor.QTensor, error) { return AvgPool3d(x3, []int{2}, nil, []int{-1}, false, true, 0) },
		"adaptive neg":     func() (*qtensor.QTensor, error) { return AdaptiveAvgPool2d(x, -1, 2) },
		"adaptive rank 5":  func() (*qtensor.QTensor, error) { return AdaptiveAvgPool2d(x3, 1, 1) },
		"interp both":      func() (*qtensor.QTensor, error) { return Interpolate(x, []int{2}, []float64{2}, "nearest", false) },
		"interp none":      func() (*qtensor.QTensor, error) { return Interpolate(x, nil, nil, "nearest", false) },
		"interp mode":      func() (*qtensor.QTensor, error) { return Interpolate(x, []int{2}, nil, "bicubic", false) },
		"interp ac":        func() (*qtensor.QTensor, error) { return Interpolate(x, []int{2}, nil, "nearest", true) },
		"interp factor 0":  func() (*qtensor.QTensor, error) { return Interpolate(x, nil, []float64{0}, "nearest", false) },
		"interp empty out": func() (*qtensor.QTensor, error) { return Interpolate(x, nil, []float64{0.1}, "bilinear", false) },
		"interp rank 5":    func() (*qtensor.QTensor, error) { return Interpolate(x3, []int{2}, nil, "nearest", false) },
	}
	for name, f := range cases {
		if _, err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestPoolEmptyOutput(t *testing.T) {
	x := h4MustQ(t, "quint8", []int{1, 1, 2, 2, 2}, make([]int64, 8), 0.1, 0)
	y, err := AvgPool3d(x, []int{2}, []int{3}, nil, false, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if y.Size() != 1 {
		t.Fatalf("shape %v", y.Shape())
	}
	y, err = AdaptiveAvgPool2d(h4MustQ(t, "quint8", []int{1, 2, 2}, make([]int64, 4), 0.1, 0), 0, 3)
	if err != nil || y.Size() != 0 {
		t.Fatalf("adaptive to 0 rows: %v %v", y, err)
	}
}
