package observer

import (
	"fmt"
	"math"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// HistogramObserver keeps a running histogram of the values seen and
// chooses the range that minimizes the L2 quantization error; PyTorch's
// HistogramObserver (per-tensor schemes only).
//
// Observe, as in PyTorch 1.13 but on float histogram bounds:
//   - first batch, or the previous range had min == max: min, max =
//     aminmax(x) and histogram = histc(x, bins, min, max) (a constant
//     previous histogram is discarded, not merged);
//   - otherwise the range grows to cover x, only its max relaxed so that the
//     new bin width is a whole multiple d of the old fine grid
//     (old width / upsample_rate); the old histogram is upsampled by
//     upsample_rate, shifted into the new range and summed back d fine bins
//     at a time, then added to histc(x) on the new range.
//
// CalculateQParams runs _non_linear_param_search (quantile steps of 1e-5 from
// either end, stopping at the first increase of the L2 error computed
// against 2^bits destination bins, 256 for 8-bit dtypes regardless of
// reduce_range) and then the observer formula on the range found.
//
// PyTorch 1.13 passes int(min) and int(max) to torch.histc, truncating the
// bounds and dropping data; this implementation uses the float bounds, as
// PyTorch ≤ 1.11 and ≥ 2.0 and the conformance suite do.
type HistogramObserver struct {
	uniform
	bins, upsampleRate int
	dstNbins           float64
	histogram          []float32
	minVal, maxVal     float32
}

// NewHistogramObserver returns a HistogramObserver. Options: WithBins
// (default 2048), WithUpsampleRate (default 128), WithDtype, WithQScheme
// (per-tensor only), WithReduceRange, WithQuantRange, WithEps.
func NewHistogramObserver(opts ...Option) (*HistogramObserver, error) {
	c := newConfig(opts)
	if err := unknownOption(KindHistogram, c, "hist"); err != nil {
		return nil, err
	}
	if c.bins < 1 {
		return nil, fmt.Errorf("observer: %s: bins %d must be ≥ 1", KindHistogram, c.bins)
	}
	if c.upsampleRate < 1 {
		return nil, fmt.Errorf("observer: %s: upsample rate %d must be ≥ 1", KindHistogram, c.upsampleRate)
	}
	u, err := newUniform(KindHistogram, c, false)
	if err != nil {
		return nil, err
	}
	bits := 8
	if c.dtype == qdtype.QInt32Dtype {
		bits = 32
	}
	return &HistogramObserver{uniform: u, bins: c.bins, upsampleRate: c.upsampleRate,
		dstNbins: math.Ldexp(1, bits), histogram: make([]float32, c.bins),
		minVal: float32(math.Inf(1)), maxVal: float32(math.Inf(-1))}, nil
}

// Bins returns the number of histogram bins.
func (o *HistogramObserver) Bins() int { return o.bins }

// UpsampleRate returns the upsample rate used when merging histograms.
func (o *HistogramObserver) UpsampleRate() int { return o.upsampleRate }

// Histogram returns a copy of the histogram (bins counts over [min, max]).
func (o *HistogramObserver) Histogram() []float32 { return cloneF32(o.histogram) }

// Observe merges x into the histogram. x must not contain ±Inf: the
// histogram needs a finite range.
func (o *HistogramObserver) Observe(x *tensor.Dense) error {
	data, err := floatData(KindHistogram, x)
	if err != nil || len(data) == 0 {
		return err
	}
	lo, hi := aminmax(data)
	if math.IsInf(float64(lo), 0) || math.IsInf(float64(hi), 0) {
		return fmt.Errorf("observer: %s: input has an infinite value (min %v, max %v)", KindHistogram, lo, hi)
	}
	uninit := math.IsInf(float64(o.minVal), 1) && math.IsInf(float64(o.maxVal), -1)
	if uninit || o.minVal == o.maxVal {
		o.minVal, o.maxVal = lo, hi
		o.histogram = histc(data, o.bins, float64(lo), float64(hi))
		return nil
	}
	cmin, cmax := o.minVal, o.maxVal
	if lo < cmin {
		cmin = lo
	}
	if hi > cmax {
		cmax = hi
	}
	// _adjust_min_max, in float32 tensor arithmetic.
	binsF := float32(o.bins)
	hbw := float32(float32(o.maxVal-o.minVal) / float32(o.bins*o.upsampleRate))
	span := float32(cmax - cmin)
	downF := math.Ceil(float64(float32(span / float32(binsF*hbw))))
	if !(downF >= 1) || downF > 1<<40 {
		return fmt.Errorf("observer: %s: cannot merge range [%v, %v] into [%v, %v] (downsample rate %v)", KindHistogram, lo, hi, o.minVal, o.maxVal, downF)
	}
	down := int64(downF)
	e := float32(float32(float32(down)*float32(binsF*hbw)) - span)
	cmax = float32(cmax + e)
	start := int64(math.RoundToEven(float64(float32(float32(o.minVal-cmin) / hbw))))
	hist := histc(data, o.bins, float64(cmin), float64(cmax))
	if cmin == o.minVal && cmax == o.maxVal {
		for i := range hist {
			hist[i] = float32(hist[i] + o.histogram[i])
		}
	} else {
		combineHistograms(hist, o.histogram, int64(o.upsampleRate), down, start)
	}
	o.histogram, o.minVal, o.maxVal = hist, cmin, cmax
	return nil
}

// histc is torch.histc(data, bins, lo, hi) on CPU: equal-width float32 bins
// on [f32(lo), f32(hi)], bin = int((x − lo)·bins/(hi − lo)) in float32, the
// value hi in the last bin, values outside ignored. lo == hi falls back to
// the data's range, then to [lo − 1, hi + 1].
func histc(data []float32, bins int, lo, hi float64) []float32 {
	hist := make([]float32, bins)
	if lo == hi && len(data) > 0 {
		a, b := aminmax(data)
		lo, hi = float64(a), float64(b)
	}
	if lo == hi {
		lo--
		hi++
	}
	left, right := float32(lo), float32(hi)
	width := float32(right - left)
	nb := float32(bins)
	for _, v := range data {
		if !(v >= left && v <= right) {
			continue
		}
		pos := int64(float32(float32(float32(v-left)*nb) / width))
		if pos >= int64(bins) {
			pos = int64(bins) - 1
		}
		if pos < 0 {
			pos = 0
		}
		hist[pos]++
	}
	return hist
}

// combineHistograms adds to dst (the new range's histc) the old histogram
// upsampled by up, placed at fine index start and summed down fine bins at a
// time: PyTorch's _combine_histograms, computed from prefix sums instead of
// a bins·down buffer. The integral is a float64 cumulative sum; the shifted
// integral is stored in float32 before the difference, as PyTorch does.
func combineHistograms(dst, old []float32, up, down, start int64) {
	n := int64(len(old))
	prefix := make([]float64, n+1)
	for i, v := range old {
		prefix[i+1] = prefix[i] + float64(v)
	}
	fine := n * up
	cum := func(k int64) float64 { // Σ buf[0..k]
		m := k - start + 1
		if m <= 0 {
			return 0
		}
		if m > fine {
			m = fine
		}
		full, rem := m/up, m%up
		s := prefix[full] * float64(up)
		if full < n {
			s += float64(rem) * float64(old[full])
		}
		return s
	}
	prevF32 := float64(0)
	for j := int64(0); j < int64(len(dst)); j++ {
		integral := cum((j+1)*down - 1)
		interp := (integral - prevF32) / float64(up)
		dst[j] = float32(dst[j] + float32(interp))
		prevF32 = float64(float32(integral))
	}
}

// CalculateQParams searches the histogram for the range with the least L2
// quantization error and applies the observer formula to it. Before the
// first batch it returns scale 1, zero point 0.
func (o *HistogramObserver) CalculateQParams() (qdtype.QParams, error) {
	if math.IsInf(float64(o.minVal), 1) && math.IsInf(float64(o.maxVal), -1) {
		return o.qparams(KindHistogram, []float32{o.minVal}, []float32{o.maxVal}, 0)
	}
	lo, hi := o.nonLinearParamSearch()
	return o.qparams(KindHistogram, []float32{lo}, []float32{hi}, 0)
}

// nonLinearParamSearch is _non_linear_param_search (caffe2's
// NormMinimization::NonlinearQuantizationParamsSearch).
func (o *HistogramObserver) nonLinearParamSearch() (newMin, newMax float32) {
	bins := o.bins
	binWidth := float32(float32(o.maxVal-o.minVal) / float32(bins))
	var total64 float64
	cSum := make([]float32, bins)
	for i, v := range o.histogram {
		total64 += float64(v)
		cSum[i] = float32(total64)
	}
	total := float64(float32(total64))
	const stepsize = 1e-5
	alpha, beta := 0.0, 1.0
	start, end := 0, bins-1
	normMin := math.Inf(1)
	for alpha < beta {
		nextAlpha := alpha + stepsize
		nextBeta := beta - stepsize
		l, r := start, end
		la := float32(nextAlpha * total)
		for l < end && cSum[l] < la {
			l++
		}
		rb := float32(nextBeta * total)
		for r > start && cSum[r] > rb {
			r--
		}
		nextStart, nextEnd := start, end
		if l-start > end-r {
			nextStart = l
			alpha = nextAlpha
		} else {
			nextEnd = r
			beta = nextBeta
		}
		if nextStart == start && nextEnd == end {
			continue
		}
		norm := o.quantizationError(nextStart, nextEnd)
		if norm > normMin {
			break
		}
		normMin = norm
		start, end = nextStart, nextEnd
	}
	newMin = float32(o.minVal + float32(binWidth*float32(start)))
	newMax = float32(o.minVal + float32(binWidth*float32(end+1)))
	return newMin, newMax
}

// quantizationError is _compute_quantization_error: the L2 error of
// quantizing the histogram's piecewise-uniform density with dstNbins bins
// spanning source bins [ns, ne], in PyTorch's float32 tensor arithmetic.
func (o *HistogramObserver) quantizationError(ns, ne int) float64 {
	bw := (float64(o.maxVal) - float64(o.minVal)) / float64(o.bins)
	dw := bw * float64(ne-ns+1) / o.dstNbins
	if dw == 0 {
		return 0
	}
	bw32, dw32 := float32(bw), float32(dw)
	half := float32(dw / 2)
	negHalf := float32(-dw / 2)
	top := o.dstNbins - 1
	var sum float64
	for i, h := range o.histogram {
		begin := float32(float32(i-ns) * bw32)
		end := float32(begin + bw32)
		db := clampF(divFloor32(begin, dw32), top)
		de := clampF(divFloor32(end, dw32), top)
		dbc := float32(float32(db+0.5) * dw32)
		density := float32(h / bw32)
		norm := getNorm(float32(begin-dbc), half, density)
		norm = float32(norm + float32(float32(de-db-1)*getNorm(negHalf, half, density)))
		dec := float32(float32(de*dw32) + half)
		norm = float32(norm + getNorm(negHalf, float32(end-dec), density))
		sum += float64(norm)
	}
	return float64(float32(sum))
}

// getNorm is density·(e³ − b³)/3 in float32.
func getNorm(b, e, density float32) float32 {
	e3 := float32(float32(e*e) * e)
	b3 := float32(float32(b*b) * b)
	return float32(density * float32(float32(e3-b3)/3))
}

// divFloor32 is torch.div(a, b, rounding_mode='floor') for float32.
func divFloor32(a, b float32) float32 {
	if b == 0 {
		return a / b
	}
	mod := float32(math.Mod(float64(a), float64(b)))
	div := float32(float32(a-mod) / b)
	if mod != 0 && (b < 0) != (mod < 0) {
		div = float32(div - 1)
	}
	if div == 0 {
		return float32(math.Copysign(0, float64(a/b)))
	}
	fl := float32(math.Floor(float64(div)))
	if float32(div-fl) > 0.5 {
		fl = float32(fl + 1)
	}
	return fl
}

func clampF(v float32, top float64) float32 {
	if v < 0 {
		return 0
	}
	if float64(v) > top {
		return float32(top)
	}
	return v
}

// Reset clears the histogram and the range.
func (o *HistogramObserver) Reset() {
	o.histogram = make([]float32, o.bins)
	o.minVal, o.maxVal = float32(math.Inf(1)), float32(math.Inf(-1))
}

// MinVal returns the histogram's lower bound (+Inf before the first batch).
func (o *HistogramObserver) MinVal() []float32 { return []float32{o.minVal} }

// MaxVal returns the histogram's upper bound (−Inf before the first batch).
func (o *HistogramObserver) MaxVal() []float32 { return []float32{o.maxVal} }

// Clone returns an independent copy.
func (o *HistogramObserver) Clone() Observer {
	c := *o
	c.histogram = cloneF32(o.histogram)
	return &c
}

// State returns the configuration, the range and the histogram.
func (o *HistogramObserver) State() State {
	s := State{Kind: KindHistogram, Bins: o.bins, UpsampleRate: o.upsampleRate,
		MinVal: o.MinVal(), MaxVal: o.MaxVal(), Histogram: o.Histogram()}
	o.fillState(&s)
	return s
}

// SetState restores a state saved from a HistogramObserver.
func (o *HistogramObserver) SetState(s State) error {
	n, err := fromState(s, KindHistogram)
	if err != nil {
		return err
	}
	*o = *n.(*HistogramObserver)
	return nil
}
