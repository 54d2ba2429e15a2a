package numeric

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// Metrics are the error statistics of one layer (or one tensor pair),
// accumulated over every element of every batch seen. x is the float
// reference and y the dequantized quantized value; sums are taken in
// float64.
//
//	SQNR       = 20·log10(‖x‖₂ / ‖x − y‖₂) dB   (torch.ao.ns.fx.utils.compute_sqnr)
//	MaxAbsErr  = max |x − y|
//	MeanAbsErr = Σ|x − y| / N
//	Cosine     = Σxy / max(‖x‖₂·‖y‖₂, 1e-8)   (F.cosine_similarity of the flattened tensors)
//
// SQNR is +Inf when x = y exactly and −Inf when x is all zeros but y is not
// (PyTorch returns NaN for 0/0 and +Inf for x/0).
//
// When y came from a quantized tensor (Quantized), SatLow and SatHigh are the
// fractions of its integer codes equal to the dtype's qmin and qmax (the
// values the quantizer clamped, or the requantization saturated), and
// Clipped is the fraction of float reference values outside the range the
// tensor can represent, [(qmin − zp)·s − s/2, (qmax − zp)·s + s/2] per
// channel (widened by 10⁻⁴·s for float rounding): reference values a quantizer with these qparams must clamp. A
// ReLU output with zero point 0 has many codes at qmin that are not an error;
// Clipped tells a range that is too narrow from that.
type Metrics struct {
	N          int64
	SQNR       float64
	MaxAbsErr  float64
	MeanAbsErr float64
	Cosine     float64
	Quantized  bool
	SatLow     float64
	SatHigh    float64
	Clipped    float64
	// FloatMin … QuantMax are the value ranges of x and y.
	FloatMin, FloatMax float64
	QuantMin, QuantMax float64
	// RangeLo, RangeHi are the dequantized qmin and qmax (the widest over the
	// channels of per-channel qparams); zero unless Quantized.
	RangeLo, RangeHi float64
}

// Saturated returns SatLow + SatHigh, the fraction of codes at qmin or qmax.
func (m Metrics) Saturated() float64 { return m.SatLow + m.SatHigh }

// clipSlack is the fraction of a step beyond half a step that a value
// must exceed the representable range by to count as clipped.
const clipSlack = 1e-4

// accum accumulates Metrics and a reservoir sample of value pairs.
type accum struct {
	n                          int64
	sxx, syy, sxy, see, sabs   float64
	maxAbs                     float64
	fmin, fmax, qmin, qmax     float64
	quantized                  bool
	codes, satLo, satHi, clips int64
	rangeLo, rangeHi           float64
	haveRange                  bool

	maxSamples int
	seen, next int64 // pairs seen; stream index of the next pair to keep
	w          float64
	sf, sq     []float32
	rng        *rand.Rand
}

func newAccum(maxSamples int) *accum {
	return &accum{maxSamples: maxSamples, rng: rand.New(rand.NewPCG(0x9e3779b97f4a7c15, 0x6a09e667f3bcc909)),
		fmin: math.Inf(1), fmax: math.Inf(-1), qmin: math.Inf(1), qmax: math.Inf(-1)}
}

// addFloat accumulates a float reference x and its twin y (same length).
// Non-finite values are an error.
func (a *accum) addFloat(x, y []float32) error {
	if len(x) != len(y) {
		return fmt.Errorf("float tensor has %d elements, quantized twin %d", len(x), len(y))
	}
	for i := range x {
		xv, yv := float64(x[i]), float64(y[i])
		if math.IsNaN(xv) || math.IsInf(xv, 0) || math.IsNaN(yv) || math.IsInf(yv, 0) {
			return fmt.Errorf("non-finite value at element %d (float %v, quantized %v)", i, x[i], y[i])
		}
	}
	for i := range x {
		xv, yv := float64(x[i]), float64(y[i])
		e := xv - yv
		a.sxx += xv * xv
		a.syy += yv * yv
		a.sxy += xv * yv
		a.see += e * e
		ae := e
		if ae < 0 {
			ae = -ae
		}
		a.sabs += ae
		if ae > a.maxAbs {
			a.maxAbs = ae
		}
		if xv < a.fmin {
			a.fmin = xv
		}
		if xv > a.fmax {
			a.fmax = xv
		}
		if yv < a.qmin {
			a.qmin = yv
		}
		if yv > a.qmax {
			a.qmax = yv
		}
	}
	a.sample(x, y)
	a.n += int64(len(x))
	return nil
}

// sample adds the pairs (x[i], y[i]) to a uniform sample of at most
// maxSamples pairs over everything seen: reservoir sampling with Li's
// Algorithm L, which draws random numbers only for the pairs it keeps, and
// a fixed seed so that reports are reproducible.
func (a *accum) sample(x, y []float32) {
	k := int64(a.maxSamples)
	if k <= 0 {
		a.seen += int64(len(x))
		return
	}
	i := 0
	for ; i < len(x) && a.seen < k; i++ {
		a.sf = append(a.sf, x[i])
		a.sq = append(a.sq, y[i])
		a.seen++
		if a.seen == k {
			a.w = math.Exp(math.Log(a.rand01()) / float64(k))
			a.next = k + a.skip()
		}
	}
	if a.seen < k { // every pair kept so far
		return
	}
	base := a.seen - int64(i) // stream index of x[0]
	for a.next < base+int64(len(x)) {
		j := a.rng.Int64N(k)
		a.sf[j], a.sq[j] = x[a.next-base], y[a.next-base]
		a.w *= math.Exp(math.Log(a.rand01()) / float64(k))
		a.next += 1 + a.skip()
	}
	a.seen = base + int64(len(x))
}

// rand01 is uniform in (0, 1).
func (a *accum) rand01() float64 {
	for {
		if u := a.rng.Float64(); u > 0 {
			return u
		}
	}
}

// skip is Algorithm L's gap, floor(log(u)/log(1 − w)).
func (a *accum) skip() int64 {
	g := math.Floor(math.Log(a.rand01()) / math.Log1p(-a.w))
	if g > 1<<60 || math.IsNaN(g) {
		return 1 << 60
	}
	return int64(g)
}

// addQuant accumulates the float reference x and the quantized twin q.
func (a *accum) addQuant(x []float32, q *qtensor.QTensor) error {
	d, err := q.Dequantize()
	if err != nil {
		return err
	}
	y := d.Float32s()
	if err := a.addFloat(x, y); err != nil {
		return err
	}
	qp := q.QParams()
	lo, hi, err := qdtype.Range(qp.Dtype)
	if err != nil {
		return err
	}
	a.quantized = true
	codes := q.Ints()
	shape := q.Shape()
	inner, nch := 1, 1
	if qp.PerChannel() {
		if qp.Axis < 0 || qp.Axis >= len(shape) {
			return fmt.Errorf("per-channel axis %d out of range for shape %v", qp.Axis, shape)
		}
		nch = shape[qp.Axis]
		for _, s := range shape[qp.Axis+1:] {
			inner *= s
		}
	}
	los, his := make([]float64, nch), make([]float64, nch)
	for c := 0; c < nch; c++ {
		s := float64(float32(qp.Scales[min(c, len(qp.Scales)-1)]))
		var zp float64
		if len(qp.FloatZeroPoints) > 0 {
			// (q − zp)·s with a float zero point.
			zp = float64(qp.FloatZeroPoints[min(c, len(qp.FloatZeroPoints)-1)])
		} else {
			zp = float64(qp.ZeroPoints[min(c, len(qp.ZeroPoints)-1)])
		}
		rl, rh := (float64(lo)-zp)*s, (float64(hi)-zp)*s
		if !a.haveRange || rl < a.rangeLo {
			a.rangeLo = rl
		}
		if !a.haveRange || rh > a.rangeHi {
			a.rangeHi = rh
		}
		a.haveRange = true
		// Half a step, plus slack for the float rounding of the range
		// ends: symmetric qint8 weights put their largest value exactly
		// half a step above 127·s, which is rounding, not clipping.
		los[c], his[c] = rl-s*(0.5+clipSlack), rh+s*(0.5+clipSlack)
	}
	for i, v := range codes {
		switch v {
		case lo:
			a.satLo++
		case hi:
			a.satHi++
		}
		c := 0
		if nch > 1 {
			c = (i / inner) % nch
		}
		if xv := float64(x[i]); xv < los[c] || xv > his[c] {
			a.clips++
		}
	}
	a.codes += int64(len(codes))
	return nil
}

// metrics returns the accumulated Metrics.
func (a *accum) metrics() Metrics {
	m := Metrics{N: a.n, MaxAbsErr: a.maxAbs, Quantized: a.quantized}
	if a.n == 0 {
		return m
	}
	m.MeanAbsErr = a.sabs / float64(a.n)
	m.SQNR = sqnrFromSums(a.sxx, a.see)
	m.Cosine = a.sxy / math.Max(math.Sqrt(a.sxx)*math.Sqrt(a.syy), 1e-8)
	m.FloatMin, m.FloatMax, m.QuantMin, m.QuantMax = a.fmin, a.fmax, a.qmin, a.qmax
	if a.codes > 0 {
		m.SatLow = float64(a.satLo) / float64(a.codes)
		m.SatHigh = float64(a.satHi) / float64(a.codes)
		m.Clipped = float64(a.clips) / float64(a.codes)
		m.RangeLo, m.RangeHi = a.rangeLo, a.rangeHi
	}
	return m
}

// sqnrFromSums is 20·log10(√sxx/√see) = 10·log10(sxx/see).
func sqnrFromSums(sxx, see float64) float64 {
	switch {
	case see == 0:
		return math.Inf(1)
	case sxx == 0:
		return math.Inf(-1)
	}
	return 10 * math.Log10(sxx/see)
}

// checkPair validates a pair of slices for the metric functions.
func checkPair(op string, x, y []float32) error {
	if len(x) == 0 || len(x) != len(y) {
		return fmt.Errorf("numeric: %s: need two non-empty slices of equal length, got %d and %d", op, len(x), len(y))
	}
	for i := range x {
		if f := float64(x[i]); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("numeric: %s: x[%d] = %v is not finite", op, i, x[i])
		}
		if f := float64(y[i]); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("numeric: %s: y[%d] = %v is not finite", op, i, y[i])
		}
	}
	return nil
}

func pairMetrics(op string, x, y []float32) (Metrics, error) {
	if err := checkPair(op, x, y); err != nil {
		return Metrics{}, err
	}
	a := newAccum(0)
	if err := a.addFloat(x, y); err != nil {
		return Metrics{}, fmt.Errorf("numeric: %s: %w", op, err)
	}
	return a.metrics(), nil
}

// SQNR returns the signal-to-quantization-noise ratio of y against the
// reference x in dB, 20·log10(‖x‖₂/‖x − y‖₂), with the sums in float64
// (PyTorch: torch.ao.ns.fx.utils.compute_sqnr, which uses float32 norms).
// It is +Inf when y = x and −Inf when x is zero and y is not. Errors: empty
// or unequal lengths, non-finite values.
func SQNR(x, y []float32) (float64, error) {
	m, err := pairMetrics("sqnr", x, y)
	return m.SQNR, err
}

// MaxAbsError returns max_i |x_i − y_i|. Errors as SQNR.
func MaxAbsError(x, y []float32) (float64, error) {
	m, err := pairMetrics("max abs error", x, y)
	return m.MaxAbsErr, err
}

// MeanAbsError returns Σ|x_i − y_i|/N. Errors as SQNR.
func MeanAbsError(x, y []float32) (float64, error) {
	m, err := pairMetrics("mean abs error", x, y)
	return m.MeanAbsErr, err
}

// CosineSimilarity returns Σxy/max(‖x‖₂·‖y‖₂, 1e-8) of the flattened
// slices (torch.nn.functional.cosine_similarity on flattened tensors, as
// torch.ao.ns.fx.utils.compute_cosine_similarity). Errors as SQNR.
func CosineSimilarity(x, y []float32) (float64, error) {
	m, err := pairMetrics("cosine similarity", x, y)
	return m.Cosine, err
}

// SaturatedFraction returns the fractions of q's integer codes equal to
// the minimum and to the maximum of its dtype's range (e.g. 0 and 255 for
// quint8). Error: q is nil or empty.
func SaturatedFraction(q *qtensor.QTensor) (low, high float64, err error) {
	if q == nil || q.Size() == 0 {
		return 0, 0, fmt.Errorf("numeric: saturated fraction: nil or empty tensor")
	}
	lo, hi, err := qdtype.Range(q.Dtype())
	if err != nil {
		return 0, 0, fmt.Errorf("numeric: saturated fraction: %w", err)
	}
	var nl, nh int
	codes := q.Ints()
	for _, v := range codes {
		switch v {
		case lo:
			nl++
		case hi:
			nh++
		}
	}
	return float64(nl) / float64(len(codes)), float64(nh) / float64(len(codes)), nil
}

// CompareTensors returns every Metric of the quantized tensor q against
// its float32 reference x of the same shape: the error metrics of
// q.Dequantize() against x and the saturation and clipping fractions.
// Errors: nil tensors, x not float32, shapes differ, non-finite values.
func CompareTensors(x *tensor.Dense, q *qtensor.QTensor) (Metrics, error) {
	if x == nil || q == nil {
		return Metrics{}, fmt.Errorf("numeric: compare tensors: nil tensor")
	}
	if x.Dtype() != tensor.Float32 {
		return Metrics{}, fmt.Errorf("numeric: compare tensors: reference has dtype %v, want float32", x.Dtype())
	}
	if !x.Shape().Eq(q.Shape()) {
		return Metrics{}, fmt.Errorf("numeric: compare tensors: reference shape %v, quantized shape %v", x.Shape(), q.Shape())
	}
	if q.Size() == 0 {
		return Metrics{}, fmt.Errorf("numeric: compare tensors: empty tensors")
	}
	a := newAccum(0)
	if err := a.addQuant(denseFloats(x), q); err != nil {
		return Metrics{}, fmt.Errorf("numeric: compare tensors: %w", err)
	}
	return a.metrics(), nil
}

// denseFloats returns the float32 values of d in row-major order (a copy
// for views).
func denseFloats(d *tensor.Dense) []float32 {
	if d.RequiresIterator() {
		c := d.Materialize().(*tensor.Dense)
		return c.Float32s()
	}
	return d.Float32s()
}
