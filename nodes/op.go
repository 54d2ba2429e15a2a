package nodes

import (
	"fmt"
	"hash"
	"hash/fnv"
	"strings"
	"sync/atomic"

	"github.com/chewxy/hm"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// port describes one input or the output of a node op, fixed when the node
// is built: its dtype, its shape and, for quantized ports, its qparams.
type port struct {
	dt    tensor.Dtype
	shape tensor.Shape
	quant bool
	qp    qdtype.QParams
	typ   hm.Type // the Gorgonia type of the port
}

// operand is a run-time value at a port: q for quantized ports, f (float32)
// otherwise. Both are contiguous.
type operand struct {
	q *qtensor.QTensor
	f *tensor.Dense
}

// computeFunc computes a node's output from its validated inputs. It must
// not modify its inputs.
type computeFunc func(args []operand) (operand, error)

// Op is the single Gorgonia op type behind every builder of this package: a
// named quantized computation with fixed arity, input and output dtypes,
// shapes and qparams (all fixed at build time, see the builders), and a
// compute function over QTensors that calls package ops.
//
// Op implements gorgonia.Op, gorgonia.SDOp (not differentiable: DiffWRT is
// all false and SymDiff returns an error) and gorgonia.UsePreallocDoer.
// Do never panics: inputs are checked against the build-time dtypes and
// shapes, and a panic below is recovered and returned as an error. Its
// output never shares memory with its inputs.
type Op struct {
	name   string // PyTorch-like op name, e.g. "QLinear"
	params string // canonical description of the fixed parameters
	id     uint64 // non-zero for ops holding state (weights), unique per op
	ins    []port
	out    port
	fn     computeFunc
}

var (
	_ gorgonia.Op              = (*Op)(nil)
	_ gorgonia.SDOp            = (*Op)(nil)
	_ gorgonia.UsePreallocDoer = (*Op)(nil)
)

// nextID numbers the stateful ops so that hash-consing never merges two of
// them (research note P5).
var nextID atomic.Uint64

func newID() uint64 { return nextID.Add(1) }

// Name returns the op's name, e.g. "QConv2d".
func (o *Op) Name() string { return o.name }

// QParams returns a copy of the output's qparams; ok is false for ops with
// a float32 output (Dequantize and the dynamic ops).
func (o *Op) QParams() (qp qdtype.QParams, ok bool) {
	if !o.out.quant {
		return qdtype.QParams{}, false
	}
	return o.out.qp.Clone(), true
}

// OutputDtype returns the dtype of the op's output.
func (o *Op) OutputDtype() tensor.Dtype { return o.out.dt }

// OutputShape returns (a copy of) the shape of the op's output.
func (o *Op) OutputShape() tensor.Shape { return o.out.shape.Clone() }

// Arity is the number of inputs, fixed at build time.
func (o *Op) Arity() int { return len(o.ins) }

// Type returns the function type in1 → … → out with concrete dtypes, so a
// float32 node where a quantized one is expected fails type inference.
func (o *Op) Type() hm.Type {
	ts := make([]hm.Type, 0, len(o.ins)+1)
	for _, p := range o.ins {
		ts = append(ts, p.typ)
	}
	ts = append(ts, o.out.typ)
	return hm.NewFnType(ts...)
}

// InferShape checks the input shapes against the build-time shapes and
// returns the output shape.
func (o *Op) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(ds) != len(o.ins) {
		return nil, fmt.Errorf("nodes: %s: %d input shapes, want %d", o.name, len(ds), len(o.ins))
	}
	for i, d := range ds {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("nodes: %s: input %d has a %T for a shape", o.name, i, d)
		}
		if !shapeEq(s, o.ins[i].shape) {
			return nil, fmt.Errorf("nodes: %s: input %d has shape %v, the op was built for %v", o.name, i, s, o.ins[i].shape)
		}
	}
	return o.out.shape.Clone(), nil
}

// Do computes the output into a new tensor. Inputs must be *tensor.Dense
// values of the build-time dtypes and shapes (views are materialized);
// anything else is an error.
func (o *Op) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	out, err := o.run(inputs)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReturnsPtr is false: the output is always new memory.
func (o *Op) ReturnsPtr() bool { return false }

// CallsExtern is false.
func (o *Op) CallsExtern() bool { return false }

// OverwritesInput is -1: no input is ever written.
func (o *Op) OverwritesInput() int { return -1 }

// WriteHash writes the op's name, parameters, port dtypes, shapes and
// qparams, and for stateful ops a unique id, so that two ops hash equal
// only if they compute the same function.
func (o *Op) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "qgorgonia/nodes.%s{%s}#%d", o.name, o.params, o.id)
	for _, p := range append(append([]port(nil), o.ins...), o.out) {
		fmt.Fprintf(h, "|%s%v", qdtype.Name(p.dt), []int(p.shape))
		if p.quant {
			fmt.Fprintf(h, "%s", p.qp.String())
		}
	}
}

// Hashcode returns the FNV-1a hash of WriteHash.
func (o *Op) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

// String describes the op for graph dumps and error messages.
func (o *Op) String() string {
	if o.params == "" {
		return o.name
	}
	return o.name + "{" + o.params + "}"
}

// DiffWRT reports that no input is differentiable: quantized ops are
// inference ops (use package fake for quantization-aware training).
func (o *Op) DiffWRT(inputs int) []bool { return make([]bool, inputs) }

// SymDiff always returns an error: quantized ops have no gradient.
func (o *Op) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return nil, fmt.Errorf("nodes: %s is not differentiable; use package fake for quantization-aware training", o.name)
}

// UsePreallocDo computes the output and copies it into prealloc, which must
// be a contiguous, non-view *tensor.Dense of the output's dtype and shape
// that shares no memory with any input; otherwise it returns an error and
// leaves prealloc untouched. Its effects equal Do's.
func (o *Op) UsePreallocDo(prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	p, ok := prealloc.(*tensor.Dense)
	if !ok || p == nil {
		return nil, fmt.Errorf("nodes: %s: preallocated value is a %T, want *tensor.Dense", o.name, prealloc)
	}
	if p.Dtype() != o.out.dt {
		return nil, fmt.Errorf("nodes: %s: preallocated value has dtype %s, want %s", o.name, qdtype.Name(p.Dtype()), qdtype.Name(o.out.dt))
	}
	if !shapeEq(p.Shape(), o.out.shape) {
		return nil, fmt.Errorf("nodes: %s: preallocated value has shape %v, want %v", o.name, p.Shape(), o.out.shape)
	}
	if p.IsView() || p.RequiresIterator() {
		return nil, fmt.Errorf("nodes: %s: preallocated value is a view", o.name)
	}
	nbytes := o.out.shape.TotalSize() * int(o.out.dt.Size())
	if len(p.Uint8s()) < nbytes {
		return nil, fmt.Errorf("nodes: %s: preallocated value holds %d bytes, want %d", o.name, len(p.Uint8s()), nbytes)
	}
	for i, v := range inputs {
		if d, ok := v.(*tensor.Dense); ok && d != nil && overlaps(p, d) {
			return nil, fmt.Errorf("nodes: %s: preallocated value shares memory with input %d", o.name, i)
		}
	}
	out, err := o.run(inputs)
	if err != nil {
		return nil, err
	}
	copy(p.Uint8s()[:nbytes], out.Uint8s()[:nbytes])
	return p, nil
}

// run validates the inputs, calls the compute function with a recover
// guard (research note P1), and checks its result against the output port.
func (o *Op) run(inputs []gorgonia.Value) (out *tensor.Dense, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("nodes: %s: internal error (recovered panic): %v", o.name, r)
		}
	}()
	if len(inputs) != len(o.ins) {
		return nil, fmt.Errorf("nodes: %s: %d inputs, want %d", o.name, len(inputs), len(o.ins))
	}
	args := make([]operand, len(inputs))
	for i, v := range inputs {
		d, ok := v.(*tensor.Dense)
		if !ok || d == nil {
			return nil, fmt.Errorf("nodes: %s: input %d is a %T, want a *tensor.Dense", o.name, i, v)
		}
		p := &o.ins[i]
		if d.Dtype() != p.dt {
			return nil, fmt.Errorf("nodes: %s: input %d has dtype %s, want %s", o.name, i, qdtype.Name(d.Dtype()), qdtype.Name(p.dt))
		}
		if !shapeEq(d.Shape(), p.shape) {
			return nil, fmt.Errorf("nodes: %s: input %d has shape %v, want %v", o.name, i, d.Shape(), p.shape)
		}
		if d.RequiresIterator() && p.shape.TotalSize() > 0 {
			m, ok := d.Materialize().(*tensor.Dense)
			if !ok {
				return nil, fmt.Errorf("nodes: %s: input %d: cannot materialize a view", o.name, i)
			}
			d = m
		}
		if p.quant {
			q, err := wrapQ(d, p.qp)
			if err != nil {
				return nil, fmt.Errorf("nodes: %s: input %d: %w", o.name, i, err)
			}
			args[i].q = q
		} else {
			args[i].f = d
		}
	}
	res, err := o.fn(args)
	if err != nil {
		return nil, o.wrap(err)
	}
	if o.out.quant {
		if res.q == nil {
			return nil, fmt.Errorf("nodes: %s: internal error: no quantized result", o.name)
		}
		if qp := res.q.QParams(); !qp.Equal(o.out.qp) {
			return nil, fmt.Errorf("nodes: %s: result has qparams %v, the node was built for %v", o.name, qp, o.out.qp)
		}
		out = res.q.Dense()
	} else {
		if res.f == nil {
			return nil, fmt.Errorf("nodes: %s: internal error: no float result", o.name)
		}
		out = res.f
	}
	if out.Dtype() != o.out.dt || !shapeEq(out.Shape(), o.out.shape) {
		return nil, fmt.Errorf("nodes: %s: result is %s%v, the node was built for %s%v", o.name,
			qdtype.Name(out.Dtype()), out.Shape(), qdtype.Name(o.out.dt), o.out.shape)
	}
	if (out.RequiresIterator() || out.IsView()) && o.out.shape.TotalSize() > 0 {
		m, ok := out.Materialize().(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("nodes: %s: internal error: cannot materialize the result", o.name)
		}
		out = m
	}
	for _, v := range inputs {
		if d, ok := v.(*tensor.Dense); ok && overlaps(out, d) {
			out = out.Clone().(*tensor.Dense)
			break
		}
	}
	return out, nil
}

// probe runs the compute function once on zero-filled inputs of the given
// shapes (the build-time shapes, or cheaper ones with batch 1) so that the
// ops function validates the arguments exactly as it will at run time, and
// returns its result's shape and qparams.
func (o *Op) probe(shapes []tensor.Shape) (tensor.Shape, qdtype.QParams, error) {
	vals := make([]*tensor.Dense, len(o.ins))
	for i, p := range o.ins {
		s := p.shape
		if shapes != nil && shapes[i] != nil {
			s = shapes[i]
		}
		vals[i] = zeroDense(p.dt, s)
	}
	res, err := o.probeRun(vals)
	if err != nil {
		return nil, qdtype.QParams{}, o.wrap(err)
	}
	if res.q != nil {
		return res.q.Shape(), res.q.QParams(), nil
	}
	if res.f == nil {
		return nil, qdtype.QParams{}, fmt.Errorf("nodes: %s: internal error: no result", o.name)
	}
	if res.f.Dtype() != tensor.Float32 {
		return nil, qdtype.QParams{}, fmt.Errorf("nodes: %s: internal error: float result has dtype %v", o.name, res.f.Dtype())
	}
	return res.f.Shape().Clone(), qdtype.QParams{}, nil
}

// probeRun is run without the output checks (the output port is not known
// yet).
func (o *Op) probeRun(inputs []*tensor.Dense) (res operand, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = operand{}, fmt.Errorf("nodes: %s: internal error (recovered panic): %v", o.name, r)
		}
	}()
	args := make([]operand, len(inputs))
	for i, d := range inputs {
		if o.ins[i].quant {
			q, err := wrapQ(d, o.ins[i].qp)
			if err != nil {
				return operand{}, fmt.Errorf("nodes: %s: input %d: %w", o.name, i, err)
			}
			args[i].q = q
		} else {
			args[i].f = d
		}
	}
	return o.fn(args)
}

// wrapQ wraps a contiguous Dense as a QTensor. Empty tensors, which
// tensor reports as needing an iterator, get fresh empty storage.
func wrapQ(d *tensor.Dense, qp qdtype.QParams) (*qtensor.QTensor, error) {
	if d.Shape().TotalSize() == 0 {
		return qtensor.Empty(d.Shape(), qp)
	}
	return qtensor.New(d, qp)
}

// wrap prefixes an error from package ops with the node op's name.
func (o *Op) wrap(err error) error {
	if strings.HasPrefix(err.Error(), "nodes: ") {
		return err
	}
	return fmt.Errorf("nodes: %s: %w", o.name, err)
}

// zeroDense allocates a zero-filled contiguous Dense.
func zeroDense(dt tensor.Dtype, shape tensor.Shape) *tensor.Dense {
	if qdtype.IsQuantized(dt) {
		return qtensor.MustNewDense(dt, shape)
	}
	if len(shape) == 0 {
		return tensor.New(tensor.Of(dt), tensor.WithShape())
	}
	return tensor.New(tensor.Of(dt), tensor.WithShape(shape.Clone()...))
}

// shapeEq compares shapes strictly (tensor.Shape.Eq treats (1, n) and (n)
// as equal).
func shapeEq(a, b tensor.Shape) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// overlaps reports whether two tensors' storage intersects.
func overlaps(a, b *tensor.Dense) bool {
	if a.Shape().TotalSize() == 0 || b.Shape().TotalSize() == 0 || len(a.Uint8s()) == 0 || len(b.Uint8s()) == 0 {
		return false // Uintptr of empty storage panics
	}
	as, ae := a.Uintptr(), a.Uintptr()+a.MemSize()
	bs, be := b.Uintptr(), b.Uintptr()+b.MemSize()
	if as == ae || bs == be {
		return false
	}
	return as < be && bs < ae
}

// typeOf returns the Gorgonia type of a tensor of dtype dt and rank dims.
func typeOf(dt tensor.Dtype, dims int) hm.Type {
	if dims == 0 {
		return dt
	}
	return gorgonia.TensorType{Dims: dims, Of: dt}
}
