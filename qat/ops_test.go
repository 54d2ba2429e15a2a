package qat

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func vec32(v ...float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(v))
}

// The ops return errors, never panic, on inputs that break their contract.
func TestOpsRejectBadInputs(t *testing.T) {
	x := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6}))
	f64 := tensor.New(tensor.WithShape(3), tensor.WithBacking([]float64{1, 2, 3}))
	for name, f := range map[string]func() error{
		"chan wrong length": func() error { _, err := (chanOp{chanMul, 1, 2}).Do(x, vec32(1, 2)); return err },
		"chan arity":        func() error { _, err := (chanOp{chanMul, 1, 2}).Do(x); return err },
		"chan float64":      func() error { _, err := (chanOp{chanDiv, 1, 2}).Do(x, f64); return err },
		"chan grad shapes":  func() error { _, err := (chanGradOp{chanDiv, 0, 2}).Do(x, x, vec32(1, 2, 3)); return err },
		"vdiv lengths":      func() error { _, err := (vdivOp{}).Do(vec32(1, 2), vec32(1)); return err },
		"std arity":         func() error { _, err := (stdOp{1e-5}).Do(); return err },
		"std not dense":     func() error { _, err := (stdOp{1e-5}).Do(gorgonia.NewF32(1)); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	g := gorgonia.NewGraph()
	xn := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 3))
	vn := gorgonia.NewVector(g, tensor.Float32, gorgonia.WithShape(2))
	if _, err := channel(xn, vn, chanAdd, 1); err == nil {
		t.Error("channel: operand length mismatch accepted")
	}
	if _, err := channel(xn, vn, chanAdd, 2); err == nil {
		t.Error("channel: axis out of range accepted")
	}
	if _, err := scaleFactor(vn, xn, 1e-5); err == nil {
		t.Error("scaleFactor: shape mismatch accepted")
	}
}

// The forward math is float32 in PyTorch's order: x / (γ / sqrt(var + eps)).
func TestChannelMath(t *testing.T) {
	x := tensor.New(tensor.WithShape(1, 2, 2), tensor.WithBacking([]float32{1, 2, 3, 4}))
	y, err := (chanOp{chanDiv, 1, 3}).Do(x, vec32(2, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0.5, 1, 6, 8}
	for i, v := range y.(*tensor.Dense).Float32s() {
		if v != want[i] {
			t.Fatalf("div = %v, want %v", y.(*tensor.Dense).Float32s(), want)
		}
	}
	s, err := (stdOp{0.25}).Do(vec32(3.75, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.(*tensor.Dense).Float32s(); got[0] != 2 || got[1] != 0.5 {
		t.Fatalf("running_std = %v, want [2 0.5]", got)
	}
	dv := chanGradV([]float32{1, 1, 1, 1}, []float32{1, 2, 3, 4}, []float32{2, 0.5}, tensor.Shape{1, 2, 2}, 1, chanDiv)
	if dv[0] != -0.75 || dv[1] != -28 {
		t.Fatalf("d(x/v)/dv = %v, want [-0.75 -28]", dv)
	}
}
