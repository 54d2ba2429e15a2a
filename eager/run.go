package eager

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Run builds model on a fresh ExprGraph with the float32 input x (bound to
// an input node, not copied), runs the graph once with a TapeMachine and
// returns a copy of the output value: float32 for a model that ends float,
// the quantized dtype (integer codes) otherwise. Observers and fake
// quantizers of a prepared model see x once; BatchNorm in training mode
// updates its running statistics. Errors: building the graph or running it.
func Run(model nn.Module, x *tensor.Dense) (*tensor.Dense, error) {
	if model == nil || x == nil {
		return nil, fmt.Errorf("eager: run: nil model or input")
	}
	if x.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("eager: run: input has dtype %v, want float32", x.Dtype())
	}
	g := gorgonia.NewGraph()
	var in *gorgonia.Node
	if x.Dims() == 0 {
		in = gorgonia.NewScalar(g, tensor.Float32, gorgonia.WithName("x"))
	} else {
		in = gorgonia.NewTensor(g, tensor.Float32, x.Dims(), gorgonia.WithShape(x.Shape().Clone()...), gorgonia.WithName("x"))
	}
	if err := gorgonia.Let(in, x); err != nil {
		return nil, fmt.Errorf("eager: run: %w", err)
	}
	y, err := nn.Call(model, in)
	if err != nil {
		return nil, fmt.Errorf("eager: run: %w", err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return nil, fmt.Errorf("eager: run: %w", err)
	}
	d, ok := y.Value().(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("eager: run: output value is %T, want *tensor.Dense", y.Value())
	}
	return d.Clone().(*tensor.Dense), nil
}

// DefaultEvalFn is default_eval_fn, a calibration function for Quantize:
// args[0] must be a []*tensor.Dense of float32 batches; each is run through
// the model once (Run), in order.
func DefaultEvalFn(model nn.Module, args ...any) error {
	if len(args) != 1 {
		return fmt.Errorf("eager: default eval fn: want one argument ([]*tensor.Dense), got %d", len(args))
	}
	batches, ok := args[0].([]*tensor.Dense)
	if !ok {
		return fmt.Errorf("eager: default eval fn: argument is %T, want []*tensor.Dense", args[0])
	}
	for i, b := range batches {
		if _, err := Run(model, b); err != nil {
			return fmt.Errorf("eager: default eval fn: batch %d: %w", i, err)
		}
	}
	return nil
}
