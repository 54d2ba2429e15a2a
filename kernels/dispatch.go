package kernels

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// dotFunc is the signature of every generated microkernel: it computes the
// raw tile
//
//	c[r·ldc/4+j] = Σ_{q<k4} Σ_{t<4} int32(a[r·lda+4q+t])·int32(b[q·bstride+4j+t])
//
// for r < MR and j < NC (MR and NC are in its name), wrapping in int32. ldc
// and bstride are in bytes. With accum != 0 the tile is added to the c
// already there (K is processed in blocks).
type dotFunc func(k4 int, a *uint8, lda int, b *int8, bstride int, c *int32, ldc int, accum int)

// dotFunc16 is dotFunc on the int16-widened copy of the packed weights
// (PackedWeights.wide16); bstride is still in bytes.
type dotFunc16 func(k4 int, a *uint8, lda int, b *int16, bstride int, c *int32, ldc int, accum int)

// gemmImpl is one kernel path of the u8×s8 GEMM.
type gemmImpl struct {
	name string
	// mrMax returns the rows of the tile the path uses for a panel of
	// width cols (a multiple of 16, at most 64).
	mrMax func(cols int) int
	// dot fills the mr×cols raw tile c (row stride tileLd) from mr rows of
	// A (stride lda, k4 whole quads) and k4 quads of a panel of p of width
	// cols, starting at element boff of the packed data (4·cols elements
	// per quad), or adds to it when accum is set.
	dot func(mr, cols, k4 int, a *uint8, lda int, p *PackedWeights, boff int, c *int32, accum bool)
	// epi applies the epilogue to one tile.
	epi func(e *epiArgs)
	// Optional vector loops of the quantize kernels (quant.go), on n
	// elements, n a multiple of 16; nil means Go only.
	quant     func(dst *byte, src *float32, n int, inv float32, zp, qmin, qmax int32)
	dequantU8 func(dst *float32, src *uint8, n int, scale float32, zp int32)
	dequantS8 func(dst *float32, src *int8, n int, scale float32, zp int32)
}

// impls lists the paths this build and CPU can run, fastest first; the last
// is always the portable one.
var impls []*gemmImpl

// active is the path in use.
var active atomic.Pointer[gemmImpl]

// kernelsEnv names the environment variable that forces a path.
const kernelsEnv = "QGORGONIA_KERNELS"

func init() {
	impls = append(platformImpls(), genericImpl)
	active.Store(impls[0])
	if v := os.Getenv(kernelsEnv); v != "" {
		if err := SetPath(v); err != nil {
			fmt.Fprintf(os.Stderr, "qgorgonia: ignoring %s=%s: %v\n", kernelsEnv, v, err)
		}
	}
}

func activeImpl() *gemmImpl { return active.Load() }

// Paths returns the names of the kernel paths this binary can run on this
// CPU, fastest first: a subset of "avx512vnni", "avxvnni", "avx2" and
// "generic" (the portable Go path, always present and the only one in a
// purego or non-amd64 build).
func Paths() []string {
	s := make([]string, len(impls))
	for i, im := range impls {
		s[i] = im.name
	}
	return s
}

// Path returns the name of the kernel path in use.
func Path() string { return activeImpl().name }

// SetPath makes every later kernel call use the named path (see Paths); it
// returns an error, and changes nothing, if the name is unknown or the CPU
// cannot run that path. Results are bit-identical on every path, so this is
// for tests and benchmarks. At start-up the environment variable
// QGORGONIA_KERNELS does the same; an unusable value is reported on stderr
// and ignored (the fastest path stays in use).
func SetPath(name string) error {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, im := range impls {
		if im.name == name {
			active.Store(im)
			return nil
		}
	}
	switch name {
	case "avx512vnni", "avxvnni", "avx2", "generic":
		return fmt.Errorf("kernels: path %q is not supported by this CPU or build (have %s)", name, strings.Join(Paths(), ", "))
	}
	return fmt.Errorf("kernels: unknown kernel path %q (want one of avx512vnni, avxvnni, avx2, generic)", name)
}
