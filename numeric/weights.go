package numeric

import (
	"errors"
	"fmt"

	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/qat"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// errNoWeights marks CompareWeights' error for a model without int8
// weights (e.g. float16 dynamic quantization), which Run tolerates.
var errNoWeights = errors.New("nothing to compare")

// namedQWeight is one quantized weight of a quantized module with the
// state-dict name (relative to the module) of its float twin.
type namedQWeight struct {
	name string
	q    *qtensor.QTensor
}

// quantWeights lists the int8 weights of a quantized module: the weight of
// QuantizedLinear, QuantizedConv and DynamicQuantizedLinear (qint8 only:
// float16 weights are not quantized), and weight_ih_l{k}[_reverse],
// weight_hh_l{k}[_reverse] of DynamicQuantizedLSTM and weight_ih, weight_hh
// of a dynamic cell.
func quantWeights(m nn.Module) []namedQWeight {
	switch t := m.(type) {
	case *nodes.QuantizedLinear:
		q, _ := t.Weight()
		return []namedQWeight{{"weight", q}}
	case *nodes.QuantizedConv:
		q, _ := t.Weight()
		return []namedQWeight{{"weight", q}}
	case *nodes.DynamicQuantizedLinear:
		if t.Packed == nil {
			return nil
		}
		q, _ := t.Packed.Unpack()
		return []namedQWeight{{"weight", q}}
	case *nodes.DynamicQuantizedLSTM:
		d := 1
		if t.Bidirectional {
			d = 2
		}
		var out []namedQWeight
		for i, c := range t.Cells {
			suffix := fmt.Sprintf("_l%d", i/d)
			if i%d == 1 {
				suffix += "_reverse"
			}
			out = append(out, namedQWeight{"weight_ih" + suffix, c.WIH}, namedQWeight{"weight_hh" + suffix, c.WHH})
		}
		return out
	case *nodes.DynamicQuantizedCell:
		return []namedQWeight{{"weight_ih", t.Weights.WIH}, {"weight_hh", t.Weights.WHH}}
	}
	return nil
}

// floatWeights returns the float state of the twin that a quantized
// module's weights were made from: the state dict of its first leaf with
// weights, with a batch norm that follows it folded in (eval statistics,
// as convert folds QAT ConvBn and FuseModules folds Conv+BN).
func floatWeights(p *pair) (map[string]*tensor.Dense, error) {
	for _, g := range p.group {
		if qm, ok := g.Module.(qat.Module); ok {
			// A QAT module: the weight convert quantizes, its batch norm
			// folded in.
			w, _, err := qm.FoldedWeightBias()
			if err != nil {
				return nil, err
			}
			return map[string]*tensor.Dense{"weight": w}, nil
		}
	}
	leaves := p.leaves()
	for i, m := range leaves {
		var w nn.Module
		switch m.(type) {
		case *nn.Linear, *nn.LSTM, *nn.GRU, *nn.RNN, *nn.LSTMCell, *nn.GRUCell, *nn.RNNCell:
			w = m
		default:
			if _, _, ok := fuse.ConvOf(m); ok {
				w = m
			}
		}
		if w == nil {
			continue
		}
		if i+1 < len(leaves) {
			if bn, ok := leaves[i+1].(*nn.BatchNorm); ok && bn.RunningMean != nil {
				bnc := bn.Clone().(*nn.BatchNorm)
				bnc.Train(false)
				wc := w.Clone()
				wc.ModuleBase().Train(false)
				var err error
				if l, ok := wc.(*nn.Linear); ok {
					w, err = fuse.FoldLinearBN(l, bnc)
				} else {
					w, err = fuse.FoldConvBN(wc, bnc)
				}
				if err != nil {
					return nil, err
				}
			}
		}
		return nn.StateDict(w), nil
	}
	return nil, nil
}

// CompareWeights is torch.ao.ns._numeric_suite.compare_weights followed by
// the metrics PyTorch's example computes: for every int8 weight of the
// quantized model (QuantizedLinear, QuantizedConv*, DynamicQuantizedLinear,
// DynamicQuantizedLSTM and dynamic cells), the float weight of the module at
// the same path of floatModel against the dequantized quantized weight.
// Layers are named by the weight's state-dict name ("features.0.weight",
// "lstm.weight_hh_l0") and listed in model order.
//
// floatModel should be the fused float model; with the unfused one, or a
// QAT-fused one (ConvBn2d), a batch norm that follows the convolution or
// linear layer is folded into the float weight first with its running
// statistics, as convert does. With the QAT model a quantized model was
// converted from, its modules' FoldedWeightBias weights are compared. Float16 weights of dynamic modules are not
// int8 and are not compared. Layer.Samples holds every weight value.
// Errors: nil models, no quantized weight with a float twin, a float
// weight whose shape differs from the quantized one's.
func CompareWeights(floatModel, quantModel nn.Module) (*Comparison, error) {
	const op = "compare weights"
	pairs, err := matchModules(op, floatModel, quantModel, nil)
	if err != nil {
		return nil, err
	}
	var layers []*Layer
	for _, p := range pairs {
		qws := quantWeights(p.quant)
		if len(qws) == 0 {
			continue
		}
		sd, err := floatWeights(p)
		if err != nil {
			return nil, fmt.Errorf("numeric: %s: %s: folding the float twin's batch norm: %w", op, displayName(p.path), err)
		}
		if sd == nil {
			continue
		}
		for _, qw := range qws {
			name := qw.name
			if p.path != "" {
				name = p.path + "." + qw.name
			}
			fw, ok := sd[qw.name]
			if !ok || qw.q == nil {
				continue
			}
			if !fw.Shape().Eq(qw.q.Shape()) {
				return nil, fmt.Errorf("numeric: %s: %s: float weight shape %v, quantized weight shape %v", op, name, fw.Shape(), qw.q.Shape())
			}
			l := &Layer{Name: name, Kind: KindWeight, FloatPath: p.group[0].Path, FloatType: p.floatType(),
				QuantType: p.quant.TypeName(), Shape: qw.q.Shape().Clone(), Calls: 1, acc: newAccum(qw.q.Size())}
			qp := qw.q.QParams()
			l.QParams = &qp
			if err := l.acc.addQuant(denseFloats(fw), qw.q); err != nil {
				return nil, fmt.Errorf("numeric: %s: %s: %w", op, name, err)
			}
			layers = append(layers, l)
		}
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("numeric: %s: the quantized model (%s) has no int8 weight with a float twin in the float model (%s): %w", op, quantModel.TypeName(), floatModel.TypeName(), errNoWeights)
	}
	return finish(KindWeight, 0, layers), nil
}
