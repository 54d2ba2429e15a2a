package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Stride sets a convolution's or pool's stride (one value for every axis,
// or one per axis).
func Stride(s ...int) Option { return func(o *options) { o.stride = s } }

// Padding sets the implicit zero padding on both sides of every spatial axis.
func Padding(p ...int) Option { return func(o *options) { o.padding = p } }

// Dilation sets the spacing between kernel taps.
func Dilation(d ...int) Option { return func(o *options) { o.dilation = d } }

// PaddingSame pads so that the output has the input's spatial size
// (PyTorch's padding="same", stride 1 only): a total of d·(k−1) per axis,
// half on the left and the rest on the right.
func PaddingSame() Option { return func(o *options) { o.paddingSame = true } }

// Groups sets the number of channel groups (in and out channels must divide by it).
func Groups(g int) Option { return func(o *options) { o.groups = g } }

// OutputPadding sets the extra size added to one side of a transposed
// convolution's output (less than stride or dilation).
func OutputPadding(p ...int) Option { return func(o *options) { o.outputPadding = p } }

// expand broadcasts a one-value list to nd values; nil gives def.
func expand(op, what string, v []int, nd, def int) ([]int, error) {
	switch len(v) {
	case 0:
		out := make([]int, nd)
		for i := range out {
			out[i] = def
		}
		return out, nil
	case 1:
		out := make([]int, nd)
		for i := range out {
			out[i] = v[0]
		}
		return out, nil
	case nd:
		return append([]int(nil), v...), nil
	}
	return nil, fmt.Errorf("nn: %s: %s has %d values, want 1 or %d", op, what, len(v), nd)
}

// ConvNd is the state shared by Conv1d/2d/3d and ConvTranspose1d/2d/3d:
// Weight is (Out, In/Groups, K…) for a convolution and (In, Out/Groups, K…)
// for a transposed one, as in PyTorch; Bias is (Out) or nil.
type ConvNd struct {
	Base
	InChannels, OutChannels     int
	KernelSize, Stride, Padding []int
	Dilation, OutputPadding     []int
	Groups                      int
	// PaddingSame is PyTorch's padding="same" (Padding is then ignored).
	PaddingSame  bool
	Weight, Bias *Parameter
	transposed   bool
}

func newConvNd(op string, nd int, transposed bool, in, out int, kernel []int, opts []Option) (ConvNd, error) {
	o := buildOptions(opts)
	c := ConvNd{InChannels: in, OutChannels: out, Groups: o.groups, transposed: transposed, PaddingSame: o.paddingSame}
	if c.Groups == 0 {
		c.Groups = 1
	}
	var err error
	if c.KernelSize, err = expand(op, "kernel size", kernel, nd, 0); err != nil {
		return c, err
	}
	if c.Stride, err = expand(op, "stride", o.stride, nd, 1); err != nil {
		return c, err
	}
	if c.Padding, err = expand(op, "padding", o.padding, nd, 0); err != nil {
		return c, err
	}
	if c.Dilation, err = expand(op, "dilation", o.dilation, nd, 1); err != nil {
		return c, err
	}
	if c.OutputPadding, err = expand(op, "output padding", o.outputPadding, nd, 0); err != nil {
		return c, err
	}
	if err := c.validate(op); err != nil {
		return c, err
	}
	K := prod(c.KernelSize)
	var wshape []int
	var fanIn int
	if transposed {
		wshape = append([]int{in, out / c.Groups}, c.KernelSize...)
		fanIn = out / c.Groups * K // PyTorch's fan-in reads weight.size(1)
	} else {
		wshape = append([]int{out, in / c.Groups}, c.KernelSize...)
		fanIn = in / c.Groups * K
	}
	bound := kaimingBound(fanIn)
	c.Weight = NewParameter(o.uniform(bound, wshape...))
	if !o.noBias {
		c.Bias = NewParameter(o.uniform(bound, out))
	}
	return c, nil
}

func (c *ConvNd) validate(op string) error {
	if c.PaddingSame {
		if c.transposed {
			return fmt.Errorf("nn: %s: padding=same is not supported for transposed convolutions", op)
		}
		for _, st := range c.Stride {
			if st != 1 {
				return fmt.Errorf("nn: %s: padding=same needs stride 1, got %v", op, c.Stride)
			}
		}
	}
	if c.InChannels <= 0 || c.OutChannels <= 0 || c.Groups <= 0 {
		return fmt.Errorf("nn: %s: channels and groups must be positive (in %d, out %d, groups %d)", op, c.InChannels, c.OutChannels, c.Groups)
	}
	if c.InChannels%c.Groups != 0 || c.OutChannels%c.Groups != 0 {
		return fmt.Errorf("nn: %s: channels (in %d, out %d) must divide by groups %d", op, c.InChannels, c.OutChannels, c.Groups)
	}
	for i := range c.KernelSize {
		if c.KernelSize[i] <= 0 || c.Stride[i] <= 0 || c.Dilation[i] <= 0 || c.Padding[i] < 0 {
			return fmt.Errorf("nn: %s: bad geometry kernel %v stride %v padding %v dilation %v", op, c.KernelSize, c.Stride, c.Padding, c.Dilation)
		}
		if opd := c.OutputPadding[i]; opd < 0 || (opd >= c.Stride[i] && opd >= c.Dilation[i]) {
			return fmt.Errorf("nn: %s: output padding %v must be smaller than stride %v or dilation %v", op, c.OutputPadding, c.Stride, c.Dilation)
		}
	}
	return nil
}

func (c *ConvNd) cloneConv() ConvNd {
	n := *c
	n.Base = c.Base.cloneBase()
	n.Weight, n.Bias = c.Weight.Clone(), c.Bias.Clone()
	n.KernelSize = append([]int(nil), c.KernelSize...)
	n.Stride = append([]int(nil), c.Stride...)
	n.Padding = append([]int(nil), c.Padding...)
	n.Dilation = append([]int(nil), c.Dilation...)
	n.OutputPadding = append([]int(nil), c.OutputPadding...)
	return n
}

// NamedParameters returns weight and bias.
func (c *ConvNd) NamedParameters() []Named { return params("weight", c.Weight, "bias", c.Bias) }

// NamedBuffers returns nothing.
func (c *ConvNd) NamedBuffers() []Named { return nil }

// forward runs the (transposed) convolution with the module's own
// parameters.
func (c *ConvNd) forward(op string, x *gorgonia.Node) (*gorgonia.Node, error) {
	if x == nil {
		return nil, fmt.Errorf("nn: %s: input node is nil", op)
	}
	g := x.Graph()
	w, err := c.Weight.Node(g)
	if err != nil {
		return nil, err
	}
	var b *gorgonia.Node
	if c.Bias != nil {
		if b, err = c.Bias.Node(g); err != nil {
			return nil, err
		}
	}
	return c.ForwardWeights(x, w, b)
}

// ForwardWeights runs the layer's (transposed) convolution on x (N, C,
// spatial…) or unbatched (C, spatial…) with the given weight and bias
// nodes (b nil: no bias) in the layout of Weight and Bias. QAT and fused
// modules use it to convolve with a fake-quantized or BN-folded weight.
func (c *ConvNd) ForwardWeights(x, w, b *gorgonia.Node) (*gorgonia.Node, error) {
	nd := len(c.KernelSize)
	op := fmt.Sprintf("conv%dd", nd)
	if c.transposed {
		op = fmt.Sprintf("conv_transpose%dd", nd)
	}
	if err := checkF32Node(op, x, -1); err != nil {
		return nil, err
	}
	if err := checkF32Node(op, w, nd+2); err != nil {
		return nil, fmt.Errorf("%w (weight)", err)
	}
	if err := checkGeometry(op, nd, c.Stride, c.Padding, c.Dilation, c.OutputPadding, c.Groups); err != nil {
		return nil, err
	}
	if !sameShape(w.Shape()[2:], tensor.Shape(c.KernelSize)) {
		return nil, fmt.Errorf("nn: %s: weight shape %v does not match kernel size %v", op, w.Shape(), c.KernelSize)
	}
	if c.InChannels%c.Groups != 0 || c.OutChannels%c.Groups != 0 {
		return nil, fmt.Errorf("nn: %s: channels (in %d, out %d) must divide by groups %d", op, c.InChannels, c.OutChannels, c.Groups)
	}
	wantW := []int{c.OutChannels, c.InChannels / c.Groups}
	if c.transposed {
		wantW = []int{c.InChannels, c.OutChannels / c.Groups}
	}
	if w.Shape()[0] != wantW[0] || w.Shape()[1] != wantW[1] {
		return nil, fmt.Errorf("nn: %s: weight shape %v, want (%d, %d, %v)", op, w.Shape(), wantW[0], wantW[1], c.KernelSize)
	}
	if b != nil {
		if err := checkF32Node(op, b, 1); err != nil {
			return nil, fmt.Errorf("%w (bias)", err)
		}
		if b.Shape()[0] != c.OutChannels {
			return nil, fmt.Errorf("nn: %s: bias has shape %v, want (%d)", op, b.Shape(), c.OutChannels)
		}
	}
	s := x.Shape()
	unbatched := s.Dims() == nd+1
	if !unbatched && s.Dims() != nd+2 {
		return nil, fmt.Errorf("nn: %s: input shape %v, want rank %d (N, C, spatial) or %d", op, s, nd+2, nd+1)
	}
	var err error
	if unbatched {
		if x, err = reshape(x, append(tensor.Shape{1}, s...)); err != nil {
			return nil, err
		}
		s = x.Shape()
	}
	if s[1] != c.InChannels {
		return nil, fmt.Errorf("nn: %s: input has %d channels (shape %v), want %d", op, s[1], s, c.InChannels)
	}
	var y *gorgonia.Node
	if c.transposed {
		y, err = convTransposeNodes(op, x, w, b, c.Stride, c.Padding, c.Dilation, c.OutputPadding, c.Groups)
	} else if c.PaddingSame {
		if err := c.validate(op); err != nil {
			return nil, err
		}
		pl, pr := make([]int, nd), make([]int, nd)
		for i := range pl {
			total := c.Dilation[i] * (c.KernelSize[i] - 1)
			pl[i], pr[i] = total/2, total-total/2
		}
		y, err = convNodesLR(op, x, w, b, c.Stride, pl, pr, c.Dilation, c.Groups)
	} else {
		y, err = convNodes(op, x, w, b, c.Stride, c.Padding, c.Dilation, c.Groups)
	}
	if err != nil {
		return nil, err
	}
	if unbatched {
		return reshape(y, y.Shape()[1:].Clone())
	}
	return y, nil
}

// Conv is torch.nn.functional.conv1d/2d/3d on nodes: x (N, C, spatial…),
// w (Out, C/groups, k…), b (Out) or nil; stride, padding and dilation have
// one value per spatial axis. Differentiable in x, w and b.
func Conv(x, w, b *gorgonia.Node, stride, padding, dilation []int, groups int) (*gorgonia.Node, error) {
	if err := checkF32Node("conv", x, -1); err != nil {
		return nil, err
	}
	if err := checkF32Node("conv", w, x.Shape().Dims()); err != nil {
		return nil, fmt.Errorf("%w (weight)", err)
	}
	if err := checkGeometry("conv", x.Shape().Dims()-2, stride, padding, dilation, nil, groups); err != nil {
		return nil, err
	}
	if w.Shape()[0]%groups != 0 {
		return nil, fmt.Errorf("nn: conv: %d output channels do not divide by groups %d", w.Shape()[0], groups)
	}
	return convNodes("conv", x, w, b, stride, padding, dilation, groups)
}

// ConvTranspose is torch.nn.functional.conv_transpose1d/2d/3d on nodes:
// x (N, Cin, spatial…), w (Cin, Out/groups, k…), b (Out) or nil.
func ConvTranspose(x, w, b *gorgonia.Node, stride, padding, dilation, outputPadding []int, groups int) (*gorgonia.Node, error) {
	if err := checkF32Node("conv_transpose", x, -1); err != nil {
		return nil, err
	}
	if err := checkF32Node("conv_transpose", w, x.Shape().Dims()); err != nil {
		return nil, fmt.Errorf("%w (weight)", err)
	}
	if err := checkGeometry("conv_transpose", x.Shape().Dims()-2, stride, padding, dilation, outputPadding, groups); err != nil {
		return nil, err
	}
	if x.Shape()[1]%groups != 0 {
		return nil, fmt.Errorf("nn: conv_transpose: %d input channels do not divide by groups %d", x.Shape()[1], groups)
	}
	return convTransposeNodes("conv_transpose", x, w, b, stride, padding, dilation, outputPadding, groups)
}

func checkGeometry(op string, nd int, stride, padding, dilation, outputPadding []int, groups int) error {
	if nd < 1 || nd > 3 {
		return fmt.Errorf("nn: %s: %d spatial axes, want 1, 2 or 3", op, nd)
	}
	if groups <= 0 {
		return fmt.Errorf("nn: %s: groups %d must be positive", op, groups)
	}
	if outputPadding == nil {
		outputPadding = make([]int, nd)
	}
	for _, v := range [][]int{stride, padding, dilation, outputPadding} {
		if len(v) != nd {
			return fmt.Errorf("nn: %s: stride %v, padding %v, dilation %v, output padding %v need %d values each", op, stride, padding, dilation, outputPadding, nd)
		}
	}
	for i := 0; i < nd; i++ {
		if stride[i] <= 0 || dilation[i] <= 0 || padding[i] < 0 || outputPadding[i] < 0 {
			return fmt.Errorf("nn: %s: bad geometry stride %v padding %v dilation %v", op, stride, padding, dilation)
		}
		if outputPadding[i] >= stride[i] && outputPadding[i] >= dilation[i] {
			return fmt.Errorf("nn: %s: output padding %v must be smaller than stride %v or dilation %v", op, outputPadding, stride, dilation)
		}
	}
	return nil
}

// convNodes builds PyTorch's convolution: x (N, C, In…), w (Out, C/g, K…),
// b (Out) or nil → (N, Out, Out…) with zero padding, as unfold (im2col)
// followed by a matmul per group.
func convNodes(op string, x, w, b *gorgonia.Node, stride, pad, dil []int, groups int) (*gorgonia.Node, error) {
	return convNodesLR(op, x, w, b, stride, pad, pad, dil, groups)
}

// convNodesLR is convNodes with separate left and right zero padding (for
// padding="same" with an even total).
func convNodesLR(op string, x, w, b *gorgonia.Node, stride, pad, padR, dil []int, groups int) (*gorgonia.Node, error) {
	s, ws := x.Shape(), w.Shape()
	N, C := s[0], s[1]
	cout, cg := ws[0], ws[1]
	if C != cg*groups {
		return nil, fmt.Errorf("nn: %s: input has %d channels, weight %v with %d groups expects %d", op, C, ws, groups, cg*groups)
	}
	k := []int(ws[2:])
	out, err := convOutLR(op, s[2:], k, stride, pad, padR, dil)
	if err != nil {
		return nil, err
	}
	win := window{C: cg, In: s[2:].Clone(), K: append([]int(nil), k...), S: stride, P: pad, D: dil, Out: out}
	L, K := prod(out), prod(k)
	og := cout / groups
	w2, err := reshape(w, tensor.Shape{cout, cg * K})
	if err != nil {
		return nil, err
	}
	var parts gorgonia.Nodes
	for gi := 0; gi < groups; gi++ {
		xg, wg := x, w2
		if groups > 1 {
			if xg, err = sliceAxis(x, 1, gi*cg, (gi+1)*cg); err != nil {
				return nil, err
			}
			if wg, err = sliceAxis(w2, 0, gi*og, (gi+1)*og); err != nil {
				return nil, err
			}
		}
		cols, err := unfold(xg, win)
		if err != nil {
			return nil, err
		}
		yg, err := matmul(cols, wg, false, true)
		if err != nil {
			return nil, err
		}
		parts = append(parts, yg)
	}
	y := parts[0]
	if groups > 1 {
		if y, err = cat(1, parts...); err != nil {
			return nil, err
		}
	}
	if b != nil {
		if y, err = spanApply(y, b, spanAdd, 1, 2); err != nil {
			return nil, err
		}
	}
	return toChannelsFirst(y, N, L, cout, out)
}

// toChannelsFirst turns rows (N·L, C) into (N, C, out…).
func toChannelsFirst(y *gorgonia.Node, N, L, C int, out []int) (*gorgonia.Node, error) {
	shape := append(tensor.Shape{N, C}, out...)
	if L == 1 || C == 1 {
		return reshape(y, shape)
	}
	return swapView(y, N, L, C, shape)
}

// convTransposeNodes builds PyTorch's transposed convolution: x (N, Cin,
// In…), w (Cin, Out/g, K…) → (N, Out, O…) with
// O = (In−1)·stride − 2·pad + dil·(K−1) + outputPadding + 1, as a matmul
// per group followed by fold (col2im), the adjoint of convolution.
func convTransposeNodes(op string, x, w, b *gorgonia.Node, stride, pad, dil, outPad []int, groups int) (*gorgonia.Node, error) {
	s, ws := x.Shape(), w.Shape()
	nd := s.Dims() - 2
	N, C := s[0], s[1]
	if ws[0] != C {
		return nil, fmt.Errorf("nn: %s: input has %d channels, weight %v expects %d", op, C, ws, ws[0])
	}
	cg, og := C/groups, ws[1]
	k := []int(ws[2:])
	in := s[2:]
	out := make([]int, nd)
	for i := range out {
		out[i] = (in[i]-1)*stride[i] - 2*pad[i] + dil[i]*(k[i]-1) + outPad[i] + 1
		if out[i] <= 0 {
			return nil, fmt.Errorf("nn: %s: output size %v is not positive for input %v", op, out, s)
		}
	}
	pos, err := convOut(op, out, k, stride, pad, dil)
	if err != nil {
		return nil, err
	}
	if !tensor.Shape(pos).Eq(in) {
		return nil, fmt.Errorf("nn: %s: internal geometry mismatch: %v positions for input %v", op, pos, in)
	}
	win := window{C: og, In: out, K: append([]int(nil), k...), S: stride, P: pad, D: dil, Out: in.Clone()}
	Lin, K := prod(in), prod(k)
	var xr *gorgonia.Node
	if Lin == 1 || C == 1 {
		xr, err = reshape(x, tensor.Shape{N * Lin, C})
	} else {
		xr, err = swapView(x, N, C, Lin, tensor.Shape{N * Lin, C})
	}
	if err != nil {
		return nil, err
	}
	w2, err := reshape(w, tensor.Shape{C, og * K})
	if err != nil {
		return nil, err
	}
	var parts gorgonia.Nodes
	for gi := 0; gi < groups; gi++ {
		xg, wg := xr, w2
		if groups > 1 {
			if xg, err = sliceAxis(xr, 1, gi*cg, (gi+1)*cg); err != nil {
				return nil, err
			}
			if wg, err = sliceAxis(w2, 0, gi*cg, (gi+1)*cg); err != nil {
				return nil, err
			}
		}
		cols, err := matmul(xg, wg, false, false)
		if err != nil {
			return nil, err
		}
		yg, err := fold(cols, win)
		if err != nil {
			return nil, err
		}
		parts = append(parts, yg)
	}
	y := parts[0]
	if groups > 1 {
		if y, err = cat(1, parts...); err != nil {
			return nil, err
		}
	}
	if b != nil {
		if y, err = spanApply(y, b, spanAdd, 1, 2); err != nil {
			return nil, err
		}
	}
	return y, nil
}

// Conv1d is torch.nn.Conv1d: (N, C, L) → (N, Out, L'), weight (Out, C/g, K).
type Conv1d struct{ ConvNd }

// Conv2d is torch.nn.Conv2d: (N, C, H, W) → (N, Out, H', W'), weight
// (Out, C/g, kH, kW), H' = floor((H + 2p − d(k−1) − 1)/s) + 1.
type Conv2d struct{ ConvNd }

// Conv3d is torch.nn.Conv3d: (N, C, D, H, W) → (N, Out, D', H', W').
type Conv3d struct{ ConvNd }

// ConvTranspose1d is torch.nn.ConvTranspose1d, weight (In, Out/g, K).
type ConvTranspose1d struct{ ConvNd }

// ConvTranspose2d is torch.nn.ConvTranspose2d, weight (In, Out/g, kH, kW).
type ConvTranspose2d struct{ ConvNd }

// ConvTranspose3d is torch.nn.ConvTranspose3d, weight (In, Out/g, kD, kH, kW).
type ConvTranspose3d struct{ ConvNd }

// NewConv1d returns a Conv1d; options Stride, Padding, Dilation, Groups,
// WithBias, WithSeed/WithRand.
func NewConv1d(in, out int, kernel []int, opts ...Option) (*Conv1d, error) {
	c, err := newConvNd("conv1d", 1, false, in, out, kernel, opts)
	return &Conv1d{c}, err
}

// NewConv2d returns a Conv2d (kernel: one size or (kH, kW)); options Stride,
// Padding, Dilation, Groups, WithBias, WithSeed/WithRand.
func NewConv2d(in, out int, kernel []int, opts ...Option) (*Conv2d, error) {
	c, err := newConvNd("conv2d", 2, false, in, out, kernel, opts)
	return &Conv2d{c}, err
}

// NewConv3d returns a Conv3d; options as NewConv2d.
func NewConv3d(in, out int, kernel []int, opts ...Option) (*Conv3d, error) {
	c, err := newConvNd("conv3d", 3, false, in, out, kernel, opts)
	return &Conv3d{c}, err
}

// NewConvTranspose1d returns a ConvTranspose1d; options as NewConv2d plus OutputPadding.
func NewConvTranspose1d(in, out int, kernel []int, opts ...Option) (*ConvTranspose1d, error) {
	c, err := newConvNd("conv_transpose1d", 1, true, in, out, kernel, opts)
	return &ConvTranspose1d{c}, err
}

// NewConvTranspose2d returns a ConvTranspose2d; options as NewConv2d plus OutputPadding.
func NewConvTranspose2d(in, out int, kernel []int, opts ...Option) (*ConvTranspose2d, error) {
	c, err := newConvNd("conv_transpose2d", 2, true, in, out, kernel, opts)
	return &ConvTranspose2d{c}, err
}

// NewConvTranspose3d returns a ConvTranspose3d; options as NewConv2d plus OutputPadding.
func NewConvTranspose3d(in, out int, kernel []int, opts ...Option) (*ConvTranspose3d, error) {
	c, err := newConvNd("conv_transpose3d", 3, true, in, out, kernel, opts)
	return &ConvTranspose3d{c}, err
}

// TypeName returns "Conv1d".
func (c *Conv1d) TypeName() string { return "Conv1d" }

// TypeName returns "Conv2d".
func (c *Conv2d) TypeName() string { return "Conv2d" }

// TypeName returns "Conv3d".
func (c *Conv3d) TypeName() string { return "Conv3d" }

// TypeName returns "ConvTranspose1d".
func (c *ConvTranspose1d) TypeName() string { return "ConvTranspose1d" }

// TypeName returns "ConvTranspose2d".
func (c *ConvTranspose2d) TypeName() string { return "ConvTranspose2d" }

// TypeName returns "ConvTranspose3d".
func (c *ConvTranspose3d) TypeName() string { return "ConvTranspose3d" }

// Forward convolves x (N, C, L) or (C, L).
func (c *Conv1d) Forward(x *gorgonia.Node) (*gorgonia.Node, error) { return c.forward("conv1d", x) }

// Forward convolves x (N, C, H, W) or (C, H, W).
func (c *Conv2d) Forward(x *gorgonia.Node) (*gorgonia.Node, error) { return c.forward("conv2d", x) }

// Forward convolves x (N, C, D, H, W) or (C, D, H, W).
func (c *Conv3d) Forward(x *gorgonia.Node) (*gorgonia.Node, error) { return c.forward("conv3d", x) }

// Forward applies the transposed convolution to x (N, C, L) or (C, L).
func (c *ConvTranspose1d) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return c.forward("conv_transpose1d", x)
}

// Forward applies the transposed convolution to x (N, C, H, W) or (C, H, W).
func (c *ConvTranspose2d) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return c.forward("conv_transpose2d", x)
}

// Forward applies the transposed convolution to x (N, C, D, H, W) or (C, D, H, W).
func (c *ConvTranspose3d) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	return c.forward("conv_transpose3d", x)
}

// Clone deep-copies the layer.
func (c *Conv1d) Clone() Module { return &Conv1d{c.cloneConv()} }

// Clone deep-copies the layer.
func (c *Conv2d) Clone() Module { return &Conv2d{c.cloneConv()} }

// Clone deep-copies the layer.
func (c *Conv3d) Clone() Module { return &Conv3d{c.cloneConv()} }

// Clone deep-copies the layer.
func (c *ConvTranspose1d) Clone() Module { return &ConvTranspose1d{c.cloneConv()} }

// Clone deep-copies the layer.
func (c *ConvTranspose2d) Clone() Module { return &ConvTranspose2d{c.cloneConv()} }

// Clone deep-copies the layer.
func (c *ConvTranspose3d) Clone() Module { return &ConvTranspose3d{c.cloneConv()} }

// sliceAxis returns a contiguous copy of n[..., lo:hi, ...] along axis,
// keeping the axis even when hi − lo = 1.
func sliceAxis(n *gorgonia.Node, axis, lo, hi int) (*gorgonia.Node, error) {
	return narrow(n, axis, lo, hi)
}
