package fake

import (
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
)

// The default fake-quantize modules of PyTorch 1.13
// (torch.ao.quantization.fake_quantize), as Factories: each call returns a
// new module with a new observer. The moving-average observers keep
// PyTorch's averaging constant 0.01 unless stated (the docstrings that call
// the weight observers "memoryless" are wrong in 1.13).

func wrap[Q Quantizer](q Q, err error) (Quantizer, error) {
	if err != nil {
		return nil, err
	}
	return q, nil
}

// DefaultFakeQuant is default_fake_quant: FakeQuantize with a
// MovingAverageMinMaxObserver, quint8 per_tensor_affine, quant range 0..255
// with reduce_range (effective 0..127).
func DefaultFakeQuant() (Quantizer, error) {
	return wrap(NewFakeQuantizer(observer.WithArgs(observer.NewMovingAverageMinMaxObserver,
		observer.WithQuantRange(0, 255), observer.WithReduceRange(true))))
}

// DefaultWeightFakeQuant is default_weight_fake_quant: FakeQuantize with a
// MovingAverageMinMaxObserver, qint8 per_tensor_symmetric, −128..127.
func DefaultWeightFakeQuant() (Quantizer, error) {
	return wrap(NewFakeQuantizer(observer.WithArgs(observer.NewMovingAverageMinMaxObserver,
		observer.WithQuantRange(-128, 127), observer.WithDtype(qdtype.QInt8Dtype),
		observer.WithQScheme(qdtype.PerTensorSymmetric))))
}

// DefaultPerChannelWeightFakeQuant is default_per_channel_weight_fake_quant:
// FakeQuantize with a MovingAveragePerChannelMinMaxObserver, qint8
// per_channel_symmetric, −128..127, channel axis 0.
func DefaultPerChannelWeightFakeQuant() (Quantizer, error) {
	return wrap(NewFakeQuantizer(observer.WithArgs(observer.NewMovingAveragePerChannelMinMaxObserver,
		observer.WithQuantRange(-128, 127), observer.WithDtype(qdtype.QInt8Dtype),
		observer.WithQScheme(qdtype.PerChannelSymmetric), observer.WithChAxis(0))))
}

// DefaultDynamicFakeQuant is default_dynamic_fake_quant: FakeQuantize with a
// memoryless (averaging constant 1) MovingAverageMinMaxObserver, quint8,
// 0..255.
func DefaultDynamicFakeQuant() (Quantizer, error) {
	return wrap(NewFakeQuantizer(observer.WithArgs(observer.NewMovingAverageMinMaxObserver,
		observer.WithQuantRange(0, 255), observer.WithAveragingConstant(1))))
}

// DefaultHistogramFakeQuant is default_histogram_fake_quant: FakeQuantize
// with a HistogramObserver, quint8 per_tensor_affine, 0..255 with
// reduce_range.
func DefaultHistogramFakeQuant() (Quantizer, error) {
	return wrap(NewFakeQuantizer(observer.WithArgs(observer.NewHistogramObserver,
		observer.WithQuantRange(0, 255), observer.WithReduceRange(true))))
}

// DefaultFixedQParamsRangeNeg1To1FakeQuant is
// default_fixed_qparams_range_neg1to1_fake_quant (scale 2/256, zero point
// 128; tanh).
func DefaultFixedQParamsRangeNeg1To1FakeQuant() (Quantizer, error) {
	return wrap(NewFixedQParamsFakeQuantize(observer.DefaultFixedQParamsRangeNeg1To1Observer))
}

// DefaultFixedQParamsRange0To1FakeQuant is
// default_fixed_qparams_range_0to1_fake_quant (scale 1/256, zero point 0;
// sigmoid, hardsigmoid, softmax).
func DefaultFixedQParamsRange0To1FakeQuant() (Quantizer, error) {
	return wrap(NewFixedQParamsFakeQuantize(observer.DefaultFixedQParamsRange0To1Observer))
}

// DefaultFusedActFakeQuant is default_fused_act_fake_quant:
// FusedMovingAvgObsFakeQuantize, quint8, 0..255.
func DefaultFusedActFakeQuant() (Quantizer, error) {
	return wrap(NewFusedMovingAvgObsFakeQuantize(observer.WithArgs(observer.NewMovingAverageMinMaxObserver,
		observer.WithQuantRange(0, 255))))
}

// DefaultFusedWtFakeQuant is default_fused_wt_fake_quant:
// FusedMovingAvgObsFakeQuantize, qint8 per_tensor_symmetric, −128..127.
func DefaultFusedWtFakeQuant() (Quantizer, error) {
	return wrap(NewFusedMovingAvgObsFakeQuantize(observer.WithArgs(observer.NewMovingAverageMinMaxObserver,
		observer.WithQuantRange(-128, 127), observer.WithDtype(qdtype.QInt8Dtype),
		observer.WithQScheme(qdtype.PerTensorSymmetric))))
}

// DefaultFusedPerChannelWtFakeQuant is
// default_fused_per_channel_wt_fake_quant: FusedMovingAvgObsFakeQuantize with
// a MovingAveragePerChannelMinMaxObserver, qint8 per_channel_symmetric,
// −128..127.
func DefaultFusedPerChannelWtFakeQuant() (Quantizer, error) {
	return wrap(NewFusedMovingAvgObsFakeQuantize(observer.WithArgs(observer.NewMovingAveragePerChannelMinMaxObserver,
		observer.WithQuantRange(-128, 127), observer.WithDtype(qdtype.QInt8Dtype),
		observer.WithQScheme(qdtype.PerChannelSymmetric))))
}

// FusedWtFakeQuantRangeNeg127To127 is fused_wt_fake_quant_range_neg_127_to_127
// (−127..127, eps 2⁻¹²).
func FusedWtFakeQuantRangeNeg127To127() (Quantizer, error) {
	return wrap(NewFusedMovingAvgObsFakeQuantize(observer.WithArgs(observer.NewMovingAverageMinMaxObserver,
		observer.WithQuantRange(-127, 127), observer.WithDtype(qdtype.QInt8Dtype),
		observer.WithQScheme(qdtype.PerTensorSymmetric), observer.WithEps(1.0/4096))))
}

// FusedPerChannelWtFakeQuantRangeNeg127To127 is
// fused_per_channel_wt_fake_quant_range_neg_127_to_127.
func FusedPerChannelWtFakeQuantRangeNeg127To127() (Quantizer, error) {
	return wrap(NewFusedMovingAvgObsFakeQuantize(observer.WithArgs(observer.NewMovingAveragePerChannelMinMaxObserver,
		observer.WithQuantRange(-127, 127), observer.WithDtype(qdtype.QInt8Dtype),
		observer.WithQScheme(qdtype.PerChannelSymmetric), observer.WithEps(1.0/4096))))
}

// DefaultEmbeddingFakeQuant is default_embedding_fake_quant: FakeQuantize
// with a memoryless MovingAveragePerChannelMinMaxObserver, quint8
// per_channel_affine_float_qparams, 0..255, channel axis 0 (rows of an
// embedding table).
func DefaultEmbeddingFakeQuant() (Quantizer, error) {
	return wrap(NewFakeQuantizer(observer.WithArgs(observer.NewMovingAveragePerChannelMinMaxObserver,
		observer.WithQScheme(qdtype.PerChannelAffineFloatQParams), observer.WithQuantRange(0, 255),
		observer.WithChAxis(0), observer.WithAveragingConstant(1))))
}

var (
	_ Factory = DefaultFakeQuant
	_ Factory = DefaultWeightFakeQuant
	_ Factory = DefaultPerChannelWeightFakeQuant
	_ Factory = DefaultFusedActFakeQuant
	_ Factory = DefaultFusedWtFakeQuant
	_ Factory = DefaultFusedPerChannelWtFakeQuant
)
