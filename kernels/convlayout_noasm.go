//go:build !amd64 || purego

package kernels

// transpose16Asm reports false: this build has no assembly.
func transpose16Asm(dst []uint8, d, ds int, src []uint8, s, ss, cols, rows int) bool {
	return false
}

// copyRowsAsm reports false: this build has no assembly.
func copyRowsAsm(dst []uint8, d, ds int, src []uint8, s, ss, rows, width int) bool {
	return false
}
