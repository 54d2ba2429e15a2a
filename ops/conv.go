package ops

// Layout. Tensors enter and leave in PyTorch's channel-major layout (NCL,
// NCHW, NCDHW). Inside, convForward picks the first of these paths that
// takes the shape; all are exact and bit-identical to each other and for
// every thread count (TestConvPathsBitIdentical forces each one):
//
//  1. direct u8 kernel (kernels.ConvDirectU8) for one input channel per
//     group (depthwise, and single-channel first layers) whose 16 output
//     pixels' taps fit one 64-byte load: each input plane is padded once
//     with the zero point, a byte permutation (VPERMB) gathers 4 taps of 16
//     pixels, and one VPDPBUSD per output channel accumulates them, with
//     the requantizing epilogue in the same pass. There the GEMM's N would
//     be 1 (depthwise) or its K tiny (C = 1, K = 25) and im2col dominated.
//  2. implicit GEMM (kernels.ConvImplicitNCHW) for one group, width
//     dilation 1 and KW·C a multiple of 4 (at least 32): the input is
//     transposed once into a zero-point-padded NHWC image (AVX-512 16×64
//     byte transposes) and the GEMM microkernels read each kernel row's
//     KW·C bytes straight from it (row stride SW·C), so no im2col matrix is
//     built; each block of ≤ 96 output pixels is requantized by the GEMM
//     epilogue and transposed into NCHW while in cache.
//  3. the int32 direct kernel (kernels.ConvDirectNCHW) for the remaining
//     depthwise shapes (3-D, or taps beyond the 64-byte reach) with at most
//     two output channels per group.
//  4. im2col + GEMM in channel-minor layout (NHWC) for everything else
//     (groups > 1 with several channels per group, small KW·C, width
//     dilation, 3-D): the input is transposed to NHWC, im2col copies each
//     kernel row's KW·C contiguous bytes in one move (a 1×1 stride-1
//     convolution needs none), the GEMM writes requantized NHWC rows, and
//     the result is transposed back to NCHW; im2col and GEMM run in blocks
//     of 128 KiB of im2col matrix shared out among kernels.Threads()
//     goroutines.
//
// Measured (go run ./bench -only conv -threads 1, CPU time, fastest of 7,
// loaded 2-vCPU Xeon model 207), before → after paths 1–2 were added:
// conv_a (C64 56² K64 3×3) 320 → 430–490 GOPS, conv_b (C1 28² K16 5×5)
// 15.6 → 53–80, conv_c (C16 14² K32 5×5) 200 → 250–350, conv_d (depthwise
// 3×3, C128 56²) 2.4 → 16–20.
//
// Transposed convolutions run a GEMM per group on the NHWC input (K = Cg)
// and scatter the int32 products into the output accumulators (col2im)
// before requantizing.

import (
	"fmt"
	"sync"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// ConvOptions are the hyper-parameters of a convolution. Each slice holds
// one value per spatial dimension, or one value for all of them; nil takes
// the default. Groups 0 means 1.
type ConvOptions struct {
	Stride        []int // default 1; ≥ 1
	Padding       []int // default 0; ≥ 0, zeros in the quantized domain (the input zero point)
	Dilation      []int // default 1; ≥ 1
	OutputPadding []int // transposed convolutions only; default 0; < stride or < dilation
	Groups        int   // input and output channels must be multiples of it
}

// PackedConv is a convolution's qint8 weight packed once for the GEMM (and
// kept in PyTorch's layout for the direct kernels), with its scales, zero
// points, float32 bias and hyper-parameters: PyTorch's ConvPackedParams
// (quantized::conv2d_prepack and friends). It is immutable and safe for
// concurrent use.
type PackedConv struct {
	op         string // "conv2d", "conv_transpose1d", ...
	dims       int    // spatial dimensions, 1–3
	transposed bool
	cin, cout  int
	groups     int
	k, s, p, d [3]int // kernel, stride, padding, dilation as (D, H, W)
	outPad     [3]int
	w          []int8                   // PyTorch layout
	gemm       []*kernels.PackedWeights // one per group, GEMM layout
	scales     []float64                // 1, or per channel (O; Og when transposed)
	wZP        []int32                  // 1, or per channel
	gemmZP     [][]int32                // per group: the GEMM rows' zero points
	bias       []float32                // nil or O
	weight     *qtensor.QTensor
}

// PrepackConv1d packs a Conv1d weight (O, C/groups, k) and optional float32
// bias (O) with the options, as quantized::conv1d_prepack does. The weight
// is qint8, per tensor or per channel along axis 0.
func PrepackConv1d(w *qtensor.QTensor, bias *tensor.Dense, opt ConvOptions) (*PackedConv, error) {
	return prepackConv("conv1d_prepack", 1, false, w, bias, opt)
}

// PrepackConv2d packs a Conv2d weight (O, C/groups, kh, kw) and optional
// float32 bias (O), as quantized::conv2d_prepack does. The weight is qint8,
// per tensor or per channel along axis 0.
func PrepackConv2d(w *qtensor.QTensor, bias *tensor.Dense, opt ConvOptions) (*PackedConv, error) {
	return prepackConv("conv2d_prepack", 2, false, w, bias, opt)
}

// PrepackConv3d packs a Conv3d weight (O, C/groups, kd, kh, kw) and optional
// float32 bias (O), as quantized::conv3d_prepack does.
func PrepackConv3d(w *qtensor.QTensor, bias *tensor.Dense, opt ConvOptions) (*PackedConv, error) {
	return prepackConv("conv3d_prepack", 3, false, w, bias, opt)
}

// Unpack returns copies of the weight and bias (nil without bias).
func (p *PackedConv) Unpack() (*qtensor.QTensor, *tensor.Dense) {
	return cloneQ(p.weight), biasDense(p.bias)
}

// Options returns the convolution's hyper-parameters, one value per spatial
// dimension.
func (p *PackedConv) Options() ConvOptions {
	lo := 3 - p.dims
	return ConvOptions{
		Stride: append([]int(nil), p.s[lo:]...), Padding: append([]int(nil), p.p[lo:]...),
		Dilation: append([]int(nil), p.d[lo:]...), OutputPadding: append([]int(nil), p.outPad[lo:]...),
		Groups: p.groups,
	}
}

func spatialOpt(op, name string, v []int, dims, def, min int) ([3]int, error) {
	out := [3]int{1, 1, 1}
	if name == "padding" || name == "output_padding" {
		out = [3]int{}
	}
	var vals []int
	switch len(v) {
	case 0:
		vals = []int{def, def, def}[:dims]
	case 1:
		vals = []int{v[0], v[0], v[0]}[:dims]
	case dims:
		vals = v
	default:
		return out, fmt.Errorf("ops: %s: %s has %d values, want 1 or %d", op, name, len(v), dims)
	}
	for i, x := range vals {
		if x < min {
			return out, fmt.Errorf("ops: %s: %s %v must be ≥ %d", op, name, v, min)
		}
		out[3-dims+i] = x
	}
	return out, nil
}

func prepackConv(op string, dims int, transposed bool, w *qtensor.QTensor, bias *tensor.Dense, opt ConvOptions) (*PackedConv, error) {
	if w == nil {
		return nil, fmt.Errorf("ops: %s: nil weight", op)
	}
	shape := w.Shape()
	if len(shape) != dims+2 {
		return nil, fmt.Errorf("ops: %s: weight has shape %v, want %d dimensions", op, shape, dims+2)
	}
	groups := opt.Groups
	if groups == 0 {
		groups = 1
	}
	if groups < 0 {
		return nil, fmt.Errorf("ops: %s: groups %d must be ≥ 1", op, groups)
	}
	p := &PackedConv{op: op[:len(op)-len("_prepack")], dims: dims, transposed: transposed, groups: groups}
	var err error
	if p.s, err = spatialOpt(op, "stride", opt.Stride, dims, 1, 1); err != nil {
		return nil, err
	}
	if p.p, err = spatialOpt(op, "padding", opt.Padding, dims, 0, 0); err != nil {
		return nil, err
	}
	if p.d, err = spatialOpt(op, "dilation", opt.Dilation, dims, 1, 1); err != nil {
		return nil, err
	}
	if transposed {
		if p.outPad, err = spatialOpt(op, "output_padding", opt.OutputPadding, dims, 0, 0); err != nil {
			return nil, err
		}
		for i := 3 - dims; i < 3; i++ {
			if p.outPad[i] >= p.s[i] && p.outPad[i] >= p.d[i] {
				return nil, fmt.Errorf("ops: %s: output_padding %v must be smaller than either stride %v or dilation %v", op, opt.OutputPadding, p.s[3-dims:], p.d[3-dims:])
			}
		}
	} else if len(opt.OutputPadding) > 0 {
		return nil, fmt.Errorf("ops: %s: output_padding is only valid for transposed convolutions", op)
	}
	p.k = [3]int{1, 1, 1}
	for i := 0; i < dims; i++ {
		if shape[2+i] < 1 {
			return nil, fmt.Errorf("ops: %s: weight has shape %v, kernel sizes must be ≥ 1", op, shape)
		}
		p.k[3-dims+i] = shape[2+i]
	}
	taps := p.k[0] * p.k[1] * p.k[2]
	var axis, chans int
	if transposed {
		p.cin, p.cout = shape[0], shape[1]*groups
		if p.cin%groups != 0 {
			return nil, fmt.Errorf("ops: %s: %d input channels (weight dim 0) are not divisible by groups %d", op, p.cin, groups)
		}
		axis, chans = 1, shape[1]
	} else {
		p.cout, p.cin = shape[0], shape[1]*groups
		if p.cout%groups != 0 {
			return nil, fmt.Errorf("ops: %s: %d output channels are not divisible by groups %d", op, p.cout, groups)
		}
		axis, chans = 0, shape[0]
	}
	if p.cin == 0 || p.cout == 0 {
		return nil, fmt.Errorf("ops: %s: weight has shape %v, want non-zero channel counts", op, shape)
	}
	if p.w, p.scales, p.wZP, err = weightParams(op, w, axis, chans); err != nil {
		return nil, err
	}
	if p.bias, err = biasData(op, bias, p.cout); err != nil {
		return nil, err
	}
	p.weight = cloneQ(w)
	cg, og := p.cin/groups, p.cout/groups
	g := p.geom(0, 0, 0, 0, 0, 0)
	p.gemm = make([]*kernels.PackedWeights, groups)
	p.gemmZP = make([][]int32, groups)
	for gr := 0; gr < groups; gr++ {
		if transposed {
			// Rows (og, tap), K = Cg: wt[(og, t)][ci] = w[g·Cg+ci][og][t].
			wt := make([]int8, og*taps*cg)
			for ci := 0; ci < cg; ci++ {
				for o := 0; o < og; o++ {
					src := p.w[((gr*cg+ci)*og+o)*taps:]
					for t := 0; t < taps; t++ {
						wt[(o*taps+t)*cg+ci] = src[t]
					}
				}
			}
			p.gemm[gr] = kernels.PackWeights(wt, og*taps, cg)
			if len(p.wZP) == 1 {
				p.gemmZP[gr] = p.wZP
			} else {
				z := make([]int32, og*taps)
				for o := 0; o < og; o++ {
					for t := 0; t < taps; t++ {
						z[o*taps+t] = p.wZP[o]
					}
				}
				p.gemmZP[gr] = z
			}
			continue
		}
		p.gemm[gr] = kernels.PackWeights(kernels.ConvWeightsToGemm(g, p.w, gr), og, cg*taps)
		if len(p.wZP) == 1 {
			p.gemmZP[gr] = p.wZP
		} else {
			p.gemmZP[gr] = p.wZP[gr*og : (gr+1)*og]
		}
	}
	return p, nil
}

// geom returns the kernel geometry for an input of spatial size (d, h, w)
// and output size (od, oh, ow); for transposed convolutions the GEMM input
// is (d, h, w) and the scatter target (od, oh, ow).
func (p *PackedConv) geom(d, h, w, od, oh, ow int) *kernels.ConvGeom {
	return &kernels.ConvGeom{
		C: p.cin, D: d, H: h, W: w, O: p.cout, Groups: p.groups,
		KD: p.k[0], KH: p.k[1], KW: p.k[2],
		SD: p.s[0], SH: p.s[1], SW: p.s[2],
		PD: p.p[0], PH: p.p[1], PW: p.p[2],
		DD: p.d[0], DH: p.d[1], DW: p.d[2],
		OD: od, OH: oh, OW: ow,
	}
}

// Conv1d computes torch.ops.quantized.conv1d(x, packed, scale, zero_point)
// on a quint8 per-tensor input (N, C, L); see Conv2d for the arithmetic.
func Conv1d(x *qtensor.QTensor, p *PackedConv, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return conv("conv1d", 1, x, p, scale, zeroPoint, false)
}

// Conv1dReLU is Conv1d with a fused ReLU (quantized::conv1d_relu): the output
// is clamped below at its zero point.
func Conv1dReLU(x *qtensor.QTensor, p *PackedConv, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return conv("conv1d_relu", 1, x, p, scale, zeroPoint, true)
}

// Conv2d computes torch.ops.quantized.conv2d(x, packed, scale, zero_point)
// on a quint8 per-tensor input (N, C, H, W), giving a quint8 per-tensor
// output (N, O, OH, OW) with OH = ⌊(H + 2·pad − dil·(kh − 1) − 1)/stride⌋ + 1
// (likewise OW):
//
//	acc = Σ_{c in the group, taps} (qx − zx)·(qw − zw[o])     (padding reads zx)
//	qy  = clamp(zy + rne(f32(f32(acc)·f32(sx·sw[o]/sy)) + f32(b[o]/sy)), 0, 255)
//
// rounding half to even; this is PyTorch's "acc·sx·sw + b, divided by sy and
// rounded" except, rarely, by one step at a tie. The division in OH
// truncates toward zero, as in PyTorch: a kernel overhanging the padded
// input by less than a stride reads the zero point there, and a size of 0
// gives an empty output, as does N = 0. Errors: input not quint8 per tensor
// or not 4-D, a channel count other than the weight's, a negative output
// size, bad output qparams, or a PackedConv built for another rank.
func Conv2d(x *qtensor.QTensor, p *PackedConv, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return conv("conv2d", 2, x, p, scale, zeroPoint, false)
}

// Conv2dReLU is Conv2d with a fused ReLU (quantized::conv2d_relu).
func Conv2dReLU(x *qtensor.QTensor, p *PackedConv, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return conv("conv2d_relu", 2, x, p, scale, zeroPoint, true)
}

// Conv3d computes torch.ops.quantized.conv3d on a quint8 per-tensor input
// (N, C, D, H, W); see Conv2d.
func Conv3d(x *qtensor.QTensor, p *PackedConv, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return conv("conv3d", 3, x, p, scale, zeroPoint, false)
}

// Conv3dReLU is Conv3d with a fused ReLU (quantized::conv3d_relu).
func Conv3dReLU(x *qtensor.QTensor, p *PackedConv, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return conv("conv3d_relu", 3, x, p, scale, zeroPoint, true)
}

// Conv2dWithWeights packs w and bias with opt and calls Conv2d; the
// functional form torch.nn.quantized.functional.conv2d. Pack once with
// PrepackConv2d when the weights are reused.
func Conv2dWithWeights(x, w *qtensor.QTensor, bias *tensor.Dense, opt ConvOptions, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	p, err := PrepackConv2d(w, bias, opt)
	if err != nil {
		return nil, err
	}
	return Conv2d(x, p, scale, zeroPoint)
}

// Conv1dWithWeights packs w and bias with opt and calls Conv1d
// (torch.nn.quantized.functional.conv1d).
func Conv1dWithWeights(x, w *qtensor.QTensor, bias *tensor.Dense, opt ConvOptions, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	p, err := PrepackConv1d(w, bias, opt)
	if err != nil {
		return nil, err
	}
	return Conv1d(x, p, scale, zeroPoint)
}

// Conv3dWithWeights packs w and bias with opt and calls Conv3d
// (torch.nn.quantized.functional.conv3d).
func Conv3dWithWeights(x, w *qtensor.QTensor, bias *tensor.Dense, opt ConvOptions, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	p, err := PrepackConv3d(w, bias, opt)
	if err != nil {
		return nil, err
	}
	return Conv3d(x, p, scale, zeroPoint)
}

// convInput validates x for a packed convolution of p.dims spatial
// dimensions and returns its data, qparams, batch and (D, H, W) sizes.
func convInput(op string, dims int, x *qtensor.QTensor, p *PackedConv) (xd []uint8, sx float64, zx int32, n int, in [3]int, err error) {
	if p == nil {
		return nil, 0, 0, 0, in, fmt.Errorf("ops: %s: nil packed weights", op)
	}
	if p.dims != dims {
		return nil, 0, 0, 0, in, fmt.Errorf("ops: %s: packed weights are for %s, not %s", op, p.op, op)
	}
	if xd, sx, zx, err = quint8Input(op, x, 0); err != nil {
		return nil, 0, 0, 0, in, err
	}
	shape := x.Shape()
	if len(shape) != dims+2 {
		return nil, 0, 0, 0, in, fmt.Errorf("ops: %s: input has shape %v, want %d dimensions (N, C, spatial…)", op, shape, dims+2)
	}
	if shape[1] != p.cin {
		return nil, 0, 0, 0, in, fmt.Errorf("ops: %s: input has %d channels, weight expects %d", op, shape[1], p.cin)
	}
	in = [3]int{1, 1, 1}
	for i := 0; i < dims; i++ {
		in[3-dims+i] = shape[2+i]
	}
	return xd, sx, zx, shape[0], in, nil
}

func outShape(n, c int, out [3]int, dims int) []int {
	s := []int{n, c}
	return append(s, out[3-dims:]...)
}

// im2colBlock is the size in bytes of one block of the im2col matrix
// (about half a typical L2 cache); a variable so tests can shrink it.
var im2colBlock = 1 << 17

// im2colBudget bounds the int32 GEMM results a transposed convolution
// holds at once.
const im2colBudget = 1 << 22

func conv(op string, dims int, x *qtensor.QTensor, p *PackedConv, scale float64, zeroPoint int64, relu bool) (*qtensor.QTensor, error) {
	xd, sx, zx, n, in, err := convInput(op, dims, x, p)
	if err != nil {
		return nil, err
	}
	if p.transposed {
		return nil, fmt.Errorf("ops: %s: packed weights are for a transposed convolution", op)
	}
	var out [3]int
	for i := 0; i < 3; i++ {
		// PyTorch's size, with C's truncating division: a kernel that
		// overhangs the padded input by less than a stride still yields
		// outputs (the overhanging taps read the zero point), and a size
		// of 0 gives an empty tensor.
		out[i] = (in[i]+2*p.p[i]-p.d[i]*(p.k[i]-1)-1)/p.s[i] + 1
		if out[i] < 0 {
			return nil, fmt.Errorf("ops: %s: input %v with padding %v, dilation %v and kernel %v gives a negative output size", op, x.Shape(), p.p[3-dims:], p.d[3-dims:], p.k[3-dims:])
		}
	}
	rq, qp, err := requantFor(op, sx, p.scales, p.bias, scale, zeroPoint, relu)
	if err != nil {
		return nil, err
	}
	y, err := qtensor.Empty(outShape(n, p.cout, out, dims), qp)
	if err != nil {
		return nil, fmt.Errorf("ops: %s: %w", op, err)
	}
	if y.Size() > 0 {
		g := p.geom(in[0], in[1], in[2], out[0], out[1], out[2])
		convForward(g, p, n, xd, zx, rq, y.Dense().Uint8s(), pathAuto)
	}
	return y, nil
}

// convPath selects a convolution kernel; tests force each one.
type convPath int

const (
	pathAuto convPath = iota
	pathIm2col
	pathDirect
	pathDirectU8 // kernels.ConvDirectU8, when it fits
	pathImplicit // kernels.ConvImplicitNCHW, when it fits
)

// directMaxOg is the largest number of output channels per group for which
// the direct kernel is used with one input channel per group (see the
// layout notes above; kernels.BenchmarkConvDirectVsIm2col compares them).
const directMaxOg = 2

// convForward runs a validated convolution of n NCDHW images into NCDHW out.
func convForward(g *kernels.ConvGeom, p *PackedConv, n int, x []uint8, zx int32, rq *kernels.Requant, out []uint8, path convPath) {
	overhang := (g.OD-1)*g.SD+(g.KD-1)*g.DD >= g.D+2*g.PD || (g.OH-1)*g.SH+(g.KH-1)*g.DH >= g.H+2*g.PH ||
		(g.OW-1)*g.SW+(g.KW-1)*g.DW >= g.W+2*g.PW
	if (path == pathAuto || path == pathDirectU8) && g.Cg() == 1 && kernels.ConvDirectU8Fits(g) {
		plan := kernels.NewConvDirectU8Plan(g, zx, p.w, p.wZP, rq)
		perUnit := g.Og() * g.OutSpatial() * g.Taps()
		parallelRange(n*g.Groups, max(1, parallelGrain/max(perUnit, 1)), func(lo, hi int) {
			plan.Run(n, x, out, lo, hi)
		})
		return
	}
	if (path == pathAuto || path == pathImplicit) && kernels.ConvImplicitFits(g) {
		kernels.ConvImplicitNCHW(g, n, x, zx, p.gemm[0], p.gemmZP[0], rq, out)
		return
	}
	if !overhang && (path == pathDirect || (path == pathAuto && g.Cg() == 1 && g.Og() <= directMaxOg)) {
		perUnit := g.Og() * g.OutSpatial() * g.Taps()
		parallelRange(n*g.Groups, max(1, parallelGrain/max(perUnit, 1)), func(lo, hi int) {
			kernels.ConvDirectNCHWRange(g, n, x, zx, p.w, p.wZP, rq, out, lo, hi)
		})
		return
	}
	is, os := g.InSpatial(), g.OutSpatial()
	xn := getBytes(n * is * g.C)
	defer putBytes(xn)
	parallelRange(is, max(1, parallelGrain/max(n*g.C, 1)), func(lo, hi int) {
		kernels.NCHWToNHWCRange(xn, x, n, g.C, is, lo, hi)
	})
	yn := getBytes(n * os * g.O)
	defer putBytes(yn)
	og, kg := g.Og(), g.KGroup()
	rqs := groupRequants(rq, g.Groups, og)
	pointwise := g.Groups == 1 && g.KD*g.KH*g.KW == 1 && g.SD*g.SH*g.SW == 1 && g.PD+g.PH+g.PW == 0
	if pointwise {
		kernels.GemmU8S8Requant(n*os, xn, g.C, zx, p.gemm[0], p.gemmZP[0], rqs[0], yn, g.O)
	} else {
		// im2col and GEMM run block by block, so each block of the im2col
		// matrix is still in cache when the GEMM reads it; the blocks are
		// shared out among kernels.Threads() workers.
		row := g.Groups * kg
		rows := n * os
		block := max(im2colBlock/max(row, 1), 16)
		blocks := (rows + block - 1) / block
		parallelRange(blocks, 1, func(b0, b1 int) {
			col := getBytes(block * row)
			defer putBytes(col)
			for b := b0; b < b1; b++ {
				r0, r1 := b*block, min((b+1)*block, rows)
				kernels.Im2ColNHWCRows(g, n, xn, uint8(zx), r0, r1, col)
				for gr := 0; gr < g.Groups; gr++ {
					kernels.GemmU8S8Requant(r1-r0, col[gr*kg:], row, zx, p.gemm[gr], p.gemmZP[gr], rqs[gr], yn[r0*g.O+gr*og:], g.O)
				}
			}
		})
	}
	parallelRange(os, max(1, parallelGrain/max(n*g.O, 1)), func(lo, hi int) {
		kernels.NHWCToNCHWRange(out, yn, n, g.O, os, lo, hi)
	})
}

// parallelGrain is the least work (bytes moved or multiply-adds) worth a
// goroutine of its own.
const parallelGrain = 1 << 16

// parallelRange splits [0, n) into at most kernels.Threads() contiguous
// parts of at least minPart items and runs f on them concurrently. The
// parts write disjoint outputs, so results do not depend on the split.
func parallelRange(n, minPart int, f func(lo, hi int)) {
	parts := min(kernels.Threads(), n/max(minPart, 1))
	if parts <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 1; i < parts; i++ {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			f(lo, hi)
		}(n*i/parts, n*(i+1)/parts)
	}
	f(0, n/parts)
	wg.Wait()
}

// bytePool recycles the layout and im2col scratch buffers of convolutions.
var bytePool sync.Pool

// getBytes returns a scratch slice of length n with unspecified contents.
func getBytes(n int) []uint8 {
	if b, ok := bytePool.Get().(*[]uint8); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]uint8, n)
}

func putBytes(b []uint8) {
	if cap(b) > 0 {
		bytePool.Put(&b)
	}
}

// groupRequants splits a per-channel epilogue into one per group of og
// channels.
func groupRequants(rq *kernels.Requant, groups, og int) []*kernels.Requant {
	out := make([]*kernels.Requant, groups)
	for gr := range out {
		r := *rq
		if len(rq.Multiplier) > 1 {
			r.Multiplier = rq.Multiplier[gr*og : (gr+1)*og]
		}
		if rq.Bias != nil {
			r.Bias = rq.Bias[gr*og : (gr+1)*og]
		}
		out[gr] = &r
	}
	return out
}
