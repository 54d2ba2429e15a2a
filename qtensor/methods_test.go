package qtensor

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

func mustQ(t *testing.T, shape []int, data []int64, qp qdtype.QParams) *QTensor {
	t.Helper()
	q, err := FromInts(shape, data, qp)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestCompare(t *testing.T) {
	// a = [0.3, 0.5, 0.7] (s 0.1, zp 0); b = [0.5] (s 0.25, zp 2, qint8).
	a := mustQ(t, []int{3}, []int64{3, 5, 7}, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.1, 0))
	b := mustQ(t, []int{1}, []int64{4}, qdtype.MustPerTensor(qdtype.QInt8Dtype, 0.25, 2))
	want := map[Comparison][]bool{
		CmpEq: {false, true, false}, CmpNe: {true, false, true},
		CmpGe: {false, true, true}, CmpLe: {true, true, false},
		CmpGt: {false, false, true}, CmpLt: {true, false, false},
	}
	for op, w := range want {
		r, err := Compare(a, b, op)
		if err != nil || !slices.Equal(r.Bools(), w) {
			t.Errorf("%s: got %v %v, want %v", op, r, err, w)
		}
	}
	// The methods are the same operators.
	for _, m := range []func(*QTensor) (*tensor.Dense, error){a.Eq, a.Ne, a.Ge, a.Le, a.Gt, a.Lt} {
		if _, err := m(b); err != nil {
			t.Fatal(err)
		}
	}
	// Broadcasting [2,1] against [3] gives [2,3].
	c := mustQ(t, []int{2, 1}, []int64{3, 7}, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.1, 0))
	r, err := c.Lt(a)
	if err != nil || !sameShape(r.Shape(), []int{2, 3}) || !slices.Equal(r.Bools(), []bool{false, true, true, false, false, false}) {
		t.Fatalf("broadcast: %v %v", r, err)
	}
	// Per-channel operands compare their real values.
	pc := mustQ(t, []int{2, 1}, []int64{3, 2}, mustPC(t, []float64{0.1, 0.25}, []int64{0, 0}, 0))
	r, err = pc.Eq(c)
	if err != nil || !slices.Equal(r.Bools(), []bool{true, false}) {
		t.Fatalf("per-channel: %v %v", r, err)
	}
	// Scalars compare as float32: 0.3 (double) equals f32 0.3 = (3−0)·f32(0.1).
	r, err = a.EqScalar(0.3)
	if err != nil || !slices.Equal(r.Bools(), []bool{true, false, false}) {
		t.Fatalf("scalar: %v %v", r, err)
	}
	for _, f := range []func(float64) (*tensor.Dense, error){a.NeScalar, a.GeScalar, a.LeScalar, a.GtScalar, a.LtScalar} {
		if _, err := f(math.Inf(1)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.GtScalar(math.NaN()); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("NaN scalar: %v", err)
	}
	d := mustQ(t, []int{2}, []int64{1, 2}, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.1, 0))
	if _, err := a.Eq(d); err == nil || !strings.Contains(err.Error(), "broadcast") {
		t.Fatalf("shape mismatch: %v", err)
	}
	if _, err := Compare(a, nil, CmpEq); err == nil {
		t.Fatal("nil operand accepted")
	}
	if _, err := Compare(a, a, Comparison(9)); err == nil {
		t.Fatal("unknown operator accepted")
	}
	if _, err := ParseComparison("max"); err == nil {
		t.Fatal("ParseComparison(max) accepted")
	}
}

func mustPC(t *testing.T, scales []float64, zps []int64, axis int) qdtype.QParams {
	t.Helper()
	qp, err := qdtype.PerChannel(qdtype.QInt8Dtype, scales, zps, axis)
	if err != nil {
		t.Fatal(err)
	}
	return qp
}

func TestEqual(t *testing.T) {
	qp := qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.1, 3)
	a := mustQ(t, []int{2, 2}, []int64{1, 2, 3, 4}, qp)
	cases := []struct {
		name string
		b    *QTensor
		want bool
	}{
		{"clone", a.Clone(), true},
		{"other ints", mustQ(t, []int{2, 2}, []int64{1, 2, 3, 5}, qp), false},
		{"other shape", mustQ(t, []int{4}, []int64{1, 2, 3, 4}, qp), false},
		{"other scale, same ints", mustQ(t, []int{2, 2}, []int64{1, 2, 3, 4}, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.2, 3)), false},
		{"same reals, other qparams", mustQ(t, []int{2, 2}, []int64{2, 3, 4, 5}, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.1, 4)), false},
		{"other dtype", mustQ(t, []int{2, 2}, []int64{1, 2, 3, 4}, qdtype.MustPerTensor(qdtype.QInt8Dtype, 0.1, 3)), false},
		{"nil", nil, false},
	}
	for _, c := range cases {
		if got := Equal(a, c.b); got != c.want {
			t.Errorf("%s: Equal = %v, want %v", c.name, got, c.want)
		}
	}
	p1 := mustQ(t, []int{2, 1}, []int64{1, 2}, mustPC(t, []float64{1, 2}, []int64{0, 0}, 0))
	p2 := mustQ(t, []int{2, 1}, []int64{1, 2}, mustPC(t, []float64{1, 3}, []int64{0, 0}, 0))
	if !p1.Equal(p1.Clone()) || p1.Equal(p2) {
		t.Error("per-channel Equal")
	}
}

func TestCopyFillResize(t *testing.T) {
	qp := qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.5, 10)
	dst := mustQ(t, []int{2, 3}, []int64{0, 0, 0, 0, 0, 0}, qp)
	// A per-tensor source broadcasts and brings its qparams along.
	src := mustQ(t, []int{3}, []int64{7, 8, 9}, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 0.25, 2))
	if err := dst.CopyFrom(src); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dst.Ints(), []int64{7, 8, 9, 7, 8, 9}) || dst.qp.Scale() != 0.25 || dst.qp.ZeroPoint() != 2 {
		t.Fatalf("copy_: %v %v", dst.Ints(), dst.qp)
	}
	bad := []*QTensor{
		nil,
		mustQ(t, []int{3}, []int64{1, 2, 3}, qdtype.MustPerTensor(qdtype.QInt8Dtype, 1, 0)),
		mustQ(t, []int{2}, []int64{1, 2}, qp),
		mustQ(t, []int{3, 2, 3}, make([]int64, 18), qp),
		mustQ(t, []int{2, 3}, make([]int64, 6), mustPC(t, []float64{1, 1}, []int64{0, 0}, 0)),
	}
	for i, b := range bad {
		before := dst.Clone()
		if err := dst.CopyFrom(b); err == nil {
			t.Errorf("bad copy_ source %d accepted", i)
		}
		if !Equal(before, dst) {
			t.Errorf("failed copy_ %d modified the destination", i)
		}
	}
	// A float source is quantized with the destination's qparams.
	if err := dst.CopyFromDense(denseF32([]int{2, 3}, []float32{0, 0.25, 0.5, -0.5, 100, 0.125})); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dst.Ints(), []int64{2, 3, 4, 0, 255, 2}) {
		t.Fatalf("copy_ from float: %v", dst.Ints())
	}
	if err := dst.CopyFromDense(denseF32([]int{3, 2}, make([]float32, 6))); err == nil {
		t.Fatal("float source of another shape accepted")
	}
	if err := dst.CopyFromDense(denseF32([]int{2, 3}, []float32{0, 0, 0, 0, 0, float32(math.NaN())})); err == nil {
		t.Fatal("NaN float source accepted")
	}
	// fill_ quantizes with the tensor's own (per-channel) qparams.
	pc := mustQ(t, []int{2, 2}, make([]int64, 4), mustPC(t, []float64{0.5, 0.25}, []int64{0, 1}, 1))
	if err := pc.Fill(1); err != nil || !slices.Equal(pc.Ints(), []int64{2, 5, 2, 5}) {
		t.Fatalf("fill_: %v %v", pc.Ints(), err)
	}
	if err := pc.Fill(float32(math.NaN())); err == nil {
		t.Fatal("fill_ NaN accepted")
	}
	if err := dst.Fill(1); err != nil || !slices.Equal(dst.Ints(), []int64{6, 6, 6, 6, 6, 6}) {
		t.Fatalf("fill_ per-tensor: %v %v", dst.Ints(), err)
	}
	// resize_ keeps the leading elements and zero-fills the rest.
	r := mustQ(t, []int{2, 2}, []int64{1, 2, 3, 4}, qp)
	if err := r.Resize(3, 2); err != nil || !slices.Equal(r.Ints(), []int64{1, 2, 3, 4, 0, 0}) || !sameShape(r.Shape(), []int{3, 2}) {
		t.Fatalf("resize_ up: %v %v", r.Ints(), err)
	}
	if err := r.Resize(3); err != nil || !slices.Equal(r.Ints(), []int64{1, 2, 3}) {
		t.Fatalf("resize_ down: %v %v", r.Ints(), err)
	}
	if err := r.Resize(-1); err == nil {
		t.Fatal("negative resize_ accepted")
	}
	if err := pc.Resize(4); err == nil {
		t.Fatal("per-channel resize_ accepted")
	}
}

func TestReduceEdgeCases(t *testing.T) {
	qp := qdtype.MustPerTensor(qdtype.QInt8Dtype, 0.5, -3)
	x := mustQ(t, []int{2, 3}, []int64{4, -9, 4, 7, 7, -9}, qp)
	mx, _ := x.Max()
	mn, _ := x.Min()
	if mx.Int(0) != 7 || mn.Int(0) != -9 || mx.Dims() != 0 || !mx.QParams().Equal(qp) {
		t.Fatalf("max/min: %v %v", mx, mn)
	}
	v, idx, err := x.MaxDim(1, true)
	if err != nil || !slices.Equal(v.Ints(), []int64{4, 7}) || !slices.Equal(idx.Int64s(), []int64{0, 0}) || !sameShape(v.Shape(), []int{2, 1}) {
		t.Fatalf("max(dim): %v %v %v", v, idx, err)
	}
	v, idx, err = x.MinDim(-2, false)
	if err != nil || !slices.Equal(v.Ints(), []int64{4, -9, -9}) || !slices.Equal(idx.Int64s(), []int64{0, 0, 1}) {
		t.Fatalf("min(dim): %v %v %v", v, idx, err)
	}
	// mean over the innermost dim: sums of integers, rne(sum/N).
	m, err := x.MeanDims([]int{-1}, false)
	if err != nil || !slices.Equal(m.Ints(), []int64{0, 2}) {
		t.Fatalf("mean: %v %v", m.Ints(), err)
	}
	m, err = x.Mean()
	if err != nil || m.Dims() != 0 || m.Int(0) != 1 {
		t.Fatalf("mean(): %v %v", m, err)
	}
	s, si, err := x.Sort(1, true, true)
	if err != nil || !slices.Equal(s.Ints(), []int64{4, 4, -9, 7, 7, -9}) || !slices.Equal(si.Int64s(), []int64{0, 2, 1, 0, 1, 2}) {
		t.Fatalf("sort: %v %v %v", s.Ints(), si.Int64s(), err)
	}
	tk, ti, err := x.Topk(2, 1, false, true)
	if err != nil || !slices.Equal(tk.Ints(), []int64{-9, 4, -9, 7}) || ti.Int64s()[0] != 1 {
		t.Fatalf("topk: %v %v %v", tk.Ints(), ti.Int64s(), err)
	}
	z, zi, err := x.Topk(0, 1, true, true)
	if err != nil || !sameShape(z.Shape(), []int{2, 0}) || len(zi.Int64s()) != 0 {
		t.Fatalf("topk k=0: %v %v", z, err)
	}
	// 0-dim tensors reduce along dim 0 or -1.
	sc := mustQ(t, nil, []int64{5}, qp)
	sv, sidx, err := sc.MaxDim(-1, false)
	if err != nil || sv.Dims() != 0 || sv.Int(0) != 5 || sidx.Int64s()[0] != 0 {
		t.Fatalf("0-dim max(dim): %v %v", sv, err)
	}
	if sv, _, err := sc.Sort(0, false, false); err != nil || sv.Int(0) != 5 {
		t.Fatalf("0-dim sort: %v", err)
	}
	if sv, _, err := sc.Topk(1, 0, true, true); err != nil || sv.Int(0) != 5 {
		t.Fatalf("0-dim topk: %v", err)
	}
	if sm, err := sc.MeanDims([]int{0}, false); err != nil || sm.Int(0) != 5 {
		t.Fatalf("0-dim mean: %v", err)
	}
	empty := mustQ(t, []int{0, 3}, nil, qp)
	pc := mustQ(t, []int{2, 2}, make([]int64, 4), mustPC(t, []float64{1, 1}, []int64{0, 0}, 0))
	errs := []struct {
		name string
		err  func() error
	}{
		{"max of empty", func() error { _, err := empty.Max(); return err }},
		{"max along empty dim", func() error { _, _, err := empty.MaxDim(0, false); return err }},
		{"max dim out of range", func() error { _, _, err := x.MaxDim(2, false); return err }},
		{"min per-channel", func() error { _, err := pc.Min(); return err }},
		{"mean of empty", func() error { _, err := empty.Mean(); return err }},
		{"mean repeated dim", func() error { _, err := x.MeanDims([]int{1, -1}, false); return err }},
		{"mean dim out of range", func() error { _, err := x.MeanDims([]int{-3}, false); return err }},
		{"mean per-channel", func() error { _, err := pc.Mean(); return err }},
		{"sort dim", func() error { _, _, err := x.Sort(5, false, true); return err }},
		{"sort per-channel", func() error { _, _, err := pc.Sort(0, false, true); return err }},
		{"topk k too large", func() error { _, _, err := x.Topk(4, 1, true, true); return err }},
		{"topk k negative", func() error { _, _, err := x.Topk(-1, 1, true, true); return err }},
		{"topk dim", func() error { _, _, err := x.Topk(1, -3, true, true); return err }},
		{"topk per-channel", func() error { _, _, err := pc.Topk(1, 0, true, true); return err }},
	}
	for _, c := range errs {
		before := x.Ints()
		if err := c.err(); err == nil {
			t.Errorf("%s: no error", c.name)
		} else if !strings.HasPrefix(err.Error(), "qtensor: ") {
			t.Errorf("%s: error %q lacks the package prefix", c.name, err)
		}
		if !slices.Equal(before, x.Ints()) {
			t.Errorf("%s: input modified", c.name)
		}
	}
}

// TestNthElementProperty checks the introselect contract on many inputs,
// including the heap-select fallback (adversarial depth).
func TestNthElementProperty(t *testing.T) {
	less := func(a, b int) bool { return a < b }
	seed := uint32(1)
	next := func() int { seed = seed*1664525 + 1013904223; return int(seed >> 24) }
	for n := 1; n < 300; n += 7 {
		for _, mod := range []int{3, 256} {
			s := make([]int, n)
			for i := range s {
				s[i] = next() % mod
			}
			sorted := slices.Clone(s)
			slices.Sort(sorted)
			for _, nth := range []int{0, n / 2, n - 1} {
				c := slices.Clone(s)
				nthElement(c, nth, less)
				if c[nth] != sorted[nth] {
					t.Fatalf("n=%d nth=%d: %d, want %d", n, nth, c[nth], sorted[nth])
				}
				for i := 0; i < nth; i++ {
					if c[i] > c[nth] {
						t.Fatalf("n=%d nth=%d: element %d before nth is larger", n, nth, i)
					}
				}
				for i := nth + 1; i < n; i++ {
					if c[i] < c[nth] {
						t.Fatalf("n=%d nth=%d: element %d after nth is smaller", n, nth, i)
					}
				}
			}
		}
	}
	// heapSelect directly (introselect reaches it only on adversarial input).
	s := []int{9, 3, 7, 1, 8, 2, 6, 5, 4, 0}
	heapSelect(s, 0, 4, len(s), less)
	top := slices.Clone(s[:4])
	slices.Sort(top)
	if !slices.Equal(top, []int{0, 1, 2, 3}) || s[0] != 3 {
		t.Fatalf("heapSelect: %v", s)
	}
}
