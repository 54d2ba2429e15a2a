package eager

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/qat"
)

// qatSwapConverter is the QAT mapping's converter: qat.FromFloat with a
// fresh weight fake quantizer from the module's qconfig. A module that is
// already a QAT module is kept.
func qatSwapConverter(m nn.Module) (nn.Module, error) {
	if q, ok := m.(qat.Module); ok {
		return q, nil
	}
	qc := QConfigOf(m)
	if qc == nil || qc.Weight.IsZero() {
		return nil, fmt.Errorf("%s: qconfig has no weight fake quantizer", m.TypeName())
	}
	pp, err := qc.Weight.New()
	if err != nil {
		return nil, fmt.Errorf("weight fake quantizer: %w", err)
	}
	if pp.FakeQuant == nil {
		return nil, fmt.Errorf("the qconfig's weight post-process is an observer; QAT needs a fake quantizer (use a QAT qconfig such as GetDefaultQATQConfig)")
	}
	return qat.FromFloat(m, pp.FakeQuant)
}

// fromQAT converts a trained QAT module (nnq.Linear/Conv*.from_float of a
// QAT module): the weight, with a batch norm folded in by its running
// statistics, goes once more through the module's weight fake quantizer
// (updating its observer), is quantized with that quantizer's
// calculate_qparams() and clamped into its range; the bias stays float32;
// the output qparams come from the activation fake quantizer.
func fromQAT(q qat.Module) (nn.Module, error) {
	out, err := OutputQParams(q)
	if err != nil {
		return nil, err
	}
	w, b, err := q.FoldedWeightBias()
	if err != nil {
		return nil, err
	}
	wfq := q.WeightFakeQuant()
	if wfq == nil {
		return nil, fmt.Errorf("%s has no weight fake quantizer", q.TypeName())
	}
	wq, err := quantizeWithPostProcess(w, &PostProcess{FakeQuant: wfq})
	if err != nil {
		return nil, err
	}
	if c, ok := q.(qat.ConvModule); ok {
		kind := map[int]nodes.ConvKind{1: nodes.Conv1d, 2: nodes.Conv2d, 3: nodes.Conv3d}[c.SpatialDims()]
		if q.FusedReLU() {
			kind++
		}
		opt, err := nodes.ConvOptionsOf(c.Conv())
		if err != nil {
			return nil, err
		}
		return nodes.NewQuantizedConv(kind, wq, b, opt, out.Scale(), out.ZeroPoint())
	}
	return nodes.NewQuantizedLinear(wq, b, out.Scale(), out.ZeroPoint(), q.FusedReLU())
}

// withQAT makes a static converter accept the QAT twin of the float type
// (same TypeName, as in PyTorch's class names).
func withQAT(float Converter) Converter {
	return func(m nn.Module) (nn.Module, error) {
		if q, ok := m.(qat.Module); ok {
			return fromQAT(q)
		}
		if float == nil {
			return nil, fmt.Errorf("%s (%T) is not a QAT module; convert it after PrepareQAT", m.TypeName(), m)
		}
		return float(m)
	}
}

// registerQAT wraps the static converters and fills the QAT mapping; the
// init of mapping.go calls it after the static mapping exists.
func registerQAT() {
	for _, t := range []string{"Linear", "LinearReLU", "Conv1d", "Conv2d", "Conv3d", "ConvReLU1d", "ConvReLU2d", "ConvReLU3d"} {
		staticMapping[t] = withQAT(staticMapping[t])
	}
	for _, t := range []string{"ConvBn1d", "ConvBn2d", "ConvBn3d", "ConvBnReLU1d", "ConvBnReLU2d", "ConvBnReLU3d", "LinearBn1d"} {
		staticMapping[t] = withQAT(nil)
	}
	for _, t := range []string{"Conv2d", "Conv3d", "Linear", "ConvBn1d", "ConvBn2d", "ConvBn3d", "ConvBnReLU1d", "ConvBnReLU2d",
		"ConvBnReLU3d", "ConvReLU2d", "ConvReLU3d", "LinearReLU", "LinearBn1d"} {
		qatMapping[t] = qatSwapConverter
	}
}
