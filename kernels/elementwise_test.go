package kernels

import "testing"

func TestAddRequant(t *testing.T) {
	// research note §12: add(a, b, 0.03, 50) = [55, 50, 59, 133].
	a := []uint8{40, 0, 157, 230}
	b := []uint8{62, 75, 10, 85}
	dst := make([]uint8, 4)
	AddRequant(dst, a, b, Requant8{0.01, 30}, Requant8{0.02, 60}, Requant8{0.03, 50}, false)
	want := []uint8{55, 50, 59, 133}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("add %v, want %v", dst, want)
		}
	}
	AddRequant(dst[:1], []uint8{0}, []uint8{0}, Requant8{0.01, 30}, Requant8{0.02, 60}, Requant8{0.03, 50}, true)
	if dst[0] != 50 {
		t.Fatalf("add_relu of a negative sum: %d", dst[0])
	}
}

func TestMulRequant(t *testing.T) {
	// research note §12: mul(a, b, 0.005, 100) = [101, 82, 0, 255].
	a := []uint8{40, 0, 157, 230}
	b := []uint8{62, 75, 10, 85}
	dst := make([]uint8, 4)
	MulRequant(dst, a, b, 30, 60, MulMultiplier(0.01, 0.02, 0.005), 100, false)
	want := []uint8{101, 82, 0, 255}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("mul %v, want %v", dst, want)
		}
	}
	MulRequant(dst, a, b, 30, 60, MulMultiplier(0.01, 0.02, 0.005), 100, true)
	if dst[1] != 100 || dst[2] != 100 {
		t.Fatalf("mul_relu %v", dst)
	}
}

func TestRequantizeFromIntAndFlip(t *testing.T) {
	src := []int8{-128, 0, 127}
	dst := make([]int8, 3)
	RequantizeFromInt(dst, src, 0, 10, 0.5, -5, false) // rne((q+10)/2) − 5; 68.5 → 68
	want := []int8{-64, 0, 63}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("requantize %v, want %v", dst, want)
		}
	}
	FlipCodes(dst, src, false, 0)
	if dst[0] != 127 || dst[1] != -1 || dst[2] != -128 {
		t.Fatalf("flip %v", dst)
	}
	u := []uint8{0, 9, 255}
	du := make([]uint8, 3)
	ClampCodes(du, u, 5, 200)
	if du[0] != 5 || du[1] != 9 || du[2] != 200 {
		t.Fatalf("clamp %v", du)
	}
}

// TestBinaryTablePath checks that the tabulated path of AddRequant and
// MulRequant (long inputs) equals the direct path element by element.
func TestBinaryTablePath(t *testing.T) {
	n := pairTableMin + 3
	a, b := make([]int8, n), make([]int8, n)
	for i := range a {
		a[i], b[i] = int8(i*131), int8(i*7+i/256)
	}
	long, short := make([]int8, n), make([]int8, n)
	qa, qb, qc := Requant8{0.031, -3}, Requant8{0.017, 9}, Requant8{0.043, -20}
	for _, relu := range []bool{false, true} {
		AddRequant(long, a, b, qa, qb, qc, relu)
		for i := 0; i < n; i += 1000 {
			AddRequant(short[i:min(i+1000, n)], a[i:], b[i:], qa, qb, qc, relu)
		}
		for i := range long {
			if long[i] != short[i] {
				t.Fatalf("add relu=%v at %d: %d vs %d", relu, i, long[i], short[i])
			}
		}
		m := MulMultiplier(0.031, 0.017, 0.013)
		MulRequant(long, a, b, -3, 9, m, -20, relu)
		for i := 0; i < n; i += 1000 {
			MulRequant(short[i:min(i+1000, n)], a[i:], b[i:], -3, 9, m, -20, relu)
		}
		for i := range long {
			if long[i] != short[i] {
				t.Fatalf("mul relu=%v at %d: %d vs %d", relu, i, long[i], short[i])
			}
		}
	}
}
