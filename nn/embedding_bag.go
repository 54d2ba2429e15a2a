package nn

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// EmbeddingBag is torch.nn.EmbeddingBag: each bag of indices is looked up
// in Weight (Num, Dim) and reduced by Mode "sum", "mean" (default) or
// "max" into one row of the (B, Dim) output. Forward takes fixed-size bags
// (B, L); ForwardOffsets takes a flat index vector with bag start offsets
// and optional per-sample weights (sum mode only), as PyTorch's
// embedding_bag(input, offsets, per_sample_weights). Indices equal to
// PaddingIdx (when HasPadding) are left out of their bag (and of the
// mean's count); empty bags give zeros.
type EmbeddingBag struct {
	Base
	NumEmbeddings, EmbeddingDim int
	Mode                        string
	PaddingIdx                  int
	HasPadding                  bool
	Weight                      *Parameter
}

// NewEmbeddingBag returns an EmbeddingBag with mode "sum", "mean" or "max",
// initialised N(0, 1).
func NewEmbeddingBag(num, dim int, mode string, opts ...Option) (*EmbeddingBag, error) {
	if num <= 0 || dim <= 0 {
		return nil, fmt.Errorf("nn: embedding_bag: sizes must be positive (num %d, dim %d)", num, dim)
	}
	if _, err := bagMode(mode); err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	return &EmbeddingBag{NumEmbeddings: num, EmbeddingDim: dim, Mode: mode, Weight: NewParameter(o.normal(num, dim))}, nil
}

func bagMode(mode string) (int, error) {
	switch mode {
	case "sum":
		return 0, nil
	case "mean", "":
		return 1, nil
	case "max":
		return 2, nil
	}
	return 0, fmt.Errorf("nn: embedding_bag: mode %q (sum, mean or max)", mode)
}

// SetPaddingIdx marks row idx (negative counts from the end) as padding
// and zeroes it, as PyTorch's constructor does.
func (m *EmbeddingBag) SetPaddingIdx(idx int) error {
	if idx < 0 {
		idx += m.NumEmbeddings
	}
	if idx < 0 || idx >= m.NumEmbeddings {
		return fmt.Errorf("nn: embedding_bag: padding_idx %d out of range [0, %d)", idx, m.NumEmbeddings)
	}
	m.PaddingIdx, m.HasPadding = idx, true
	clear(m.Weight.Data.Float32s()[idx*m.EmbeddingDim : (idx+1)*m.EmbeddingDim])
	return nil
}

// TypeName returns "EmbeddingBag".
func (m *EmbeddingBag) TypeName() string { return "EmbeddingBag" }

// NamedParameters returns weight.
func (m *EmbeddingBag) NamedParameters() []Named { return params("weight", m.Weight) }

// NamedBuffers returns nothing.
func (m *EmbeddingBag) NamedBuffers() []Named { return nil }

// Clone deep-copies the table.
func (m *EmbeddingBag) Clone() Module {
	c := *m
	c.Base = m.cloneBase()
	c.Weight = m.Weight.Clone()
	return &c
}

func isIndexDtype(dt tensor.Dtype) bool {
	return dt == tensor.Int || dt == tensor.Int64 || dt == tensor.Int32
}

// Forward reduces fixed-size bags: idx (B, L) integer node → (B, Dim).
func (m *EmbeddingBag) Forward(idx *gorgonia.Node) (*gorgonia.Node, error) {
	if idx == nil || !isIndexDtype(idx.Dtype()) || idx.Shape().Dims() != 2 {
		return nil, fmt.Errorf("nn: embedding_bag: Forward wants a (B, L) int, int64 or int32 index node, got %v", idx)
	}
	s := idx.Shape()
	return m.build(idx, nil, nil, s[0], s[1])
}

// ForwardOffsets reduces bags given as a flat index vector idx (N) and
// bag starts offsets (B), both integer nodes; psw, if not nil, is a float32
// (N) node of per-sample weights (mode "sum" only).
func (m *EmbeddingBag) ForwardOffsets(idx, offsets, psw *gorgonia.Node) (*gorgonia.Node, error) {
	for _, n := range []*gorgonia.Node{idx, offsets} {
		if n == nil || !isIndexDtype(n.Dtype()) || n.Shape().Dims() != 1 {
			return nil, fmt.Errorf("nn: embedding_bag: indices and offsets must be 1-d int, int64 or int32 nodes, got %v", n)
		}
	}
	if psw != nil {
		if m.Mode != "sum" {
			return nil, fmt.Errorf("nn: embedding_bag: per-sample weights need mode sum, not %q", m.Mode)
		}
		if err := checkF32Node("embedding_bag", psw, 1); err != nil {
			return nil, err
		}
		if psw.Shape()[0] != idx.Shape()[0] {
			return nil, fmt.Errorf("nn: embedding_bag: %d per-sample weights for %d indices", psw.Shape()[0], idx.Shape()[0])
		}
	}
	return m.build(idx, offsets, psw, offsets.Shape()[0], 0)
}

func (m *EmbeddingBag) build(idx, offsets, psw *gorgonia.Node, bags, fixed int) (*gorgonia.Node, error) {
	mode, err := bagMode(m.Mode)
	if err != nil {
		return nil, err
	}
	w, err := m.Weight.Node(idx.Graph())
	if err != nil {
		return nil, err
	}
	pad := -1
	if m.HasPadding {
		pad = m.PaddingIdx
	}
	op := &bagOp{num: m.NumEmbeddings, dim: m.EmbeddingDim, mode: mode, pad: pad, bags: bags, fixed: fixed, n: idx.Shape().TotalSize()}
	ins := gorgonia.Nodes{w, idx}
	op.idxT = idx.Type()
	if offsets != nil {
		ins = append(ins, offsets)
		op.offT = offsets.Type()
	}
	if psw != nil {
		ins = append(ins, psw)
		op.psw = true
	}
	return gorgonia.ApplyOp(op, ins...)
}

// bagOp: inputs (weight, idx[, offsets][, psw]) → (bags, dim).
type bagOp struct {
	num, dim, mode, pad int
	bags, fixed, n      int
	idxT, offT          hm.Type
	psw                 bool
}

var (
	_ gorgonia.SDOp = &bagOp{}
	_ gorgonia.ADOp = &bagOp{}
)

func (op *bagOp) Arity() int {
	a := 2
	if op.offT != nil {
		a++
	}
	if op.psw {
		a++
	}
	return a
}
func (op *bagOp) Type() hm.Type {
	ts := []hm.Type{f32Type(2), op.idxT}
	if op.offT != nil {
		ts = append(ts, op.offT)
	}
	if op.psw {
		ts = append(ts, f32Type(1))
	}
	return hm.NewFnType(append(ts, f32Type(2))...)
}
func (op *bagOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.bags, op.dim}, nil
}

// layout reads the indices, the bag bounds and the per-sample weights.
func (op *bagOp) layout(in []gorgonia.Value) (idx, starts []int, psw []float32, err error) {
	e := &embeddingOp{num: op.num}
	if idx, err = e.indices(in[1]); err != nil {
		return nil, nil, nil, fmt.Errorf("nn: embedding_bag: %w", err)
	}
	starts = make([]int, op.bags+1)
	if op.offT == nil {
		for b := range starts {
			starts[b] = b * op.fixed
		}
	} else {
		oe := &embeddingOp{num: len(idx) + 1}
		offs, err := oe.indices(in[2])
		if err != nil {
			return nil, nil, nil, fmt.Errorf("nn: embedding_bag: offsets: %w", err)
		}
		if len(offs) > 0 && offs[0] != 0 {
			return nil, nil, nil, fmt.Errorf("nn: embedding_bag: offsets must start at 0, got %d", offs[0])
		}
		copy(starts, offs)
		starts[op.bags] = len(idx)
		for b := 0; b < op.bags; b++ {
			if starts[b] > starts[b+1] {
				return nil, nil, nil, fmt.Errorf("nn: embedding_bag: offsets %v decrease", offs)
			}
		}
	}
	if op.psw {
		if psw, err = f32Data("embedding_bag", in[len(in)-1], tensor.Shape{op.n}); err != nil {
			return nil, nil, nil, err
		}
	}
	return idx, starts, psw, nil
}

// forward fills y and, in max mode, arg with the winning index position
// per (bag, feature) (−1 for none).
func (op *bagOp) forward(y []float32, arg []int, w []float32, idx, starts []int, psw []float32) {
	D := op.dim
	for b := 0; b < op.bags; b++ {
		row := y[b*D : (b+1)*D]
		clear(row)
		count := 0
		if op.mode == 2 {
			for j := range row {
				row[j] = float32(math.Inf(-1))
				arg[b*D+j] = -1
			}
		}
		for p := starts[b]; p < starts[b+1]; p++ {
			i := idx[p]
			if i == op.pad {
				continue
			}
			count++
			src := w[i*D : (i+1)*D]
			switch {
			case op.mode == 2:
				for j, v := range src {
					if arg[b*D+j] < 0 || v > row[j] {
						row[j], arg[b*D+j] = v, p
					}
				}
			case psw != nil:
				for j, v := range src {
					row[j] += float32(v * psw[p])
				}
			default:
				for j, v := range src {
					row[j] += v
				}
			}
		}
		switch {
		case op.mode == 2 && count == 0:
			clear(row)
		case op.mode == 1 && count > 0:
			for j := range row {
				row[j] /= float32(count)
			}
		}
	}
}

// backward returns dW and, with per-sample weights, dpsw.
func (op *bagOp) backward(g, w []float32, arg []int, idx, starts []int, psw []float32) (dw, dpsw []float32) {
	D := op.dim
	dw = make([]float32, op.num*D)
	if psw != nil {
		dpsw = make([]float32, len(psw))
	}
	for b := 0; b < op.bags; b++ {
		gr := g[b*D : (b+1)*D]
		if op.mode == 2 {
			for j := 0; j < D; j++ {
				if p := arg[b*D+j]; p >= 0 {
					dw[idx[p]*D+j] += gr[j]
				}
			}
			continue
		}
		count := 0
		for p := starts[b]; p < starts[b+1]; p++ {
			if idx[p] != op.pad {
				count++
			}
		}
		for p := starts[b]; p < starts[b+1]; p++ {
			i := idx[p]
			if i == op.pad {
				continue
			}
			scale := float32(1)
			if op.mode == 1 {
				scale = 1 / float32(count)
			}
			if psw != nil {
				scale = psw[p]
				var dot float32
				for j, v := range w[i*D : (i+1)*D] {
					dot += float32(v * gr[j])
				}
				dpsw[p] = dot
			}
			dst := dw[i*D : (i+1)*D]
			for j, v := range gr {
				dst[j] += float32(v * scale)
			}
		}
	}
	return dw, dpsw
}

func (op *bagOp) run(in []gorgonia.Value) (y []float32, arg, idx, starts []int, w, psw []float32, err error) {
	if len(in) != op.Arity() {
		return nil, nil, nil, nil, nil, nil, fmt.Errorf("nn: embedding_bag: got %d inputs, want %d", len(in), op.Arity())
	}
	if w, err = f32Data("embedding_bag", in[0], tensor.Shape{op.num, op.dim}); err != nil {
		return
	}
	if idx, starts, psw, err = op.layout(in); err != nil {
		return
	}
	y = make([]float32, op.bags*op.dim)
	if op.mode == 2 {
		arg = make([]int, op.bags*op.dim)
	}
	op.forward(y, arg, w, idx, starts, psw)
	return
}

func (op *bagOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	y, _, _, _, _, _, err := op.run(in)
	if err != nil {
		return nil, err
	}
	return tensor.New(tensor.WithShape(op.bags, op.dim), tensor.WithBacking(y)), nil
}
func (op *bagOp) ReturnsPtr() bool     { return false }
func (op *bagOp) CallsExtern() bool    { return false }
func (op *bagOp) OverwritesInput() int { return -1 }
func (op *bagOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "nn.embedding_bag:%d:%d:%d:%d:%d:%d:%d:%v:%v:%v", op.num, op.dim, op.mode, op.pad, op.bags, op.fixed, op.n, op.idxT, op.offT, op.psw)
}
func (op *bagOp) Hashcode() uint32 { return hashOf(op) }
func (op *bagOp) String() string   { return fmt.Sprintf("embedding_bag(%d,%d)", op.num, op.dim) }
func (op *bagOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	d[0] = true
	if op.psw {
		d[n-1] = true
	}
	return d
}
func (op *bagOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	ds := make(gorgonia.Nodes, len(inputs))
	dw, err := gorgonia.ApplyOp(&bagGradOp{fwd: op, psw: false}, append(append(gorgonia.Nodes{}, inputs...), grad)...)
	if err != nil {
		return nil, err
	}
	ds[0] = dw
	if op.psw {
		if ds[len(ds)-1], err = gorgonia.ApplyOp(&bagGradOp{fwd: op, psw: true}, append(append(gorgonia.Nodes{}, inputs...), grad)...); err != nil {
			return nil, err
		}
	}
	return ds, nil
}
func (op *bagOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad("embedding_bag", output)
	if err != nil {
		return err
	}
	vals := make([]gorgonia.Value, len(inputs))
	for i, n := range inputs {
		vals[i] = n.Value()
	}
	_, arg, idx, starts, w, psw, err := op.run(vals)
	if err != nil {
		return err
	}
	dw, dpsw := op.backward(g, w, arg, idx, starts, psw)
	if err := accumulateGrad("embedding_bag", inputs[0], dw); err != nil {
		return err
	}
	if op.psw {
		return accumulateGrad("embedding_bag", inputs[len(inputs)-1], dpsw)
	}
	return nil
}

// bagGradOp: (forward inputs…, dy) → dW, or dpsw when psw is set.
type bagGradOp struct {
	fwd *bagOp
	psw bool
}

func (op *bagGradOp) Arity() int { return op.fwd.Arity() + 1 }
func (op *bagGradOp) Type() hm.Type {
	ts := op.fwd.Type().(*hm.FunctionType).FlatTypes()
	ins := append([]hm.Type(nil), ts[:len(ts)-1]...)
	ins = append(ins, f32Type(2))
	if op.psw {
		return hm.NewFnType(append(ins, f32Type(1))...)
	}
	return hm.NewFnType(append(ins, f32Type(2))...)
}
func (op *bagGradOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	if op.psw {
		return tensor.Shape{op.fwd.n}, nil
	}
	return tensor.Shape{op.fwd.num, op.fwd.dim}, nil
}
func (op *bagGradOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("nn: embedding_bag grad: got %d inputs, want %d", len(in), op.Arity())
	}
	_, arg, idx, starts, w, psw, err := op.fwd.run(in[:len(in)-1])
	if err != nil {
		return nil, err
	}
	g, err := f32Data("embedding_bag grad", in[len(in)-1], tensor.Shape{op.fwd.bags, op.fwd.dim})
	if err != nil {
		return nil, err
	}
	dw, dpsw := op.fwd.backward(g, w, arg, idx, starts, psw)
	if op.psw {
		return tensor.New(tensor.WithShape(op.fwd.n), tensor.WithBacking(dpsw)), nil
	}
	return tensor.New(tensor.WithShape(op.fwd.num, op.fwd.dim), tensor.WithBacking(dw)), nil
}
func (op *bagGradOp) ReturnsPtr() bool     { return false }
func (op *bagGradOp) CallsExtern() bool    { return false }
func (op *bagGradOp) OverwritesInput() int { return -1 }
func (op *bagGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "grad%v:", op.psw)
	op.fwd.WriteHash(h)
}
func (op *bagGradOp) Hashcode() uint32     { return hashOf(op) }
func (op *bagGradOp) String() string       { return op.fwd.String() + "'" }
func (op *bagGradOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *bagGradOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return nil, fmt.Errorf("nn: embedding_bag: second derivatives are not implemented")
}
