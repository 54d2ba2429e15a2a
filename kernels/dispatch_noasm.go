//go:build !amd64 || purego

package kernels

// platformImpls returns no assembly paths: this build is portable Go only.
func platformImpls() []*gemmImpl { return nil }
