package nodes

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/ops"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// FP16CellWeights are one layer and direction of a float16 recurrent
// layer: the float32 weights W_ih (G·H, I), W_hh (G·H, H) and biases (nil
// when absent), rounded to float16 when packed.
type FP16CellWeights struct {
	WIH, WHH, BIH, BHH *tensor.Dense
}

type fp16Packed struct{ ih, hh *ops.PackedLinearFP16 }

// DynamicFP16RNN is nn.quantized.dynamic.LSTM and GRU with dtype float16
// (quantize_dynamic(..., dtype=torch.float16), PyTorch's
// make_quantized_cell_params_fp16): the weights are saturated to ±65504 and
// rounded to float16 once; activations stay float32 and every projection is
// ops.LinearDynamicFP16 (float products of the float16-rounded weights,
// float32 accumulation); the gate math is the float32 math of the int8
// modules. Kind is "LSTM" (gates i, f, g, o) or "GRU" (r, z, n). Forward
// runs from zero initial states and returns the output sequence (T, B,
// D·H); ForwardState takes initial states and returns the final ones.
type DynamicFP16RNN struct {
	nn.Base
	nn.Stateless
	Kind                             string
	InputSize, HiddenSize, NumLayers int
	Bidirectional, BatchFirst        bool
	// Cells holds layer k direction d at index k·D + d.
	Cells  []FP16CellWeights
	packed []fp16Packed
}

// NewDynamicFP16RNN packs cells (layer-major, forward before reverse) for
// kind "LSTM" or "GRU". The tensors are copied. Errors: a cell count other
// than numLayers·D, shapes that do not chain, anything
// ops.PrepackLinearFP16 rejects.
func NewDynamicFP16RNN(kind string, cells []FP16CellWeights, numLayers int, bidirectional, batchFirst bool) (*DynamicFP16RNN, error) {
	gates := map[string]int{"LSTM": 4, "GRU": 3}[kind]
	if gates == 0 {
		return nil, fmt.Errorf("nodes: DynamicFP16RNN: kind %q (LSTM or GRU)", kind)
	}
	dirs := 1
	if bidirectional {
		dirs = 2
	}
	if numLayers < 1 || len(cells) != numLayers*dirs {
		return nil, fmt.Errorf("nodes: DynamicFP16RNN: %d cells for %d layers × %d directions", len(cells), numLayers, dirs)
	}
	m := &DynamicFP16RNN{Kind: kind, NumLayers: numLayers, Bidirectional: bidirectional, BatchFirst: batchFirst}
	for i, c := range cells {
		if c.WIH == nil || c.WHH == nil {
			return nil, fmt.Errorf("nodes: DynamicFP16RNN: cell %d has no weights", i)
		}
		si, sh := c.WIH.Shape(), c.WHH.Shape()
		if len(si) != 2 || len(sh) != 2 || sh[0] != gates*sh[1] || si[0] != sh[0] {
			return nil, fmt.Errorf("nodes: DynamicFP16RNN: cell %d: weight_ih %v and weight_hh %v are not (%dH, I) and (%dH, H)", i, si, sh, gates, gates)
		}
		if i == 0 {
			m.InputSize, m.HiddenSize = si[1], sh[1]
		}
		want := m.InputSize
		if i >= dirs {
			want = dirs * m.HiddenSize
		}
		if sh[1] != m.HiddenSize || si[1] != want {
			return nil, fmt.Errorf("nodes: DynamicFP16RNN: cell %d: weight_ih %v, want (%d, %d)", i, si, gates*m.HiddenSize, want)
		}
		ih, err := ops.PrepackLinearFP16(c.WIH, c.BIH)
		if err != nil {
			return nil, fmt.Errorf("nodes: DynamicFP16RNN: cell %d: %w", i, err)
		}
		hh, err := ops.PrepackLinearFP16(c.WHH, c.BHH)
		if err != nil {
			return nil, fmt.Errorf("nodes: DynamicFP16RNN: cell %d: %w", i, err)
		}
		m.packed = append(m.packed, fp16Packed{ih: ih, hh: hh})
		cp := FP16CellWeights{WIH: c.WIH.Clone().(*tensor.Dense), WHH: c.WHH.Clone().(*tensor.Dense)}
		if c.BIH != nil {
			cp.BIH = c.BIH.Clone().(*tensor.Dense)
		}
		if c.BHH != nil {
			cp.BHH = c.BHH.Clone().(*tensor.Dense)
		}
		m.Cells = append(m.Cells, cp)
	}
	return m, nil
}

// DynamicFP16RNNFromFloat converts an nn.LSTM or nn.GRU with float16
// weights (PyTorch's from_float with a float16 weight observer).
func DynamicFP16RNNFromFloat(m nn.Module) (*DynamicFP16RNN, error) {
	var rb *nn.RNNBase
	switch f := m.(type) {
	case *nn.LSTM:
		rb = &f.RNNBase
	case *nn.GRU:
		rb = &f.RNNBase
	default:
		return nil, fmt.Errorf("nodes: DynamicFP16RNN: cannot convert %T (LSTM or GRU)", m)
	}
	cells, _ := stackCells(rb.NumLayers, rb.Bidirectional, func(s string) (FP16CellWeights, error) {
		return FP16CellWeights{WIH: namedData(m, "weight_ih"+s), WHH: namedData(m, "weight_hh"+s),
			BIH: namedData(m, "bias_ih"+s), BHH: namedData(m, "bias_hh"+s)}, nil
	})
	return NewDynamicFP16RNN(m.TypeName(), cells, rb.NumLayers, rb.Bidirectional, rb.BatchFirst)
}

// Forward returns the output sequence for zero initial states.
func (m *DynamicFP16RNN) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	out, _, _, err := m.ForwardState(x, nil, nil)
	return out, err
}

// ForwardState runs from the initial states h0 and, for Kind "LSTM", c0
// (float32 nodes (L·D, B, H), state k·D + d for layer k direction d; nil
// for zeros) and returns the output sequence, h_n and, for "LSTM", c_n
// (L·D, B, H): PyTorch's dynamic LSTM(x, (h0, c0)) and GRU(x, h0) with
// float16 weights. A GRU has no cell state: c0 must be nil and cn is nil.
// (The signature is the LSTM's, nn.LSTM.ForwardState and
// DynamicQuantizedLSTM.ForwardState, for both kinds; one Go type cannot
// also carry the GRU's two-state form.) Errors, at build time: x not
// float32 or not 3-D with InputSize features, a state of another shape,
// a c0 for a GRU.
func (m *DynamicFP16RNN) ForwardState(x, h0, c0 *gorgonia.Node) (out, hn, cn *gorgonia.Node, err error) {
	if err := requireFloat(m.TypeName(), x); err != nil {
		return nil, nil, nil, err
	}
	const name = "DynamicFP16RNN"
	lstm := m.Kind == "LSTM"
	if !lstm && c0 != nil {
		return nil, nil, nil, fmt.Errorf("nodes: %s: a GRU has no cell state, c0 must be nil", name)
	}
	ins, children, idx, err := cellInputs(name, x, []*gorgonia.Node{h0, c0}, []string{"h0", "c0"})
	if err != nil {
		return nil, nil, nil, err
	}
	params := fmt.Sprintf("kind=%s in=%d hidden=%d layers=%d bidirectional=%t batch_first=%t", m.Kind, m.InputSize, m.HiddenSize, m.NumLayers, m.Bidirectional, m.BatchFirst)
	ns, err := multiNode(name, params, ins, children, nil, nil, func(a []operand) ([]*tensor.Dense, error) {
		o, h, c, err := m.run(a[0].f, stateArg(a, idx[0]), stateArg(a, idx[1]))
		if !lstm {
			return []*tensor.Dense{o, h}, err
		}
		return []*tensor.Dense{o, h, c}, err
	})
	if err != nil {
		return nil, nil, nil, err
	}
	if !lstm {
		return ns[0], ns[1], nil, nil
	}
	return ns[0], ns[1], ns[2], nil
}

// run is the recurrent layer on float32 tensors from h0 and c0 (nil:
// zeros); it returns the output, h_n and c_n (all zeros for a GRU).
func (m *DynamicFP16RNN) run(x, h0, c0 *tensor.Dense) (out, hn, cn *tensor.Dense, err error) {
	sh := x.Shape()
	if len(sh) != 3 || sh[2] != m.InputSize {
		return nil, nil, nil, fmt.Errorf("nodes: DynamicFP16RNN: input has shape %v, want 3-D with %d features", sh, m.InputSize)
	}
	t, b := sh[0], sh[1]
	xd := append([]float32(nil), x.Float32s()...)
	if m.BatchFirst {
		t, b = sh[1], sh[0]
		xd = transpose01(xd, b, t, m.InputSize)
	}
	dirs := 1
	if m.Bidirectional {
		dirs = 2
	}
	gates := 4
	if m.Kind == "GRU" {
		gates = 3
	}
	hs := m.HiddenSize
	states := m.NumLayers * dirs
	hAll, cAll := make([]float32, states*b*hs), make([]float32, states*b*hs)
	for _, s := range []struct {
		what string
		src  *tensor.Dense
		dst  []float32
	}{{"h0", h0, hAll}, {"c0", c0, cAll}} {
		if s.src == nil {
			continue
		}
		if ss := s.src.Shape(); len(ss) != 3 || ss[0] != states || ss[1] != b || ss[2] != hs {
			return nil, nil, nil, fmt.Errorf("nodes: DynamicFP16RNN: %s has shape %v, want [%d %d %d]", s.what, ss, states, b, hs)
		}
		copy(s.dst, s.src.Float32s())
	}
	layerIn, inSize := xd, m.InputSize
	for l := 0; l < m.NumLayers; l++ {
		layerOut := make([]float32, t*b*dirs*hs)
		for dir := 0; dir < dirs; dir++ {
			p := m.packed[l*dirs+dir]
			giD, err := ops.LinearDynamicFP16(tensor.New(tensor.WithShape(t*b, inSize), tensor.WithBacking(layerIn)), p.ih)
			if err != nil {
				return nil, nil, nil, err
			}
			gi := giD.Float32s()
			s := l*dirs + dir
			h, c := hAll[s*b*hs:(s+1)*b*hs], cAll[s*b*hs:(s+1)*b*hs]
			for step := 0; step < t; step++ {
				ts := step
				if dir == 1 {
					ts = t - 1 - step
				}
				ghD, err := ops.LinearDynamicFP16(tensor.New(tensor.WithShape(b, hs), tensor.WithBacking(append([]float32(nil), h...))), p.hh)
				if err != nil {
					return nil, nil, nil, err
				}
				gh := ghD.Float32s()
				giT := gi[ts*b*gates*hs : (ts+1)*b*gates*hs]
				for r := 0; r < b; r++ {
					gir, ghr := giT[r*gates*hs:(r+1)*gates*hs], gh[r*gates*hs:(r+1)*gates*hs]
					for j := 0; j < hs; j++ {
						if gates == 4 {
							ig := sigmoidF32(float32(ghr[j] + gir[j]))
							fg := sigmoidF32(float32(ghr[hs+j] + gir[hs+j]))
							cg := tanhF32(float32(ghr[2*hs+j] + gir[2*hs+j]))
							og := sigmoidF32(float32(ghr[3*hs+j] + gir[3*hs+j]))
							cy := float32(float32(fg*c[r*hs+j]) + float32(ig*cg))
							c[r*hs+j] = cy
							h[r*hs+j] = float32(og * tanhF32(cy))
						} else {
							rg := sigmoidF32(float32(ghr[j] + gir[j]))
							zg := sigmoidF32(float32(ghr[hs+j] + gir[hs+j]))
							ng := tanhF32(float32(gir[2*hs+j] + float32(ghr[2*hs+j]*rg)))
							hv := h[r*hs+j]
							h[r*hs+j] = float32(float32(float32(hv-ng)*zg) + ng)
						}
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
		tensor.New(tensor.WithShape(states, b, hs), tensor.WithBacking(hAll)),
		tensor.New(tensor.WithShape(states, b, hs), tensor.WithBacking(cAll)), nil
}

// TypeName returns "DynamicQuantizedLSTM" or "DynamicQuantizedGRU", as
// PyTorch names its float16 modules.
func (m *DynamicFP16RNN) TypeName() string { return "DynamicQuantized" + m.Kind }

// Clone returns a copy sharing the immutable packed weights.
func (m *DynamicFP16RNN) Clone() nn.Module {
	c := *m
	c.Base = m.CloneBase()
	c.Cells = append([]FP16CellWeights(nil), m.Cells...)
	return &c
}

// DynamicFP16Cell is nn.quantized.dynamic.LSTMCell, GRUCell and RNNCell with
// dtype float16: one step on float32 (B, I) with float16-rounded weights
// (ops.LinearDynamicFP16 projections) and the int8 cells' float32 gate
// math. Kind is "LSTMCell", "GRUCell" or "RNNCell" (Nonlinearity "tanh" or
// "relu"). Forward starts from a zero state and returns h'.
type DynamicFP16Cell struct {
	nn.Base
	nn.Stateless
	Kind, Nonlinearity string
	Weights            FP16CellWeights
	packed             fp16Packed
	hidden             int
}

// NewDynamicFP16Cell packs w (copied) for kind.
func NewDynamicFP16Cell(kind, nonlinearity string, w FP16CellWeights) (*DynamicFP16Cell, error) {
	gates := map[string]int{"LSTMCell": 4, "GRUCell": 3, "RNNCell": 1}[kind]
	if gates == 0 {
		return nil, fmt.Errorf("nodes: DynamicFP16Cell: unknown kind %q (LSTMCell, GRUCell, RNNCell)", kind)
	}
	if kind == "RNNCell" && nonlinearity != "tanh" && nonlinearity != "relu" {
		return nil, fmt.Errorf("nodes: DynamicFP16Cell: nonlinearity %q (tanh, relu)", nonlinearity)
	}
	if kind != "RNNCell" {
		nonlinearity = ""
	}
	if w.WIH == nil || w.WHH == nil {
		return nil, fmt.Errorf("nodes: DynamicFP16Cell: weights missing")
	}
	si, sh := w.WIH.Shape(), w.WHH.Shape()
	if len(si) != 2 || len(sh) != 2 || sh[0] != gates*sh[1] || si[0] != sh[0] {
		return nil, fmt.Errorf("nodes: DynamicFP16Cell: weight_ih %v and weight_hh %v are not (%dH, I) and (%dH, H)", si, sh, gates, gates)
	}
	ih, err := ops.PrepackLinearFP16(w.WIH, w.BIH)
	if err != nil {
		return nil, fmt.Errorf("nodes: DynamicFP16Cell: %w", err)
	}
	hh, err := ops.PrepackLinearFP16(w.WHH, w.BHH)
	if err != nil {
		return nil, fmt.Errorf("nodes: DynamicFP16Cell: %w", err)
	}
	cp := FP16CellWeights{WIH: w.WIH.Clone().(*tensor.Dense), WHH: w.WHH.Clone().(*tensor.Dense)}
	if w.BIH != nil {
		cp.BIH = w.BIH.Clone().(*tensor.Dense)
	}
	if w.BHH != nil {
		cp.BHH = w.BHH.Clone().(*tensor.Dense)
	}
	return &DynamicFP16Cell{Kind: kind, Nonlinearity: nonlinearity, Weights: cp, packed: fp16Packed{ih: ih, hh: hh}, hidden: sh[1]}, nil
}

// DynamicFP16CellFromFloat converts nn.LSTMCell, nn.GRUCell or nn.RNNCell
// with float16 weights.
func DynamicFP16CellFromFloat(m nn.Module) (*DynamicFP16Cell, error) {
	nl := ""
	switch f := m.(type) {
	case *nn.LSTMCell, *nn.GRUCell:
	case *nn.RNNCell:
		nl = f.Nonlinearity()
	default:
		return nil, fmt.Errorf("nodes: DynamicFP16Cell: cannot convert %T", m)
	}
	return NewDynamicFP16Cell(m.TypeName(), nl, FP16CellWeights{WIH: namedData(m, "weight_ih"), WHH: namedData(m, "weight_hh"),
		BIH: namedData(m, "bias_ih"), BHH: namedData(m, "bias_hh")})
}

// Forward returns h' from a zero state.
func (m *DynamicFP16Cell) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	h, _, err := m.ForwardState(x, nil, nil)
	return h, err
}

// ForwardState runs one step from h (and c for LSTMCell; nil for zeros) and
// returns h' (and c' for LSTMCell, else nil).
func (m *DynamicFP16Cell) ForwardState(x, h, c *gorgonia.Node) (hNext, cNext *gorgonia.Node, err error) {
	if err := requireFloat(m.TypeName(), x); err != nil {
		return nil, nil, err
	}
	const name = "DynamicFP16Cell"
	states, stateNames := []*gorgonia.Node{h}, []string{"h"}
	if m.Kind == "LSTMCell" {
		states, stateNames = append(states, c), append(stateNames, "c")
	}
	ins, children, idx, err := cellInputs(name, x, states, stateNames)
	if err != nil {
		return nil, nil, err
	}
	ns, err := multiNode(name, fmt.Sprintf("kind=%s nonlinearity=%s hidden=%d", m.Kind, m.Nonlinearity, m.hidden), ins, children, nil, nil,
		func(a []operand) ([]*tensor.Dense, error) {
			var c0 *tensor.Dense
			if len(idx) > 1 {
				c0 = stateArg(a, idx[1])
			}
			h1, c1, err := m.step(a[0].f, stateArg(a, idx[0]), c0)
			if err != nil {
				return nil, err
			}
			if m.Kind == "LSTMCell" {
				return []*tensor.Dense{h1, c1}, nil
			}
			return []*tensor.Dense{h1}, nil
		})
	if err != nil {
		return nil, nil, err
	}
	if m.Kind == "LSTMCell" {
		return ns[0], ns[1], nil
	}
	return ns[0], nil, nil
}

func (m *DynamicFP16Cell) step(x, h0, c0 *tensor.Dense) (h1, c1 *tensor.Dense, err error) {
	sx := x.Shape()
	if len(sx) != 2 {
		return nil, nil, fmt.Errorf("nodes: DynamicFP16Cell: input has shape %v, want (B, I)", sx)
	}
	b, hs := sx[0], m.hidden
	state := func(s *tensor.Dense, what string) ([]float32, error) {
		if s == nil {
			return make([]float32, b*hs), nil
		}
		if sh := s.Shape(); len(sh) != 2 || sh[0] != b || sh[1] != hs {
			return nil, fmt.Errorf("nodes: DynamicFP16Cell: %s has shape %v, want (%d, %d)", what, sh, b, hs)
		}
		return append([]float32(nil), s.Float32s()...), nil
	}
	h, err := state(h0, "h")
	if err != nil {
		return nil, nil, err
	}
	c, err := state(c0, "c")
	if err != nil {
		return nil, nil, err
	}
	giD, err := ops.LinearDynamicFP16(x, m.packed.ih)
	if err != nil {
		return nil, nil, err
	}
	ghD, err := ops.LinearDynamicFP16(tensor.New(tensor.WithShape(b, hs), tensor.WithBacking(append([]float32(nil), h...))), m.packed.hh)
	if err != nil {
		return nil, nil, err
	}
	gi, gh := giD.Float32s(), ghD.Float32s()
	g := len(gi) / (b * hs)
	for r := 0; r < b; r++ {
		gir, ghr := gi[r*g*hs:(r+1)*g*hs], gh[r*g*hs:(r+1)*g*hs]
		for j := 0; j < hs; j++ {
			switch m.Kind {
			case "LSTMCell":
				ig := sigmoidF32(float32(ghr[j] + gir[j]))
				fg := sigmoidF32(float32(ghr[hs+j] + gir[hs+j]))
				cg := tanhF32(float32(ghr[2*hs+j] + gir[2*hs+j]))
				og := sigmoidF32(float32(ghr[3*hs+j] + gir[3*hs+j]))
				cy := float32(float32(fg*c[r*hs+j]) + float32(ig*cg))
				c[r*hs+j] = cy
				h[r*hs+j] = float32(og * tanhF32(cy))
			case "GRUCell":
				rg := sigmoidF32(float32(ghr[j] + gir[j]))
				zg := sigmoidF32(float32(ghr[hs+j] + gir[hs+j]))
				ng := tanhF32(float32(gir[2*hs+j] + float32(ghr[2*hs+j]*rg)))
				hv := h[r*hs+j]
				h[r*hs+j] = float32(float32(float32(hv-ng)*zg) + ng)
			default:
				v := float32(ghr[j] + gir[j])
				if m.Nonlinearity == "relu" {
					h[r*hs+j] = max(v, 0)
				} else {
					h[r*hs+j] = tanhF32(v)
				}
			}
		}
	}
	return tensor.New(tensor.WithShape(b, hs), tensor.WithBacking(h)), tensor.New(tensor.WithShape(b, hs), tensor.WithBacking(c)), nil
}

// TypeName returns "DynamicQuantizedLSTMCell", "DynamicQuantizedGRUCell"
// or "DynamicQuantizedRNNCell", as PyTorch names its float16 cells.
func (m *DynamicFP16Cell) TypeName() string { return "DynamicQuantized" + m.Kind }

// Clone returns a copy sharing the immutable packed weights.
func (m *DynamicFP16Cell) Clone() nn.Module {
	c := *m
	c.Base = m.CloneBase()
	return &c
}
