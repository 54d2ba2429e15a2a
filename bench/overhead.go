package main

import (
	"fmt"
	"math/rand"
	"slices"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// linearSetup is the int8 linear problem shared by the overhead group's
// three qgorgonia implementations, built from the same seed as
// qgorgoniaImpl's: quint8 input (scale 0.05, zero point 128), qint8
// per-tensor symmetric weight, float bias; output scale 0.1, zero point 64.
type linearSetup struct {
	qx   *qtensor.QTensor
	qw   *qtensor.QTensor
	bias *tensor.Dense
}

func newLinearSetup(w workload) (*linearSetup, error) {
	r := rand.New(rand.NewSource(1))
	x, wt := randDense(r, 1, w.M, w.K), randDense(r, 0.05, w.N, w.K)
	bias := randDense(r, 1, w.N)
	qx, err := qtensor.QuantizePerTensor(x, 0.05, 128, qdtype.QUInt8Dtype)
	if err != nil {
		return nil, err
	}
	qw, err := qtensor.QuantizePerTensor(wt, maxAbs(wt)/127, 0, qdtype.QInt8Dtype)
	if err != nil {
		return nil, err
	}
	return &linearSetup{qx: qx, qw: qw, bias: bias}, nil
}

// reference is ops.Linear's output codes on s, which the kernel and node
// rows must reproduce (so that they time the same work).
func (s *linearSetup) reference() ([]uint8, error) {
	y, err := ops.LinearWithWeights(s.qx, s.qw, s.bias, 0.1, 64)
	if err != nil {
		return nil, err
	}
	return y.Dense().Uint8s(), nil
}

func sameCodes(name string, got, want []uint8) error {
	if !slices.Equal(got, want) {
		return fmt.Errorf("%s: output differs from ops.Linear's", name)
	}
	return nil
}

// kernelImpl is the raw GEMM under ops.Linear: kernels.GemmU8S8Requant on
// weights packed once and an input quantized once, writing into one
// preallocated output, with the requantizing epilogue ops.Linear builds
// (multiplier f32(sx·sw/sy), bias f32(b/sy), zero point 64, range [0, 255]).
// The gap to qgorgonia_int8 is the op's cost: validation, the epilogue
// cache lookup and the output's allocation.
func kernelImpl(w workload) (*impl, error) {
	s, err := newLinearSetup(w)
	if err != nil {
		return nil, err
	}
	const outScale, outZP = 0.1, 64
	p := kernels.PackWeights(s.qw.Dense().Int8s(), w.N, w.K)
	sw, err := s.qw.QScale()
	if err != nil {
		return nil, err
	}
	mult := float32(0.05 * sw / outScale)
	rq := &kernels.Requant{Multiplier: []float32{mult}, Bias: make([]float32, w.N), ZeroPoint: outZP, Min: 0, Max: 255}
	for j, b := range s.bias.Float32s() {
		rq.Bias[j] = float32(float64(b) / outScale)
	}
	xd := s.qx.Dense().Uint8s()
	out := make([]uint8, w.M*w.N)
	wZP := []int32{0}
	gemm := func() error {
		kernels.GemmU8S8Requant(w.M, xd, w.K, 128, p, wZP, rq, out, w.N)
		return nil
	}
	want, err := s.reference()
	if err != nil {
		return nil, err
	}
	gemm()
	if err := sameCodes("qgorgonia_kernel", out, want); err != nil {
		return nil, err
	}
	return &impl{name: "qgorgonia_kernel", trial: goTrial(gemm)}, nil
}

// nodeImpl is the graph-node path: nodes.QLinear on a quint8 input node,
// built once and run by a TapeMachine (RunAll + Reset per call).
func nodeImpl(w workload) (*impl, error) {
	s, err := newLinearSetup(w)
	if err != nil {
		return nil, err
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, qdtype.QUInt8Dtype, 2, gorgonia.WithShape(w.M, w.K), gorgonia.WithName("x"),
		gorgonia.WithValue(s.qx.Dense()))
	qx, err := nodes.AttachQParams(x, s.qx.QParams())
	if err != nil {
		return nil, err
	}
	y, err := nodes.QLinear(qx, s.qw, s.bias, 0.1, 64)
	if err != nil {
		return nil, err
	}
	m := gorgonia.NewTapeMachine(g)
	want, err := s.reference()
	if err != nil {
		return nil, err
	}
	if err := m.RunAll(); err != nil {
		return nil, err
	}
	got, err := nodes.Value(y)
	if err != nil {
		return nil, err
	}
	if err := sameCodes("qgorgonia_node", got.Dense().Uint8s(), want); err != nil {
		return nil, err
	}
	m.Reset()
	return &impl{name: "qgorgonia_node", trial: goTrial(func() error {
		err := m.RunAll()
		m.Reset()
		return err
	})}, nil
}
