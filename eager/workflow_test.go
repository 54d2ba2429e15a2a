package eager

import (
	"bytes"
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func randDense(r *rand.Rand, scale float32, shape ...int) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(r.NormFloat64()) * scale
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

// smallCNN is QuantStub, conv-bn-relu, maxpool, flatten, linear, DeQuantStub
// with random weights and batch-norm statistics.
func smallCNN(t testing.TB, seed int64) *nn.Sequential {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	conv, err := nn.NewConv2d(1, 4, []int{3}, nn.Padding(1), nn.WithSeed(seed))
	must(t, err)
	bn, err := nn.NewBatchNorm2d(4)
	must(t, err)
	copy(bn.RunningMean.Data.Float32s(), randDense(r, 0.1, 4).Float32s())
	for i, v := range randDense(r, 0.2, 4).Float32s() {
		bn.RunningVar.Data.Float32s()[i] = 1 + v*v
	}
	pool, err := nn.NewMaxPool2d([]int{2})
	must(t, err)
	lin, err := nn.NewLinear(64, 10, nn.WithSeed(seed+1))
	must(t, err)
	m, err := nn.NewSequential(NewQuantStub(nil), conv, bn, nn.NewReLU(), pool, nn.NewFlatten(), lin, NewDeQuantStub(nil))
	must(t, err)
	return m
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// quantizedBeforeDequant runs m on x and returns the quantized tensor that
// enters its last child (a DeQuantize module) and the float output.
func quantizedBeforeDequant(t testing.TB, m nn.Module, x *tensor.Dense) (*qtensor.QTensor, *tensor.Dense) {
	t.Helper()
	kids := m.ModuleBase().Children()
	deq := kids[len(kids)-1].Module
	var qin *gorgonia.Node
	b := deq.ModuleBase()
	saved := b.PreHooks
	b.PreHooks = append(append([]nn.Hook(nil), saved...), func(n *gorgonia.Node) (*gorgonia.Node, error) { qin = n; return n, nil })
	defer func() { b.PreHooks = saved }()
	g := gorgonia.NewGraph()
	in := gorgonia.NewTensor(g, tensor.Float32, x.Dims(), gorgonia.WithShape(x.Shape().Clone()...), gorgonia.WithName("x"))
	must(t, gorgonia.Let(in, x))
	y, err := nn.Call(m, in)
	must(t, err)
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	must(t, vm.RunAll())
	q, err := nodes.Value(qin)
	must(t, err)
	return q, y.Value().(*tensor.Dense).Clone().(*tensor.Dense)
}

func argmaxRows(d *tensor.Dense) []int {
	s := d.Shape()
	v := d.Float32s()
	out := make([]int, s[0])
	for i := range out {
		row := v[i*s[1] : (i+1)*s[1]]
		best := 0
		for j, x := range row {
			if x > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

// TestCNNWorkflow takes a small CNN through fuse → prepare → calibrate →
// convert → save → load → run, checks the int8 output against the ops
// functions bit for bit and the top-1 agreement with the float model.
func TestCNNWorkflow(t *testing.T) {
	float := smallCNN(t, 1)
	nn.Eval(float)
	r := rand.New(rand.NewSource(2))
	fused, err := fuse.FuseModules(float, [][]string{{"1", "2", "3"}})
	must(t, err)
	qc, err := GetDefaultQConfig("onednn")
	must(t, err)
	fused.ModuleBase().QConfig = qc
	prepared, err := Prepare(fused)
	must(t, err)
	if got := len(GetObserverDict(prepared)); got != 3 {
		t.Fatalf("observers: got %d, want 3 (quant stub, fused conv, linear): %v", got, GetObserverDict(prepared))
	}
	for i := 0; i < 4; i++ {
		_, err := Run(prepared, randDense(r, 1, 16, 1, 8, 8))
		must(t, err)
	}
	converted, err := Convert(prepared)
	must(t, err)
	var buf bytes.Buffer
	must(t, Save(&buf, converted))
	loaded, err := Load(bytes.NewReader(buf.Bytes()))
	must(t, err)

	x := randDense(r, 1, 300, 1, 8, 8)
	q1, y1 := quantizedBeforeDequant(t, converted, x)
	q2, y2 := quantizedBeforeDequant(t, loaded, x)
	if !q1.Equal(q2) || !y1.Shape().Eq(y2.Shape()) {
		t.Fatalf("loaded model differs from the converted one")
	}

	// Reference through package ops on the converted modules' parameters.
	kids := converted.ModuleBase().Children()
	qs := kids[0].Module.(*nodes.QuantizeModule)
	qconv := kids[1].Module.(*nodes.QuantizedConv)
	ql := kids[6].Module.(*nodes.QuantizedLinear)
	if _, ok := kids[4].Module.(*nodes.Passthrough); !ok {
		t.Fatalf("maxpool was not made a Passthrough: %T", kids[4].Module)
	}
	ref, err := qtensor.Quantize(x, qs.QParams)
	must(t, err)
	ref, err = ops.Conv2dReLU(ref, qconv.Packed, qconv.Scale, qconv.ZeroPoint)
	must(t, err)
	ref, err = ops.MaxPool2d(ref, []int{2}, nil, nil, nil, false)
	must(t, err)
	ref, err = ref.Reshape(300, 64)
	must(t, err)
	ref, err = ops.Linear(ref, ql.Packed, ql.Scale, ql.ZeroPoint)
	must(t, err)
	if !ref.Equal(q1) {
		t.Fatalf("int8 output differs from the ops reference")
	}

	yf, err := Run(float, x)
	must(t, err)
	a, b := argmaxRows(yf), argmaxRows(y1)
	agree := 0
	for i := range a {
		if a[i] == b[i] {
			agree++
		}
	}
	if agree*100 < 99*len(a) {
		t.Fatalf("top-1 agreement %d/%d < 99%%", agree, len(a))
	}
}
