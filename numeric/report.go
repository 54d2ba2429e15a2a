package numeric

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// Kind says what a Comparison compared.
type Kind string

// The comparisons of the suite.
const (
	// KindWeight: float weights against their dequantized quantized twins
	// (CompareWeights).
	KindWeight Kind = "weight"
	// KindOutput: module outputs of the float and the quantized model run
	// separately on the same batches (CompareModelOutputs); errors
	// accumulate along the model.
	KindOutput Kind = "output"
	// KindShadow: each quantized module against its float twin run on the
	// same input (CompareModelStub); a layer's own error.
	KindShadow Kind = "shadow"
)

// Layer is the comparison of one module (or one weight) of the quantized
// model with its float twin.
type Layer struct {
	// Name is the quantized module's path ("features.0"), or the weight's
	// state-dict name ("features.0.weight") for KindWeight; "" is the root.
	Name string
	Kind Kind
	// FloatPath is the path of the float module whose output was compared
	// (the last of a fused group); FloatType and QuantType the TypeNames
	// ("Conv2d+BatchNorm2d+ReLU" for a group).
	FloatPath, FloatType, QuantType string
	// Shape is the shape of the first compared tensor; Calls how many
	// tensors were accumulated (batches × calls per batch).
	Shape []int
	Calls int
	// QParams are those of the first quantized tensor (nil for float
	// outputs of dynamic modules).
	QParams *qdtype.QParams
	Metrics Metrics

	acc                *accum
	samplesF, samplesQ []float32
}

// Samples returns the (float, dequantized) value pairs kept for the
// histogram: a uniform sample of at most the WithMaxSamples count over all
// batches (all values for weights).
func (l *Layer) Samples() (float, quant []float32) { return l.samplesF, l.samplesQ }

// Comparison is the result of one of CompareWeights, CompareModelOutputs or
// CompareModelStub: a Layer per compared module, in model order.
type Comparison struct {
	Kind    Kind
	Batches int
	Layers  []*Layer
}

// Layer returns the layer called name, or nil.
func (c *Comparison) Layer(name string) *Layer {
	for _, l := range c.Layers {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// Ranked returns the layers worst first: ascending SQNR, ties by
// descending mean absolute error, then model order.
func (c *Comparison) Ranked() []*Layer {
	out := append([]*Layer(nil), c.Layers...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Metrics, out[j].Metrics
		if a.SQNR != b.SQNR {
			return a.SQNR < b.SQNR
		}
		return a.MeanAbsErr > b.MeanAbsErr
	})
	return out
}

// SuggestFloatFallback returns the paths of the k quantized modules whose
// own error is worst (lowest SQNR of a shadow comparison), worst first:
// candidates to keep in float by giving them a nil qconfig before
// preparing again (ApplyFloatFallback). Quantize stubs, pass-through
// modules (ReLU, pools, ...) and layers without error (SQNR +Inf) are
// never suggested; fewer than k paths come
// back when fewer modules qualify. The paths are those of the float model
// the comparison was made with. Errors: c is not a shadow comparison
// (KindShadow), k < 1.
func (c *Comparison) SuggestFloatFallback(k int) ([]string, error) {
	if c == nil || c.Kind != KindShadow {
		return nil, fmt.Errorf("numeric: suggest float fallback: need a shadow comparison (CompareModelStub), got %v", kindOf(c))
	}
	if k < 1 {
		return nil, fmt.Errorf("numeric: suggest float fallback: k = %d, want ≥ 1", k)
	}
	var out []string
	for _, l := range c.Ranked() {
		if len(out) == k {
			break
		}
		if l.QuantType == "Quantize" || isPassthroughType(l.QuantType) || math.IsInf(l.Metrics.SQNR, 1) {
			continue
		}
		out = append(out, l.Name)
	}
	return out, nil
}

func kindOf(c *Comparison) string {
	if c == nil {
		return "nil"
	}
	return string(c.Kind)
}

// isPassthroughType reports whether a quantized TypeName is a pass-through
// wrapper of a float module ("QuantizedReLU", "QuantizedMaxPool2d", ...),
// whose quantized form has no qconfig of its own to turn off.
func isPassthroughType(t string) bool {
	if !strings.HasPrefix(t, "Quantized") {
		return false
	}
	switch strings.TrimPrefix(t, "Quantized") {
	case "ReLU", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Hardtanh", "Upsample", "Flatten",
		"Dropout", "Identity", "Sigmoid", "Tanh", "Hardsigmoid":
		return true
	}
	return false
}

// ApplyFloatFallback sets the qconfig of the float model's modules at paths
// to eager.NoQConfig (PyTorch's module.qconfig = None), so that preparing
// and converting again leaves them float. The caller must make sure a
// DeQuantStub and QuantStub surround them where the model changes between
// quantized and float (eager.Convert's guards report a missing one).
// Errors: a path that does not exist.
func ApplyFloatFallback(floatModel nn.Module, paths []string) error {
	for _, p := range paths {
		m, err := nn.Get(floatModel, p)
		if err != nil {
			return fmt.Errorf("numeric: apply float fallback: %w", err)
		}
		m.ModuleBase().QConfig = eager.NoQConfig
	}
	return nil
}

func displayName(n string) string {
	if n == "" {
		return "<root>"
	}
	return n
}

// fmtDB formats an SQNR value.
func fmtDB(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func pct(v float64) string { return strconv.FormatFloat(100*v, 'f', 2, 64) }

// WriteText writes the comparison as a plain-text table, worst layer
// first (Ranked): SQNR in dB, max and mean absolute error, cosine
// similarity, and for quantized tensors the percentage of codes at qmin and
// qmax and of float values outside the representable range; a legend line
// ends the table.
func (c *Comparison) WriteText(w io.Writer) error {
	if c == nil {
		return fmt.Errorf("numeric: write text: nil comparison")
	}
	title := map[Kind]string{
		KindWeight: "weights: float vs dequantized quantized weight",
		KindOutput: "module outputs: float model vs quantized model (error accumulated along the model)",
		KindShadow: "shadow: each quantized module vs its float twin on the same input (the layer's own error)",
	}[c.Kind]
	if c.Kind != KindWeight {
		title += fmt.Sprintf(", %d batches", c.Batches)
	}
	if _, err := fmt.Fprintf(w, "%s, worst first\n", title); err != nil {
		return err
	}
	rows := [][]string{{"#", "layer", "type", "SQNR dB", "max|err|", "mean|err|", "cosine", "sat lo %", "sat hi %", "clipped %"}}
	for i, l := range c.Ranked() {
		m := l.Metrics
		sl, sh, cl := "-", "-", "-"
		if m.Quantized {
			sl, sh, cl = pct(m.SatLow), pct(m.SatHigh), pct(m.Clipped)
		}
		rows = append(rows, []string{strconv.Itoa(i + 1), displayName(l.Name), l.QuantType, fmtDB(m.SQNR),
			fmt.Sprintf("%.4g", m.MaxAbsErr), fmt.Sprintf("%.4g", m.MeanAbsErr), fmt.Sprintf("%.6f", m.Cosine), sl, sh, cl})
	}
	b := formatTable(rows, 1, 2)
	b.WriteString("sat lo/hi: codes at the dtype's qmin/qmax (a ReLU output's zeros count as qmin); clipped: float values beyond the quantized range by more than half a step\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// formatTable lays rows out in columns two spaces apart, the columns in
// left left-aligned and the others right-aligned.
func formatTable(rows [][]string, left ...int) *strings.Builder {
	isLeft := map[int]bool{}
	for _, j := range left {
		isLeft[j] = true
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for j, cell := range r {
			widths[j] = max(widths[j], utf8.RuneCountInString(cell))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for j, cell := range r {
			pad := strings.Repeat(" ", widths[j]-utf8.RuneCountInString(cell))
			if j > 0 {
				b.WriteString("  ")
			}
			if isLeft[j] {
				b.WriteString(cell + pad)
			} else {
				b.WriteString(pad + cell)
			}
		}
		b.WriteString("\n")
	}
	return &b
}

// jsonFloat encodes finite values as numbers and ±Inf, NaN as the strings
// "+Inf", "-Inf", "NaN" (JSON has no such numbers).
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	}
	return []byte(strconv.FormatFloat(v, 'g', -1, 64)), nil
}

type jsonQParams struct {
	Dtype      string    `json:"dtype"`
	Scheme     string    `json:"scheme"`
	Scales     []float64 `json:"scales"`
	ZeroPoints []int64   `json:"zero_points,omitempty"`
	Axis       *int      `json:"axis,omitempty"`
}

type jsonLayer struct {
	Rank       int          `json:"rank"`
	Name       string       `json:"name"`
	FloatPath  string       `json:"float_path"`
	FloatType  string       `json:"float_type"`
	QuantType  string       `json:"quant_type"`
	Shape      []int        `json:"shape"`
	Calls      int          `json:"calls"`
	QParams    *jsonQParams `json:"qparams,omitempty"`
	N          int64        `json:"n"`
	SQNR       jsonFloat    `json:"sqnr_db"`
	MaxAbsErr  jsonFloat    `json:"max_abs_err"`
	MeanAbsErr jsonFloat    `json:"mean_abs_err"`
	Cosine     jsonFloat    `json:"cosine"`
	Quantized  bool         `json:"quantized"`
	SatLow     jsonFloat    `json:"saturated_low"`
	SatHigh    jsonFloat    `json:"saturated_high"`
	Clipped    jsonFloat    `json:"clipped"`
	FloatMin   jsonFloat    `json:"float_min"`
	FloatMax   jsonFloat    `json:"float_max"`
	QuantMin   jsonFloat    `json:"quant_min"`
	QuantMax   jsonFloat    `json:"quant_max"`
	RangeLo    *jsonFloat   `json:"range_lo,omitempty"`
	RangeHi    *jsonFloat   `json:"range_hi,omitempty"`
}

type jsonComparison struct {
	Kind    Kind        `json:"kind"`
	Batches int         `json:"batches,omitempty"`
	Layers  []jsonLayer `json:"layers"`
}

func (c *Comparison) toJSON() jsonComparison {
	out := jsonComparison{Kind: c.Kind, Batches: c.Batches, Layers: []jsonLayer{}}
	for i, l := range c.Ranked() {
		m := l.Metrics
		jl := jsonLayer{Rank: i + 1, Name: l.Name, FloatPath: l.FloatPath, FloatType: l.FloatType, QuantType: l.QuantType,
			Shape: l.Shape, Calls: l.Calls, N: m.N, SQNR: jsonFloat(m.SQNR), MaxAbsErr: jsonFloat(m.MaxAbsErr),
			MeanAbsErr: jsonFloat(m.MeanAbsErr), Cosine: jsonFloat(m.Cosine), Quantized: m.Quantized,
			SatLow: jsonFloat(m.SatLow), SatHigh: jsonFloat(m.SatHigh), Clipped: jsonFloat(m.Clipped),
			FloatMin: jsonFloat(m.FloatMin), FloatMax: jsonFloat(m.FloatMax), QuantMin: jsonFloat(m.QuantMin), QuantMax: jsonFloat(m.QuantMax)}
		if m.Quantized {
			lo, hi := jsonFloat(m.RangeLo), jsonFloat(m.RangeHi)
			jl.RangeLo, jl.RangeHi = &lo, &hi
		}
		if qp := l.QParams; qp != nil {
			jq := &jsonQParams{Dtype: dtypeName(qp.Dtype), Scheme: qp.Scheme.String(), Scales: qp.Scales, ZeroPoints: qp.ZeroPoints}
			if qp.PerChannel() {
				a := qp.Axis
				jq.Axis = &a
			}
			jl.QParams = jq
		}
		out.Layers = append(out.Layers, jl)
	}
	return out
}

func dtypeName(dt tensor.Dtype) string { return qdtype.Name(dt) }

// WriteJSON writes the comparison as indented JSON, layers worst first:
// {"kind", "batches", "layers": [{"rank", "name", "float_path",
// "float_type", "quant_type", "shape", "calls", "qparams", "n", "sqnr_db",
// "max_abs_err", "mean_abs_err", "cosine", "quantized", "saturated_low",
// "saturated_high", "clipped", "float_min", "float_max", "quant_min",
// "quant_max", "range_lo", "range_hi"}]}. Fractions are in [0, 1];
// non-finite numbers are the strings "+Inf", "-Inf" and "NaN".
func (c *Comparison) WriteJSON(w io.Writer) error {
	if c == nil {
		return fmt.Errorf("numeric: write json: nil comparison")
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c.toJSON())
}

// Report gathers the three comparisons of a model pair; Run makes one.
type Report struct {
	Weights, Outputs, Shadow *Comparison
}

// Run makes the full Report of a float model and the quantized model
// converted from it: CompareWeights, CompareModelOutputs and
// CompareModelStub on the input batches. A model without int8 weights
// (float16 dynamic quantization) gets no weight comparison (Weights nil).
// Errors: those of the three.
func Run(floatModel, quantModel nn.Module, inputs []*tensor.Dense, opts ...Option) (*Report, error) {
	w, err := CompareWeights(floatModel, quantModel)
	if err != nil && !errors.Is(err, errNoWeights) {
		return nil, err
	}
	o, err := CompareModelOutputs(floatModel, quantModel, inputs, opts...)
	if err != nil {
		return nil, err
	}
	s, err := CompareModelStub(floatModel, quantModel, inputs, opts...)
	if err != nil {
		return nil, err
	}
	return &Report{Weights: w, Outputs: o, Shadow: s}, nil
}

func (r *Report) comparisons() []*Comparison {
	var out []*Comparison
	for _, c := range []*Comparison{r.Shadow, r.Outputs, r.Weights} {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// WriteText writes a summary (when the report has a shadow and an output
// comparison: per layer, worst own error first, its own SQNR, the SQNR of its
// output in the quantized model, the SQNR of its weight and the clipped
// fraction of its own output), then the shadow, output and weight tables
// (those present), separated by blank lines.
func (r *Report) WriteText(w io.Writer) error {
	if r.Shadow != nil && r.Outputs != nil {
		if err := r.writeSummary(w); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
	}
	for i, c := range r.comparisons() {
		if i > 0 {
			if _, err := fmt.Fprintln(w); err != nil {
				return err
			}
		}
		if err := c.WriteText(w); err != nil {
			return err
		}
	}
	return nil
}

// writeSummary writes the summary table of WriteText.
func (r *Report) writeSummary(w io.Writer) error {
	weights := map[string]*Layer{}
	if r.Weights != nil {
		for _, l := range r.Weights.Layers {
			if strings.HasSuffix(l.Name, ".weight") || l.Name == "weight" {
				weights[strings.TrimSuffix(strings.TrimSuffix(l.Name, "weight"), ".")] = l
			}
		}
	}
	rows := [][]string{{"#", "layer", "type", "own SQNR dB", "output SQNR dB", "weight SQNR dB", "own clipped %"}}
	for i, l := range r.Shadow.Ranked() {
		out, wt, cl := "-", "-", "-"
		if o := r.Outputs.Layer(l.Name); o != nil {
			out = fmtDB(o.Metrics.SQNR)
		}
		if wl := weights[l.Name]; wl != nil {
			wt = fmtDB(wl.Metrics.SQNR)
		}
		if l.Metrics.Quantized {
			cl = pct(l.Metrics.Clipped)
		}
		rows = append(rows, []string{strconv.Itoa(i + 1), displayName(l.Name), l.QuantType, fmtDB(l.Metrics.SQNR), out, wt, cl})
	}
	if _, err := fmt.Fprintf(w, "summary, worst own error first (own: the quantized layer vs its float twin on the same dequantized input; output: vs the float model at that layer, inherited error included)\n"); err != nil {
		return err
	}
	_, err := io.WriteString(w, formatTable(rows, 1, 2).String())
	return err
}

// WriteJSON writes {"shadow": …, "outputs": …, "weights": …} with each
// comparison as Comparison.WriteJSON encodes it (absent ones omitted).
func (r *Report) WriteJSON(w io.Writer) error {
	out := map[string]jsonComparison{}
	if r.Shadow != nil {
		out["shadow"] = r.Shadow.toJSON()
	}
	if r.Outputs != nil {
		out["outputs"] = r.Outputs.toJSON()
	}
	if r.Weights != nil {
		out["weights"] = r.Weights.toJSON()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// SuggestFloatFallback is r.Shadow.SuggestFloatFallback(k).
func (r *Report) SuggestFloatFallback(k int) ([]string, error) {
	return r.Shadow.SuggestFloatFallback(k)
}
