package eager

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	"github.com/qgorgonia/qgorgonia/fake"
	"github.com/qgorgonia/qgorgonia/observer"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

var observeIDs atomic.Uint64

// observeOp is the graph op of an activation observer: the identity on a
// float32 node that records its value in the observer every time the graph
// runs (PyTorch's activation_post_process forward during calibration). It
// is differentiable (the identity's gradient) and hashes uniquely so that
// two observers on one node never merge.
type observeOp struct {
	id  uint64
	obs observer.Observer
}

// Observe returns a node equal to x whose every run records x in obs.
// x must be a float32 node.
func Observe(x *gorgonia.Node, obs observer.Observer) (*gorgonia.Node, error) {
	if x == nil || obs == nil {
		return nil, fmt.Errorf("eager: observe: nil node or observer")
	}
	if x.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("eager: observe: node %s has dtype %v; observers watch float32 values (is the module already quantized?)", x.Name(), x.Dtype())
	}
	y, err := gorgonia.ApplyOp(&observeOp{id: observeIDs.Add(1), obs: obs}, x)
	if err != nil {
		return nil, fmt.Errorf("eager: observe: %w", err)
	}
	return y, nil
}

func (op *observeOp) Arity() int { return 1 }

func (op *observeOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}

func (op *observeOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(ds) != 1 {
		return nil, fmt.Errorf("eager: observe: %d inputs, want 1", len(ds))
	}
	s, ok := ds[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("eager: observe: input shape is %T", ds[0])
	}
	return s.Clone(), nil
}

func (op *observeOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("eager: observe: %d inputs, want 1", len(inputs))
	}
	d, ok := inputs[0].(*tensor.Dense)
	if !ok || d.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("eager: observe: input is %T of dtype %v, want a float32 *tensor.Dense", inputs[0], inputs[0].Dtype())
	}
	if err := op.obs.Observe(d); err != nil {
		return nil, fmt.Errorf("eager: observe: %w", err)
	}
	return d.Clone().(*tensor.Dense), nil
}

func (op *observeOp) ReturnsPtr() bool      { return false }
func (op *observeOp) CallsExtern() bool     { return false }
func (op *observeOp) OverwritesInput() int  { return -1 }
func (op *observeOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "qgorgonia.eager.Observe#%d", op.id) }
func (op *observeOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
func (op *observeOp) String() string            { return fmt.Sprintf("Observe#%d", op.id) }
func (op *observeOp) DiffWRT(inputs int) []bool { return []bool{true} }
func (op *observeOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return gorgonia.Nodes{grad}, nil
}

// applyPostProcess runs an activation post-process on the node x: an
// observer op for observers, a FakeQuantize op for fake quantizers.
func applyPostProcess(x *gorgonia.Node, p *PostProcess) (*gorgonia.Node, error) {
	if p.FakeQuant != nil {
		if x != nil && x.Dtype() != tensor.Float32 {
			return nil, fmt.Errorf("eager: fake quantize: node %s has dtype %v, want float32", x.Name(), x.Dtype())
		}
		y, _, err := fake.FakeQuantize(x, p.FakeQuant)
		return y, err
	}
	return Observe(x, p.Observer)
}
