package qtensor

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

var fuzzDtypes = []tensor.Dtype{qdtype.QUInt8Dtype, qdtype.QInt8Dtype, qdtype.QInt32Dtype}

// floatsOf reads little-endian float32s from b (at most 4096).
func floatsOf(b []byte) []float32 {
	n := min(len(b)/4, 4096)
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// checkRoundTrip asserts |dequant(q) − x| ≤ scale/2 for every x inside the
// representable range [(qmin − zp)·s, (qmax − zp)·s] (and |x/s| < 2²², where
// float32 still resolves every integer step), and requant idempotence.
func checkRoundTrip(t *testing.T, x, y []float32, ints []int64, scale float64, zp, qmin, qmax int64) {
	t.Helper()
	s := float64(float32(scale))
	lo, hi := float64(qmin-zp)*s, float64(qmax-zp)*s
	for i, v := range x {
		f := float64(v)
		if ints[i] < qmin || ints[i] > qmax {
			t.Fatalf("x=%v: integer %d outside [%d, %d]", v, ints[i], qmin, qmax)
		}
		if math.IsInf(f, 0) || f < lo || f > hi || math.Abs(f/s) >= 1<<22 {
			continue
		}
		if e := math.Abs(float64(y[i]) - f); e > s/2*(1+1e-5)+1e-6*math.Abs(f) {
			t.Fatalf("x=%v scale=%v zp=%d: dequant(quant(x)) = %v, error %v > scale/2", v, scale, zp, y[i], e)
		}
		if back := qdtype.QuantizeValue(y[i], qdtype.InvScale(scale), zp, qmin, qmax); back != ints[i] {
			t.Fatalf("x=%v: requantizing %v gives %d, not %d", v, y[i], back, ints[i])
		}
	}
}

func FuzzQuantizePerTensor(f *testing.F) {
	seed := make([]byte, 0, 64)
	for _, v := range []float32{0, 0.5, -1.5, 2.5, 127.5, 1e6, -3.4e38, float32(math.Inf(1)), 0.1, -0.05} {
		seed = binary.LittleEndian.AppendUint32(seed, math.Float32bits(v))
	}
	f.Add(seed, 0.1, int64(3), uint8(0))
	f.Add(seed, 1.0, int64(-5), uint8(1))
	f.Add(seed, 1e-3, int64(100), uint8(2))
	f.Add(seed, 0.0, int64(0), uint8(0))
	f.Add(binary.LittleEndian.AppendUint32(nil, 0x7fc00000), 0.5, int64(0), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, scale float64, zp int64, dsel uint8) {
		dt := fuzzDtypes[int(dsel)%len(fuzzDtypes)]
		x := floatsOf(data)
		in := denseF32([]int{len(x)}, append([]float32(nil), x...))
		q, err := QuantizePerTensor(in, scale, zp, dt)
		hasNaN := false
		for _, v := range x {
			hasNaN = hasNaN || v != v
		}
		qmin, qmax, _ := qdtype.Range(dt)
		valid := qdtype.ValidScale(scale) == nil && zp >= qmin && zp <= qmax
		if err != nil {
			if valid && !hasNaN {
				t.Fatalf("valid input rejected: %v", err)
			}
			return
		}
		if !valid || hasNaN {
			t.Fatalf("invalid input accepted (scale %v, zp %d, NaN %v)", scale, zp, hasNaN)
		}
		for i, v := range in.Float32s() {
			if math.Float32bits(v) != math.Float32bits(x[i]) {
				t.Fatal("input modified")
			}
		}
		y, err := q.Dequantize()
		if err != nil {
			t.Fatal(err)
		}
		checkRoundTrip(t, x, y.Float32s(), q.Ints(), scale, zp, qmin, qmax)
	})
}

func FuzzQuantizePerChannel(f *testing.F) {
	seed := make([]byte, 0, 96)
	for i := 0; i < 24; i++ {
		seed = binary.LittleEndian.AppendUint32(seed, math.Float32bits(float32(i)*0.37-4))
	}
	f.Add(seed, uint8(3), uint8(0), 0.05, int64(2), uint8(1))
	f.Add(seed, uint8(4), uint8(1), 0.5, int64(-3), uint8(1))
	f.Add(seed, uint8(2), uint8(1), 0.01, int64(100), uint8(0))
	f.Add(seed, uint8(0), uint8(0), 1.0, int64(0), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, nch, axis uint8, scale float64, zp int64, dsel uint8) {
		dt := fuzzDtypes[int(dsel)%len(fuzzDtypes)]
		x := floatsOf(data)
		c := int(nch%8) + 1
		rows := len(x) / c
		x = x[:rows*c]
		shape := []int{c, rows}
		ax := int(axis % 3)
		if ax == 1 {
			shape = []int{rows, c}
		}
		scales := make([]float64, c)
		zps := make([]int64, c)
		for i := range scales {
			scales[i] = scale * (1 + 0.37*float64(i))
			zps[i] = zp + int64(i)
		}
		if ax == 2 {
			ax = -1 // negative axes are errors
		}
		q, err := QuantizePerChannel(denseF32(shape, x), scales, zps, ax, dt)
		if err != nil {
			return
		}
		if ax < 0 {
			t.Fatal("negative axis accepted")
		}
		y, err := q.Dequantize()
		if err != nil {
			t.Fatal(err)
		}
		qmin, qmax, _ := qdtype.Range(dt)
		ints := q.Ints()
		yf := y.Float32s()
		for ch := 0; ch < c; ch++ {
			var xs, ys []float32
			var is []int64
			for r := 0; r < rows; r++ {
				i := ch*rows + r
				if ax == 1 {
					i = r*c + ch
				}
				xs, ys, is = append(xs, x[i]), append(ys, yf[i]), append(is, ints[i])
			}
			checkRoundTrip(t, xs, ys, is, scales[ch], zps[ch], qmin, qmax)
		}
	})
}

// FuzzShapeOps drives the view, reduction and sort methods with arbitrary
// arguments: none may panic, and every success must be a valid QTensor.
func FuzzShapeOps(f *testing.F) {
	f.Add(uint8(2), uint8(3), uint8(4), uint8(0), int8(1), int8(-1), int8(2), int8(1))
	f.Add(uint8(0), uint8(5), uint8(1), uint8(7), int8(-3), int8(40), int8(0), int8(-2))
	f.Add(uint8(1), uint8(1), uint8(1), uint8(13), int8(0), int8(0), int8(0), int8(0))
	f.Fuzz(func(t *testing.T, d0, d1, d2, op uint8, a, b, c, e int8) {
		shape := []int{int(d0 % 5), int(d1 % 5), int(d2 % 5)}
		if op&0x80 != 0 {
			shape = shape[:int(op>>5)&3]
		}
		data := make([]int64, numel(shape))
		for i := range data {
			data[i] = int64(i*37%256) - 128
		}
		x, err := FromInts(shape, data, qdtype.MustPerTensor(qdtype.QInt8Dtype, 0.5, 1))
		if err != nil {
			t.Fatal(err)
		}
		if op&0x40 != 0 && len(shape) > 0 {
			axis := int(uint8(e)) % len(shape)
			if shape[axis] > 0 {
				x, err = FromInts(shape, data, fuzzPC(shape[axis], axis, c&1 != 0))
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		A, B, C, E := int(a), int(b), int(c), int(e)
		var y *QTensor
		var idx *tensor.Dense
		var pieces []*QTensor
		switch op % 20 {
		case 16:
			pieces, err = x.Split(A, B)
		case 17:
			pieces, err = x.Chunk(A, B)
		case 18:
			pieces, err = x.Unbind(A)
		case 19:
			if absInt(A*B*C*E) > 1<<12 {
				return
			}
			y, err = x.Repeat(A, B, C, E)
		case 0:
			y, err = x.Reshape(A, B)
		case 1:
			y, err = x.Flatten(A, B)
		case 2:
			y, err = x.Select(A, B)
		case 3:
			y, err = x.Slice(A, B, C, E)
		case 4:
			y, err = x.Narrow(A, B, C)
		case 5:
			if absInt(A*B*C*E) > 1<<16 {
				return
			}
			y, err = x.Expand(A, B, C, E)
		case 6:
			y, err = x.AsStrided([]int{A, B}, []int{C, E}, int(op>>4))
		case 7:
			y, err = x.Transpose(A, B)
		case 8:
			y, err = x.Permute(A, B, C)
		case 9:
			y, err = x.Unsqueeze(A)
		case 10:
			y, err = x.SqueezeDim(A)
		case 11:
			y, idx, err = x.MaxDim(A, B > 0)
		case 12:
			y, err = x.MeanDims([]int{A, B}[:1+int(op>>4)&1], C > 0)
		case 13:
			y, idx, err = x.Sort(A, B > 0, true)
		case 14:
			y, idx, err = x.Topk(A, B, C > 0, E > 0)
		case 15:
			y, err = x.IndexSelect(A, []int64{int64(B), int64(C)})
		}
		if err != nil {
			return
		}
		if pieces != nil {
			for _, p := range pieces {
				if err := p.QParams().ValidateFor(p.Shape()); err != nil {
					t.Fatalf("op %d: invalid qparams: %v", op%20, err)
				}
			}
			return
		}
		if y == nil {
			return
		}
		if y.Size() != numel(y.Shape()) || y.Dense().Shape().TotalSize() != y.Size() {
			t.Fatalf("op %d: inconsistent size", op%20)
		}
		if err := y.QParams().ValidateFor(y.Shape()); err != nil {
			t.Fatalf("op %d: invalid qparams: %v", op%20, err)
		}
		if idx != nil && idx.Shape().TotalSize() != y.Size() {
			t.Fatalf("op %d: %d indices for %d values", op%20, idx.Shape().TotalSize(), y.Size())
		}
		if _, err := y.Dequantize(); err != nil {
			t.Fatalf("op %d: %v", op%20, err)
		}
	})
}

// fuzzPC returns per-channel parameters with c channels along axis, with
// float zero points when float is set.
func fuzzPC(c, axis int, float bool) qdtype.QParams {
	scales := make([]float64, c)
	zps := make([]int64, c)
	fzps := make([]float32, c)
	for i := range scales {
		scales[i] = 0.1 * float64(i+1)
		zps[i] = int64(i)
		fzps[i] = float32(i) + 0.5
	}
	qp, err := qdtype.PerChannel(qdtype.QInt8Dtype, scales, zps, axis)
	if float {
		qp, err = qdtype.PerChannelFloat(qdtype.QInt8Dtype, scales, fzps, axis)
	}
	if err != nil {
		panic(err)
	}
	return qp
}
