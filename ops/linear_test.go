package ops

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// h5Tensor and h5Case read the golden files of scripts/golden_ops_h5.py
// (the conformance case format, SCHEMA.md).
type h5Tensor struct {
	Dtype      string    `json:"dtype"`
	Shape      []int     `json:"shape"`
	Data       []float64 `json:"data"`
	QScheme    string    `json:"qscheme"`
	Scale      float64   `json:"scale"`
	ZeroPoint  int64     `json:"zero_point"`
	Scales     []float64 `json:"scales"`
	ZeroPoints []int64   `json:"zero_points"`
	Axis       int       `json:"axis"`
}

type h5Case struct {
	ID     string                     `json:"id"`
	Op     string                     `json:"op"`
	Attrs  map[string]json.RawMessage `json:"attrs"`
	Inputs []*h5Tensor                `json:"inputs"`
	Expect []*h5Tensor                `json:"expect"`
}

func h5Load(t *testing.T, family string) []*h5Case {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "h5_"+family+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []*h5Case
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var c h5Case
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, &c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("no cases in h5_%s.jsonl", family)
	}
	return cases
}

func (g *h5Tensor) q(t *testing.T) *qtensor.QTensor {
	t.Helper()
	dt, err := qdtype.ParseDtype(g.Dtype)
	if err != nil {
		t.Fatal(err)
	}
	var qp qdtype.QParams
	if g.QScheme == "per_channel_affine" {
		qp, err = qdtype.PerChannel(dt, g.Scales, g.ZeroPoints, g.Axis)
	} else {
		qp, err = qdtype.PerTensor(dt, g.Scale, g.ZeroPoint)
	}
	if err != nil {
		t.Fatal(err)
	}
	ints := make([]int64, len(g.Data))
	for i, v := range g.Data {
		ints[i] = int64(v)
	}
	q, err := qtensor.FromInts(g.Shape, ints, qp)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func (g *h5Tensor) dense() *tensor.Dense {
	if g == nil {
		return nil
	}
	d := make([]float32, len(g.Data))
	for i, v := range g.Data {
		d[i] = float32(v)
	}
	return float32Dense(g.Shape, d)
}

func (c *h5Case) attr(t *testing.T, k string, dst interface{}) {
	t.Helper()
	if err := json.Unmarshal(c.Attrs[k], dst); err != nil {
		t.Fatalf("%s: attr %s: %v", c.ID, k, err)
	}
}

// h5CheckQ requires got to equal the expected quantized tensor exactly.
func h5CheckQ(t *testing.T, id string, got *qtensor.QTensor, want *h5Tensor) {
	t.Helper()
	if fmt.Sprint([]int(got.Shape())) != fmt.Sprint(want.Shape) && !(len(want.Shape) == 0 && got.Dims() == 0) {
		t.Fatalf("%s: shape %v, want %v", id, got.Shape(), want.Shape)
	}
	qp := got.QParams()
	if float32(qp.Scale()) != float32(want.Scale) || qp.ZeroPoint() != want.ZeroPoint {
		t.Fatalf("%s: qparams (%v, %d), want (%v, %d)", id, qp.Scale(), qp.ZeroPoint(), want.Scale, want.ZeroPoint)
	}
	for i, v := range got.Ints() {
		if float64(v) != want.Data[i] {
			t.Fatalf("%s: element %d = %d, want %v", id, i, v, want.Data[i])
		}
	}
}

// h5CheckF requires |got − want| ≤ rel·|want| + abs·max|want| elementwise.
func h5CheckF(t *testing.T, id string, got *tensor.Dense, want *h5Tensor, rel, abs float64) {
	t.Helper()
	if fmt.Sprint([]int(got.Shape())) != fmt.Sprint(want.Shape) {
		t.Fatalf("%s: shape %v, want %v", id, got.Shape(), want.Shape)
	}
	var m float64
	for _, v := range want.Data {
		m = math.Max(m, math.Abs(v))
	}
	for i, v := range got.Float32s() {
		w := want.Data[i]
		if math.Abs(float64(v)-w) > rel*math.Abs(w)+abs*m {
			t.Fatalf("%s: element %d = %v, want %v", id, i, v, w)
		}
	}
}

func TestLinearGolden(t *testing.T) {
	for _, c := range h5Load(t, "linear") {
		var scale float64
		var zp int64
		c.attr(t, "scale", &scale)
		c.attr(t, "zero_point", &zp)
		p, err := PrepackLinear(c.Inputs[1].q(t), c.Inputs[2].dense())
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		f := Linear
		if c.Op == "linear_relu" {
			f = LinearReLU
		}
		y, err := f(c.Inputs[0].q(t), p, scale, zp)
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		h5CheckQ(t, c.ID, y, c.Expect[0])
	}
}

// h5RandQ returns a random quantized tensor with random integer codes.
func h5RandQ(r *rand.Rand, shape []int, dt tensor.Dtype, perChannelAxis int, zpSpan int) *qtensor.QTensor {
	qmin, qmax, _ := qdtype.Range(dt)
	n := 1
	for _, s := range shape {
		n *= s
	}
	ints := make([]int64, n)
	for i := range ints {
		ints[i] = qmin + r.Int63n(qmax-qmin+1)
	}
	zp := func() int64 {
		if dt == qdtype.QUInt8Dtype {
			return r.Int63n(256)
		}
		if zpSpan == 0 {
			return 0
		}
		return int64(r.Intn(2*zpSpan+1) - zpSpan)
	}
	var qp qdtype.QParams
	var err error
	if perChannelAxis >= 0 {
		ch := shape[perChannelAxis]
		sc, zps := make([]float64, ch), make([]int64, ch)
		for i := range sc {
			sc[i], zps[i] = 1e-3+1e-2*r.Float64(), zp()
		}
		qp, err = qdtype.PerChannel(dt, sc, zps, perChannelAxis)
	} else {
		qp, err = qdtype.PerTensor(dt, 2e-3+3e-2*r.Float64(), zp())
	}
	if err != nil {
		panic(err)
	}
	q, err := qtensor.FromInts(shape, ints, qp)
	if err != nil {
		panic(err)
	}
	return q
}

func h5RandBias(r *rand.Rand, n int) *tensor.Dense {
	b := make([]float32, n)
	for i := range b {
		b[i] = float32(r.NormFloat64())
	}
	return float32Dense([]int{n}, b)
}

// h5Deq returns the exact real values (q − zp)·scale of a tensor in float64,
// per tensor or per channel along axis.
func h5Deq(q *qtensor.QTensor) []float64 {
	qp := q.QParams()
	shape := q.Shape()
	ints := q.Ints()
	out := make([]float64, len(ints))
	inner := 1
	if qp.PerChannel() {
		for _, s := range shape[qp.Axis+1:] {
			inner *= s
		}
	}
	for i, v := range ints {
		c := 0
		if qp.PerChannel() {
			c = (i / inner) % shape[qp.Axis]
		}
		out[i] = float64(v-qp.ZeroPoints[c]) * qp.Scales[c]
	}
	return out
}

// h5Requant is the exact-arithmetic reference: rne(y/scale) + zp, clamped.
func h5Requant(y, scale float64, zp int64, relu bool) int64 {
	q := int64(math.RoundToEven(y/scale)) + zp
	lo := int64(0)
	if relu {
		lo = zp
	}
	return min(max(q, lo), 255)
}

// h5CompareRef checks got against the exact reference: every element within
// 1 step, and at most maxOff elements off (ties of the float32 epilogue).
func h5CompareRef(t *testing.T, name string, got []int64, want []int64, maxOff int) {
	t.Helper()
	off := 0
	for i := range want {
		d := got[i] - want[i]
		if d < -1 || d > 1 {
			t.Fatalf("%s: element %d = %d, want %d", name, i, got[i], want[i])
		}
		if d != 0 {
			off++
		}
	}
	if off > maxOff {
		t.Fatalf("%s: %d of %d elements off by one step (allowed %d)", name, off, len(want), maxOff)
	}
}

func TestLinearMatchesExactArithmetic(t *testing.T) {
	r := rand.New(rand.NewSource(42))
	total, off := 0, 0
	for _, s := range [][3]int{{1, 1, 1}, {1, 16, 16}, {3, 5, 7}, {17, 33, 9}, {4, 255, 31}, {2, 1024, 3}, {64, 64, 65}} {
		m, k, n := s[0], s[1], s[2]
		for variant := 0; variant < 4; variant++ {
			x := h5RandQ(r, []int{m, k}, qdtype.QUInt8Dtype, -1, 0)
			axis := -1
			if variant&1 == 1 {
				axis = 0
			}
			w := h5RandQ(r, []int{n, k}, qdtype.QInt8Dtype, axis, 3*(variant>>1))
			var b *tensor.Dense
			if variant != 2 {
				b = h5RandBias(r, n)
			}
			relu := variant == 3
			xr, wr := h5Deq(x), h5Deq(w)
			// Choose output qparams that cover the result's range.
			ys := make([]float64, m*n)
			lo, hi := 0.0, 0.0
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var y float64
					for t := 0; t < k; t++ {
						y += xr[i*k+t] * wr[j*k+t]
					}
					if b != nil {
						y += float64(b.Float32s()[j])
					}
					ys[i*n+j] = y
					lo, hi = math.Min(lo, y), math.Max(hi, y)
				}
			}
			scale := (hi - lo) / 255 * 1.1
			if scale == 0 {
				scale = 1
			}
			zp := int64(math.Min(255, math.Max(0, math.Round(-lo/scale))))
			want := make([]int64, len(ys))
			for i, y := range ys {
				want[i] = h5Requant(y, scale, zp, relu)
			}
			xBefore, wBefore := x.Ints(), w.Ints()
			p, err := PrepackLinear(w, b)
			if err != nil {
				t.Fatal(err)
			}
			f := Linear
			if relu {
				f = LinearReLU
			}
			y, err := f(x, p, scale, zp)
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("m=%d k=%d n=%d variant=%d", m, k, n, variant)
			h5CompareRef(t, name, y.Ints(), want, 1+len(want)/100)
			got := y.Ints()
			for i := range want {
				total++
				if got[i] != want[i] {
					off++
				}
			}
			if fmt.Sprint(x.Ints()) != fmt.Sprint(xBefore) || fmt.Sprint(w.Ints()) != fmt.Sprint(wBefore) {
				t.Fatalf("%s: inputs modified", name)
			}
		}
	}
	if off*1000 > total {
		t.Fatalf("%d of %d elements differ from exact arithmetic", off, total)
	}
	t.Logf("%d of %d elements differ from exact arithmetic by one step", off, total)
}

func TestLinearLeadingDims(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	x := h5RandQ(r, []int{2, 3, 4, 6}, qdtype.QUInt8Dtype, -1, 0)
	w := h5RandQ(r, []int{5, 6}, qdtype.QInt8Dtype, 0, 0)
	p, err := PrepackLinear(w, nil)
	if err != nil {
		t.Fatal(err)
	}
	y, err := Linear(x, p, 0.05, 100)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(y.Shape()) != "(2, 3, 4, 5)" {
		t.Fatalf("shape %v", y.Shape())
	}
	// Row 7 of the flattened input gives row 7 of the flattened output.
	x2d, _ := qtensor.FromInts([]int{1, 6}, x.Ints()[7*6:8*6], x.QParams())
	y2d, err := Linear(x2d, p, 0.05, 100)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(y2d.Ints()) != fmt.Sprint(y.Ints()[7*5:8*5]) {
		t.Fatalf("row 7: %v vs %v", y2d.Ints(), y.Ints()[7*5:8*5])
	}
	empty := h5RandQ(r, []int{0, 6}, qdtype.QUInt8Dtype, -1, 0)
	e, err := Linear(empty, p, 0.05, 100)
	if err != nil || fmt.Sprint(e.Shape()) != "(0, 5)" {
		t.Fatalf("empty batch: %v %v", e, err)
	}
	// An empty input of any rank gives (0, N), as PyTorch's ONEDNN does.
	empty3 := h5RandQ(r, []int{2, 0, 6}, qdtype.QUInt8Dtype, -1, 0)
	if e, err := Linear(empty3, p, 0.05, 100); err != nil || fmt.Sprint(e.Shape()) != "(0, 5)" {
		t.Fatalf("empty 3-D batch: %v %v", e, err)
	}
	x1 := h5RandQ(r, []int{6}, qdtype.QUInt8Dtype, -1, 0)
	if y1, err := Linear(x1, p, 0.05, 100); err != nil || fmt.Sprint(y1.Shape()) != "(5)" {
		t.Fatalf("1-D input: %v %v", y1, err)
	}
	wu, bu := p.Unpack()
	if bu != nil || fmt.Sprint(wu.Ints()) != fmt.Sprint(w.Ints()) || !wu.QParams().Equal(w.QParams()) {
		t.Fatal("Unpack does not return the packed weight")
	}
	y3, err := LinearWithWeights(x, w, nil, 0.05, 100)
	if err != nil || fmt.Sprint(y3.Ints()) != fmt.Sprint(y.Ints()) {
		t.Fatalf("LinearWithWeights differs: %v", err)
	}
}

func TestLinearErrors(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	x := h5RandQ(r, []int{2, 4}, qdtype.QUInt8Dtype, -1, 0)
	w := h5RandQ(r, []int{3, 4}, qdtype.QInt8Dtype, -1, 0)
	p, err := PrepackLinear(w, h5RandBias(r, 3))
	if err != nil {
		t.Fatal(err)
	}
	xs8 := h5RandQ(r, []int{2, 4}, qdtype.QInt8Dtype, -1, 0)
	xpc := h5RandQ(r, []int{2, 4}, qdtype.QUInt8Dtype, 1, 0)
	xk := h5RandQ(r, []int{2, 5}, qdtype.QUInt8Dtype, -1, 0)
	wu8 := h5RandQ(r, []int{3, 4}, qdtype.QUInt8Dtype, -1, 0)
	wax1 := h5RandQ(r, []int{3, 4}, qdtype.QInt8Dtype, 1, 0)
	w3d := h5RandQ(r, []int{3, 4, 1}, qdtype.QInt8Dtype, -1, 0)
	for _, tc := range []struct {
		name, want string
		err        func() error
	}{
		{"nil input", "nil input", func() error { _, e := Linear(nil, p, 1, 0); return e }},
		{"nil packed", "nil packed", func() error { _, e := Linear(x, nil, 1, 0); return e }},
		{"qint8 input", "want quint8", func() error { _, e := Linear(xs8, p, 1, 0); return e }},
		{"per-channel input", "per channel", func() error { _, e := Linear(xpc, p, 1, 0); return e }},
		{"K mismatch", "input has 5 features", func() error { _, e := Linear(xk, p, 1, 0); return e }},
		{"zero scale", "scale", func() error { _, e := Linear(x, p, 0, 0); return e }},
		{"NaN scale", "scale", func() error { _, e := Linear(x, p, math.NaN(), 0); return e }},
		{"zero point", "zero point 256", func() error { _, e := LinearReLU(x, p, 1, 256); return e }},
		{"quint8 weight", "want qint8", func() error { _, e := PrepackLinear(wu8, nil); return e }},
		{"weight axis", "axis 1, want axis 0", func() error { _, e := PrepackLinear(wax1, nil); return e }},
		{"weight rank", "want 2-D", func() error { _, e := PrepackLinear(w3d, nil); return e }},
		{"bias size", "want [3]", func() error { _, e := PrepackLinear(w, h5RandBias(r, 4)); return e }},
		{"bias NaN", "NaN", func() error {
			_, e := PrepackLinear(w, float32Dense([]int{3}, []float32{0, float32(math.NaN()), 0}))
			return e
		}},
		{"nil weight", "nil weight", func() error { _, e := PrepackLinear(nil, nil); return e }},
	} {
		err := tc.err()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ops: ") {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// BenchmarkLinear measures Linear against the raw GEMM it wraps
// (kernels.GemmU8S8Requant on the same packed weights), so the op's own
// overhead (validation, epilogue set-up, output allocation) shows.
func BenchmarkLinear(b *testing.B) {
	for _, s := range [][3]int{{1, 16, 16}, {64, 1024, 1024}} {
		m, k, n := s[0], s[1], s[2]
		r := rand.New(rand.NewSource(1))
		x := h5RandQ(r, []int{m, k}, qdtype.QUInt8Dtype, -1, 0)
		w := h5RandQ(r, []int{n, k}, qdtype.QInt8Dtype, 0, 0)
		p, err := PrepackLinear(w, h5RandBias(r, n))
		if err != nil {
			b.Fatal(err)
		}
		ops := 2 * float64(m*k*n)
		name := fmt.Sprintf("size=%dx%dx%d", m, k, n)
		b.Run(name+"/impl=op", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := Linear(x, p, 0.05, 128); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
		b.Run(name+"/impl=gemm", func(b *testing.B) {
			rq, _, _ := requantFor("bench", x.QParams().Scale(), p.scales, p.bias, 0.05, 128, false)
			out := make([]uint8, m*n)
			xd := x.Dense().Uint8s()
			for i := 0; i < b.N; i++ {
				kernels.GemmU8S8Requant(m, xd, k, int32(x.QParams().ZeroPoint()), p.packed, p.wZP, rq, out, n)
			}
			b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
	}
}

// TestLinearConcurrent shares one PackedLinear among goroutines that use
// different output qparams (the epilogue cache must not mix them up).
func TestLinearConcurrent(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	x := h5RandQ(r, []int{5, 12}, qdtype.QUInt8Dtype, -1, 0)
	w := h5RandQ(r, []int{7, 12}, qdtype.QInt8Dtype, 0, 0)
	p, err := PrepackLinear(w, h5RandBias(r, 7))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]string, 4)
	for g := range want {
		y, err := Linear(x, p, 0.02*float64(g+1), int64(60*g))
		if err != nil {
			t.Fatal(err)
		}
		want[g] = fmt.Sprint(y.Ints())
	}
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func(g int) {
			for i := 0; i < 200; i++ {
				y, err := Linear(x, p, 0.02*float64(g+1), int64(60*g))
				if err == nil && fmt.Sprint(y.Ints()) != want[g] {
					err = fmt.Errorf("goroutine %d: result differs", g)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(g)
	}
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
