//go:build amd64 && !purego

package kernels

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestYMMPathsAreVEXOnly checks the assembly of the avxvnni and avx2 paths
// for anything that needs an EVEX encoding (AVX-512 registers, opmasks or
// AVX-512-only mnemonics): those paths exist for CPUs without AVX-512, which
// this machine cannot show (the Go assembler silently picks EVEX when an
// instruction needs it).
func TestYMMPathsAreVEXOnly(t *testing.T) {
	evex := regexp.MustCompile(`\b(Z\d+|K[1-7]|[XY](1[6-9]|2\d|3[01]))\b|VMOVDQU(8|16|32|64)|VMOVDQA(32|64)|VPXOR[DQ]|VPMOV[DQ]B|VPMOVUS|VPMOVS[DQ]|\.Z\b|VPBROADCASTD\s+[A-Z]{2}\b`)
	for _, file := range []string{"gemm_kernels_amd64.s", "gemm_epilogue_amd64.s", "quant_amd64.s"} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		fn := ""
		checked := 0
		for i, line := range strings.Split(string(src), "\n") {
			if strings.HasPrefix(line, "TEXT ") {
				fn = line
			}
			if !(strings.Contains(fn, "_AVX2(") || strings.Contains(fn, "_AVXVNNI(") || strings.Contains(fn, "epiAVX2(")) {
				continue
			}
			code, _, _ := strings.Cut(line, "//")
			if m := evex.FindString(code); m != "" {
				t.Errorf("%s:%d: %q needs EVEX in a non-AVX-512 path: %s", file, i+1, m, strings.TrimSpace(line))
			}
			checked++
		}
		if checked == 0 && file != "gemm_epilogue_amd64.s" {
			t.Errorf("%s: found no AVX2/AVX-VNNI functions to check", file)
		}
	}
}
