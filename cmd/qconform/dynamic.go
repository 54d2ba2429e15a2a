package main

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// The dynamic family (OPS.md "dynamic"): linear_dynamic, linear_dynamic_fp16,
// quantized_lstm and the dynamic LSTM, GRU and RNN cells.
func init() {
	register("linear_dynamic", runLinearDynamic)
	register("linear_dynamic_fp16", runLinearDynamicFP16)
	register("quantized_lstm", runQuantizedLSTM)
	register("quantized_lstm_cell_dynamic", func(c *Case) ([]*Tensor, error) {
		d, err := denseInputs(c, 7)
		if err != nil {
			return nil, err
		}
		p, err := rnnCellParams(c, d[3], d[4], d[5], d[6])
		if err != nil {
			return nil, err
		}
		h, cc, err := ops.LSTMCell(d[0], d[1], d[2], p)
		if err != nil {
			return nil, err
		}
		return encodeDenses(h, cc)
	})
	register("quantized_gru_cell_dynamic", func(c *Case) ([]*Tensor, error) {
		return runHiddenCell(c, ops.GRUCell)
	})
	register("quantized_rnn_tanh_cell_dynamic", func(c *Case) ([]*Tensor, error) {
		return runHiddenCell(c, ops.RNNTanhCell)
	})
	register("quantized_rnn_relu_cell_dynamic", func(c *Case) ([]*Tensor, error) {
		return runHiddenCell(c, ops.RNNReLUCell)
	})
}

// denseInputs decodes the first n inputs as float32 (null gives nil).
func denseInputs(c *Case, n int) ([]*tensor.Dense, error) {
	out := make([]*tensor.Dense, n)
	for i := range out {
		d, err := optDense(c, i)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

func encodeDenses(ds ...*tensor.Dense) ([]*Tensor, error) {
	out := make([]*Tensor, len(ds))
	for i, d := range ds {
		t, err := fromDense(d)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

func weightScheme(c *Case) (qdtype.QScheme, error) {
	s, err := c.str("weight_qscheme", "per_tensor_symmetric")
	if err != nil {
		return 0, err
	}
	return qdtype.ParseQScheme(s)
}

func rnnCellParams(c *Case, wih, whh, bih, bhh *tensor.Dense) (*ops.RNNCellParams, error) {
	scheme, err := weightScheme(c)
	if err != nil {
		return nil, err
	}
	return ops.QuantizeRNNCell(wih, whh, bih, bhh, scheme)
}

func runHiddenCell(c *Case, f func(x, h *tensor.Dense, p *ops.RNNCellParams) (*tensor.Dense, error)) ([]*Tensor, error) {
	d, err := denseInputs(c, 6)
	if err != nil {
		return nil, err
	}
	p, err := rnnCellParams(c, d[2], d[3], d[4], d[5])
	if err != nil {
		return nil, err
	}
	h, err := f(d[0], d[1], p)
	if err != nil {
		return nil, err
	}
	return encodeDenses(h)
}

func runLinearDynamic(c *Case) ([]*Tensor, error) {
	x, err := c.denseInput(0)
	if err != nil {
		return nil, err
	}
	w, err := qInput(c, 1)
	if err != nil {
		return nil, err
	}
	b, err := optDense(c, 2)
	if err != nil {
		return nil, err
	}
	rr, err := c.bool("reduce_range", false)
	if err != nil {
		return nil, err
	}
	p, err := ops.PrepackLinear(w, b)
	if err != nil {
		return nil, err
	}
	y, err := ops.LinearDynamic(x, p, rr)
	if err != nil {
		return nil, err
	}
	return encodeDenses(y)
}

func runLinearDynamicFP16(c *Case) ([]*Tensor, error) {
	d, err := denseInputs(c, 3)
	if err != nil {
		return nil, err
	}
	p, err := ops.PrepackLinearFP16(d[1], d[2])
	if err != nil {
		return nil, err
	}
	y, err := ops.LinearDynamicFP16(d[0], p)
	if err != nil {
		return nil, err
	}
	return encodeDenses(y)
}

func runQuantizedLSTM(c *Case) ([]*Tensor, error) {
	layers, err := c.int("num_layers", 1)
	if err != nil {
		return nil, err
	}
	bidir, err := c.bool("bidirectional", false)
	if err != nil {
		return nil, err
	}
	batchFirst, err := c.bool("batch_first", false)
	if err != nil {
		return nil, err
	}
	hasBias, err := c.bool("bias", true)
	if err != nil {
		return nil, err
	}
	dirs := 1
	if bidir {
		dirs = 2
	}
	per := 2
	if hasBias {
		per = 4
	}
	n := int(layers) * dirs
	d, err := denseInputs(c, 3+n*per)
	if err != nil {
		return nil, err
	}
	if d[0] == nil {
		return nil, fmt.Errorf("qconform: quantized_lstm: input 0 is missing")
	}
	cells := make([]*ops.RNNCellParams, n)
	for i := range cells {
		w := d[3+i*per : 3+(i+1)*per]
		var bih, bhh *tensor.Dense
		if hasBias {
			bih, bhh = w[2], w[3]
		}
		if cells[i], err = rnnCellParams(c, w[0], w[1], bih, bhh); err != nil {
			return nil, err
		}
	}
	p, err := ops.NewLSTMParams(cells, int(layers), bidir, batchFirst)
	if err != nil {
		return nil, err
	}
	out, hn, cn, err := ops.LSTM(d[0], d[1], d[2], p)
	if err != nil {
		return nil, err
	}
	return encodeDenses(out, hn, cn)
}
