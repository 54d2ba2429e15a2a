package qtensor

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
)

// seqQ returns a tensor of shape whose integers are 0, 1, 2, ... (mod the
// dtype range) with per-tensor qparams (0.5, 3).
func seqQ(t *testing.T, dt string, shape ...int) *QTensor {
	t.Helper()
	d, _ := qdtype.ParseDtype(dt)
	qmin, qmax, _ := qdtype.Range(d)
	data := make([]int64, numel(shape))
	for i := range data {
		data[i] = qmin + int64(i)%(min(qmax-qmin+1, 1<<20))
		if d == qdtype.QInt32Dtype {
			data[i] = int64(i) - 7
		}
	}
	qp := qdtype.MustPerTensor(d, 0.5, 3)
	q, err := FromInts(shape, data, qp)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// pcQ returns a per-channel qint8 tensor along axis with integers 0, 1, ...
func pcQ(t *testing.T, axis int, shape ...int) *QTensor {
	t.Helper()
	c := shape[axis]
	scales := make([]float64, c)
	zps := make([]int64, c)
	for i := range scales {
		scales[i] = 0.25 * float64(i+1)
		zps[i] = int64(i) - 1
	}
	qp, err := qdtype.PerChannel(qdtype.QInt8Dtype, scales, zps, axis)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]int64, numel(shape))
	for i := range data {
		data[i] = int64(i%200) - 100
	}
	q, err := FromInts(shape, data, qp)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestGoldenViews(t *testing.T) {
	g := loadGolden(t)
	if len(g.Views) == 0 {
		t.Fatal("no view vectors")
	}
	for i, c := range g.Views {
		x := c.X.full(t)
		var y *QTensor
		var ys []*QTensor
		var err error
		a := c.Args
		switch c.Op {
		case "t":
			y, err = x.T()
		case "split":
			ys, err = x.Split(num(a[0]), num(a[1]))
		case "chunk":
			ys, err = x.Chunk(num(a[0]), num(a[1]))
		case "unbind":
			ys, err = x.Unbind(num(a[0]))
		case "repeat":
			y, err = x.Repeat(ints(a[0])...)
		case "masked_fill":
			var m []bool
			rows := a[0].([]interface{})
			for _, r := range rows {
				for _, v := range r.([]interface{}) {
					m = append(m, v.(bool))
				}
			}
			y, err = x.MaskedFill(denseWithShape([]int{len(rows), len(m) / len(rows)}, m), float32(a[1].(float64)))
		case "reshape":
			y, err = x.Reshape(ints(a[0])...)
		case "flatten":
			y, err = x.Flatten(num(a[0]), num(a[1]))
		case "select":
			y, err = x.Select(num(a[0]), num(a[1]))
		case "slice":
			y, err = x.Slice(num(a[0]), num(a[1]), num(a[2]), num(a[3]))
		case "narrow":
			y, err = x.Narrow(num(a[0]), num(a[1]), num(a[2]))
		case "expand":
			y, err = x.Expand(ints(a[0])...)
		case "transpose":
			y, err = x.Transpose(num(a[0]), num(a[1]))
		case "permute":
			y, err = x.Permute(ints(a[0])...)
		case "as_strided":
			y, err = x.AsStrided(ints(a[0]), ints(a[1]), num(a[2]))
		case "squeeze":
			y, err = x.Squeeze()
		case "unsqueeze":
			y, err = x.Unsqueeze(num(a[0]))
		case "index_select":
			var ix []int64
			for _, v := range ints(a[1]) {
				ix = append(ix, int64(v))
			}
			y, err = x.IndexSelect(num(a[0]), ix)
		default:
			t.Fatalf("unknown op %q", c.Op)
		}
		if err != nil {
			t.Fatalf("view %d %s%v: %v", i, c.Op, a, err)
		}
		if ys != nil {
			var outs []gFull
			if err := json.Unmarshal(c.Out, &outs); err != nil {
				t.Fatal(err)
			}
			if len(ys) != len(outs) {
				t.Fatalf("view %d %s%v: %d pieces, PyTorch %d", i, c.Op, a, len(ys), len(outs))
			}
			for j := range ys {
				if !Equal(ys[j], outs[j].full(t)) {
					t.Errorf("view %d %s%v: piece %d differs: %v %v", i, c.Op, a, j, ys[j].Shape(), ys[j].qp)
				}
			}
			continue
		}
		var out gFull
		if err := json.Unmarshal(c.Out, &out); err != nil {
			t.Fatal(err)
		}
		c.Out = nil
		if c.Op == "select" && x.qp.PerChannel() && num(a[0]) > x.qp.Axis {
			// PyTorch 1.13 decrements the axis here (its result cannot be
			// dequantized); the channel axis really stays where it was.
			out.Axis = x.qp.Axis
		}
		want := out.full(t)
		if !Equal(y, want) {
			t.Errorf("view %d %s%v: got %v %v %v, PyTorch %v %v %v", i, c.Op, a, y.Shape(), y.qp, y.Ints(), want.Shape(), want.qp, want.Ints())
		}
		if _, err := y.Dequantize(); err != nil {
			t.Errorf("view %d %s%v: result does not dequantize: %v", i, c.Op, a, err)
		}
	}
}

func num(v interface{}) int { return int(v.(float64)) }

func ints(v interface{}) []int {
	var out []int
	for _, x := range v.([]interface{}) {
		out = append(out, num(x))
	}
	return out
}

func TestViewsDoNotAlias(t *testing.T) {
	x := seqQ(t, "quint8", 2, 3)
	before := x.Ints()
	y, err := x.Reshape(3, 2)
	if err != nil {
		t.Fatal(err)
	}
	y.Dense().Uint8s()[0] = 99
	if !slices.Equal(x.Ints(), before) {
		t.Fatal("Reshape result shares storage with its input")
	}
}

func TestViewErrors(t *testing.T) {
	pt := seqQ(t, "qint8", 2, 3, 4)
	pc := pcQ(t, 1, 2, 3, 4)
	scalar, _ := FromInts(nil, []int64{5}, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 1, 0))
	cases := []struct {
		name string
		f    func() (*QTensor, error)
		msg  string
	}{
		{"reshape two -1", func() (*QTensor, error) { return pt.Reshape(-1, -1) }, "one dimension"},
		{"reshape bad count", func() (*QTensor, error) { return pt.Reshape(5, 5) }, "invalid for input of size 24"},
		{"reshape -2", func() (*QTensor, error) { return pt.Reshape(-2, 12) }, "invalid size"},
		{"view indivisible", func() (*QTensor, error) { return pt.View(5, -1) }, "invalid"},
		{"reshape destroys channel axis", func() (*QTensor, error) { return pc.Reshape(6, 4) }, "channel axis"},
		{"flatten channel axis", func() (*QTensor, error) { return pc.Flatten(1, 2) }, "channel axis"},
		{"flatten start after end", func() (*QTensor, error) { return pt.Flatten(2, 1) }, "after"},
		{"flatten dim out of range", func() (*QTensor, error) { return pt.Flatten(0, 3) }, "out of range"},
		{"select 0-dim", func() (*QTensor, error) { return scalar.Select(0, 0) }, "0-dim"},
		{"select index", func() (*QTensor, error) { return pt.Select(1, 3) }, "index 3"},
		{"select negative index", func() (*QTensor, error) { return pt.Select(1, -4) }, "index -4"},
		{"select dim", func() (*QTensor, error) { return pt.Select(-4, 0) }, "out of range"},
		{"slice step 0", func() (*QTensor, error) { return pt.Slice(0, 0, 2, 0) }, "step"},
		{"slice step -1", func() (*QTensor, error) { return pt.Slice(0, 0, 2, -1) }, "step"},
		{"slice leaves no channel", func() (*QTensor, error) { return pc.Slice(1, 2, 1, 1) }, "no channel"},
		{"narrow past end", func() (*QTensor, error) { return pt.Narrow(2, 2, 3) }, "exceeds"},
		{"narrow start", func() (*QTensor, error) { return pt.Narrow(2, 5, 0) }, "start"},
		{"expand mismatch", func() (*QTensor, error) { return pt.Expand(2, 4, 4) }, "must match"},
		{"expand fewer dims", func() (*QTensor, error) { return pt.Expand(3, 4) }, "at least"},
		{"expand new -1", func() (*QTensor, error) { return pt.Expand(-1, 2, 3, 4) }, "invalid"},
		{"expand per-channel", func() (*QTensor, error) { return pc.Expand(2, 2, 3, 4) }, "per-tensor"},
		{"as_strided out of storage", func() (*QTensor, error) { return pt.AsStrided([]int{2, 3}, []int{12, 5}, 2) }, "beyond a storage of 24"},
		{"as_strided negative stride", func() (*QTensor, error) { return pt.AsStrided([]int{2}, []int{-1}, 5) }, "negative"},
		{"as_strided per-channel", func() (*QTensor, error) { return pc.AsStrided([]int{2}, []int{1}, 0) }, "per-tensor"},
		{"transpose per-channel", func() (*QTensor, error) { return pc.Transpose(0, 2) }, "per-tensor"},
		{"permute per-channel", func() (*QTensor, error) { return pc.Permute(0, 1, 2) }, "per-tensor"},
		{"permute repeat", func() (*QTensor, error) { return pt.Permute(0, 0, 1) }, "repeats"},
		{"permute length", func() (*QTensor, error) { return pt.Permute(0, 1) }, "rank"},
		{"squeeze channel axis", func() (*QTensor, error) { return pcQ(t, 1, 2, 1, 3).Squeeze() }, "channel axis"},
		{"unsqueeze dim", func() (*QTensor, error) { return pt.Unsqueeze(4) }, "out of range"},
		{"index_select out of range", func() (*QTensor, error) { return pt.IndexSelect(2, []int64{4}) }, "out of range"},
		{"index_select negative", func() (*QTensor, error) { return pt.IndexSelect(2, []int64{-1}) }, "out of range"},
		{"narrow huge length", func() (*QTensor, error) { return pt.Narrow(2, 1, math.MaxInt) }, "exceeds"},
		{"expand huge", func() (*QTensor, error) { return pt.Expand(1<<30, 1<<30, 2, 3, 4) }, "2^48"},
		{"reshape huge", func() (*QTensor, error) { return pt.Reshape(1<<32, 1<<32, -1) }, "2^48"},
		{"as_strided huge stride", func() (*QTensor, error) { return pt.AsStrided([]int{3}, []int{math.MaxInt / 2}, 0) }, "beyond"},
		{"as_strided huge size", func() (*QTensor, error) { return pt.AsStrided([]int{1 << 40, 1 << 40}, []int{0, 0}, 0) }, "2^48"},
		{"index_select per-channel", func() (*QTensor, error) { return pc.IndexSelect(0, []int64{0}) }, "per-tensor"},
	}
	for _, c := range cases {
		before := pt.Ints()
		y, err := c.f()
		if err == nil {
			t.Errorf("%s: no error (got shape %v)", c.name, y.Shape())
			continue
		}
		if !strings.HasPrefix(err.Error(), "qtensor: ") || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %q, want it to mention %q", c.name, err, c.msg)
		}
		if !slices.Equal(pt.Ints(), before) {
			t.Errorf("%s: input modified", c.name)
		}
	}
}

func TestPerChannelViews(t *testing.T) {
	pc := pcQ(t, 1, 2, 3, 4)
	x, _ := pc.Dequantize()
	xf := x.Float32s()
	// Reshape keeping the channel axis moves it to the matching dimension.
	cases := []struct {
		shape []int
		axis  int
	}{
		{[]int{2, 3, 2, 2}, 1},
		{[]int{1, 2, 3, 4}, 2},
		{[]int{2, 3, 4, 1}, 1},
		{[]int{2, 1, 3, 4}, 2},
	}
	for _, c := range cases {
		y, err := pc.Reshape(c.shape...)
		if err != nil {
			t.Fatalf("reshape %v: %v", c.shape, err)
		}
		if y.qp.Axis != c.axis {
			t.Errorf("reshape %v: axis %d, want %d", c.shape, y.qp.Axis, c.axis)
		}
		yf, err := y.Dequantize()
		if err != nil || !slices.Equal(yf.Float32s(), xf) {
			t.Errorf("reshape %v: real values changed (%v)", c.shape, err)
		}
	}
	// A one-channel slice becomes per-tensor with that channel's qparams.
	s, err := pc.Select(1, 2)
	if err != nil || s.qp.PerChannel() || s.qp.Scale() != 0.75 || s.qp.ZeroPoint() != 1 {
		t.Fatalf("select on the channel axis: %v %v", s.qp, err)
	}
	// Squeeze and unsqueeze shift the axis.
	u, err := pc.Unsqueeze(0)
	if err != nil || u.qp.Axis != 2 {
		t.Fatalf("unsqueeze(0): %v %v", u.qp, err)
	}
	v, err := u.Squeeze()
	if err != nil || v.qp.Axis != 1 || !Equal(v, pc) {
		t.Fatalf("squeeze: %v %v", v.qp, err)
	}
	// Every per-channel view dequantizes to the same real values as the
	// equivalent view of the float tensor.
	sl, err := pc.Slice(2, 1, SliceEnd, 2)
	if err != nil || sl.qp.Axis != 1 || len(sl.qp.Scales) != 3 {
		t.Fatalf("slice along another dim: %v %v", sl.qp, err)
	}
	sf, _ := sl.Dequantize()
	for i := 0; i < 2; i++ {
		for c := 0; c < 3; c++ {
			for j := 0; j < 2; j++ {
				if sf.Float32s()[(i*3+c)*2+j] != xf[(i*3+c)*4+1+2*j] {
					t.Fatalf("slice: value at (%d,%d,%d) differs", i, c, j)
				}
			}
		}
	}
}

func TestShapeEdgeCases(t *testing.T) {
	scalar, _ := FromInts(nil, []int64{5}, qdtype.MustPerTensor(qdtype.QUInt8Dtype, 1, 0))
	f, err := scalar.Flatten(0, -1)
	if err != nil || !sameShape(f.Shape(), []int{1}) || f.Int(0) != 5 {
		t.Fatalf("flatten of 0-dim: %v %v", f, err)
	}
	e, err := scalar.Expand(2, 3)
	if err != nil || !sameShape(e.Shape(), []int{2, 3}) || !slices.Equal(e.Ints(), []int64{5, 5, 5, 5, 5, 5}) {
		t.Fatalf("expand of 0-dim: %v %v", e, err)
	}
	x := seqQ(t, "qint32", 2, 3)
	empty, err := x.Slice(1, 2, 1, 1)
	if err != nil || !sameShape(empty.Shape(), []int{2, 0}) || empty.Size() != 0 {
		t.Fatalf("empty slice: %v %v", empty, err)
	}
	r, err := empty.Reshape(0, -1, 5)
	if err == nil {
		t.Fatalf("reshape of an empty tensor with -1 should be ambiguous, got %v", r.Shape())
	}
	big, err := x.Slice(1, 0, SliceEnd, math.MaxInt)
	if err != nil || !slices.Equal(big.Ints(), []int64{-7, -4}) {
		t.Fatalf("slice with a huge step: %v %v", big, err)
	}
	z, err := x.Expand(0, 2, 3)
	if err != nil || z.Size() != 0 {
		t.Fatalf("expand to 0: %v", err)
	}
	sd, err := x.SqueezeDim(0)
	if err != nil || !Equal(sd, x) {
		t.Fatalf("squeeze of a non-1 dim must be a no-op: %v", err)
	}
	tr, err := x.Transpose(0, 1)
	if err != nil || !slices.Equal(tr.Ints(), []int64{-7, -4, -6, -3, -5, -2}) {
		t.Fatalf("transpose: %v %v", tr.Ints(), err)
	}
}

func TestSplitFamily(t *testing.T) {
	pt := seqQ(t, "quint8", 2, 5)
	errs := []struct {
		name string
		f    func() error
	}{
		{"split 0", func() error { _, err := pt.Split(0, 1); return err }},
		{"split negative", func() error { _, err := pt.Split(-2, 1); return err }},
		{"split dim", func() error { _, err := pt.Split(2, 2); return err }},
		{"chunk 0", func() error { _, err := pt.Chunk(0, 1); return err }},
		{"unbind dim", func() error { _, err := pt.Unbind(-3); return err }},
		{"t rank 3", func() error { _, err := seqQ(t, "quint8", 2, 2, 2).T(); return err }},
		{"t per-channel", func() error { _, err := pcQ(t, 0, 2, 3).T(); return err }},
		{"repeat rank", func() error { _, err := pt.Repeat(2); return err }},
		{"repeat negative", func() error { _, err := pt.Repeat(1, -1); return err }},
		{"repeat per-channel", func() error { _, err := pcQ(t, 0, 2, 3).Repeat(1, 1); return err }},
		{"mask dtype", func() error { _, err := pt.MaskedFill(denseF32([]int{5}, make([]float32, 5)), 1); return err }},
		{"mask shape", func() error { _, err := pt.MaskedFill(denseWithShape([]int{3}, make([]bool, 3)), 1); return err }},
		{"mask broadcasts the tensor", func() error {
			_, err := pt.MaskedFill(denseWithShape([]int{3, 2, 5}, make([]bool, 30)), 1)
			return err
		}},
		{"mask NaN", func() error {
			_, err := pt.MaskedFill(denseWithShape([]int{5}, make([]bool, 5)), float32(math.NaN()))
			return err
		}},
	}
	for _, c := range errs {
		before := pt.Ints()
		if err := c.f(); err == nil {
			t.Errorf("%s: no error", c.name)
		}
		if !slices.Equal(before, pt.Ints()) {
			t.Errorf("%s: input modified", c.name)
		}
	}
	empty := seqQ(t, "quint8", 2, 0)
	ch, err := empty.Chunk(3, 1)
	if err != nil || len(ch) != 3 || ch[2].Size() != 0 {
		t.Fatalf("chunk of an empty dimension: %v %v", ch, err)
	}
	sp, err := empty.Split(0, 1)
	if err != nil || len(sp) != 1 {
		t.Fatalf("split of an empty dimension by 0: %v %v", sp, err)
	}
	// Per-channel masked_fill quantizes v per channel (PyTorch rejects it).
	pc := pcQ(t, 1, 1, 3)
	mf, err := pc.MaskedFill(denseWithShape([]int{3}, []bool{true, false, true}), 1)
	if err != nil || !slices.Equal(mf.Ints(), []int64{3, -99, 2}) {
		t.Fatalf("per-channel masked_fill: %v %v", mf.Ints(), err)
	}
	r, err := pt.Repeat(0, 2)
	if err != nil || !sameShape(r.Shape(), []int{0, 10}) {
		t.Fatalf("repeat 0: %v", err)
	}
}
