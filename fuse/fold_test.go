package fuse

import (
	"fmt"
	"math"
	"testing"

	"gorgonia.org/tensor"
)

// Vectors from PyTorch 1.13 (torch.nn.utils.fusion, float32 inputs drawn
// with torch.Generator().manual_seed(7)).
var (
	convW = []float32{-1.6402690410614014, 0.7912623286247253, 1.7978169918060303, -2.7768077850341797, -0.33399203419685364, 0.5702999234199524, -1.282183051109314, -1.7873108386993408, -1.6978172063827515, -2.433858871459961, -0.16204316914081573, 2.7229702472686768, -2.606433391571045, 0.17495675384998322, -2.7699227333068848, 1.0071277618408203, -1.733403205871582, -1.1280133724212646, -4.112925052642822, -0.7134450674057007, 2.1911609172821045, 0.9647083282470703, 2.7978367805480957, 2.8117058277130127}
	convB = []float32{3.558310031890869, -1.8358614444732666}
	rm    = []float32{-0.9156377911567688, -1.4489465951919556}
	rv    = []float32{0.8368624448776245, 0.13311049342155457}
	bnW   = []float32{-0.58034747838974, -4.844018459320068}
	bnB   = []float32{0.583035409450531, -0.926547646522522}
)

func vec(v []float32, shape ...int) *tensor.Dense {
	if len(shape) == 0 {
		shape = []int{len(v)}
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float32(nil), v...)))
}

func check(t *testing.T, what string, got *tensor.Dense, want []float32) {
	t.Helper()
	g := got.Float32s()
	if len(g) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(g), len(want))
	}
	var maxW float64
	for _, w := range want {
		maxW = math.Max(maxW, math.Abs(float64(w)))
	}
	for i, w := range want {
		// FUSION rule of the conformance suite; in practice these match exactly.
		if d := math.Abs(float64(g[i] - w)); d > 1e-5*math.Abs(float64(w))+1e-6*maxW {
			t.Errorf("%s[%d] = %v, want %v", what, i, g[i], w)
		}
	}
}

func TestFuseConvBNWeightsPyTorch(t *testing.T) {
	w, b, err := FuseConvBNWeights(vec(convW, 2, 3, 2, 2), vec(convB), vec(rm), vec(rv), 1e-5, vec(bnW), vec(bnB), false)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "w", w, []float32{1.0405755043029785, -0.501971423625946, -1.140522837638855, 1.7615878582000732, 0.21188226342201233, -0.3617943823337555, 0.8134081363677979, 1.1338577270507812, 1.0770835876464844, 1.5440233945846558, 0.10279908031225204, -1.727433681488037, 34.60429382324219, -2.322812080383301, 36.77485656738281, -13.371124267578125, 23.013513565063477, 14.97606086730957, 54.60521697998047, 9.472047805786133, -29.090930938720703, -12.807942390441895, -37.14545822143555, -37.32958984375})
	check(t, "b", b, []float32{-2.25520658493042, 4.210324764251709})
	if fmt.Sprint(w.Shape()) != "(2, 3, 2, 2)" || fmt.Sprint(b.Shape()) != "(2)" {
		t.Fatalf("shapes %v %v", w.Shape(), b.Shape())
	}

	// nil bias, bn weight and bn bias take PyTorch's defaults 0, 1, 0.
	w, b, err = FuseConvBNWeights(vec(convW, 2, 3, 2, 2), nil, vec(rm), vec(rv), 1e-3, nil, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "w default", w, []float32{-1.7919617891311646, 0.8644385933876038, 1.9640798568725586, -3.0336081981658936, -0.3648797571659088, 0.6230415105819702, -1.4007599353790283, -1.9526021480560303, -1.8548320531845093, -2.6589431762695312, -0.17702898383140564, 2.9747917652130127, -7.117299556732178, 0.47774848341941833, -7.56373405456543, 2.7501296997070312, -4.7333455085754395, -3.080227851867676, -11.231025695800781, -1.9481803178787231, 5.983328819274902, 2.634296417236328, 7.639958381652832, 7.677829742431641})
	check(t, "b default", b, []float32{1.0003163814544678, 3.956589460372925})

	// ConvTranspose weights (C_in, C_out, k) scale along dim 1.
	wt := []float32{2.375156879425049, -0.6440741419792175, 2.440450668334961, 1.5176537036895752, -0.3713758885860443, -1.7969061136245728, 1.2190245389938354, 0.4479577839374542, 3.029437303543091, 1.223886489868164, -1.2150672674179077, 1.706892490386963}
	w, b, err = FuseConvBNWeights(vec(wt, 3, 2, 2), vec(convB), vec(rm), vec(rv), 1e-5, vec(bnW), vec(bnB), true)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "w transpose", w, []float32{-1.5067832469940186, 0.4085962176322937, -32.4006233215332, -20.14911651611328, 0.23559832572937012, 1.1399449110031128, -16.184370040893555, -5.94730806350708, -1.9218542575836182, -0.7764251828193665, 16.1318302154541, -22.661544799804688})
	check(t, "b transpose", b, []float32{-2.25520658493042, 4.210324764251709})
}

func TestFuseLinearBNWeightsPyTorch(t *testing.T) {
	lw := []float32{1.5107394456863403, -1.1021143198013306, -1.406307339668274, 0.1865217387676239, 1.6314327716827393, 3.241908550262451}
	in := vec(lw, 2, 3)
	w, b, err := FuseLinearBNWeights(in, nil, vec(rm), vec(rv), 1e-5, vec(bnW), vec(bnB))
	if err != nil {
		t.Fatal(err)
	}
	check(t, "w", w, []float32{-0.9584027528762817, 0.6991738080978394, 0.8921517729759216, -2.4763543605804443, -21.659704208374023, -43.04117202758789})
	check(t, "b", b, []float32{0.002161085605621338, -20.163476943969727})
	check(t, "input untouched", in, lw)
}

func TestFoldErrors(t *testing.T) {
	w := vec(convW, 2, 3, 2, 2)
	for name, f := range map[string]func() error{
		"channels": func() error {
			_, _, err := FuseConvBNWeights(w, nil, vec([]float32{0, 0, 0}), vec([]float32{1, 1, 1}), 1e-5, nil, nil, false)
			return err
		},
		"transpose channels": func() error {
			_, _, err := FuseConvBNWeights(w, nil, vec(rm), vec(rv), 1e-5, nil, nil, true)
			return err
		},
		"var length": func() error {
			_, _, err := FuseConvBNWeights(w, nil, vec(rm), vec([]float32{1}), 1e-5, nil, nil, false)
			return err
		},
		"nil weight": func() error {
			_, _, err := FuseConvBNWeights(nil, nil, vec(rm), vec(rv), 1e-5, nil, nil, false)
			return err
		},
		"float64": func() error {
			_, _, err := FuseConvBNWeights(tensor.New(tensor.WithShape(2, 1), tensor.WithBacking([]float64{1, 2})), nil, vec(rm), vec(rv), 1e-5, nil, nil, false)
			return err
		},
		"NaN eps": func() error {
			_, _, err := FuseConvBNWeights(w, nil, vec(rm), vec(rv), math.NaN(), nil, nil, false)
			return err
		},
		"linear rank": func() error {
			_, _, err := FuseLinearBNWeights(w, nil, vec(rm), vec(rv), 1e-5, nil, nil)
			return err
		},
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func ExampleFuseConvBNWeights() {
	// A 1x1 convolution with 2 output channels followed by batch norm.
	w := tensor.New(tensor.WithShape(2, 1, 1, 1), tensor.WithBacking([]float32{2, 3}))
	mean := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{1, -1}))
	variance := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{4, 0.25}))
	fw, fb, err := FuseConvBNWeights(w, nil, mean, variance, 0, nil, nil, false)
	if err != nil {
		panic(err)
	}
	fmt.Println(fw.Float32s(), fb.Float32s())
	// Output: [1 6] [-0.5 2]
}
