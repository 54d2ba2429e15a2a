//go:build !amd64 || purego

package kernels

// dwKernel returns the Go direct kernel: this build has no assembly.
func dwKernel(int) func(*dwArgs) { return dwGeneric }
