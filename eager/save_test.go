package eager

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

func roundTrip(t testing.TB, m nn.Module) nn.Module {
	t.Helper()
	var buf bytes.Buffer
	must(t, Save(&buf, m))
	l, err := Load(&buf)
	must(t, err)
	var again bytes.Buffer
	must(t, Save(&again, l))
	var first bytes.Buffer
	must(t, Save(&first, m))
	if !bytes.Equal(first.Bytes(), again.Bytes()) {
		t.Fatalf("save(load(save(m))) differs from save(m)")
	}
	return l
}

func equalDense(t testing.TB, what string, a, b *tensor.Dense) {
	t.Helper()
	if !a.Shape().Eq(b.Shape()) {
		t.Fatalf("%s: shapes %v and %v", what, a.Shape(), b.Shape())
	}
	x, y := a.Float32s(), b.Float32s()
	for i := range x {
		if x[i] != y[i] {
			t.Fatalf("%s: element %d: %v != %v", what, i, x[i], y[i])
		}
	}
}

// smallLSTM is LSTM(6, 8, 2 layers) → Linear(8, 5).
func smallLSTM(t testing.TB) *nn.Sequential {
	lstm, err := nn.NewLSTM(6, 8, 2, false, nn.WithSeed(3))
	must(t, err)
	lin, err := nn.NewLinear(8, 5, nn.WithSeed(4))
	must(t, err)
	m, err := nn.NewSequential(lstm, lin)
	must(t, err)
	return m
}

func TestLSTMDynamicSaveLoad(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	float := smallLSTM(t)
	floatCopy := roundTrip(t, float)
	x := randDense(r, 1, 7, 3, 6)
	yf, err := Run(float, x)
	must(t, err)
	yc, err := Run(floatCopy, x)
	must(t, err)
	equalDense(t, "float round trip", yf, yc)

	for _, spec := range []DynamicSpec{{}, {QConfigs: &QConfigDict{Types: map[string]*QConfig{"LSTM": PerChannelDynamicQConfig(), "Linear": PerChannelDynamicQConfig()}}}} {
		q, err := QuantizeDynamic(float, spec)
		must(t, err)
		kids := q.ModuleBase().Children()
		if kids[0].Module.TypeName() != "DynamicQuantizedLSTM" || kids[1].Module.TypeName() != "DynamicQuantizedLinear" {
			t.Fatalf("dynamic types: %s, %s", kids[0].Module.TypeName(), kids[1].Module.TypeName())
		}
		l := roundTrip(t, q)
		y1, err := Run(q, x)
		must(t, err)
		y2, err := Run(l, x)
		must(t, err)
		equalDense(t, "dynamic round trip", y1, y2)
		var maxErr, maxAbs float32
		for i, v := range yf.Float32s() {
			d := v - y1.Float32s()[i]
			if d < 0 {
				d = -d
			}
			if d > maxErr {
				maxErr = d
			}
			if v > maxAbs {
				maxAbs = v
			} else if -v > maxAbs {
				maxAbs = -v
			}
		}
		if maxErr > 0.05*maxAbs {
			t.Fatalf("dynamic output differs from float by %v (max |y| %v)", maxErr, maxAbs)
		}
	}
	// float16 weights
	q, err := QuantizeDynamic(float, DynamicSpec{Types: []string{"Linear"}, Dtype: observer.Float16})
	must(t, err)
	if tn := q.ModuleBase().Children()[1].Module.TypeName(); tn != "DynamicQuantizedLinear" {
		t.Fatalf("fp16 linear: %s", tn)
	}
	if tn := q.ModuleBase().Children()[0].Module.TypeName(); tn != "LSTM" {
		t.Fatalf("LSTM not in the set was converted: %s", tn)
	}
	l := roundTrip(t, q)
	y1, err := Run(q, x)
	must(t, err)
	y2, err := Run(l, x)
	must(t, err)
	equalDense(t, "fp16 round trip", y1, y2)
	if _, err := QuantizeDynamic(float, DynamicSpec{Dtype: qdtype.QUInt8Dtype}); err == nil {
		t.Fatalf("quint8 dynamic dtype accepted")
	}
}

// A prepared model saved mid-calibration and loaded again calibrates and
// converts to the same model as the original.
func TestPreparedSaveLoad(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	float := smallCNN(t, 7)
	nn.Eval(float)
	fused, err := fuse.FuseModules(float, [][]string{{"1", "2", "3"}})
	must(t, err)
	fused.ModuleBase().QConfig = &QConfig{
		Activation: ObserverFactory(observer.WithArgs(observer.NewMovingAverageMinMaxObserver)),
		Weight:     ObserverFactory(observer.DefaultPerChannelWeightObserver)}
	p, err := Prepare(fused)
	must(t, err)
	b1, b2 := randDense(r, 1, 4, 1, 8, 8), randDense(r, 1, 4, 1, 8, 8)
	_, err = Run(p, b1)
	must(t, err)
	l := roundTrip(t, p)
	for _, m := range []nn.Module{p, l} {
		_, err = Run(m, b2)
		must(t, err)
	}
	sameConverted(t, "prepared", p, l)
}

func TestQATSaveLoad(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	float := smallCNN(t, 9)
	f, err := fuse.FuseModulesQAT(float, [][]string{{"1", "2", "3"}})
	must(t, err)
	qc, err := GetDefaultQATQConfig("x86", 1)
	must(t, err)
	f.ModuleBase().QConfig = qc
	p, err := PrepareQAT(f)
	must(t, err)
	if tn := p.ModuleBase().Children()[1].Module.TypeName(); tn != "ConvBnReLU2d" {
		t.Fatalf("QAT swap: %s", tn)
	}
	_, err = Run(p, randDense(r, 1, 4, 1, 8, 8))
	must(t, err)
	l := roundTrip(t, p)
	b := randDense(r, 1, 4, 1, 8, 8)
	y1, err := Run(p, b)
	must(t, err)
	y2, err := Run(l, b)
	must(t, err)
	equalDense(t, "QAT forward after load", y1, y2)
	nn.Eval(p)
	nn.Eval(l)
	sameConverted(t, "QAT", p, l)
}

func TestLoadErrors(t *testing.T) {
	m := smallCNN(t, 10)
	var buf bytes.Buffer
	must(t, Save(&buf, m))
	good := buf.Bytes()
	for name, data := range map[string][]byte{
		"empty":     nil,
		"magic":     []byte("NOTAMODEL"),
		"truncated": good[:len(good)/2],
		"trailing":  append(append([]byte(nil), good...), 0),
		"version":   append([]byte(saveMagic), 99),
	} {
		if _, err := LoadBytes(data); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.HasPrefix(err.Error(), "eager: load:") {
			t.Errorf("%s: error %q lacks the prefix", name, err)
		}
	}
}

func FuzzLoad(f *testing.F) {
	var buf bytes.Buffer
	if err := Save(&buf, smallCNN(f, 11)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	q, err := QuantizeDynamic(smallLSTM(f), DynamicSpec{})
	if err != nil {
		f.Fatal(err)
	}
	buf.Reset()
	if err := Save(&buf, q); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(saveMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		done := make(chan struct{})
		var m nn.Module
		var err error
		go func() { m, err = LoadBytes(data); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("LoadBytes hangs on %d bytes", len(data))
		}
		if err == nil && m == nil {
			t.Fatal("nil model without error")
		}
	})
}

// An LSTM language-model-like net: a dynamically quantized LSTM feeding a
// statically quantized head, through fuse → prepare → calibrate → convert
// → quantize_dynamic → save → load → run.
func TestLSTMHybridWorkflow(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	lstm, err := nn.NewLSTM(5, 8, 1, false, nn.WithSeed(13))
	must(t, err)
	l1, _ := nn.NewLinear(8, 8, nn.WithSeed(14))
	l2, _ := nn.NewLinear(8, 3, nn.WithSeed(15))
	float, err := nn.NewSequential(lstm, NewQuantStub(nil), l1, nn.NewReLU(), l2, NewDeQuantStub(nil))
	must(t, err)
	nn.Eval(float)
	f, err := fuse.FuseModules(float, [][]string{{"2", "3"}})
	must(t, err)
	f.ModuleBase().QConfig = DefaultQConfig()
	lstmF, _ := nn.Get(f, "0")
	lstmF.ModuleBase().QConfig = NoQConfig
	p, err := Prepare(f)
	must(t, err)
	if len(GetObserverDict(p)) != 3 {
		t.Fatalf("observers: %v", GetObserverDict(p))
	}
	for i := 0; i < 3; i++ {
		_, err := Run(p, randDense(r, 1, 6, 4, 5))
		must(t, err)
	}
	c, err := Convert(p)
	must(t, err)
	q, err := QuantizeDynamic(c, DynamicSpec{Types: []string{"LSTM"}})
	must(t, err)
	if tn := q.ModuleBase().Children()[0].Module.TypeName(); tn != "DynamicQuantizedLSTM" {
		t.Fatalf("LSTM: %s", tn)
	}
	l := roundTrip(t, q)
	x := randDense(r, 1, 6, 4, 5)
	y1, err := Run(q, x)
	must(t, err)
	y2, err := Run(l, x)
	must(t, err)
	equalDense(t, "hybrid round trip", y1, y2)
	yf, err := Run(float, x)
	must(t, err)
	for i, v := range yf.Float32s() {
		if d := v - y1.Float32s()[i]; d > 0.1 || d < -0.1 {
			t.Fatalf("y[%d] = %v, float %v", i, y1.Float32s()[i], v)
		}
	}
}

// TestLoadMutations feeds mutated encodings (byte changes, deletions,
// duplicated ranges, insertions) to LoadBytes: each must load or fail with
// an error, without reaching the loader's panic guard.
func TestLoadMutations(t *testing.T) {
	var buf bytes.Buffer
	must(t, Save(&buf, smallCNN(t, 11)))
	seeds := [][]byte{append([]byte(nil), buf.Bytes()...)}
	q, err := QuantizeDynamic(smallLSTM(t), DynamicSpec{})
	must(t, err)
	buf.Reset()
	must(t, Save(&buf, q))
	seeds = append(seeds, buf.Bytes())
	r := rand.New(rand.NewSource(2))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for k := 0; k < n; k++ {
		d := append([]byte(nil), seeds[r.Intn(len(seeds))]...)
		for m := r.Intn(3) + 1; m > 0; m-- {
			i := r.Intn(len(d))
			switch r.Intn(5) {
			case 0:
				d[i] = byte(r.Intn(256))
			case 1:
				d = append(d[:i], d[i+r.Intn(len(d)-i):]...)
			case 2:
				j := i + r.Intn(min(64, len(d)-i))
				d = append(d[:j], append(append([]byte(nil), d[i:j]...), d[j:]...)...)
			case 3:
				d = append(d[:i], append([]byte{byte(r.Intn(256)), byte(r.Intn(256))}, d[i:]...)...)
			default:
				d[i] = 0xff
			}
			if len(d) == 0 {
				d = []byte{0}
			}
		}
		if _, err := LoadBytes(d); err != nil && strings.Contains(err.Error(), "corrupted model") {
			t.Fatalf("input %d reached the panic guard: %v", k, err)
		}
	}
}

func TestConvTransposeConvertSaveLoad(t *testing.T) {
	r := rand.New(rand.NewSource(20))
	ct, err := nn.NewConvTranspose2d(2, 3, []int{3}, nn.Stride(2), nn.OutputPadding(1), nn.WithSeed(21))
	must(t, err)
	m, _ := nn.NewSequential(NewQuantStub(nil), ct, NewDeQuantStub(nil))
	m.QConfig = DefaultQConfig()
	q, err := Quantize(m, DefaultEvalFn, []any{[]*tensor.Dense{randDense(r, 1, 2, 2, 5, 5)}})
	must(t, err)
	if tn := q.ModuleBase().Children()[1].Module.TypeName(); tn != "QuantizedConvTranspose2d" {
		t.Fatalf("converted to %s", tn)
	}
	l := roundTrip(t, q)
	x := randDense(r, 1, 1, 2, 5, 5)
	y1, err := Run(q, x)
	must(t, err)
	y2, err := Run(l, x)
	must(t, err)
	equalDense(t, "conv transpose round trip", y1, y2)
	m.QConfig = DefaultPerChannelQConfig()
	if _, err := Quantize(m, DefaultEvalFn, []any{[]*tensor.Dense{x}}); err == nil || !strings.Contains(err.Error(), `module "1" (ConvTranspose2d)`) {
		t.Fatalf("per-channel transposed weights: %v", err)
	}
}

func TestPaddingSameConv(t *testing.T) {
	r := rand.New(rand.NewSource(30))
	for _, k := range []int{3, 2} {
		conv, err := nn.NewConv2d(2, 3, []int{k}, nn.PaddingSame(), nn.WithSeed(31))
		must(t, err)
		m, _ := nn.NewSequential(NewQuantStub(nil), conv, NewDeQuantStub(nil))
		m.QConfig = DefaultQConfig()
		x := randDense(r, 1, 1, 2, 5, 5)
		q, err := Quantize(m, DefaultEvalFn, []any{[]*tensor.Dense{x}})
		if k == 2 {
			if err == nil || !strings.Contains(err.Error(), "asymmetrically") {
				t.Fatalf("even kernel with padding=same: %v", err)
			}
			continue
		}
		must(t, err)
		l := roundTrip(t, q)
		y1, err := Run(q, x)
		must(t, err)
		y2, err := Run(l, x)
		must(t, err)
		equalDense(t, "padding=same round trip", y1, y2)
		if !y1.Shape().Eq(tensor.Shape{1, 3, 5, 5}) {
			t.Fatalf("output shape %v", y1.Shape())
		}
	}
}

// float16 dynamic quantization of LSTM and GRU layers: close to the float
// model (weights rounded to float16) and stable through save/load.
func TestFloat16RecurrentDynamic(t *testing.T) {
	r := rand.New(rand.NewSource(40))
	lstm, _ := nn.NewLSTM(5, 6, 2, true, nn.WithSeed(41))
	gru, _ := nn.NewGRU(12, 4, 1, false, nn.WithSeed(42))
	m, _ := nn.NewSequential(lstm, gru)
	q, err := QuantizeDynamic(m, DynamicSpec{Dtype: observer.Float16})
	must(t, err)
	for i, want := range []string{"DynamicQuantizedLSTM", "DynamicQuantizedGRU"} {
		c := q.ModuleBase().Children()[i].Module
		if _, ok := c.(*nodes.DynamicFP16RNN); !ok || c.TypeName() != want {
			t.Fatalf("child %d: %T %s", i, c, c.TypeName())
		}
	}
	l := roundTrip(t, q)
	x := randDense(r, 1, 7, 3, 5)
	y1, err := Run(q, x)
	must(t, err)
	y2, err := Run(l, x)
	must(t, err)
	equalDense(t, "fp16 recurrent round trip", y1, y2)
	yf, err := Run(m, x)
	must(t, err)
	var max float32
	for _, v := range yf.Float32s() {
		if v > max {
			max = v
		} else if -v > max {
			max = -v
		}
	}
	for i, v := range yf.Float32s() {
		if d := v - y1.Float32s()[i]; d > 5e-3*max || d < -5e-3*max {
			t.Fatalf("y[%d] = %v, float %v", i, y1.Float32s()[i], v)
		}
	}
	// float16 cells: Linear → GRUCell → RNNCell → LSTMCell.
	lin, _ := nn.NewLinear(5, 6, nn.WithSeed(43))
	gc, _ := nn.NewGRUCell(6, 4, nn.WithSeed(44))
	rc, _ := nn.NewRNNCell(4, 4, "tanh", nn.WithSeed(45))
	lc4, _ := nn.NewLSTMCell(4, 3, nn.WithSeed(46))
	mc, _ := nn.NewSequential(lin, gc, rc, lc4)
	qc, err := QuantizeDynamic(mc, DynamicSpec{Dtype: observer.Float16})
	must(t, err)
	for i, want := range []string{"DynamicQuantizedLinear", "DynamicQuantizedGRUCell", "DynamicQuantizedRNNCell", "DynamicQuantizedLSTMCell"} {
		if tn := qc.ModuleBase().Children()[i].Module.TypeName(); tn != want {
			t.Fatalf("child %d: %s, want %s", i, tn, want)
		}
	}
	lc := roundTrip(t, qc)
	xc := randDense(r, 1, 3, 5)
	c1, err := Run(qc, xc)
	must(t, err)
	c2, err := Run(lc, xc)
	must(t, err)
	equalDense(t, "fp16 cells round trip", c1, c2)
	cf, err := Run(mc, xc)
	must(t, err)
	for i, v := range cf.Float32s() {
		if d := v - c1.Float32s()[i]; d > 5e-3 || d < -5e-3 {
			t.Fatalf("cell y[%d] = %v, float %v", i, c1.Float32s()[i], v)
		}
	}
}

// sameConverted fails the test unless Convert gives p and its reloaded
// copy l models that save to the same bytes.
func sameConverted(t *testing.T, what string, p, l nn.Module) {
	t.Helper()
	c1, err := Convert(p)
	must(t, err)
	c2, err := Convert(l)
	must(t, err)
	var s1, s2 bytes.Buffer
	must(t, Save(&s1, c1))
	must(t, Save(&s2, c2))
	if !bytes.Equal(s1.Bytes(), s2.Bytes()) {
		t.Fatalf("converting the loaded %s model gives another model", what)
	}
}
