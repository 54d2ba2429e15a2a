package kernels

// transpose16 transposes a block of at most 16 rows of bytes:
//
//	dst[d + c·ds + r] = src[s + r·ss + c]   for r < rows ≤ 16, c < cols ≤ 64,
//
// with the AVX-512 kernel when that path is active. All 16 source rows
// must be readable (the kernel loads them whatever rows is); only the
// rows·cols destination bytes are written.
func transpose16(dst []uint8, d, ds int, src []uint8, s, ss, cols, rows int) {
	if cols <= 0 || rows <= 0 {
		return
	}
	if cols > 64 || rows > 16 || s < 0 || d < 0 || s+15*ss+cols > len(src) || d+(cols-1)*ds+rows > len(dst) {
		panic("kernels: transpose16: block out of range")
	}
	if transpose16Asm(dst, d, ds, src, s, ss, cols, rows) {
		return
	}
	for r := 0; r < rows; r++ {
		row := src[s+r*ss : s+r*ss+cols]
		for c, v := range row {
			dst[d+c*ds+r] = v
		}
	}
}
