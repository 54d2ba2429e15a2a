package ops

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

// Golden cases from PyTorch 1.13 (scripts/golden_ops_h4.py writes
// testdata/h4_<family>.jsonl in the conformance case format). Every output
// must match bit for bit.

type h4GoldenTensor struct {
	Dtype     string    `json:"dtype"`
	Shape     []int     `json:"shape"`
	Data      []float64 `json:"data"`
	Scale     *float64  `json:"scale"`
	ZeroPoint *int64    `json:"zero_point"`
}

type h4GoldenCase struct {
	ID     string                     `json:"id"`
	Op     string                     `json:"op"`
	Attrs  map[string]json.RawMessage `json:"attrs"`
	Inputs []*h4GoldenTensor          `json:"inputs"`
	Expect []*h4GoldenTensor          `json:"expect"`
}

func (g *h4GoldenTensor) q(t *testing.T) *qtensor.QTensor {
	t.Helper()
	dt, err := qdtype.ParseDtype(g.Dtype)
	if err != nil {
		t.Fatal(err)
	}
	ints := make([]int64, len(g.Data))
	for i, v := range g.Data {
		ints[i] = int64(v)
	}
	x, err := qtensor.FromInts(g.Shape, ints, qdtype.MustPerTensor(dt, *g.Scale, *g.ZeroPoint))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func (g *h4GoldenTensor) f32() []float32 {
	if g == nil {
		return nil
	}
	r := make([]float32, len(g.Data))
	for i, v := range g.Data {
		r[i] = float32(v)
	}
	return r
}

func (c *h4GoldenCase) attr(t *testing.T, k string, dst interface{}) bool {
	t.Helper()
	v, ok := c.Attrs[k]
	if !ok || string(v) == "null" {
		return false
	}
	if err := json.Unmarshal(v, dst); err != nil {
		t.Fatalf("%s: attr %s: %v", c.ID, k, err)
	}
	return true
}

func (c *h4GoldenCase) num(t *testing.T, k string) float64 {
	var v float64
	c.attr(t, k, &v)
	return v
}

// intsAttr reads an int or a list of ints.
func (c *h4GoldenCase) intsAttr(t *testing.T, k string) []int {
	var one int
	if v, ok := c.Attrs[k]; ok && json.Unmarshal(v, &one) == nil {
		return []int{one}
	}
	var list []int
	c.attr(t, k, &list)
	return list
}

// h4RunGolden runs every case of testdata/h4_<family>.jsonl through run and
// checks the output's dtype, shape, qparams and codes exactly.
func h4RunGolden(t *testing.T, family string, run func(t *testing.T, c *h4GoldenCase) (*qtensor.QTensor, error)) {
	f, err := os.Open(filepath.Join("testdata", "h4_"+family+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	n := 0
	for sc.Scan() {
		var c h4GoldenCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		n++
		got, err := run(t, &c)
		if err != nil {
			t.Errorf("%s: %v", c.ID, err)
			continue
		}
		want := c.Expect[0]
		if qdtype.Name(got.Dtype()) != want.Dtype || !h4EqualInts([]int(got.Shape()), want.Shape) {
			t.Errorf("%s: got %s %v, want %s %v", c.ID, qdtype.Name(got.Dtype()), got.Shape(), want.Dtype, want.Shape)
			continue
		}
		qp := got.QParams()
		if qp.ZeroPoint() != *want.ZeroPoint || math.Abs(qp.Scale()-*want.Scale) > 1e-6**want.Scale {
			t.Errorf("%s: qparams (%v, %d), want (%v, %d)", c.ID, qp.Scale(), qp.ZeroPoint(), *want.Scale, *want.ZeroPoint)
			continue
		}
		bad := 0
		for i, v := range got.Ints() {
			if float64(v) != want.Data[i] {
				if bad == 0 {
					t.Errorf("%s: code %d is %d, want %v", c.ID, i, v, want.Data[i])
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d codes differ", c.ID, bad, len(want.Data))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no golden cases")
	}
}

func h4EqualInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestActivationGolden(t *testing.T) {
	h4RunGolden(t, "activation", func(t *testing.T, c *h4GoldenCase) (*qtensor.QTensor, error) {
		x := c.Inputs[0].q(t)
		switch c.Op {
		case "relu":
			return ReLU(x)
		case "relu6":
			return ReLU6(x)
		case "hardtanh":
			return Hardtanh(x, c.num(t, "min_val"), c.num(t, "max_val"))
		case "elu":
			return ELU(x, c.num(t, "scale"), int64(c.num(t, "zero_point")), c.num(t, "alpha"))
		case "leaky_relu":
			if _, ok := c.Attrs["scale"]; ok {
				return LeakyReLUQ(x, c.num(t, "negative_slope"), c.num(t, "scale"), int64(c.num(t, "zero_point")))
			}
			return LeakyReLU(x, c.num(t, "negative_slope"))
		case "hardsigmoid":
			return Hardsigmoid(x)
		case "hardswish":
			return Hardswish(x, c.num(t, "scale"), int64(c.num(t, "zero_point")))
		case "sigmoid":
			return Sigmoid(x)
		case "tanh":
			return Tanh(x)
		}
		t.Fatalf("%s: unknown op %s", c.ID, c.Op)
		return nil, nil
	})
}

func h4MustQ(t *testing.T, dt string, shape []int, ints []int64, scale float64, zp int64) *qtensor.QTensor {
	t.Helper()
	d, err := qdtype.ParseDtype(dt)
	if err != nil {
		t.Fatal(err)
	}
	x, err := qtensor.FromInts(shape, ints, qdtype.MustPerTensor(d, scale, zp))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func h4CheckInts(t *testing.T, name string, got *qtensor.QTensor, want []int64) {
	t.Helper()
	g := got.Ints()
	if len(g) != len(want) {
		t.Fatalf("%s: %d codes, want %d", name, len(g), len(want))
	}
	for i := range g {
		if g[i] != want[i] {
			t.Fatalf("%s: codes %v, want %v", name, g, want)
		}
	}
}

func TestActivationHandValues(t *testing.T) {
	// scale 0.5, zp 10: codes 0, 8, 10, 12, 30 are −5, −1, 0, 1, 10.
	x := h4MustQ(t, "quint8", []int{5}, []int64{0, 8, 10, 12, 30}, 0.5, 10)
	y, err := ReLU(x)
	if err != nil {
		t.Fatal(err)
	}
	h4CheckInts(t, "relu", y, []int64{10, 10, 10, 12, 30})
	y, _ = ReLU6(x) // 6 → code 22
	h4CheckInts(t, "relu6", y, []int64{10, 10, 10, 12, 22})
	y, _ = Hardtanh(x, -1, 2.25) // −1 → 8, 2.25/0.5 = 4.5 → rne 4 → 14
	h4CheckInts(t, "hardtanh", y, []int64{8, 8, 10, 12, 14})
	y, _ = LeakyReLU(x, 0.25) // −5·0.25 = −1.25 → −2.5 → rne −2 → 8; −0.25 → −0.5 → 0 → 10
	h4CheckInts(t, "leaky_relu", y, []int64{8, 10, 10, 12, 30})
	y, _ = Sigmoid(x)
	qp := y.QParams()
	if qp.Scale() != 1.0/256 || qp.ZeroPoint() != 0 {
		t.Fatalf("sigmoid qparams %v", qp)
	}
	// sigmoid(0) = 0.5 → 128; sigmoid(10) ≈ 0.99995 → 256 → saturates 255.
	if y.Int(2) != 128 || y.Int(4) != 255 {
		t.Fatalf("sigmoid codes %v", y.Ints())
	}
	y, _ = Tanh(h4MustQ(t, "qint8", []int{3}, []int64{-128, 0, 127}, 0.1, 0))
	if qp := y.QParams(); qp.Scale() != 2.0/256 || qp.ZeroPoint() != 0 {
		t.Fatalf("tanh qparams %v", qp)
	}
	h4CheckInts(t, "tanh", y, []int64{-128, 0, 127})
	y, _ = Hardsigmoid(h4MustQ(t, "qint8", []int{3}, []int64{-60, 0, 60}, 0.1, 0))
	// hardsigmoid(−6) = 0 → −128; (0) = 0.5 → 0; (6) = 1 → 128 → 127.
	h4CheckInts(t, "hardsigmoid", y, []int64{-128, 0, 127})
	y, _ = Hardswish(x, 0.25, 0) // x=1: 1·4/6 = 0.666 → 2.67 → 3; x=10 → 40
	h4CheckInts(t, "hardswish", y, []int64{0, 0, 0, 3, 40})
	y, _ = ELU(x, 0.5, 20, 1) // −5 → e^−5 − 1 = −0.9933 → −1.99 → −2 → 18
	h4CheckInts(t, "elu", y, []int64{18, 19, 20, 22, 40})
}

// TestActivationProperties checks, over every code of both dtypes, that
// relu is idempotent and that the monotone activations give monotone
// tables.
func TestActivationProperties(t *testing.T) {
	for _, dt := range []string{"quint8", "qint8"} {
		lo, hi := int64(0), int64(255)
		if dt == "qint8" {
			lo, hi = -128, 127
		}
		var all []int64
		for v := lo; v <= hi; v++ {
			all = append(all, v)
		}
		x := h4MustQ(t, dt, []int{len(all)}, all, 0.043, lo+77)
		r1, _ := ReLU(x)
		r2, _ := ReLU(r1)
		h4CheckInts(t, dt+" relu idempotent", r2, r1.Ints())
		for name, f := range map[string]func(*qtensor.QTensor) (*qtensor.QTensor, error){
			"sigmoid": Sigmoid, "tanh": Tanh, "hardsigmoid": Hardsigmoid, "relu6": ReLU6,
			"leaky_relu": func(x *qtensor.QTensor) (*qtensor.QTensor, error) { return LeakyReLU(x, 0.1) },
			"elu":        func(x *qtensor.QTensor) (*qtensor.QTensor, error) { return ELU(x, 0.02, 0, 1.5) },
		} {
			y, err := f(x)
			if err != nil {
				t.Fatal(err)
			}
			c := y.Ints()
			for i := 1; i < len(c); i++ {
				if c[i] < c[i-1] {
					t.Fatalf("%s %s: not monotone at code %d: %d < %d", dt, name, all[i], c[i], c[i-1])
				}
			}
		}
	}
}

func TestActivationErrors(t *testing.T) {
	x := h4MustQ(t, "quint8", []int{2}, []int64{1, 2}, 0.1, 0)
	pc, err := qtensor.FromInts([]int{2}, []int64{1, 2}, func() qdtype.QParams {
		qp, _ := qdtype.PerChannel(qdtype.QInt8Dtype, []float64{0.1, 0.2}, []int64{0, 0}, 0)
		return qp
	}())
	if err != nil {
		t.Fatal(err)
	}
	i32 := h4MustQ(t, "qint32", []int{2}, []int64{1, 2}, 0.1, 0)
	cases := map[string]func() (*qtensor.QTensor, error){
		"nil":            func() (*qtensor.QTensor, error) { return ReLU(nil) },
		"per-channel":    func() (*qtensor.QTensor, error) { return Sigmoid(pc) },
		"qint32":         func() (*qtensor.QTensor, error) { return Tanh(i32) },
		"nan bound":      func() (*qtensor.QTensor, error) { return Hardtanh(x, math.NaN(), 1) },
		"scale 0":        func() (*qtensor.QTensor, error) { return ELU(x, 0, 0, 1) },
		"zp range":       func() (*qtensor.QTensor, error) { return Hardswish(x, 0.1, 300) },
		"nan slope":      func() (*qtensor.QTensor, error) { return LeakyReLU(x, math.NaN()) },
		"nan alpha":      func() (*qtensor.QTensor, error) { return ELU(x, 0.1, 0, math.NaN()) },
		"nil map":        func() (*qtensor.QTensor, error) { return MapFloat(x, 0.1, 0, nil) },
		"negative scale": func() (*qtensor.QTensor, error) { return LeakyReLUQ(x, 0.1, -1, 0) },
	}
	for name, f := range cases {
		if _, err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := ReLUInPlace(pc); err == nil {
		t.Error("relu_ on per-channel: no error")
	}
	h4CheckInts(t, "input untouched", x, []int64{1, 2})
}

func TestReLUInPlace(t *testing.T) {
	x := h4MustQ(t, "qint8", []int{4}, []int64{-5, 3, 4, 100}, 0.1, 4)
	if err := ReLUInPlace(x); err != nil {
		t.Fatal(err)
	}
	h4CheckInts(t, "relu_", x, []int64{4, 4, 4, 100})
}

func TestMapFloat(t *testing.T) {
	x := h4MustQ(t, "quint8", []int{3}, []int64{0, 10, 20}, 0.1, 10)
	y, err := MapFloat(x, 0.1, 0, func(v float32) float32 { return v * v })
	if err != nil {
		t.Fatal(err)
	}
	h4CheckInts(t, "square", y, []int64{10, 0, 10})
}
