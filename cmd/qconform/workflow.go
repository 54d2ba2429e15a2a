package main

import (
	"fmt"
	"strconv"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The workflow family (OPS.md "workflow"): whole eager-mode workflows run
// through the library's public API only, as a user would write them.
func init() {
	register("eager_static", func(c *Case) ([]*Tensor, error) { return runEagerStatic(c, false) })
	register("eager_qat_observe", func(c *Case) ([]*Tensor, error) { return runEagerStatic(c, true) })
	register("eager_dynamic", runEagerDynamic)
}

// layerSpec is one entry of attrs.arch.
type layerSpec struct {
	Type       string  `json:"type"`
	In         int     `json:"in"`
	Out        int     `json:"out"`
	Kernel     int     `json:"kernel"`
	Stride     int     `json:"stride"`
	Padding    int     `json:"padding"`
	Bias       bool    `json:"bias"`
	Features   int     `json:"features"`
	Eps        float64 `json:"eps"`
	Momentum   float64 `json:"momentum"`
	InputSize  int     `json:"input_size"`
	HiddenSize int     `json:"hidden_size"`
	NumLayers  int     `json:"num_layers"`
}

// workflowQConfig builds the qconfig the attr "qconfig" names (OPS.md
// table) from the library's observers, fake quantizers and qconfig
// defaults.
func workflowQConfig(c *Case) (*eager.QConfig, error) {
	name, err := c.str("qconfig", "")
	if err != nil {
		return nil, err
	}
	actMinMax := eager.ObserverFactory(observer.WithArgs(observer.NewMinMaxObserver,
		observer.WithDtype(qdtype.QUInt8Dtype), observer.WithQScheme(qdtype.PerTensorAffine), observer.WithReduceRange(false)))
	wPerTensor := eager.ObserverFactory(observer.WithArgs(observer.NewMinMaxObserver,
		observer.WithDtype(qdtype.QInt8Dtype), observer.WithQScheme(qdtype.PerTensorSymmetric)))
	wPerChannel := eager.ObserverFactory(observer.WithArgs(observer.NewPerChannelMinMaxObserver,
		observer.WithDtype(qdtype.QInt8Dtype), observer.WithQScheme(qdtype.PerChannelSymmetric), observer.WithChAxis(0)))
	switch name {
	case "minmax_per_tensor":
		return &eager.QConfig{Activation: actMinMax, Weight: wPerTensor}, nil
	case "minmax_per_tensor_rr":
		return eager.DefaultQConfig(), nil
	case "minmax_per_channel":
		return &eager.QConfig{Activation: actMinMax, Weight: wPerChannel}, nil
	case "movingavg_per_channel":
		act := eager.ObserverFactory(observer.WithArgs(observer.NewMovingAverageMinMaxObserver, observer.WithAveragingConstant(0.01),
			observer.WithDtype(qdtype.QUInt8Dtype), observer.WithQScheme(qdtype.PerTensorAffine), observer.WithReduceRange(false)))
		return &eager.QConfig{Activation: act, Weight: wPerChannel}, nil
	case "histogram_per_channel":
		return eager.GetDefaultQConfig("onednn")
	case "qat_default_per_channel":
		return eager.GetDefaultQATQConfig("onednn", 1)
	case "qat_fakequant_per_channel":
		return eager.GetDefaultQATQConfig("onednn", 0)
	case "qat_fakequant_per_tensor_rr":
		return eager.DefaultQATQConfig(), nil
	case "dynamic_qint8":
		return eager.DefaultDynamicQConfig(), nil
	case "dynamic_qint8_per_channel":
		return eager.PerChannelDynamicQConfig(), nil
	}
	return nil, fmt.Errorf("qconform: workflow: unknown qconfig %q", name)
}

// workflowModel builds the nn.Sequential of the arch and loads the P weight
// tensors of the case's inputs into it (state-dict keys "i.weight", ...).
func workflowModel(c *Case) (*nn.Sequential, []layerSpec, int, error) {
	var arch []layerSpec
	if err := c.attr("arch", &arch); err != nil {
		return nil, nil, 0, err
	}
	sd := map[string]*tensor.Dense{}
	next := 0
	take := func(key string) error {
		d, err := c.denseInput(next)
		if err != nil {
			return err
		}
		sd[key] = d
		next++
		return nil
	}
	var layers []nn.Module
	for i, s := range arch {
		p := strconv.Itoa(i) + "."
		var m nn.Module
		var err error
		var keys []string
		switch s.Type {
		case "quant_stub":
			m = eager.NewQuantStub(nil)
		case "dequant_stub":
			m = eager.NewDeQuantStub(nil)
		case "conv2d":
			m, err = nn.NewConv2d(s.In, s.Out, []int{s.Kernel}, nn.Stride(s.Stride), nn.Padding(s.Padding), nn.WithBias(s.Bias))
			keys = []string{"weight"}
			if s.Bias {
				keys = append(keys, "bias")
			}
		case "batchnorm2d":
			var bn *nn.BatchNorm
			if bn, err = nn.NewBatchNorm2d(s.Features); err == nil {
				bn.Eps, bn.Momentum = s.Eps, s.Momentum
			}
			m = bn
			keys = []string{"weight", "bias", "running_mean", "running_var"}
		case "relu":
			m = nn.NewReLU()
		case "maxpool2d":
			m, err = nn.NewMaxPool2d([]int{s.Kernel}, nn.Stride(s.Stride))
		case "flatten":
			m = nn.NewFlatten()
		case "linear":
			m, err = nn.NewLinear(s.In, s.Out, nn.WithBias(s.Bias))
			keys = []string{"weight"}
			if s.Bias {
				keys = append(keys, "bias")
			}
		case "lstm":
			m, err = nn.NewLSTM(s.InputSize, s.HiddenSize, s.NumLayers, false)
			for k := 0; k < s.NumLayers; k++ {
				keys = append(keys, fmt.Sprintf("weight_ih_l%d", k), fmt.Sprintf("weight_hh_l%d", k),
					fmt.Sprintf("bias_ih_l%d", k), fmt.Sprintf("bias_hh_l%d", k))
			}
		default:
			return nil, nil, 0, fmt.Errorf("qconform: workflow: layer %d: unknown type %q", i, s.Type)
		}
		if err != nil {
			return nil, nil, 0, fmt.Errorf("qconform: workflow: layer %d (%s): %w", i, s.Type, err)
		}
		for _, k := range keys {
			if err := take(p + k); err != nil {
				return nil, nil, 0, err
			}
		}
		layers = append(layers, m)
	}
	np, err := c.int("num_params", int64(next))
	if err != nil {
		return nil, nil, 0, err
	}
	if int(np) != next {
		return nil, nil, 0, fmt.Errorf("qconform: workflow: arch takes %d weight tensors, num_params is %d", next, np)
	}
	model, err := nn.NewSequential(layers...)
	if err != nil {
		return nil, nil, 0, err
	}
	if err := nn.LoadStateDict(model, sd, false); err != nil {
		return nil, nil, 0, err
	}
	return model, arch, next, nil
}

// workflowBatches returns the B observation batches and the evaluation
// input that follow the weights.
func workflowBatches(c *Case, first int) ([]*tensor.Dense, *tensor.Dense, error) {
	nb, err := c.int("num_batches", 0)
	if err != nil {
		return nil, nil, err
	}
	var batches []*tensor.Dense
	for i := 0; i < int(nb)+1; i++ {
		d, err := c.denseInput(first + i)
		if err != nil {
			return nil, nil, err
		}
		batches = append(batches, d)
	}
	return batches[:nb], batches[nb], nil
}

func fuseGroups(c *Case) ([][]string, error) {
	var groups [][]int
	if err := c.attr("fuse", &groups); err != nil {
		return nil, err
	}
	out := make([][]string, len(groups))
	for i, g := range groups {
		for _, j := range g {
			out[i] = append(out[i], strconv.Itoa(j))
		}
	}
	return out, nil
}

func runEagerStatic(c *Case, qatMode bool) ([]*Tensor, error) {
	model, _, np, err := workflowModel(c)
	if err != nil {
		return nil, err
	}
	batches, x, err := workflowBatches(c, np)
	if err != nil {
		return nil, err
	}
	groups, err := fuseGroups(c)
	if err != nil {
		return nil, err
	}
	qc, err := workflowQConfig(c)
	if err != nil {
		return nil, err
	}
	var m nn.Module = model
	if qatMode {
		m.ModuleBase().Train(true)
		if m, err = fuse.FuseModulesQAT(m, groups); err != nil {
			return nil, err
		}
		m.ModuleBase().QConfig = qc
		if m, err = eager.PrepareQAT(m, eager.InPlace()); err != nil {
			return nil, err
		}
	} else {
		nn.Eval(m)
		if m, err = fuse.FuseModules(m, groups); err != nil {
			return nil, err
		}
		m.ModuleBase().QConfig = qc
		if m, err = eager.Prepare(m, eager.InPlace()); err != nil {
			return nil, err
		}
	}
	for i, b := range batches {
		if _, err := eager.Run(m, b); err != nil {
			return nil, fmt.Errorf("qconform: workflow: batch %d: %w", i, err)
		}
	}
	nn.Eval(m)
	if m, err = eager.Convert(m, eager.InPlace()); err != nil {
		return nil, err
	}

	// The output qparams of the converted modules, in order.
	var scales []float32
	var zps []int64
	var deq nn.Module
	for _, ch := range m.ModuleBase().Children() {
		switch q := ch.Module.(type) {
		case *nodes.QuantizeModule:
			scales, zps = append(scales, float32(q.QParams.Scale())), append(zps, q.QParams.ZeroPoint())
		case *nodes.QuantizedConv:
			scales, zps = append(scales, float32(q.Scale)), append(zps, q.ZeroPoint)
		case *nodes.QuantizedLinear:
			scales, zps = append(scales, float32(q.Scale)), append(zps, q.ZeroPoint)
		case *nodes.DequantizeModule:
			deq = q
		}
	}
	if deq == nil {
		return nil, fmt.Errorf("qconform: workflow: the converted model has no DeQuantize module")
	}
	// Evaluate on a fresh graph, capturing the quantized tensor that enters
	// the DeQuantize module with a forward pre-hook.
	var qin *gorgonia.Node
	deq.ModuleBase().PreHooks = append(deq.ModuleBase().PreHooks, func(n *gorgonia.Node) (*gorgonia.Node, error) {
		qin = n
		return n, nil
	})
	g := gorgonia.NewGraph()
	in := gorgonia.NewTensor(g, tensor.Float32, x.Dims(), gorgonia.WithShape(x.Shape().Clone()...), gorgonia.WithName("x"))
	if err := gorgonia.Let(in, x); err != nil {
		return nil, err
	}
	y, err := nn.Call(m, in)
	if err != nil {
		return nil, err
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return nil, err
	}
	q, err := nodes.Value(qin)
	if err != nil {
		return nil, err
	}
	yd, ok := y.Value().(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("qconform: workflow: output value is %T", y.Value())
	}
	yt, err := fromDense(yd)
	if err != nil {
		return nil, err
	}
	return []*Tensor{fromFloat32([]int{len(scales)}, scales), fromInt64s([]int{len(zps)}, zps), fromQTensor(q), yt}, nil
}

func runEagerDynamic(c *Case) ([]*Tensor, error) {
	model, _, np, err := workflowModel(c)
	if err != nil {
		return nil, err
	}
	_, x, err := workflowBatches(c, np)
	if err != nil {
		return nil, err
	}
	qc, err := workflowQConfig(c)
	if err != nil {
		return nil, err
	}
	nn.Eval(model)
	m, err := eager.QuantizeDynamic(model, eager.DynamicSpec{QConfigs: &eager.QConfigDict{
		Types: map[string]*eager.QConfig{"LSTM": qc, "Linear": qc}}, Dtype: qdtype.QInt8Dtype})
	if err != nil {
		return nil, err
	}
	y, err := eager.Run(m, x)
	if err != nil {
		return nil, err
	}
	yt, err := fromDense(y)
	if err != nil {
		return nil, err
	}
	return []*Tensor{yt}, nil
}
