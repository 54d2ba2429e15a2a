package nodes

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// noPanic runs f and turns a panic into a test failure.
func noPanic(t *testing.T, what string, f func() error) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s panicked: %v", what, r)
		}
	}()
	return f()
}

func wantErr(t *testing.T, what string, err error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Fatalf("%s: error %q does not mention %q", what, err, substr)
	}
	if !strings.HasPrefix(err.Error(), "nodes: ") {
		t.Fatalf("%s: error %q lacks the package prefix", what, err)
	}
}

func TestBuildTimeErrors(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	g := gorgonia.NewGraph()
	xf := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(1, 3, 5, 5), gorgonia.WithName("xf"))
	xraw := gorgonia.NewTensor(g, qdtype.QUInt8Dtype, 4, gorgonia.WithShape(1, 3, 5, 5), gorgonia.WithName("xraw"))
	x8 := gorgonia.NewTensor(g, qdtype.QInt8Dtype, 2, gorgonia.WithShape(2, 6), gorgonia.WithName("x8"))
	qp := mustQP(qdtype.QUInt8Dtype, 0.1, 10)
	xq, err := Quantize(xf, qp)
	if err != nil {
		t.Fatal(err)
	}
	x8q, err := AttachQParams(x8, mustQP(qdtype.QInt8Dtype, 0.1, 0))
	if err != nil {
		t.Fatal(err)
	}
	w, b := linearWeights(t, r, 4, 6, false)
	cw := randQ(t, r, mustQP(qdtype.QInt8Dtype, 0.02, 0), 4, 2, 3, 3)
	pc3, _ := qdtype.PerChannel(qdtype.QUInt8Dtype, []float64{1, 1, 1}, []int64{0, 0, 0}, 1)
	xpc, err := Quantize(xf, pc3)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		what, substr string
		f            func() (*gorgonia.Node, error)
	}{
		{"quantize quantized", "want float32", func() (*gorgonia.Node, error) { return Quantize(xq, qp) }},
		{"quantize bad qparams", "scale", func() (*gorgonia.Node, error) {
			return Quantize(xf, qdtype.QParams{Dtype: qdtype.QUInt8Dtype, Scales: []float64{-1}, ZeroPoints: []int64{0}})
		}},
		{"quantize per-channel length", "scales", func() (*gorgonia.Node, error) {
			pc, _ := qdtype.PerChannel(qdtype.QInt8Dtype, []float64{1, 1}, []int64{0, 0}, 1)
			return Quantize(xf, pc)
		}},
		{"dequantize float", "want a quantized dtype", func() (*gorgonia.Node, error) { return Dequantize(xf) }},
		{"dequantize raw input", "AttachQParams", func() (*gorgonia.Node, error) { return Dequantize(xraw) }},
		{"attach wrong dtype", "qparams are for", func() (*gorgonia.Node, error) { return AttachQParams(xraw, mustQP(qdtype.QInt8Dtype, 1, 0)) }},
		{"nil node", "nil node", func() (*gorgonia.Node, error) { return QReLU(nil) }},
		{"relu float", "want quint8 or qint8", func() (*gorgonia.Node, error) { return QReLU(xf) }},
		{"relu per-channel", "per-tensor", func() (*gorgonia.Node, error) { return QReLU(xpc) }},
		{"hardtanh NaN", "NaN", func() (*gorgonia.Node, error) { return QHardtanh(xq, math.NaN(), 1) }},
		{"elu bad scale", "scale", func() (*gorgonia.Node, error) { return QELU(xq, 0, 0, 1) }},
		{"linear float input", "want quint8", func() (*gorgonia.Node, error) { return QLinear(xf, w, b, 0.1, 0) }},
		{"linear qint8 input", "want quint8", func() (*gorgonia.Node, error) { return QLinear(x8q, w, b, 0.1, 0) }},
		{"linear K mismatch", "features", func() (*gorgonia.Node, error) { return QLinear(xq, w, b, 0.1, 0) }},
		{"linear zero point", "zero point", func() (*gorgonia.Node, error) {
			x, _ := QReshape(xq, 25, 3)
			w3, b3 := linearWeights(t, r, 2, 3, false)
			return QLinear(x, w3, b3, 0.1, 300)
		}},
		{"linear nil weight", "nil weight", func() (*gorgonia.Node, error) { return QLinear(xq, nil, nil, 0.1, 0) }},
		{"conv channels", "channel", func() (*gorgonia.Node, error) { return QConv2d(xq, cw, nil, ops.ConvOptions{}, 0.1, 0) }},
		{"conv rank", "want (N, C", func() (*gorgonia.Node, error) {
			x, _ := QReshape(xq, 3, 25)
			return QConv2d(x, cw, nil, ops.ConvOptions{}, 0.1, 0)
		}},
		{"conv kind", "unknown convolution kind", func() (*gorgonia.Node, error) { return QConvPacked(ConvKind(99), xq, nil, 0.1, 0) }},
		{"reshape size", "invalid for input of size", func() (*gorgonia.Node, error) { return QReshape(xq, 4, -1) }},
		{"reshape two -1", "more than one -1", func() (*gorgonia.Node, error) { return QReshape(xq, -1, -1) }},
		{"flatten dims", "out of range", func() (*gorgonia.Node, error) { return QFlatten(xq, 0, 4) }},
		{"flatten per-channel", "per-channel", func() (*gorgonia.Node, error) { return QFlatten(xpc, 1, -1) }},
	}
	for _, c := range cases {
		var n *gorgonia.Node
		err := noPanic(t, c.what, func() error {
			var err error
			n, err = c.f()
			return err
		})
		if n != nil {
			t.Fatalf("%s: got a node with the error %v", c.what, err)
		}
		wantErr(t, c.what, err, c.substr)
	}
	// A built op applied by hand to a float node fails Gorgonia's type
	// inference: Type() uses concrete dtypes.
	relu, err := QReLU(xq)
	if err != nil {
		t.Fatal(err)
	}
	op, err := OpOf(relu)
	if err != nil {
		t.Fatal(err)
	}
	err = noPanic(t, "ApplyOp", func() error { _, err := gorgonia.ApplyOp(op, xf); return err })
	if err == nil {
		t.Fatal("ApplyOp of a QReLU op to a float32 node type-checked")
	}
	if _, err := OpOf(xf); err == nil {
		t.Fatal("OpOf of an input node: no error")
	}
	if _, err := QParamsOf(xf); err == nil {
		t.Fatal("QParamsOf of a float node: no error")
	}
	deq, _ := Dequantize(xq)
	if _, err := QParamsOf(deq); err == nil {
		t.Fatal("QParamsOf of a Dequantize node: no error")
	}
}

func TestGradThroughQuantizedNodeIsAnError(t *testing.T) {
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 3), gorgonia.WithName("x"), gorgonia.WithInit(gorgonia.Zeroes()))
	w := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 3), gorgonia.WithName("w"), gorgonia.WithInit(gorgonia.Zeroes()))
	xw := gorgonia.Must(gorgonia.HadamardProd(x, w))
	q, err := Quantize(xw, mustQP(qdtype.QUInt8Dtype, 0.1, 128))
	if err != nil {
		t.Fatal(err)
	}
	r, err := QReLU(q)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Dequantize(r)
	if err != nil {
		t.Fatal(err)
	}
	cost := gorgonia.Must(gorgonia.Sum(d))
	err = noPanic(t, "Grad", func() error { _, err := gorgonia.Grad(cost, w); return err })
	if err == nil {
		t.Fatal("Grad through a quantized node returned no error")
	}
	op, _ := OpOf(r)
	if _, err := op.SymDiff(gorgonia.Nodes{q}, r, r); err == nil || !strings.Contains(err.Error(), "not differentiable") {
		t.Fatalf("SymDiff: %v", err)
	}
	if got := op.DiffWRT(1); len(got) != 1 || got[0] {
		t.Fatalf("DiffWRT(1) = %v", got)
	}
}

// notDense is a gorgonia.Value that is not a *tensor.Dense.
type notDense struct{ *tensor.Dense }

func TestBadValuesAtRunTimeAreErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 3), gorgonia.WithName("x"))
	q, err := Quantize(x, mustQP(qdtype.QUInt8Dtype, 0.1, 128))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Dequantize(q)
	if err != nil {
		t.Fatal(err)
	}
	_ = d
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()

	// A wrong dtype is refused by Let itself.
	bad := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking(make([]float64, 6)))
	if err := noPanic(t, "Let", func() error { return gorgonia.Let(x, bad) }); err == nil {
		t.Fatal("Let of a float64 value into a float32 input: no error")
	}
	// A Value that passes Let's checks but is not a *tensor.Dense.
	nd := notDense{tensor.New(tensor.WithShape(2, 3), tensor.WithBacking(make([]float32, 6)))}
	if err := gorgonia.Let(x, nd); err != nil {
		t.Fatal(err)
	}
	err = noPanic(t, "RunAll", m.RunAll)
	if err == nil || !strings.Contains(err.Error(), "want a *tensor.Dense") {
		t.Fatalf("RunAll with a non-Dense value: %v", err)
	}
	m.Reset()
	// NaN cannot be quantized.
	nan := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{0, 1, float32(math.NaN()), 3, 4, 5}))
	if err := gorgonia.Let(x, nan); err != nil {
		t.Fatal(err)
	}
	err = noPanic(t, "RunAll", m.RunAll)
	if err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("RunAll with NaN: %v", err)
	}
	m.Reset()
	// A good value then runs.
	good := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{0, 1, 2, 3, 4, 5}))
	if err := gorgonia.Let(x, good); err != nil {
		t.Fatal(err)
	}
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	if got := d.Value().Data().([]float32); fmt.Sprint(got) != "[0 1 2 3 4 5]" {
		t.Fatalf("dequantized %v", got)
	}
}

func TestLispMachineQuantizedRootIsAnError(t *testing.T) {
	// The LispMachine writes err.dot into the working directory on errors.
	t.Chdir(t.TempDir())
	g := gorgonia.NewGraph()
	x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 3), gorgonia.WithName("x"), gorgonia.WithInit(gorgonia.Zeroes()))
	if _, err := Quantize(x, mustQP(qdtype.QUInt8Dtype, 0.1, 128)); err != nil {
		t.Fatal(err)
	}
	m := gorgonia.NewLispMachine(g, gorgonia.ExecuteFwdOnly())
	defer m.Close()
	if err := noPanic(t, "RunAll", m.RunAll); err == nil {
		t.Fatal("LispMachine with a quantized root: no error (Gorgonia cannot make its dual value)")
	}
}

func TestDoAndUsePreallocDo(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	g := gorgonia.NewGraph()
	xq := randQ(t, r, mustQP(qdtype.QUInt8Dtype, 0.05, 100), 3, 4)
	xn, err := qinput(g, "x", xq)
	if err != nil {
		t.Fatal(err)
	}
	w, b := linearWeights(t, r, 5, 4, true)
	y, err := QLinear(xn, w, b, 0.2, 50)
	if err != nil {
		t.Fatal(err)
	}
	op, err := OpOf(y)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ops.LinearWithWeights(xq, w, b, 0.2, 50)
	if err != nil {
		t.Fatal(err)
	}
	in := xq.Dense().Clone().(*tensor.Dense)
	inCopy := in.Clone().(*tensor.Dense)
	v, err := op.Do(in)
	if err != nil {
		t.Fatal(err)
	}
	if !denseEq(v.(*tensor.Dense), want.Dense()) || !denseEq(in, inCopy) {
		t.Fatal("Do differs from ops.Linear or modified its input")
	}
	// A strided view input is materialized.
	big := qtensor.MustNewDense(qdtype.QUInt8Dtype, []int{3, 8})
	for i := 0; i < 3; i++ {
		copy(big.Uint8s()[i*8:i*8+4], xq.Dense().Uint8s()[i*4:i*4+4])
	}
	view, err := big.Slice(nil, gorgonia.S(0, 4))
	if err != nil {
		t.Fatal(err)
	}
	v, err = op.Do(view)
	if err != nil {
		t.Fatal(err)
	}
	if !denseEq(v.(*tensor.Dense), want.Dense()) {
		t.Fatal("Do on a view differs")
	}
	// Bad inputs to Do.
	for _, c := range []struct {
		what   string
		inputs []gorgonia.Value
		substr string
	}{
		{"arity", []gorgonia.Value{in, in}, "2 inputs, want 1"},
		{"non-Dense", []gorgonia.Value{notDense{in}}, "want a *tensor.Dense"},
		{"scalar", []gorgonia.Value{gorgonia.NewF32(1)}, "want a *tensor.Dense"},
		{"nil", []gorgonia.Value{nil}, "want a *tensor.Dense"},
		{"dtype", []gorgonia.Value{qtensor.MustNewDense(qdtype.QInt8Dtype, []int{3, 4})}, "dtype qint8, want quint8"},
		{"shape", []gorgonia.Value{qtensor.MustNewDense(qdtype.QUInt8Dtype, []int{4, 4})}, "shape (4, 4), want (3, 4)"},
		{"float", []gorgonia.Value{tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(3, 4))}, "dtype float32"},
	} {
		var v gorgonia.Value
		err := noPanic(t, c.what, func() error { var err error; v, err = op.Do(c.inputs...); return err })
		if v != nil {
			t.Fatalf("%s: value with error", c.what)
		}
		wantErr(t, "Do "+c.what, err, c.substr)
	}
	// UsePreallocDo writes into a valid prealloc and returns it.
	pre := qtensor.MustNewDense(qdtype.QUInt8Dtype, []int{3, 5})
	v, err = op.UsePreallocDo(pre, in)
	if err != nil {
		t.Fatal(err)
	}
	if v.(*tensor.Dense) != pre || !denseEq(pre, want.Dense()) {
		t.Fatal("UsePreallocDo did not fill the prealloc with the ops result")
	}
	// Invalid preallocs are errors and stay untouched.
	sentinel := func(dt tensor.Dtype, shape ...int) *tensor.Dense {
		d := zeroDense(dt, shape)
		for i := range d.Uint8s() {
			d.Uint8s()[i] = 0xA5
		}
		return d
	}
	bigOut := sentinel(qdtype.QUInt8Dtype, 3, 10)
	outView, _ := bigOut.Slice(nil, gorgonia.S(0, 5))
	for _, c := range []struct {
		what   string
		pre    gorgonia.Value
		inputs []gorgonia.Value
		substr string
	}{
		{"non-Dense", gorgonia.NewF32(0), []gorgonia.Value{in}, "want *tensor.Dense"},
		{"dtype", sentinel(qdtype.QInt8Dtype, 3, 5), []gorgonia.Value{in}, "dtype qint8, want quint8"},
		{"shape", sentinel(qdtype.QUInt8Dtype, 5, 3), []gorgonia.Value{in}, "shape (5, 3), want (3, 5)"},
		{"view", outView, []gorgonia.Value{in}, "view"},
		{"bad input", sentinel(qdtype.QUInt8Dtype, 3, 5), []gorgonia.Value{qtensor.MustNewDense(qdtype.QUInt8Dtype, []int{4, 4})}, "shape (4, 4)"},
	} {
		err := noPanic(t, c.what, func() error { _, err := op.UsePreallocDo(c.pre, c.inputs...); return err })
		wantErr(t, "UsePreallocDo "+c.what, err, c.substr)
		if d, ok := c.pre.(*tensor.Dense); ok {
			for _, b := range d.Uint8s() {
				if b != 0xA5 {
					t.Fatalf("UsePreallocDo %s: prealloc modified", c.what)
				}
			}
		}
	}
	// A prealloc that shares memory with an input (what the tape hands an
	// op that overwrites its input) is refused.
	relu, err := QReLU(xn)
	if err != nil {
		t.Fatal(err)
	}
	rop, _ := OpOf(relu)
	shared := xq.Dense().Clone().(*tensor.Dense)
	err = noPanic(t, "alias", func() error { _, err := rop.UsePreallocDo(shared, shared); return err })
	wantErr(t, "UsePreallocDo alias", err, "shares memory with input 0")
}

func TestRecoveredPanic(t *testing.T) {
	qp := mustQP(qdtype.QUInt8Dtype, 1, 0)
	o := &Op{name: "Boom", ins: []port{{dt: qdtype.QUInt8Dtype, shape: tensor.Shape{2}, quant: true, qp: qp}},
		out: port{dt: qdtype.QUInt8Dtype, shape: tensor.Shape{2}, quant: true, qp: qp},
		fn:  func([]operand) (operand, error) { panic("index out of range") }}
	_, err := o.Do(qtensor.MustNewDense(qdtype.QUInt8Dtype, []int{2}))
	wantErr(t, "panicking op", err, "(recovered panic): index out of range")
}

func TestHashes(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	g := gorgonia.NewGraph()
	xq := randQ(t, r, mustQP(qdtype.QUInt8Dtype, 0.05, 100), 3, 4)
	xn, err := qinput(g, "x", xq)
	if err != nil {
		t.Fatal(err)
	}
	w1, b1 := linearWeights(t, r, 5, 4, false)
	w2, b2 := linearWeights(t, r, 5, 4, false)
	l1, _ := QLinear(xn, w1, b1, 0.2, 50)
	l2, _ := QLinear(xn, w2, b2, 0.2, 50)
	l3, _ := QLinear(xn, w1, b1, 0.2, 50)
	if l1 == l2 || l1 == l3 || l1.Hashcode() == l2.Hashcode() {
		t.Fatal("two QLinear nodes on the same input were merged")
	}
	// Stateless ops with equal parameters on the same input compute the
	// same function and may be merged by Gorgonia; different parameters
	// must not be.
	a, _ := QHardtanh(xn, 0, 1)
	b, _ := QHardtanh(xn, 0, 1)
	c, _ := QHardtanh(xn, 0, 2)
	if a != b {
		t.Fatal("identical QHardtanh nodes were not merged")
	}
	if a == c {
		t.Fatal("QHardtanh nodes with different bounds were merged")
	}
	q1, _ := Dequantize(l1)
	q2, _ := Dequantize(l2)
	if q1 == q2 {
		t.Fatal("Dequantize of two different nodes were merged")
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	v1, _ := Value(l1)
	v2, _ := Value(l2)
	w1l, _ := ops.LinearWithWeights(xq, w1, b1, 0.2, 50)
	w2l, _ := ops.LinearWithWeights(xq, w2, b2, 0.2, 50)
	if !denseEq(v1.Dense(), w1l.Dense()) || !denseEq(v2.Dense(), w2l.Dense()) {
		t.Fatal("QLinear values differ from ops")
	}
}

func TestValueCopies(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	g := gorgonia.NewGraph()
	xq := randQ(t, r, mustQP(qdtype.QInt8Dtype, 0.05, 3), 2, 5)
	xn, err := qinput(g, "x", xq)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Value(xn); err == nil {
		t.Fatal("Value before RunAll: no error")
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	v, err := Value(xn)
	if err != nil {
		t.Fatal(err)
	}
	if !denseEq(v.Dense(), xq.Dense()) || !v.QParams().Equal(xq.QParams()) {
		t.Fatal("Value differs from the input")
	}
	if overlaps(v.Dense(), xn.Value().(*tensor.Dense)) {
		t.Fatal("Value shares memory with the node's register")
	}
	raw := g.ByName("x")
	if len(raw) != 1 {
		t.Fatalf("%d nodes named x", len(raw))
	}
	if overlaps(xn.Value().(*tensor.Dense), raw[0].Value().(*tensor.Dense)) {
		t.Fatal("AttachQParams output aliases its input")
	}
}
