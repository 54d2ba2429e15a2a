package nodes

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// DynamicCellWeights are one recurrent cell's (or one LSTM layer and
// direction's) quantized weights: W_ih (G·H, I) and W_hh (G·H, H) in qint8
// with their float32 biases (nil when the float module has none).
type DynamicCellWeights struct {
	WIH, WHH *qtensor.QTensor
	BIH, BHH *tensor.Dense
}

func (w DynamicCellWeights) pack() (*ops.RNNCellParams, error) {
	return ops.PrepackRNNCell(w.WIH, w.WHH, w.BIH, w.BHH)
}

// namedData returns the float32 tensor of the parameter called name.
func namedData(m nn.Module, name string) *tensor.Dense {
	for _, p := range m.NamedParameters() {
		if p.Name == name && p.Param != nil {
			return p.Param.Data
		}
	}
	return nil
}

// quantizeCell quantizes one cell's two weight matrices, each with its own
// fresh observer from newObs (PyTorch creates one per matrix).
func quantizeCell(m nn.Module, suffix string, newObs observer.Factory) (DynamicCellWeights, error) {
	var w DynamicCellWeights
	wih, whh := namedData(m, "weight_ih"+suffix), namedData(m, "weight_hh"+suffix)
	if wih == nil || whh == nil {
		return w, fmt.Errorf("no weight_ih%s / weight_hh%s", suffix, suffix)
	}
	for _, p := range []struct {
		src *tensor.Dense
		dst **qtensor.QTensor
	}{{wih, &w.WIH}, {whh, &w.WHH}} {
		obs, err := newObs()
		if err != nil {
			return w, err
		}
		if obs.Dtype() == observer.Float16 {
			return w, fmt.Errorf("float16 recurrent weights are not supported (no fp16 recurrent kernel)")
		}
		q, err := QuantizeWeight(p.src, obs)
		if err != nil {
			return w, err
		}
		*p.dst = q
	}
	if b := namedData(m, "bias_ih"+suffix); b != nil {
		w.BIH = b.Clone().(*tensor.Dense)
	}
	if b := namedData(m, "bias_hh"+suffix); b != nil {
		w.BHH = b.Clone().(*tensor.Dense)
	}
	return w, nil
}

// DynamicQuantizedLSTM is nn.quantized.dynamic.LSTM: float32 input (T, B,
// I) (or (B, T, I) with BatchFirst), zero initial states, the output
// sequence (T, B, D·H). Each layer's input projection is one dynamic linear
// call over the whole sequence and the hidden projection one call per time
// step (ops.LSTM), weights quantized per matrix and packed once.
type DynamicQuantizedLSTM struct {
	nn.Base
	nn.Stateless
	InputSize, HiddenSize, NumLayers int
	Bidirectional, BatchFirst        bool
	// Cells holds layer k direction d at index k·D + d.
	Cells  []DynamicCellWeights
	Params *ops.LSTMParams
}

// NewDynamicQuantizedLSTM packs cells (layer-major, forward before
// reverse) into a numLayers-layer LSTM. Errors: anything ops.PrepackRNNCell
// or ops.NewLSTMParams rejects.
func NewDynamicQuantizedLSTM(cells []DynamicCellWeights, numLayers int, bidirectional, batchFirst bool) (*DynamicQuantizedLSTM, error) {
	packed := make([]*ops.RNNCellParams, len(cells))
	for i, c := range cells {
		p, err := c.pack()
		if err != nil {
			return nil, fmt.Errorf("nodes: DynamicQuantizedLSTM: cell %d: %w", i, err)
		}
		packed[i] = p
	}
	lp, err := ops.NewLSTMParams(packed, numLayers, bidirectional, batchFirst)
	if err != nil {
		return nil, fmt.Errorf("nodes: DynamicQuantizedLSTM: %w", err)
	}
	return &DynamicQuantizedLSTM{InputSize: packed[0].InputSize(), HiddenSize: packed[0].HiddenSize(), NumLayers: numLayers,
		Bidirectional: bidirectional, BatchFirst: batchFirst, Cells: append([]DynamicCellWeights(nil), cells...), Params: lp}, nil
}

// DynamicQuantizedLSTMFromFloat is nnqd.LSTM.from_float: every weight
// matrix of every layer and direction is observed by its own fresh
// observer from newObs (qconfig.weight) and quantized to qint8; biases stay
// float32 and are required (PyTorch asserts bias=True).
func DynamicQuantizedLSTMFromFloat(m *nn.LSTM, newObs observer.Factory) (*DynamicQuantizedLSTM, error) {
	if m == nil || newObs == nil {
		return nil, fmt.Errorf("nodes: DynamicQuantizedLSTM: nil float module or weight observer factory")
	}
	if !m.HasBias {
		return nil, fmt.Errorf("nodes: DynamicQuantizedLSTM: the float LSTM has no biases (PyTorch requires bias=True)")
	}
	dirs := 1
	if m.Bidirectional {
		dirs = 2
	}
	var cells []DynamicCellWeights
	for k := 0; k < m.NumLayers; k++ {
		for d := 0; d < dirs; d++ {
			suffix := fmt.Sprintf("_l%d", k)
			if d == 1 {
				suffix += "_reverse"
			}
			c, err := quantizeCell(m, suffix, newObs)
			if err != nil {
				return nil, fmt.Errorf("nodes: DynamicQuantizedLSTM: %w", err)
			}
			cells = append(cells, c)
		}
	}
	return NewDynamicQuantizedLSTM(cells, m.NumLayers, m.Bidirectional, m.BatchFirst)
}

// Forward returns the output sequence for zero initial states.
func (m *DynamicQuantizedLSTM) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	out, _, _, err := m.ForwardState(x, nil, nil)
	return out, err
}

// ForwardState runs from (h0, c0) ((L·D, B, H) float32 nodes, nil for
// zeros) and returns (output, h_n, c_n).
func (m *DynamicQuantizedLSTM) ForwardState(x, h0, c0 *gorgonia.Node) (out, hn, cn *gorgonia.Node, err error) {
	if err := requireFloat(m.TypeName(), x); err != nil {
		return nil, nil, nil, err
	}
	return DynamicLSTM(x, h0, c0, m.Params)
}

// TypeName returns "DynamicQuantizedLSTM".
func (m *DynamicQuantizedLSTM) TypeName() string { return "DynamicQuantizedLSTM" }

// Clone returns a copy sharing the immutable packed weights.
func (m *DynamicQuantizedLSTM) Clone() nn.Module {
	c := *m
	c.Base = m.CloneBase()
	c.Cells = append([]DynamicCellWeights(nil), m.Cells...)
	return &c
}

// DynamicQuantizedCell is nn.quantized.dynamic.LSTMCell, GRUCell and
// RNNCell (Kind "LSTMCell", "GRUCell", "RNNCell"; Nonlinearity "tanh" or
// "relu" for RNNCell): one step on float32 (B, I) with dynamically
// quantized projections (ops.LSTMCell, ops.GRUCell, ops.RNNTanhCell,
// ops.RNNReLUCell). Forward starts from zero state and returns h'.
type DynamicQuantizedCell struct {
	nn.Base
	nn.Stateless
	Kind, Nonlinearity string
	Weights            DynamicCellWeights
	Params             *ops.RNNCellParams
}

// NewDynamicQuantizedCell packs w for kind ("LSTMCell", "GRUCell",
// "RNNCell") with nonlinearity ("tanh" or "relu"; RNNCell only).
func NewDynamicQuantizedCell(kind, nonlinearity string, w DynamicCellWeights) (*DynamicQuantizedCell, error) {
	gates := map[string]int{"LSTMCell": 4, "GRUCell": 3, "RNNCell": 1}[kind]
	if gates == 0 {
		return nil, fmt.Errorf("nodes: dynamic quantized cell: unknown kind %q (LSTMCell, GRUCell, RNNCell)", kind)
	}
	if kind == "RNNCell" && nonlinearity != "tanh" && nonlinearity != "relu" {
		return nil, fmt.Errorf("nodes: DynamicQuantizedRNNCell: nonlinearity %q (tanh, relu)", nonlinearity)
	}
	if kind != "RNNCell" {
		nonlinearity = ""
	}
	p, err := w.pack()
	if err != nil {
		return nil, fmt.Errorf("nodes: DynamicQuantized%s: %w", kind, err)
	}
	if p.Gates() != gates {
		return nil, fmt.Errorf("nodes: DynamicQuantized%s: weights have %d gates, want %d", kind, p.Gates(), gates)
	}
	return &DynamicQuantizedCell{Kind: kind, Nonlinearity: nonlinearity, Weights: w, Params: p}, nil
}

// DynamicQuantizedCellFromFloat converts nn.LSTMCell, nn.GRUCell or
// nn.RNNCell, each weight matrix observed by its own fresh observer.
func DynamicQuantizedCellFromFloat(m nn.Module, newObs observer.Factory) (*DynamicQuantizedCell, error) {
	if m == nil || newObs == nil {
		return nil, fmt.Errorf("nodes: dynamic quantized cell: nil float module or weight observer factory")
	}
	nl := ""
	switch f := m.(type) {
	case *nn.LSTMCell, *nn.GRUCell:
	case *nn.RNNCell:
		nl = f.Nonlinearity()
	default:
		return nil, fmt.Errorf("nodes: dynamic quantized cell: cannot convert %T", m)
	}
	w, err := quantizeCell(m, "", newObs)
	if err != nil {
		return nil, fmt.Errorf("nodes: DynamicQuantized%s: %w", m.TypeName(), err)
	}
	return NewDynamicQuantizedCell(m.TypeName(), nl, w)
}

// Forward returns h' from a zero state.
func (m *DynamicQuantizedCell) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	h, _, err := m.ForwardState(x, nil, nil)
	return h, err
}

// ForwardState runs one step from h (and c for LSTMCell; nil for zeros)
// and returns h' (and c' for LSTMCell, else nil).
func (m *DynamicQuantizedCell) ForwardState(x, h, c *gorgonia.Node) (hNext, cNext *gorgonia.Node, err error) {
	if err := requireFloat(m.TypeName(), x); err != nil {
		return nil, nil, err
	}
	switch m.Kind {
	case "LSTMCell":
		return DynamicLSTMCell(x, h, c, m.Params)
	case "GRUCell":
		hNext, err = DynamicGRUCell(x, h, m.Params)
	default:
		if m.Nonlinearity == "relu" {
			hNext, err = DynamicRNNReLUCell(x, h, m.Params)
		} else {
			hNext, err = DynamicRNNTanhCell(x, h, m.Params)
		}
	}
	return hNext, nil, err
}

// TypeName returns "DynamicQuantizedLSTMCell", "DynamicQuantizedGRUCell" or
// "DynamicQuantizedRNNCell".
func (m *DynamicQuantizedCell) TypeName() string { return "DynamicQuantized" + m.Kind }

// Clone returns a copy sharing the immutable packed weights.
func (m *DynamicQuantizedCell) Clone() nn.Module {
	c := *m
	c.Base = m.CloneBase()
	return &c
}
