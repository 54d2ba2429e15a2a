package nn

import (
	"fmt"

	"gorgonia.org/gorgonia"
)

func buildGoldenMore(c goldenCase) (Module, error) {
	a := c.Args
	in, hidden := argInt(a, "in", 0), argInt(a, "hidden", 0)
	bias := WithBias(argBool(a, "bias", true))
	switch c.Type {
	case "Upsample":
		var scale []float64
		if v, ok := a["scale"].([]any); ok {
			for _, s := range v {
				scale = append(scale, s.(float64))
			}
		}
		mode, _ := a["mode"].(string)
		return NewUpsample(argInts(a, "size"), scale, mode, argBool(a, "align_corners", false))
	case "Embedding":
		e, err := NewEmbedding(argInt(a, "num", 0), argInt(a, "dim", 0))
		if err != nil {
			return nil, err
		}
		if p, ok := a["padding_idx"].(float64); ok {
			if err := e.SetPaddingIdx(int(p)); err != nil {
				return nil, err
			}
		}
		return e, nil
	case "LSTM":
		m, err := NewLSTM(in, hidden, argInt(a, "layers", 1), argBool(a, "bidirectional", false), bias)
		if err != nil {
			return nil, err
		}
		m.BatchFirst = argBool(a, "batch_first", false)
		m.DropoutP = argFloat(a, "dropout", 0)
		return m, nil
	case "RNN":
		nl, _ := a["nonlinearity"].(string)
		m, err := NewRNN(in, hidden, argInt(a, "layers", 1), nl, argBool(a, "bidirectional", false), bias)
		if err != nil {
			return nil, err
		}
		m.BatchFirst = argBool(a, "batch_first", false)
		return m, nil
	case "GRU":
		m, err := NewGRU(in, hidden, argInt(a, "layers", 1), argBool(a, "bidirectional", false), bias)
		if err != nil {
			return nil, err
		}
		m.BatchFirst = argBool(a, "batch_first", false)
		return m, nil
	case "Softmax":
		return NewSoftmax(argInt(a, "dim", -1)), nil
	case "LogSoftmax":
		return NewLogSoftmax(argInt(a, "dim", -1)), nil
	case "MaxPool1d":
		m, err := NewMaxPool1d(argInt(a, "kernel", 0), Stride(argInt(a, "stride", argInt(a, "kernel", 0))), Padding(argInt(a, "padding", 0)), Dilation(argInt(a, "dilation", 1)))
		if err != nil {
			return nil, err
		}
		m.CeilMode = argBool(a, "ceil", false)
		return m, nil
	case "AvgPool1d":
		m, err := NewAvgPool1d(argInt(a, "kernel", 0), Stride(argInt(a, "stride", argInt(a, "kernel", 0))), Padding(argInt(a, "padding", 0)))
		if err != nil {
			return nil, err
		}
		m.CountIncludePad = argBool(a, "count_include_pad", true)
		return m, nil
	case "AdaptiveAvgPool1d":
		return NewAdaptiveAvgPool1d(argInt(a, "out", 1)), nil
	case "PReLU":
		return NewPReLU(argInt(a, "num", 1), 0.25)
	case "GELU":
		ap, _ := a["approximate"].(string)
		return NewGELU(ap)
	case "SiLU":
		return NewSiLU(), nil
	case "EmbeddingBag":
		mode, _ := a["mode"].(string)
		e, err := NewEmbeddingBag(argInt(a, "num", 0), argInt(a, "dim", 0), mode)
		if err != nil {
			return nil, err
		}
		if p, ok := a["padding_idx"].(float64); ok {
			if err := e.SetPaddingIdx(int(p)); err != nil {
				return nil, err
			}
		}
		return e, nil
	case "LSTMCell":
		return NewLSTMCell(in, hidden, bias)
	case "GRUCell":
		return NewGRUCell(in, hidden, bias)
	case "RNNCell":
		nl, _ := a["nonlinearity"].(string)
		return NewRNNCell(in, hidden, nl, bias)
	}
	return nil, fmt.Errorf("no builder for %s", c.Type)
}

// forwardGolden runs m on the case inputs; recurrent modules take their
// initial states as extra inputs and return their final states too.
func forwardGolden(m Module, ins []*gorgonia.Node) ([]*gorgonia.Node, error) {
	switch mm := m.(type) {
	case *LSTM:
		out, hn, cn, err := mm.ForwardState(ins[0], ins[1], ins[2])
		return []*gorgonia.Node{out, hn, cn}, err
	case *GRU:
		out, hn, err := mm.ForwardState(ins[0], ins[1])
		return []*gorgonia.Node{out, hn}, err
	case *RNN:
		out, hn, err := mm.ForwardState(ins[0], ins[1])
		return []*gorgonia.Node{out, hn}, err
	case *LSTMCell:
		h, c, err := mm.ForwardState(ins[0], ins[1], ins[2])
		return []*gorgonia.Node{h, c}, err
	case *GRUCell:
		h, err := mm.ForwardState(ins[0], ins[1])
		return []*gorgonia.Node{h}, err
	case *EmbeddingBag:
		if len(ins) == 1 {
			y, err := mm.Forward(ins[0])
			return []*gorgonia.Node{y}, err
		}
		var psw *gorgonia.Node
		if len(ins) > 2 {
			psw = ins[2]
		}
		y, err := mm.ForwardOffsets(ins[0], ins[1], psw)
		return []*gorgonia.Node{y}, err
	case *RNNCell:
		h, err := mm.ForwardState(ins[0], ins[1])
		return []*gorgonia.Node{h}, err
	}
	y, err := Call(m, ins[0])
	return []*gorgonia.Node{y}, err
}
