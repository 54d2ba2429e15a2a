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

// newBar returns a progress bar counting images (or batches) to total,
// drawn on stderr, or a silent one when cfg.Progress is off.
func newBar(cfg config, total int, desc string) *progressbar.ProgressBar {
	if !cfg.Progress {
		return progressbar.NewOptions(total, progressbar.OptionSetWriter(io.Discard), progressbar.OptionSetVisibility(false))
	}
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(25),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("img"),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(os.Stderr) }),
	)
}

// printTable writes the results table.
func printTable(w io.Writer, res *results) {
	fmt.Fprintf(w, "\n%d test images, batch %d, %d threads; float: %d epochs (%.0f s, %.0f img/s)",
		res.TestImages, res.EvalBatch, res.Threads, res.Epochs, res.TrainSeconds, res.TrainImagesPS)
	if res.QATEpochs > 0 {
		fmt.Fprintf(w, "; QAT: %d epoch (%.0f s, %.0f img/s)", res.QATEpochs, res.QATSeconds, res.QATImagesPS)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\taccuracy\ttop-1 agree\tfile\tinference\timages/s\tvs float\tCPU s\tvs float (CPU)\t")
	cpu0 := res.Rows[0].CPUSecs
	for _, r := range res.Rows {
		cpuRatio := 0.0
		if r.CPUSecs > 0 {
			cpuRatio = cpu0 / r.CPUSecs
		}
		fmt.Fprintf(tw, "%s\t%.2f%%\t%.2f%%\t%.0f KB\t%.2f s\t%.0f\t%.2f×\t%.2f\t%.2f×\t\n",
			r.Name, 100*r.Accuracy, 100*r.Agreement, float64(r.FileBytes)/1024, r.Seconds, r.ImagesPS, r.Speedup, r.CPUSecs, cpuRatio)
	}
	tw.Flush()
}

// writeJSON writes res, indented, to path.
func writeJSON(path string, res *results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("mnist: %w", err)
	}
	return nil
}
