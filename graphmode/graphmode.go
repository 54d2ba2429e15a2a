package graphmode

import (
	"fmt"
	"strings"

	"gorgonia.org/gorgonia"
)

// Entry is one line of a Report: a quantized pattern, or a node that stays
// float.
type Entry struct {
	Kind      string   // pattern ("linear+bias+relu", "conv2d+batchnorm(folded)+relu", "maxpool2d", ...) or "float"
	Op        string   // the quantized op built (QLinearReLU, ...) or the Gorgonia op that stays float
	Nodes     []string // names of the original nodes covered
	Quantized bool
	Detail    string // qparams and geometry, or why the node stays float
}

// Report says what graph mode did: the quantized patterns, the compute
// nodes that stayed float (with the reason), and how many Quantize and
// Dequantize boundary nodes the new graph has.
type Report struct {
	Quantized   []Entry
	Float       []Entry
	Quantizes   int
	Dequantizes int
}

// String is Describe.
func (r *Report) String() string { return r.Describe() }

// Describe returns a readable multi-line summary of the report.
func (r *Report) Describe() string {
	if r == nil {
		return "<nil report>"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "quantized (%d):\n", len(r.Quantized))
	for _, e := range r.Quantized {
		fmt.Fprintf(&sb, "  %s -> %s", e.Kind, e.Op)
		if e.Detail != "" {
			fmt.Fprintf(&sb, " [%s]", e.Detail)
		}
		fmt.Fprintf(&sb, " covering %d nodes\n", len(e.Nodes))
	}
	fmt.Fprintf(&sb, "float (%d):\n", len(r.Float))
	for _, e := range r.Float {
		fmt.Fprintf(&sb, "  %s (%s): %s\n", e.Op, strings.Join(e.Nodes, ", "), e.Detail)
	}
	fmt.Fprintf(&sb, "boundaries: %d quantize, %d dequantize\n", r.Quantizes, r.Dequantizes)
	return sb.String()
}

// Result is a graph built by QuantizeGraph or QuantizeDynamicGraph: a new
// graph whose data inputs and outputs correspond to the original ones.
type Result struct {
	// Graph is the new graph; run it with any Gorgonia VM.
	Graph *gorgonia.ExprGraph
	// Outputs are the new float32 output nodes, one per original output, in
	// the order they were given.
	Outputs gorgonia.Nodes
	// Report lists what was quantized and what stayed float.
	Report *Report

	inputs  map[*gorgonia.Node]*gorgonia.Node
	outputs map[*gorgonia.Node]*gorgonia.Node
}

// Input returns the new graph's node for the original input node orig, to
// Let values into. Errors: orig is not an input the new graph uses (weights
// folded into quantized ops have no counterpart).
func (r *Result) Input(orig *gorgonia.Node) (*gorgonia.Node, error) {
	if n, ok := r.inputs[orig]; ok {
		return n, nil
	}
	name := "<nil>"
	if orig != nil {
		name = orig.Name()
	}
	return nil, fmt.Errorf("graphmode: input %s has no counterpart in the new graph", name)
}

// Output returns the new graph's node for the original output node orig.
func (r *Result) Output(orig *gorgonia.Node) (*gorgonia.Node, error) {
	if n, ok := r.outputs[orig]; ok {
		return n, nil
	}
	name := "<nil>"
	if orig != nil {
		name = orig.Name()
	}
	return nil, fmt.Errorf("graphmode: %s is not an output given to graph mode", name)
}

// Inputs returns a copy of the map from the original input nodes to the new
// graph's input nodes.
func (r *Result) Inputs() map[*gorgonia.Node]*gorgonia.Node {
	m := make(map[*gorgonia.Node]*gorgonia.Node, len(r.inputs))
	for k, v := range r.inputs {
		m[k] = v
	}
	return m
}

// Describe is Report.Describe.
func (r *Result) Describe() string { return r.Report.Describe() }

// Calibration is the float graph observers watch during QuantizeGraph's
// calibrate callback: a copy of the original graph (dropout removed, batch
// norms folded into their convs) with an observer op on every value whose
// qparams the quantized graph needs.
type Calibration struct {
	// Graph is the calibration graph.
	Graph *gorgonia.ExprGraph
	// Outputs are the calibration graph's outputs, one per original output.
	Outputs gorgonia.Nodes

	inputs map[*gorgonia.Node]*gorgonia.Node
	vm     gorgonia.VM
}

// Input returns the calibration graph's node for the original input orig.
func (c *Calibration) Input(orig *gorgonia.Node) (*gorgonia.Node, error) {
	if n, ok := c.inputs[orig]; ok {
		return n, nil
	}
	name := "<nil>"
	if orig != nil {
		name = orig.Name()
	}
	return nil, fmt.Errorf("graphmode: input %s has no counterpart in the calibration graph", name)
}

// Run runs one calibration batch: each feed's value is Let into the input
// (given as the original input node or the calibration graph's own), then
// the graph runs once on a TapeMachine that Run creates on first use and
// QuantizeGraph closes. Callers may instead run their own TapeMachine on
// Graph (Gorgonia's LispMachine does not recompute a graph after a new Let
// without unbinding it, so its batches would not all be observed). Errors:
// unknown input, Let or RunAll errors.
func (c *Calibration) Run(feeds map[*gorgonia.Node]gorgonia.Value) error {
	for orig, v := range feeds {
		n, ok := c.inputs[orig]
		if !ok {
			for _, in := range c.inputs {
				if in == orig {
					n, ok = in, true
				}
			}
		}
		if !ok {
			return fmt.Errorf("graphmode: calibration: %v is not an input of the graph", orig)
		}
		if err := gorgonia.Let(n, v); err != nil {
			return fmt.Errorf("graphmode: calibration: %w", err)
		}
	}
	if c.vm == nil {
		c.vm = gorgonia.NewTapeMachine(c.Graph)
	}
	defer c.vm.Reset()
	if err := c.vm.RunAll(); err != nil {
		return fmt.Errorf("graphmode: calibration: %w", err)
	}
	return nil
}

func (c *Calibration) close() {
	if c.vm != nil {
		c.vm.Close()
		c.vm = nil
	}
}

// QuantizeGraph is static post-training quantization of a plain Gorgonia
// graph, PyTorch's quantize_jit(model, qconfig_dict, run_fn, run_args):
//
//  1. it recognises, from outputs back, the patterns the package doc lists
//     (linear, conv2d with folded batch norm, add, relu, max-pool, reshape);
//  2. it builds a calibration graph with an observer on every quantized
//     op's output and on every float value entering a quantized op, and
//     calls calibrate, which must run calibration batches through it
//     (Calibration.Run, or its own VM on Calibration.Graph);
//  3. it builds the quantized graph from package nodes with weights
//     quantized once by fresh weight observers and the observed activation
//     qparams; whatever cannot be quantized stays float between Dequantize
//     and Quantize nodes.
//
// g and its nodes are not modified. Errors: nil graph, qconfig or calibrate,
// no outputs, an output that is not a float32 node of g, a weight input
// (see the package doc) without a value, an unfoldable batch norm, an
// observer that saw no data, and the errors of calibrate (returned as is,
// wrapped) or of the node builders.
func QuantizeGraph(g *gorgonia.ExprGraph, outputs gorgonia.Nodes, qc *QConfig, calibrate func(*Calibration) error) (*Result, error) {
	if err := checkStatic(qc); err != nil {
		return nil, fmt.Errorf("graphmode: QuantizeGraph: %w", err)
	}
	if calibrate == nil {
		return nil, fmt.Errorf("graphmode: QuantizeGraph: nil calibrate function")
	}
	a, err := newAnalysis(g, outputs)
	if err != nil {
		return nil, fmt.Errorf("graphmode: QuantizeGraph: %w", err)
	}
	if err := a.matchStatic(); err != nil {
		return nil, fmt.Errorf("graphmode: QuantizeGraph: %w", err)
	}
	cb := newBuilder(a, qc, calibrationGraph)
	cal := &Calibration{Graph: cb.g, inputs: cb.inputs}
	for _, o := range a.outputs {
		v, err := cb.floatOf(o)
		if err != nil {
			return nil, fmt.Errorf("graphmode: QuantizeGraph: calibration graph: %w", err)
		}
		cal.Outputs = append(cal.Outputs, v)
	}
	err = calibrate(cal)
	cal.close()
	if err != nil {
		return nil, fmt.Errorf("graphmode: QuantizeGraph: calibrate: %w", err)
	}
	qb := newBuilder(a, qc, quantizedGraph)
	qb.obsIn, qb.obsOut = cb.obsIn, cb.obsOut
	return finish(qb, "QuantizeGraph")
}

// QuantizeDynamicGraph is dynamic quantization of a plain Gorgonia graph,
// PyTorch's quantize_dynamic_jit: every linear pattern (a matmul with a
// weight input, and its bias add) becomes nodes.DynamicLinear with qint8
// weights (quantized once by a fresh weight observer of qc; activations
// quantized per call with reduce_range, as nn.quantized.dynamic.Linear on
// x86) or nodes.DynamicLinearFP16 when the weight observer's dtype is
// observer.Float16. Everything else stays float. No calibration is needed.
// g is not modified. Errors: as QuantizeGraph's, without calibration.
func QuantizeDynamicGraph(g *gorgonia.ExprGraph, outputs gorgonia.Nodes, qc *QConfig) (*Result, error) {
	if qc == nil {
		return nil, fmt.Errorf("graphmode: QuantizeDynamicGraph: nil qconfig")
	}
	a, err := newAnalysis(g, outputs)
	if err != nil {
		return nil, fmt.Errorf("graphmode: QuantizeDynamicGraph: %w", err)
	}
	if err := a.matchDynamic(); err != nil {
		return nil, fmt.Errorf("graphmode: QuantizeDynamicGraph: %w", err)
	}
	return finish(newBuilder(a, qc, dynamicGraph), "QuantizeDynamicGraph")
}

func finish(b *builder, fn string) (*Result, error) {
	r := &Result{Graph: b.g, Report: b.report, inputs: b.inputs, outputs: map[*gorgonia.Node]*gorgonia.Node{}}
	for _, o := range b.a.outputs {
		v, err := b.floatOf(o)
		if err != nil {
			return nil, fmt.Errorf("graphmode: %s: %w", fn, err)
		}
		r.Outputs = append(r.Outputs, v)
		r.outputs[o] = v
	}
	return r, nil
}
