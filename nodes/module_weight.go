package nodes

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// QuantizeWeight is PyTorch's weight handling in from_float
// (_quantize_weight followed by _clamp_weights): obs, which should be a
// fresh weight observer (qconfig.weight()), observes the float32 weight w
// once; w is quantized with obs.CalculateQParams() (per tensor, or per
// channel along the observer's axis), and when the observer's range
// [qmin, qmax] is narrower than the dtype's (e.g. −127…127) the integer
// values are clamped into it. w is not modified. Errors: the observer
// rejects w (NaN, wrong rank for its channel axis), its qparams are invalid,
// or its dtype is not qint8 or quint8.
func QuantizeWeight(w *tensor.Dense, obs observer.Observer) (*qtensor.QTensor, error) {
	if w == nil || obs == nil {
		return nil, fmt.Errorf("nodes: quantize weight: nil weight or observer")
	}
	if err := obs.Observe(w); err != nil {
		return nil, fmt.Errorf("nodes: quantize weight: %w", err)
	}
	qp, err := obs.CalculateQParams()
	if err != nil {
		return nil, fmt.Errorf("nodes: quantize weight: %w", err)
	}
	qmin, qmax := obs.QuantRange()
	return QuantizeWeightWithQParams(w, qp, qmin, qmax)
}

// QuantizeWeightWithQParams quantizes the float32 weight w with qp and
// clamps the integer values into [qmin, qmax] (PyTorch's _clamp_weights;
// a range equal to or wider than the dtype's changes nothing). It is the
// second half of QuantizeWeight, for callers whose qparams come from a
// fake quantizer (QAT convert). Only qint8 and quint8 weights are accepted.
func QuantizeWeightWithQParams(w *tensor.Dense, qp qdtype.QParams, qmin, qmax int64) (*qtensor.QTensor, error) {
	if w == nil {
		return nil, fmt.Errorf("nodes: quantize weight: nil weight")
	}
	if qp.Dtype != qdtype.QInt8Dtype && qp.Dtype != qdtype.QUInt8Dtype {
		return nil, fmt.Errorf("nodes: quantize weight: weight dtype must be qint8 or quint8, got %v", qp.Dtype)
	}
	if qmin > qmax {
		return nil, fmt.Errorf("nodes: quantize weight: quant range [%d, %d] is empty", qmin, qmax)
	}
	q, err := qtensor.Quantize(w, qp)
	if err != nil {
		return nil, fmt.Errorf("nodes: quantize weight: %w", err)
	}
	lo, hi, err := qdtype.Range(qp.Dtype)
	if err != nil {
		return nil, fmt.Errorf("nodes: quantize weight: %w", err)
	}
	if qmin <= lo && qmax >= hi {
		return q, nil
	}
	switch qp.Dtype {
	case qdtype.QInt8Dtype:
		d := q.Dense().Data().([]qdtype.QInt8)
		for i, v := range d {
			if int64(v) < qmin {
				d[i] = qdtype.QInt8(qmin)
			} else if int64(v) > qmax {
				d[i] = qdtype.QInt8(qmax)
			}
		}
	case qdtype.QUInt8Dtype:
		d := q.Dense().Data().([]qdtype.QUInt8)
		for i, v := range d {
			if int64(v) < qmin {
				d[i] = qdtype.QUInt8(qmin)
			} else if int64(v) > qmax {
				d[i] = qdtype.QUInt8(qmax)
			}
		}
	}
	return q, nil
}
