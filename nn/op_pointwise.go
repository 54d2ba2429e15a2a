package nn

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// actKind names an elementwise activation.
type actKind int

const (
	actReLU actKind = iota
	actHardtanh
	actLeakyReLU
	actELU
	actHardsigmoid
	actHardswish
	actSigmoid
	actTanh
	actScale  // a·x
	actSquare // x²
	actInvStd // 1/√(x + eps), eps in e
	actCopy   // x, into fresh contiguous storage
	actGELU   // x·Φ(x); b = 1 selects the tanh approximation
	actSiLU   // x·σ(x)
)

var actNames = [...]string{"relu", "hardtanh", "leaky_relu", "elu", "hardsigmoid", "hardswish", "sigmoid", "tanh", "scale", "square", "invstd", "contiguous", "gelu", "silu"}

// act is an activation with its parameters: a, b are (min, max) for
// hardtanh, the negative slope for leaky_relu and alpha for elu.
type act struct {
	kind actKind
	a, b float32
	e    float64
}

// f is the forward formula in float32, written as PyTorch 1.13's CPU kernels.
func (a act) f(x float32) float32 {
	switch a.kind {
	case actReLU:
		if x > 0 || x != x {
			return x
		}
		return 0
	case actHardtanh:
		if x < a.a {
			return a.a
		}
		if x > a.b {
			return a.b
		}
		return x
	case actLeakyReLU:
		if x > 0 {
			return x
		}
		return x * a.a
	case actELU:
		if x > 0 {
			return x
		}
		return a.a * float32(math.Expm1(float64(x)))
	case actHardsigmoid:
		return min(max(x+3, 0), 6) / 6
	case actHardswish:
		return x * min(max(x+3, 0), 6) / 6
	case actSigmoid:
		return float32(1 / (1 + math.Exp(-float64(x))))
	case actTanh:
		return float32(math.Tanh(float64(x)))
	case actScale:
		return a.a * x
	case actSquare:
		return x * x
	case actInvStd:
		return float32(1 / math.Sqrt(float64(x)+a.e))
	case actCopy:
		return x
	case actGELU:
		v := float64(x)
		if a.b == 1 {
			return float32(0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))))
		}
		return float32(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
	case actSiLU:
		v := float64(x)
		return float32(v / (1 + math.Exp(-v)))
	}
	panic("nn: unknown activation")
}

// df is the derivative PyTorch's backward uses at x (one-sided choices at
// the kinks follow PyTorch: relu'(0)=0, hardtanh' is 1 strictly inside).
func (a act) df(x float32) float32 {
	switch a.kind {
	case actReLU:
		if x > 0 {
			return 1
		}
		return 0
	case actHardtanh:
		if x > a.a && x < a.b {
			return 1
		}
		return 0
	case actLeakyReLU:
		if x > 0 {
			return 1
		}
		return a.a
	case actELU:
		if x > 0 {
			return 1
		}
		return a.a * float32(math.Exp(float64(x)))
	case actHardsigmoid:
		if x > -3 && x < 3 {
			return float32(1) / 6
		}
		return 0
	case actHardswish:
		if x < -3 {
			return 0
		}
		if x <= 3 {
			return x/3 + 0.5
		}
		return 1
	case actSigmoid:
		s := float32(1 / (1 + math.Exp(-float64(x))))
		return s * (1 - s)
	case actTanh:
		t := float32(math.Tanh(float64(x)))
		return 1 - t*t
	case actScale:
		return a.a
	case actSquare:
		return 2 * x
	case actInvStd:
		v := float64(x) + a.e
		return float32(-0.5 / (v * math.Sqrt(v)))
	case actCopy:
		return 1
	case actGELU:
		v := float64(x)
		if a.b == 1 {
			k := math.Sqrt(2 / math.Pi)
			inner := k * (v + 0.044715*v*v*v)
			t := math.Tanh(inner)
			return float32(0.5*(1+t) + 0.5*v*(1-t*t)*k*(1+3*0.044715*v*v))
		}
		cdf := 0.5 * (1 + math.Erf(v/math.Sqrt2))
		pdf := math.Exp(-0.5*v*v) / math.Sqrt(2*math.Pi)
		return float32(cdf + v*pdf)
	case actSiLU:
		sg := 1 / (1 + math.Exp(-float64(x)))
		return float32(sg * (1 + float64(x)*(1-sg)))
	}
	panic("nn: unknown activation")
}

func (a act) String() string { return fmt.Sprintf("%s(%g,%g,%g)", actNames[a.kind], a.a, a.b, a.e) }

// activate applies a to x as one Gorgonia node.
func activate(x *gorgonia.Node, a act) (*gorgonia.Node, error) {
	if err := checkF32Node(actNames[a.kind], x, -1); err != nil {
		return nil, err
	}
	return gorgonia.ApplyOp(actOp{a}, x)
}

// actOp is y = f(x) elementwise; its gradient is actDiffOp.
type actOp struct{ a act }

var (
	_ gorgonia.SDOp            = actOp{}
	_ gorgonia.ADOp            = actOp{}
	_ gorgonia.UsePreallocDoer = actOp{}
	_ gorgonia.SDOp            = actDiffOp{}
)

func (op actOp) Arity() int                                               { return 1 }
func (op actOp) Type() hm.Type                                            { return sameType() }
func (op actOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) { return shapeOf(in[0]) }
func (op actOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, in...)
}
func (op actOp) ReturnsPtr() bool      { return false }
func (op actOp) CallsExtern() bool     { return false }
func (op actOp) OverwritesInput() int  { return -1 }
func (op actOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "nn.act:%v", op.a) }
func (op actOp) Hashcode() uint32      { return hashOf(op) }
func (op actOp) String() string        { return op.a.String() }

func (op actOp) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("nn: %v: got %d inputs, want 1", op.a, len(in))
	}
	x, err := f32Data(op.String(), in[0], nil)
	if err != nil {
		return nil, err
	}
	out := preallocF32(prealloc, in[0].Shape(), in[0])
	y := out.Float32s()
	for i, v := range x {
		y[i] = op.a.f(v)
	}
	return out, nil
}

func (op actOp) DiffWRT(int) []bool { return []bool{true} }

func (op actOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	d, err := gorgonia.ApplyOp(actDiffOp(op), inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}

func (op actOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad(op.String(), output)
	if err != nil {
		return err
	}
	x, err := f32Data(op.String(), inputs[0].Value(), nil)
	if err != nil {
		return err
	}
	dx := make([]float32, len(x))
	for i, v := range x {
		dx[i] = g[i] * op.a.df(v)
	}
	return accumulateGrad(op.String(), inputs[0], dx)
}

// actDiffOp computes dx = dy ⊙ f'(x) from (x, dy).
type actDiffOp struct{ a act }

func (op actDiffOp) Arity() int    { return 2 }
func (op actDiffOp) Type() hm.Type { a := hm.TypeVariable('a'); return hm.NewFnType(a, a, a) }
func (op actDiffOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return shapeOf(in[0])
}
func (op actDiffOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, in...)
}

// UsePreallocDo writes into prealloc when it is a float32 tensor of the
// output shape that aliases no input (the tape's register from the
// previous run), else into fresh storage.
func (op actDiffOp) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("nn: %v grad: got %d inputs, want 2", op.a, len(in))
	}
	x, err := f32Data(op.String(), in[0], nil)
	if err != nil {
		return nil, err
	}
	g, err := f32Data(op.String(), in[1], in[0].Shape())
	if err != nil {
		return nil, err
	}
	out := preallocF32(prealloc, in[0].Shape(), in...)
	dx := out.Float32s()
	for i, v := range x {
		dx[i] = g[i] * op.a.df(v)
	}
	return out, nil
}
func (op actDiffOp) ReturnsPtr() bool      { return false }
func (op actDiffOp) CallsExtern() bool     { return false }
func (op actDiffOp) OverwritesInput() int  { return -1 }
func (op actDiffOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "nn.actgrad:%v", op.a) }
func (op actDiffOp) Hashcode() uint32      { return hashOf(op) }
func (op actDiffOp) String() string        { return op.a.String() + "'" }
func (op actDiffOp) DiffWRT(int) []bool    { return []bool{false, false} }
func (op actDiffOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return nil, fmt.Errorf("nn: %v: second derivatives are not implemented", op.a)
}

// shapeOf returns a DimSizer's shape as a tensor.Shape clone.
func shapeOf(d gorgonia.DimSizer) (tensor.Shape, error) {
	s, ok := d.(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("nn: expected a tensor.Shape, got %T", d)
	}
	return s.Clone(), nil
}
