package ops

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

type h5ConvFn func(*qtensor.QTensor, *PackedConv, float64, int64) (*qtensor.QTensor, error)
type h5PackFn func(*qtensor.QTensor, *tensor.Dense, ConvOptions) (*PackedConv, error)

var h5ConvOps = map[string]struct {
	pack h5PackFn
	run  h5ConvFn
}{
	"conv1d":           {PrepackConv1d, Conv1d},
	"conv1d_relu":      {PrepackConv1d, Conv1dReLU},
	"conv2d":           {PrepackConv2d, Conv2d},
	"conv2d_relu":      {PrepackConv2d, Conv2dReLU},
	"conv3d":           {PrepackConv3d, Conv3d},
	"conv3d_relu":      {PrepackConv3d, Conv3dReLU},
	"conv_transpose1d": {PrepackConvTranspose1d, ConvTranspose1d},
	"conv_transpose2d": {PrepackConvTranspose2d, ConvTranspose2d},
}

func TestConvGolden(t *testing.T) {
	for _, c := range h5Load(t, "conv") {
		f, ok := h5ConvOps[c.Op]
		if !ok {
			t.Fatalf("%s: unknown op %s", c.ID, c.Op)
		}
		var opt ConvOptions
		var scale float64
		var zp int64
		c.attr(t, "stride", &opt.Stride)
		c.attr(t, "padding", &opt.Padding)
		c.attr(t, "dilation", &opt.Dilation)
		c.attr(t, "groups", &opt.Groups)
		if _, ok := c.Attrs["output_padding"]; ok {
			c.attr(t, "output_padding", &opt.OutputPadding)
		}
		c.attr(t, "scale", &scale)
		c.attr(t, "zero_point", &zp)
		p, err := f.pack(c.Inputs[1].q(t), c.Inputs[2].dense(), opt)
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		y, err := f.run(c.Inputs[0].q(t), p, scale, zp)
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		h5CheckQ(t, c.ID, y, c.Expect[0])
	}
}

// h5ConvSpec is one random convolution of the reference tests.
type h5ConvSpec struct {
	dims                   int
	transposed             bool
	n, c, o, groups        int
	in, k, s, p, d, outPad []int
	perChannel, bias, relu bool
	wZPSpan                int
}

// h5ConvRef computes the convolution in float64 from the dequantized
// inputs (padding is real zero), bias included: exact arithmetic.
func h5ConvRef(sp *h5ConvSpec, x, w *qtensor.QTensor, b *tensor.Dense) ([]float64, []int) {
	xr, wr := h5Deq(x), h5Deq(w)
	in := [3]int{1, 1, 1}
	k, s, p, d, op := [3]int{1, 1, 1}, [3]int{1, 1, 1}, [3]int{}, [3]int{1, 1, 1}, [3]int{}
	for i := 0; i < sp.dims; i++ {
		j := 3 - sp.dims + i
		in[j], k[j], s[j], p[j], d[j] = sp.in[i], sp.k[i], sp.s[i], sp.p[i], sp.d[i]
		if sp.transposed {
			op[j] = sp.outPad[i]
		}
	}
	var out [3]int
	for j := 0; j < 3; j++ {
		if sp.transposed {
			out[j] = (in[j]-1)*s[j] - 2*p[j] + d[j]*(k[j]-1) + op[j] + 1
		} else {
			out[j] = (in[j]+2*p[j]-d[j]*(k[j]-1)-1)/s[j] + 1
		}
	}
	cg, og := sp.c/sp.groups, sp.o/sp.groups
	taps := k[0] * k[1] * k[2]
	osz := out[0] * out[1] * out[2]
	isz := in[0] * in[1] * in[2]
	y := make([]float64, sp.n*sp.o*osz)
	for i := 0; i < sp.n; i++ {
		for ci := 0; ci < sp.c; ci++ {
			gr := ci / cg
			for oo := 0; oo < og; oo++ {
				o := gr*og + oo
				for ip := 0; ip < isz; ip++ {
					id, ih, iw := ip/(in[1]*in[2]), ip/in[2]%in[1], ip%in[2]
					xv := xr[(i*sp.c+ci)*isz+ip]
					for t := 0; t < taps; t++ {
						kd, kh, kw := t/(k[1]*k[2]), t/k[2]%k[1], t%k[2]
						var wv float64
						var od, oh, ow int
						if sp.transposed {
							wv = wr[((ci*og+oo)*taps)+t]
							od, oh, ow = id*s[0]-p[0]+kd*d[0], ih*s[1]-p[1]+kh*d[1], iw*s[2]-p[2]+kw*d[2]
						} else {
							wv = wr[((o*cg+ci%cg)*taps)+t]
							// Output position whose tap t reads input ip.
							nd, nh, nw := id+p[0]-kd*d[0], ih+p[1]-kh*d[1], iw+p[2]-kw*d[2]
							if nd < 0 || nh < 0 || nw < 0 || nd%s[0] != 0 || nh%s[1] != 0 || nw%s[2] != 0 {
								continue
							}
							od, oh, ow = nd/s[0], nh/s[1], nw/s[2]
						}
						if od < 0 || od >= out[0] || oh < 0 || oh >= out[1] || ow < 0 || ow >= out[2] {
							continue
						}
						y[(i*sp.o+o)*osz+(od*out[1]+oh)*out[2]+ow] += xv * wv
					}
				}
			}
		}
	}
	if b != nil {
		for i := range y {
			y[i] += float64(b.Float32s()[(i/osz)%sp.o])
		}
	}
	return y, append([]int{sp.n, sp.o}, out[3-sp.dims:]...)
}

func h5ConvSpecs() []*h5ConvSpec {
	one := func(v ...int) []int { return v }
	return []*h5ConvSpec{
		{dims: 2, n: 2, c: 3, o: 5, groups: 1, in: one(7, 6), k: one(3, 3), s: one(1, 1), p: one(1, 1), d: one(1, 1), bias: true},
		{dims: 2, n: 1, c: 6, o: 6, groups: 6, in: one(9, 11), k: one(3, 3), s: one(1, 1), p: one(1, 1), d: one(1, 1), perChannel: true, bias: true, relu: true},
		{dims: 2, n: 2, c: 8, o: 8, groups: 8, in: one(10, 9), k: one(3, 3), s: one(2, 2), p: one(1, 1), d: one(1, 1), bias: true, wZPSpan: 2},
		{dims: 2, n: 3, c: 1, o: 7, groups: 1, in: one(12, 11), k: one(5, 5), s: one(1, 1), p: one(2, 2), d: one(1, 1), perChannel: true},
		{dims: 2, n: 1, c: 1, o: 2, groups: 1, in: one(9, 9), k: one(3, 2), s: one(2, 1), p: one(0, 1), d: one(2, 1), bias: true, wZPSpan: 3},
		{dims: 2, n: 2, c: 4, o: 8, groups: 4, in: one(6, 7), k: one(3, 3), s: one(1, 2), p: one(2, 0), d: one(1, 2), perChannel: true, bias: true},
		{dims: 2, n: 1, c: 12, o: 9, groups: 3, in: one(9, 8), k: one(3, 3), s: one(2, 1), p: one(1, 2), d: one(2, 1), bias: true, relu: true},
		{dims: 2, n: 2, c: 17, o: 13, groups: 1, in: one(5, 6), k: one(1, 1), s: one(1, 1), p: one(0, 0), d: one(1, 1), perChannel: true, bias: true},
		{dims: 2, n: 1, c: 5, o: 4, groups: 1, in: one(6, 6), k: one(1, 1), s: one(2, 2), p: one(1, 1), d: one(1, 1), wZPSpan: 4},
		{dims: 1, n: 2, c: 6, o: 4, groups: 2, in: one(17), k: one(4), s: one(3), p: one(2), d: one(1), bias: true},
		{dims: 1, n: 1, c: 3, o: 3, groups: 3, in: one(20), k: one(5), s: one(1), p: one(4), d: one(2), perChannel: true, relu: true},
		{dims: 3, n: 1, c: 3, o: 4, groups: 1, in: one(5, 6, 5), k: one(3, 2, 3), s: one(1, 2, 1), p: one(1, 0, 1), d: one(1, 1, 2), bias: true},
		{dims: 3, n: 2, c: 4, o: 4, groups: 4, in: one(4, 5, 5), k: one(3, 3, 3), s: one(1, 1, 1), p: one(1, 1, 1), d: one(1, 1, 1), perChannel: true, bias: true},
		{dims: 2, n: 0, c: 4, o: 4, groups: 1, in: one(6, 6), k: one(3, 3), s: one(1, 1), p: one(1, 1), d: one(1, 1), bias: true},
		{dims: 2, n: 2, c: 2, o: 3, groups: 1, in: one(4, 1), k: one(3, 3), s: one(3, 3), p: one(0, 0), d: one(1, 1), bias: true},       // window overhangs the input
		{dims: 2, n: 1, c: 3, o: 3, groups: 3, in: one(5, 2), k: one(3, 3), s: one(2, 4), p: one(0, 1), d: one(1, 1), perChannel: true}, // depthwise, overhang
		{dims: 2, n: 1, c: 2, o: 2, groups: 1, in: one(4, 4), k: one(3, 3), s: one(1, 1), p: one(0, 0), d: one(2, 2), bias: true},       // output size 0
		{dims: 2, transposed: true, n: 1, c: 4, o: 6, groups: 2, in: one(5, 6), k: one(3, 3), s: one(2, 2), p: one(1, 1), d: one(1, 1), outPad: one(1, 0), bias: true},
		{dims: 2, transposed: true, n: 2, c: 3, o: 4, groups: 1, in: one(4, 5), k: one(2, 3), s: one(1, 2), p: one(0, 1), d: one(2, 1), outPad: one(0, 1), perChannel: true, wZPSpan: 2},
		{dims: 2, transposed: true, n: 1, c: 4, o: 4, groups: 2, in: one(3, 3), k: one(3, 3), s: one(2, 2), p: one(0, 0), d: one(1, 1), outPad: one(0, 0), perChannel: true, bias: true},
		{dims: 1, transposed: true, n: 2, c: 4, o: 6, groups: 2, in: one(9), k: one(3), s: one(2), p: one(1), d: one(2), outPad: one(1), bias: true},
	}
}

func h5ConvRun(t *testing.T, r *rand.Rand, sp *h5ConvSpec) (got *qtensor.QTensor, want []int64, wantShape []int, p *PackedConv, x *qtensor.QTensor) {
	t.Helper()
	xs := append([]int{sp.n, sp.c}, sp.in...)
	x = h5RandQ(r, xs, qdtype.QUInt8Dtype, -1, 0)
	var ws []int
	axis := -1
	if sp.transposed {
		ws = append([]int{sp.c, sp.o / sp.groups}, sp.k...)
		if sp.perChannel {
			axis = 1
		}
	} else {
		ws = append([]int{sp.o, sp.c / sp.groups}, sp.k...)
		if sp.perChannel {
			axis = 0
		}
	}
	w := h5RandQ(r, ws, qdtype.QInt8Dtype, axis, sp.wZPSpan)
	var b *tensor.Dense
	if sp.bias {
		b = h5RandBias(r, sp.o)
	}
	// Output qparams that cover the reference's range.
	ref, wantShape := h5ConvRef(sp, x, w, b)
	lo, hi := 0.0, 0.0
	for _, v := range ref {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	scale := math.Max((hi-lo)/255*(1+0.2*r.Float64()), 1e-3)
	zp := int64(math.Min(255, math.Max(0, math.Round(-lo/scale))))
	opt := ConvOptions{Stride: sp.s, Padding: sp.p, Dilation: sp.d, Groups: sp.groups, OutputPadding: sp.outPad}
	name := fmt.Sprintf("conv%dd", sp.dims)
	if sp.transposed {
		name = fmt.Sprintf("conv_transpose%dd", sp.dims)
	} else if sp.relu {
		name += "_relu"
	}
	f := h5ConvOps[name]
	var err error
	if p, err = f.pack(w, b, opt); err != nil {
		t.Fatalf("%+v: %v", sp, err)
	}
	if got, err = f.run(x, p, scale, zp); err != nil {
		t.Fatalf("%+v: %v", sp, err)
	}
	want = make([]int64, len(ref))
	for i, v := range ref {
		want[i] = h5Requant(v, scale, zp, sp.relu)
	}
	return got, want, wantShape, p, x
}

func TestConvMatchesExactArithmetic(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	total, off := 0, 0
	for rep := 0; rep < 2; rep++ {
		for i, sp := range h5ConvSpecs() {
			got, want, shape, _, _ := h5ConvRun(t, r, sp)
			name := fmt.Sprintf("spec %d (%+v)", i, *sp)
			if fmt.Sprint([]int(got.Shape())) != fmt.Sprint(shape) {
				t.Fatalf("%s: shape %v, want %v", name, got.Shape(), shape)
			}
			h5CompareRef(t, name, got.Ints(), want, 1+len(want)/100)
			for j, v := range got.Ints() {
				total++
				if v != want[j] {
					off++
				}
			}
		}
	}
	if off*1000 > total {
		t.Fatalf("%d of %d elements differ from exact arithmetic", off, total)
	}
	t.Logf("%d of %d elements differ from exact arithmetic by one step", off, total)
}

// TestConvPathsBitIdentical runs every non-transposed spec through both
// kernels (im2col + GEMM and direct) and requires identical bytes.
func TestConvPathsBitIdentical(t *testing.T) {
	r := rand.New(rand.NewSource(10))
	for i, sp := range h5ConvSpecs() {
		if sp.transposed || sp.n == 0 {
			continue
		}
		got, _, _, p, x := h5ConvRun(t, r, sp)
		qp := got.QParams()
		xqp := x.QParams()
		rq, _, err := requantFor("test", xqp.Scale(), p.scales, p.bias, qp.Scale(), qp.ZeroPoint(), sp.relu)
		if err != nil {
			t.Fatal(err)
		}
		var in, out [3]int
		for j := 0; j < 3; j++ {
			in[j], out[j] = 1, 1
		}
		gs := got.Shape()
		for j := 0; j < sp.dims; j++ {
			in[3-sp.dims+j], out[3-sp.dims+j] = sp.in[j], gs[2+j]
		}
		g := p.geom(in[0], in[1], in[2], out[0], out[1], out[2])
		for _, path := range []convPath{pathIm2col, pathDirect, pathDirectU8, pathImplicit, pathIm2col + 100} {
			buf := make([]uint8, got.Size())
			if path == pathIm2col+100 { // im2col in blocks of 16 rows, split among workers
				saved := im2colBlock
				im2colBlock = 1
				convForward(g, p, sp.n, x.Dense().Uint8s(), int32(xqp.ZeroPoint()), rq, buf, pathIm2col)
				im2colBlock = saved
			} else {
				convForward(g, p, sp.n, x.Dense().Uint8s(), int32(xqp.ZeroPoint()), rq, buf, path)
			}
			for j, v := range got.Ints() {
				if int64(buf[j]) != v {
					t.Fatalf("spec %d path %d: element %d = %d, auto path gave %d", i, path, j, buf[j], v)
				}
			}
		}
	}
}

func TestConvErrors(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	x := h5RandQ(r, []int{1, 4, 6, 6}, qdtype.QUInt8Dtype, -1, 0)
	w := h5RandQ(r, []int{6, 2, 3, 3}, qdtype.QInt8Dtype, -1, 0)
	p, err := PrepackConv2d(w, nil, ConvOptions{Groups: 2, Padding: []int{1}})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := PrepackConv1d(h5RandQ(r, []int{2, 4, 3}, qdtype.QInt8Dtype, -1, 0), nil, ConvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := PrepackConvTranspose2d(h5RandQ(r, []int{4, 2, 3, 3}, qdtype.QInt8Dtype, -1, 0), nil, ConvOptions{Stride: []int{2}})
	if err != nil {
		t.Fatal(err)
	}
	x3 := h5RandQ(r, []int{1, 3, 6, 6}, qdtype.QUInt8Dtype, -1, 0)
	xsmall := h5RandQ(r, []int{1, 4, 1, 1}, qdtype.QUInt8Dtype, -1, 0)
	x3d := h5RandQ(r, []int{4, 6, 6}, qdtype.QUInt8Dtype, -1, 0)
	xs8 := h5RandQ(r, []int{1, 4, 6, 6}, qdtype.QInt8Dtype, -1, 0)
	for _, tc := range []struct {
		name, want string
		err        func() error
	}{
		{"channels", "input has 3 channels, weight expects 4", func() error { _, e := Conv2d(x3, p, 1, 0); return e }},
		{"rank", "want 4 dimensions", func() error { _, e := Conv2d(x3d, p, 1, 0); return e }},
		{"dtype", "want quint8", func() error { _, e := Conv2d(xs8, p, 1, 0); return e }},
		{"nil packed", "nil packed", func() error { _, e := Conv2d(x, nil, 1, 0); return e }},
		{"wrong rank packed", "packed weights are for conv1d", func() error { _, e := Conv2d(x, p1, 1, 0); return e }},
		{"transposed packed", "transposed", func() error { _, e := Conv2d(x, pt, 1, 0); return e }},
		{"not transposed", "not a transposed", func() error { _, e := ConvTranspose2d(x, p, 1, 0); return e }},
		{"negative output", "negative output size", func() error {
			q, _ := PrepackConv2d(w, nil, ConvOptions{Groups: 2, Dilation: []int{2}})
			_, e := Conv2d(xsmall, q, 1, 0)
			return e
		}},
		{"zero point", "zero point -1", func() error { _, e := Conv2dReLU(x, p, 1, -1); return e }},
		{"scale", "scale", func() error { _, e := Conv2d(x, p, math.Inf(1), 0); return e }},
		{"groups", "not divisible by groups 4", func() error { _, e := PrepackConv2d(w, nil, ConvOptions{Groups: 4}); return e }},
		{"stride", "stride [0] must be ≥ 1", func() error { _, e := PrepackConv2d(w, nil, ConvOptions{Stride: []int{0}}); return e }},
		{"padding", "padding [-1 0] must be ≥ 0", func() error { _, e := PrepackConv2d(w, nil, ConvOptions{Padding: []int{-1, 0}}); return e }},
		{"dilation length", "dilation has 3 values", func() error { _, e := PrepackConv2d(w, nil, ConvOptions{Dilation: []int{1, 1, 1}}); return e }},
		{"output padding", "output_padding", func() error { _, e := PrepackConv2d(w, nil, ConvOptions{OutputPadding: []int{1}}); return e }},
		{"output padding size", "smaller than either stride", func() error {
			_, e := PrepackConvTranspose2d(w, nil, ConvOptions{OutputPadding: []int{1}})
			return e
		}},
		{"weight rank", "want 4 dimensions", func() error {
			_, e := PrepackConv2d(h5RandQ(r, []int{6, 4, 3}, qdtype.QInt8Dtype, -1, 0), nil, ConvOptions{})
			return e
		}},
		{"weight axis", "axis 1, want axis 0", func() error {
			_, e := PrepackConv2d(h5RandQ(r, []int{6, 4, 3, 3}, qdtype.QInt8Dtype, 1, 0), nil, ConvOptions{})
			return e
		}},
		{"transposed axis", "axis 0, want axis 1", func() error {
			_, e := PrepackConvTranspose2d(h5RandQ(r, []int{6, 4, 3, 3}, qdtype.QInt8Dtype, 0, 0), nil, ConvOptions{})
			return e
		}},
		{"bias", "want [6]", func() error { _, e := PrepackConv2d(w, h5RandBias(r, 5), ConvOptions{Groups: 2}); return e }},
		{"quint8 weight", "want qint8", func() error {
			_, e := PrepackConv2d(h5RandQ(r, []int{6, 4, 3, 3}, qdtype.QUInt8Dtype, -1, 0), nil, ConvOptions{})
			return e
		}},
	} {
		err := tc.err()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ops: ") {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	before := x.Ints()
	if _, err := Conv2d(x, p, 0.1, 3); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(before) != fmt.Sprint(x.Ints()) {
		t.Fatal("Conv2d modified its input")
	}
	wu, _ := p.Unpack()
	if fmt.Sprint(wu.Ints()) != fmt.Sprint(w.Ints()) {
		t.Fatal("Unpack does not return the weight")
	}
	if o := p.Options(); fmt.Sprint(o.Stride, o.Padding, o.Dilation, o.Groups) != "[1 1] [1 1] [1 1] 2" {
		t.Fatalf("Options() = %+v", o)
	}
}

// BenchmarkConv2d runs the four reference conv workloads through Conv2d and
// beside it the raw GEMM of the same M×K×N (kernels.GemmU8S8Requant on an
// already built operand), so the op's overhead (layout transposes, im2col,
// requant set-up) shows. Depthwise has no GEMM twin (its GEMM has N = 1).
func BenchmarkConv2d(b *testing.B) {
	for _, s := range []struct {
		name                         string
		n, c, h, w, o, k, pad, group int
	}{
		{"a_N1_C64_56x56_K64_3x3", 1, 64, 56, 56, 64, 3, 1, 1},
		{"b_N64_C1_28x28_K16_5x5", 64, 1, 28, 28, 16, 5, 0, 1},
		{"c_N64_C16_14x14_K32_5x5", 64, 16, 14, 14, 32, 5, 0, 1},
		{"d_N1_C128_56x56_dw3x3", 1, 128, 56, 56, 128, 3, 1, 128},
	} {
		r := rand.New(rand.NewSource(1))
		x := h5RandQ(r, []int{s.n, s.c, s.h, s.w}, qdtype.QUInt8Dtype, -1, 0)
		w := h5RandQ(r, []int{s.o, s.c / s.group, s.k, s.k}, qdtype.QInt8Dtype, 0, 0)
		p, err := PrepackConv2d(w, h5RandBias(r, s.o), ConvOptions{Padding: []int{s.pad}, Groups: s.group})
		if err != nil {
			b.Fatal(err)
		}
		oh := s.h + 2*s.pad - s.k + 1
		m, k := s.n*oh*oh, s.c/s.group*s.k*s.k
		ops := 2 * float64(m*k*s.o)
		b.Run("size="+s.name+"/impl=op", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := Conv2d(x, p, 0.05, 128); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
		if s.c/s.group == 1 {
			// Both exact paths on the one-input-channel workloads, which
			// the layout notes in conv.go choose between.
			xq := x.QParams()
			rq, _, _ := requantFor("bench", xq.Scale(), p.scales, p.bias, 0.05, 128, false)
			g := p.geom(1, s.h, s.w, 1, oh, oh)
			out := make([]uint8, s.n*s.o*oh*oh)
			for _, path := range []struct {
				name string
				path convPath
			}{{"direct", pathDirect}, {"direct_u8", pathDirectU8}, {"im2col", pathIm2col}} {
				b.Run("size="+s.name+"/impl=path_"+path.name, func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						convForward(g, p, s.n, x.Dense().Uint8s(), int32(xq.ZeroPoint()), rq, out, path.path)
					}
					b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
				})
			}
		}
		if s.group != 1 {
			continue
		}
		b.Run("size="+s.name+"/impl=gemm", func(b *testing.B) {
			a := make([]uint8, m*k)
			for i := range a {
				a[i] = uint8(r.Intn(256))
			}
			rq := &kernels.Requant{Multiplier: []float32{1e-3}, ZeroPoint: 128, Min: 0, Max: 255}
			out := make([]uint8, m*s.o)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				kernels.GemmU8S8Requant(m, a, k, 3, p.gemm[0], p.gemmZP[0], rq, out, s.o)
			}
			b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		})
	}
}

// TestConvThreadCountInvariant runs every spec with 1, 2 and 3 worker
// goroutines (kernels.SetThreads) and a tiny im2col block, and requires
// identical bytes.
func TestConvThreadCountInvariant(t *testing.T) {
	defer kernels.SetThreads(kernels.SetThreads(0))
	savedBlock := im2colBlock
	defer func() { im2colBlock = savedBlock }()
	im2colBlock = 1
	for i, sp := range h5ConvSpecs() {
		var first []int64
		for _, th := range []int{1, 2, 3} {
			kernels.SetThreads(th)
			got, _, _, _, _ := h5ConvRun(t, rand.New(rand.NewSource(int64(100+i))), sp)
			if th == 1 {
				first = got.Ints()
				continue
			}
			if fmt.Sprint(got.Ints()) != fmt.Sprint(first) {
				t.Fatalf("spec %d: %d threads differ from 1 thread", i, th)
			}
		}
	}
}

// TestWithWeightsForms checks the functional (x, w, b) forms against
// prepacking plus the packed op.
func TestWithWeightsForms(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	opt := ConvOptions{Stride: []int{2}, Padding: []int{1}}
	b := h5RandBias(r, 4)
	type form struct {
		name   string
		x, w   *qtensor.QTensor
		pack   h5PackFn
		run    h5ConvFn
		direct func(x, w *qtensor.QTensor, b *tensor.Dense, o ConvOptions, s float64, z int64) (*qtensor.QTensor, error)
	}
	for _, f := range []form{
		{"conv1d", h5RandQ(r, []int{2, 3, 9}, qdtype.QUInt8Dtype, -1, 0), h5RandQ(r, []int{4, 3, 3}, qdtype.QInt8Dtype, 0, 0), PrepackConv1d, Conv1d, Conv1dWithWeights},
		{"conv2d", h5RandQ(r, []int{1, 3, 7, 6}, qdtype.QUInt8Dtype, -1, 0), h5RandQ(r, []int{4, 3, 3, 3}, qdtype.QInt8Dtype, -1, 0), PrepackConv2d, Conv2d, Conv2dWithWeights},
		{"conv3d", h5RandQ(r, []int{1, 3, 4, 5, 4}, qdtype.QUInt8Dtype, -1, 0), h5RandQ(r, []int{4, 3, 2, 3, 2}, qdtype.QInt8Dtype, 0, 0), PrepackConv3d, Conv3d, Conv3dWithWeights},
		{"conv_transpose1d", h5RandQ(r, []int{1, 3, 5}, qdtype.QUInt8Dtype, -1, 0), h5RandQ(r, []int{3, 4, 3}, qdtype.QInt8Dtype, -1, 0), PrepackConvTranspose1d, ConvTranspose1d, ConvTranspose1dWithWeights},
		{"conv_transpose2d", h5RandQ(r, []int{1, 3, 4, 3}, qdtype.QUInt8Dtype, -1, 0), h5RandQ(r, []int{3, 4, 2, 2}, qdtype.QInt8Dtype, 1, 0), PrepackConvTranspose2d, ConvTranspose2d, ConvTranspose2dWithWeights},
	} {
		p, err := f.pack(f.w, b, opt)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		want, err := f.run(f.x, p, 0.07, 120)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		got, err := f.direct(f.x, f.w, b, opt, 0.07, 120)
		if err != nil || fmt.Sprint(got.Ints()) != fmt.Sprint(want.Ints()) {
			t.Fatalf("%s: functional form differs (%v)", f.name, err)
		}
	}
	x := h5RandFloat(r, []int{3, 5}, 1)
	w := h5RandQ(r, []int{4, 5}, qdtype.QInt8Dtype, 0, 0)
	p, _ := PrepackLinear(w, b)
	want, _ := LinearDynamic(x, p, true)
	got, err := LinearDynamicWithWeights(x, w, b, true)
	if err != nil || fmt.Sprint(got.Float32s()) != fmt.Sprint(want.Float32s()) {
		t.Fatalf("LinearDynamicWithWeights differs (%v)", err)
	}
}
