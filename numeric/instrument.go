package numeric

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
)

// postFn runs after a logged module: x is its input, states the initial
// states a recurrent module was given through ForwardState (nil through
// Forward), y its output (the output sequence or h').
type postFn func(x *gorgonia.Node, states []*gorgonia.Node, y *gorgonia.Node) error

// The ForwardState signatures of the recurrent modules of nn and nodes.
// Their parents call ForwardState directly, not through nn.Call, so output
// hooks do not see those runs; such modules are logged by a wrapper put in
// their place instead.
type (
	// nn.LSTM, nodes.DynamicQuantizedLSTM
	lstmStater interface {
		ForwardState(x, h0, c0 *gorgonia.Node) (out, hn, cn *gorgonia.Node, err error)
	}
	// nn.GRU, nn.RNN
	rnnStater interface {
		ForwardState(x, h0 *gorgonia.Node) (out, hn *gorgonia.Node, err error)
	}
	// nn.LSTMCell, nodes.DynamicQuantizedCell
	lstmCellStater interface {
		ForwardState(x, h, c *gorgonia.Node) (*gorgonia.Node, *gorgonia.Node, error)
	}
	// nn.GRUCell, nn.RNNCell
	cellStater interface {
		ForwardState(x, h *gorgonia.Node) (*gorgonia.Node, error)
	}
)

func stateful(m nn.Module) bool {
	switch m.(type) {
	case lstmStater, rnnStater, lstmCellStater, cellStater:
		return true
	}
	return false
}

// callState runs m from x and the given initial states (missing ones nil,
// extra ones dropped) and returns its first output.
func callState(m nn.Module, x *gorgonia.Node, states []*gorgonia.Node) (*gorgonia.Node, error) {
	if len(states) == 0 {
		return nn.Call(m, x)
	}
	st := func(i int) *gorgonia.Node {
		if i < len(states) {
			return states[i]
		}
		return nil
	}
	switch t := m.(type) {
	case lstmStater:
		y, _, _, err := t.ForwardState(x, st(0), st(1))
		return y, err
	case rnnStater:
		y, _, err := t.ForwardState(x, st(0))
		return y, err
	case lstmCellStater:
		y, _, err := t.ForwardState(x, st(0), st(1))
		return y, err
	case cellStater:
		return t.ForwardState(x, st(0))
	}
	return nil, fmt.Errorf("%s was run with initial states but has no ForwardState", m.TypeName())
}

// logWrap stands in for a recurrent module while a comparison runs: it
// runs the module and then post. TypeName is the module's.
type logWrap struct {
	nn.Base
	nn.Stateless
	inner nn.Module
	post  postFn
}

func (w *logWrap) TypeName() string  { return w.inner.TypeName() }
func (w *logWrap) Clone() nn.Module  { return w.inner.Clone() }
func (w *logWrap) Unwrap() nn.Module { return w.inner }

func (w *logWrap) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	y, err := nn.Call(w.inner, x)
	if err != nil {
		return nil, err
	}
	return y, w.post(x, nil, y)
}

type lstmWrap struct{ *logWrap }

func (w lstmWrap) ForwardState(x, h0, c0 *gorgonia.Node) (out, hn, cn *gorgonia.Node, err error) {
	if out, hn, cn, err = w.inner.(lstmStater).ForwardState(x, h0, c0); err != nil {
		return nil, nil, nil, err
	}
	return out, hn, cn, w.post(x, []*gorgonia.Node{h0, c0}, out)
}

type rnnWrap struct{ *logWrap }

func (w rnnWrap) ForwardState(x, h0 *gorgonia.Node) (out, hn *gorgonia.Node, err error) {
	if out, hn, err = w.inner.(rnnStater).ForwardState(x, h0); err != nil {
		return nil, nil, err
	}
	return out, hn, w.post(x, []*gorgonia.Node{h0}, out)
}

type lstmCellWrap struct{ *logWrap }

func (w lstmCellWrap) ForwardState(x, h, c *gorgonia.Node) (*gorgonia.Node, *gorgonia.Node, error) {
	h1, c1, err := w.inner.(lstmCellStater).ForwardState(x, h, c)
	if err != nil {
		return nil, nil, err
	}
	return h1, c1, w.post(x, []*gorgonia.Node{h, c}, h1)
}

type cellWrap struct{ *logWrap }

func (w cellWrap) ForwardState(x, h *gorgonia.Node) (*gorgonia.Node, error) {
	h1, err := w.inner.(cellStater).ForwardState(x, h)
	if err != nil {
		return nil, err
	}
	return h1, w.post(x, []*gorgonia.Node{h}, h1)
}

// instrumenter attaches post functions to modules and undoes it.
type instrumenter struct {
	hooks hookSaver
	swaps []swap
}

type swap struct {
	root nn.Module
	path string
	orig nn.Module
}

// attach makes post run after every run of m, the module at path in root:
// through a pre-hook and an output hook, or, for a recurrent module that
// is not the root, through a wrapper put in its place (so that runs
// through ForwardState are seen too).
func (in *instrumenter) attach(root nn.Module, path string, m nn.Module, post postFn) error {
	if stateful(m) && path != "" {
		lw := &logWrap{inner: m, post: post}
		lw.Train(m.ModuleBase().Training())
		var w nn.Module
		switch m.(type) {
		case lstmStater:
			w = lstmWrap{lw}
		case rnnStater:
			w = rnnWrap{lw}
		case lstmCellStater:
			w = lstmCellWrap{lw}
		default:
			w = cellWrap{lw}
		}
		if err := nn.Set(root, path, w); err != nil {
			return err
		}
		in.swaps = append(in.swaps, swap{root, path, m})
		return nil
	}
	var pending []*gorgonia.Node
	b := in.hooks.save(m)
	b.PreHooks = append(b.PreHooks, func(x *gorgonia.Node) (*gorgonia.Node, error) {
		pending = append(pending, x)
		return x, nil
	})
	b.OutputHooks = append(b.OutputHooks, func(y *gorgonia.Node) (*gorgonia.Node, error) {
		// FloatFunctional-like modules run their output hooks from their
		// methods, without pre-hooks: their input is unknown (nil).
		var x *gorgonia.Node
		if len(pending) > 0 {
			x = pending[len(pending)-1]
			pending = pending[:len(pending)-1]
		}
		return y, post(x, nil, y)
	})
	return nil
}

// restore puts back the original modules and hook lists.
func (in *instrumenter) restore() {
	for i := len(in.swaps) - 1; i >= 0; i-- {
		s := in.swaps[i]
		_ = nn.Set(s.root, s.path, s.orig) // the path existed when swapped
	}
	in.hooks.restore()
}
