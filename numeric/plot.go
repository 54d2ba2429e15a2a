package numeric

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"regexp"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Default plot geometry: PNG size in pixels and histogram bins.
const (
	DefaultPlotWidth  = 900
	DefaultPlotHeight = 540
	DefaultBins       = 80
)

// sqnrCap bounds the bars of layers whose SQNR is infinite.
const sqnrCap = 100

// savePNG draws p on a width×height pixel canvas (96 DPI) and writes it to
// path.
func savePNG(p *plot.Plot, path string, width, height int) error {
	if width < 100 || height < 100 || width > 10000 || height > 10000 {
		return fmt.Errorf("plot size %d×%d pixels, want 100…10000 each", width, height)
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	c := vgimg.NewWith(vgimg.UseImage(img), vgimg.UseDPI(96))
	p.Draw(draw.New(c))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// PlotSQNR writes a PNG bar chart of every layer's SQNR in dB, in model
// order, to path (width × height pixels; 0 takes the defaults). Bars are
// clamped to [0, 100] dB: exact layers (+Inf) are drawn at 100 dB, −Inf and
// negative SQNRs at 0. Errors: an empty
// comparison, a size outside 100…10000 pixels, writing the file.
func (c *Comparison) PlotSQNR(path string, width, height int) error {
	if c == nil || len(c.Layers) == 0 {
		return fmt.Errorf("numeric: plot sqnr: empty comparison")
	}
	width, height = orDefault(width, DefaultPlotWidth), orDefault(height, DefaultPlotHeight)
	vals := make(plotter.Values, len(c.Layers))
	names := make([]string, len(c.Layers))
	for i, l := range c.Layers {
		vals[i] = barValue(l.Metrics.SQNR)
		names[i] = displayName(l.Name)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Per-layer SQNR (%s comparison); higher is better", c.Kind)
	p.Y.Label.Text = "SQNR (dB)"
	barWidth := vg.Length(float64(width)*0.6/float64(len(vals))) * vg.Inch / 96
	bars, err := plotter.NewBarChart(vals, barWidth)
	if err != nil {
		return fmt.Errorf("numeric: plot sqnr: %w", err)
	}
	bars.Color = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	bars.LineStyle.Width = 0
	p.Add(bars, plotter.NewGrid())
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	p.Y.Min = 0
	p.X.Min, p.X.Max = -0.5, float64(len(vals))-0.5
	if err := savePNG(p, path, width, height); err != nil {
		return fmt.Errorf("numeric: plot sqnr: %w", err)
	}
	return nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// PlotHistogram writes a PNG histogram of the float values and the
// dequantized values of layer name (its kept Samples), on the same bins, with
// the range the quantized tensor can represent, [dequant(qmin),
// dequant(qmax)], marked by two vertical lines (for per-channel weights the
// widest channel range). width, height are pixels and bins the bin count (0:
// the defaults). Errors: no such layer, a layer without samples (see
// WithMaxSamples), a size outside 100…10000 pixels or bins outside 1…10000,
// writing the file.
func (c *Comparison) PlotHistogram(name, path string, width, height, bins int) error {
	if c == nil {
		return fmt.Errorf("numeric: plot histogram: nil comparison")
	}
	l := c.Layer(name)
	if l == nil {
		return fmt.Errorf("numeric: plot histogram: no layer %q in the %s comparison", name, c.Kind)
	}
	if len(l.samplesF) == 0 {
		return fmt.Errorf("numeric: plot histogram: layer %q kept no samples (WithMaxSamples(0)?)", name)
	}
	width, height, bins = orDefault(width, DefaultPlotWidth), orDefault(height, DefaultPlotHeight), orDefault(bins, DefaultBins)
	if bins < 1 || bins > 10000 {
		return fmt.Errorf("numeric: plot histogram: %d bins, want 1…10000", bins)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range l.samplesF {
		lo = math.Min(lo, math.Min(float64(l.samplesF[i]), float64(l.samplesQ[i])))
		hi = math.Max(hi, math.Max(float64(l.samplesF[i]), float64(l.samplesQ[i])))
	}
	m := l.Metrics
	if m.Quantized {
		lo, hi = math.Min(lo, m.RangeLo), math.Max(hi, m.RangeHi)
	}
	if hi <= lo {
		hi = lo + 1
	}
	width64 := (hi - lo) / float64(bins)
	hist := func(vs []float32, fill color.Color) *plotter.Histogram {
		h := &plotter.Histogram{Bins: make([]plotter.HistogramBin, bins), Width: width64, FillColor: fill}
		for i := range h.Bins {
			h.Bins[i].Min = lo + float64(i)*width64
			h.Bins[i].Max = lo + float64(i+1)*width64
		}
		for _, v := range vs {
			b := int((float64(v) - lo) / width64)
			h.Bins[min(max(b, 0), bins-1)].Weight++
		}
		h.LineStyle.Width = 0
		return h
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s (%s, %s): SQNR %s dB", displayName(l.Name), l.QuantType, c.Kind, fmtDB(m.SQNR))
	p.X.Label.Text = "value"
	p.Y.Label.Text = fmt.Sprintf("count (%d sampled values)", len(l.samplesF))
	hf := hist(l.samplesF, color.NRGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0x90})
	hq := hist(l.samplesQ, color.NRGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0x90})
	p.Add(hf, hq)
	p.Legend.Add("float", hf)
	p.Legend.Add("dequantized", hq)
	if m.Quantized {
		_, _, _, ymax := hf.DataRange()
		_, _, _, ymax2 := hq.DataRange()
		ymax = math.Max(ymax, ymax2)
		for i, x := range []float64{m.RangeLo, m.RangeHi} {
			ln, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: ymax}})
			if err != nil {
				return fmt.Errorf("numeric: plot histogram: %w", err)
			}
			ln.Color = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
			ln.Width = vg.Points(1.5)
			ln.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
			p.Add(ln)
			if i == 0 {
				p.Legend.Add(fmt.Sprintf("quant range [%.4g, %.4g]", m.RangeLo, m.RangeHi), ln)
			}
		}
	}
	p.Legend.Top = true
	pad := 0.02 * (hi - lo)
	p.X.Min, p.X.Max = lo-pad, hi+pad
	if err := savePNG(p, path, width, height); err != nil {
		return fmt.Errorf("numeric: plot histogram: %w", err)
	}
	return nil
}

// barValue maps an SQNR to a bar height (see PlotSQNR).
func barValue(v float64) float64 {
	switch {
	case math.IsInf(v, 1) || v > sqnrCap:
		return sqnrCap
	case math.IsInf(v, -1) || math.IsNaN(v) || v < 0:
		return 0
	}
	return v
}

// PlotSummary writes a PNG chart with two bars per layer of the shadow
// comparison, in model order: its own SQNR (shadow) beside the SQNR of its
// output in the quantized model (outputs), so that a layer that causes
// error (both low) stands out from one that inherits it (own high, output
// low). Sizes as PlotSQNR. Errors: the report lacks the shadow or the
// output comparison, plot errors.
func (r *Report) PlotSummary(path string, width, height int) error {
	if r == nil || r.Shadow == nil || r.Outputs == nil || len(r.Shadow.Layers) == 0 {
		return fmt.Errorf("numeric: plot summary: need a report with shadow and output comparisons")
	}
	width, height = orDefault(width, DefaultPlotWidth), orDefault(height, DefaultPlotHeight)
	n := len(r.Shadow.Layers)
	own, out := make(plotter.Values, n), make(plotter.Values, n)
	names := make([]string, n)
	for i, l := range r.Shadow.Layers {
		own[i] = barValue(l.Metrics.SQNR)
		if o := r.Outputs.Layer(l.Name); o != nil {
			out[i] = barValue(o.Metrics.SQNR)
		}
		names[i] = displayName(l.Name)
	}
	p := plot.New()
	p.Title.Text = "Per-layer SQNR: own error (shadow) vs output error (inherited included)"
	p.Y.Label.Text = "SQNR (dB); higher is better"
	w := vg.Length(float64(width)*0.35/float64(n)) * vg.Inch / 96
	b1, err := plotter.NewBarChart(own, w)
	if err != nil {
		return fmt.Errorf("numeric: plot summary: %w", err)
	}
	b2, err := plotter.NewBarChart(out, w)
	if err != nil {
		return fmt.Errorf("numeric: plot summary: %w", err)
	}
	b1.Color = color.NRGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	b2.Color = color.NRGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	b1.LineStyle.Width, b2.LineStyle.Width = 0, 0
	b1.Offset, b2.Offset = -w/2, w/2
	p.Add(plotter.NewGrid(), b1, b2)
	p.Legend.Add("own (shadow)", b1)
	p.Legend.Add("output", b2)
	p.Legend.Top = true
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	p.Y.Min = 0
	p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	if err := savePNG(p, path, width, height); err != nil {
		return fmt.Errorf("numeric: plot summary: %w", err)
	}
	return nil
}

var unsafeFile = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// fileKind names a comparison in file names.
var fileKind = map[Kind]string{KindShadow: "shadow", KindOutput: "outputs", KindWeight: "weights"}

// WritePlots writes into dir, at the default sizes, the SQNR bar chart of
// every comparison of the report (sqnr_shadow.png, sqnr_outputs.png,
// sqnr_weights.png), the PlotSummary chart (sqnr_summary.png) when the
// report has shadow and output comparisons, and a histogram of each named
// layer from every comparison that has it (hist_shadow_<layer>.png,
// hist_outputs_…, hist_weights_…), and returns the files written. Errors:
// dir missing, a name found in no comparison, plot errors.
func (r *Report) WritePlots(dir string, histLayers ...string) ([]string, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("numeric: write plots: %q is not a directory", dir)
	}
	var files []string
	for _, c := range r.comparisons() {
		f := filepath.Join(dir, "sqnr_"+fileKind[c.Kind]+".png")
		if err := c.PlotSQNR(f, 0, 0); err != nil {
			return files, err
		}
		files = append(files, f)
	}
	if r.Shadow != nil && r.Outputs != nil {
		f := filepath.Join(dir, "sqnr_summary.png")
		if err := r.PlotSummary(f, 0, 0); err != nil {
			return files, err
		}
		files = append(files, f)
	}
	for _, n := range histLayers {
		found := false
		for _, c := range r.comparisons() {
			if c.Layer(n) == nil {
				continue
			}
			found = true
			f := filepath.Join(dir, "hist_"+fileKind[c.Kind]+"_"+unsafeFile.ReplaceAllString(displayName(n), "_")+".png")
			if err := c.PlotHistogram(n, f, 0, 0, 0); err != nil {
				return files, err
			}
			files = append(files, f)
		}
		if !found {
			return files, fmt.Errorf("numeric: write plots: no layer %q in any comparison", n)
		}
	}
	return files, nil
}
