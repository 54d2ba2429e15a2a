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

// copyRows copies rows runs of width bytes: dst[d + r·ds + c] =
// src[s + r·ss + c] for r < rows, c < width, with the AVX-512 kernel (one
// masked load and store per row of up to 64 bytes) when that path is
// active; a copy call per row costs more than the row for narrow planes.
func copyRows(dst []uint8, d, ds int, src []uint8, s, ss, rows, width int) {
	if rows <= 0 || width <= 0 {
		return
	}
	if s < 0 || d < 0 || s+(rows-1)*ss+width > len(src) || d+(rows-1)*ds+width > len(dst) {
		panic("kernels: copyRows: rows out of range")
	}
	if copyRowsAsm(dst, d, ds, src, s, ss, rows, width) {
		return
	}
	for r := 0; r < rows; r++ {
		copy(dst[d+r*ds:d+r*ds+width], src[s+r*ss:s+r*ss+width])
	}
}
