package main

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// LanguageModel is PyTorch's word_language_model RNNModel with an LSTM:
//
//	tokens (T, B) → "encoder" Embedding(V, E) → "drop" Dropout
//	→ "rnn" LSTM(E, H, layers, dropout between layers) → "drop" Dropout
//	→ "decoder" Linear(H, V) → logits (T·B, V)
//
// It keeps its children in its Base and looks them up at Forward time, so
// eager.QuantizeDynamic can swap "rnn" and "decoder" for their dynamic
// quantized counterparts and the same code runs the float, int8 and
// float16 models.
type LanguageModel struct {
	nn.Base
	nn.Stateless
	Vocab, Embed, Hidden, Layers int
}

// stateful is what the recurrent child offers: nn.LSTM and
// nodes.DynamicQuantizedLSTM both run from given initial states.
type stateful interface {
	ForwardState(x, h0, c0 *gorgonia.Node) (out, hn, cn *gorgonia.Node, err error)
}

// newLanguageModel builds the float model with PyTorch's initialisation
// (word_language_model's init_weights: encoder and decoder weights
// U(−0.1, 0.1), decoder bias 0; LSTM weights U(±1/√H)).
func newLanguageModel(vocab, embed, hidden, layers int, dropout float64, seed int64) (*LanguageModel, error) {
	enc, err := nn.NewEmbedding(vocab, embed, nn.WithSeed(seed))
	if err != nil {
		return nil, err
	}
	drop, err := nn.NewDropout(dropout, nn.WithSeed(seed+1))
	if err != nil {
		return nil, err
	}
	rnn, err := nn.NewLSTM(embed, hidden, layers, false, nn.WithSeed(seed+2))
	if err != nil {
		return nil, err
	}
	rnn.DropoutP = dropout
	dec, err := nn.NewLinear(hidden, vocab, nn.WithSeed(seed+3))
	if err != nil {
		return nil, err
	}
	uniform(enc.Weight.Data.Float32s(), 0.1, seed+4)
	uniform(dec.Weight.Data.Float32s(), 0.1, seed+5)
	clear(dec.Bias.Data.Float32s())
	m := &LanguageModel{Vocab: vocab, Embed: embed, Hidden: hidden, Layers: layers}
	for _, c := range []nn.Child{{Name: "encoder", Module: enc}, {Name: "drop", Module: drop}, {Name: "rnn", Module: rnn}, {Name: "decoder", Module: dec}} {
		if err := m.AddModule(c.Name, c.Module); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// uniform fills v with U(−a, a) from a seeded xorshift stream.
func uniform(v []float32, a float32, seed int64) {
	s := uint64(seed)*0x9E3779B97F4A7C15 + 1
	for i := range v {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		v[i] = (float32(s>>40)/float32(1<<24)*2 - 1) * a
	}
}

// TypeName returns "LanguageModel".
func (m *LanguageModel) TypeName() string { return "LanguageModel" }

// Clone returns a deep copy.
func (m *LanguageModel) Clone() nn.Module {
	c := *m
	c.Base = m.CloneBase()
	return &c
}

// Forward runs the model from zero states; see ForwardState.
func (m *LanguageModel) Forward(tokens *gorgonia.Node) (*gorgonia.Node, error) {
	logits, _, _, err := m.ForwardState(tokens, nil, nil)
	return logits, err
}

// ForwardState runs tokens (T, B) of int64 ids from the states h0, c0
// (Layers, B, Hidden; nil: zeros) and returns the logits (T·B, Vocab) and
// the final states, which the caller feeds to the next segment
// (truncated back-propagation through time: the next graph starts from
// their values, so no gradient crosses the segment boundary).
func (m *LanguageModel) ForwardState(tokens, h0, c0 *gorgonia.Node) (logits, hn, cn *gorgonia.Node, err error) {
	s := tokens.Shape()
	if len(s) != 2 {
		return nil, nil, nil, fmt.Errorf("lstm: LanguageModel: tokens have shape %v, want (T, B)", s)
	}
	T, B := s[0], s[1]
	emb, err := nn.Call(m.Child("encoder"), tokens)
	if err != nil {
		return nil, nil, nil, err
	}
	if emb, err = nn.Call(m.Child("drop"), emb); err != nil {
		return nil, nil, nil, err
	}
	rnn, ok := m.Child("rnn").(stateful)
	if !ok {
		return nil, nil, nil, fmt.Errorf("lstm: LanguageModel: child rnn is %T, which cannot run from given states", m.Child("rnn"))
	}
	out, hn, cn, err := rnn.ForwardState(emb, h0, c0)
	if err != nil {
		return nil, nil, nil, err
	}
	if out, err = nn.Call(m.Child("drop"), out); err != nil {
		return nil, nil, nil, err
	}
	flat, err := gorgonia.Reshape(out, tensor.Shape{T * B, m.Hidden})
	if err != nil {
		return nil, nil, nil, err
	}
	logits, err = nn.Call(m.Child("decoder"), flat)
	return logits, hn, cn, err
}

func init() {
	eager.RegisterCodec("LanguageModel", eager.Codec{
		Encode: func(mod nn.Module, r *eager.Record) error {
			m := mod.(*LanguageModel)
			r.SetInts("sizes", []int{m.Vocab, m.Embed, m.Hidden, m.Layers})
			return nil
		},
		Decode: func(r *eager.Record, children []nn.Child) (nn.Module, error) {
			sz, err := r.IntsIn("sizes", 1, 1<<24)
			if err != nil {
				return nil, err
			}
			if len(sz) != 4 {
				return nil, fmt.Errorf("LanguageModel: %d sizes, want 4", len(sz))
			}
			m := &LanguageModel{Vocab: sz[0], Embed: sz[1], Hidden: sz[2], Layers: sz[3]}
			names := map[string]bool{}
			for _, c := range children {
				if err := m.AddModule(c.Name, c.Module); err != nil {
					return nil, err
				}
				names[c.Name] = true
			}
			for _, n := range []string{"encoder", "drop", "rnn", "decoder"} {
				if !names[n] {
					return nil, fmt.Errorf("LanguageModel: child %q missing", n)
				}
			}
			return m, nil
		},
	})
}
