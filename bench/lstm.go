package main

import (
	"math/rand"

	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// lstmModel is a float nn.LSTM of the workload's sizes with PyTorch's
// initialisation U(−1/√H, 1/√H), in eval mode, and an input x (T, B, I)
// drawn from N(0, 1).
func lstmModel(w workload) (*nn.LSTM, *tensor.Dense, error) {
	m, err := nn.NewLSTM(w.In, w.Hidden, w.Layers, false, nn.WithSeed(3))
	if err != nil {
		return nil, nil, err
	}
	nn.Eval(m)
	x := randDense(rand.New(rand.NewSource(4)), 1, w.T, w.B, w.In)
	return m, x, nil
}

// lstmDynamicImpl is ops.LSTM (nnqd.LSTM): every layer's weights quantized
// once to qint8 per tensor, symmetric, as quantize_dynamic's default
// observer does (ops.QuantizeDynamicWeight), and packed once; each call
// quantizes its activations dynamically with reduce_range, as PyTorch on
// x86, from zero initial states.
func lstmDynamicImpl(w workload) (*impl, error) {
	m, x, err := lstmModel(w)
	if err != nil {
		return nil, err
	}
	cells := make([]*ops.RNNCellParams, len(m.Cells))
	for i, c := range m.Cells {
		wih, err := ops.QuantizeDynamicWeight(c.WeightIH.Data, qdtype.PerTensorSymmetric)
		if err != nil {
			return nil, err
		}
		whh, err := ops.QuantizeDynamicWeight(c.WeightHH.Data, qdtype.PerTensorSymmetric)
		if err != nil {
			return nil, err
		}
		if cells[i], err = ops.PrepackRNNCell(wih, whh, c.BiasIH.Data, c.BiasHH.Data); err != nil {
			return nil, err
		}
	}
	p, err := ops.NewLSTMParams(cells, w.Layers, false, false)
	if err != nil {
		return nil, err
	}
	return &impl{name: "qgorgonia_int8_dynamic", trial: goTrial(func() error {
		_, _, _, err := ops.LSTM(x, nil, nil, p)
		return err
	})}, nil
}

// lstmF32Impl is the float nn.LSTM forward as a Gorgonia graph, built once
// and run by a TapeMachine (RunAll + Reset per call), from zero states.
func lstmF32Impl(w workload) (*impl, error) {
	m, x, err := lstmModel(w)
	if err != nil {
		return nil, err
	}
	g := gorgonia.NewGraph()
	xn := gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(w.T, w.B, w.In), gorgonia.WithName("x"), gorgonia.WithValue(x))
	if _, err := m.Forward(xn); err != nil {
		return nil, err
	}
	vm := gorgonia.NewTapeMachine(g)
	return &impl{name: "qgorgonia_f32", trial: goTrial(func() error {
		err := vm.RunAll()
		vm.Reset()
		return err
	})}, nil
}
