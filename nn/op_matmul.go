package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// matmul returns op(a)·op(b) for matrices, op(x) = xᵀ when the flag is
// set: a (M, K) or (K, M), b (K, N) or (N, K) → (M, N). It is the
// package's own op rather than gorgonia.Mul, which turns (1, n) and (n, 1)
// matrices into vectors or a dot product and needs explicit transpose
// nodes; here the transposes are BLAS flags on tensor.MatMul.
func matmul(a, b *gorgonia.Node, transA, transB bool) (*gorgonia.Node, error) {
	if err := checkF32Node("matmul", a, 2); err != nil {
		return nil, err
	}
	if err := checkF32Node("matmul", b, 2); err != nil {
		return nil, err
	}
	as, bs := a.Shape(), b.Shape()
	m, k := as[0], as[1]
	if transA {
		m, k = k, m
	}
	k2, n := bs[0], bs[1]
	if transB {
		k2, n = n, k2
	}
	if k != k2 {
		return nil, fmt.Errorf("nn: matmul: shapes %v%s and %v%s do not chain", as, tflag(transA), bs, tflag(transB))
	}
	return gorgonia.ApplyOp(mmOp{transA: transA, transB: transB, m: m, k: k, n: n}, a, b)
}

func tflag(t bool) string {
	if t {
		return "ᵀ"
	}
	return ""
}

// mmOp: y (m, n) = op(A)·op(B).
type mmOp struct {
	transA, transB bool
	m, k, n        int
}

var (
	_ gorgonia.SDOp            = mmOp{}
	_ gorgonia.ADOp            = mmOp{}
	_ gorgonia.UsePreallocDoer = mmOp{}
)

func (op mmOp) shapeA() tensor.Shape {
	if op.transA {
		return tensor.Shape{op.k, op.m}
	}
	return tensor.Shape{op.m, op.k}
}

func (op mmOp) shapeB() tensor.Shape {
	if op.transB {
		return tensor.Shape{op.n, op.k}
	}
	return tensor.Shape{op.k, op.n}
}

// header wraps data in a fresh Dense (so T() never touches the caller's
// tensor), transposed lazily when t is set.
func header(data []float32, s tensor.Shape, t bool) *tensor.Dense {
	d := tensor.New(tensor.WithShape(s...), tensor.WithBacking(data))
	if t {
		d.T()
	}
	return d
}

// compute writes op(A)·op(B) into out.
func (op mmOp) compute(out *tensor.Dense, a, b []float32) error {
	if op.m == 0 || op.n == 0 {
		return nil
	}
	if op.k == 0 {
		clear(out.Float32s())
		return nil
	}
	_, err := tensor.MatMul(header(a, op.shapeA(), op.transA), header(b, op.shapeB(), op.transB), tensor.WithReuse(out))
	if err != nil {
		return fmt.Errorf("nn: matmul: %w", err)
	}
	return nil
}

func (op mmOp) Arity() int    { return 2 }
func (op mmOp) Type() hm.Type { return hm.NewFnType(f32Type(2), f32Type(2), f32Type(2)) }
func (op mmOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.m, op.n}, nil
}
func (op mmOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes into prealloc when it is a float32 (m, n) tensor
// that aliases no input, else into fresh storage.
func (op mmOp) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("nn: matmul: got %d inputs, want 2", len(in))
	}
	a, err := f32Data("matmul", in[0], op.shapeA())
	if err != nil {
		return nil, err
	}
	b, err := f32Data("matmul", in[1], op.shapeB())
	if err != nil {
		return nil, err
	}
	out := preallocF32(prealloc, tensor.Shape{op.m, op.n}, in...)
	if err := op.compute(out, a, b); err != nil {
		return nil, err
	}
	return out, nil
}
func (op mmOp) ReturnsPtr() bool     { return false }
func (op mmOp) CallsExtern() bool    { return false }
func (op mmOp) OverwritesInput() int { return -1 }
func (op mmOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "nn.matmul:%v:%v:%d:%d:%d", op.transA, op.transB, op.m, op.k, op.n)
}
func (op mmOp) Hashcode() uint32 { return hashOf(op) }
func (op mmOp) String() string {
	return fmt.Sprintf("A%s·B%s", tflag(op.transA), tflag(op.transB))
}
func (op mmOp) DiffWRT(int) []bool { return []bool{true, true} }

// gradOps returns the products giving dA and dB from (A, B, dY):
// for Y = A·B: dA = dY·Bᵀ, dB = Aᵀ·dY; Y = A·Bᵀ: dA = dY·B, dB = dYᵀ·A;
// Y = Aᵀ·B: dA = B·dYᵀ, dB = A·dY; Y = Aᵀ·Bᵀ: dA = Bᵀ·dYᵀ, dB = dYᵀ·Aᵀ.
// Each entry names the two operands (0 A, 1 B, 2 dY) and their flags.
func (op mmOp) gradOps() (da, db [2]struct {
	arg   int
	trans bool
}) {
	type e = struct {
		arg   int
		trans bool
	}
	switch {
	case !op.transA && !op.transB:
		return [2]e{{2, false}, {1, true}}, [2]e{{0, true}, {2, false}}
	case !op.transA && op.transB:
		return [2]e{{2, false}, {1, false}}, [2]e{{2, true}, {0, false}}
	case op.transA && !op.transB:
		return [2]e{{1, false}, {2, true}}, [2]e{{0, false}, {2, false}}
	default:
		return [2]e{{1, true}, {2, true}}, [2]e{{2, true}, {0, true}}
	}
}

func (op mmOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	args := gorgonia.Nodes{inputs[0], inputs[1], grad}
	da, db := op.gradOps()
	dA, err := matmul(args[da[0].arg], args[da[1].arg], da[0].trans, da[1].trans)
	if err != nil {
		return nil, err
	}
	dB, err := matmul(args[db[0].arg], args[db[1].arg], db[0].trans, db[1].trans)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dA, dB}, nil
}

func (op mmOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad("matmul", output)
	if err != nil {
		return err
	}
	a, err := f32Data("matmul", inputs[0].Value(), op.shapeA())
	if err != nil {
		return err
	}
	b, err := f32Data("matmul", inputs[1].Value(), op.shapeB())
	if err != nil {
		return err
	}
	data := [3][]float32{a, b, g}
	shapes := [3]tensor.Shape{op.shapeA(), op.shapeB(), {op.m, op.n}}
	da, db := op.gradOps()
	for i, spec := range [2][2]struct {
		arg   int
		trans bool
	}{da, db} {
		x, y := spec[0], spec[1]
		sx, sy := shapes[x.arg], shapes[y.arg]
		m, k := sx[0], sx[1]
		if x.trans {
			m, k = k, m
		}
		n := sy[1]
		if y.trans {
			n = sy[0]
		}
		sub := mmOp{transA: x.trans, transB: y.trans, m: m, k: k, n: n}
		out := newF32(tensor.Shape{m, n})
		if err := sub.compute(out, data[x.arg], data[y.arg]); err != nil {
			return err
		}
		if err := accumulateGrad("matmul", inputs[i], out.Float32s()); err != nil {
			return err
		}
	}
	return nil
}
