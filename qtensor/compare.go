package qtensor

import (
	"fmt"
	"math"
	"slices"

	"github.com/qgorgonia/qgorgonia/qdtype"

	"gorgonia.org/tensor"
)

// Comparison is an elementwise comparison operator.
type Comparison int

// The comparison operators, named as the torch functions.
const (
	CmpEq Comparison = iota // ==, torch.eq
	CmpNe                   // !=, torch.ne
	CmpGe                   // >=, torch.ge
	CmpLe                   // <=, torch.le
	CmpGt                   // >, torch.gt
	CmpLt                   // <, torch.lt
)

var cmpNames = [...]string{CmpEq: "eq", CmpNe: "ne", CmpGe: "ge", CmpLe: "le", CmpGt: "gt", CmpLt: "lt"}

// String returns the torch name of the operator ("eq", "ne", ...).
func (c Comparison) String() string {
	if c >= 0 && int(c) < len(cmpNames) {
		return cmpNames[c]
	}
	return fmt.Sprintf("Comparison(%d)", int(c))
}

// ParseComparison returns the operator with the torch name ("eq", ...).
func ParseComparison(name string) (Comparison, error) {
	for i, n := range cmpNames {
		if n == name {
			return Comparison(i), nil
		}
	}
	return 0, fmt.Errorf("qtensor: unknown comparison %q (want eq, ne, ge, le, gt or lt)", name)
}

// Compare compares a and b elementwise on their dequantized float32 values,
// (q − zp)·scale with each tensor's own parameters, and returns a new bool
// Dense of the broadcast shape; torch.eq/ne/ge/le/gt/lt on quantized tensors.
// The tensors may have different dtypes, qschemes and qparams. Shapes
// broadcast as in NumPy; incompatible shapes are an error.
func Compare(a, b *QTensor, op Comparison) (*tensor.Dense, error) {
	if a == nil || b == nil {
		return nil, fmt.Errorf("qtensor: %s: nil operand", op)
	}
	if op < CmpEq || op > CmpLt {
		return nil, fmt.Errorf("qtensor: compare: unknown operator %d", int(op))
	}
	shape, err := broadcastShapes(op.String(), a.d.Shape(), b.d.Shape())
	if err != nil {
		return nil, err
	}
	if _, err := checkedNumel(op.String(), shape); err != nil {
		return nil, err
	}
	av, err := broadcastFloats(a, shape)
	if err != nil {
		return nil, err
	}
	bv, err := broadcastFloats(b, shape)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(av))
	compareSlices(out, av, bv, op)
	return denseWithShape(shape, out), nil
}

// CompareScalar compares the dequantized float32 values of q with
// float32(v), as PyTorch does for a Python float (the tensor's dtype wins
// type promotion), and returns a new bool Dense of q's shape. NaN v is an
// error (PyTorch would return all false, or all true for ne).
func CompareScalar(q *QTensor, v float64, op Comparison) (*tensor.Dense, error) {
	if q == nil {
		return nil, fmt.Errorf("qtensor: %s: nil operand", op)
	}
	if op < CmpEq || op > CmpLt {
		return nil, fmt.Errorf("qtensor: compare: unknown operator %d", int(op))
	}
	if math.IsNaN(v) {
		return nil, fmt.Errorf("qtensor: %s: scalar is NaN", op)
	}
	av, err := q.Dequantize()
	if err != nil {
		return nil, err
	}
	a := av.Float32s()
	b := []float32{float32(v)}
	out := make([]bool, len(a))
	compareSlices(out, a, b, op)
	return denseWithShape(q.d.Shape(), out), nil
}

// broadcastFloats dequantizes q and expands it to shape.
func broadcastFloats(q *QTensor, shape []int) ([]float32, error) {
	d, err := q.Dequantize()
	if err != nil {
		return nil, err
	}
	v := d.Float32s()
	if sameShape(q.d.Shape(), shape) {
		return v, nil
	}
	out := make([]float32, numel(shape))
	gatherT(out, v, shape, broadcastStrides(q.d.Shape(), shape), 0)
	return out, nil
}

// compareSlices sets out[i] = a[i] op b[i]; a one-element b is used for
// every i.
func compareSlices(out []bool, a, b []float32, op Comparison) {
	if len(b) == 1 && len(a) != 1 {
		s := b[0]
		switch op {
		case CmpEq:
			for i, x := range a {
				out[i] = x == s
			}
		case CmpNe:
			for i, x := range a {
				out[i] = x != s
			}
		case CmpGe:
			for i, x := range a {
				out[i] = x >= s
			}
		case CmpLe:
			for i, x := range a {
				out[i] = x <= s
			}
		case CmpGt:
			for i, x := range a {
				out[i] = x > s
			}
		case CmpLt:
			for i, x := range a {
				out[i] = x < s
			}
		}
		return
	}
	b = b[:len(a)]
	switch op {
	case CmpEq:
		for i, x := range a {
			out[i] = x == b[i]
		}
	case CmpNe:
		for i, x := range a {
			out[i] = x != b[i]
		}
	case CmpGe:
		for i, x := range a {
			out[i] = x >= b[i]
		}
	case CmpLe:
		for i, x := range a {
			out[i] = x <= b[i]
		}
	case CmpGt:
		for i, x := range a {
			out[i] = x > b[i]
		}
	case CmpLt:
		for i, x := range a {
			out[i] = x < b[i]
		}
	}
}

// Eq is Compare(q, o, CmpEq): q == o on dequantized values; torch.eq.
func (q *QTensor) Eq(o *QTensor) (*tensor.Dense, error) { return Compare(q, o, CmpEq) }

// Ne is Compare(q, o, CmpNe): q != o on dequantized values; torch.ne.
func (q *QTensor) Ne(o *QTensor) (*tensor.Dense, error) { return Compare(q, o, CmpNe) }

// Ge is Compare(q, o, CmpGe): q >= o on dequantized values; torch.ge.
func (q *QTensor) Ge(o *QTensor) (*tensor.Dense, error) { return Compare(q, o, CmpGe) }

// Le is Compare(q, o, CmpLe): q <= o on dequantized values; torch.le.
func (q *QTensor) Le(o *QTensor) (*tensor.Dense, error) { return Compare(q, o, CmpLe) }

// Gt is Compare(q, o, CmpGt): q > o on dequantized values; torch.gt.
func (q *QTensor) Gt(o *QTensor) (*tensor.Dense, error) { return Compare(q, o, CmpGt) }

// Lt is Compare(q, o, CmpLt): q < o on dequantized values; torch.lt.
func (q *QTensor) Lt(o *QTensor) (*tensor.Dense, error) { return Compare(q, o, CmpLt) }

// EqScalar is CompareScalar(q, v, CmpEq); torch.eq(q, v).
func (q *QTensor) EqScalar(v float64) (*tensor.Dense, error) { return CompareScalar(q, v, CmpEq) }

// NeScalar is CompareScalar(q, v, CmpNe); torch.ne(q, v).
func (q *QTensor) NeScalar(v float64) (*tensor.Dense, error) { return CompareScalar(q, v, CmpNe) }

// GeScalar is CompareScalar(q, v, CmpGe); torch.ge(q, v).
func (q *QTensor) GeScalar(v float64) (*tensor.Dense, error) { return CompareScalar(q, v, CmpGe) }

// LeScalar is CompareScalar(q, v, CmpLe); torch.le(q, v).
func (q *QTensor) LeScalar(v float64) (*tensor.Dense, error) { return CompareScalar(q, v, CmpLe) }

// GtScalar is CompareScalar(q, v, CmpGt); torch.gt(q, v).
func (q *QTensor) GtScalar(v float64) (*tensor.Dense, error) { return CompareScalar(q, v, CmpGt) }

// LtScalar is CompareScalar(q, v, CmpLt); torch.lt(q, v).
func (q *QTensor) LtScalar(v float64) (*tensor.Dense, error) { return CompareScalar(q, v, CmpLt) }

// Equal reports whether a and b are the same quantized tensor: same dtype,
// qscheme and qparams (every scale, zero point and the axis), same shape and
// identical integers; torch.equal. Equal real values under different
// qparams are not equal. A nil operand is never equal.
func Equal(a, b *QTensor) bool {
	if a == nil || b == nil {
		return false
	}
	if !a.qp.Equal(b.qp) || !sameShape(a.d.Shape(), b.d.Shape()) {
		return false
	}
	if a.d.Dtype() != b.d.Dtype() {
		return false
	}
	n := a.Size()
	switch a.d.Dtype() {
	case qdtype.QUInt8Dtype:
		return slices.Equal(a.d.Uint8s()[:n], b.d.Uint8s()[:n])
	case qdtype.QInt8Dtype:
		return slices.Equal(a.d.Int8s()[:n], b.d.Int8s()[:n])
	}
	return slices.Equal(a.d.Int32s()[:n], b.d.Int32s()[:n])
}

// Equal is the method form of Equal(q, o).
func (q *QTensor) Equal(o *QTensor) bool { return Equal(q, o) }
