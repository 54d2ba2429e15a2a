package kernels

import (
	"math/rand"
	"testing"
)

func TestTranspose16(t *testing.T) {
	defer func(p string) { SetPath(p) }(Path())
	r := rand.New(rand.NewSource(21))
	for _, path := range Paths() {
		SetPath(path)
		for cols := 1; cols <= 64; cols++ {
			rows := 16
			if cols%3 == 0 {
				rows = 1 + r.Intn(16)
			}
			ss, ds := cols+r.Intn(9), 16+r.Intn(9)
			src := make([]uint8, 3+15*ss+cols)
			for i := range src {
				src[i] = uint8(r.Intn(256))
			}
			const guard = 0x77
			dst := make([]uint8, 5+(cols-1)*ds+16+32)
			for i := range dst {
				dst[i] = guard
			}
			transpose16(dst, 5, ds, src, 3, ss, cols, rows)
			want := make([]uint8, len(dst))
			for i := range want {
				want[i] = guard
			}
			for rr := 0; rr < rows; rr++ {
				for c := 0; c < cols; c++ {
					want[5+c*ds+rr] = src[3+rr*ss+c]
				}
			}
			for i := range want {
				if dst[i] != want[i] {
					t.Fatalf("path %s cols %d rows %d ss %d ds %d: dst[%d] = %d, want %d", path, cols, rows, ss, ds, i, dst[i], want[i])
				}
			}
		}
	}
}

func TestCopyRows(t *testing.T) {
	defer func(p string) { SetPath(p) }(Path())
	r := rand.New(rand.NewSource(22))
	for _, path := range Paths() {
		SetPath(path)
		for _, width := range []int{1, 7, 15, 16, 17, 56, 63, 64, 65, 127, 128, 130, 200} {
			rows := 1 + r.Intn(5)
			ss, ds := width+r.Intn(5), width+r.Intn(5)
			src := make([]uint8, 3+(rows-1)*ss+width)
			for i := range src {
				src[i] = uint8(r.Intn(256))
			}
			const guard = 0x33
			dst := make([]uint8, 2+(rows-1)*ds+width+64)
			want := make([]uint8, len(dst))
			for i := range dst {
				dst[i], want[i] = guard, guard
			}
			for rr := 0; rr < rows; rr++ {
				copy(want[2+rr*ds:], src[3+rr*ss:3+rr*ss+width])
			}
			copyRows(dst, 2, ds, src, 3, ss, rows, width)
			for i := range want {
				if dst[i] != want[i] {
					t.Fatalf("path %s width %d rows %d: dst[%d] = %d, want %d", path, width, rows, i, dst[i], want[i])
				}
			}
		}
	}
}
