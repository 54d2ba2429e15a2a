package kernels

import (
	"math/rand"
	"testing"
)

// implicitCases are one-group convolutions the implicit GEMM takes: widths
// 1…17, 60–99 and beyond the 96-pixel block (rows split into segments), strides, height dilation, padding
// beyond the kernel, channel counts that are and are not multiples of 16
// (KW·C a multiple of 4), more than one weight panel, zero points at both
// extremes.
func implicitCases(r *rand.Rand) []*convCase {
	var cs []*convCase
	for rep := 0; rep < 50; rep++ {
		c := []int{4, 8, 12, 16, 20, 36, 64}[r.Intn(7)]
		o := 1 + r.Intn(40)
		if rep%6 == 0 {
			o = 64 + 1 + r.Intn(70) // two or three panels
		}
		w := 1 + rep%17
		if rep%8 == 7 {
			w = 60 + r.Intn(40)
		}
		if rep%10 == 9 {
			w = 97 + r.Intn(150) // rows split into segments
		}
		h := 1 + r.Intn(7)
		kh, kw := 1+r.Intn(min(h+1, 4)), 1+r.Intn(min(w+1, 5))
		cc := randConvCase(r, 1+r.Intn(2), c, o, 1, 1, h, w, 1, kh, kw)
		cc.g.DW = 1
		cc.g.OW = outDim(w, kw, cc.g.SW, cc.g.PW, 1)
		if cc.g.OW < 1 || !ConvImplicitFits(&cc.g) {
			continue
		}
		switch rep % 4 {
		case 0:
			cc.xZP = 0
		case 1:
			cc.xZP = 255
			for i := range cc.wZP {
				cc.wZP[i] = -128 + int32(r.Intn(2))*255
			}
		}
		cs = append(cs, cc)
	}
	// Kernel rows longer than one K block (KW·C = 576 bytes > kcQuads quads).
	deep := randConvCase(r, 1, 192, 20, 1, 1, 4, 9, 1, 2, 3)
	deep.g.DW = 1
	deep.g.OW = outDim(9, 3, deep.g.SW, deep.g.PW, 1)
	cs = append(cs, deep)
	// A window overhanging the input (PyTorch's truncating output size:
	// OH = (1 − 3)/3 + 1 = 1), which reads the zero point there.
	cc := randConvCase(r, 2, 16, 5, 1, 1, 1, 5, 1, 3, 2)
	cc.g.SH, cc.g.SW, cc.g.DH, cc.g.DW, cc.g.PH, cc.g.PW, cc.g.OH, cc.g.OW = 3, 1, 1, 1, 0, 0, 1, 4
	return append(cs, cc)
}

func TestConvImplicitMatchesNaive(t *testing.T) {
	defer func(p string) { SetPath(p) }(Path())
	defer SetThreads(SetThreads(0))
	r := rand.New(rand.NewSource(13))
	cases := implicitCases(r)
	if len(cases) < 25 {
		t.Fatalf("only %d implicit-GEMM cases fit", len(cases))
	}
	for ci, cc := range cases {
		want := naiveConv(cc)
		p := PackWeights(ConvWeightsToGemm(&cc.g, cc.w, 0), cc.g.O, cc.g.KGroup())
		for _, path := range Paths() {
			if err := SetPath(path); err != nil {
				t.Fatal(err)
			}
			SetThreads(1 + ci%3)
			const guard = 0xC3
			got := make([]uint8, len(want)+64)
			for i := range got {
				got[i] = guard
			}
			ConvImplicitNCHW(&cc.g, cc.n, cc.x, cc.xZP, p, cc.wZP, cc.rq, got[:len(want)])
			for i := len(want); i < len(got); i++ {
				if got[i] != guard {
					t.Fatalf("case %d %+v path %s: wrote past the output at %d", ci, cc.g, path, i)
				}
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("case %d %+v xZP %d wZP %v path %s: out[%d] = %d, want %d", ci, cc.g, cc.xZP, cc.wZP, path, i, got[i], want[i])
				}
			}
		}
	}
}
