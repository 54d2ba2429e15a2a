package nn

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"github.com/qgorgonia/qgorgonia/kernels"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// pool2d is the geometry of a 2-d max or average pool over (N, C, H, W).
type pool2d struct {
	max             bool
	k, s, p, d      [2]int
	ceil            bool
	countIncludePad bool
	divisor         int // divisor_override; 0 = none
	n, c, h, w      int
	oh, ow          int
}

// newPool2d validates the geometry against PyTorch's checks.
func newPool2d(op string, g pool2d) (pool2d, error) {
	for i := 0; i < 2; i++ {
		if g.k[i] <= 0 || g.s[i] <= 0 || g.d[i] <= 0 || g.p[i] < 0 {
			return g, fmt.Errorf("nn: %s: bad geometry kernel %v stride %v padding %v dilation %v", op, g.k, g.s, g.p, g.d)
		}
		if g.p[i] > g.k[i]/2 {
			return g, fmt.Errorf("nn: %s: padding %v should be at most half of kernel %v", op, g.p, g.k)
		}
	}
	g.oh = kernels.PoolOutputSize(g.h, g.k[0], g.p[0], g.s[0], g.d[0], g.ceil)
	g.ow = kernels.PoolOutputSize(g.w, g.k[1], g.p[1], g.s[1], g.d[1], g.ceil)
	if g.oh <= 0 || g.ow <= 0 {
		return g, fmt.Errorf("nn: %s: output size (%d, %d) too small for input (%d, %d)", op, g.oh, g.ow, g.h, g.w)
	}
	return g, nil
}

func (g pool2d) inShape() tensor.Shape  { return tensor.Shape{g.n, g.c, g.h, g.w} }
func (g pool2d) outShape() tensor.Shape { return tensor.Shape{g.n, g.c, g.oh, g.ow} }

// maxForward writes the max of each window (NaN wins, as in PyTorch) and
// its flat input index (the first maximum) into arg.
func (g pool2d) maxForward(y []float32, arg []int32, x []float32) {
	HW := g.h * g.w
	for nc := 0; nc < g.n*g.c; nc++ {
		src := x[nc*HW : (nc+1)*HW]
		for oh := 0; oh < g.oh; oh++ {
			h0 := oh*g.s[0] - g.p[0]
			h1 := min(h0+(g.k[0]-1)*g.d[0]+1, g.h)
			for h0 < 0 {
				h0 += g.d[0]
			}
			for ow := 0; ow < g.ow; ow++ {
				w0 := ow*g.s[1] - g.p[1]
				w1 := min(w0+(g.k[1]-1)*g.d[1]+1, g.w)
				for w0 < 0 {
					w0 += g.d[1]
				}
				best := float32(math.Inf(-1))
				bi := h0*g.w + w0
				for ih := h0; ih < h1; ih += g.d[0] {
					for iw := w0; iw < w1; iw += g.d[1] {
						v := src[ih*g.w+iw]
						if v > best || v != v {
							best, bi = v, ih*g.w+iw
						}
					}
				}
				o := nc*g.oh*g.ow + oh*g.ow + ow
				y[o], arg[o] = best, int32(bi)
			}
		}
	}
}

// avgForward is PyTorch's avg_pool2d CPU kernel: the divisor is
// divisor_override, else the window size clipped to the padded input
// (count_include_pad) or to the input.
func (g pool2d) avgForward(y, x []float32) {
	HW := g.h * g.w
	for nc := 0; nc < g.n*g.c; nc++ {
		src := x[nc*HW : (nc+1)*HW]
		for oh := 0; oh < g.oh; oh++ {
			for ow := 0; ow < g.ow; ow++ {
				h0, w0, h1, w1, div := g.avgWindow(oh, ow)
				o := nc*g.oh*g.ow + oh*g.ow + ow
				if h0 >= h1 || w0 >= w1 {
					y[o] = 0
					continue
				}
				var sum float32
				for ih := h0; ih < h1; ih++ {
					for iw := w0; iw < w1; iw++ {
						sum += src[ih*g.w+iw]
					}
				}
				y[o] = sum / float32(div)
			}
		}
	}
}

func (g pool2d) avgWindow(oh, ow int) (h0, w0, h1, w1, div int) {
	h0 = oh*g.s[0] - g.p[0]
	w0 = ow*g.s[1] - g.p[1]
	h1 = min(h0+g.k[0], g.h+g.p[0])
	w1 = min(w0+g.k[1], g.w+g.p[1])
	size := (h1 - h0) * (w1 - w0)
	h0, w0 = max(h0, 0), max(w0, 0)
	h1, w1 = min(h1, g.h), min(w1, g.w)
	switch {
	case g.divisor != 0:
		div = g.divisor
	case g.countIncludePad:
		div = size
	default:
		div = (h1 - h0) * (w1 - w0)
	}
	return
}

func (g pool2d) avgBackward(dx, dy []float32) {
	clear(dx)
	HW := g.h * g.w
	for nc := 0; nc < g.n*g.c; nc++ {
		dst := dx[nc*HW : (nc+1)*HW]
		for oh := 0; oh < g.oh; oh++ {
			for ow := 0; ow < g.ow; ow++ {
				h0, w0, h1, w1, div := g.avgWindow(oh, ow)
				v := dy[nc*g.oh*g.ow+oh*g.ow+ow] / float32(div)
				for ih := h0; ih < h1; ih++ {
					for iw := w0; iw < w1; iw++ {
						dst[ih*g.w+iw] += v
					}
				}
			}
		}
	}
}

func (g pool2d) maxBackward(dx, dy []float32, arg []int32) {
	clear(dx)
	HW, O := g.h*g.w, g.oh*g.ow
	for nc := 0; nc < g.n*g.c; nc++ {
		for o := 0; o < O; o++ {
			dx[nc*HW+int(arg[nc*O+o])] += dy[nc*O+o]
		}
	}
}

// poolOp applies a pool2d; a max pool keeps the argmax of its last run for
// the backward pass, so each op is unique in the graph.
type poolOp struct {
	g   pool2d
	id  uint64
	arg []int32
}

var (
	_ gorgonia.SDOp = &poolOp{}
	_ gorgonia.ADOp = &poolOp{}
	_ gorgonia.SDOp = &poolDiffOp{}
)

func (op *poolOp) name() string {
	if op.g.max {
		return "max_pool2d"
	}
	return "avg_pool2d"
}
func (op *poolOp) Arity() int    { return 1 }
func (op *poolOp) Type() hm.Type { return sameType() }
func (op *poolOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.g.outShape(), nil
}
func (op *poolOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, in...)
}

// UsePreallocDo writes into prealloc when it is a float32 tensor of the
// output shape that aliases no input (the tape's register from the
// previous run), else into fresh storage.
func (op *poolOp) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("nn: %s: got %d inputs, want 1", op.name(), len(in))
	}
	x, err := f32Data(op.name(), in[0], op.g.inShape())
	if err != nil {
		return nil, err
	}
	out := preallocF32(prealloc, op.g.outShape(), in...)
	if op.g.max {
		op.arg = make([]int32, out.Shape().TotalSize())
		op.g.maxForward(out.Float32s(), op.arg, x)
	} else {
		op.g.avgForward(out.Float32s(), x)
	}
	return out, nil
}
func (op *poolOp) ReturnsPtr() bool     { return false }
func (op *poolOp) CallsExtern() bool    { return false }
func (op *poolOp) OverwritesInput() int { return -1 }
func (op *poolOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "nn.pool:%+v:%d", op.g, op.id)
}
func (op *poolOp) Hashcode() uint32   { return hashOf(op) }
func (op *poolOp) String() string     { return fmt.Sprintf("%s%v", op.name(), op.g.k) }
func (op *poolOp) DiffWRT(int) []bool { return []bool{true} }
func (op *poolOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	d, err := gorgonia.ApplyOp(&poolDiffOp{op}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}
func (op *poolOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad(op.name(), output)
	if err != nil {
		return err
	}
	dx, err := op.backward(g)
	if err != nil {
		return err
	}
	return accumulateGrad(op.name(), inputs[0], dx)
}

func (op *poolOp) backward(dy []float32) ([]float32, error) {
	dx := make([]float32, op.g.inShape().TotalSize())
	if op.g.max {
		if len(op.arg) != len(dy) {
			return nil, fmt.Errorf("nn: %s: backward before forward", op.name())
		}
		op.g.maxBackward(dx, dy, op.arg)
	} else {
		op.g.avgBackward(dx, dy)
	}
	return dx, nil
}

// poolDiffOp maps the output gradient back to the input.
type poolDiffOp struct{ fwd *poolOp }

func (op *poolDiffOp) Arity() int    { return 1 }
func (op *poolDiffOp) Type() hm.Type { return sameType() }
func (op *poolDiffOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.fwd.g.inShape(), nil
}
func (op *poolDiffOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("nn: pool grad: got %d inputs, want 1", len(in))
	}
	dy, err := f32Data("pool grad", in[0], op.fwd.g.outShape())
	if err != nil {
		return nil, err
	}
	dx, err := op.fwd.backward(dy)
	if err != nil {
		return nil, err
	}
	return tensor.New(tensor.WithShape(op.fwd.g.inShape()...), tensor.WithBacking(dx)), nil
}
func (op *poolDiffOp) ReturnsPtr() bool      { return false }
func (op *poolDiffOp) CallsExtern() bool     { return false }
func (op *poolDiffOp) OverwritesInput() int  { return -1 }
func (op *poolDiffOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "nn.poolgrad:%d", op.fwd.id) }
func (op *poolDiffOp) Hashcode() uint32      { return hashOf(op) }
func (op *poolDiffOp) String() string        { return op.fwd.String() + "'" }
func (op *poolDiffOp) DiffWRT(int) []bool    { return []bool{false} }
func (op *poolDiffOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return nil, fmt.Errorf("nn: %v: second derivatives are not implemented", op)
}
