package graphmode

import (
	"fmt"
	"hash"
	"hash/fnv"
	"reflect"
	"sync/atomic"

	"github.com/chewxy/hm"
	"github.com/chewxy/math32"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

var frozenIDs atomic.Uint64

// frozenBNOp is the float inference form of a gorgonia.BatchNormOp that
// could not be folded: y = x·α[c] + β[c] along axis 1 with α = 1/√(var+ε)
// and β = −mean·α computed once from the running statistics, exactly as
// BatchNormOp computes in eval mode (its scale and bias are separate ops
// after it). The new graph holds this op instead of sharing Gorgonia's
// stateful op with the original graph: a training-mode VM would reset the
// shared op's running statistics.
type frozenBNOp struct {
	id          uint64
	alpha, beta []float32
}

// bnStats reads a BatchNormOp's running statistics and eps (the latter by
// reflection: BatchNormOp has no accessor for it).
func bnStats(op *gorgonia.BatchNormOp) (mean, variance []float32, eps float64, err error) {
	m, v := op.Stats()
	md, ok1 := m.(*tensor.Dense)
	vd, ok2 := v.(*tensor.Dense)
	e, ok3 := field(op, "epsilon")
	if !ok1 || !ok2 || md == nil || vd == nil || !ok3 || e.Kind() != reflect.Float64 {
		return nil, nil, 0, fmt.Errorf("batch norm op has no running statistics or eps (not built by gorgonia.BatchNorm?)")
	}
	if md.Dtype() != tensor.Float32 || vd.Dtype() != tensor.Float32 || md.Size() != vd.Size() || md.RequiresIterator() || vd.RequiresIterator() {
		return nil, nil, 0, fmt.Errorf("batch norm statistics are not two contiguous float32 vectors of one length")
	}
	return append([]float32(nil), md.Float32s()...), append([]float32(nil), vd.Float32s()...), e.Float(), nil
}

func newFrozenBN(op *gorgonia.BatchNormOp) (*frozenBNOp, error) {
	m, v, eps, err := bnStats(op)
	if err != nil {
		return nil, err
	}
	f := &frozenBNOp{id: frozenIDs.Add(1), alpha: make([]float32, len(m)), beta: make([]float32, len(m))}
	for c := range m {
		f.alpha[c] = 1 / math32.Sqrt(v[c]+float32(eps))
		f.beta[c] = -m[c] * f.alpha[c]
	}
	return f, nil
}

func (op *frozenBNOp) Arity() int { return 1 }

func (op *frozenBNOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}

func (op *frozenBNOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(ds) != 1 {
		return nil, fmt.Errorf("graphmode: batch norm: %d inputs, want 1", len(ds))
	}
	s, ok := ds[0].(tensor.Shape)
	if !ok || len(s) < 2 || s[1] != len(op.alpha) {
		return nil, fmt.Errorf("graphmode: batch norm: input shape %v, want (N, %d, …)", ds[0], len(op.alpha))
	}
	return s.Clone(), nil
}

func (op *frozenBNOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("graphmode: batch norm: %d inputs, want 1", len(inputs))
	}
	d, ok := inputs[0].(*tensor.Dense)
	if !ok || d.Dtype() != tensor.Float32 || d.Dims() < 2 || d.Shape()[1] != len(op.alpha) {
		return nil, fmt.Errorf("graphmode: batch norm: input is %T %v, want float32 (N, %d, …)", inputs[0], inputs[0].Shape(), len(op.alpha))
	}
	if d.RequiresIterator() {
		d = d.Materialize().(*tensor.Dense)
	}
	s := d.Shape()
	c := s[1]
	inner := s.TotalSize() / (s[0] * c)
	x := d.Float32s()
	y := make([]float32, len(x))
	for i := range x {
		ch := (i / inner) % c
		y[i] = float32(x[i]*op.alpha[ch]) + op.beta[ch]
	}
	return tensor.New(tensor.WithShape(s.Clone()...), tensor.WithBacking(y)), nil
}

func (op *frozenBNOp) ReturnsPtr() bool     { return false }
func (op *frozenBNOp) CallsExtern() bool    { return false }
func (op *frozenBNOp) OverwritesInput() int { return -1 }
func (op *frozenBNOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "qgorgonia.graphmode.FrozenBatchNorm#%d", op.id)
}
func (op *frozenBNOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
func (op *frozenBNOp) String() string            { return fmt.Sprintf("FrozenBatchNorm#%d", op.id) }
func (op *frozenBNOp) DiffWRT(inputs int) []bool { return []bool{false} }
func (op *frozenBNOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return nil, fmt.Errorf("graphmode: frozen batch norm is not differentiable (the graph is for inference)")
}
