package kernels

// AdaptiveAvgPool2dNHWC computes PyTorch 1.13's channels-last quantized
// adaptive_avg_pool2d (_qadaptive_avg_pool_kernel), which PyTorch runs when
// the input is also channels-last contiguous (one channel, or a 1×1 plane).
// The windows are AdaptiveAvgPool2d's; with size = kh·kw,
//
//	out = clamp(zp + rne(f32(Σq − size·zp)·m'), qmin, qmax),  m = f32(1/size)
//
// where the zero point is added after rounding and m' = f32(1/f32(1/m))
// (quantize_val's reciprocal of a reciprocal; the output keeps the input's
// qparams). src and dst hold planes planes of ih×iw and oh×ow codes.
func AdaptiveAvgPool2dNHWC[T Code](dst, src []T, planes, ih, iw, oh, ow int, zp int32) {
	if parallelPlanes(planes, ih*iw+oh*ow, func(p0, p1 int) {
		adaptiveAvgPool2dNHWC(dst[p0*oh*ow:p1*oh*ow], src[p0*ih*iw:p1*ih*iw], p1-p0, ih, iw, oh, ow, zp)
	}) {
		return
	}
	adaptiveAvgPool2dNHWC(dst, src, planes, ih, iw, oh, ow, zp)
}

func adaptiveAvgPool2dNHWC[T Code](dst, src []T, planes, ih, iw, oh, ow int, zp int32) {
	lo, hi := codeRange[T]()
	_ = dst[planes*oh*ow-1]
	_ = src[planes*ih*iw-1]
	hs, he := adaptiveBounds(ih, oh)
	ws, we := adaptiveBounds(iw, ow)
	for p := 0; p < planes; p++ {
		in := src[p*ih*iw : (p+1)*ih*iw]
		out := dst[p*oh*ow : (p+1)*oh*ow]
		for y := 0; y < oh; y++ {
			for x := 0; x < ow; x++ {
				size := (he[y] - hs[y]) * (we[x] - ws[x])
				acc := -int32(size) * zp
				for h := hs[y]; h < he[y]; h++ {
					for _, v := range in[h*iw+ws[x] : h*iw+we[x]] {
						acc += int32(v)
					}
				}
				m := float32(1) / float32(size)
				m = 1 / (1 / m)
				out[y*ow+x] = T(quantizeF32(float32(acc), m, zp, lo, hi))
			}
		}
	}
}
