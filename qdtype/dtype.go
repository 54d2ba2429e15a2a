// Package qdtype defines qgorgonia's quantized element types (QUInt8, QInt8,
// QInt32) as gorgonia.org/tensor dtypes, the quantization schemes, the
// quantization parameters (QParams) with validation, and the two formulas
// PyTorch 1.13 uses to choose quantization parameters: the observers'
// _calculate_qparams and the C++ ChooseQuantizationParams of dynamic
// quantization.
//
// It is the lowest layer of qgorgonia and imports no other package of it.
package qdtype

import (
	"encoding/gob"
	"fmt"
	"math"
	"reflect"

	"gorgonia.org/tensor"
)

// QUInt8 is an 8-bit unsigned quantized value in [0, 255]; torch.quint8.
type QUInt8 uint8

// QInt8 is an 8-bit signed quantized value in [-128, 127]; torch.qint8.
type QInt8 int8

// QInt32 is a 32-bit signed quantized value; torch.qint32.
type QInt32 int32

// The quantized dtypes. A tensor.Dense of one of these holds the integer
// representation of a quantized tensor; its quantization parameters live
// beside it (qtensor.QTensor, or the op that produced it in a graph).
// Because each is a distinct reflect.Type, `Matrix QUInt8` is a different
// Gorgonia type from `Matrix uint8`, and tensor's arithmetic refuses them.
var (
	QUInt8Dtype = tensor.Dtype{Type: reflect.TypeOf(QUInt8(0))}
	QInt8Dtype  = tensor.Dtype{Type: reflect.TypeOf(QInt8(0))}
	QInt32Dtype = tensor.Dtype{Type: reflect.TypeOf(QInt32(0))}
)

func init() {
	for _, dt := range []tensor.Dtype{QUInt8Dtype, QInt8Dtype, QInt32Dtype} {
		tensor.RegisterNumber(dt)
		tensor.RegisterOrd(dt)
	}
	gob.Register([]QUInt8{})
	gob.Register([]QInt8{})
	gob.Register([]QInt32{})
}

// IsQuantized reports whether dt is one of the quantized dtypes.
func IsQuantized(dt tensor.Dtype) bool {
	return dt == QUInt8Dtype || dt == QInt8Dtype || dt == QInt32Dtype
}

// Name returns PyTorch's name of a dtype: "quint8", "qint8", "qint32",
// "float32", "uint8", ... It returns dt.String() for others and
// "<no dtype>" for the zero Dtype.
func Name(dt tensor.Dtype) string {
	switch dt {
	case QUInt8Dtype:
		return "quint8"
	case QInt8Dtype:
		return "qint8"
	case QInt32Dtype:
		return "qint32"
	case tensor.Float32:
		return "float32"
	case tensor.Float64:
		return "float64"
	case tensor.Int64:
		return "int64"
	case tensor.Int32:
		return "int32"
	case tensor.Int8:
		return "int8"
	case tensor.Uint8:
		return "uint8"
	case tensor.Bool:
		return "bool"
	}
	if dt.Type == nil {
		return "<no dtype>" // the zero Dtype, whose String would panic
	}
	return dt.String()
}

// ParseDtype returns the quantized dtype named by PyTorch's name ("quint8",
// "qint8", "qint32").
func ParseDtype(name string) (tensor.Dtype, error) {
	switch name {
	case "quint8":
		return QUInt8Dtype, nil
	case "qint8":
		return QInt8Dtype, nil
	case "qint32":
		return QInt32Dtype, nil
	}
	return tensor.Dtype{}, fmt.Errorf("qdtype: unknown quantized dtype %q (want quint8, qint8 or qint32)", name)
}

// Range returns the full range [qmin, qmax] of a quantized dtype, the range
// quantize clamps to.
func Range(dt tensor.Dtype) (qmin, qmax int64, err error) {
	switch dt {
	case QUInt8Dtype:
		return 0, 255, nil
	case QInt8Dtype:
		return -128, 127, nil
	case QInt32Dtype:
		return math.MinInt32, math.MaxInt32, nil
	}
	return 0, 0, fmt.Errorf("qdtype: %v is not a quantized dtype", dt)
}

// StorageDtype returns the plain dtype of a quantized dtype's integer
// representation (what Tensor.int_repr returns): uint8, int8 or int32.
func StorageDtype(dt tensor.Dtype) (tensor.Dtype, error) {
	switch dt {
	case QUInt8Dtype:
		return tensor.Uint8, nil
	case QInt8Dtype:
		return tensor.Int8, nil
	case QInt32Dtype:
		return tensor.Int32, nil
	}
	return tensor.Dtype{}, fmt.Errorf("qdtype: %v is not a quantized dtype", dt)
}

// ObserverRange returns the quantization range an observer uses, as
// torch.ao.quantization.utils.calculate_qmin_qmax does in PyTorch 1.13.
//
// With a custom range (custom true) it is [quantMin, quantMax], halved with
// floor division when reduceRange is set; quantMin ≤ 0 ≤ quantMax and
// quantMin < quantMax are required, and for 8-bit dtypes the range must fit in
// 256 values. Without one it is the dtype default: qint8 [-128, 127]
// ([-64, 63] reduced), quint8 [0, 255] ([0, 127] reduced), qint32 the full
// int32 range (reduceRange ignored).
func ObserverRange(dt tensor.Dtype, reduceRange, custom bool, quantMin, quantMax int64) (qmin, qmax int64, err error) {
	if !IsQuantized(dt) {
		return 0, 0, fmt.Errorf("qdtype: observer dtype %v is not quantized", dt)
	}
	if custom {
		if !(quantMin <= 0 && 0 <= quantMax) {
			return 0, 0, fmt.Errorf("qdtype: quant_min %d, quant_max %d: the range must include 0", quantMin, quantMax)
		}
		if quantMin >= quantMax {
			return 0, 0, fmt.Errorf("qdtype: quant_min %d must be less than quant_max %d", quantMin, quantMax)
		}
		if dt != QInt32Dtype && quantMax-quantMin+1 > 256 {
			return 0, 0, fmt.Errorf("qdtype: quant range [%d, %d] holds more than 256 values for %s", quantMin, quantMax, Name(dt))
		}
		if reduceRange {
			return floorDiv2(quantMin), floorDiv2(quantMax), nil
		}
		return quantMin, quantMax, nil
	}
	switch dt {
	case QInt8Dtype:
		if reduceRange {
			return -64, 63, nil
		}
		return -128, 127, nil
	case QUInt8Dtype:
		if reduceRange {
			return 0, 127, nil
		}
		return 0, 255, nil
	}
	return math.MinInt32, math.MaxInt32, nil
}

func floorDiv2(v int64) int64 {
	if v >= 0 {
		return v / 2
	}
	return -((-v + 1) / 2)
}
