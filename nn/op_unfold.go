package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// window is the sliding-window geometry of a 1-, 2- or 3-d convolution:
// an image of C channels and spatial size In, a kernel K, stride S, zero
// padding P and dilation D. Out is the number of window positions per
// spatial axis, floor((In + 2P − D(K−1) − 1)/S) + 1 as in PyTorch.
type window struct {
	C                   int
	In, K, S, P, D, Out []int
}

func (w window) String() string {
	return fmt.Sprintf("C%d in%v k%v s%v p%v d%v out%v", w.C, w.In, w.K, w.S, w.P, w.D, w.Out)
}

// convOut returns floor((in + 2p − d(k−1) − 1)/s) + 1 per axis, or an error
// when the kernel does not fit.
func convOut(op string, in, k, s, p, d []int) ([]int, error) {
	return convOutLR(op, in, k, s, p, p, d)
}

// convOutLR is convOut with separate left (pl) and right (pr) padding.
func convOutLR(op string, in, k, s, pl, pr, d []int) ([]int, error) {
	p := pl
	out := make([]int, len(in))
	for i := range in {
		span := in[i] + pl[i] + pr[i] - d[i]*(k[i]-1) - 1
		if span < 0 {
			return nil, fmt.Errorf("nn: %s: kernel %v with dilation %v does not fit input %v padded by %v", op, k, d, in, p)
		}
		out[i] = span/s[i] + 1
	}
	return out, nil
}

// table returns, for every (window position l, kernel offset kk), the
// flat spatial index the pair reads, or −1 for padding.
func (w window) table() []int {
	nd := len(w.In)
	L, K := prod(w.Out), prod(w.K)
	tab := make([]int, L*K)
	o := make([]int, nd)
	kk := make([]int, nd)
	for l := 0; l < L; l++ {
		rem := l
		for j := nd - 1; j >= 0; j-- {
			o[j] = rem % w.Out[j]
			rem /= w.Out[j]
		}
		for k := 0; k < K; k++ {
			rem := k
			for j := nd - 1; j >= 0; j-- {
				kk[j] = rem % w.K[j]
				rem /= w.K[j]
			}
			off := 0
			for j := 0; j < nd; j++ {
				i := o[j]*w.S[j] - w.P[j] + kk[j]*w.D[j]
				if i < 0 || i >= w.In[j] {
					off = -1
					break
				}
				off = off*w.In[j] + i
			}
			tab[l*K+k] = off
		}
	}
	return tab
}

// unfold turns an image (N, C, In...) into columns (N·L, C·K), L = ∏Out,
// K = ∏K, row n·L + l, column c·K + kk: torch.nn.functional.unfold with
// the window positions as rows (ready for a matmul with a (Cout, C·K)
// weight).
func unfold(x *gorgonia.Node, w window) (*gorgonia.Node, error) {
	if err := checkF32Node("unfold", x, 2+len(w.In)); err != nil {
		return nil, err
	}
	s := x.Shape()
	if s[1] != w.C || !tensor.Shape(s[2:]).Eq(tensor.Shape(w.In)) {
		return nil, fmt.Errorf("nn: unfold: input shape %v does not match window %v", s, w)
	}
	return gorgonia.ApplyOp(&unfoldOp{w: w, n: s[0]}, x)
}

// fold is the adjoint of unfold: columns (N·L, C·K) are summed back into
// an image (N, C, In...); padding positions are dropped.
func fold(cols *gorgonia.Node, w window) (*gorgonia.Node, error) {
	if err := checkF32Node("fold", cols, 2); err != nil {
		return nil, err
	}
	s := cols.Shape()
	if s[0]%prod(w.Out) != 0 || s[1] != w.C*prod(w.K) {
		return nil, fmt.Errorf("nn: fold: columns of shape %v do not match window %v", s, w)
	}
	return gorgonia.ApplyOp(&foldOp{w: w, n: s[0] / prod(w.Out)}, cols)
}

// unfoldOp and foldOp share their geometry and lazily built index table.
type unfoldOp struct {
	w   window
	n   int
	tab []int
}

type foldOp struct {
	w   window
	n   int
	tab []int
}

var (
	_ gorgonia.SDOp = &unfoldOp{}
	_ gorgonia.ADOp = &unfoldOp{}
	_ gorgonia.SDOp = &foldOp{}
	_ gorgonia.ADOp = &foldOp{}
)

func (w window) imageShape(n int) tensor.Shape {
	return append(tensor.Shape{n, w.C}, w.In...)
}
func (w window) colsShape(n int) tensor.Shape {
	return tensor.Shape{n * prod(w.Out), w.C * prod(w.K)}
}

func unfoldKernel(cols, img []float32, tab []int, n, C, S, L, K int) {
	i := 0
	for b := 0; b < n; b++ {
		for l := 0; l < L; l++ {
			t := tab[l*K : l*K+K]
			for c := 0; c < C; c++ {
				src := img[(b*C+c)*S : (b*C+c+1)*S]
				dst := cols[i : i+K]
				for k, off := range t {
					if off >= 0 {
						dst[k] = src[off]
					} else {
						dst[k] = 0
					}
				}
				i += K
			}
		}
	}
}

func foldKernel(img, cols []float32, tab []int, n, C, S, L, K int) {
	clear(img)
	i := 0
	for b := 0; b < n; b++ {
		for l := 0; l < L; l++ {
			t := tab[l*K : l*K+K]
			for c := 0; c < C; c++ {
				dst := img[(b*C+c)*S : (b*C+c+1)*S]
				src := cols[i : i+K]
				for k, off := range t {
					if off >= 0 {
						dst[off] += src[k]
					}
				}
				i += K
			}
		}
	}
}

func (op *unfoldOp) table() []int {
	if op.tab == nil {
		op.tab = op.w.table()
	}
	return op.tab
}
func (op *foldOp) table() []int {
	if op.tab == nil {
		op.tab = op.w.table()
	}
	return op.tab
}

func (op *unfoldOp) Arity() int { return 1 }
func (op *unfoldOp) Type() hm.Type {
	return hm.NewFnType(f32Type(2+len(op.w.In)), f32Type(2))
}
func (op *unfoldOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.w.colsShape(op.n), nil
}
func (op *unfoldOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, in...)
}

// UsePreallocDo writes into prealloc when it is a float32 tensor of the
// output shape that aliases no input (the tape's register from the
// previous run), else into fresh storage.
func (op *unfoldOp) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("nn: unfold: got %d inputs, want 1", len(in))
	}
	x, err := f32Data("unfold", in[0], op.w.imageShape(op.n))
	if err != nil {
		return nil, err
	}
	out := preallocF32(prealloc, op.w.colsShape(op.n), in...)
	unfoldKernel(out.Float32s(), x, op.table(), op.n, op.w.C, prod(op.w.In), prod(op.w.Out), prod(op.w.K))
	return out, nil
}
func (op *unfoldOp) ReturnsPtr() bool      { return false }
func (op *unfoldOp) CallsExtern() bool     { return false }
func (op *unfoldOp) OverwritesInput() int  { return -1 }
func (op *unfoldOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "nn.unfold:%d:%v", op.n, op.w) }
func (op *unfoldOp) Hashcode() uint32      { return hashOf(op) }
func (op *unfoldOp) String() string        { return fmt.Sprintf("unfold(%v)", op.w) }
func (op *unfoldOp) DiffWRT(int) []bool    { return []bool{true} }
func (op *unfoldOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	d, err := gorgonia.ApplyOp(&foldOp{w: op.w, n: op.n, tab: op.tab}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}
func (op *unfoldOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad("unfold", output)
	if err != nil {
		return err
	}
	dx := make([]float32, op.w.imageShape(op.n).TotalSize())
	foldKernel(dx, g, op.table(), op.n, op.w.C, prod(op.w.In), prod(op.w.Out), prod(op.w.K))
	return accumulateGrad("unfold", inputs[0], dx)
}

func (op *foldOp) Arity() int { return 1 }
func (op *foldOp) Type() hm.Type {
	return hm.NewFnType(f32Type(2), f32Type(2+len(op.w.In)))
}
func (op *foldOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.w.imageShape(op.n), nil
}
func (op *foldOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, in...)
}

// UsePreallocDo writes into prealloc when it is a float32 tensor of the
// output shape that aliases no input (the tape's register from the
// previous run), else into fresh storage.
func (op *foldOp) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("nn: fold: got %d inputs, want 1", len(in))
	}
	cols, err := f32Data("fold", in[0], op.w.colsShape(op.n))
	if err != nil {
		return nil, err
	}
	out := preallocF32(prealloc, op.w.imageShape(op.n), in...)
	foldKernel(out.Float32s(), cols, op.table(), op.n, op.w.C, prod(op.w.In), prod(op.w.Out), prod(op.w.K))
	return out, nil
}
func (op *foldOp) ReturnsPtr() bool      { return false }
func (op *foldOp) CallsExtern() bool     { return false }
func (op *foldOp) OverwritesInput() int  { return -1 }
func (op *foldOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "nn.fold:%d:%v", op.n, op.w) }
func (op *foldOp) Hashcode() uint32      { return hashOf(op) }
func (op *foldOp) String() string        { return fmt.Sprintf("fold(%v)", op.w) }
func (op *foldOp) DiffWRT(int) []bool    { return []bool{true} }
func (op *foldOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	d, err := gorgonia.ApplyOp(&unfoldOp{w: op.w, n: op.n, tab: op.tab}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}
func (op *foldOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad("fold", output)
	if err != nil {
		return err
	}
	dc := make([]float32, op.w.colsShape(op.n).TotalSize())
	unfoldKernel(dc, g, op.table(), op.n, op.w.C, prod(op.w.In), prod(op.w.Out), prod(op.w.K))
	return accumulateGrad("fold", inputs[0], dc)
}
