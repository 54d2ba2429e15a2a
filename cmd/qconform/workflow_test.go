package main

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"testing"
)

// TestWorkflowVariants runs the workflow handlers on PyTorch-generated
// variants of the public cases (eager/testdata/workflow_variants.jsonl,
// written by scripts/golden_eager.py) and scores them with SCHEMA.md's
// WORKFLOW and DYN_WORKFLOW rules.
func TestWorkflowVariants(t *testing.T) {
	f, err := os.Open("../../eager/testdata/workflow_variants.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	n := 0
	for sc.Scan() {
		var c struct {
			Case
			Expect []*Tensor `json:"expect"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		n++
		h := handlers[c.Op]
		if h == nil {
			t.Fatalf("%s: no handler for %s", c.ID, c.Op)
		}
		got, err := h(&c.Case)
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		if len(got) != len(c.Expect) {
			t.Fatalf("%s: %d outputs, want %d", c.ID, len(got), len(c.Expect))
		}
		if c.Op == "eager_dynamic" {
			scoreDynamicWorkflow(t, c.ID, got[0], c.Expect[0])
			continue
		}
		scoreWorkflow(t, c.ID, got, c.Expect)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no cases")
	}
}

func nums(t *Tensor) []float64 {
	v := make([]float64, len(t.Data))
	for i, x := range t.Data {
		v[i] = float64(x)
	}
	return v
}

func scoreWorkflow(t *testing.T, id string, got, want []*Tensor) {
	gs, ws := nums(got[0]), nums(want[0])
	if len(gs) != len(ws) {
		t.Fatalf("%s: %d scales, want %d", id, len(gs), len(ws))
	}
	for i := range ws {
		if math.Abs(gs[i]-ws[i]) > 1e-5*ws[i] {
			t.Errorf("%s: scale %d = %v, want %v", id, i, gs[i], ws[i])
		}
	}
	gz, wz := nums(got[1]), nums(want[1])
	for i := range wz {
		if math.Abs(gz[i]-wz[i]) > 1 {
			t.Errorf("%s: zero point %d = %v, want %v", id, i, gz[i], wz[i])
		}
	}
	gq, wq := got[2], want[2]
	if gq.Dtype != wq.Dtype || len(gq.Data) != len(wq.Data) || math.Abs(float64(*gq.Scale-*wq.Scale)) > 1e-5*float64(*wq.Scale) ||
		*gq.ZeroPoint-*wq.ZeroPoint > 1 || *wq.ZeroPoint-*gq.ZeroPoint > 1 {
		t.Fatalf("%s: q is %s %v scale %v zp %v, want %s %v scale %v zp %v", id, gq.Dtype, gq.Shape, *gq.Scale, *gq.ZeroPoint,
			wq.Dtype, wq.Shape, *wq.Scale, *wq.ZeroPoint)
	}
	off := 0
	for i := range wq.Data {
		d := math.Abs((float64(gq.Data[i]) - float64(*gq.ZeroPoint)) - (float64(wq.Data[i]) - float64(*wq.ZeroPoint)))
		if d > 1 {
			t.Fatalf("%s: q[%d] differs by %v LSB", id, i, d)
		}
		if d != 0 {
			off++
		}
	}
	if off > len(wq.Data)/5+2 {
		t.Errorf("%s: %d of %d codes differ", id, off, len(wq.Data))
	}
	s := float64(*wq.Scale)
	gy, wy := nums(got[3]), nums(want[3])
	for i := range wy {
		if math.Abs(gy[i]-wy[i]) > s*(1+1e-5)+1e-5*math.Abs(wy[i]) {
			t.Fatalf("%s: y[%d] = %v, want %v", id, i, gy[i], wy[i])
		}
	}
}

func scoreDynamicWorkflow(t *testing.T, id string, got, want *Tensor) {
	g, w := nums(got), nums(want)
	if len(g) != len(w) {
		t.Fatalf("%s: %d values, want %d", id, len(g), len(w))
	}
	var max float64
	for _, v := range w {
		max = math.Max(max, math.Abs(v))
	}
	off := 0
	for i := range w {
		d := math.Abs(g[i] - w[i])
		if d > 3e-2*max+1e-4*math.Abs(w[i]) {
			t.Fatalf("%s: y[%d] = %v, want %v", id, i, g[i], w[i])
		}
		if d > 1e-4*math.Abs(w[i])+1e-4*max {
			off++
		}
	}
	if off > len(w)/4+1 {
		t.Errorf("%s: %d of %d values beyond 1e-4", id, off, len(w))
	}
}
