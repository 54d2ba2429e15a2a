package qtensor

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// Clone returns a deep copy: new storage, the same integers and qparams;
// torch.Tensor.clone.
func (q *QTensor) Clone() *QTensor {
	out := newDense(q.d.Dtype(), q.d.Shape())
	copyStorage(out, q.d)
	return &QTensor{d: out, qp: q.qp.Clone()}
}

// CopyFrom overwrites q with src, in place: q takes src's integers and
// src's quantization parameters, as torch.Tensor.copy_ between quantized
// tensors does. src must have q's dtype and qscheme; a per-tensor src may
// have any shape that broadcasts to q's, a per-channel src must have q's
// shape (PyTorch also broadcasts per-channel sources, pairing elements with
// channels it does not move; we refuse). q's shape never changes. On error q
// is untouched.
func (q *QTensor) CopyFrom(src *QTensor) error {
	if src == nil {
		return fmt.Errorf("qtensor: copy_: nil source")
	}
	if src.d.Dtype() != q.d.Dtype() {
		return fmt.Errorf("qtensor: copy_: source dtype %s differs from destination dtype %s", qdtype.Name(src.d.Dtype()), qdtype.Name(q.d.Dtype()))
	}
	if src.QScheme() != q.QScheme() {
		return fmt.Errorf("qtensor: copy_: quantized copy only works with the same qscheme, got %s into %s", src.QScheme(), q.QScheme())
	}
	dst := q.d.Shape()
	ss := src.d.Shape()
	if src.qp.PerChannel() && !sameShape(ss, dst) {
		return fmt.Errorf("qtensor: copy_: per-channel source of shape %v cannot be copied into shape %v", []int(ss), []int(dst))
	}
	bs, err := broadcastShapes("copy_", ss, dst)
	if err != nil {
		return err
	}
	if !sameShape(bs, dst) {
		return fmt.Errorf("qtensor: copy_: source shape %v does not broadcast to destination shape %v", []int(ss), []int(dst))
	}
	if src == q {
		return nil
	}
	gatherDense(q.d, src.d, dst, broadcastStrides(ss, dst), 0)
	q.qp = src.qp.Clone()
	return nil
}

// CopyFromDense overwrites q's integers, in place, with the float32 tensor
// src quantized under q's own parameters (QuantizeValue per element, per
// channel where q is per-channel); torch.Tensor.copy_ from a float tensor.
// src must have q's shape exactly (as PyTorch requires) and no NaN. On error
// q is untouched.
func (q *QTensor) CopyFromDense(src *tensor.Dense) error {
	if src == nil {
		return fmt.Errorf("qtensor: copy_: nil source")
	}
	if !sameShape(src.Shape(), q.d.Shape()) {
		return fmt.Errorf("qtensor: copy_: float source of shape %v does not match destination shape %v", []int(src.Shape()), []int(q.d.Shape()))
	}
	r, err := Quantize(src, q.qp)
	if err != nil {
		return fmt.Errorf("qtensor: copy_: %w", err)
	}
	copyStorage(q.d, r.d)
	return nil
}

// Fill sets every element to v quantized with q's own parameters (per
// channel for per-channel tensors), in place; torch.Tensor.fill_. NaN is an
// error; ±Inf and huge values follow QuantizePerTensor. On error q is
// untouched.
func (q *QTensor) Fill(v float32) error {
	if v != v {
		return fmt.Errorf("qtensor: fill_: value is NaN")
	}
	qmin, qmax, _ := qdtype.Range(q.qp.Dtype)
	shape := q.d.Shape()
	n := shape.TotalSize()
	if n == 0 {
		return nil
	}
	if !q.qp.PerChannel() {
		iv := qdtype.QuantizeValue(v, qdtype.InvScale(q.qp.Scale()), q.qp.ZeroPoint(), qmin, qmax)
		for i := 0; i < n; i++ {
			setInt(q.d, i, iv)
		}
		return nil
	}
	outer, ch, inner := channelSplit(shape, q.qp.Axis)
	for c := 0; c < ch; c++ {
		var iv int64
		if q.qp.Scheme == qdtype.PerChannelAffineFloatQParams {
			iv = qdtype.QuantizeValueFloatQParams(v, float32(q.qp.Scales[c]), q.qp.FloatZeroPoints[c], qmin, qmax)
		} else {
			iv = qdtype.QuantizeValue(v, qdtype.InvScale(q.qp.Scales[c]), q.qp.ZeroPoints[c], qmin, qmax)
		}
		for o := 0; o < outer; o++ {
			off := (o*ch + c) * inner
			for i := off; i < off+inner; i++ {
				setInt(q.d, i, iv)
			}
		}
	}
	return nil
}

// Resize changes q's shape in place, keeping its storage's leading elements
// in row-major order; torch.Tensor.resize_. Elements beyond the old size
// are zero integers (PyTorch leaves them uninitialised). Only per-tensor
// tensors can be resized, as in PyTorch; sizes must be ≥ 0. q gets a new
// Dense; a Dense obtained from q.Dense() before the call no longer aliases
// q.
func (q *QTensor) Resize(shape ...int) error {
	if err := q.perTensorOnly("resize_"); err != nil {
		return err
	}
	n, err := checkedNumel("resize_", shape)
	if err != nil {
		return err
	}
	out := newDense(q.d.Dtype(), shape)
	if m := q.Size(); m < n {
		n = m
	}
	copyRange(out, 0, q.d, 0, n)
	q.d = out
	return nil
}
