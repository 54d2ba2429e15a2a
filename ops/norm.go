package ops

import (
	"fmt"
	"math"
	"sync"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
)

// Quantized normalizations with float32 affine parameters and observed
// output qparams: batch norm (running statistics), layer norm, group norm
// and instance norm, as PyTorch 1.13's quantized CPU kernels compute them.

// fma32 returns a·b + c rounded once to float32, the result of an FMA
// instruction (PyTorch's vectorised kernels use vec::fmadd, and GCC
// contracts a·b + c into FMA in its AVX2 kernels). a·b is exact in
// float64, so the float64 sum s is within half a float64 ulp of the exact
// result, and float32(s) is the correctly rounded float32 unless s lands
// exactly on a float32 halfway point; there the exact sum's rounding error
// decides. (The halfway test reads the float64 bits and assumes a result in
// float32's normal range, as every use here has.)
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	s := p + float64(c)
	if math.Float64bits(s)&(1<<29-1) != 1<<28 {
		return float32(s)
	}
	bb := s - p
	e := (p - (s - bb)) + (float64(c) - bb) // TwoSum: the exact error of s
	r := float32(s)
	switch {
	case e > 0 && float64(r) < s:
		return math.Nextafter32(r, float32(math.Inf(1)))
	case e < 0 && float64(r) > s:
		return math.Nextafter32(r, float32(math.Inf(-1)))
	}
	return r
}

// floatParam checks an optional float32 parameter vector's length and
// values.
func floatParam(op, name string, v []float32, n int, required bool) error {
	if v == nil {
		if required {
			return fmt.Errorf("ops: %s: %s is required", op, name)
		}
		return nil
	}
	if len(v) != n {
		return fmt.Errorf("ops: %s: %s has %d values, want %d", op, name, len(v), n)
	}
	for i, x := range v {
		if x != x {
			return fmt.Errorf("ops: %s: %s[%d] is NaN", op, name, i)
		}
	}
	return nil
}

// normOut validates an 8-bit input and the output qparams of a norm.
func normOut(op string, x *qtensor.QTensor, scale float64, zp int64) (act8, *qtensor.QTensor, error) {
	a, err := perTensor8(op, x)
	if err != nil {
		return act8{}, nil, err
	}
	qp, err := outQParams(op, a.dt, scale, zp)
	if err != nil {
		return act8{}, nil, err
	}
	out, err := emptyLike8(op, x.Shape(), qp)
	if err != nil {
		return act8{}, nil, err
	}
	return a, out, nil
}

// codesInt32 returns x's codes widened to int32.
func codesInt32(x *qtensor.QTensor, signed bool) []int32 {
	n := x.Size()
	r := make([]int32, n)
	if signed {
		for i, v := range x.Dense().Int8s()[:n] {
			r[i] = int32(v)
		}
	} else {
		for i, v := range x.Dense().Uint8s()[:n] {
			r[i] = int32(v)
		}
	}
	return r
}

// storeCodes writes int32 codes (already in range) to out.
func storeCodes(out *qtensor.QTensor, signed bool, v []int32) {
	if signed {
		d := out.Dense().Int8s()[:len(v)]
		for i, c := range v {
			d[i] = int8(c)
		}
		return
	}
	d := out.Dense().Uint8s()[:len(v)]
	for i, c := range v {
		d[i] = uint8(c)
	}
}

// BatchNorm1d applies quantized batch normalization with running
// statistics to an (N, C) or (N, C, L) tensor, with BatchNorm2d's math.
// PyTorch: torch.ops.quantized.batch_norm1d (an (N, C) input is treated
// as (N, C, 1)).
func BatchNorm1d(x *qtensor.QTensor, weight, bias, mean, variance []float32, eps, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return batchNormOp("batch_norm1d", x, []int{2, 3}, weight, bias, mean, variance, eps, scale, zeroPoint, false)
}

// BatchNorm2d applies quantized batch normalization with running
// statistics to an (N, C, H, W) tensor. With sx, zx the input's qparams and
// (scale, zeroPoint) the output's, per channel c (PyTorch's
// compute_fused_params, float32 unless noted):
//
//	invσ = f32(1/f64(sqrt(var[c] + f32(eps))))
//	α    = f32(f64(invσ·w[c])·(sx/scale))            (sx/scale in float64)
//	β    = f32(f64(b[c] − mean[c]·invσ·w[c])/scale)
//	q'   = clamp(zeroPoint + rne(fma(α, q − zx, β)), qmin, qmax)
//
// where fma rounds once, as PyTorch's AVX2 kernel does. An empty input is
// returned as a copy with its own qparams, as PyTorch does. weight, bias,
// mean and variance have C values each. PyTorch: torch.ops.quantized.batch_norm2d
// / nnq.BatchNorm2d. Errors: bad input, wrong rank, parameter lengths other
// than C, NaN parameters, eps < 0, invalid output qparams.
func BatchNorm2d(x *qtensor.QTensor, weight, bias, mean, variance []float32, eps, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return batchNormOp("batch_norm2d", x, []int{4}, weight, bias, mean, variance, eps, scale, zeroPoint, false)
}

// BatchNorm3d is BatchNorm2d for (N, C, D, H, W) tensors;
// torch.ops.quantized.batch_norm3d / nnq.BatchNorm3d.
func BatchNorm3d(x *qtensor.QTensor, weight, bias, mean, variance []float32, eps, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return batchNormOp("batch_norm3d", x, []int{5}, weight, bias, mean, variance, eps, scale, zeroPoint, false)
}

// BatchNormReLU is batch normalization fused with ReLU (the result clamped
// below at the output zero point) for any of the ranks above (2 to 5);
// torch.ops.quantized.batch_norm{1d,2d,3d}_relu / nni.BNReLU2d, BNReLU3d.
func BatchNormReLU(x *qtensor.QTensor, weight, bias, mean, variance []float32, eps, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return batchNormOp("batch_norm_relu", x, []int{2, 3, 4, 5}, weight, bias, mean, variance, eps, scale, zeroPoint, true)
}

func batchNormOp(op string, x *qtensor.QTensor, ranks []int, weight, bias, mean, variance []float32, eps, scale float64, zp int64, relu bool) (*qtensor.QTensor, error) {
	a, out, err := normOut(op, x, scale, zp)
	if err != nil {
		return nil, err
	}
	shape := []int(x.Shape())
	ok := false
	for _, r := range ranks {
		ok = ok || len(shape) == r
	}
	if !ok {
		return nil, fmt.Errorf("ops: %s: input has shape %v; want rank %v", op, shape, ranks)
	}
	if !(eps >= 0) || math.IsInf(eps, 0) {
		return nil, fmt.Errorf("ops: %s: eps %v must be finite and ≥ 0", op, eps)
	}
	c := shape[1]
	for _, p := range []struct {
		name string
		v    []float32
	}{{"weight", weight}, {"bias", bias}, {"running mean", mean}, {"running var", variance}} {
		if err := floatParam(op, p.name, p.v, c, true); err != nil {
			return nil, err
		}
	}
	if x.Size() == 0 {
		// PyTorch's quantized batch norm returns an empty input as it is,
		// with the input's qparams, not (scale, zeroPoint).
		return x.Clone(), nil
	}
	inner := x.Size() / (shape[0] * c)
	alpha := make([]float32, c)
	beta := make([]float32, c)
	ratio := a.scale / scale
	for ch := 0; ch < c; ch++ {
		sq := float32(math.Sqrt(float64(variance[ch] + float32(eps))))
		invSigma := float32(1 / float64(sq))
		alpha[ch] = float32(float64(invSigma*weight[ch]) * ratio)
		beta[ch] = float32(float64(bias[ch]-float32(mean[ch]*invSigma)*weight[ch]) / scale)
	}
	qmin, qmax, _ := qdtype.Range(a.dt)
	lo := qmin
	if relu {
		lo = max(qmin, zp)
	}
	// Every channel maps codes to codes: one 256-entry table per channel.
	zx := int32(a.zp)
	in := kernels.Codes8{Signed: a.signed}
	tabs := make([]*kernels.LUT, c)
	for ch := range tabs {
		al, be := alpha[ch], beta[ch]
		tabs[ch] = kernels.BuildLUTInt(in, func(v int32) int32 {
			r := math.RoundToEven(float64(fma32(al, float32(v-zx), be)))
			return int32(clampF(r+float64(zp), lo, qmax))
		})
	}
	n := x.Size()
	for o := 0; o < n; o += inner * c {
		for ch := 0; ch < c; ch++ {
			b0, b1 := o+ch*inner, o+(ch+1)*inner
			if a.signed {
				kernels.ApplyLUTS8(tabs[ch], out.Dense().Int8s()[b0:b1], x.Dense().Int8s()[b0:b1])
			} else {
				kernels.ApplyLUTU8(tabs[ch], out.Dense().Uint8s()[b0:b1], x.Dense().Uint8s()[b0:b1])
			}
		}
	}
	return out, nil
}

// clampF clamps an integral float64 to [lo, hi]; NaN maps to lo.
func clampF(r float64, lo, hi int64) int64 {
	if !(r >= float64(lo)) {
		return lo
	}
	if r > float64(hi) {
		return hi
	}
	return int64(r)
}

// normalizeGroups runs PyTorch's quantized_normalize_kernel on groups
// [g0, g1) of n consecutive codes each. Per group (float32 unless noted):
//
//	μq   = f32(Σq)/n,  μ = μq − zx
//	varq = max(fma(−μq, μq, f32(Σq²)/n), 0)
//	k    = f32(f64(sx)/sqrt(f64(varq·sx·sx) + eps))       (float64 sqrt)
//	d    = f32(q − zx) − μ
//	y    = fma(f32(d·k), γ, β)        (layer norm)
//	y    = fma(d, f32(k·γ), β)        (group norm)
//	q'   = clamp(zy + rne(y·f32(1/sy)), qmin, qmax)
//
// where fma rounds once (PyTorch's AVX2 build fuses these). γ, β come from
// gamma/beta (nil: 1 and 0): per element of the group (layer norm,
// perChannel false) or per channel, channel = group's index mod groups
// times channelsPerGroup plus the element's channel within the group
// (group norm).
func normalizeGroups(q []int32, g0, g1, n int, zx int32, sx float32, eps float64, gamma, beta []float32, perChannel bool, groups, chPerGroup int, sy float32, zy int32, qmin, qmax int32) {
	inv := 1 / sy
	perCh := 1
	if perChannel {
		perCh = n / chPerGroup
	}
	for g := g0; g < g1; g++ {
		x := q[g*n : (g+1)*n]
		var sum, sumSq int64
		for _, v := range x {
			sum += int64(v)
			sumSq += int64(v) * int64(v)
		}
		meanQ := float32(sum) / float32(n)
		mu := meanQ - float32(zx)
		// GCC contracts the variance's a − b·c into one FMA in PyTorch's
		// AVX2 kernel.
		varQ := max(fma32(-meanQ, meanQ, float32(sumSq)/float32(n)), 0)
		k := float32(float64(sx) / math.Sqrt(float64(float32(varQ*sx)*sx)+eps))
		if perChannel {
			// group norm folds k into γ: fma(d, f32(k·γ), β).
			for ch := 0; ch < chPerGroup; ch++ {
				idx := (g%groups)*chPerGroup + ch
				gm, bt := float32(1), float32(0)
				if gamma != nil {
					gm = gamma[idx]
				}
				if beta != nil {
					bt = beta[idx]
				}
				gp := float32(k * gm)
				blk := x[ch*perCh : (ch+1)*perCh]
				if len(blk) < 256 {
					for i, v := range blk {
						blk[i] = kernelsQuantize(fma32(float32(v-zx)-mu, gp, bt), inv, zy, qmin, qmax)
					}
					continue
				}
				// long channels: one evaluation per possible code
				var tab [256]int32
				for v := qmin; v <= qmax; v++ {
					tab[uint8(v)] = kernelsQuantize(fma32(float32(v-zx)-mu, gp, bt), inv, zy, qmin, qmax)
				}
				for i, v := range blk {
					blk[i] = tab[uint8(v)]
				}
			}
			continue
		}
		// layer norm: fma(f32(d·k), γ, β).
		for i, v := range x {
			gm, bt := float32(1), float32(0)
			if gamma != nil {
				gm = gamma[i]
			}
			if beta != nil {
				bt = beta[i]
			}
			x[i] = kernelsQuantize(fma32(float32((float32(v-zx)-mu)*k), gm, bt), inv, zy, qmin, qmax)
		}
	}
}

// kernelsQuantize is quantize_val with a precomputed f32 reciprocal.
func kernelsQuantize(v, inv float32, zp, qmin, qmax int32) int32 {
	return int32(qdtype.QuantizeValue(v, inv, int64(zp), int64(qmin), int64(qmax)))
}

// LayerNorm applies quantized layer normalization over the trailing
// dimensions normalizedShape, with optional elementwise affine weight and
// bias of that shape (nil for none), and output qparams (scale, zeroPoint);
// per row of n normalized elements, in PyTorch's float32 arithmetic
// (statistics from exact integer sums of the codes; fma rounds once, as
// PyTorch's AVX2 kernel does):
//
//	μq = f32(Σq)/n,  var = max(fma(−μq, μq, f32(Σq²)/n), 0)
//	k  = f32(sx/sqrt(f64(var·sx·sx) + eps)),  d = f32(q − zx) − (μq − zx)
//	q' = clamp(zeroPoint + rne(fma(f32(d·k), γ, β)·f32(1/scale)), qmin, qmax)
//
// PyTorch: torch.ops.quantized.layer_norm / nnq.LayerNorm.
// Errors: bad input, normalizedShape empty or not a suffix of x's shape,
// weight/bias of the wrong size or NaN, eps < 0, invalid output qparams.
func LayerNorm(x *qtensor.QTensor, normalizedShape []int, weight, bias []float32, eps, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	const op = "layer_norm"
	a, out, err := normOut(op, x, scale, zeroPoint)
	if err != nil {
		return nil, err
	}
	shape := []int(x.Shape())
	if len(normalizedShape) == 0 || len(normalizedShape) > len(shape) {
		return nil, fmt.Errorf("ops: %s: normalized_shape %v does not fit input shape %v", op, normalizedShape, shape)
	}
	n := 1
	for i, s := range normalizedShape {
		if shape[len(shape)-len(normalizedShape)+i] != s {
			return nil, fmt.Errorf("ops: %s: normalized_shape %v is not the trailing shape of input %v", op, normalizedShape, shape)
		}
		n *= s
	}
	if err := floatParam(op, "weight", weight, n, false); err != nil {
		return nil, err
	}
	if err := floatParam(op, "bias", bias, n, false); err != nil {
		return nil, err
	}
	return normRun(op, x, a, out, n, eps, weight, bias, false, 1, 1)
}

// normRun validates eps and runs normalize over groups of n codes.
func normRun(op string, x *qtensor.QTensor, a act8, out *qtensor.QTensor, n int, eps float64, weight, bias []float32, perChannel bool, groups, chPerGroup int) (*qtensor.QTensor, error) {
	if !(eps >= 0) || math.IsInf(eps, 0) {
		return nil, fmt.Errorf("ops: %s: eps %v must be finite and ≥ 0", op, eps)
	}
	if x.Size() == 0 || n == 0 {
		return out, nil
	}
	qp := out.QParams()
	qmin, qmax, _ := qdtype.Range(a.dt)
	q := codesInt32(x, a.signed)
	m := x.Size() / n
	run := func(g0, g1 int) {
		normalizeGroups(q, g0, g1, n, int32(a.zp), float32(a.scale), eps, weight, bias, perChannel, groups, chPerGroup,
			float32(qp.Scale()), int32(qp.ZeroPoint()), int32(qmin), int32(qmax))
	}
	// Groups are independent: large inputs split them over goroutines
	// (identical codes for every count).
	workers := min(kernels.Threads(), m, x.Size()/(1<<16))
	if workers < 2 {
		run(0, m)
	} else {
		var wg sync.WaitGroup
		for k := 0; k < workers; k++ {
			wg.Add(1)
			go func(g0, g1 int) {
				defer wg.Done()
				run(g0, g1)
			}(m*k/workers, m*(k+1)/workers)
		}
		wg.Wait()
	}
	storeCodes(out, a.signed, q)
	return out, nil
}

// GroupNorm applies quantized group normalization to an (N, C, *) tensor
// (rank ≥ 3): the C channels are split into groups of C/groups, each
// (sample, group) is normalized over its channels and spatial elements, and
// per-channel weight and bias (C values each, nil for none) are applied;
// the math is LayerNorm's with the per-channel form y = fma(d, f32(k·γ), β)
// PyTorch uses for groups. PyTorch: torch.ops.quantized.group_norm /
// nnq.GroupNorm. Errors: bad input, rank < 3, groups < 1 or not dividing
// C, weight/bias of the wrong size or NaN, eps < 0, invalid output qparams.
func GroupNorm(x *qtensor.QTensor, groups int, weight, bias []float32, eps, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	return groupNormOp("group_norm", x, groups, weight, bias, eps, scale, zeroPoint)
}

// InstanceNorm applies quantized instance normalization to an (N, C, L),
// (N, C, H, W) or (N, C, D, H, W) tensor: GroupNorm with one group per
// channel. PyTorch: torch.ops.quantized.instance_norm behind
// nnq.InstanceNorm1d/2d/3d.
func InstanceNorm(x *qtensor.QTensor, weight, bias []float32, eps, scale float64, zeroPoint int64) (*qtensor.QTensor, error) {
	if x != nil && x.Dims() >= 3 {
		return groupNormOp("instance_norm", x, x.Shape()[1], weight, bias, eps, scale, zeroPoint)
	}
	return groupNormOp("instance_norm", x, 1, weight, bias, eps, scale, zeroPoint)
}

func groupNormOp(op string, x *qtensor.QTensor, groups int, weight, bias []float32, eps, scale float64, zp int64) (*qtensor.QTensor, error) {
	a, out, err := normOut(op, x, scale, zp)
	if err != nil {
		return nil, err
	}
	shape := []int(x.Shape())
	if len(shape) < 3 {
		return nil, fmt.Errorf("ops: %s: input has shape %v; want rank ≥ 3 (N, C, ...)", op, shape)
	}
	c := shape[1]
	if groups < 1 || c%groups != 0 {
		return nil, fmt.Errorf("ops: %s: %d channels cannot be split into %d groups", op, c, groups)
	}
	if err := floatParam(op, "weight", weight, c, false); err != nil {
		return nil, err
	}
	if err := floatParam(op, "bias", bias, c, false); err != nil {
		return nil, err
	}
	if shape[0] == 0 {
		return out, nil
	}
	n := x.Size() / (shape[0] * groups)
	return normRun(op, x, a, out, n, eps, weight, bias, true, groups, c/groups)
}
