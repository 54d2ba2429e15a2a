package kernels

import (
	"math/rand"
	"testing"
)

// directU8Cases are convolutions with one input channel per group on sizes
// that break the 16-pixel kernel: widths 1…17 and 31–33, strides and
// dilations up to its reach, padding beyond the kernel, odd channel counts
// and zero points at both extremes.
func directU8Cases(r *rand.Rand) []*convCase {
	var cs []*convCase
	for rep := 0; rep < 60; rep++ {
		groups := 1 + r.Intn(5)
		og := 1 + r.Intn(3)
		if rep%5 == 0 {
			groups, og = 1, 16+r.Intn(3) // C = 1, many output channels
		}
		w := 1 + rep%17
		if rep%7 == 6 {
			w = 31 + r.Intn(3)
		}
		h := 1 + r.Intn(9)
		kh, kw := 1+r.Intn(min(h+1, 5)), 1+r.Intn(min(w+1, 7))
		cc := randConvCase(r, 1+r.Intn(2), groups, groups*og, groups, 1, h, w, 1, kh, kw)
		if !directU8Fits(&cc.g) {
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
	// Windows overhanging the input (PyTorch's truncating output size).
	over := randConvCase(r, 1, 3, 3, 3, 1, 2, 5, 1, 3, 3)
	over.g.SH, over.g.SW, over.g.DH, over.g.DW, over.g.PH, over.g.PW, over.g.OH, over.g.OW = 2, 4, 1, 1, 0, 1, 1, 2
	cs = append(cs, over)
	// The benchmark shapes, reduced.
	cs = append(cs, randConvCase(r, 2, 1, 16, 1, 1, 28, 28, 1, 5, 5), randConvCase(r, 1, 19, 19, 19, 1, 18, 21, 1, 3, 3))
	return cs
}

func TestConvDirectU8MatchesNaive(t *testing.T) {
	defer func(p string) { SetPath(p) }(Path())
	r := rand.New(rand.NewSource(11))
	for ci, cc := range directU8Cases(r) {
		if !directU8Fits(&cc.g) {
			continue
		}
		want := naiveConv(cc)
		for _, path := range Paths() {
			if err := SetPath(path); err != nil {
				t.Fatal(err)
			}
			const guard = 0x5A
			got := make([]uint8, len(want)+64)
			for i := range got {
				got[i] = guard
			}
			ConvDirectU8(&cc.g, cc.n, cc.x, cc.xZP, cc.w, cc.wZP, cc.rq, got[:len(want)])
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

func TestConvDirectU8CaseCount(t *testing.T) {
	n := 0
	for _, cc := range directU8Cases(rand.New(rand.NewSource(11))) {
		if directU8Fits(&cc.g) {
			n++
		}
	}
	if n < 40 {
		t.Fatalf("only %d direct-kernel cases fit", n)
	}
}

// BenchmarkConvDirectU8 times the direct kernel on the depthwise and
// single-channel reference workloads (conv_d and conv_b of the bench), on
// every path, beside the int32 direct kernel it replaces.
func BenchmarkConvDirectU8(b *testing.B) {
	defer func(p string) { SetPath(p) }(Path())
	for _, s := range []struct {
		name                     string
		n, c, o, groups, h, k, p int
	}{
		{"d_N1_C128_56x56_dw3x3", 1, 128, 128, 128, 56, 3, 1},
		{"b_N64_C1_28x28_K16_5x5", 64, 1, 16, 1, 28, 5, 0},
	} {
		r := rand.New(rand.NewSource(1))
		cc := randConvCase(r, s.n, s.c, s.o, s.groups, 1, s.h, s.h, 1, s.k, s.k)
		cc.wZP = []int32{0} // symmetric weights, as PyTorch's default qint8 conv weights
		g := &cc.g
		g.SH, g.SW, g.DH, g.DW, g.PH, g.PW = 1, 1, 1, 1, s.p, s.p
		g.OH, g.OW = s.h+2*s.p-s.k+1, s.h+2*s.p-s.k+1
		out := make([]uint8, s.n*s.o*g.OH*g.OW)
		ops := 2 * float64(len(out)*s.k*s.k)
		for _, path := range Paths() {
			SetPath(path)
			b.Run("size="+s.name+"/impl=u8_"+path, func(b *testing.B) {
				p := NewConvDirectU8Plan(g, cc.xZP, cc.w, cc.wZP, cc.rq)
				for i := 0; i < b.N; i++ {
					p.Run(s.n, cc.x, out, 0, s.n*s.groups)
				}
				b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
			})
		}
		b.Run("size="+s.name+"/impl=int32_direct", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ConvDirectNCHW(g, s.n, cc.x, cc.xZP, cc.w, cc.wZP, cc.rq, out)
			}
			b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
	}
}
