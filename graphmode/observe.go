package graphmode

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	"github.com/qgorgonia/qgorgonia/observer"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

var observeIDs atomic.Uint64

// observeOp is the identity on a float32 node that records every value
// passing through it in an observer: PyTorch's activation_post_process
// forward during calibration. It hashes uniquely, so Gorgonia never merges
// two observers of one node.
type observeOp struct {
	id  uint64
	obs observer.Observer
}

// observe returns a node equal to x whose every run records x in obs.
func observe(x *gorgonia.Node, obs observer.Observer) (*gorgonia.Node, error) {
	if x.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("observe %s: dtype %v, want float32", x.Name(), x.Dtype())
	}
	return gorgonia.ApplyOp(&observeOp{id: observeIDs.Add(1), obs: obs}, x)
}

func (op *observeOp) Arity() int { return 1 }

func (op *observeOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}

func (op *observeOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(ds) != 1 {
		return nil, fmt.Errorf("graphmode: observe: %d inputs, want 1", len(ds))
	}
	s, ok := ds[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("graphmode: observe: input shape is %T", ds[0])
	}
	return s.Clone(), nil
}

func (op *observeOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("graphmode: observe: %d inputs, want 1", len(inputs))
	}
	d, ok := inputs[0].(*tensor.Dense)
	if !ok || d.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("graphmode: observe: input is %T, want a float32 *tensor.Dense", inputs[0])
	}
	if err := op.obs.Observe(d); err != nil {
		return nil, fmt.Errorf("graphmode: observe: %w", err)
	}
	return d.Clone().(*tensor.Dense), nil
}

func (op *observeOp) ReturnsPtr() bool      { return false }
func (op *observeOp) CallsExtern() bool     { return false }
func (op *observeOp) OverwritesInput() int  { return -1 }
func (op *observeOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "qgorgonia.graphmode.Observe#%d", op.id) }
func (op *observeOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
func (op *observeOp) String() string            { return fmt.Sprintf("Observe#%d", op.id) }
func (op *observeOp) DiffWRT(inputs int) []bool { return []bool{false} }
func (op *observeOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return nil, fmt.Errorf("graphmode: observe is not differentiable (calibration graphs are for inference)")
}
