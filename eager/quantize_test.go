package eager

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestPropagatePrecedence(t *testing.T) {
	parent, byType, byName, own := DefaultQConfig(), DefaultPerChannelQConfig(), DefaultQATQConfig(), DefaultDynamicQConfig()
	l0, _ := nn.NewLinear(2, 2)
	l1, _ := nn.NewLinear(2, 2)
	l2, _ := nn.NewLinear(2, 2)
	r := nn.NewReLU()
	inner, _ := nn.NewSequential(l1, r)
	m, _ := nn.NewSequential(l0, inner, l2, nn.NewReLU())
	m.QConfig = parent
	l2.QConfig = own
	dict := &QConfigDict{Types: map[string]*QConfig{"Linear": byType}, Names: map[string]*QConfig{"1.0": byName, "3": NoQConfig}}
	must(t, PropagateQConfig(m, dict))
	for path, want := range map[string]*QConfig{"0": byType, "1.0": byName, "1.1": parent, "2": own, "3": nil} {
		got, err := nn.Get(m, path)
		must(t, err)
		if QConfigOf(got) != want {
			t.Errorf("%s: got qconfig %p, want %p", path, QConfigOf(got), want)
		}
	}
	bad, _ := nn.NewLinear(2, 2)
	bad.QConfig = "fbgemm"
	s, _ := nn.NewSequential(bad)
	if err := PropagateQConfig(s, nil); err == nil || !strings.Contains(err.Error(), `module "0" (Linear)`) {
		t.Fatalf("bad qconfig type: %v", err)
	}
}

// Observers go on the quant stub, mapped leaves (after a fused ReLU) and
// FloatFunctional; never on ReLU, pools, Dropout or the DeQuantStub.
func TestObserverPlacement(t *testing.T) {
	lin, _ := nn.NewLinear(4, 4)
	drop, _ := nn.NewDropout(0.5)
	pool, _ := nn.NewMaxPool2d([]int{1})
	ff := nn.NewFloatFunctional()
	m, _ := nn.NewSequential(NewQuantStub(nil), lin, nn.NewReLU(), drop, pool, nn.NewHardswish(), ff, NewDeQuantStub(nil))
	m.QConfig = DefaultQConfig()
	p, err := Prepare(m)
	must(t, err)
	got := map[string]bool{}
	for k := range GetObserverDict(p) {
		got[k] = true
	}
	want := map[string]bool{"0.activation_post_process": true, "1.activation_post_process": true,
		"5.activation_post_process": true, "6.activation_post_process": true}
	if len(got) != len(want) {
		t.Fatalf("observers %v, want %v", got, want)
	}
	for k := range want {
		if !got[k] {
			t.Fatalf("observers %v, want %v", got, want)
		}
	}
	if len(GetObserverDict(m)) != 0 {
		t.Fatal("Prepare modified the model passed in")
	}
}

func TestPrepareConvertErrors(t *testing.T) {
	lin, _ := nn.NewLinear(4, 3)
	m, _ := nn.NewSequential(lin)
	if _, err := Prepare(m); err == nil || !strings.Contains(err.Error(), "no module has a qconfig") {
		t.Fatalf("no qconfig: %v", err)
	}
	nn.Eval(m)
	m.QConfig = DefaultQATQConfig()
	if _, err := PrepareQAT(m); err == nil || !strings.Contains(err.Error(), "training mode") {
		t.Fatalf("prepare_qat in eval mode: %v", err)
	}
	// Convert without Prepare: the error names the module.
	m.QConfig = DefaultQConfig()
	must(t, PropagateQConfig(m, nil))
	if _, err := Convert(m); err == nil || !strings.Contains(err.Error(), `module "0" (Linear)`) || !strings.Contains(err.Error(), "Prepare") {
		t.Fatalf("convert unprepared: %v", err)
	}
}

func buildOn(t *testing.T, m nn.Module, shape ...int) error {
	t.Helper()
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName("x"))
	_, err := nn.Call(m, x)
	return err
}

// Forward errors after convert name the culprit: a quantized module fed
// float (missing QuantStub) and a float module fed int8 (left float).
func TestConvertedForwardErrors(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	l1, _ := nn.NewLinear(4, 4)
	l2, _ := nn.NewLinear(4, 4)
	noStub, _ := nn.NewSequential(l1, NewDeQuantStub(nil))
	noStub.QConfig = DefaultQConfig()
	p, err := Prepare(noStub)
	must(t, err)
	_, err = Run(p, randDense(r, 1, 2, 4))
	must(t, err)
	c, err := Convert(p)
	must(t, err)
	if err := buildOn(t, c, 2, 4); err == nil || !strings.Contains(err.Error(), `module "0" (QuantizedLinear) receives a float32 input`) {
		t.Fatalf("missing quant stub: %v", err)
	}

	l2.QConfig = NoQConfig
	leftFloat, _ := nn.NewSequential(NewQuantStub(nil), l1, l2, NewDeQuantStub(nil))
	leftFloat.QConfig = DefaultQConfig()
	p, err = Prepare(leftFloat)
	must(t, err)
	_, err = Run(p, randDense(r, 1, 2, 4))
	must(t, err)
	c, err = Convert(p)
	must(t, err)
	err = buildOn(t, c, 2, 4)
	if err == nil || !strings.Contains(err.Error(), `module "2" (Linear) was left float`) || !strings.Contains(err.Error(), "no qconfig") {
		t.Fatalf("float module fed int8: %v", err)
	}
}

type scaleBy2 struct {
	nn.Base
	nn.Stateless
}

func (s *scaleBy2) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return gorgonia.Mul(x, gorgonia.NewConstant(float32(2)))
}
func (s *scaleBy2) TypeName() string { return "ScaleBy2" }
func (s *scaleBy2) Clone() nn.Module { return &scaleBy2{Base: s.CloneBase()} }

// A user type registered in the static mapping gets an observer and is
// converted by its converter; unregistered, it stays float and is guarded.
func TestRegisterStatic(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	build := func() *nn.Sequential {
		m, _ := nn.NewSequential(NewQuantStub(nil), &scaleBy2{}, NewDeQuantStub(nil))
		m.QConfig = DefaultQConfig()
		return m
	}
	p, err := Prepare(build())
	must(t, err)
	if len(GetObserverDict(p)) != 1 {
		t.Fatalf("unregistered type observed: %v", GetObserverDict(p))
	}
	c, err := Convert(p)
	must(t, err)
	if err := buildOn(t, c, 3); err == nil || !strings.Contains(err.Error(), "no quantized counterpart") {
		t.Fatalf("unregistered type fed int8: %v", err)
	}

	RegisterStatic("ScaleBy2", func(m nn.Module) (nn.Module, error) {
		out, err := OutputQParams(m)
		if err != nil {
			return nil, err
		}
		return nodes.NewQuantizedActivation("Hardswish", 0, out.Scale(), out.ZeroPoint())
	})
	defer RegisterStatic("ScaleBy2", nil)
	p, err = Prepare(build())
	must(t, err)
	if len(GetObserverDict(p)) != 2 {
		t.Fatalf("registered type not observed: %v", GetObserverDict(p))
	}
	_, err = Run(p, randDense(r, 1, 3))
	must(t, err)
	c, err = Convert(p)
	must(t, err)
	if tn := c.ModuleBase().Children()[1].Module.TypeName(); tn != "QuantizedHardswish" {
		t.Fatalf("converted user type: %s", tn)
	}
}

// FloatFunctional becomes QFunctional with the observed qparams.
func TestFloatFunctionalConvert(t *testing.T) {
	ff := nn.NewFloatFunctional()
	ff.QConfig = DefaultQConfig()
	p, err := Prepare(ff)
	must(t, err)
	g := gorgonia.NewGraph()
	a := gorgonia.NewTensor(g, tensor.Float32, 1, gorgonia.WithShape(3), gorgonia.WithValue(tensor.New(tensor.WithBacking([]float32{1, -2, 3}))))
	y, err := p.(*nn.FloatFunctional).Add(a, a)
	must(t, err)
	vm := gorgonia.NewTapeMachine(g)
	must(t, vm.RunAll())
	vm.Close()
	_ = y
	qp, err := OutputQParams(p)
	must(t, err)
	parent, _ := nn.NewSequential(p)
	c, err := Convert(parent)
	must(t, err)
	qf, ok := c.ModuleBase().Children()[0].Module.(*nodes.QFunctional)
	if !ok || qf.Scale != qp.Scale() || qf.ZeroPoint != qp.ZeroPoint() {
		t.Fatalf("QFunctional %+v, observed %v", qf, qp)
	}
}

func TestDefaultQConfigs(t *testing.T) {
	check := func(name string, f Factory, dt tensor.Dtype, qmin, qmax int64, scheme qdtype.QScheme) {
		t.Helper()
		p, err := f.New()
		must(t, err)
		lo, hi := p.QuantRange()
		if p.Dtype() != dt || lo != qmin || hi != qmax || p.Obs().QScheme() != scheme {
			t.Errorf("%s: %v %d…%d %v", name, p.Dtype(), lo, hi, p.Obs().QScheme())
		}
	}
	for _, c := range []struct {
		backend    string
		qmax       int64
		perChannel bool
	}{{"fbgemm", 127, true}, {"x86", 127, true}, {"qnnpack", 255, false}, {"onednn", 255, true}} {
		qc, err := GetDefaultQConfig(c.backend)
		must(t, err)
		check(c.backend+" act", qc.Activation, qdtype.QUInt8Dtype, 0, c.qmax, qdtype.PerTensorAffine)
		ws := qdtype.PerTensorSymmetric
		if c.perChannel {
			ws = qdtype.PerChannelSymmetric
		}
		check(c.backend+" weight", qc.Weight, qdtype.QInt8Dtype, -128, 127, ws)
		if _, ok := mustNew(t, qc.Activation).Observer.(*observer.HistogramObserver); !ok {
			t.Errorf("%s: activation is not a HistogramObserver", c.backend)
		}
		for _, v := range []int{0, 1} {
			qat, err := GetDefaultQATQConfig(c.backend, v)
			must(t, err)
			check(c.backend+" qat act", qat.Activation, qdtype.QUInt8Dtype, 0, c.qmax, qdtype.PerTensorAffine)
			check(c.backend+" qat weight", qat.Weight, qdtype.QInt8Dtype, -128, 127, ws)
		}
	}
	if _, err := GetDefaultQConfig("cuda"); err == nil {
		t.Error("unknown backend accepted")
	}
	if _, err := GetDefaultQATQConfig("x86", 2); err == nil {
		t.Error("version 2 accepted")
	}
	check("default act", DefaultQConfig().Activation, qdtype.QUInt8Dtype, 0, 127, qdtype.PerTensorAffine)
	check("default qat weight", DefaultQATQConfig().Weight, qdtype.QInt8Dtype, -128, 127, qdtype.PerTensorSymmetric)
	if p := mustNew(t, Float16DynamicQConfig().Weight); p.Dtype() != observer.Float16 {
		t.Errorf("float16 dynamic weight dtype %v", p.Dtype())
	}
}

func mustNew(t *testing.T, f Factory) *PostProcess {
	t.Helper()
	p, err := f.New()
	must(t, err)
	return p
}

func TestQuantWrapperAndAddQuantDequant(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	lin, _ := nn.NewLinear(4, 3, nn.WithSeed(1))
	lin.QConfig = DefaultQConfig()
	w, err := AddQuantDequant(lin)
	must(t, err)
	if w.TypeName() != "QuantWrapper" {
		t.Fatalf("root leaf: %s", w.TypeName())
	}
	q, err := Quantize(w, DefaultEvalFn, []any{[]*tensor.Dense{randDense(r, 1, 5, 4)}})
	must(t, err)
	y, err := Run(q, randDense(r, 1, 5, 4))
	must(t, err)
	if y.Dtype() != tensor.Float32 || !y.Shape().Eq(tensor.Shape{5, 3}) {
		t.Fatalf("wrapped quantized linear output %v %v", y.Dtype(), y.Shape())
	}
	for _, name := range []string{"quant", "module", "dequant"} {
		if q.ModuleBase().Child(name) == nil {
			t.Fatalf("child %s missing", name)
		}
	}
}

// A moving-average observer with averaging constant 1 is memoryless: it
// observes the module's input (a pre-hook), as PyTorch does.
func TestMemorylessObserverIsPreHook(t *testing.T) {
	lin, _ := nn.NewLinear(2, 2)
	copy(lin.Weight.Data.Float32s(), []float32{10, 0, 0, 10})
	m, _ := nn.NewSequential(NewQuantStub(nil), lin, NewDeQuantStub(nil))
	m.QConfig = &QConfig{
		Activation: ObserverFactory(observer.WithArgs(observer.NewMovingAverageMinMaxObserver, observer.WithAveragingConstant(1))),
		Weight:     ObserverFactory(observer.DefaultWeightObserver)}
	p, err := Prepare(m)
	must(t, err)
	_, err = Run(p, tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float32{-1, 1})))
	must(t, err)
	pl, _ := nn.Get(p, "1")
	if len(pl.ModuleBase().PreHooks) != 1 || len(pl.ModuleBase().OutputHooks) != 0 {
		t.Fatalf("hooks: %d pre, %d output", len(pl.ModuleBase().PreHooks), len(pl.ModuleBase().OutputHooks))
	}
	pp := ActivationPostProcess(pl)
	if lo, hi := pp.Obs().MinVal(), pp.Obs().MaxVal(); lo[0] != -1 || hi[0] != 1 {
		t.Fatalf("observed [%v, %v], want the input range [-1, 1]", lo, hi)
	}
	c, err := Convert(p)
	must(t, err)
	_, err = Run(c, tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float32{-3, 3})))
	must(t, err)
	if lo, hi := pp.Obs().MinVal(), pp.Obs().MaxVal(); lo[0] != -1 || hi[0] != 1 {
		t.Fatalf("the converted model still observes: [%v, %v]", lo, hi)
	}
}

// In training mode, prepare_qat gives Sigmoid and Tanh PyTorch's fixed
// qparams fake quantizers.
func TestSpecialActivationQAT(t *testing.T) {
	lin, _ := nn.NewLinear(3, 3)
	m, _ := nn.NewSequential(NewQuantStub(nil), lin, nn.NewSigmoid(), nn.NewTanh(), NewDeQuantStub(nil))
	m.QConfig = DefaultQATQConfig()
	p, err := PrepareQAT(m)
	must(t, err)
	for path, want := range map[string][2]float64{"2": {1.0 / 256, 0}, "3": {2.0 / 256, 128}} {
		mod, _ := nn.Get(p, path)
		pp := ActivationPostProcess(mod)
		if pp == nil {
			t.Fatalf("%s has no fake quantizer", path)
		}
		qp, err := pp.CalculateQParams()
		must(t, err)
		if qp.Scale() != want[0] || float64(qp.ZeroPoint()) != want[1] {
			t.Fatalf("%s: %v, want %v", path, qp, want)
		}
	}
}
