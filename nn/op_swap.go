package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// swapLast returns x (A, B, C) transposed to (A, C, B) with a blocked
// copy; Gorgonia's Transpose walks a generic strided iterator and was a
// quarter of a convolution step's time. The gradient is the same swap
// back.
func swapLast(x *gorgonia.Node) (*gorgonia.Node, error) {
	if err := checkF32Node("transpose", x, 3); err != nil {
		return nil, err
	}
	return gorgonia.ApplyOp(swapOp{in: x.Shape().Clone()}, x)
}

type swapOp struct{ in tensor.Shape }

var (
	_ gorgonia.SDOp = swapOp{}
	_ gorgonia.ADOp = swapOp{}
)

func (op swapOp) out() tensor.Shape { return tensor.Shape{op.in[0], op.in[2], op.in[1]} }

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

func (op swapOp) Arity() int    { return 1 }
func (op swapOp) Type() hm.Type { return hm.NewFnType(f32Type(3), f32Type(3)) }
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
	swapKernel(out.Float32s(), x, op.in[0], op.in[1], op.in[2])
	return out, nil
}
func (op swapOp) ReturnsPtr() bool      { return false }
func (op swapOp) CallsExtern() bool     { return false }
func (op swapOp) OverwritesInput() int  { return -1 }
func (op swapOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "nn.swap:%v", op.in) }
func (op swapOp) Hashcode() uint32      { return hashOf(op) }
func (op swapOp) String() string        { return fmt.Sprintf("swapLast%v", op.in) }
func (op swapOp) DiffWRT(int) []bool    { return []bool{true} }
func (op swapOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	d, err := gorgonia.ApplyOp(swapOp{in: op.out()}, grad)
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
	o := op.out()
	dx := make([]float32, len(g))
	swapKernel(dx, g, o[0], o[1], o[2])
	return accumulateGrad("transpose", inputs[0], dx)
}
