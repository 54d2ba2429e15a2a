package nodes

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func modDense(r *rand.Rand, scale float32, shape ...int) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64()) * scale
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

// modRun quantizes x with qp on a graph, applies m and returns the
// module's quantized output (or float output, as the second result).
func modRun(t *testing.T, m nn.Module, x *tensor.Dense, qp *qdtype.QParams) (*qtensor.QTensor, *tensor.Dense) {
	t.Helper()
	g := gorgonia.NewGraph()
	in := gorgonia.NewTensor(g, tensor.Float32, x.Dims(), gorgonia.WithShape(x.Shape().Clone()...), gorgonia.WithName("x"))
	if err := gorgonia.Let(in, x); err != nil {
		t.Fatal(err)
	}
	node := in
	var err error
	if qp != nil {
		if node, err = Quantize(in, *qp); err != nil {
			t.Fatal(err)
		}
	}
	y, err := nn.Call(m, node)
	if err != nil {
		t.Fatalf("%s: %v", m.TypeName(), err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatalf("%s: %v", m.TypeName(), err)
	}
	if y.Dtype() == tensor.Float32 {
		return nil, y.Value().(*tensor.Dense).Clone().(*tensor.Dense)
	}
	q, err := Value(y)
	if err != nil {
		t.Fatal(err)
	}
	return q, nil
}

func modSame(t *testing.T, name string, got, want *qtensor.QTensor, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: reference: %v", name, err)
	}
	if !got.Equal(want) {
		t.Fatalf("%s: module output differs from the ops function", name)
	}
}

func modSameFloat(t *testing.T, name string, got, want *tensor.Dense, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: reference: %v", name, err)
	}
	a, b := got.Float32s(), want.Float32s()
	if len(a) != len(b) {
		t.Fatalf("%s: %d values, want %d", name, len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("%s: element %d: %v, want %v", name, i, a[i], b[i])
		}
	}
}

// TestModulesMatchOps checks every quantized module against the ops
// function it wraps, bit for bit.
func TestModulesMatchOps(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	inQP := qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.03, 120)
	x4 := modDense(r, 1, 2, 4, 6, 6)
	q4, err := qtensor.Quantize(x4, inQP)
	if err != nil {
		t.Fatal(err)
	}

	// Conv2d / ConvReLU2d from a float conv with a per-channel observer.
	conv, _ := nn.NewConv2d(4, 3, []int{3}, nn.Padding(1), nn.WithSeed(2))
	for _, relu := range []bool{false, true} {
		obs, _ := observer.DefaultPerChannelWeightObserver()
		m, err := QuantizedConvFromFloat(conv, obs, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.05, 60), relu)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := modRun(t, m, x4, &inQP)
		f := ops.Conv2d
		if relu {
			f = ops.Conv2dReLU
		}
		want, err := f(q4, m.Packed, 0.05, 60)
		modSame(t, m.TypeName(), got, want, err)
	}

	// ConvTranspose2d (per-tensor weights).
	convT, _ := nn.NewConvTranspose2d(4, 2, []int{3}, nn.Stride(2), nn.Padding(1), nn.OutputPadding(1), nn.WithSeed(5))
	{
		obs, _ := observer.DefaultWeightObserver()
		m, err := QuantizedConvFromFloat(convT, obs, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.05, 60), false)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := modRun(t, m, x4, &inQP)
		want, err := ops.ConvTranspose2d(q4, m.Packed, 0.05, 60)
		modSame(t, m.TypeName(), got, want, err)
	}

	// Linear / LinearReLU on (…, In).
	lin, _ := nn.NewLinear(6, 5, nn.WithSeed(3))
	x3 := modDense(r, 1, 2, 3, 6)
	q3, _ := qtensor.Quantize(x3, inQP)
	for _, relu := range []bool{false, true} {
		obs, _ := observer.DefaultWeightObserver()
		m, err := QuantizedLinearFromFloat(lin, obs, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.04, 70), relu)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := modRun(t, m, x3, &inQP)
		f := ops.Linear
		if relu {
			f = ops.LinearReLU
		}
		want, err := f(q3, m.Packed, 0.04, 70)
		modSame(t, m.TypeName(), got, want, err)
	}

	// Activations.
	for _, c := range []struct {
		f   nn.Module
		ref func() (*qtensor.QTensor, error)
	}{
		{nn.NewReLU6(), func() (*qtensor.QTensor, error) { return ops.ReLU6(q4) }},
		{nn.NewHardswish(), func() (*qtensor.QTensor, error) { return ops.Hardswish(q4, 0.02, 10) }},
		{nn.NewELU(0.7), func() (*qtensor.QTensor, error) { return ops.ELU(q4, 0.02, 10, float64(float32(0.7))) }},
		{nn.NewLeakyReLU(0.1), func() (*qtensor.QTensor, error) { return ops.LeakyReLUQ(q4, float64(float32(0.1)), 0.02, 10) }},
	} {
		m, err := QuantizedActivationFromFloat(c.f, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.02, 10))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := modRun(t, m, x4, &inQP)
		want, err := c.ref()
		modSame(t, m.TypeName(), got, want, err)
	}

	// Norms.
	bn, _ := nn.NewBatchNorm2d(4)
	copy(bn.RunningMean.Data.Float32s(), []float32{0.1, -0.2, 0.3, 0})
	copy(bn.Weight.Data.Float32s(), []float32{1.5, 0.5, 1, 2})
	ln, _ := nn.NewLayerNorm(6, 6)
	gn, _ := nn.NewGroupNorm(2, 4)
	in2, _ := nn.NewInstanceNorm2d(4, true)
	outQP := qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.03, 100)
	f32 := func(p *nn.Parameter) []float32 { return p.Data.Float32s() }
	for _, c := range []struct {
		f   nn.Module
		ref func() (*qtensor.QTensor, error)
	}{
		{bn, func() (*qtensor.QTensor, error) {
			return ops.BatchNorm2d(q4, f32(bn.Weight), f32(bn.Bias), f32(bn.RunningMean), f32(bn.RunningVar), bn.Eps, 0.03, 100)
		}},
		{ln, func() (*qtensor.QTensor, error) {
			return ops.LayerNorm(q4, []int{6, 6}, f32(ln.Weight), f32(ln.Bias), ln.Eps, 0.03, 100)
		}},
		{gn, func() (*qtensor.QTensor, error) {
			return ops.GroupNorm(q4, 2, f32(gn.Weight), f32(gn.Bias), gn.Eps, 0.03, 100)
		}},
		{in2, func() (*qtensor.QTensor, error) {
			return ops.InstanceNorm(q4, f32(in2.Weight), f32(in2.Bias), in2.Eps, 0.03, 100)
		}},
	} {
		m, err := QuantizedNormFromFloat(c.f, outQP)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := modRun(t, m, x4, &inQP)
		want, err := c.ref()
		modSame(t, m.TypeName(), got, want, err)
	}

	// Passthroughs on quantized input, and on float input (the float module).
	pool, _ := nn.NewMaxPool2d([]int{2})
	avg, _ := nn.NewAvgPool2d([]int{2})
	for _, c := range []struct {
		f   nn.Module
		ref func() (*qtensor.QTensor, error)
	}{
		{nn.NewReLU(), func() (*qtensor.QTensor, error) { return ops.ReLU(q4) }},
		{pool, func() (*qtensor.QTensor, error) { return ops.MaxPool2d(q4, []int{2}, nil, nil, nil, false) }},
		{avg, func() (*qtensor.QTensor, error) { return ops.AvgPool2d(q4, []int{2}, nil, nil, false, true, 0) }},
		{nn.NewFlatten(), func() (*qtensor.QTensor, error) { return q4.Reshape(2, 144) }},
		{nn.NewIdentity(), func() (*qtensor.QTensor, error) { return q4, nil }},
	} {
		m, err := NewPassthrough(c.f)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := modRun(t, m, x4, &inQP)
		want, err := c.ref()
		modSame(t, m.TypeName(), got, want, err)
		_, gotF := modRun(t, m, x4, nil)
		_, wantF := modRun(t, c.f, x4, nil)
		modSameFloat(t, m.TypeName()+" on float", gotF, wantF, nil)
	}

	// Quantize / DeQuantize.
	qm, err := NewQuantizeModule(0.03, 120, qdtype.QUInt8Dtype)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := modRun(t, qm, x4, nil)
	modSame(t, "Quantize", got, q4, nil)
	_, deq := modRun(t, NewDequantizeModule(), x4, &inQP)
	wantDeq, err := q4.Dequantize()
	modSameFloat(t, "DeQuantize", deq, wantDeq, err)

	// Dynamic linear (qint8 and float16).
	obs, _ := observer.DefaultWeightObserver()
	dl, err := DynamicQuantizedLinearFromFloat(lin, obs, false)
	if err != nil {
		t.Fatal(err)
	}
	_, gotD := modRun(t, dl, x3, nil)
	wantD, err := ops.LinearDynamic(x3, dl.Packed, true)
	modSameFloat(t, "DynamicQuantizedLinear", gotD, wantD, err)
	ph, _ := observer.NewPlaceholderObserver(observer.WithDtype(observer.Float16))
	dh, err := DynamicQuantizedLinearFromFloat(lin, ph, false)
	if err != nil {
		t.Fatal(err)
	}
	p16, _ := ops.PrepackLinearFP16(lin.Weight.Data, lin.Bias.Data)
	_, gotH := modRun(t, dh, x3, nil)
	wantH, err := ops.LinearDynamicFP16(x3, p16)
	modSameFloat(t, "DynamicQuantizedLinear fp16", gotH, wantH, err)

	// Dynamic LSTM and cells.
	lstm, _ := nn.NewLSTM(6, 5, 2, false, nn.WithSeed(4))
	dq, err := DynamicQuantizedLSTMFromFloat(lstm, observer.DefaultWeightObserver)
	if err != nil {
		t.Fatal(err)
	}
	xs := modDense(r, 1, 4, 2, 6)
	_, gotL := modRun(t, dq, xs, nil)
	wantL, _, _, err := ops.LSTM(xs, nil, nil, dq.Params)
	modSameFloat(t, "DynamicQuantizedLSTM", gotL, wantL, err)
	x2 := modDense(r, 1, 3, 6)
	for _, mk := range []func() (nn.Module, error){
		func() (nn.Module, error) { return nn.NewLSTMCell(6, 5, nn.WithSeed(5)) },
		func() (nn.Module, error) { return nn.NewGRUCell(6, 5, nn.WithSeed(6)) },
		func() (nn.Module, error) { return nn.NewRNNCell(6, 5, "relu", nn.WithSeed(7)) },
	} {
		f, _ := mk()
		c, err := DynamicQuantizedCellFromFloat(f, observer.DefaultPerChannelWeightObserver)
		if err != nil {
			t.Fatal(err)
		}
		_, got := modRun(t, c, x2, nil)
		var want *tensor.Dense
		switch c.Kind {
		case "LSTMCell":
			want, _, err = ops.LSTMCell(x2, nil, nil, c.Params)
		case "GRUCell":
			want, err = ops.GRUCell(x2, nil, c.Params)
		default:
			want, err = ops.RNNReLUCell(x2, nil, c.Params)
		}
		modSameFloat(t, c.TypeName(), got, want, err)
	}
}

func TestModuleErrors(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	lin, _ := nn.NewLinear(6, 5)
	obs, _ := observer.DefaultWeightObserver()
	m, err := QuantizedLinearFromFloat(lin, obs, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.1, 0), false)
	if err != nil {
		t.Fatal(err)
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 2, gorgonia.WithShape(2, 6), gorgonia.WithValue(modDense(r, 1, 2, 6)))
	if _, err := m.Forward(x); err == nil || !strings.Contains(err.Error(), "QuantStub") {
		t.Fatalf("float input to a quantized module: %v", err)
	}
	if _, err := NewQuantizeModule(0, 0, qdtype.QUInt8Dtype); err == nil {
		t.Fatal("scale 0 accepted")
	}
	if _, err := NewQuantizeModule(1, 300, qdtype.QUInt8Dtype); err == nil {
		t.Fatal("zero point 300 accepted for quint8")
	}
	if _, err := NewPassthrough(lin); err == nil {
		t.Fatal("Linear accepted as a passthrough")
	}
	if _, err := NewQuantizedActivation("Softplus", 0, 1, 0); err == nil {
		t.Fatal("unknown activation accepted")
	}
	bn, _ := nn.NewBatchNorm1d(3)
	if _, err := QuantizedNormFromFloat(bn, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.1, 0)); err == nil {
		t.Fatal("BatchNorm1d accepted")
	}
}

// QuantizeWeight clamps into a narrow observer range (_clamp_weights).
func TestQuantizeWeightClamps(t *testing.T) {
	w := tensor.New(tensor.WithShape(4), tensor.WithBacking([]float32{-1, -0.5, 0.5, 1}))
	o, _ := observer.WeightObserverRangeNeg127To127()
	q, err := QuantizeWeight(w, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range q.Ints() {
		if v < -127 || v > 127 {
			t.Fatalf("element %d = %d outside −127…127", i, v)
		}
	}
	qp := qdtype.MustPerTensor(qdtype.QInt8Dtype, 1.0/128, 0)
	q, err = QuantizeWeightWithQParams(w, qp, -127, 127)
	if err != nil {
		t.Fatal(err)
	}
	if q.Int(0) != -127 || q.Int(3) != 127 {
		t.Fatalf("clamped ends: %v", q.Ints())
	}
}

// QFunctional's methods equal ops.Add, Mul, AddReLU, Cat, AddScalar and
// MulScalar bit for bit.
func TestQFunctionalMatchesOps(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	qa := qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.02, 100)
	qb := qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.03, 90)
	a, b := modDense(r, 1, 2, 3, 4), modDense(r, 1, 2, 3, 4)
	ta, _ := qtensor.Quantize(a, qa)
	tb, _ := qtensor.Quantize(b, qb)
	f, err := NewQFunctional(0.04, 110)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		build func(x, y *gorgonia.Node) (*gorgonia.Node, error)
		ref   func() (*qtensor.QTensor, error)
	}{
		{"add", f.Add, func() (*qtensor.QTensor, error) { return ops.Add(ta, tb, 0.04, 110) }},
		{"mul", f.Mul, func() (*qtensor.QTensor, error) { return ops.Mul(ta, tb, 0.04, 110) }},
		{"add_relu", f.AddReLU, func() (*qtensor.QTensor, error) { return ops.AddReLU(ta, tb, 0.04, 110) }},
		{"cat", func(x, y *gorgonia.Node) (*gorgonia.Node, error) { return f.Cat([]*gorgonia.Node{x, y}, 1) },
			func() (*qtensor.QTensor, error) { return ops.Cat([]*qtensor.QTensor{ta, tb}, 1, 0.04, 110) }},
		{"add_scalar", func(x, _ *gorgonia.Node) (*gorgonia.Node, error) { return f.AddScalar(x, 0.5) },
			func() (*qtensor.QTensor, error) { return ops.AddScalar(ta, float64(float32(0.5))) }},
		{"mul_scalar", func(x, _ *gorgonia.Node) (*gorgonia.Node, error) { return f.MulScalar(x, -1.5) },
			func() (*qtensor.QTensor, error) { return ops.MulScalar(ta, float64(float32(-1.5))) }},
	} {
		g := gorgonia.NewGraph()
		xa := gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(2, 3, 4), gorgonia.WithValue(a), gorgonia.WithName("a"))
		xb := gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(2, 3, 4), gorgonia.WithValue(b), gorgonia.WithName("b"))
		na, err := Quantize(xa, qa)
		if err != nil {
			t.Fatal(err)
		}
		nb, err := Quantize(xb, qb)
		if err != nil {
			t.Fatal(err)
		}
		y, err := c.build(na, nb)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		vm := gorgonia.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := Value(y)
		vm.Close()
		if err != nil {
			t.Fatal(err)
		}
		want, err := c.ref()
		modSame(t, "QFunctional."+c.name, got, want, err)
	}
}
