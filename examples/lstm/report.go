package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
)

// newBar returns a progress bar counting tokens to total, drawn on
// stderr, or a silent one when cfg.Progress is off.
func newBar(cfg config, total int, desc, unit string) *progressbar.ProgressBar {
	if !cfg.Progress {
		return progressbar.NewOptions(total, progressbar.OptionSetWriter(io.Discard), progressbar.OptionSetVisibility(false))
	}
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(20),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(os.Stderr) }),
	)
}

// printTable writes the results table.
func printTable(w io.Writer, res *results) {
	if res.LoadedFrom != "" {
		fmt.Fprintf(w, "\nfloat model loaded from %s", res.LoadedFrom)
	} else {
		fmt.Fprintf(w, "\nfloat training: %d steps (%.2f epochs) in %.0f s, %.0f tokens/s", res.TrainSteps, res.TrainEpochs, res.TrainSeconds, res.TrainTokPerS)
	}
	fmt.Fprintf(w, "; vocabulary %d; valid/test tokens %d/%d; %d threads\n", res.Vocab, res.ValidTokens, res.TestTokens, res.Threads)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tvalid ppl\ttest ppl\tvs float\tfile\tLSTM+Linear\ttok/s b20\tspeedup\tCPU speedup\ttok/s b1\tspeedup\t")
	for _, r := range res.Variants {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%+.3f%%\t%.2f MB\t%.2f MB\t%.0f\t%.2f×\t%.2f×\t%.0f\t%.2f×\t\n",
			r.Name, r.ValidPPL, r.TestPPL, 100*r.PPLChange, float64(r.FileBytes)/(1<<20), float64(r.RNNBytes)/(1<<20),
			r.TokPerSB20, r.SpeedupB20, r.CPUSpeedupB, r.TokPerSB1, r.SpeedupB1)
	}
	tw.Flush()
	for _, n := range res.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// writeJSON writes res, indented, to path.
func writeJSON(path string, res *results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("lstm: %w", err)
	}
	return nil
}
