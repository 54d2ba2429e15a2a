package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// swapView views x (any shape of A·B·C elements) as (A, B, C), swaps the
// last two axes and returns the result with shape out: a layout change
// and the reshapes around it in one blocked copy (Gorgonia's Transpose
// walks a generic strided iterator and was a quarter of a convolution
// step's time). The gradient is the same swap back.
func swapView(x *gorgonia.Node, A, B, C int, out tensor.Shape) (*gorgonia.Node, error) {
	if err := checkF32Node("transpose", x, -1); err != nil {
		return nil, err
	}
	if x.Shape().TotalSize() != A*B*C || out.TotalSize() != A*B*C {
		return nil, fmt.Errorf("nn: transpose: %v viewed as (%d, %d, %d) into %v", x.Shape(), A, B, C, out)
	}
	return gorgonia.ApplyOp(swapOp{a: A, b: B, c: C, in: x.Shape().Clone(), outS: out.Clone()}, x)
}

// swapOp: input of shape in viewed as (a, b, c) → (a, c, b) data, shape outS.
type swapOp struct {
	a, b, c  int
	in, outS tensor.Shape
}

var (
	_ gorgonia.SDOp = swapOp{}
	_ gorgonia.ADOp = swapOp{}
)

func (op swapOp) out() tensor.Shape { return op.outS.Clone() }

func swapKernel(dst, src []float32, A, B, C int) {
	const blk = 32
	for a := 0; a < A; a++ {
		s := src[a*B*C : (a+1)*B*C]
		d := dst[a*B*C : (a+1)*B*C]
		for b0 := 0; b0 < B; b0 += blk {
			b1 := min(b0+blk, B)
			for c0 := 0; c0 < C; c0 += blk {
				c1 := min(c0+blk, C)
				for b := b0; b < b1; b++ {
					row := s[b*C : b*C+C]
					for c := c0; c < c1; c++ {
						d[c*B+b] = row[c]
					}
				}
			}
		}
	}
}

func (op swapOp) Arity() int { return 1 }
func (op swapOp) Type() hm.Type {
	return hm.NewFnType(f32Type(op.in.Dims()), f32Type(op.outS.Dims()))
}
func (op swapOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.out(), nil
}
func (op swapOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, in...)
}

// UsePreallocDo writes into prealloc when it is a float32 tensor of the
// output shape that aliases no input (the tape's register from the
// previous run), else into fresh storage.
func (op swapOp) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("nn: transpose: got %d inputs, want 1", len(in))
	}
	x, err := f32Data("transpose", in[0], op.in)
	if err != nil {
		return nil, err
	}
	out := preallocF32(prealloc, op.out(), in...)
	swapKernel(out.Float32s(), x, op.a, op.b, op.c)
	return out, nil
}
func (op swapOp) ReturnsPtr() bool     { return false }
func (op swapOp) CallsExtern() bool    { return false }
func (op swapOp) OverwritesInput() int { return -1 }
func (op swapOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "nn.swap:%d:%d:%d:%v:%v", op.a, op.b, op.c, op.in, op.outS)
}
func (op swapOp) Hashcode() uint32   { return hashOf(op) }
func (op swapOp) String() string     { return fmt.Sprintf("swap(%d,%d,%d)", op.a, op.b, op.c) }
func (op swapOp) DiffWRT(int) []bool { return []bool{true} }
func (op swapOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	d, err := gorgonia.ApplyOp(swapOp{a: op.a, b: op.c, c: op.b, in: op.outS.Clone(), outS: op.in.Clone()}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}
func (op swapOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad("transpose", output)
	if err != nil {
		return err
	}
	dx := make([]float32, len(g))
	swapKernel(dx, g, op.a, op.c, op.b)
	return accumulateGrad("transpose", inputs[0], dx)
}
