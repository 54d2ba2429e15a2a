package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Embedding is torch.nn.Embedding: a lookup table Weight (Num, Dim);
// indices of any shape (int, int64 or int32 node) give an output of shape
// indices.shape + (Dim). Rows at PaddingIdx (when HasPadding) get no
// gradient, as in PyTorch; initialised N(0, 1) with that row zeroed.
type Embedding struct {
	Base
	NumEmbeddings, EmbeddingDim int
	PaddingIdx                  int
	HasPadding                  bool
	Weight                      *Parameter
}

// NewEmbedding returns an Embedding without a padding index.
func NewEmbedding(num, dim int, opts ...Option) (*Embedding, error) {
	if num <= 0 || dim <= 0 {
		return nil, fmt.Errorf("nn: embedding: sizes must be positive (num %d, dim %d)", num, dim)
	}
	o := buildOptions(opts)
	return &Embedding{NumEmbeddings: num, EmbeddingDim: dim, Weight: NewParameter(o.normal(num, dim))}, nil
}

// SetPaddingIdx marks row idx (negative counts from the end) as padding
// and zeroes it, as PyTorch's constructor does.
func (m *Embedding) SetPaddingIdx(idx int) error {
	if idx < 0 {
		idx += m.NumEmbeddings
	}
	if idx < 0 || idx >= m.NumEmbeddings {
		return fmt.Errorf("nn: embedding: padding_idx %d out of range [0, %d)", idx, m.NumEmbeddings)
	}
	m.PaddingIdx, m.HasPadding = idx, true
	w := m.Weight.Data.Float32s()
	clear(w[idx*m.EmbeddingDim : (idx+1)*m.EmbeddingDim])
	return nil
}

// TypeName returns "Embedding".
func (m *Embedding) TypeName() string { return "Embedding" }

// NamedParameters returns weight.
func (m *Embedding) NamedParameters() []Named { return params("weight", m.Weight) }

// NamedBuffers returns nothing.
func (m *Embedding) NamedBuffers() []Named { return nil }

// Clone deep-copies the table.
func (m *Embedding) Clone() Module {
	c := *m
	c.Base = m.cloneBase()
	c.Weight = m.Weight.Clone()
	return &c
}

// Forward looks up the rows of the integer index node idx; an index out of
// [0, Num) is an error when the graph runs.
func (m *Embedding) Forward(idx *gorgonia.Node) (*gorgonia.Node, error) {
	if idx == nil {
		return nil, fmt.Errorf("nn: embedding: input node is nil")
	}
	switch idx.Dtype() {
	case tensor.Int, tensor.Int64, tensor.Int32:
	default:
		return nil, fmt.Errorf("nn: embedding: index dtype %v, want int, int64 or int32", idx.Dtype())
	}
	w, err := m.Weight.Node(idx.Graph())
	if err != nil {
		return nil, err
	}
	pad := -1
	if m.HasPadding {
		pad = m.PaddingIdx
	}
	return gorgonia.ApplyOp(&embeddingOp{num: m.NumEmbeddings, dim: m.EmbeddingDim, pad: pad, idxShape: idx.Shape().Clone(), idxDtype: idx.Dtype()}, w, idx)
}

// embeddingOp gathers rows: out[i…, :] = w[idx[i…], :].
type embeddingOp struct {
	num, dim, pad int
	idxShape      tensor.Shape
	idxDtype      tensor.Dtype
}

var (
	_ gorgonia.SDOp = &embeddingOp{}
	_ gorgonia.ADOp = &embeddingOp{}
	_ gorgonia.SDOp = &embeddingGradOp{}
)

func (op *embeddingOp) outShape() tensor.Shape {
	return append(op.idxShape.Clone(), op.dim)
}

func (op *embeddingOp) Arity() int { return 2 }
func (op *embeddingOp) Type() hm.Type {
	it := hm.Type(op.idxDtype)
	if op.idxShape.Dims() > 0 {
		it = gorgonia.TensorType{Dims: op.idxShape.Dims(), Of: op.idxDtype}
	}
	return hm.NewFnType(f32Type(2), it, f32Type(op.idxShape.Dims()+1))
}
func (op *embeddingOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.outShape(), nil
}

// indices reads an integer value as []int, checking the range.
func (op *embeddingOp) indices(v gorgonia.Value) ([]int, error) {
	var out []int
	add := func(i int64) error {
		if i < 0 || i >= int64(op.num) {
			return fmt.Errorf("nn: embedding: index %d out of range [0, %d)", i, op.num)
		}
		out = append(out, int(i))
		return nil
	}
	switch d := v.(type) {
	case *tensor.Dense:
		if d.RequiresIterator() {
			d = d.Materialize().(*tensor.Dense)
		}
		n := d.Shape().TotalSize()
		switch d.Dtype() {
		case tensor.Int64:
			for _, i := range d.Int64s()[:n] {
				if err := add(i); err != nil {
					return nil, err
				}
			}
		case tensor.Int:
			for _, i := range d.Ints()[:n] {
				if err := add(int64(i)); err != nil {
					return nil, err
				}
			}
		case tensor.Int32:
			for _, i := range d.Int32s()[:n] {
				if err := add(int64(i)); err != nil {
					return nil, err
				}
			}
		default:
			return nil, fmt.Errorf("nn: embedding: index dtype %v, want an integer type", d.Dtype())
		}
	default:
		return nil, fmt.Errorf("nn: embedding: indices are %T, want *tensor.Dense", v)
	}
	return out, nil
}

func (op *embeddingOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, in...)
}

// UsePreallocDo writes into prealloc when it is a float32 tensor of the
// output shape that aliases no input (the tape's register from the
// previous run), else into fresh storage.
func (op *embeddingOp) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("nn: embedding: got %d inputs, want 2", len(in))
	}
	w, err := f32Data("embedding", in[0], tensor.Shape{op.num, op.dim})
	if err != nil {
		return nil, err
	}
	idx, err := op.indices(in[1])
	if err != nil {
		return nil, err
	}
	out := preallocF32(prealloc, op.outShape(), in...)
	y := out.Float32s()
	for k, i := range idx {
		copy(y[k*op.dim:(k+1)*op.dim], w[i*op.dim:(i+1)*op.dim])
	}
	return out, nil
}
func (op *embeddingOp) ReturnsPtr() bool     { return false }
func (op *embeddingOp) CallsExtern() bool    { return false }
func (op *embeddingOp) OverwritesInput() int { return -1 }
func (op *embeddingOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "nn.embedding:%d:%d:%d:%v:%v", op.num, op.dim, op.pad, op.idxShape, op.idxDtype)
}
func (op *embeddingOp) Hashcode() uint32   { return hashOf(op) }
func (op *embeddingOp) String() string     { return fmt.Sprintf("embedding(%d,%d)", op.num, op.dim) }
func (op *embeddingOp) DiffWRT(int) []bool { return []bool{true, false} }
func (op *embeddingOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	d, err := gorgonia.ApplyOp(&embeddingGradOp{op}, inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d, nil}, nil
}
func (op *embeddingOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad("embedding", output)
	if err != nil {
		return err
	}
	idx, err := op.indices(inputs[1].Value())
	if err != nil {
		return err
	}
	return accumulateGrad("embedding", inputs[0], op.scatter(idx, g))
}

// scatter sums gradient rows into a (num, dim) table, skipping padding.
func (op *embeddingOp) scatter(idx []int, g []float32) []float32 {
	dw := make([]float32, op.num*op.dim)
	for k, i := range idx {
		if i == op.pad {
			continue
		}
		row := dw[i*op.dim : (i+1)*op.dim]
		for j, v := range g[k*op.dim : (k+1)*op.dim] {
			row[j] += v
		}
	}
	return dw
}

// embeddingGradOp: (idx, dy) → dW.
type embeddingGradOp struct{ fwd *embeddingOp }

func (op *embeddingGradOp) Arity() int { return 2 }
func (op *embeddingGradOp) Type() hm.Type {
	f := op.fwd.Type().(*hm.FunctionType)
	ts := f.FlatTypes()
	return hm.NewFnType(ts[1], ts[2], f32Type(2))
}
func (op *embeddingGradOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.fwd.num, op.fwd.dim}, nil
}
func (op *embeddingGradOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("nn: embedding grad: got %d inputs, want 2", len(in))
	}
	idx, err := op.fwd.indices(in[0])
	if err != nil {
		return nil, err
	}
	g, err := f32Data("embedding grad", in[1], op.fwd.outShape())
	if err != nil {
		return nil, err
	}
	return tensor.New(tensor.WithShape(op.fwd.num, op.fwd.dim), tensor.WithBacking(op.fwd.scatter(idx, g))), nil
}
func (op *embeddingGradOp) ReturnsPtr() bool     { return false }
func (op *embeddingGradOp) CallsExtern() bool    { return false }
func (op *embeddingGradOp) OverwritesInput() int { return -1 }
func (op *embeddingGradOp) WriteHash(h hash.Hash) {
	fmt.Fprint(h, "grad:")
	op.fwd.WriteHash(h)
}
func (op *embeddingGradOp) Hashcode() uint32   { return hashOf(op) }
func (op *embeddingGradOp) String() string     { return op.fwd.String() + "'" }
func (op *embeddingGradOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op *embeddingGradOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return nil, fmt.Errorf("nn: embedding: second derivatives are not implemented")
}
