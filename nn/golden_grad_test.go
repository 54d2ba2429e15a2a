package nn

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type goldenGradCase struct {
	goldenCase
	R          []goldenTensor          `json:"r"`
	InputGrads []*goldenTensor         `json:"input_grads"`
	ParamGrads map[string]goldenTensor `json:"param_grads"`
}

// TestGoldenGradients compares TapeMachine gradients of
// loss = Σ_i Σ y_i ⊙ R_i with PyTorch 1.13's autograd, for the inputs and
// every parameter by its PyTorch name.
func TestGoldenGradients(t *testing.T) {
	b, err := os.ReadFile("testdata/golden_grad.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []goldenGradCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			m, err := buildGolden(c.goldenCase)
			if err != nil {
				t.Fatal(err)
			}
			sd := map[string]*tensor.Dense{}
			for k, v := range c.State {
				sd[k] = v.dense()
			}
			if err := LoadStateDict(m, sd, true); err != nil {
				t.Fatal(err)
			}
			m.ModuleBase().Train(c.Train)
			g := gorgonia.NewGraph()
			var ins gorgonia.Nodes
			for i, in := range c.Inputs {
				d := in.dense()
				ins = append(ins, gorgonia.NewTensor(g, d.Dtype(), d.Dims(), gorgonia.WithShape(d.Shape()...), gorgonia.WithValue(d), gorgonia.WithName(fmt.Sprintf("in%d", i))))
			}
			outs, err := forwardGolden(m, ins)
			if err != nil {
				t.Fatal(err)
			}
			var terms gorgonia.Nodes
			for i, o := range outs {
				rd := c.R[i].dense()
				r := gorgonia.NewTensor(g, tensor.Float32, rd.Dims(), gorgonia.WithShape(rd.Shape()...), gorgonia.WithValue(rd), gorgonia.WithName(fmt.Sprintf("r%d", i)))
				p, err := gorgonia.HadamardProd(o, r)
				if err != nil {
					t.Fatal(err)
				}
				s, err := gorgonia.Sum(p)
				if err != nil {
					t.Fatal(err)
				}
				terms = append(terms, s)
			}
			loss := terms[0]
			if len(terms) > 1 {
				if loss, err = gorgonia.ReduceAdd(terms); err != nil {
					t.Fatal(err)
				}
			}
			var wrt gorgonia.Nodes
			var names []string
			for i, n := range ins {
				if c.InputGrads[i] != nil {
					wrt = append(wrt, n)
					names = append(names, fmt.Sprintf("input %d", i))
				}
			}
			want := map[string]goldenTensor{}
			for i := range ins {
				if c.InputGrads[i] != nil {
					want[fmt.Sprintf("input %d", i)] = *c.InputGrads[i]
				}
			}
			for _, np := range NamedParametersOf(m) {
				n, err := np.Param.Node(g)
				if err != nil {
					t.Fatal(err)
				}
				wrt = append(wrt, n)
				names = append(names, np.Name)
				want[np.Name] = c.ParamGrads[np.Name]
			}
			grads, err := gorgonia.Grad(loss, wrt...)
			if err != nil {
				t.Fatal(err)
			}
			vals := make([]gorgonia.Value, len(grads))
			for i, gn := range grads {
				gorgonia.Read(gn, &vals[i])
			}
			vm := gorgonia.NewTapeMachine(g)
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				w, ok := want[names[i]]
				if !ok || w.Data == nil {
					t.Fatalf("no PyTorch gradient for %s", names[i])
				}
				if ok, msg := closeTo(v.(*tensor.Dense).Float32s(), w.Data); !ok {
					t.Errorf("gradient of %s: %s", names[i], msg)
				}
			}
		})
	}
}
