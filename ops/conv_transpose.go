package ops

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// PrepackConvTranspose1d packs a ConvTranspose1d weight (C, O/groups, k) and
// optional float32 bias (O), as quantized::conv_transpose1d_prepack does.
// The weight is qint8, per tensor or per channel along axis 1 (O/groups
// scales: output channel g·O/groups + j uses scale j in every group).
func PrepackConvTranspose1d(w *qtensor.QTensor, bias *tensor.Dense, opt ConvOptions) (*PackedConv, error) {
	return prepackConv("conv_transpose1d_prepack", 1, true, w, bias, opt)
}

// PrepackConvTranspose2d packs a ConvTranspose2d weight (C, O/groups, kh,
// kw) and optional float32 bias (O), as quantized::conv_transpose2d_prepack
// does; see PrepackConvTranspose1d for per-channel weights.
func PrepackConvTranspose2d(w *qtensor.QTensor, bias *tensor.Dense, opt ConvOptions) (*PackedConv, error) {
	return prepackConv("conv_transpose2d_prepack", 2, true, w, bias, opt)
}

// ConvTranspose1d computes torch.ops.quantized.conv_transpose1d(x, packed,
// scale, zero_point) on a quint8 per-tensor input (N, C, L); see
// ConvTranspose2d.
func ConvTranspose1d(x *qtensor.QTensor, p *PackedConv, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return convTranspose("conv_transpose1d", 1, x, p, scale, zeroPoint)
}

// ConvTranspose2d computes torch.ops.quantized.conv_transpose2d(x, packed,
// scale, zero_point) on a quint8 per-tensor input (N, C, H, W). The output
// is quint8 per tensor, (N, O, OH, OW) with
// OH = (H − 1)·stride − 2·pad + dil·(kh − 1) + output_pad + 1 (likewise OW).
// Input position (h, w) and tap (i, j) add (qx − zx)·(qw − zw) to output
// position (h·stride − pad + i·dil, w·stride − pad + j·dil) when it lies
// inside the output; each output is then requantized as in Conv2d. N = 0
// or an output size of 0 gives an empty output. Errors are those of Conv2d,
// and an input with an empty spatial dimension.
func ConvTranspose2d(x *qtensor.QTensor, p *PackedConv, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return convTranspose("conv_transpose2d", 2, x, p, scale, zeroPoint)
}

// ConvTranspose1dWithWeights packs w and bias with opt and calls
// ConvTranspose1d. Pack once with PrepackConvTranspose1d when the weights
// are reused.
func ConvTranspose1dWithWeights(x, w *qtensor.QTensor, bias *tensor.Dense, opt ConvOptions, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	p, err := PrepackConvTranspose1d(w, bias, opt)
	if err != nil {
		return nil, err
	}
	return ConvTranspose1d(x, p, scale, zeroPoint)
}

// ConvTranspose2dWithWeights packs w and bias with opt and calls
// ConvTranspose2d. Pack once with PrepackConvTranspose2d when the weights
// are reused.
func ConvTranspose2dWithWeights(x, w *qtensor.QTensor, bias *tensor.Dense, opt ConvOptions, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	p, err := PrepackConvTranspose2d(w, bias, opt)
	if err != nil {
		return nil, err
	}
	return ConvTranspose2d(x, p, scale, zeroPoint)
}

func convTranspose(op string, dims int, x *qtensor.QTensor, p *PackedConv, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	xd, sx, zx, n, in, err := convInput(op, dims, x, p)
	if err != nil {
		return nil, err
	}
	if !p.transposed {
		return nil, fmt.Errorf("ops: %s: packed weights are for %s, not a transposed convolution", op, p.op)
	}
	var out [3]int
	for i := 0; i < 3; i++ {
		out[i] = (in[i]-1)*p.s[i] - 2*p.p[i] + p.d[i]*(p.k[i]-1) + p.outPad[i] + 1
		if in[i] < 1 || out[i] < 0 {
			return nil, fmt.Errorf("ops: %s: input %v with stride %v, padding %v and kernel %v gives no valid output size", op, x.Shape(), p.s[3-dims:], p.p[3-dims:], p.k[3-dims:])
		}
	}
	// Per-channel scales index the channel within a group (weight axis 1).
	og := p.cout / p.groups
	scales := p.scales
	if len(scales) > 1 {
		scales = make([]float64, p.cout)
		for o := range scales {
			scales[o] = p.scales[o%og]
		}
	}
	rq, qp, err := requantFor(op, sx, scales, p.bias, scale, zeroPoint, false)
	if err != nil {
		return nil, err
	}
	y, err := qtensor.Empty(outShape(n, p.cout, out, dims), qp)
	if err != nil {
		return nil, fmt.Errorf("ops: %s: %w", op, err)
	}
	if y.Size() > 0 {
		g := p.geom(in[0], in[1], in[2], out[0], out[1], out[2])
		convTransposeForward(g, p, n, xd, zx, rq, y.Dense().Uint8s())
	}
	return y, nil
}

// convTransposeForward runs a validated transposed convolution of n NCDHW
// images into NCDHW out: a GEMM per group gives every input position's
// contributions, which are scattered into int32 accumulators and then
// requantized.
func convTransposeForward(g *kernels.ConvGeom, p *PackedConv, n int, x []uint8, zx int32, rq *kernels.Requant, out []uint8) {
	is, os := g.InSpatial(), g.OutSpatial()
	xn := make([]uint8, n*is*g.C)
	kernels.NCHWToNHWC(xn, x, n, g.C, is)
	acc := make([]int32, n*os*g.O)
	og, cg, taps := g.Og(), g.Cg(), g.Taps()
	cols := og * taps
	nb := im2colBudget / max(4*is*cols, 1)
	nb = min(max(nb, 1), n)
	buf := make([]int32, nb*is*cols)
	for i0 := 0; i0 < n; i0 += nb {
		cnt := min(nb, n-i0)
		for gr := 0; gr < g.Groups; gr++ {
			kernels.GemmU8S8Acc(cnt*is, xn[i0*is*g.C+gr*cg:], g.C, zx, p.gemm[gr], p.gemmZP[gr], buf, cols)
			kernels.ConvTransposeScatterNHWC(g, cnt, gr, buf, cols, acc[i0*os*g.O:])
		}
	}
	plane := make([]int32, os)
	for i := 0; i < n; i++ {
		img := acc[i*os*g.O : (i+1)*os*g.O]
		for o := 0; o < g.O; o++ {
			for j := range plane {
				plane[j] = img[j*g.O+o]
			}
			kernels.RequantizeRow(plane, o, rq, out[(i*g.O+o)*os:(i*g.O+o+1)*os])
		}
	}
}
