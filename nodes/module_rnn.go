package nodes

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/kernels"
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
// stackCells returns cell(suffix) for every layer and direction of an RNN
// stack in PyTorch's parameter order (layer-major, forward before reverse),
// suffix "_l<k>" or "_l<k>_reverse".
func stackCells[W any](layers int, bidirectional bool, cell func(suffix string) (W, error)) ([]W, error) {
	dirs := 1
	if bidirectional {
		dirs = 2
	}
	var cells []W
	for k := 0; k < layers; k++ {
		for d := 0; d < dirs; d++ {
			suffix := fmt.Sprintf("_l%d", k)
			if d == 1 {
				suffix += "_reverse"
			}
			c, err := cell(suffix)
			if err != nil {
				return nil, err
			}
			cells = append(cells, c)
		}
	}
	return cells, nil
}

// quantizeStack quantizes the weights of every cell of the float RNN stack
// m (rb its RNNBase) for the dynamic module name; PyTorch requires biases.
func quantizeStack(name string, m nn.Module, rb *nn.RNNBase, newObs observer.Factory) ([]DynamicCellWeights, error) {
	if !rb.HasBias {
		return nil, fmt.Errorf("nodes: %s: the float %s has no biases (PyTorch requires bias=True)", name, m.TypeName())
	}
	cells, err := stackCells(rb.NumLayers, rb.Bidirectional, func(suffix string) (DynamicCellWeights, error) {
		return quantizeCell(m, suffix, newObs)
	})
	if err != nil {
		return nil, fmt.Errorf("nodes: %s: %w", name, err)
	}
	return cells, nil
}

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
	cells, err := quantizeStack("DynamicQuantizedLSTM", m, &m.RNNBase, newObs)
	if err != nil {
		return nil, err
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

// gruPacked is one GRU layer and direction: W_ih with b_ih and W_hh with
// b_hh, each packed for ops.LinearDynamic.
type gruPacked struct {
	ih, hh        *ops.PackedLinear
	input, hidden int
}

// DynamicQuantizedGRU is nn.quantized.dynamic.GRU (torch.quantized_gru
// with use_dynamic=True): float32 input (T, B, I) (or (B, T, I) with
// BatchFirst), output sequence (T, B, D·H) and h_n (L·D, B, H). Per layer
// and direction, the input projection W_ih·x + b_ih is one dynamic linear
// call over the whole sequence (one set of activation qparams, reduce_range)
// and the hidden projection W_hh·h + b_hh one call per time step; the gate
// math is PyTorch's in float32: r = σ(gh_r + gi_r), z = σ(gh_z + gi_z),
// n = tanh(gi_n + gh_n·r), h' = (h − n)·z + n. Package ops has no
// full-sequence GRU, so the loop lives here on ops.LinearDynamic.
type DynamicQuantizedGRU struct {
	nn.Base
	nn.Stateless
	InputSize, HiddenSize, NumLayers int
	Bidirectional, BatchFirst        bool
	// Cells holds layer k direction d at index k·D + d.
	Cells  []DynamicCellWeights
	packed []gruPacked
}

// NewDynamicQuantizedGRU packs cells (layer-major, forward before reverse)
// into a numLayers-layer GRU. Errors: a cell count other than numLayers·D,
// shapes that do not chain (W_ih (3H, I) with I the input size, or D·H
// after the first layer; W_hh (3H, H)), anything ops.PrepackLinear rejects.
func NewDynamicQuantizedGRU(cells []DynamicCellWeights, numLayers int, bidirectional, batchFirst bool) (*DynamicQuantizedGRU, error) {
	dirs := 1
	if bidirectional {
		dirs = 2
	}
	if numLayers < 1 || len(cells) != numLayers*dirs {
		return nil, fmt.Errorf("nodes: DynamicQuantizedGRU: %d cells for %d layers × %d directions", len(cells), numLayers, dirs)
	}
	m := &DynamicQuantizedGRU{NumLayers: numLayers, Bidirectional: bidirectional, BatchFirst: batchFirst,
		Cells: append([]DynamicCellWeights(nil), cells...)}
	for i, c := range cells {
		if c.WIH == nil || c.WHH == nil {
			return nil, fmt.Errorf("nodes: DynamicQuantizedGRU: cell %d has no weights", i)
		}
		si, sh := c.WIH.Shape(), c.WHH.Shape()
		if len(si) != 2 || len(sh) != 2 || sh[0] != 3*sh[1] || si[0] != sh[0] {
			return nil, fmt.Errorf("nodes: DynamicQuantizedGRU: cell %d: weight_ih %v and weight_hh %v are not (3H, I) and (3H, H)", i, si, sh)
		}
		h := sh[1]
		want := si[1]
		if i == 0 {
			m.InputSize, m.HiddenSize = si[1], h
		} else if i >= dirs {
			want = dirs * m.HiddenSize
		} else {
			want = m.InputSize
		}
		if h != m.HiddenSize || si[1] != want {
			return nil, fmt.Errorf("nodes: DynamicQuantizedGRU: cell %d: weight_ih %v, want (%d, %d)", i, si, 3*m.HiddenSize, want)
		}
		ih, err := ops.PrepackLinear(c.WIH, c.BIH)
		if err != nil {
			return nil, fmt.Errorf("nodes: DynamicQuantizedGRU: cell %d: %w", i, err)
		}
		hh, err := ops.PrepackLinear(c.WHH, c.BHH)
		if err != nil {
			return nil, fmt.Errorf("nodes: DynamicQuantizedGRU: cell %d: %w", i, err)
		}
		m.packed = append(m.packed, gruPacked{ih: ih, hh: hh, input: si[1], hidden: h})
	}
	return m, nil
}

// DynamicQuantizedGRUFromFloat is nnqd.GRU.from_float: each weight matrix
// of each layer and direction observed by its own fresh observer; biases
// are required (PyTorch asserts bias=True).
func DynamicQuantizedGRUFromFloat(m *nn.GRU, newObs observer.Factory) (*DynamicQuantizedGRU, error) {
	if m == nil || newObs == nil {
		return nil, fmt.Errorf("nodes: DynamicQuantizedGRU: nil float module or weight observer factory")
	}
	cells, err := quantizeStack("DynamicQuantizedGRU", m, &m.RNNBase, newObs)
	if err != nil {
		return nil, err
	}
	return NewDynamicQuantizedGRU(cells, m.NumLayers, m.Bidirectional, m.BatchFirst)
}

// Forward returns the output sequence for a zero initial state.
func (m *DynamicQuantizedGRU) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	out, _, err := m.ForwardState(x, nil)
	return out, err
}

// ForwardState runs from h0 ((L·D, B, H) float32, nil for zeros) and
// returns (output, h_n).
func (m *DynamicQuantizedGRU) ForwardState(x, h0 *gorgonia.Node) (out, hn *gorgonia.Node, err error) {
	const name = "DynamicGRU"
	if err := requireFloat(m.TypeName(), x); err != nil {
		return nil, nil, err
	}
	ins, children, idx, err := cellInputs(name, x, []*gorgonia.Node{h0}, []string{"h0"})
	if err != nil {
		return nil, nil, err
	}
	params := fmt.Sprintf("in=%d hidden=%d layers=%d bidirectional=%t batch_first=%t", m.InputSize, m.HiddenSize, m.NumLayers, m.Bidirectional, m.BatchFirst)
	ns, err := multiNode(name, params, ins, children, nil, nil, func(a []operand) ([]*tensor.Dense, error) {
		o, h, err := m.run(a[0].f, stateArg(a, idx[0]))
		return []*tensor.Dense{o, h}, err
	})
	if err != nil {
		return nil, nil, err
	}
	return ns[0], ns[1], nil
}

// The recurrent modules' gate activations are the kernels' float32 ones,
// the same ops.LSTM and the dynamic cells use, so every recurrent path of
// the library rounds its gates alike.
func sigmoidF32(v float32) float32 { return kernels.Sigmoid32(v) }
func tanhF32(v float32) float32    { return kernels.Tanh32(v) }

// run is the GRU on float32 tensors.
func (m *DynamicQuantizedGRU) run(x, h0 *tensor.Dense) (out, hn *tensor.Dense, err error) {
	sh := x.Shape()
	if len(sh) != 3 || sh[2] != m.InputSize {
		return nil, nil, fmt.Errorf("nodes: DynamicQuantizedGRU: input has shape %v, want 3-D with %d features", sh, m.InputSize)
	}
	t, b := sh[0], sh[1]
	if m.BatchFirst {
		t, b = sh[1], sh[0]
	}
	xd := append([]float32(nil), x.Float32s()...)
	if m.BatchFirst {
		xd = transpose01(xd, b, t, m.InputSize)
	}
	dirs := 1
	if m.Bidirectional {
		dirs = 2
	}
	hs := m.HiddenSize
	states := m.NumLayers * dirs
	hAll := make([]float32, states*b*hs)
	if h0 != nil {
		if s := h0.Shape(); len(s) != 3 || s[0] != states || s[1] != b || s[2] != hs {
			return nil, nil, fmt.Errorf("nodes: DynamicQuantizedGRU: h0 has shape %v, want [%d %d %d]", s, states, b, hs)
		}
		copy(hAll, h0.Float32s())
	}
	layerIn, inSize := xd, m.InputSize
	for l := 0; l < m.NumLayers; l++ {
		layerOut := make([]float32, t*b*dirs*hs)
		for dir := 0; dir < dirs; dir++ {
			c := m.packed[l*dirs+dir]
			giD, err := ops.LinearDynamic(tensor.New(tensor.WithShape(t*b, inSize), tensor.WithBacking(layerIn)), c.ih, true)
			if err != nil {
				return nil, nil, err
			}
			gi := giD.Float32s()
			s := l*dirs + dir
			h := hAll[s*b*hs : (s+1)*b*hs]
			for step := 0; step < t; step++ {
				ts := step
				if dir == 1 {
					ts = t - 1 - step
				}
				ghD, err := ops.LinearDynamic(tensor.New(tensor.WithShape(b, hs), tensor.WithBacking(append([]float32(nil), h...))), c.hh, true)
				if err != nil {
					return nil, nil, err
				}
				gh := ghD.Float32s()
				giT := gi[ts*b*3*hs : (ts+1)*b*3*hs]
				for r := 0; r < b; r++ {
					gir, ghr := giT[r*3*hs:(r+1)*3*hs], gh[r*3*hs:(r+1)*3*hs]
					for j := 0; j < hs; j++ {
						rg := sigmoidF32(float32(ghr[j] + gir[j]))
						zg := sigmoidF32(float32(ghr[hs+j] + gir[hs+j]))
						ng := tanhF32(float32(gir[2*hs+j] + float32(ghr[2*hs+j]*rg)))
						hv := h[r*hs+j]
						h[r*hs+j] = float32(float32(float32(hv-ng)*zg) + ng)
					}
					copy(layerOut[(ts*b+r)*dirs*hs+dir*hs:], h[r*hs:(r+1)*hs])
				}
			}
		}
		layerIn, inSize = layerOut, dirs*hs
	}
	outShape := []int{t, b, dirs * hs}
	if m.BatchFirst {
		layerIn = transpose01(layerIn, t, b, dirs*hs)
		outShape = []int{b, t, dirs * hs}
	}
	return tensor.New(tensor.WithShape(outShape...), tensor.WithBacking(layerIn)),
		tensor.New(tensor.WithShape(states, b, hs), tensor.WithBacking(hAll)), nil
}

// transpose01 swaps the first two dimensions of an (a, b, f) array.
func transpose01(d []float32, a, b, f int) []float32 {
	out := make([]float32, len(d))
	for i := 0; i < a; i++ {
		for j := 0; j < b; j++ {
			copy(out[(j*a+i)*f:(j*a+i+1)*f], d[(i*b+j)*f:(i*b+j+1)*f])
		}
	}
	return out
}

// TypeName returns "DynamicQuantizedGRU".
func (m *DynamicQuantizedGRU) TypeName() string { return "DynamicQuantizedGRU" }

// Clone returns a copy sharing the immutable packed weights.
func (m *DynamicQuantizedGRU) Clone() nn.Module {
	c := *m
	c.Base = m.CloneBase()
	c.Cells = append([]DynamicCellWeights(nil), m.Cells...)
	return &c
}
