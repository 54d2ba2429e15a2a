package fake

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// LearnableConfig configures a LearnableFakeQuantizer
// (_LearnableFakeQuantize's constructor arguments).
type LearnableConfig struct {
	// Observer makes the observer used for static estimates (nil:
	// MovingAverageMinMaxObserver with quant range 0..255). Its effective
	// quant range is the module's quant range.
	Observer observer.Factory
	// Scale and ZeroPoint are the initial parameter values (PyTorch's
	// defaults are 1 and 0; a zero Scale here also means 1).
	Scale, ZeroPoint float32
	// ChannelLen is the number of channels of per-channel parameters; 0 or
	// −1 means per-tensor (one scale, one zero point).
	ChannelLen int
	// UseGradScaling scales the scale and zero-point gradients by
	// 1/sqrt(numel(x)·quant_max) (LSQ's gradient scaling).
	UseGradScaling bool
}

// LearnableFakeQuantizer is PyTorch's _LearnableFakeQuantize (LSQ/LSQ+):
// scale and zero point are float32 parameters (Scale and ZeroPoint, shape
// (1) or (C)) trained by gradient descent. Flags: fake_quant_enabled (on),
// static_enabled (on: each training forward observes x and copies the
// observer's qparams into the parameters), learning_enabled (off). Use the
// mode setters EnableStaticEstimate, EnableParamLearning and
// EnableStaticObservation as in PyTorch.
//
// Forward, as PyTorch:
//
//	if static: observe x; scale, zp ← observer qparams   else: scale ← max(scale, eps)
//	if fake quant: (symmetric: zp ← 0); y = learnable fake quant of x with grad factor g
type LearnableFakeQuantizer struct {
	obs            observer.Observer
	qmin, qmax     int64
	perChannel     bool
	symmetric      bool
	axis           int
	scale, zp      *tensor.Dense
	fakeQuantOn    bool
	staticOn       bool
	learningOn     bool
	useGradScaling bool
	eps            float32
}

// NewLearnableFakeQuantizer returns the module. It returns an error when the
// observer cannot be built, computes no qparams, uses float qparams, or when
// ChannelLen does not match a per-channel/per-tensor observer.
func NewLearnableFakeQuantizer(cfg LearnableConfig) (*LearnableFakeQuantizer, error) {
	const kind = "LearnableFakeQuantize"
	f := cfg.Observer
	if f == nil {
		f = observer.WithArgs(observer.NewMovingAverageMinMaxObserver, observer.WithQuantRange(0, 255))
	}
	o, err := f()
	if err != nil {
		return nil, fmt.Errorf("fake: %s: %w", kind, err)
	}
	fq, err := newFakeQuantizer(kind, o)
	if err != nil {
		return nil, err
	}
	if o.QScheme() == qdtype.PerChannelAffineFloatQParams {
		return nil, fmt.Errorf("fake: %s: per_channel_affine_float_qparams is not supported", kind)
	}
	n := cfg.ChannelLen
	perChannel := o.QScheme().PerChannel()
	if n <= 0 {
		if perChannel {
			return nil, fmt.Errorf("fake: %s: a per-channel observer needs ChannelLen > 0", kind)
		}
		n = 1
	} else if !perChannel {
		return nil, fmt.Errorf("fake: %s: ChannelLen %d with a per-tensor observer", kind, n)
	}
	s0, z0 := cfg.Scale, cfg.ZeroPoint
	if s0 == 0 {
		s0 = 1
	}
	if err := checkScale(kind, []float32{s0}); err != nil {
		return nil, err
	}
	if isNaN(z0) || math.IsInf(float64(z0), 0) {
		return nil, fmt.Errorf("fake: %s: zero point %v is not finite", kind, z0)
	}
	sc, zp := make([]float32, n), make([]float32, n)
	for i := range sc {
		sc[i], zp[i] = s0, z0
	}
	l := &LearnableFakeQuantizer{obs: o, qmin: fq.qmin, qmax: fq.qmax, perChannel: perChannel,
		symmetric: o.QScheme().Symmetric(), fakeQuantOn: true, staticOn: true, eps: qdtype.Eps,
		useGradScaling: cfg.UseGradScaling,
		scale:          tensor.New(tensor.WithShape(n), tensor.WithBacking(sc)),
		zp:             tensor.New(tensor.WithShape(n), tensor.WithBacking(zp))}
	if pc, ok := o.(interface{ ChAxis() int }); ok {
		l.axis = pc.ChAxis()
	}
	return l, nil
}

// Scale returns the scale parameter (shape (1) or (C)); the graph node
// built by LearnableFakeQuantize holds this Dense.
func (l *LearnableFakeQuantizer) Scale() *tensor.Dense { return l.scale }

// ZeroPoint returns the (float) zero-point parameter.
func (l *LearnableFakeQuantizer) ZeroPoint() *tensor.Dense { return l.zp }

// Observer returns the observer.
func (l *LearnableFakeQuantizer) Observer() observer.Observer { return l.obs }

// QuantRange returns [quant_min, quant_max].
func (l *LearnableFakeQuantizer) QuantRange() (qmin, qmax int64) { return l.qmin, l.qmax }

// EnableFakeQuant sets fake_quant_enabled.
func (l *LearnableFakeQuantizer) EnableFakeQuant(on bool) { l.fakeQuantOn = on }

// EnableStaticObservation sets static_enabled alone.
func (l *LearnableFakeQuantizer) EnableStaticObservation(on bool) { l.staticOn = on }

// EnableStaticEstimate is enable_static_estimate: observer on, learning
// off, fake quant on.
func (l *LearnableFakeQuantizer) EnableStaticEstimate() {
	l.staticOn, l.learningOn, l.fakeQuantOn = true, false, true
}

// EnableParamLearning is enable_param_learning: learning on, observer off,
// fake quant on. Gradients to scale and zero point are zero while learning
// is off.
func (l *LearnableFakeQuantizer) EnableParamLearning() {
	l.staticOn, l.learningOn, l.fakeQuantOn = false, true, true
}

// Flags returns fake_quant_enabled, static_enabled and learning_enabled.
func (l *LearnableFakeQuantizer) Flags() (fakeQuant, static, learning bool) {
	return l.fakeQuantOn, l.staticOn, l.learningOn
}

// CalculateQParams is PyTorch's calculate_qparams: scale clamped to ≥ eps,
// zero point rne-rounded and clamped to the quant range.
func (l *LearnableFakeQuantizer) CalculateQParams() (qdtype.QParams, error) {
	return l.qparamsOf(l.scale.Float32s(), l.zp.Float32s())
}

func (l *LearnableFakeQuantizer) qparamsOf(sc, zp []float32) (qdtype.QParams, error) {
	qp := qdtype.QParams{Dtype: l.obs.Dtype(), Scheme: qdtype.PerTensorAffine, Scales: make([]float64, len(sc)), ZeroPoints: make([]int64, len(zp))}
	if l.perChannel {
		qp.Scheme = qdtype.PerChannelAffine
		qp.Axis = l.axis
		if qp.Axis < 0 {
			qp.Axis = 0
		}
	}
	for i := range sc {
		s := sc[i]
		if s < l.eps {
			s = l.eps
		}
		qp.Scales[i] = float64(s)
		qp.ZeroPoints[i] = int64(clampF32(float32(math.RoundToEven(float64(zp[i]))), float32(l.qmin), float32(l.qmax)))
	}
	return qp, qp.Validate()
}

// prepare runs the parameter part of the forward on the given parameter
// storage: static estimate (observe + copy) or the eps clamp, and the
// symmetric zero-point reset. observe false skips the observer.
func (l *LearnableFakeQuantizer) prepare(x *tensor.Dense, sc, zp []float32, observe bool) error {
	const kind = "LearnableFakeQuantize"
	if l.staticOn && observe {
		saved := l.obs.Clone()
		if err := l.obs.Observe(x); err != nil {
			return fmt.Errorf("fake: %s: %w", kind, err)
		}
		qp, err := l.obs.CalculateQParams()
		if err != nil {
			l.obs = saved
			return fmt.Errorf("fake: %s: %w", kind, err)
		}
		if len(qp.Scales) != len(sc) && len(qp.Scales) != 1 {
			l.obs = saved
			return fmt.Errorf("fake: %s: observer gives %d scales for %d parameters", kind, len(qp.Scales), len(sc))
		}
		for i := range sc {
			j := i
			if len(qp.Scales) == 1 {
				j = 0
			}
			sc[i] = float32(qp.Scales[j])
			zp[i] = float32(qp.ZeroPoints[j])
		}
	} else if !l.staticOn {
		for i, s := range sc {
			if s < l.eps {
				sc[i] = l.eps
			}
		}
	}
	if l.fakeQuantOn && l.symmetric {
		for i := range zp {
			zp[i] = 0
		}
	}
	return nil
}

func (l *LearnableFakeQuantizer) gradFactor(n int) float32 {
	if !l.useGradScaling || n == 0 {
		return 1
	}
	return float32(1.0 / math.Sqrt(float64(n)*float64(l.qmax)))
}

func (l *LearnableFakeQuantizer) forward(x *tensor.Dense, sc, zp []float32) (*tensor.Dense, error) {
	if !l.fakeQuantOn {
		y, _, err := identity("LearnableFakeQuantize", x)
		return y, err
	}
	if l.perChannel {
		return FakeQuantizeLearnablePerChannelAffine(x, sc, zp, l.normAxis(x), l.qmin, l.qmax)
	}
	if len(sc) != 1 || len(zp) != 1 {
		return nil, fmt.Errorf("fake: LearnableFakeQuantize: %d scales and %d zero points, want 1", len(sc), len(zp))
	}
	return FakeQuantizeLearnablePerTensorAffine(x, sc[0], zp[0], l.qmin, l.qmax)
}

func (l *LearnableFakeQuantizer) normAxis(x *tensor.Dense) int {
	a := l.axis
	if a < 0 {
		a += x.Dims()
	}
	return a
}

// Forward is PyTorch's forward on the module's own parameters.
func (l *LearnableFakeQuantizer) Forward(x *tensor.Dense) (*tensor.Dense, error) {
	sc := append([]float32(nil), l.scale.Float32s()...)
	zp := append([]float32(nil), l.zp.Float32s()...)
	if err := l.prepare(x, sc, zp, true); err != nil {
		return nil, err
	}
	y, err := l.forward(x, sc, zp)
	if err != nil {
		return nil, err
	}
	copy(l.scale.Float32s(), sc)
	copy(l.zp.Float32s(), zp)
	return y, nil
}

// backward returns the gradients for x, scale and zero point.
func (l *LearnableFakeQuantizer) backward(dy, x *tensor.Dense, sc, zp []float32) (LearnableGrads, error) {
	if !l.fakeQuantOn {
		dx, _, err := identity("LearnableFakeQuantize", dy)
		return LearnableGrads{X: dx, Scale: make([]float32, len(sc)), ZeroPoint: make([]float32, len(zp))}, err
	}
	g := l.gradFactor(x.Shape().TotalSize())
	var gr LearnableGrads
	var err error
	if l.perChannel {
		gr, err = FakeQuantizeLearnablePerChannelAffineBackward(dy, x, sc, zp, l.normAxis(x), l.qmin, l.qmax, g)
	} else {
		gr, err = FakeQuantizeLearnablePerTensorAffineBackward(dy, x, sc[0], zp[0], l.qmin, l.qmax, g)
	}
	if err != nil {
		return gr, err
	}
	if !l.learningOn {
		gr.Scale = make([]float32, len(sc))
		gr.ZeroPoint = make([]float32, len(zp))
	}
	return gr, nil
}

// LearnableOp is the Gorgonia op of a LearnableFakeQuantizer, with inputs
// (x, scale, zero point). Forward writes static estimates and clamps into
// the scale and zero-point input values in place (PyTorch's .data.copy_),
// so bind those nodes to the module's Scale and ZeroPoint Dense (as
// LearnableFakeQuantize does). Backward gives dX, dScale and dZeroPoint
// (PyTorch's learnable kernels). It implements SDOp, ADOp, UsePreallocDoer
// and TrainModeOp; static estimates run only in training mode.
type LearnableOp struct {
	id       uint64
	l        *LearnableFakeQuantizer
	training bool
	xType    hm.Type
	pType    hm.Type
}

// LearnableFakeQuantize builds y = learnable fake quant of x with l's scale
// and zero point as new input nodes of x's graph (named name+".scale" and
// name+".zero_point", bound to l.Scale() and l.ZeroPoint()), which a solver
// can train: pass them to gorgonia.Grad and the solver with the model's
// weights.
func LearnableFakeQuantize(x *gorgonia.Node, l *LearnableFakeQuantizer, name string) (y, scale, zeroPoint *gorgonia.Node, op *LearnableOp, err error) {
	if x == nil || l == nil {
		return nil, nil, nil, nil, fmt.Errorf("fake: LearnableFakeQuantize: nil node or quantizer")
	}
	if x.Dtype() != tensor.Float32 {
		return nil, nil, nil, nil, fmt.Errorf("fake: LearnableFakeQuantize: node %s has dtype %v, want float32", x.Name(), x.Dtype())
	}
	g := x.Graph()
	n := l.scale.Shape()[0]
	scale = gorgonia.NewVector(g, tensor.Float32, gorgonia.WithShape(n), gorgonia.WithName(name+".scale"), gorgonia.WithValue(l.scale))
	zeroPoint = gorgonia.NewVector(g, tensor.Float32, gorgonia.WithShape(n), gorgonia.WithName(name+".zero_point"), gorgonia.WithValue(l.zp))
	op = &LearnableOp{id: opIDs.Add(1), l: l, training: true, xType: x.Type(), pType: scale.Type()}
	if y, err = gorgonia.ApplyOp(op, x, scale, zeroPoint); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("fake: LearnableFakeQuantize: %w", err)
	}
	return y, scale, zeroPoint, op, nil
}

// Quantizer returns the module.
func (op *LearnableOp) Quantizer() *LearnableFakeQuantizer { return op.l }

// Arity is 3 (x, scale, zero point).
func (op *LearnableOp) Arity() int { return 3 }

// Type is x → p → p → x with x the input's tensor type and p the
// parameters' vector type (fixed when the op is built).
func (op *LearnableOp) Type() hm.Type {
	return hm.NewFnType(op.xType, op.pType, op.pType, op.xType)
}

// InferShape returns x's shape.
func (op *LearnableOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(ds) != 3 {
		return nil, fmt.Errorf("fake: LearnableFakeQuantize: %d inputs, want 3", len(ds))
	}
	s, ok := ds[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("fake: LearnableFakeQuantize: input shape is %T", ds[0])
	}
	return s.Clone(), nil
}

func (op *LearnableOp) params(inputs []gorgonia.Value) (*tensor.Dense, []float32, []float32, error) {
	if len(inputs) < 3 {
		return nil, nil, nil, fmt.Errorf("fake: LearnableFakeQuantize: %d inputs, want 3", len(inputs))
	}
	x, err := valueDense("LearnableFakeQuantize", inputs[0])
	if err != nil {
		return nil, nil, nil, err
	}
	sc, err := float32Data("LearnableFakeQuantize", inputs[1])
	if err != nil {
		return nil, nil, nil, err
	}
	zp, err := float32Data("LearnableFakeQuantize", inputs[2])
	if err != nil {
		return nil, nil, nil, err
	}
	if len(sc) != len(zp) || len(sc) == 0 {
		return nil, nil, nil, fmt.Errorf("fake: LearnableFakeQuantize: %d scales and %d zero points", len(sc), len(zp))
	}
	return x, sc, zp, nil
}

// Do runs the forward, updating the scale and zero-point values in place.
func (op *LearnableOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	x, sc, zp, err := op.params(inputs)
	if err != nil {
		return nil, err
	}
	nsc := append([]float32(nil), sc...)
	nzp := append([]float32(nil), zp...)
	if err := op.l.prepare(x, nsc, nzp, op.training); err != nil {
		return nil, err
	}
	y, err := op.l.forward(x, nsc, nzp)
	if err != nil {
		return nil, err
	}
	copy(sc, nsc)
	copy(zp, nzp)
	return y, nil
}

// UsePreallocDo runs the forward into prealloc.
func (op *LearnableOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	y, err := op.Do(inputs...)
	if err != nil {
		return nil, err
	}
	return copyInto("LearnableFakeQuantize", prealloc, y.(*tensor.Dense))
}

// ReturnsPtr is false.
func (op *LearnableOp) ReturnsPtr() bool { return false }

// CallsExtern is false.
func (op *LearnableOp) CallsExtern() bool { return false }

// OverwritesInput is -1 (the parameters are updated in place, but the op's
// output never reuses an input).
func (op *LearnableOp) OverwritesInput() int { return -1 }

// WriteHash writes the op's unique id.
func (op *LearnableOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "qgorgonia.LearnableFakeQuantize#%d", op.id)
}

// Hashcode is the FNV-32a of WriteHash.
func (op *LearnableOp) Hashcode() uint32 { return hashOf(op) }

// String describes the op.
func (op *LearnableOp) String() string { return fmt.Sprintf("LearnableFakeQuantize#%d", op.id) }

// SetTraining sets training mode (static estimates run only in training).
func (op *LearnableOp) SetTraining(training bool) error { op.training = training; return nil }

// DiffWRT is [true, true, true].
func (op *LearnableOp) DiffWRT(inputs int) []bool { return []bool{true, true, true} }

// SymDiff returns the gradient nodes for x, scale and zero point.
func (op *LearnableOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("fake: LearnableFakeQuantize: %d inputs, want 3", len(inputs))
	}
	out := make(gorgonia.Nodes, 3)
	for which := range out {
		n, err := gorgonia.ApplyOp(&learnableDiffOp{fwd: op, which: which}, inputs[0], inputs[1], inputs[2], output, grad)
		if err != nil {
			return nil, fmt.Errorf("fake: LearnableFakeQuantize: %w", err)
		}
		out[which] = n
	}
	return out, nil
}

// DoDiff adds the three gradients into the inputs' gradients (LispMachine).
func (op *LearnableOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	if len(inputs) != 3 {
		return fmt.Errorf("fake: LearnableFakeQuantize: %d inputs, want 3", len(inputs))
	}
	dyv, err := output.Grad()
	if err != nil {
		return fmt.Errorf("fake: LearnableFakeQuantize: output gradient: %w", err)
	}
	gr, err := op.grads([]gorgonia.Value{inputs[0].Value(), inputs[1].Value(), inputs[2].Value(), output.Value(), dyv})
	if err != nil {
		return err
	}
	dx, _, _ := denseData("LearnableFakeQuantize", gr.X)
	parts := [][]float32{dx, gr.Scale, gr.ZeroPoint}
	for i, in := range inputs {
		gv, err := in.Grad()
		if err != nil {
			return fmt.Errorf("fake: LearnableFakeQuantize: input %d gradient: %w", i, err)
		}
		dst, err := float32Data("LearnableFakeQuantize", gv)
		if err != nil {
			return err
		}
		if len(dst) != len(parts[i]) {
			return fmt.Errorf("fake: LearnableFakeQuantize: input %d gradient has %d elements, want %d", i, len(dst), len(parts[i]))
		}
		for j, v := range parts[i] {
			dst[j] += v
		}
	}
	return nil
}

func (op *LearnableOp) grads(inputs []gorgonia.Value) (LearnableGrads, error) {
	if len(inputs) != 5 {
		return LearnableGrads{}, fmt.Errorf("fake: LearnableFakeQuantize backward: %d inputs, want 5", len(inputs))
	}
	x, sc, zp, err := op.params(inputs)
	if err != nil {
		return LearnableGrads{}, err
	}
	dy, err := valueDense("LearnableFakeQuantize backward", inputs[4])
	if err != nil {
		return LearnableGrads{}, err
	}
	return op.l.backward(dy, x, sc, zp)
}

// learnableDiffOp computes one of the three gradients from
// (x, scale, zero point, y, dY).
type learnableDiffOp struct {
	fwd   *LearnableOp
	which int // 0 x, 1 scale, 2 zero point
}

func (op *learnableDiffOp) Arity() int { return 5 }
func (op *learnableDiffOp) Type() hm.Type {
	a, b := op.fwd.xType, op.fwd.pType
	if op.which == 0 {
		return hm.NewFnType(a, b, b, a, a, a)
	}
	return hm.NewFnType(a, b, b, a, a, b)
}
func (op *learnableDiffOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(ds) != 5 {
		return nil, fmt.Errorf("fake: LearnableFakeQuantize backward: %d inputs, want 5", len(ds))
	}
	s, ok := ds[0].(tensor.Shape)
	if op.which > 0 {
		s, ok = ds[op.which].(tensor.Shape)
	}
	if !ok {
		return nil, fmt.Errorf("fake: LearnableFakeQuantize backward: shape is %T", ds[0])
	}
	return s.Clone(), nil
}
func (op *learnableDiffOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	gr, err := op.fwd.grads(inputs)
	if err != nil {
		return nil, err
	}
	switch op.which {
	case 0:
		return gr.X, nil
	case 1:
		return tensor.New(tensor.WithShape(len(gr.Scale)), tensor.WithBacking(gr.Scale)), nil
	}
	return tensor.New(tensor.WithShape(len(gr.ZeroPoint)), tensor.WithBacking(gr.ZeroPoint)), nil
}
func (op *learnableDiffOp) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	v, err := op.Do(inputs...)
	if err != nil {
		return nil, err
	}
	return copyInto("LearnableFakeQuantize backward", prealloc, v.(*tensor.Dense))
}
func (op *learnableDiffOp) ReturnsPtr() bool     { return false }
func (op *learnableDiffOp) CallsExtern() bool    { return false }
func (op *learnableDiffOp) OverwritesInput() int { return -1 }
func (op *learnableDiffOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "qgorgonia.LearnableFakeQuantizeGrad#%d.%d", op.fwd.id, op.which)
}
func (op *learnableDiffOp) Hashcode() uint32 { return hashOf(op) }
func (op *learnableDiffOp) String() string {
	return fmt.Sprintf("LearnableFakeQuantizeGrad#%d.%d", op.fwd.id, op.which)
}
func (op *learnableDiffOp) DiffWRT(inputs int) []bool { return make([]bool, inputs) }
func (op *learnableDiffOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return nil, fmt.Errorf("fake: the LearnableFakeQuantize gradient is not differentiable")
}

var (
	_ gorgonia.SDOp            = (*LearnableOp)(nil)
	_ gorgonia.ADOp            = (*LearnableOp)(nil)
	_ gorgonia.UsePreallocDoer = (*LearnableOp)(nil)
	_ gorgonia.TrainModeOp     = (*LearnableOp)(nil)
	_ gorgonia.SDOp            = (*learnableDiffOp)(nil)
)
