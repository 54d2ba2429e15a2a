package kernels

import (
	"math"
	"sync"
)

// Code is an 8-bit quantized code: the storage of quint8 (uint8) or qint8
// (int8) tensors.
type Code interface{ ~uint8 | ~int8 }

// codeRange returns the range of T: [0, 255] or [−128, 127].
func codeRange[T Code]() (lo, hi int32) {
	var z T
	z--
	if z < 0 {
		return -128, 127
	}
	return 0, 255
}

// PoolOutputSize is PyTorch's pooling_output_shape: the number of windows
// of a pool along one dimension,
//
//	out = ⌊(in + 2·pad − dil·(k−1) − 1 + (ceil ? stride−1 : 0)) / stride⌋ + 1
//
// (floor division), reduced by one in ceil mode when the last window would
// start in the right padding, (out−1)·stride ≥ in + pad. The result may be
// ≤ 0; callers reject that. stride must be > 0.
func PoolOutputSize(in, k, pad, stride, dil int, ceil bool) int {
	num := in + 2*pad - dil*(k-1) - 1
	if ceil {
		num += stride - 1
	}
	out := floorDiv(num, stride) + 1
	if ceil && (out-1)*stride >= in+pad {
		out--
	}
	return out
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Window2d is a 2-D pooling window: kernel size, stride, padding and
// dilation along height and width.
type Window2d struct {
	KH, KW, SH, SW, PH, PW, DH, DW int
}

// MaxPool2d computes the max pool of planes NCHW planes of ih×iw codes into
// oh×ow outputs: each output is the largest code of its window, taking rows
// h = oh·SH − PH + i·DH (i < KH) inside [0, ih), likewise for columns;
// padding never wins. A window with no element inside the input gives the
// lowest code, as PyTorch's quantized max_pool2d does. dst holds
// planes·oh·ow codes, src planes·ih·iw. PyTorch: quantized max_pool2d.
// Large calls split the planes over up to Threads() goroutines; the
// codes are identical for every count.
func MaxPool2d[T Code](dst, src []T, planes, ih, iw, oh, ow int, w Window2d) {
	if parallelPlanes(planes, oh*ow*w.KH*w.KW, func(p0, p1 int) {
		maxPool2d(dst[p0*oh*ow:p1*oh*ow], src[p0*ih*iw:p1*ih*iw], p1-p0, ih, iw, oh, ow, w)
	}) {
		return
	}
	maxPool2d(dst, src, planes, ih, iw, oh, ow, w)
}

func maxPool2d[T Code](dst, src []T, planes, ih, iw, oh, ow int, w Window2d) {
	lo, _ := codeRange[T]()
	_ = dst[planes*oh*ow-1]
	_ = src[planes*ih*iw-1]
	for p := 0; p < planes; p++ {
		in := src[p*ih*iw : (p+1)*ih*iw]
		out := dst[p*oh*ow : (p+1)*oh*ow]
		for y := 0; y < oh; y++ {
			hs := y*w.SH - w.PH
			he := min(hs+(w.KH-1)*w.DH+1, ih)
			for hs < 0 {
				hs += w.DH
			}
			for x := 0; x < ow; x++ {
				ws := x*w.SW - w.PW
				we := min(ws+(w.KW-1)*w.DW+1, iw)
				for ws < 0 {
					ws += w.DW
				}
				m := T(lo)
				for h := hs; h < he; h += w.DH {
					row := in[h*iw : h*iw+iw]
					for c := ws; c < we; c += w.DW {
						if v := row[c]; v > m {
							m = v
						}
					}
				}
				out[y*ow+x] = m
			}
		}
	}
}

// AvgPool2d computes PyTorch 1.13's NCHW quantized avg_pool2d (dilation 1):
// for each window, with size the number of its elements inside the input,
//
//	out = clamp(rne(f32(Σq − size·inZP)·m + f32(outZP)), qmin, qmax)
//	m   = f32(scaleRatio / div)
//
// where scaleRatio = inScale/outScale (a float64, as PyTorch computes it),
// div = divisor when divisor ≠ 0 (divisor_override), else the window's
// extent clipped to the padded input when countIncludePad, else size. The sum is exact; there is
// one rounding, half to even, after the zero point is added.
// Large calls split the planes over up to Threads() goroutines; the
// codes are identical for every count.
func AvgPool2d[T Code](dst, src []T, planes, ih, iw, oh, ow int, w Window2d, countIncludePad bool, divisor int, inZP, outZP int32, scaleRatio float64) {
	if parallelPlanes(planes, oh*ow*w.KH*w.KW, func(p0, p1 int) {
		avgPool2d(dst[p0*oh*ow:p1*oh*ow], src[p0*ih*iw:p1*ih*iw], p1-p0, ih, iw, oh, ow, w, countIncludePad, divisor, inZP, outZP, scaleRatio)
	}) {
		return
	}
	avgPool2d(dst, src, planes, ih, iw, oh, ow, w, countIncludePad, divisor, inZP, outZP, scaleRatio)
}

func avgPool2d[T Code](dst, src []T, planes, ih, iw, oh, ow int, w Window2d, countIncludePad bool, divisor int, inZP, outZP int32, scaleRatio float64) {
	lo, hi := codeRange[T]()
	_ = dst[planes*oh*ow-1]
	_ = src[planes*ih*iw-1]
	for p := 0; p < planes; p++ {
		in := src[p*ih*iw : (p+1)*ih*iw]
		out := dst[p*oh*ow : (p+1)*oh*ow]
		for y := 0; y < oh; y++ {
			hs := y*w.SH - w.PH
			he := min(hs+w.KH, ih+w.PH)
			for x := 0; x < ow; x++ {
				ws := x*w.SW - w.PW
				we := min(ws+w.KW, iw+w.PW)
				poolSize := (he - hs) * (we - ws)
				h0, w0 := max(hs, 0), max(ws, 0)
				h1, w1 := min(he, ih), min(we, iw)
				size := (h1 - h0) * (w1 - w0)
				div := size
				switch {
				case divisor != 0:
					div = divisor
				case countIncludePad:
					div = poolSize
				}
				var sum int32
				for h := h0; h < h1; h++ {
					for _, v := range in[h*iw+w0 : h*iw+w1] {
						sum += int32(v)
					}
				}
				sum -= int32(size) * inZP
				m := float32(scaleRatio / float64(div))
				r := math.RoundToEven(float64(float32(float32(sum)*m) + float32(outZP)))
				out[y*ow+x] = T(clampRound(r, lo, hi))
			}
		}
	}
}

// clampRound clamps an already rounded value to [lo, hi]; NaN maps to lo.
func clampRound(r float64, lo, hi int32) int32 {
	if !(r >= float64(lo)) {
		return lo
	}
	if r > float64(hi) {
		return hi
	}
	return int32(r)
}

// Window3d is a 3-D pooling window (depth, height, width), dilation 1.
type Window3d struct {
	KD, KH, KW, SD, SH, SW, PD, PH, PW int
}

// AvgPool3d computes PyTorch 1.13's quantized avg_pool3d, which always runs
// its channels-last kernel, on an NCDHW tensor of n·c planes. With size and
// div as in AvgPool2d (over three dimensions),
//
//	out = clamp(outZP + rne(f32(Σq − size·inZP)·m'), qmin, qmax)
//	m   = f32(f32(inScale/outScale)/div)
//
// where the zero point is added after rounding, and m' is m itself for the
// channels PyTorch's AVX2 build quantizes eight at a time (channel index
// < 8·⌊c/8⌋) and f32(1/f32(1/m)) for the remaining channels, which go
// through quantize_val. The two differ by at most one float32 ulp and
// coincide when inScale = outScale (checked for every divisor up to 10⁵).
// Large calls split the batches over up to Threads() goroutines; the
// codes are identical for every count.
func AvgPool3d[T Code](dst, src []T, n, c, id, ih, iw, od, oh, ow int, w Window3d, countIncludePad bool, divisor int, inZP, outZP int32, inScale, outScale float32) {
	inB, outB := c*id*ih*iw, c*od*oh*ow
	if parallelPlanes(n, outB*w.KD*w.KH*w.KW, func(b0, b1 int) {
		avgPool3d(dst[b0*outB:b1*outB], src[b0*inB:b1*inB], b1-b0, c, id, ih, iw, od, oh, ow, w, countIncludePad, divisor, inZP, outZP, inScale, outScale)
	}) {
		return
	}
	avgPool3d(dst, src, n, c, id, ih, iw, od, oh, ow, w, countIncludePad, divisor, inZP, outZP, inScale, outScale)
}

func avgPool3d[T Code](dst, src []T, n, c, id, ih, iw, od, oh, ow int, w Window3d, countIncludePad bool, divisor int, inZP, outZP int32, inScale, outScale float32) {
	lo, hi := codeRange[T]()
	inPlane, outPlane := id*ih*iw, od*oh*ow
	_ = dst[n*c*outPlane-1]
	_ = src[n*c*inPlane-1]
	vecC := c / 8 * 8
	ratio := inScale / outScale
	for b := 0; b < n; b++ {
		for ch := 0; ch < c; ch++ {
			p := b*c + ch
			in := src[p*inPlane : (p+1)*inPlane]
			out := dst[p*outPlane : (p+1)*outPlane]
			for z := 0; z < od; z++ {
				ds := z*w.SD - w.PD
				de := min(ds+w.KD, id+w.PD)
				for y := 0; y < oh; y++ {
					hs := y*w.SH - w.PH
					he := min(hs+w.KH, ih+w.PH)
					for x := 0; x < ow; x++ {
						ws := x*w.SW - w.PW
						we := min(ws+w.KW, iw+w.PW)
						poolSize := (de - ds) * (he - hs) * (we - ws)
						d0, h0, w0 := max(ds, 0), max(hs, 0), max(ws, 0)
						d1, h1, w1 := min(de, id), min(he, ih), min(we, iw)
						size := (d1 - d0) * (h1 - h0) * (w1 - w0)
						div := size
						if countIncludePad {
							div = poolSize
						}
						if divisor != 0 {
							div = divisor
						}
						acc := -inZP * int32(size)
						for d := d0; d < d1; d++ {
							for h := h0; h < h1; h++ {
								off := (d*ih + h) * iw
								for _, v := range in[off+w0 : off+w1] {
									acc += int32(v)
								}
							}
						}
						m := ratio / float32(div)
						if ch >= vecC {
							m = 1 / (1 / m)
						}
						out[(z*oh+y)*ow+x] = T(quantizeF32(float32(acc), m, outZP, lo, hi))
					}
				}
			}
		}
	}
}

// AdaptiveAvgPool2d computes PyTorch 1.13's NCHW quantized
// adaptive_avg_pool2d: output (y, x) averages rows
// [⌊f32(y·ih)/oh⌋, ⌈f32((y+1)·ih)/oh⌉) and the likewise columns, as
//
//	out = rne(f32(Σq)·r),  r = f32(f32(1/kh)/kw)
//
// on the raw codes (no zero-point arithmetic; the output keeps the input's
// qparams). Rounding is half to even.
// Large calls split the planes over up to Threads() goroutines; the
// codes are identical for every count.
func AdaptiveAvgPool2d[T Code](dst, src []T, planes, ih, iw, oh, ow int) {
	if parallelPlanes(planes, ih*iw+oh*ow, func(p0, p1 int) {
		adaptiveAvgPool2d(dst[p0*oh*ow:p1*oh*ow], src[p0*ih*iw:p1*ih*iw], p1-p0, ih, iw, oh, ow)
	}) {
		return
	}
	adaptiveAvgPool2d(dst, src, planes, ih, iw, oh, ow)
}

func adaptiveAvgPool2d[T Code](dst, src []T, planes, ih, iw, oh, ow int) {
	_ = dst[planes*oh*ow-1]
	_ = src[planes*ih*iw-1]
	hs, he := adaptiveBounds(ih, oh)
	ws, we := adaptiveBounds(iw, ow)
	for p := 0; p < planes; p++ {
		in := src[p*ih*iw : (p+1)*ih*iw]
		out := dst[p*oh*ow : (p+1)*oh*ow]
		for y := 0; y < oh; y++ {
			kh := he[y] - hs[y]
			rh := float32(1) / float32(kh)
			for x := 0; x < ow; x++ {
				kw := we[x] - ws[x]
				r := rh / float32(kw)
				var sum int64
				for h := hs[y]; h < he[y]; h++ {
					for _, v := range in[h*iw+ws[x] : h*iw+we[x]] {
						sum += int64(v)
					}
				}
				out[y*ow+x] = T(math.RoundToEven(float64(float32(sum) * r)))
			}
		}
	}
}

// adaptiveBounds returns PyTorch's start_index/end_index for every output
// index: ⌊f32(o·in)/out⌋ and ⌈f32((o+1)·in)/out⌉.
func adaptiveBounds(in, out int) (start, end []int) {
	start, end = make([]int, out), make([]int, out)
	for o := 0; o < out; o++ {
		start[o] = int(math.Floor(float64(float32(o*in) / float32(out))))
		end[o] = int(math.Ceil(float64(float32((o+1)*in) / float32(out))))
	}
	return start, end
}

// ResizeScale returns the float32 source-per-destination step PyTorch's
// compute_scales_value uses: f32(1/scale) when a scale factor was given
// (scale > 0), else f32(in)/f32(out).
func ResizeScale(in, out int, scale float64) float32 {
	if scale > 0 {
		return float32(1 / scale)
	}
	return float32(in) / float32(out)
}

// nearestIndex is PyTorch's nearest_neighbor_compute_source_index:
// min(⌊f32(d)·step⌋, in−1). (The quantized kernel uses it directly; unlike
// the float kernel's nearest_idx it has no per-dimension identity or
// doubling shortcut.)
func nearestIndex(d, in int, step float32) int {
	return min(int(math.Floor(float64(float32(d)*step))), in-1)
}

// UpsampleNearest2d computes PyTorch 1.13's quantized upsample_nearest2d on
// planes NCHW planes: out[y][x] = in[sy][sx] with
// sy = min(⌊f32(y)·stepH⌋, ih−1), stepH = ResizeScale(ih, oh, scaleH), and
// likewise for x; equal input and output sizes copy the plane. Codes are
// copied, so the output keeps the input's qparams. A scale ≤ 0 means none
// was given.
func UpsampleNearest2d[T Code](dst, src []T, planes, ih, iw, oh, ow int, scaleH, scaleW float64) {
	if planes == 0 || oh == 0 || ow == 0 {
		return
	}
	_ = dst[planes*oh*ow-1]
	_ = src[planes*ih*iw-1]
	if ih == oh && iw == ow {
		copy(dst[:planes*oh*ow], src)
		return
	}
	stepH, stepW := ResizeScale(ih, oh, scaleH), ResizeScale(iw, ow, scaleW)
	cols := make([]int, ow)
	for x := range cols {
		cols[x] = nearestIndex(x, iw, stepW)
	}
	for p := 0; p < planes; p++ {
		in := src[p*ih*iw : (p+1)*ih*iw]
		out := dst[p*oh*ow : (p+1)*oh*ow]
		for y := 0; y < oh; y++ {
			row := in[nearestIndex(y, ih, stepH)*iw:]
			o := out[y*ow : (y+1)*ow]
			for x, c := range cols {
				o[x] = row[c]
			}
		}
	}
}

// bilinearTap is one output coordinate's source index, neighbour offset
// (0 or 1) and weights.
type bilinearTap struct {
	i, p   int
	l0, l1 float32
}

// bilinearTaps follows PyTorch's area_pixel_compute_scale and
// area_pixel_compute_source_index in float32: with align corners the source
// is f32(step·f32(d)), step = f32(in−1)/f32(out−1) (0 when out = 1);
// without, f32(f32(step·f32(d+0.5)) − 0.5) clamped below at 0, all in
// float32 (PyTorch 1.13's scalar_t arithmetic; a float64 intermediate
// differs on ties).
func bilinearTaps(in, out int, alignCorners bool, scale float64) []bilinearTap {
	var step float32
	if alignCorners {
		if out > 1 {
			step = float32(in-1) / float32(out-1)
		}
	} else {
		step = ResizeScale(in, out, scale)
	}
	taps := make([]bilinearTap, out)
	for d := range taps {
		var r float32
		if alignCorners {
			r = step * float32(d)
		} else {
			r = float32(step*float32(float32(d)+0.5)) - 0.5
			if r < 0 {
				r = 0
			}
		}
		i := int(r)
		p := 0
		if i < in-1 {
			p = 1
		}
		l1 := r - float32(i)
		taps[d] = bilinearTap{i: i, p: p, l0: 1 - l1, l1: l1}
	}
	return taps
}

// UpsampleBilinear2d computes PyTorch 1.13's quantized upsample_bilinear2d
// on planes NCHW planes, in float32 on the raw codes:
//
//	v   = h0·(w0·q00 + w1·q01) + h1·(w0·q10 + w1·q11) − f32(inZP)
//	out = clamp(outZP + rne(f32(v·f32(1/f32(outScale/inScale)))), qmin, qmax)
//
// with the weights and source indices of bilinearTaps. scaleRatio is
// outScale/inScale as a float64 (1 when the qparams are kept). Equal sizes
// copy the codes. A scale ≤ 0 means none was given.
// Large calls split the planes over up to Threads() goroutines; the
// codes are identical for every count.
func UpsampleBilinear2d[T Code](dst, src []T, planes, ih, iw, oh, ow int, alignCorners bool, scaleH, scaleW float64, inZP, outZP int32, scaleRatio float64) {
	if parallelPlanes(planes, 4*oh*ow, func(p0, p1 int) {
		upsampleBilinear2d(dst[p0*oh*ow:p1*oh*ow], src[p0*ih*iw:p1*ih*iw], p1-p0, ih, iw, oh, ow, alignCorners, scaleH, scaleW, inZP, outZP, scaleRatio)
	}) {
		return
	}
	upsampleBilinear2d(dst, src, planes, ih, iw, oh, ow, alignCorners, scaleH, scaleW, inZP, outZP, scaleRatio)
}

func upsampleBilinear2d[T Code](dst, src []T, planes, ih, iw, oh, ow int, alignCorners bool, scaleH, scaleW float64, inZP, outZP int32, scaleRatio float64) {
	if planes == 0 || oh == 0 || ow == 0 {
		return
	}
	_ = dst[planes*oh*ow-1]
	_ = src[planes*ih*iw-1]
	if ih == oh && iw == ow {
		copy(dst[:planes*oh*ow], src)
		return
	}
	lo, hi := codeRange[T]()
	inv := 1 / float32(scaleRatio)
	zin := float32(inZP)
	rows := bilinearTaps(ih, oh, alignCorners, scaleH)
	cols := bilinearTaps(iw, ow, alignCorners, scaleW)
	// The inner sums w0·q[r][c] + w1·q[r][c+1] depend on the source row r
	// and the output column only, so each needed source row is
	// interpolated once (output rows visit source rows in order; two
	// buffers suffice) with exactly the per-element arithmetic.
	var buf [2][]float32
	var bufRow [2]int
	buf[0], buf[1] = make([]float32, ow), make([]float32, ow)
	// horiz returns source row r interpolated along x, computing it into
	// the buffer that does not hold row keep.
	horiz := func(in []T, r, keep int) []float32 {
		for k := range bufRow {
			if bufRow[k] == r {
				return buf[k]
			}
		}
		k := 0
		if bufRow[0] == keep {
			k = 1
		}
		row := in[r*iw : (r+1)*iw]
		h := buf[k]
		for x, ct := range cols {
			h[x] = float32(ct.l0*float32(row[ct.i])) + float32(ct.l1*float32(row[ct.i+ct.p]))
		}
		bufRow[k] = r
		return h
	}
	for p := 0; p < planes; p++ {
		in := src[p*ih*iw : (p+1)*ih*iw]
		out := dst[p*oh*ow : (p+1)*oh*ow]
		bufRow = [2]int{-1, -1}
		for y, rt := range rows {
			a := horiz(in, rt.i, rt.i+rt.p)
			b := horiz(in, rt.i+rt.p, rt.i)
			o := out[y*ow : (y+1)*ow]
			for x := range o {
				v := float32(rt.l0*a[x]) + float32(rt.l1*b[x]) - zin
				o[x] = T(quantizeF32(v, inv, outZP, lo, hi))
			}
		}
	}
}

// parallelPlanes splits [0, planes) into contiguous ranges and runs fn on
// each in its own goroutine (at most Threads(), each with at least
// minPlaneWork units of work), then waits. It reports false, running
// nothing, when one goroutine should do all the work. Planes are
// independent, so results are identical for every split.
func parallelPlanes(planes, workPerPlane int, fn func(p0, p1 int)) bool {
	g := min(Threads(), planes)
	if workPerPlane > 0 {
		g = min(g, planes*workPerPlane/minPlaneWork)
	}
	if g < 2 {
		return false
	}
	var wg sync.WaitGroup
	for k := 0; k < g; k++ {
		p0, p1 := planes*k/g, planes*(k+1)/g
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(p0, p1)
		}()
	}
	wg.Wait()
	return true
}

// minPlaneWork is the least work (window elements visited) worth a
// goroutine.
const minPlaneWork = 1 << 17
