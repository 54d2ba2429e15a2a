package nn

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// CrossEntropyLoss is torch.nn.functional.cross_entropy with class-index
// targets and mean reduction: logits (N, C) float32, target (N) of int,
// int64 or int32 class indices in [0, C); the result is the scalar
// mean_n(logsumexp(logits_n) − logits_n[target_n]), computed stably in
// float64 per row. Its gradient with respect to the logits is
// (softmax(logits) − onehot(target))/N; targets get none.
func CrossEntropyLoss(logits, target *gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkF32Node("cross_entropy", logits, 2); err != nil {
		return nil, err
	}
	if target == nil {
		return nil, fmt.Errorf("nn: cross_entropy: target node is nil")
	}
	switch target.Dtype() {
	case tensor.Int, tensor.Int64, tensor.Int32:
	default:
		return nil, fmt.Errorf("nn: cross_entropy: target dtype %v, want int, int64 or int32", target.Dtype())
	}
	s := logits.Shape()
	if ts := target.Shape(); ts.Dims() != 1 || ts[0] != s[0] {
		return nil, fmt.Errorf("nn: cross_entropy: target shape %v, want (%d) for logits %v", target.Shape(), s[0], s)
	}
	if s[0] == 0 || s[1] == 0 {
		return nil, fmt.Errorf("nn: cross_entropy: empty logits %v", s)
	}
	return gorgonia.ApplyOp(&xentOp{n: s[0], c: s[1], tdt: target.Dtype()}, logits, target)
}

// xentOp computes the mean cross-entropy; with grad set it instead maps
// (logits, target, dloss) to dlogits.
type xentOp struct {
	n, c int
	tdt  tensor.Dtype
	grad bool
}

var (
	_ gorgonia.SDOp = &xentOp{}
	_ gorgonia.ADOp = &xentOp{}
)

func (op *xentOp) Arity() int {
	if op.grad {
		return 3
	}
	return 2
}
func (op *xentOp) Type() hm.Type {
	tt := gorgonia.TensorType{Dims: 1, Of: op.tdt}
	if op.grad {
		return hm.NewFnType(f32Type(2), tt, tensor.Float32, f32Type(2))
	}
	return hm.NewFnType(f32Type(2), tt, tensor.Float32)
}
func (op *xentOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	if op.grad {
		return tensor.Shape{op.n, op.c}, nil
	}
	return tensor.ScalarShape(), nil
}

// targets reads the class indices, checking their range.
func (op *xentOp) targets(v gorgonia.Value) ([]int, error) {
	e := &embeddingOp{num: op.c}
	idx, err := e.indices(v)
	if err != nil {
		return nil, fmt.Errorf("nn: cross_entropy: target: %w", err)
	}
	if len(idx) != op.n {
		return nil, fmt.Errorf("nn: cross_entropy: %d targets, want %d", len(idx), op.n)
	}
	return idx, nil
}

// lse returns the per-row log-sum-exp in float64.
func (op *xentOp) lse(x []float32) []float64 {
	out := make([]float64, op.n)
	for r := 0; r < op.n; r++ {
		row := x[r*op.c : (r+1)*op.c]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		out[r] = m + math.Log(s)
	}
	return out
}

func (op *xentOp) dlogits(x []float32, t []int, scale float64) []float32 {
	lse := op.lse(x)
	d := make([]float32, len(x))
	for r := 0; r < op.n; r++ {
		for k := 0; k < op.c; k++ {
			p := math.Exp(float64(x[r*op.c+k]) - lse[r])
			if k == t[r] {
				p--
			}
			d[r*op.c+k] = float32(p * scale / float64(op.n))
		}
	}
	return d
}

func scalarOf(v gorgonia.Value) (float64, error) {
	switch s := v.(type) {
	case *gorgonia.F32:
		return float64(*s), nil
	case *tensor.Dense:
		if s.Dtype() == tensor.Float32 && s.Shape().TotalSize() == 1 {
			return float64(s.Float32s()[0]), nil
		}
	}
	return 0, fmt.Errorf("nn: cross_entropy: gradient is %T %v, want a float32 scalar", v, v.Shape())
}

func (op *xentOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("nn: cross_entropy: got %d inputs, want %d", len(in), op.Arity())
	}
	x, err := f32Data("cross_entropy", in[0], tensor.Shape{op.n, op.c})
	if err != nil {
		return nil, err
	}
	t, err := op.targets(in[1])
	if err != nil {
		return nil, err
	}
	if op.grad {
		g, err := scalarOf(in[2])
		if err != nil {
			return nil, err
		}
		return tensor.New(tensor.WithShape(op.n, op.c), tensor.WithBacking(op.dlogits(x, t, g))), nil
	}
	lse := op.lse(x)
	var sum float64
	for r := 0; r < op.n; r++ {
		sum += lse[r] - float64(x[r*op.c+t[r]])
	}
	return gorgonia.NewF32(float32(sum / float64(op.n))), nil
}
func (op *xentOp) ReturnsPtr() bool     { return false }
func (op *xentOp) CallsExtern() bool    { return false }
func (op *xentOp) OverwritesInput() int { return -1 }
func (op *xentOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "nn.xent:%d:%d:%v:%v", op.n, op.c, op.tdt, op.grad)
}
func (op *xentOp) Hashcode() uint32 { return hashOf(op) }
func (op *xentOp) String() string {
	if op.grad {
		return "cross_entropy'"
	}
	return "cross_entropy"
}
func (op *xentOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	if !op.grad && n > 0 {
		d[0] = true
	}
	return d
}

func (op *xentOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if op.grad {
		return nil, fmt.Errorf("nn: cross_entropy: second derivatives are not implemented")
	}
	d, err := gorgonia.ApplyOp(&xentOp{n: op.n, c: op.c, tdt: op.tdt, grad: true}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d, nil}, nil
}

func (op *xentOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	gv, err := output.Grad()
	if err != nil {
		return fmt.Errorf("nn: cross_entropy: no gradient on output: %w", err)
	}
	g, err := scalarOf(gv)
	if err != nil {
		return err
	}
	x, err := f32Data("cross_entropy", inputs[0].Value(), tensor.Shape{op.n, op.c})
	if err != nil {
		return err
	}
	t, err := op.targets(inputs[1].Value())
	if err != nil {
		return err
	}
	return accumulateGrad("cross_entropy", inputs[0], op.dlogits(x, t, g))
}

// MSELoss is torch.nn.functional.mse_loss with mean reduction: the mean of
// (pred − target)² over all elements; pred and target must have equal shapes.
func MSELoss(pred, target *gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkF32Node("mse_loss", pred, -1); err != nil {
		return nil, err
	}
	if err := checkF32Node("mse_loss", target, -1); err != nil {
		return nil, err
	}
	s := pred.Shape()
	if !sameShape(s, target.Shape()) || s.Dims() == 0 {
		return nil, fmt.Errorf("nn: mse_loss: shapes %v and %v differ (or are scalars)", s, target.Shape())
	}
	neg, err := activate(target, act{kind: actScale, a: -1})
	if err != nil {
		return nil, err
	}
	d, err := spanApply(pred, neg, spanAdd, 0, s.Dims())
	if err != nil {
		return nil, err
	}
	sq, err := activate(d, act{kind: actSquare})
	if err != nil {
		return nil, err
	}
	return gorgonia.Mean(sq)
}
