package ops

import (
	"math"
	"testing"

	"github.com/qgorgonia/qgorgonia/qtensor"
)

func TestBinaryGolden(t *testing.T) {
	h4RunGolden(t, "binary", func(t *testing.T, c *h4GoldenCase) (*qtensor.QTensor, error) {
		s, z := c.num(t, "scale"), int64(c.num(t, "zero_point"))
		switch c.Op {
		case "add":
			return Add(c.Inputs[0].q(t), c.Inputs[1].q(t), s, z)
		case "add_relu":
			return AddReLU(c.Inputs[0].q(t), c.Inputs[1].q(t), s, z)
		case "mul":
			return Mul(c.Inputs[0].q(t), c.Inputs[1].q(t), s, z)
		case "mul_relu":
			return MulReLU(c.Inputs[0].q(t), c.Inputs[1].q(t), s, z)
		case "add_scalar":
			return AddScalar(c.Inputs[0].q(t), c.num(t, "other"))
		case "mul_scalar":
			return MulScalar(c.Inputs[0].q(t), c.num(t, "other"))
		case "cat":
			xs := make([]*qtensor.QTensor, len(c.Inputs))
			for i, in := range c.Inputs {
				xs[i] = in.q(t)
			}
			return Cat(xs, int(c.num(t, "dim")), s, z)
		}
		t.Fatalf("%s: unknown op %s", c.ID, c.Op)
		return nil, nil
	})
}

// TestBinaryNoteVectors checks the research note's §12 golden vectors
// (PyTorch 1.13.1).
func TestBinaryNoteVectors(t *testing.T) {
	a := h4MustQ(t, "quint8", []int{4}, []int64{40, 0, 157, 230}, 0.01, 30)
	b := h4MustQ(t, "quint8", []int{4}, []int64{62, 75, 10, 85}, 0.02, 60)
	y, err := Add(a, b, 0.03, 50)
	if err != nil {
		t.Fatal(err)
	}
	h4CheckInts(t, "add", y, []int64{55, 50, 59, 133})
	y, _ = AddReLU(a, b, 0.03, 50)
	h4CheckInts(t, "add_relu", y, []int64{55, 50, 59, 133})
	y, _ = Mul(a, b, 0.005, 100)
	h4CheckInts(t, "mul", y, []int64{101, 82, 0, 255})
	y, _ = Cat([]*qtensor.QTensor{a, b}, 0, 0.02, 40)
	h4CheckInts(t, "cat", y, []int64{45, 25, 104, 140, 42, 55, 0, 65})

	x := h4MustQ(t, "quint8", []int{3}, []int64{0, 120, 255}, 0.02, 120)
	y, _ = AddScalar(x, 0.37)
	if qp := y.QParams(); qp.Scale() != 0.02 || qp.ZeroPoint() != 102 {
		t.Fatalf("add_scalar 0.37 qparams %v", qp)
	}
	h4CheckInts(t, "add_scalar 0.37", y, []int64{0, 120, 255})
	y, _ = AddScalar(x, 5)
	if qp := y.QParams(); math.Abs(qp.Scale()-0.030196078) > 1e-8 || qp.ZeroPoint() != 0 {
		t.Fatalf("add_scalar 5 qparams %v", qp)
	}
	y, _ = MulScalar(x, -2)
	if qp := y.QParams(); qp.Scale() != 0.04 || qp.ZeroPoint() != 135 {
		t.Fatalf("mul_scalar -2 qparams %v", qp)
	}
	h4CheckInts(t, "mul_scalar -2", y, []int64{255, 135, 0})
	y, _ = MulScalar(x, 0)
	if qp := y.QParams(); qp.Scale() != 1 || qp.ZeroPoint() != 0 {
		t.Fatalf("mul_scalar 0 qparams %v", qp)
	}
	h4CheckInts(t, "mul_scalar 0", y, []int64{0, 0, 0})
}

func TestBinaryBroadcastAndVariants(t *testing.T) {
	a := h4MustQ(t, "qint8", []int{2, 1}, []int64{10, -10}, 0.1, 0)
	b := h4MustQ(t, "qint8", []int{3}, []int64{1, 2, 3}, 0.1, 0)
	y, err := Add(a, b, 0.1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !h4EqualInts([]int(y.Shape()), []int{2, 3}) {
		t.Fatalf("shape %v", y.Shape())
	}
	h4CheckInts(t, "broadcast add", y, []int64{11, 12, 13, -9, -8, -7})
	y, _ = MulReLU(a, b, 0.1, 0) // 1.0·0.1 = 0.1 → 1; −1.0·0.1 → −1 → relu 0
	h4CheckInts(t, "mul_relu", y, []int64{1, 2, 3, 0, 0, 0})
	y, _ = CatKeepQParams([]*qtensor.QTensor{b, h4MustQ(t, "qint8", []int{1}, []int64{7}, 0.2, 1)}, -1)
	h4CheckInts(t, "cat keep", y, []int64{1, 2, 3, 12})
	empty := h4MustQ(t, "qint8", []int{0}, nil, 0.1, 0)
	y, err = Cat([]*qtensor.QTensor{empty, b, empty}, 0, 0.1, 0)
	if err != nil {
		t.Fatal(err)
	}
	h4CheckInts(t, "cat skips empty", y, []int64{1, 2, 3})
	y, _ = CatReLU([]*qtensor.QTensor{a, a}, 1, 0.1, 0)
	h4CheckInts(t, "cat_relu", y, []int64{10, 10, 0, 0})
	y, _ = AddScalarReLU(b, -0.2) // zp shifts to 2, codes ≤ 2 clamp
	h4CheckInts(t, "add_scalar_relu", y, []int64{2, 2, 3})
	y, _ = MulScalarReLU(b, -1)
	h4CheckInts(t, "mul_scalar_relu", y, []int64{-1, -1, -1}) // −0.1·k < 0 → zero point
	if qp := y.QParams(); qp.ZeroPoint() != -1 {
		t.Fatalf("mul_scalar_relu zp %v", qp)
	}
}

func TestBinaryErrors(t *testing.T) {
	u := h4MustQ(t, "quint8", []int{3}, []int64{1, 2, 3}, 0.1, 0)
	s := h4MustQ(t, "qint8", []int{3}, []int64{1, 2, 3}, 0.1, 0)
	u4 := h4MustQ(t, "quint8", []int{4}, []int64{1, 2, 3, 4}, 0.1, 0)
	m := h4MustQ(t, "quint8", []int{2, 2}, []int64{1, 2, 3, 4}, 0.1, 0)
	cases := map[string]func() (*qtensor.QTensor, error){
		"add dtypes":      func() (*qtensor.QTensor, error) { return Add(u, s, 0.1, 0) },
		"add shapes":      func() (*qtensor.QTensor, error) { return Add(u, u4, 0.1, 0) },
		"mul scale":       func() (*qtensor.QTensor, error) { return Mul(u, u, 0, 0) },
		"mul zp":          func() (*qtensor.QTensor, error) { return Mul(s, s, 0.1, 128) },
		"add_scalar nan":  func() (*qtensor.QTensor, error) { return AddScalar(u, math.NaN()) },
		"mul_scalar inf":  func() (*qtensor.QTensor, error) { return MulScalar(u, math.Inf(1)) },
		"cat none":        func() (*qtensor.QTensor, error) { return Cat(nil, 0, 0.1, 0) },
		"cat dtypes":      func() (*qtensor.QTensor, error) { return Cat([]*qtensor.QTensor{u, s}, 0, 0.1, 0) },
		"cat sizes":       func() (*qtensor.QTensor, error) { return Cat([]*qtensor.QTensor{m, u4}, 0, 0.1, 0) },
		"cat dim":         func() (*qtensor.QTensor, error) { return Cat([]*qtensor.QTensor{m, m}, 2, 0.1, 0) },
		"cat rank":        func() (*qtensor.QTensor, error) { return Cat([]*qtensor.QTensor{m, u}, 0, 0.1, 0) },
		"cat nil":         func() (*qtensor.QTensor, error) { return Cat([]*qtensor.QTensor{u, nil}, 0, 0.1, 0) },
		"cat keep none":   func() (*qtensor.QTensor, error) { return CatKeepQParams(nil, 0) },
		"add nil operand": func() (*qtensor.QTensor, error) { return AddReLU(u, nil, 0.1, 0) },
		"mul_scalar huge": func() (*qtensor.QTensor, error) { return MulScalar(u, 1e300) },
		"mul_scalar neg":  func() (*qtensor.QTensor, error) { return MulScalar(u, -1e300) },
		"add_scalar huge": func() (*qtensor.QTensor, error) { return AddScalar(u, 1e300) },
	}
	for name, f := range cases {
		if _, err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	h4CheckInts(t, "input untouched", u, []int64{1, 2, 3})
}
