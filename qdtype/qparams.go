package qdtype

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// QScheme is a quantization scheme; torch.qscheme.
type QScheme int

// The quantization schemes. Quantized tensors only ever carry the affine
// ones (PerTensorAffine, PerChannelAffine, PerChannelAffineFloatQParams);
// the symmetric ones are observer settings that fix the zero point.
const (
	PerTensorAffine QScheme = iota
	PerTensorSymmetric
	PerChannelAffine
	PerChannelSymmetric
	PerChannelAffineFloatQParams
)

var schemeNames = [...]string{
	PerTensorAffine:              "per_tensor_affine",
	PerTensorSymmetric:           "per_tensor_symmetric",
	PerChannelAffine:             "per_channel_affine",
	PerChannelSymmetric:          "per_channel_symmetric",
	PerChannelAffineFloatQParams: "per_channel_affine_float_qparams",
}

// String returns PyTorch's name of the scheme, e.g. "per_tensor_affine".
func (s QScheme) String() string {
	if s >= 0 && int(s) < len(schemeNames) {
		return schemeNames[s]
	}
	return fmt.Sprintf("QScheme(%d)", int(s))
}

// ParseQScheme returns the scheme with PyTorch's name.
func ParseQScheme(name string) (QScheme, error) {
	for i, n := range schemeNames {
		if n == name {
			return QScheme(i), nil
		}
	}
	return 0, fmt.Errorf("qdtype: unknown qscheme %q", name)
}

// PerChannel reports whether the scheme has one scale per channel.
func (s QScheme) PerChannel() bool {
	return s == PerChannelAffine || s == PerChannelSymmetric || s == PerChannelAffineFloatQParams
}

// Symmetric reports whether the scheme is one of the symmetric ones.
func (s QScheme) Symmetric() bool { return s == PerTensorSymmetric || s == PerChannelSymmetric }

// Affine returns the affine scheme a tensor quantized under s carries
// (symmetric schemes become their affine twin, as PyTorch's tensors report).
func (s QScheme) Affine() QScheme {
	switch s {
	case PerTensorSymmetric:
		return PerTensorAffine
	case PerChannelSymmetric:
		return PerChannelAffine
	}
	return s
}

// QParams are the quantization parameters of a quantized tensor: its dtype,
// scheme, and scale(s) and zero point(s). Per-tensor parameters have one
// scale and one zero point; per-channel ones have one per index along Axis.
// Scales are kept as float64, as PyTorch stores them, but every formula uses
// float32(scale). PerChannelAffineFloatQParams uses FloatZeroPoints instead
// of ZeroPoints.
type QParams struct {
	Dtype           tensor.Dtype
	Scheme          QScheme
	Scales          []float64
	ZeroPoints      []int64
	FloatZeroPoints []float32
	Axis            int
}

// PerTensor returns validated per-tensor affine parameters.
func PerTensor(dt tensor.Dtype, scale float64, zeroPoint int64) (QParams, error) {
	qp := QParams{Dtype: dt, Scheme: PerTensorAffine, Scales: []float64{scale}, ZeroPoints: []int64{zeroPoint}}
	return qp, qp.Validate()
}

// MustPerTensor is PerTensor that panics on invalid parameters, for
// constants in tests and examples.
func MustPerTensor(dt tensor.Dtype, scale float64, zeroPoint int64) QParams {
	qp, err := PerTensor(dt, scale, zeroPoint)
	if err != nil {
		panic(err)
	}
	return qp
}

// PerChannel returns validated per-channel affine parameters along axis.
// The slices are copied.
func PerChannel(dt tensor.Dtype, scales []float64, zeroPoints []int64, axis int) (QParams, error) {
	qp := QParams{Dtype: dt, Scheme: PerChannelAffine, Scales: append([]float64(nil), scales...),
		ZeroPoints: append([]int64(nil), zeroPoints...), Axis: axis}
	return qp, qp.Validate()
}

// PerChannelFloat returns validated per_channel_affine_float_qparams
// parameters (float zero points, used for embedding weights).
func PerChannelFloat(dt tensor.Dtype, scales []float64, zeroPoints []float32, axis int) (QParams, error) {
	qp := QParams{Dtype: dt, Scheme: PerChannelAffineFloatQParams, Scales: append([]float64(nil), scales...),
		FloatZeroPoints: append([]float32(nil), zeroPoints...), Axis: axis}
	return qp, qp.Validate()
}

// PerChannel reports whether the parameters are per-channel.
func (q QParams) PerChannel() bool { return q.Scheme.PerChannel() }

// Scale returns the per-tensor scale (the first scale for per-channel).
func (q QParams) Scale() float64 {
	if len(q.Scales) == 0 {
		return 0
	}
	return q.Scales[0]
}

// ZeroPoint returns the per-tensor zero point (the first for per-channel).
func (q QParams) ZeroPoint() int64 {
	if len(q.ZeroPoints) == 0 {
		return 0
	}
	return q.ZeroPoints[0]
}

// NumChannels is the number of scales.
func (q QParams) NumChannels() int { return len(q.Scales) }

// Clone returns a deep copy.
func (q QParams) Clone() QParams {
	c := q
	c.Scales = append([]float64(nil), q.Scales...)
	c.ZeroPoints = append([]int64(nil), q.ZeroPoints...)
	if q.FloatZeroPoints != nil {
		c.FloatZeroPoints = append([]float32(nil), q.FloatZeroPoints...)
	}
	return c
}

// Equal reports whether two parameter sets are identical (dtype, scheme,
// axis for per-channel, every scale and zero point).
func (q QParams) Equal(o QParams) bool {
	if q.Dtype != o.Dtype || q.Scheme.Affine() != o.Scheme.Affine() || len(q.Scales) != len(o.Scales) {
		return false
	}
	if q.PerChannel() && q.Axis != o.Axis {
		return false
	}
	for i := range q.Scales {
		if q.Scales[i] != o.Scales[i] {
			return false
		}
	}
	if len(q.ZeroPoints) != len(o.ZeroPoints) || len(q.FloatZeroPoints) != len(o.FloatZeroPoints) {
		return false
	}
	for i := range q.ZeroPoints {
		if q.ZeroPoints[i] != o.ZeroPoints[i] {
			return false
		}
	}
	for i := range q.FloatZeroPoints {
		if q.FloatZeroPoints[i] != o.FloatZeroPoints[i] {
			return false
		}
	}
	return true
}

// String formats the parameters for messages.
func (q QParams) String() string {
	if q.PerChannel() {
		if q.Scheme == PerChannelAffineFloatQParams {
			return fmt.Sprintf("%s %s axis=%d scales=%v zero_points=%v", Name(q.Dtype), q.Scheme, q.Axis, q.Scales, q.FloatZeroPoints)
		}
		return fmt.Sprintf("%s %s axis=%d scales=%v zero_points=%v", Name(q.Dtype), q.Scheme, q.Axis, q.Scales, q.ZeroPoints)
	}
	return fmt.Sprintf("%s %s scale=%g zero_point=%d", Name(q.Dtype), q.Scheme, q.Scale(), q.ZeroPoint())
}

// ValidScale reports an error unless scale is finite and > 0 and stays
// finite, non-zero and with a finite reciprocal as a float32. PyTorch does
// not validate scales; qgorgonia does.
func ValidScale(scale float64) error {
	f := float32(scale)
	if math.IsNaN(scale) || !(scale > 0) || math.IsInf(float64(f), 0) || f == 0 || math.IsInf(float64(1/f), 0) {
		return fmt.Errorf("qdtype: scale %g must be finite and > 0 (as a float32, with a finite reciprocal)", scale)
	}
	return nil
}

// Validate checks the parameters on their own: a quantized dtype, a scheme
// tensors can carry, one scale (per-tensor) or matching numbers of scales and
// zero points (per-channel; none for an empty channel axis), scales finite and > 0, zero points
// inside the dtype's range, axis ≥ 0.
func (q QParams) Validate() error {
	qmin, qmax, err := Range(q.Dtype)
	if err != nil {
		return err
	}
	switch q.Scheme {
	case PerTensorAffine, PerTensorSymmetric:
		if len(q.Scales) != 1 || len(q.ZeroPoints) != 1 {
			return fmt.Errorf("qdtype: per-tensor qparams need 1 scale and 1 zero point, got %d and %d", len(q.Scales), len(q.ZeroPoints))
		}
	case PerChannelAffine, PerChannelSymmetric:
		// No channels is valid: PyTorch quantizes per channel along an
		// axis of size 0 (ValidateFor ties the count to the shape).
		if len(q.Scales) != len(q.ZeroPoints) {
			return fmt.Errorf("qdtype: per-channel qparams need as many zero points as scales, got %d scales and %d zero points", len(q.Scales), len(q.ZeroPoints))
		}
	case PerChannelAffineFloatQParams:
		if len(q.Scales) == 0 || len(q.Scales) != len(q.FloatZeroPoints) {
			return fmt.Errorf("qdtype: float-qparams need as many float zero points as scales (≥ 1), got %d scales and %d zero points", len(q.Scales), len(q.FloatZeroPoints))
		}
	default:
		return fmt.Errorf("qdtype: unknown qscheme %v", q.Scheme)
	}
	if q.PerChannel() && q.Axis < 0 {
		return fmt.Errorf("qdtype: per-channel axis %d must be ≥ 0", q.Axis)
	}
	for i, s := range q.Scales {
		if err := ValidScale(s); err != nil {
			if q.PerChannel() {
				return fmt.Errorf("%w (channel %d)", err, i)
			}
			return err
		}
	}
	for i, z := range q.ZeroPoints {
		if z < qmin || z > qmax {
			return fmt.Errorf("qdtype: zero point %d (channel %d) is outside the %s range [%d, %d]", z, i, Name(q.Dtype), qmin, qmax)
		}
	}
	for i, z := range q.FloatZeroPoints {
		if math.IsNaN(float64(z)) || math.IsInf(float64(z), 0) {
			return fmt.Errorf("qdtype: float zero point %v (channel %d) is not finite", z, i)
		}
	}
	return nil
}

// ValidateFor checks the parameters against a tensor shape: Validate, plus
// for per-channel parameters axis < rank and one scale per index along axis.
func (q QParams) ValidateFor(shape []int) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if q.PerChannel() {
		if q.Axis >= len(shape) {
			return fmt.Errorf("qdtype: per-channel axis %d is out of range for a tensor of rank %d", q.Axis, len(shape))
		}
		if len(q.Scales) != shape[q.Axis] {
			return fmt.Errorf("qdtype: %d scales for %d channels along axis %d of shape %v", len(q.Scales), shape[q.Axis], q.Axis, shape)
		}
	}
	return nil
}
