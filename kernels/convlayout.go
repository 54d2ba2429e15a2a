package kernels

// transpose16 transposes a 16-row block of bytes:
//
//	dst[d + c·ds + r] = src[s + r·ss + c]   for r < 16, c < cols ≤ 64,
//
// with the AVX-512 kernel when that path is active.
func transpose16(dst []uint8, d, ds int, src []uint8, s, ss, cols int) {
	if cols <= 0 {
		return
	}
	if cols > 64 || s < 0 || d < 0 || s+15*ss+cols > len(src) || d+(cols-1)*ds+16 > len(dst) {
		panic("kernels: transpose16: block out of range")
	}
	if transpose16Asm(dst, d, ds, src, s, ss, cols) {
		return
	}
	for r := 0; r < 16; r++ {
		row := src[s+r*ss : s+r*ss+cols]
		for c, v := range row {
			dst[d+c*ds+r] = v
		}
	}
}
