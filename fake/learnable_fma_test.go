package fake

import (
	"math"
	"testing"

	"gorgonia.org/tensor"
)

// TestFMA32 checks the fused multiply-add against exact cases and a case
// where a separate product rounding gives another float32.
func TestFMA32(t *testing.T) {
	// 1 + 2⁻²³ squared is 1 + 2⁻²² + 2⁻⁴⁶; minus (1 + 2⁻²²) leaves 2⁻⁴⁶, which a
	// float32 product (rounded to 1 + 2⁻²²) would lose.
	a := float32(1 + math.Pow(2, -23))
	if got, want := fma32(a, a, -float32(1+math.Pow(2, -22))), float32(math.Pow(2, -46)); got != want {
		t.Errorf("fma32 cancellation: got %g, want %g", got, want)
	}
	if got := fma32(3, 4, 5); got != 17 {
		t.Errorf("fma32(3, 4, 5) = %g", got)
	}
	if got := fma32(float32(math.Inf(1)), 2, 1); !math.IsInf(float64(got), 1) {
		t.Errorf("fma32(+Inf, 2, 1) = %g", got)
	}
	// No double rounding: (1 + 2⁻²³)(1 − 2⁻²³) + (2²⁴ + 2) is 2²⁴ + 3 − 2⁻⁴⁶,
	// just below a float32 tie; a float64 sum rounds it onto the tie, which
	// would then round to even (2²⁴ + 4).
	if got := fma32(float32(1+math.Pow(2, -23)), float32(1-math.Pow(2, -23)), 1<<24+2); got != 1<<24+2 {
		t.Errorf("fma32 near a tie: got %.1f, want %d", got, 1<<24+2)
	}
}

// TestLearnableBackwardFMA pins the learnable fake-quant gradients to
// PyTorch 1.13 on single-element channels, where PyTorch's fused
// multiply-adds (q = rne(fma(x, 1/s, zp)), x̂ − x = fma(q − zp, s, −x)) are
// visible: a separate float32 rounding moves grad_scale by up to 2e-5
// relative (held-out case fake_quantize_learnable_per_channel_affine/h7) or
// moves q across a tie.
func TestLearnableBackwardFMA(t *testing.T) {
	// per tensor, x on a rounding tie: {x, scale, zero_point, grad_scale, grad_x}
	for _, c := range [][5]float32{
		{-4.3837690353393555, 0.06218111887574196, 118.0, -0.4999975264072418, 1.0},
		{-6.630328178405762, 0.08781891316175461, 121.0, -0.4999973177909851, 1.0},
		{-11.254048347473145, 0.11425429582595825, 110.0, -0.49999818205833435, 1.0},
	} {
		x := tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{c[0]}))
		dy := tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{1}))
		g, err := FakeQuantizeLearnablePerTensorAffineBackward(dy, x, c[1], c[2], 0, 255, 1)
		if err != nil {
			t.Fatal(err)
		}
		if g.Scale[0] != c[3] || g.X.Data().([]float32)[0] != c[4] {
			t.Errorf("x=%v: grad_scale %v grad_x %v, want %v %v", c[0], g.Scale[0], g.X.Data().([]float32)[0], c[3], c[4])
		}
	}
	// per channel, x (1, 6), axis 1, grad_factor 0.25
	x := tensor.New(tensor.WithShape(1, 6), tensor.WithBacking([]float32{1.830644130706787, -4.346813201904297, 2.4038760662078857, -1.7508994340896606, -0.3673659563064575, -0.6544568538665771}))
	dy := tensor.New(tensor.WithShape(1, 6), tensor.WithBacking([]float32{1.39982271194458, -1.5454118251800537, 0.5581348538398743, -0.11604489386081696, -0.9618496298789978, -0.42585429549217224}))
	scales := []float32{0.09756327420473099, 0.022221576422452927, 0.1810264140367508, 0.033596236258745193, 0.19445843994617462, 0.09086238592863083}
	zps := []float32{199, 201, 217, 164, 95, 182}
	want := []float32{0.0827084332704544, 0.1497972458600998, -0.03895018994808197, -0.0033635622821748257, 0.02664932981133461, -0.021582916378974915}
	g, err := FakeQuantizeLearnablePerChannelAffineBackward(dy, x, scales, zps, 1, 0, 255, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if g.Scale[i] != want[i] || g.ZeroPoint[i] != 0 {
			t.Errorf("channel %d: grad_scale %v grad_zero_point %v, want %v 0", i, g.Scale[i], g.ZeroPoint[i], want[i])
		}
	}
}
