package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// rnnKind selects the recurrence of a cell.
type rnnKind int

const (
	kindLSTM rnnKind = iota
	kindGRU
	kindRNNTanh
	kindRNNReLU
)

func (k rnnKind) gates() int {
	switch k {
	case kindLSTM:
		return 4
	case kindGRU:
		return 3
	}
	return 1
}

// cellParams are one layer-direction's weights in PyTorch's layout:
// WeightIH (G·H, I), WeightHH (G·H, H), BiasIH, BiasHH (G·H) with the gate
// blocks in PyTorch's order (LSTM i, f, g, o; GRU r, z, n).
type cellParams struct {
	WeightIH, WeightHH, BiasIH, BiasHH *Parameter
}

func newCellParams(o options, kind rnnKind, in, hidden int, bias bool) cellParams {
	b := kaimingBound(hidden) // PyTorch: U(−1/√H, 1/√H) for every tensor
	G := kind.gates()
	p := cellParams{
		WeightIH: NewParameter(o.uniform(b, G*hidden, in)),
		WeightHH: NewParameter(o.uniform(b, G*hidden, hidden)),
	}
	if bias {
		p.BiasIH = NewParameter(o.uniform(b, G*hidden))
		p.BiasHH = NewParameter(o.uniform(b, G*hidden))
	}
	return p
}

func (p cellParams) clone() cellParams {
	return cellParams{p.WeightIH.Clone(), p.WeightHH.Clone(), p.BiasIH.Clone(), p.BiasHH.Clone()}
}

func (p cellParams) named(suffix string) []Named {
	return params("weight_ih"+suffix, p.WeightIH, "weight_hh"+suffix, p.WeightHH, "bias_ih"+suffix, p.BiasIH, "bias_hh"+suffix, p.BiasHH)
}

// cellNodes are cellParams bound on one graph.
type cellNodes struct{ wih, whh, bih, bhh *gorgonia.Node }

func (p cellParams) nodes(g *gorgonia.ExprGraph) (cellNodes, error) {
	var n cellNodes
	var err error
	if n.wih, err = p.WeightIH.Node(g); err != nil {
		return n, err
	}
	if n.whh, err = p.WeightHH.Node(g); err != nil {
		return n, err
	}
	if p.BiasIH != nil {
		if n.bih, err = p.BiasIH.Node(g); err != nil {
			return n, err
		}
	}
	if p.BiasHH != nil {
		if n.bhh, err = p.BiasHH.Node(g); err != nil {
			return n, err
		}
	}
	return n, nil
}

// cellStep advances one time step from the input projection xw = x·W_ihᵀ +
// b_ih (B, G·H) and the state (h, c; c only for LSTM), with PyTorch's
// formulas:
//
//	LSTM: i,f,g,o = σ,σ,tanh,σ of xw + h·W_hhᵀ + b_hh; c' = f⊙c + i⊙g; h' = o⊙tanh(c')
//	GRU:  r,z = σ(xw_{r,z} + hw_{r,z}); n = tanh(xw_n + r⊙hw_n); h' = (h − n)⊙z + n
//	RNN:  h' = tanh or relu of xw + h·W_hhᵀ + b_hh
func cellStep(kind rnnKind, xw, h, c *gorgonia.Node, w cellNodes, H int) (*gorgonia.Node, *gorgonia.Node, error) {
	hw, err := linearNodes(h, w.whh, w.bhh)
	if err != nil {
		return nil, nil, err
	}
	chunk := func(n *gorgonia.Node, k int) (*gorgonia.Node, error) {
		return sliceAxis(n, 1, k*H, (k+1)*H)
	}
	switch kind {
	case kindLSTM:
		gates, err := elementwise(xw, hw, spanAdd)
		if err != nil {
			return nil, nil, err
		}
		var gs [4]*gorgonia.Node
		acts := [4]act{{kind: actSigmoid}, {kind: actSigmoid}, {kind: actTanh}, {kind: actSigmoid}}
		for k := range gs {
			part, err := chunk(gates, k)
			if err != nil {
				return nil, nil, err
			}
			if gs[k], err = activate(part, acts[k]); err != nil {
				return nil, nil, err
			}
		}
		fc, err := elementwise(gs[1], c, spanMul)
		if err != nil {
			return nil, nil, err
		}
		ig, err := elementwise(gs[0], gs[2], spanMul)
		if err != nil {
			return nil, nil, err
		}
		c2, err := elementwise(fc, ig, spanAdd)
		if err != nil {
			return nil, nil, err
		}
		tc, err := activate(c2, act{kind: actTanh})
		if err != nil {
			return nil, nil, err
		}
		h2, err := elementwise(gs[3], tc, spanMul)
		return h2, c2, err
	case kindGRU:
		var xs, hs [3]*gorgonia.Node
		for k := 0; k < 3; k++ {
			if xs[k], err = chunk(xw, k); err != nil {
				return nil, nil, err
			}
			if hs[k], err = chunk(hw, k); err != nil {
				return nil, nil, err
			}
		}
		var rz [2]*gorgonia.Node
		for k := 0; k < 2; k++ {
			s, err := elementwise(hs[k], xs[k], spanAdd)
			if err != nil {
				return nil, nil, err
			}
			if rz[k], err = activate(s, act{kind: actSigmoid}); err != nil {
				return nil, nil, err
			}
		}
		rn, err := elementwise(hs[2], rz[0], spanMul)
		if err != nil {
			return nil, nil, err
		}
		ns, err := elementwise(xs[2], rn, spanAdd)
		if err != nil {
			return nil, nil, err
		}
		n, err := activate(ns, act{kind: actTanh})
		if err != nil {
			return nil, nil, err
		}
		// (h − n) as (−n) + h, with the package's own (never in-place) ops.
		negN, err := activate(n, act{kind: actScale, a: -1})
		if err != nil {
			return nil, nil, err
		}
		d, err := elementwise(negN, h, spanAdd)
		if err != nil {
			return nil, nil, err
		}
		if d, err = elementwise(d, rz[1], spanMul); err != nil {
			return nil, nil, err
		}
		h2, err := elementwise(d, n, spanAdd)
		return h2, nil, err
	default:
		s, err := elementwise(xw, hw, spanAdd)
		if err != nil {
			return nil, nil, err
		}
		a := act{kind: actTanh}
		if kind == kindRNNReLU {
			a = act{kind: actReLU}
		}
		h2, err := activate(s, a)
		return h2, nil, err
	}
}

// zeros returns a constant zero node of the given shape on g.
func zeros(g *gorgonia.ExprGraph, shape ...int) *gorgonia.Node {
	return gorgonia.NewConstant(newF32(tensor.Shape(shape)), gorgonia.In(g))
}

// RNNBase is the multi-layer recurrent network shared by LSTM and GRU
// (torch.nn.LSTM, torch.nn.GRU). Input is (T, B, I) (or (B, T, I) with
// BatchFirst, or unbatched (T, I)); the output sequence is (T, B, D·H) with
// D = 2 when Bidirectional; final states are (L·D, B, H), layer-major.
// Between layers, in training mode, Dropout applies with probability
// DropoutP. Parameters are named as PyTorch's: weight_ih_l{k}[_reverse], ...
type RNNBase struct {
	Base
	InputSize, HiddenSize, NumLayers   int
	HasBias, BatchFirst, Bidirectional bool
	DropoutP                           float64
	// Cells holds layer k direction d at index k·D + d.
	Cells []cellParams

	kind    rnnKind
	dropout *Dropout
}

func newRNNBase(op string, kind rnnKind, in, hidden, layers int, bidirectional bool, opts []Option) (RNNBase, error) {
	if in <= 0 || hidden <= 0 || layers <= 0 {
		return RNNBase{}, fmt.Errorf("nn: %s: sizes must be positive (input %d, hidden %d, layers %d)", op, in, hidden, layers)
	}
	o := buildOptions(opts)
	r := RNNBase{InputSize: in, HiddenSize: hidden, NumLayers: layers, HasBias: !o.noBias, Bidirectional: bidirectional, kind: kind}
	D := r.dirs()
	for k := 0; k < layers; k++ {
		lin := in
		if k > 0 {
			lin = hidden * D
		}
		for d := 0; d < D; d++ {
			r.Cells = append(r.Cells, newCellParams(o, kind, lin, hidden, r.HasBias))
		}
	}
	return r, nil
}

func (r *RNNBase) dirs() int {
	if r.Bidirectional {
		return 2
	}
	return 1
}

// NamedParameters returns weight_ih_l0, weight_hh_l0, bias_ih_l0,
// bias_hh_l0, then the _reverse set, layer by layer (PyTorch's order).
func (r *RNNBase) NamedParameters() []Named {
	var out []Named
	D := r.dirs()
	for i, c := range r.Cells {
		suffix := fmt.Sprintf("_l%d", i/D)
		if i%D == 1 {
			suffix += "_reverse"
		}
		out = append(out, c.named(suffix)...)
	}
	return out
}

// NamedBuffers returns nothing.
func (r *RNNBase) NamedBuffers() []Named { return nil }

func (r *RNNBase) cloneRNN() RNNBase {
	c := *r
	c.Base = r.Base.cloneBase()
	c.Cells = make([]cellParams, len(r.Cells))
	for i, p := range r.Cells {
		c.Cells[i] = p.clone()
	}
	if r.dropout != nil {
		c.dropout = r.dropout.Clone().(*Dropout)
	}
	return c
}

// run is the whole recurrent forward pass; h0, c0 may be nil (zeros).
// Without wantState the final states are not built (no dangling nodes:
// the LispMachine insists every root of the graph is the scalar cost).
func (r *RNNBase) run(op string, x, h0, c0 *gorgonia.Node, wantState bool) (out, hn, cn *gorgonia.Node, err error) {
	if err := checkF32Node(op, x, -1); err != nil {
		return nil, nil, nil, err
	}
	s := x.Shape()
	unbatched := s.Dims() == 2
	if !unbatched && s.Dims() != 3 {
		return nil, nil, nil, fmt.Errorf("nn: %s: input shape %v, want (T, B, %d) or (T, %d)", op, s, r.InputSize, r.InputSize)
	}
	if s[s.Dims()-1] != r.InputSize {
		return nil, nil, nil, fmt.Errorf("nn: %s: input shape %v, want feature size %d", op, s, r.InputSize)
	}
	if unbatched {
		if x, err = reshape(x, tensor.Shape{s[0], 1, s[1]}); err != nil {
			return nil, nil, nil, err
		}
	} else if r.BatchFirst {
		if x, err = gorgonia.Transpose(x, 1, 0, 2); err != nil {
			return nil, nil, nil, err
		}
	}
	T, B, H, D, L := x.Shape()[0], x.Shape()[1], r.HiddenSize, r.dirs(), r.NumLayers
	if len(r.Cells) != L*D {
		return nil, nil, nil, fmt.Errorf("nn: %s: %d parameter sets for %d layers × %d directions", op, len(r.Cells), L, D)
	}
	g := x.Graph()
	stateShape := tensor.Shape{L * D, B, H}
	if unbatched {
		stateShape = tensor.Shape{L * D, H}
	}
	prepState := func(n *gorgonia.Node, name string) (*gorgonia.Node, error) {
		if n == nil {
			return nil, nil
		}
		if err := checkF32Node(op, n, -1); err != nil {
			return nil, err
		}
		if !sameShape(n.Shape(), stateShape) {
			return nil, fmt.Errorf("nn: %s: %s has shape %v, want %v", op, name, n.Shape(), stateShape)
		}
		return reshape(n, tensor.Shape{L * D, B, H})
	}
	if h0, err = prepState(h0, "h0"); err != nil {
		return nil, nil, nil, err
	}
	if c0, err = prepState(c0, "c0"); err != nil {
		return nil, nil, nil, err
	}
	initial := func(n *gorgonia.Node, i int) (*gorgonia.Node, error) {
		if n == nil {
			return zeros(g, B, H), nil
		}
		v, err := sliceAxis(n, 0, i, i+1)
		if err != nil {
			return nil, err
		}
		return reshape(v, tensor.Shape{B, H})
	}
	var hs, cs gorgonia.Nodes
	layerIn := x
	for k := 0; k < L; k++ {
		if k > 0 && r.DropoutP > 0 && r.Training() {
			if r.dropout == nil {
				if r.dropout, err = NewDropout(r.DropoutP); err != nil {
					return nil, nil, nil, err
				}
			}
			r.dropout.P = r.DropoutP
			if layerIn, err = r.dropout.Forward(layerIn); err != nil {
				return nil, nil, nil, err
			}
		}
		in := layerIn.Shape()[2]
		flat, err := reshape(layerIn, tensor.Shape{T * B, in})
		if err != nil {
			return nil, nil, nil, err
		}
		var dirOuts gorgonia.Nodes
		for d := 0; d < D; d++ {
			w, err := r.Cells[k*D+d].nodes(g)
			if err != nil {
				return nil, nil, nil, err
			}
			xw, err := linearNodes(flat, w.wih, w.bih)
			if err != nil {
				return nil, nil, nil, err
			}
			xsteps, err := splitRows(xw, T, B)
			if err != nil {
				return nil, nil, nil, err
			}
			h, err := initial(h0, k*D+d)
			if err != nil {
				return nil, nil, nil, err
			}
			var c *gorgonia.Node
			if r.kind == kindLSTM {
				if c, err = initial(c0, k*D+d); err != nil {
					return nil, nil, nil, err
				}
			}
			steps := make(gorgonia.Nodes, T)
			for i := 0; i < T; i++ {
				t := i
				if d == 1 {
					t = T - 1 - i
				}
				xt := xsteps[t]
				if h, c, err = cellStep(r.kind, xt, h, c, w, H); err != nil {
					return nil, nil, nil, err
				}
				if steps[t], err = reshape(h, tensor.Shape{1, B, H}); err != nil {
					return nil, nil, nil, err
				}
			}
			seq := steps[0]
			if T > 1 {
				if seq, err = cat(0, steps...); err != nil {
					return nil, nil, nil, err
				}
			}
			dirOuts = append(dirOuts, seq)
			if !wantState {
				continue
			}
			hr, err := reshape(h, tensor.Shape{1, B, H})
			if err != nil {
				return nil, nil, nil, err
			}
			hs = append(hs, hr)
			if c != nil {
				cr, err := reshape(c, tensor.Shape{1, B, H})
				if err != nil {
					return nil, nil, nil, err
				}
				cs = append(cs, cr)
			}
		}
		layerIn = dirOuts[0]
		if D == 2 {
			if layerIn, err = cat(2, dirOuts...); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	out = layerIn
	if !wantState {
		hs, cs = nil, nil
	}
	stack := func(ns gorgonia.Nodes) (*gorgonia.Node, error) {
		if len(ns) == 0 {
			return nil, nil
		}
		if len(ns) == 1 {
			return ns[0], nil
		}
		return cat(0, ns...)
	}
	if hn, err = stack(hs); err != nil {
		return nil, nil, nil, err
	}
	if len(cs) > 0 {
		if cn, err = stack(cs); err != nil {
			return nil, nil, nil, err
		}
	}
	switch {
	case unbatched:
		if out, err = reshape(out, tensor.Shape{T, D * H}); err != nil {
			return nil, nil, nil, err
		}
		if hn != nil {
			if hn, err = reshape(hn, tensor.Shape{L * D, H}); err != nil {
				return nil, nil, nil, err
			}
		}
		if cn != nil {
			if cn, err = reshape(cn, tensor.Shape{L * D, H}); err != nil {
				return nil, nil, nil, err
			}
		}
	case r.BatchFirst:
		if out, err = gorgonia.Transpose(out, 1, 0, 2); err != nil {
			return nil, nil, nil, err
		}
	}
	return out, hn, cn, nil
}

// LSTM is torch.nn.LSTM (gate order i, f, g, o).
type LSTM struct{ RNNBase }

// NewLSTM returns an LSTM with the given sizes and layer count; set
// BatchFirst and DropoutP on the result, WithBias(false) drops the biases,
// bidirectional adds the _reverse direction.
func NewLSTM(inputSize, hiddenSize, numLayers int, bidirectional bool, opts ...Option) (*LSTM, error) {
	r, err := newRNNBase("lstm", kindLSTM, inputSize, hiddenSize, numLayers, bidirectional, opts)
	if err != nil {
		return nil, err
	}
	return &LSTM{r}, nil
}

// TypeName returns "LSTM".
func (m *LSTM) TypeName() string { return "LSTM" }

// Forward returns the output sequence for zero initial states.
func (m *LSTM) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	out, _, _, err := m.run("lstm", x, nil, nil, false)
	return out, err
}

// ForwardState runs from (h0, c0) ((L·D, B, H) each, nil for zeros) and
// returns (output, h_n, c_n) as PyTorch's lstm(x, (h0, c0)).
func (m *LSTM) ForwardState(x, h0, c0 *gorgonia.Node) (out, hn, cn *gorgonia.Node, err error) {
	return m.run("lstm", x, h0, c0, true)
}

// Clone deep-copies the layer.
func (m *LSTM) Clone() Module { return &LSTM{m.cloneRNN()} }

// GRU is torch.nn.GRU (gate order r, z, n).
type GRU struct{ RNNBase }

// NewGRU returns a GRU; see NewLSTM.
func NewGRU(inputSize, hiddenSize, numLayers int, bidirectional bool, opts ...Option) (*GRU, error) {
	r, err := newRNNBase("gru", kindGRU, inputSize, hiddenSize, numLayers, bidirectional, opts)
	if err != nil {
		return nil, err
	}
	return &GRU{r}, nil
}

// TypeName returns "GRU".
func (m *GRU) TypeName() string { return "GRU" }

// Forward returns the output sequence for a zero initial state.
func (m *GRU) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	out, _, _, err := m.run("gru", x, nil, nil, false)
	return out, err
}

// ForwardState runs from h0 ((L·D, B, H), nil for zeros) and returns
// (output, h_n).
func (m *GRU) ForwardState(x, h0 *gorgonia.Node) (out, hn *gorgonia.Node, err error) {
	out, hn, _, err = m.run("gru", x, h0, nil, true)
	return out, hn, err
}

// Clone deep-copies the layer.
func (m *GRU) Clone() Module { return &GRU{m.cloneRNN()} }

// cell is the single-step module shared by LSTMCell, GRUCell and RNNCell.
type cell struct {
	Base
	InputSize, HiddenSize int
	cellParams
	kind rnnKind
}

func newCell(op string, kind rnnKind, in, hidden int, opts []Option) (cell, error) {
	if in <= 0 || hidden <= 0 {
		return cell{}, fmt.Errorf("nn: %s: sizes must be positive (input %d, hidden %d)", op, in, hidden)
	}
	o := buildOptions(opts)
	return cell{InputSize: in, HiddenSize: hidden, cellParams: newCellParams(o, kind, in, hidden, !o.noBias), kind: kind}, nil
}

// NamedParameters returns weight_ih, weight_hh, bias_ih, bias_hh.
func (c *cell) NamedParameters() []Named { return c.named("") }

// NamedBuffers returns nothing.
func (c *cell) NamedBuffers() []Named { return nil }

func (c *cell) cloneCell() cell {
	n := *c
	n.Base = c.Base.cloneBase()
	n.cellParams = c.cellParams.clone()
	return n
}

// step checks shapes ((B, I) or unbatched (I); states (B, H) or (H)) and
// runs one step.
func (c *cell) step(op string, x, h, cs *gorgonia.Node) (*gorgonia.Node, *gorgonia.Node, error) {
	if err := checkF32Node(op, x, -1); err != nil {
		return nil, nil, err
	}
	s := x.Shape()
	unbatched := s.Dims() == 1
	if (s.Dims() != 1 && s.Dims() != 2) || s[s.Dims()-1] != c.InputSize {
		return nil, nil, fmt.Errorf("nn: %s: input shape %v, want (B, %d) or (%d)", op, s, c.InputSize, c.InputSize)
	}
	B, H := 1, c.HiddenSize
	if !unbatched {
		B = s[0]
	}
	g := x.Graph()
	var err error
	if unbatched {
		if x, err = reshape(x, tensor.Shape{1, s[0]}); err != nil {
			return nil, nil, err
		}
	}
	state := func(n *gorgonia.Node, name string) (*gorgonia.Node, error) {
		if n == nil {
			return zeros(g, B, H), nil
		}
		if err := checkF32Node(op, n, -1); err != nil {
			return nil, err
		}
		want := tensor.Shape{B, H}
		if unbatched {
			want = tensor.Shape{H}
		}
		if !sameShape(n.Shape(), want) {
			return nil, fmt.Errorf("nn: %s: %s has shape %v, want %v", op, name, n.Shape(), want)
		}
		return reshape(n, tensor.Shape{B, H})
	}
	if h, err = state(h, "hx"); err != nil {
		return nil, nil, err
	}
	if c.kind == kindLSTM {
		if cs, err = state(cs, "cx"); err != nil {
			return nil, nil, err
		}
	}
	w, err := c.nodes(g)
	if err != nil {
		return nil, nil, err
	}
	xw, err := linearNodes(x, w.wih, w.bih)
	if err != nil {
		return nil, nil, err
	}
	h2, c2, err := cellStep(c.kind, xw, h, cs, w, H)
	if err != nil {
		return nil, nil, err
	}
	if unbatched {
		if h2, err = reshape(h2, tensor.Shape{H}); err != nil {
			return nil, nil, err
		}
		if c2 != nil {
			if c2, err = reshape(c2, tensor.Shape{H}); err != nil {
				return nil, nil, err
			}
		}
	}
	return h2, c2, nil
}

// LSTMCell is torch.nn.LSTMCell: one LSTM step.
type LSTMCell struct{ cell }

// NewLSTMCell returns an LSTMCell (WithBias(false) drops the biases).
func NewLSTMCell(inputSize, hiddenSize int, opts ...Option) (*LSTMCell, error) {
	c, err := newCell("lstm_cell", kindLSTM, inputSize, hiddenSize, opts)
	if err != nil {
		return nil, err
	}
	return &LSTMCell{c}, nil
}

// TypeName returns "LSTMCell".
func (m *LSTMCell) TypeName() string { return "LSTMCell" }

// Forward returns h' for zero (h, c).
func (m *LSTMCell) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	h, _, err := m.ForwardState(x, nil, nil)
	return h, err
}

// ForwardState returns (h', c') from (h, c) (nil for zeros).
func (m *LSTMCell) ForwardState(x, h, c *gorgonia.Node) (*gorgonia.Node, *gorgonia.Node, error) {
	return m.step("lstm_cell", x, h, c)
}

// Clone deep-copies the cell.
func (m *LSTMCell) Clone() Module { return &LSTMCell{m.cloneCell()} }

// GRUCell is torch.nn.GRUCell: one GRU step.
type GRUCell struct{ cell }

// NewGRUCell returns a GRUCell.
func NewGRUCell(inputSize, hiddenSize int, opts ...Option) (*GRUCell, error) {
	c, err := newCell("gru_cell", kindGRU, inputSize, hiddenSize, opts)
	if err != nil {
		return nil, err
	}
	return &GRUCell{c}, nil
}

// TypeName returns "GRUCell".
func (m *GRUCell) TypeName() string { return "GRUCell" }

// Forward returns h' for a zero h.
func (m *GRUCell) Forward(x *gorgonia.Node) (*gorgonia.Node, error) { return m.ForwardState(x, nil) }

// ForwardState returns h' from h (nil for zeros).
func (m *GRUCell) ForwardState(x, h *gorgonia.Node) (*gorgonia.Node, error) {
	h2, _, err := m.step("gru_cell", x, h, nil)
	return h2, err
}

// Clone deep-copies the cell.
func (m *GRUCell) Clone() Module { return &GRUCell{m.cloneCell()} }

// RNNCell is torch.nn.RNNCell: h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)
// (or relu).
type RNNCell struct{ cell }

// NewRNNCell returns an RNNCell; nonlinearity is "tanh" or "relu".
func NewRNNCell(inputSize, hiddenSize int, nonlinearity string, opts ...Option) (*RNNCell, error) {
	kind := kindRNNTanh
	switch nonlinearity {
	case "tanh", "":
	case "relu":
		kind = kindRNNReLU
	default:
		return nil, fmt.Errorf("nn: rnn_cell: unknown nonlinearity %q (tanh or relu)", nonlinearity)
	}
	c, err := newCell("rnn_cell", kind, inputSize, hiddenSize, opts)
	if err != nil {
		return nil, err
	}
	return &RNNCell{c}, nil
}

// TypeName returns "RNNCell".
func (m *RNNCell) TypeName() string { return "RNNCell" }

// Nonlinearity returns "tanh" or "relu".
func (m *RNNCell) Nonlinearity() string {
	if m.kind == kindRNNReLU {
		return "relu"
	}
	return "tanh"
}

// Forward returns h' for a zero h.
func (m *RNNCell) Forward(x *gorgonia.Node) (*gorgonia.Node, error) { return m.ForwardState(x, nil) }

// ForwardState returns h' from h (nil for zeros).
func (m *RNNCell) ForwardState(x, h *gorgonia.Node) (*gorgonia.Node, error) {
	h2, _, err := m.step("rnn_cell", x, h, nil)
	return h2, err
}

// Clone deep-copies the cell.
func (m *RNNCell) Clone() Module { return &RNNCell{m.cloneCell()} }

// RNN is torch.nn.RNN: h' = tanh (or relu) of x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh
// per layer and direction; shapes and names as LSTM and GRU.
type RNN struct{ RNNBase }

// NewRNN returns an Elman RNN; nonlinearity is "tanh" or "relu"; see NewLSTM.
func NewRNN(inputSize, hiddenSize, numLayers int, nonlinearity string, bidirectional bool, opts ...Option) (*RNN, error) {
	kind := kindRNNTanh
	switch nonlinearity {
	case "tanh", "":
	case "relu":
		kind = kindRNNReLU
	default:
		return nil, fmt.Errorf("nn: rnn: unknown nonlinearity %q (tanh or relu)", nonlinearity)
	}
	r, err := newRNNBase("rnn", kind, inputSize, hiddenSize, numLayers, bidirectional, opts)
	if err != nil {
		return nil, err
	}
	return &RNN{r}, nil
}

// TypeName returns "RNN".
func (m *RNN) TypeName() string { return "RNN" }

// Nonlinearity returns "tanh" or "relu".
func (m *RNN) Nonlinearity() string {
	if m.kind == kindRNNReLU {
		return "relu"
	}
	return "tanh"
}

// Forward returns the output sequence for a zero initial state.
func (m *RNN) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	out, _, _, err := m.run("rnn", x, nil, nil, false)
	return out, err
}

// ForwardState runs from h0 ((L·D, B, H), nil for zeros) and returns
// (output, h_n).
func (m *RNN) ForwardState(x, h0 *gorgonia.Node) (out, hn *gorgonia.Node, err error) {
	out, hn, _, err = m.run("rnn", x, h0, nil, true)
	return out, hn, err
}

// Clone deep-copies the layer.
func (m *RNN) Clone() Module { return &RNN{m.cloneRNN()} }

// splitRows cuts x (T·B, F) into T blocks of B rows by halving
// recursively: the gradient of each narrow is padded to its parent's size,
// so a balanced tree costs O(T·B·F·log T) in the backward pass where
// slicing every step from x directly would cost O(T²·B·F).
func splitRows(x *gorgonia.Node, T, B int) (gorgonia.Nodes, error) {
	out := make(gorgonia.Nodes, T)
	var rec func(n *gorgonia.Node, lo, hi int) error
	rec = func(n *gorgonia.Node, lo, hi int) error {
		if hi-lo == 1 {
			out[lo] = n
			return nil
		}
		mid := (lo + hi) / 2
		left, err := narrow(n, 0, 0, (mid-lo)*B)
		if err != nil {
			return err
		}
		right, err := narrow(n, 0, (mid-lo)*B, (hi-lo)*B)
		if err != nil {
			return err
		}
		if err := rec(left, lo, mid); err != nil {
			return err
		}
		return rec(right, mid, hi)
	}
	if err := checkF32Node("split", x, 2); err != nil {
		return nil, err
	}
	if x.Shape()[0] != T*B {
		return nil, fmt.Errorf("nn: split: %v rows, want %d·%d", x.Shape(), T, B)
	}
	return out, rec(x, 0, T)
}
