package qtensor

import (
	"slices"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

func TestNewAndAccessors(t *testing.T) {
	qp := qdtype.MustPerTensor(qdtype.QInt8Dtype, 0.5, -2)
	d := MustNewDense(qdtype.QInt8Dtype, []int{2, 2})
	copy(d.Int8s(), []int8{-128, 0, 5, 127})
	q, err := New(d, qp)
	if err != nil {
		t.Fatal(err)
	}
	if q.Dense() != d || q.Dtype() != qdtype.QInt8Dtype || q.Dims() != 2 || q.Size() != 4 || q.Len() != 4 || !sameShape(q.Shape(), []int{2, 2}) {
		t.Fatal("accessors")
	}
	if q.QScheme() != qdtype.PerTensorAffine || q.Int(3) != 127 || !slices.Equal(q.Ints(), []int64{-128, 0, 5, 127}) {
		t.Fatal("ints/qscheme")
	}
	if s, err := q.QScale(); err != nil || s != 0.5 {
		t.Fatal("q_scale")
	}
	if z, err := q.QZeroPoint(); err != nil || z != -2 {
		t.Fatal("q_zero_point")
	}
	for _, f := range []func() error{
		func() error { _, err := q.QPerChannelScales(); return err },
		func() error { _, err := q.QPerChannelZeroPoints(); return err },
		func() error { _, err := q.QPerChannelFloatZeroPoints(); return err },
		func() error { _, err := q.QPerChannelAxis(); return err },
	} {
		if f() == nil {
			t.Error("per-channel accessor on a per-tensor tensor succeeded")
		}
	}
	ir := q.IntRepr()
	if ir.Dtype() != tensor.Int8 || !slices.Equal(ir.Int8s(), []int8{-128, 0, 5, 127}) {
		t.Fatalf("int_repr: %v", ir)
	}
	ir.Int8s()[0] = 1
	if q.Int(0) != -128 {
		t.Fatal("IntRepr shares storage")
	}
	if !strings.Contains(q.String(), "scale=0.5") {
		t.Errorf("String: %q", q.String())
	}
	// The QParams accessor returns a copy.
	p := q.QParams()
	p.Scales[0] = 9
	if s, _ := q.QScale(); s != 0.5 {
		t.Fatal("QParams aliases the tensor's parameters")
	}
	bad := []struct {
		name string
		d    *tensor.Dense
		qp   qdtype.QParams
	}{
		{"nil", nil, qp},
		{"float dense", tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{1, 2})), qp},
		{"dtype mismatch", MustNewDense(qdtype.QUInt8Dtype, []int{2}), qp},
		{"bad qparams", MustNewDense(qdtype.QInt8Dtype, []int{2}), qdtype.QParams{Dtype: qdtype.QInt8Dtype, Scales: []float64{0}, ZeroPoints: []int64{0}}},
		{"channel count", MustNewDense(qdtype.QInt8Dtype, []int{2}), mustPC(t, []float64{1, 1, 1}, []int64{0, 0, 0}, 0)},
	}
	for _, c := range bad {
		if _, err := New(c.d, c.qp); err == nil {
			t.Errorf("New(%s) accepted", c.name)
		}
	}
	view, err := d.Slice(nil, tensor.S(0, 1))
	if err == nil {
		if _, err := New(view.(*tensor.Dense), qp); err == nil {
			t.Error("New accepted a non-contiguous view")
		}
	}
}

func TestFromIntsEmpty(t *testing.T) {
	qp := qdtype.MustPerTensor(qdtype.QUInt8Dtype, 1, 0)
	if _, err := FromInts([]int{2}, []int64{0, 256}, qp); err == nil {
		t.Error("value out of range accepted")
	}
	if _, err := FromInts([]int{2}, []int64{0}, qp); err == nil {
		t.Error("wrong value count accepted")
	}
	if _, err := FromInts([]int{-1}, nil, qp); err == nil {
		t.Error("negative shape accepted")
	}
	e, err := Empty([]int{2, 0, 3}, qp)
	if err != nil || e.Size() != 0 {
		t.Fatalf("Empty: %v", err)
	}
	e, err = Empty([]int{3}, qp)
	if err != nil || !slices.Equal(e.Ints(), []int64{0, 0, 0}) {
		t.Fatalf("Empty: %v", err)
	}
	if _, err := Empty([]int{-2}, qp); err == nil {
		t.Error("Empty with a negative shape accepted")
	}
}

func TestFloatQParams(t *testing.T) {
	// pytorch-semantics.md §1.4: scale 1, zp 0.5 → [0.5,1.5,2.5] ↦ [1,2,3].
	qp, err := qdtype.PerChannelFloat(qdtype.QUInt8Dtype, []float64{1, 0.5}, []float32{0.5, 0}, 0)
	if err != nil {
		t.Fatal(err)
	}
	x := denseF32([]int{2, 3}, []float32{0.5, 1.5, 2.5, 1, 2, 3})
	q, err := Quantize(x, qp)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.Ints(), []int64{1, 2, 3, 2, 4, 6}) {
		t.Fatalf("quantize: %v", q.Ints())
	}
	d, _ := q.Dequantize()
	if !slices.Equal(d.Float32s(), []float32{0.5, 1.5, 2.5, 1, 2, 3}) {
		t.Fatalf("dequantize: %v", d.Float32s())
	}
	if z, err := q.QPerChannelFloatZeroPoints(); err != nil || z[0] != 0.5 {
		t.Fatal("float zero points")
	}
	if _, err := q.QPerChannelZeroPoints(); err == nil {
		t.Fatal("integer zero points of a float-qparams tensor")
	}
	// One sliced channel keeps the float zero point (no per-tensor form);
	// selecting it away is an error.
	r, err := q.Slice(0, 1, 2, 1)
	if err != nil || r.qp.Scheme != qdtype.PerChannelAffineFloatQParams || r.qp.FloatZeroPoints[0] != 0 {
		t.Fatalf("slice: %v %v", r, err)
	}
	if _, err := q.Select(0, 0); err == nil {
		t.Fatal("select of one float-qparams channel accepted")
	}
	if r, err := q.Select(1, 2); err != nil || !slices.Equal(r.Ints(), []int64{3, 6}) || r.qp.Axis != 0 {
		t.Fatalf("select along another dim: %v %v", r, err)
	}
	// fill_: 2·1 + 0.5 = 2.5 rounds half to even (lrintf) to 2.
	if err := q.Fill(2); err != nil || !slices.Equal(q.Ints(), []int64{2, 2, 2, 4, 4, 4}) {
		t.Fatalf("fill: %v %v", q.Ints(), err)
	}
}
