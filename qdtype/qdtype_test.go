package qdtype

import (
	"math"
	"testing"

	"gorgonia.org/tensor"
)

func TestDtypesAreDistinct(t *testing.T) {
	if QUInt8Dtype == tensor.Uint8 || QInt8Dtype == tensor.Int8 || QInt32Dtype == tensor.Int32 {
		t.Fatal("quantized dtypes must differ from their storage dtypes")
	}
	d := tensor.New(tensor.Of(QUInt8Dtype), tensor.WithShape(2, 2))
	if d.Dtype() != QUInt8Dtype || len(d.Uint8s()) != 4 {
		t.Fatalf("dense of QUInt8: dtype %v, %d bytes", d.Dtype(), len(d.Uint8s()))
	}
	for _, name := range []string{"quint8", "qint8", "qint32"} {
		dt, err := ParseDtype(name)
		if err != nil || Name(dt) != name {
			t.Fatalf("ParseDtype(%q) = %v, %v", name, dt, err)
		}
	}
	if _, err := ParseDtype("float32"); err == nil {
		t.Fatal("ParseDtype(float32) should fail")
	}
	if got := Name(tensor.Dtype{}); got != "<no dtype>" {
		t.Fatalf("Name(zero Dtype) = %q", got)
	}
}

func TestQuantizeValueGolden(t *testing.T) {
	// pytorch-semantics.md §12: quantize_per_tensor(..., 1.0, 0, qint8).
	in := []float32{0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 127.5, 128.5, -128.5, 300, -300}
	want := []int64{0, 2, 2, 0, -2, -2, 127, 127, -128, 127, -128}
	for i, x := range in {
		if got := QuantizeValue(x, InvScale(1), 0, -128, 127); got != want[i] {
			t.Errorf("quantize(%v) = %d, want %d", x, got, want[i])
		}
	}
	// zero point added after rounding: 0.5 with zp 1 gives 1, not 2.
	if got := QuantizeValue(0.5, InvScale(1), 1, 0, 255); got != 1 {
		t.Errorf("zp after rounding: got %d", got)
	}
	// the reciprocal multiply matters.
	if got := QuantizeValue(0.273939937, InvScale(0.00214854861), 0, 0, 255); got != 128 {
		t.Errorf("reciprocal multiply: got %d, want 128", got)
	}
	// Beyond the int64 range PyTorch (x86) yields qmin; ordinary large values saturate.
	if got := QuantizeValue(float32(math.Inf(1)), 1, 0, 0, 255); got != 0 {
		t.Errorf("+Inf: got %d", got)
	}
	if got := QuantizeValue(3.4e38, 1, 3, 0, 255); got != 0 {
		t.Errorf("3.4e38: got %d", got)
	}
	if got := QuantizeValue(1e6, 1, 3, 0, 255); got != 255 {
		t.Errorf("1e6: got %d", got)
	}
	if got := QuantizeValue(float32(math.Inf(-1)), 1, 3, 0, 255); got != 0 {
		t.Errorf("-Inf: got %d", got)
	}
	if got := DequantizeValue(130, 128, 0.5); got != 1 {
		t.Errorf("dequantize: got %v", got)
	}
}

func TestQParamsValidate(t *testing.T) {
	bad := []QParams{
		{Dtype: QUInt8Dtype, Scheme: PerTensorAffine, Scales: []float64{0}, ZeroPoints: []int64{0}},
		{Dtype: QUInt8Dtype, Scheme: PerTensorAffine, Scales: []float64{-1}, ZeroPoints: []int64{0}},
		{Dtype: QUInt8Dtype, Scheme: PerTensorAffine, Scales: []float64{math.NaN()}, ZeroPoints: []int64{0}},
		{Dtype: QUInt8Dtype, Scheme: PerTensorAffine, Scales: []float64{math.Inf(1)}, ZeroPoints: []int64{0}},
		{Dtype: QUInt8Dtype, Scheme: PerTensorAffine, Scales: []float64{1e-300}, ZeroPoints: []int64{0}},
		{Dtype: QUInt8Dtype, Scheme: PerTensorAffine, Scales: []float64{1}, ZeroPoints: []int64{256}},
		{Dtype: QInt8Dtype, Scheme: PerTensorAffine, Scales: []float64{1}, ZeroPoints: []int64{128}},
		{Dtype: QInt8Dtype, Scheme: PerChannelAffine, Scales: []float64{1, 1}, ZeroPoints: []int64{0}},
		{Dtype: QInt8Dtype, Scheme: PerChannelAffine, Scales: []float64{1}, ZeroPoints: []int64{0}, Axis: -1},
		{Dtype: tensor.Float32, Scheme: PerTensorAffine, Scales: []float64{1}, ZeroPoints: []int64{0}},
	}
	for i, qp := range bad {
		if err := qp.Validate(); err == nil {
			t.Errorf("case %d (%v): Validate accepted bad qparams", i, qp)
		}
	}
	qp, err := PerChannel(QInt8Dtype, []float64{1, 0.5}, []int64{0, 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := qp.ValidateFor([]int{3, 2}); err != nil {
		t.Error(err)
	}
	if err := qp.ValidateFor([]int{3, 3}); err == nil {
		t.Error("wrong channel count accepted")
	}
	if err := qp.ValidateFor([]int{3}); err == nil {
		t.Error("axis out of range accepted")
	}
}

func TestObserverRange(t *testing.T) {
	cases := []struct {
		dt         tensor.Dtype
		rr, custom bool
		lo, hi     int64
		qmin, qmax int64
	}{
		{QUInt8Dtype, false, false, 0, 0, 0, 255},
		{QUInt8Dtype, true, false, 0, 0, 0, 127},
		{QInt8Dtype, true, false, 0, 0, -64, 63},
		{QInt32Dtype, true, false, 0, 0, math.MinInt32, math.MaxInt32},
		{QInt8Dtype, true, true, -127, 127, -64, 63},
		{QUInt8Dtype, true, true, 0, 255, 0, 127},
	}
	for _, c := range cases {
		lo, hi, err := ObserverRange(c.dt, c.rr, c.custom, c.lo, c.hi)
		if err != nil || lo != c.qmin || hi != c.qmax {
			t.Errorf("%v rr=%v custom=%v [%d,%d]: got [%d,%d] %v", Name(c.dt), c.rr, c.custom, c.lo, c.hi, lo, hi, err)
		}
	}
	if _, _, err := ObserverRange(QUInt8Dtype, false, true, 1, 255); err == nil {
		t.Error("range without 0 accepted")
	}
}

func TestCalculateQParamsGolden(t *testing.T) {
	// pytorch-semantics.md §3.4, x = [-1, 2].
	cases := []struct {
		dt     tensor.Dtype
		scheme QScheme
		rr     bool
		scale  float32
		zp     int64
	}{
		{QUInt8Dtype, PerTensorAffine, false, 0.011764706, 85},
		{QUInt8Dtype, PerTensorAffine, true, 0.023622047, 42},
		{QUInt8Dtype, PerTensorSymmetric, false, 0.015686275, 128},
		{QInt8Dtype, PerTensorSymmetric, false, 0.015686275, 0},
		{QInt8Dtype, PerTensorSymmetric, true, 0.031496063, 0},
	}
	for _, c := range cases {
		qmin, qmax, _ := ObserverRange(c.dt, c.rr, false, 0, 0)
		s, z, _, err := CalculateQParams([]float32{-1}, []float32{2}, c.dt, c.scheme, qmin, qmax, false, Eps)
		if err != nil || math.Abs(float64(s[0]-c.scale)) > 1e-9 || z[0] != c.zp {
			t.Errorf("%v %v rr=%v: got (%v, %v) %v, want (%v, %v)", Name(c.dt), c.scheme, c.rr, s, z, err, c.scale, c.zp)
		}
	}
	s, z, _, _ := CalculateQParams([]float32{-0.7}, []float32{1.3}, QUInt8Dtype, PerTensorAffine, 0, 255, false, Eps)
	if math.Abs(float64(s[0]-0.007843138)) > 1e-9 || z[0] != 89 {
		t.Errorf("[-0.7,1.3]: got (%v, %v)", s, z)
	}
	s, z, _, _ = CalculateQParams([]float32{0}, []float32{0}, QUInt8Dtype, PerTensorAffine, 0, 255, false, Eps)
	if s[0] != Eps || z[0] != 0 {
		t.Errorf("zero range: got (%v, %v)", s, z)
	}
	s, z, _, _ = CalculateQParams([]float32{float32(math.Inf(1))}, []float32{float32(math.Inf(-1))}, QUInt8Dtype, PerTensorAffine, 0, 255, false, Eps)
	if s[0] != 1 || z[0] != 0 {
		t.Errorf("never observed: got (%v, %v)", s, z)
	}
	// zero point ties round half to even: [-0.25, 1.75] on [0, 4].
	_, z, _, _ = CalculateQParams([]float32{-0.25}, []float32{1.75}, QUInt8Dtype, PerTensorAffine, 0, 4, true, Eps)
	if z[0] != 0 {
		t.Errorf("tie: zp %v, want 0", z)
	}
	sf, _, fz, _ := CalculateQParams([]float32{-1, 0.5, 2}, []float32{2, 4, 2}, QUInt8Dtype, PerChannelAffineFloatQParams, 0, 255, false, Eps)
	wantS := []float32{0.011764706, 0.013725490, 1.0}
	wantZ := []float32{85.0, -36.428570, -2.0}
	for i := range wantS {
		if math.Abs(float64(sf[i]-wantS[i])) > 1e-8 || math.Abs(float64(fz[i]-wantZ[i])) > 1e-4 {
			t.Errorf("float qparams ch %d: (%v, %v)", i, sf[i], fz[i])
		}
	}
	if _, _, _, err := CalculateQParams([]float32{float32(math.NaN())}, []float32{1}, QUInt8Dtype, PerTensorAffine, 0, 255, false, Eps); err == nil {
		t.Error("NaN accepted")
	}
}

func TestChooseQuantizationParamsGolden(t *testing.T) {
	cases := []struct {
		min, max float32
		rr       bool
		scale    float64
		zp       int64
	}{
		{0, 0, false, 0.1, 0},
		{1e-7, 2e-7, false, float64(SmallScaleThreshold), 0},
		{1, 3, false, 3.0 / 255, 0},
		{-3, -1, false, 3.0 / 255, 255},
		{-1, 2, false, 3.0 / 255, 85},
	}
	for _, c := range cases {
		s, z, err := ChooseQuantizationParams(c.min, c.max, 0, 255, false, c.rr)
		if err != nil || math.Abs(s-c.scale) > 1e-12 || z != c.zp {
			t.Errorf("[%v,%v]: got (%v, %v) %v, want (%v, %v)", c.min, c.max, s, z, err, c.scale, c.zp)
		}
	}
	if _, _, err := ChooseQuantizationParams(2, 1, 0, 255, false, false); err == nil {
		t.Error("min > max accepted")
	}
}

func TestChooseQuantizationParamsSymmetric(t *testing.T) {
	// qint8 symmetric weight with min < 0 < max: scale = max(|min|/128, max/127), zp 0
	// ((qmin+qmax)/2 = -0.5 rounds half to even to -0, i.e. 0).
	s, z, err := ChooseQuantizationParams(-1, 2, -128, 127, true, false)
	if err != nil || z != 0 {
		t.Fatalf("got (%v, %v) %v", s, z, err)
	}
	ms := float32(2) / 127
	if exp := (float64(ms*127) - float64(ms*-128)) / 255; s != exp {
		t.Errorf("scale %v, want %v", s, exp)
	}
	// quint8 symmetric: zp (0+255)/2 = 127.5 rounds to 128.
	if _, z, _ := ChooseQuantizationParams(-1, 2, 0, 255, true, false); z != 128 {
		t.Errorf("quint8 symmetric zp %d, want 128", z)
	}
}
