package ops

import (
	"fmt"
	"math"
	"sync"

	"github.com/qgorgonia/qgorgonia/kernels"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// QuantizeDynamicWeight quantizes a float32 weight to qint8 as
// torch.ao.quantization.quantize_dynamic does with its default weight
// observers: PerTensorSymmetric is default_dynamic_qconfig's
// MinMaxObserver(qint8, per_tensor_symmetric), scale = max(|min|, |max|)/127.5
// (at least float32 eps), zero point 0; PerChannelSymmetric is
// per_channel_dynamic_qconfig's PerChannelMinMaxObserver along axis 0, one
// such scale per row. The affine schemes use the observers' affine formula
// over [−128, 127]. w must be at least 1-D (2-D for per-channel) and free of
// NaN and ±Inf.
func QuantizeDynamicWeight(w *tensor.Dense, scheme qdtype.QScheme) (*qtensor.QTensor, error) {
	const op = "quantize_dynamic_weight"
	wd, err := float32Data(op, "weight", w)
	if err != nil {
		return nil, err
	}
	for i, v := range wd {
		if math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("ops: %s: weight is %v at flat index %d", op, v, i)
		}
	}
	shape := []int(w.Shape())
	var mins, maxs []float32
	switch scheme {
	case qdtype.PerTensorSymmetric, qdtype.PerTensorAffine:
		mins, maxs = minMax(wd, 1)
	case qdtype.PerChannelSymmetric, qdtype.PerChannelAffine:
		if len(shape) < 1 || shape[0] == 0 {
			return nil, fmt.Errorf("ops: %s: weight of shape %v has no channels along axis 0", op, shape)
		}
		mins, maxs = minMax(wd, shape[0])
	default:
		return nil, fmt.Errorf("ops: %s: qscheme %v is not supported", op, scheme)
	}
	scales, zps, _, err := qdtype.CalculateQParams(mins, maxs, qdtype.QInt8Dtype, scheme, -128, 127, false, qdtype.Eps)
	if err != nil {
		return nil, fmt.Errorf("ops: %s: %w", op, err)
	}
	s64 := make([]float64, len(scales))
	for i, s := range scales {
		s64[i] = float64(s)
	}
	var qp qdtype.QParams
	if scheme.PerChannel() {
		qp, err = qdtype.PerChannel(qdtype.QInt8Dtype, s64, zps, 0)
	} else {
		qp, err = qdtype.PerTensor(qdtype.QInt8Dtype, s64[0], zps[0])
	}
	if err != nil {
		return nil, fmt.Errorf("ops: %s: %w", op, err)
	}
	return qtensor.Quantize(w, qp)
}

// minMax returns the minimum and maximum of each of ch equal runs of d
// (+Inf and −Inf for empty runs, as never-observed observers hold).
func minMax(d []float32, ch int) ([]float32, []float32) {
	mins, maxs := make([]float32, ch), make([]float32, ch)
	per := 0
	if ch > 0 {
		per = len(d) / ch
	}
	for c := 0; c < ch; c++ {
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for _, v := range d[c*per : (c+1)*per] {
			lo = min(lo, v)
			hi = max(hi, v)
		}
		mins[c], maxs[c] = lo, hi
	}
	return mins, maxs
}

// RNNCellParams are one dynamically quantized recurrent cell's weights:
// the packed input projection W_ih (G·H, I) with b_ih and the hidden
// projection W_hh (G·H, H) with b_hh, where G is 4 for LSTM (gates i, f, g,
// o), 3 for GRU (r, z, n) and 1 for the plain RNN. PyTorch's
// CellParamsBase of quantize_dynamic (QuantizedCellParamsDynamic, with
// reduce_range=True). Immutable.
type RNNCellParams struct {
	ih, hh            *PackedLinear
	inputSize, hidden int
	gates             int
}

// PrepackRNNCell packs a cell's qint8 weights wIH (G·H, I) and wHH (G·H, H)
// with their float32 biases (nil or G·H each), as nnqd.LSTMCell / GRUCell /
// RNNCell and the layers of nnqd.LSTM do. G is derived from the shapes.
func PrepackRNNCell(wIH, wHH *qtensor.QTensor, bIH, bHH *tensor.Dense) (*RNNCellParams, error) {
	const op = "rnn_cell_prepack"
	if wIH == nil || wHH == nil {
		return nil, fmt.Errorf("ops: %s: nil weight", op)
	}
	sh, si := wHH.Shape(), wIH.Shape()
	if len(sh) != 2 || len(si) != 2 || sh[1] == 0 || sh[0]%sh[1] != 0 || si[0] != sh[0] {
		return nil, fmt.Errorf("ops: %s: weights have shapes %v and %v, want (G·H, I) and (G·H, H)", op, si, sh)
	}
	ih, err := PrepackLinear(wIH, bIH)
	if err != nil {
		return nil, err
	}
	hh, err := PrepackLinear(wHH, bHH)
	if err != nil {
		return nil, err
	}
	return &RNNCellParams{ih: ih, hh: hh, inputSize: si[1], hidden: sh[1], gates: sh[0] / sh[1]}, nil
}

// QuantizeRNNCell quantizes float32 cell weights with QuantizeDynamicWeight
// (scheme PerTensorSymmetric or PerChannelSymmetric) and packs them with
// their float32 biases: what quantize_dynamic does to one cell or one
// layer and direction of an LSTM. Like PyTorch's dynamic RNN modules
// (whose from_float asserts bias=True) it requires both biases; use
// PrepackRNNCell for cells without bias.
func QuantizeRNNCell(wIH, wHH, bIH, bHH *tensor.Dense, scheme qdtype.QScheme) (*RNNCellParams, error) {
	if bIH == nil || bHH == nil {
		return nil, fmt.Errorf("ops: quantize_rnn_cell: dynamic quantization needs both biases (PyTorch rejects bias=False)")
	}
	qi, err := QuantizeDynamicWeight(wIH, scheme)
	if err != nil {
		return nil, err
	}
	qh, err := QuantizeDynamicWeight(wHH, scheme)
	if err != nil {
		return nil, err
	}
	return PrepackRNNCell(qi, qh, bIH, bHH)
}

// InputSize returns I.
func (p *RNNCellParams) InputSize() int { return p.inputSize }

// HiddenSize returns H.
func (p *RNNCellParams) HiddenSize() int { return p.hidden }

// Gates returns G (4 LSTM, 3 GRU, 1 RNN).
func (p *RNNCellParams) Gates() int { return p.gates }

// cellState validates a (B, H) state (nil means zeros) and returns a copy.
func cellState(op, name string, s *tensor.Dense, b, h int) ([]float32, error) {
	if s == nil {
		return make([]float32, b*h), nil
	}
	d, err := float32Data(op, name, s)
	if err != nil {
		return nil, err
	}
	if sh := s.Shape(); len(sh) != 2 || sh[0] != b || sh[1] != h {
		return nil, fmt.Errorf("ops: %s: %s has shape %v, want [%d %d]", op, name, sh, b, h)
	}
	return append([]float32(nil), d...), nil
}

func cellInput(op string, x *tensor.Dense, p *RNNCellParams, gates int) ([]float32, int, error) {
	if p == nil {
		return nil, 0, fmt.Errorf("ops: %s: nil cell parameters", op)
	}
	if p.gates != gates {
		return nil, 0, fmt.Errorf("ops: %s: cell parameters have %d gates, want %d", op, p.gates, gates)
	}
	xd, err := float32Data(op, "input", x)
	if err != nil {
		return nil, 0, err
	}
	if sh := x.Shape(); len(sh) != 2 || sh[1] != p.inputSize {
		return nil, 0, fmt.Errorf("ops: %s: input has shape %v, want (batch, %d)", op, sh, p.inputSize)
	}
	return xd, x.Shape()[0], nil
}

// projections returns the dynamic linear projections W_ih·x + b_ih and
// W_hh·h + b_hh, (B, G·H) each.
func (p *RNNCellParams) projections(op string, x, h []float32, b int) ([]float32, []float32, error) {
	gi := make([]float32, b*p.gates*p.hidden)
	gh := make([]float32, b*p.gates*p.hidden)
	if err := linearDynamicRaw(op, x, b, p.ih, true, gi); err != nil {
		return nil, nil, err
	}
	if err := linearDynamicRaw(op, h, b, p.hh, true, gh); err != nil {
		return nil, nil, err
	}
	return gi, gh, nil
}

// sigmoid32 and tanh32 are the gate activations: kernels.Sigmoid32 and
// kernels.Tanh32, within 1 ulp of the correctly rounded float32 values and
// identical on every build.
func sigmoid32(v float32) float32 { return kernels.Sigmoid32(v) }
func tanh32(v float32) float32    { return kernels.Tanh32(v) }

// lstmStep applies the LSTM gate math to projections gi and gh (B, 4H),
// updating h and c (B, H) in place, in PyTorch's order:
// gates = gh + gi; c' = σ(f)·c + σ(i)·tanh(g); h' = σ(o)·tanh(c')
// (kernels.LSTMGatesF32 per batch row; σ and tanh are sigmoid32 and tanh32).
func lstmStep(gi, gh, h, c []float32, b, hs int) {
	for r := 0; r < b; r++ {
		kernels.LSTMGatesF32(gi[r*4*hs:(r+1)*4*hs], gh[r*4*hs:(r+1)*4*hs], h[r*hs:(r+1)*hs], c[r*hs:(r+1)*hs])
	}
}

// gruStep applies the GRU gate math in PyTorch's order:
// r = σ(gh_r + gi_r); z = σ(gh_z + gi_z); n = tanh(gi_n + gh_n·r);
// h' = (h − n)·z + n.
func gruStep(gi, gh, h []float32, b, hs int) {
	for r := 0; r < b; r++ {
		gir, ghr := gi[r*3*hs:(r+1)*3*hs], gh[r*3*hs:(r+1)*3*hs]
		for j := 0; j < hs; j++ {
			rg := sigmoid32(float32(ghr[j] + gir[j]))
			zg := sigmoid32(float32(ghr[hs+j] + gir[hs+j]))
			ng := tanh32(float32(gir[2*hs+j] + float32(ghr[2*hs+j]*rg)))
			hv := h[r*hs+j]
			h[r*hs+j] = float32(float32(float32(hv-ng)*zg) + ng)
		}
	}
}

// LSTMCell is the dynamically quantized LSTM cell
// (torch.ops.quantized.quantized_lstm_cell_dynamic, nnqd.LSTMCell):
//
//	g = (W_hh·h + b_hh) + (W_ih·x + b_ih)    (two LinearDynamic calls, reduce_range=True)
//	i, f, ĉ, o = σ(g₀), σ(g₁), tanh(g₂), σ(g₃)
//	c' = f·c + i·ĉ;  h' = o·tanh(c')
//
// in float32. x is (B, I); h and c are (B, H), nil meaning zeros. It
// returns new (h', c'); the inputs are not modified.
func LSTMCell(x, h, c *tensor.Dense, p *RNNCellParams) (*tensor.Dense, *tensor.Dense, error) {
	const op = "quantized_lstm_cell_dynamic"
	xd, b, err := cellInput(op, x, p, 4)
	if err != nil {
		return nil, nil, err
	}
	hd, err := cellState(op, "h", h, b, p.hidden)
	if err != nil {
		return nil, nil, err
	}
	cd, err := cellState(op, "c", c, b, p.hidden)
	if err != nil {
		return nil, nil, err
	}
	gi, gh, err := p.projections(op, xd, hd, b)
	if err != nil {
		return nil, nil, err
	}
	lstmStep(gi, gh, hd, cd, b, p.hidden)
	return float32Dense([]int{b, p.hidden}, hd), float32Dense([]int{b, p.hidden}, cd), nil
}

// GRUCell is the dynamically quantized GRU cell
// (quantized_gru_cell_dynamic, nnqd.GRUCell), with gi = W_ih·x + b_ih and
// gh = W_hh·h + b_hh from LinearDynamic (reduce_range=True):
//
//	r = σ(gi_r + gh_r);  z = σ(gi_z + gh_z);  n = tanh(gi_n + r·gh_n)
//	h' = (h − n)·z + n   (= (1 − z)·n + z·h)
//
// x is (B, I); h is (B, H), nil meaning zeros.
func GRUCell(x, h *tensor.Dense, p *RNNCellParams) (*tensor.Dense, error) {
	const op = "quantized_gru_cell_dynamic"
	xd, b, err := cellInput(op, x, p, 3)
	if err != nil {
		return nil, err
	}
	hd, err := cellState(op, "h", h, b, p.hidden)
	if err != nil {
		return nil, err
	}
	gi, gh, err := p.projections(op, xd, hd, b)
	if err != nil {
		return nil, err
	}
	gruStep(gi, gh, hd, b, p.hidden)
	return float32Dense([]int{b, p.hidden}, hd), nil
}

// RNNTanhCell is the dynamically quantized Elman cell
// (quantized_rnn_tanh_cell_dynamic, nnqd.RNNCell(nonlinearity="tanh")):
// h' = tanh((W_hh·h + b_hh) + (W_ih·x + b_ih)). x is (B, I); h is (B, H),
// nil meaning zeros.
func RNNTanhCell(x, h *tensor.Dense, p *RNNCellParams) (*tensor.Dense, error) {
	return rnnCell("quantized_rnn_tanh_cell_dynamic", x, h, p, tanh32)
}

// RNNReLUCell is RNNTanhCell with ReLU: h' = max((W_hh·h + b_hh) + (W_ih·x + b_ih), 0)
// (quantized_rnn_relu_cell_dynamic).
func RNNReLUCell(x, h *tensor.Dense, p *RNNCellParams) (*tensor.Dense, error) {
	return rnnCell("quantized_rnn_relu_cell_dynamic", x, h, p, func(v float32) float32 { return max(v, 0) })
}

func rnnCell(op string, x, h *tensor.Dense, p *RNNCellParams, act func(float32) float32) (*tensor.Dense, error) {
	xd, b, err := cellInput(op, x, p, 1)
	if err != nil {
		return nil, err
	}
	hd, err := cellState(op, "h", h, b, p.hidden)
	if err != nil {
		return nil, err
	}
	gi, gh, err := p.projections(op, xd, hd, b)
	if err != nil {
		return nil, err
	}
	for i := range hd {
		hd[i] = act(float32(gh[i] + gi[i]))
	}
	return float32Dense([]int{b, p.hidden}, hd), nil
}

// LSTMParams are the weights of a dynamically quantized multi-layer LSTM
// (nnqd.LSTM): one RNNCellParams per layer and direction, layer-major with
// the forward direction before the reverse one.
type LSTMParams struct {
	cells         []*RNNCellParams
	layers        int
	bidirectional bool
	batchFirst    bool
}

// NewLSTMParams checks that cells form a numLayers-layer LSTM (2·numLayers
// cells when bidirectional) with matching sizes: 4 gates everywhere, one
// hidden size, and layer l > 0 taking H (2H when bidirectional) inputs.
// batchFirst selects (B, T, I) inputs and outputs instead of (T, B, I).
func NewLSTMParams(cells []*RNNCellParams, numLayers int, bidirectional, batchFirst bool) (*LSTMParams, error) {
	const op = "quantized_lstm"
	dirs := 1
	if bidirectional {
		dirs = 2
	}
	if numLayers < 1 || len(cells) != numLayers*dirs {
		return nil, fmt.Errorf("ops: %s: %d cells for %d layers and %d directions", op, len(cells), numLayers, dirs)
	}
	for i, c := range cells {
		if c == nil || c.gates != 4 {
			return nil, fmt.Errorf("ops: %s: cell %d is not an LSTM cell (4 gates)", op, i)
		}
		if c.hidden != cells[0].hidden {
			return nil, fmt.Errorf("ops: %s: cell %d has hidden size %d, cell 0 has %d", op, i, c.hidden, cells[0].hidden)
		}
		if l := i / dirs; l > 0 && c.inputSize != dirs*c.hidden {
			return nil, fmt.Errorf("ops: %s: layer %d takes %d inputs, want %d", op, l, c.inputSize, dirs*c.hidden)
		}
		if i/dirs == 0 && c.inputSize != cells[0].inputSize {
			return nil, fmt.Errorf("ops: %s: layer 0 directions take %d and %d inputs", op, cells[0].inputSize, c.inputSize)
		}
	}
	return &LSTMParams{cells: append([]*RNNCellParams(nil), cells...), layers: numLayers, bidirectional: bidirectional, batchFirst: batchFirst}, nil
}

// LSTM runs the dynamically quantized LSTM (torch.quantized_lstm with
// use_dynamic=True, nnqd.LSTM.forward). x is (T, B, I), or (B, T, I) with
// batchFirst; h0 and c0 are (layers·dirs, B, H), nil meaning zeros. Per
// layer and direction, the input projection W_ih·x + b_ih is one
// LinearDynamic call over the whole sequence (one set of activation
// qparams), and W_hh·h + b_hh one call per time step, both with
// reduce_range=True; the gate math is LSTMCell's. The reverse direction
// walks the sequence backwards; a layer's output is the concatenation of
// its directions' hidden states. It returns output (T, B, dirs·H) (batch
// first if requested), h_n and c_n (layers·dirs, B, H).
func LSTM(x, h0, c0 *tensor.Dense, p *LSTMParams) (out, hn, cn *tensor.Dense, err error) {
	const op = "quantized_lstm"
	if p == nil {
		return nil, nil, nil, fmt.Errorf("ops: %s: nil parameters", op)
	}
	xd, err := float32Data(op, "input", x)
	if err != nil {
		return nil, nil, nil, err
	}
	sh := x.Shape()
	in := p.cells[0].inputSize
	if len(sh) != 3 || sh[2] != in {
		return nil, nil, nil, fmt.Errorf("ops: %s: input has shape %v, want 3-D with %d features", op, sh, in)
	}
	t, b := sh[0], sh[1]
	if p.batchFirst {
		t, b = sh[1], sh[0]
		xd = swap01(xd, b, t, in)
	}
	dirs := 1
	if p.bidirectional {
		dirs = 2
	}
	hs := p.cells[0].hidden
	states := p.layers * dirs
	hAll, err := lstmState(op, "h0", h0, states, b, hs)
	if err != nil {
		return nil, nil, nil, err
	}
	cAll, err := lstmState(op, "c0", c0, states, b, hs)
	if err != nil {
		return nil, nil, nil, err
	}
	// Buffers shared by all layers and directions, reused across calls: the
	// input projection and the hidden projection (each overwritten whole
	// by its GEMM before it is read) and the quantization buffers.
	w := lstmWorkPool.Get().(*lstmWork)
	defer lstmWorkPool.Put(w)
	gi, gh, sc := w.grow(t*b*4*hs), w.growH(b*4*hs), &w.sc
	layerIn := xd
	for l := 0; l < p.layers; l++ {
		layerOut := make([]float32, t*b*dirs*hs)
		for dir := 0; dir < dirs; dir++ {
			c := p.cells[l*dirs+dir]
			if err := linearDynamicScratch(op, layerIn, t*b, c.ih, true, gi, sc); err != nil {
				return nil, nil, nil, err
			}
			s := l*dirs + dir
			h, cc := hAll[s*b*hs:(s+1)*b*hs], cAll[s*b*hs:(s+1)*b*hs]
			for step := 0; step < t; step++ {
				ts := step
				if dir == 1 {
					ts = t - 1 - step
				}
				if err := linearDynamicScratch(op, h, b, c.hh, true, gh, sc); err != nil {
					return nil, nil, nil, err
				}
				lstmStep(gi[ts*b*4*hs:(ts+1)*b*4*hs], gh, h, cc, b, hs)
				for r := 0; r < b; r++ {
					copy(layerOut[(ts*b+r)*dirs*hs+dir*hs:], h[r*hs:(r+1)*hs])
				}
			}
		}
		layerIn = layerOut
	}
	outData := layerIn
	outShape := []int{t, b, dirs * hs}
	if p.batchFirst {
		outData = swap01(layerIn, t, b, dirs*hs)
		outShape = []int{b, t, dirs * hs}
	}
	return float32Dense(outShape, outData), float32Dense([]int{states, b, hs}, hAll), float32Dense([]int{states, b, hs}, cAll), nil
}

// lstmWork is LSTM's scratch, pooled across calls so that large
// sequences do not allocate (and zero) megabytes per call.
type lstmWork struct {
	gi, gh []float32
	sc     dynScratch
}

var lstmWorkPool = sync.Pool{New: func() any { return new(lstmWork) }}

// grow returns w.gi resized to n values (contents unspecified).
func (w *lstmWork) grow(n int) []float32 {
	if cap(w.gi) < n {
		w.gi = make([]float32, n)
	}
	return w.gi[:n]
}

// growH returns w.gh resized to n values (contents unspecified).
func (w *lstmWork) growH(n int) []float32 {
	if cap(w.gh) < n {
		w.gh = make([]float32, n)
	}
	return w.gh[:n]
}

// swap01 transposes the first two dimensions of an (a, b, f) array.
func swap01(d []float32, a, b, f int) []float32 {
	out := make([]float32, len(d))
	for i := 0; i < a; i++ {
		for j := 0; j < b; j++ {
			copy(out[(j*a+i)*f:(j*a+i+1)*f], d[(i*b+j)*f:(i*b+j+1)*f])
		}
	}
	return out
}

func lstmState(op, name string, s *tensor.Dense, states, b, h int) ([]float32, error) {
	if s == nil {
		return make([]float32, states*b*h), nil
	}
	d, err := float32Data(op, name, s)
	if err != nil {
		return nil, err
	}
	if sh := s.Shape(); len(sh) != 3 || sh[0] != states || sh[1] != b || sh[2] != h {
		return nil, fmt.Errorf("ops: %s: %s has shape %v, want [%d %d %d]", op, name, sh, states, b, h)
	}
	return append([]float32(nil), d...), nil
}
