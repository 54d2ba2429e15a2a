package kernels

import "testing"

func TestPoolOutputSize(t *testing.T) {
	for _, c := range []struct {
		in, k, pad, stride, dil int
		ceil                    bool
		want                    int
	}{
		{8, 2, 0, 2, 1, false, 4},
		{7, 2, 0, 2, 1, false, 3},
		{7, 2, 0, 2, 1, true, 4},
		{8, 3, 1, 2, 1, true, 5},
		{1, 2, 1, 2, 1, true, 1}, // the last window would start in the padding: 2 → 1
		{5, 3, 1, 2, 1, true, 3},
		{8, 3, 1, 1, 2, false, 6},
		{5, 7, 0, 1, 1, false, -1},
		{5, 7, 0, 7, 1, false, 0},
	} {
		if got := PoolOutputSize(c.in, c.k, c.pad, c.stride, c.dil, c.ceil); got != c.want {
			t.Errorf("%+v: got %d", c, got)
		}
	}
}

func TestMaxPool2dDilationAndPadding(t *testing.T) {
	// 1 plane 3x3; 2x2 kernel with dilation 2 covers the corners.
	src := []int8{1, -5, 3, -5, -5, -5, 7, -5, 2}
	dst := make([]int8, 1)
	MaxPool2d(dst, src, 1, 3, 3, 1, 1, Window2d{KH: 2, KW: 2, SH: 1, SW: 1, DH: 2, DW: 2})
	if dst[0] != 7 {
		t.Fatalf("dilated max %d", dst[0])
	}
	u := []uint8{0, 0, 0, 0}
	du := make([]uint8, 4)
	MaxPool2d(du, u, 1, 2, 2, 2, 2, Window2d{KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1})
	for _, v := range du {
		if v != 0 {
			t.Fatalf("padding won: %v", du)
		}
	}
}

func TestAvgPool2dDivisorAndPad(t *testing.T) {
	// one 2x2 plane of 4s, zp 1, 3x3 window, pad 1: sum of (q − zp) is 12.
	src := []uint8{4, 4, 4, 4}
	w := Window2d{KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}
	dst := make([]uint8, 4)
	AvgPool2d(dst, src, 1, 2, 2, 2, 2, w, true, 0, 1, 1, 1) // 12/9 = 1.33 → 1, +1
	if dst[0] != 2 {
		t.Fatalf("count_include_pad: %v", dst)
	}
	AvgPool2d(dst, src, 1, 2, 2, 2, 2, w, false, 0, 1, 1, 1) // 12/4 = 3 → 4
	if dst[0] != 4 {
		t.Fatalf("exclude pad: %v", dst)
	}
	AvgPool2d(dst, src, 1, 2, 2, 2, 2, w, true, 8, 1, 1, 1) // 12/8 = 1.5 → +1 = 2.5 → 2 (even)
	if dst[0] != 2 {
		t.Fatalf("divisor: %v", dst)
	}
}

func TestAvgPool3dChannelMultiplier(t *testing.T) {
	// 9 channels: channels 0..7 use f32(1/div), channel 8 its round trip;
	// results on exact sums agree.
	n, c := 1, 9
	src := make([]int8, c*8)
	for i := range src {
		src[i] = int8(i%17 - 8)
	}
	dst := make([]int8, c)
	AvgPool3d(dst, src, n, c, 2, 2, 2, 1, 1, 1, Window3d{KD: 2, KH: 2, KW: 2, SD: 2, SH: 2, SW: 2}, true, 0, 0, 0, 1, 1)
	for ch := 0; ch < c; ch++ {
		var s int
		for _, v := range src[ch*8 : ch*8+8] {
			s += int(v)
		}
		q := float64(s) / 8
		if d := float64(dst[ch]) - q; d > 0.5 || d < -0.5 {
			t.Fatalf("channel %d: %d for mean %v", ch, dst[ch], q)
		}
	}
}

func TestAdaptiveBounds(t *testing.T) {
	s, e := adaptiveBounds(7, 3)
	want := [][2]int{{0, 3}, {2, 5}, {4, 7}}
	for i := range want {
		if s[i] != want[i][0] || e[i] != want[i][1] {
			t.Fatalf("bounds %v %v", s, e)
		}
	}
}

func TestUpsampleNearestIndex(t *testing.T) {
	src := []uint8{1, 2, 3}
	dst := make([]uint8, 4)
	UpsampleNearest2d(dst, src, 1, 1, 3, 1, 4, 0, 0) // step 0.75: 0, 0, 1, 2
	if dst[0] != 1 || dst[1] != 1 || dst[2] != 2 || dst[3] != 3 {
		t.Fatalf("nearest %v", dst)
	}
}

func TestUpsampleBilinearHalfPixel(t *testing.T) {
	// 1x2 → 1x4 without align_corners: sources 0, 0.25, 0.75, 1.
	src := []int8{0, 40}
	dst := make([]int8, 4)
	UpsampleBilinear2d(dst, src, 1, 1, 2, 1, 4, false, 0, 0, 0, 0, 1)
	want := []int8{0, 10, 30, 40}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("bilinear %v, want %v", dst, want)
		}
	}
}

func BenchmarkMaxPool2d(b *testing.B) {
	src := make([]uint8, 64*56*56)
	dst := make([]uint8, 64*28*28)
	w := Window2d{KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, DH: 1, DW: 1}
	b.SetBytes(int64(len(src)))
	for i := 0; i < b.N; i++ {
		MaxPool2d(dst, src, 64, 56, 56, 28, 28, w)
	}
}

// naiveMaxPool2d is the definition: the largest in-bounds code over
// h = y·SH − PH + i·DH, w = x·SW − PW + j·DW.
func naiveMaxPool2d(src []int8, ih, iw, oh, ow int, w Window2d) []int8 {
	out := make([]int8, oh*ow)
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			m := int8(-128)
			for i := 0; i < w.KH; i++ {
				for j := 0; j < w.KW; j++ {
					h, c := y*w.SH-w.PH+i*w.DH, x*w.SW-w.PW+j*w.DW
					if h >= 0 && h < ih && c >= 0 && c < iw && src[h*iw+c] > m {
						m = src[h*iw+c]
					}
				}
			}
			out[y*ow+x] = m
		}
	}
	return out
}

// TestPoolsRandomGeometry compares MaxPool2d with the definition and
// AvgPool2d with an exact rational reference (within the one tie rule) on
// random sizes, kernels, strides, paddings, dilations and ceil modes.
func TestPoolsRandomGeometry(t *testing.T) {
	r := uint32(7)
	next := func(n int) int { r = r*1664525 + 1013904223; return int(r>>8) % n }
	for iter := 0; iter < 400; iter++ {
		ih, iw := 1+next(12), 1+next(12)
		w := Window2d{KH: 1 + next(4), KW: 1 + next(4), SH: 1 + next(3), SW: 1 + next(3), DH: 1 + next(2), DW: 1 + next(2)}
		w.PH, w.PW = next(w.KH/2+1), next(w.KW/2+1)
		ceil := next(2) == 1
		oh := PoolOutputSize(ih, w.KH, w.PH, w.SH, w.DH, ceil)
		ow := PoolOutputSize(iw, w.KW, w.PW, w.SW, w.DW, ceil)
		if oh < 1 || ow < 1 {
			continue
		}
		src := make([]int8, ih*iw)
		for i := range src {
			src[i] = int8(next(256) - 128)
		}
		got := make([]int8, oh*ow+2)
		got[oh*ow], got[oh*ow+1] = 42, 42
		MaxPool2d(got[:oh*ow], src, 1, ih, iw, oh, ow, w)
		want := naiveMaxPool2d(src, ih, iw, oh, ow, w)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("max pool %dx%d %+v ceil=%v: got %v, want %v", ih, iw, w, ceil, got[:oh*ow], want)
			}
		}
		if got[oh*ow] != 42 || got[oh*ow+1] != 42 {
			t.Fatal("max pool wrote past its output")
		}
		// average pool, dilation 1, divisor = elements inside the input
		w.DH, w.DW = 1, 1
		oh = PoolOutputSize(ih, w.KH, w.PH, w.SH, 1, ceil)
		ow = PoolOutputSize(iw, w.KW, w.PW, w.SW, 1, ceil)
		if oh < 1 || ow < 1 {
			continue
		}
		zp := int32(next(256) - 128)
		avg := make([]int8, oh*ow)
		AvgPool2d(avg, src, 1, ih, iw, oh, ow, w, false, 0, zp, zp, 1)
		for y := 0; y < oh; y++ {
			for x := 0; x < ow; x++ {
				var sum, n int
				for h := max(y*w.SH-w.PH, 0); h < min(y*w.SH-w.PH+w.KH, ih); h++ {
					for c := max(x*w.SW-w.PW, 0); c < min(x*w.SW-w.PW+w.KW, iw); c++ {
						sum += int(src[h*iw+c]) - int(zp)
						n++
					}
				}
				if n == 0 {
					continue
				}
				exact := float64(sum)/float64(n) + float64(zp)
				if d := float64(avg[y*ow+x]) - exact; (d > 0.5 || d < -0.5) && exact >= -128 && exact <= 127 {
					t.Fatalf("avg pool at (%d,%d): %d, exact mean %v", y, x, avg[y*ow+x], exact)
				}
			}
		}
	}
}

func TestClampCodesLong(t *testing.T) {
	src := make([]int8, 1000)
	for i := range src {
		src[i] = int8(i)
	}
	dst := make([]int8, 1000)
	ClampCodes(dst, src, -20, 33)
	for i, v := range src {
		if want := min(max(v, -20), 33); dst[i] != want {
			t.Fatalf("at %d: %d, want %d", i, dst[i], want)
		}
	}
	u := make([]uint8, 600)
	for i := range u {
		u[i] = uint8(i)
	}
	ClampCodes(u, u, 7, 200)
	for i := range u {
		if want := min(max(uint8(i), 7), 200); u[i] != want {
			t.Fatalf("u8 at %d: %d, want %d", i, u[i], want)
		}
	}
}

func TestAdaptiveAvgPool2dKernel(t *testing.T) {
	// 1x5 → 1x2: windows [0, 3) and [2, 5).
	src := []int8{-3, 1, 4, 1, -5}
	dst := make([]int8, 2)
	AdaptiveAvgPool2d(dst, src, 1, 1, 5, 1, 2)
	if dst[0] != 1 || dst[1] != 0 { // 2/3 → 1; 0/3 → 0
		t.Fatalf("adaptive %v", dst)
	}
}

// TestPoolThreadCounts checks that every pool and resampling kernel gives
// identical codes with one goroutine and with several.
func TestPoolThreadCounts(t *testing.T) {
	const planes, ih, iw = 64, 64, 64
	src := make([]int8, planes*ih*iw)
	for i := range src {
		src[i] = int8(i*2654435761>>13) ^ int8(i)
	}
	w := Window2d{KH: 3, KW: 3, SH: 2, SW: 2, PH: 1, PW: 1, DH: 1, DW: 1}
	oh, ow := PoolOutputSize(ih, 3, 1, 2, 1, false), PoolOutputSize(iw, 3, 1, 2, 1, false)
	runs := map[string]func() []int8{
		"max": func() []int8 { d := make([]int8, planes*oh*ow); MaxPool2d(d, src, planes, ih, iw, oh, ow, w); return d },
		"avg": func() []int8 {
			d := make([]int8, planes*oh*ow)
			AvgPool2d(d, src, planes, ih, iw, oh, ow, w, false, 0, 3, -7, 1.25)
			return d
		},
		"avg3d": func() []int8 {
			d := make([]int8, 4*4*2*32*32)
			AvgPool3d(d, src, 4, 4, 4, 64, 64, 2, 32, 32, Window3d{KD: 2, KH: 2, KW: 2, SD: 2, SH: 2, SW: 2}, true, 0, 1, 2, 0.1, 0.3)
			return d
		},
		"adaptive": func() []int8 {
			d := make([]int8, planes*7*9)
			AdaptiveAvgPool2d(d, src, planes, ih, iw, 7, 9)
			return d
		},
		"bilinear": func() []int8 {
			d := make([]int8, planes*97*81)
			UpsampleBilinear2d(d, src, planes, ih, iw, 97, 81, false, 0, 0, 4, -2, 0.8)
			return d
		},
	}
	defer SetThreads(SetThreads(1))
	for name, run := range runs {
		SetThreads(1)
		one := run()
		SetThreads(4)
		four := run()
		for i := range one {
			if one[i] != four[i] {
				t.Fatalf("%s: code %d differs between 1 and 4 goroutines: %d vs %d", name, i, one[i], four[i])
			}
		}
	}
}
