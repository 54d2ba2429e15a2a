package nn

import (
	"fmt"
	"strings"
	"testing"

	"github.com/qgorgonia/qgorgonia/internal/golden"
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
	var f struct {
		Cases []goldenGradCase `json:"cases"`
	}
	golden.Load(t, "testdata/golden_grad.json", &f)
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

// TestGoldenCrossEntropy compares CrossEntropyLoss and its gradient with
// torch.nn.functional.cross_entropy on tables of small, moderate and
// large logits.
func TestGoldenCrossEntropy(t *testing.T) {
	var f struct {
		CrossEntropy []struct {
			Logits goldenTensor `json:"logits"`
			Target goldenTensor `json:"target"`
			Loss   float64      `json:"loss"`
			Grad   goldenTensor `json:"grad"`
		} `json:"cross_entropy"`
	}
	golden.Load(t, "testdata/golden_grad.json", &f)
	if len(f.CrossEntropy) == 0 {
		t.Fatal("no cross-entropy cases")
	}
	for i, c := range f.CrossEntropy {
		g := gorgonia.NewGraph()
		ld, td := c.Logits.dense(), c.Target.dense()
		logits := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(ld.Shape()...), gorgonia.WithValue(ld), gorgonia.WithName("logits"))
		target := gorgonia.NewVector(g, tensor.Int64, gorgonia.WithShape(td.Shape()...), gorgonia.WithValue(td), gorgonia.WithName("target"))
		loss, err := CrossEntropyLoss(logits, target)
		if err != nil {
			t.Fatal(err)
		}
		grads, err := gorgonia.Grad(loss, logits)
		if err != nil {
			t.Fatal(err)
		}
		var lv, gv gorgonia.Value
		gorgonia.Read(loss, &lv)
		gorgonia.Read(grads[0], &gv)
		vm := gorgonia.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		vm.Close()
		got, _ := scalarOf(lv)
		if ok, msg := closeTo([]float32{float32(got)}, []float64{c.Loss}); !ok {
			t.Errorf("case %d loss: %s", i, msg)
		}
		if ok, msg := closeTo(gv.(*tensor.Dense).Float32s(), c.Grad.Data); !ok {
			t.Errorf("case %d gradient: %s", i, msg)
		}
	}
	g := gorgonia.NewGraph()
	logits := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 3), gorgonia.WithName("l"), gorgonia.WithInit(gorgonia.Ones()))
	bad := gorgonia.NewVector(g, tensor.Float32, gorgonia.WithShape(2), gorgonia.WithName("t"))
	if _, err := CrossEntropyLoss(logits, bad); err == nil {
		t.Error("float targets accepted")
	}
	g = gorgonia.NewGraph()
	logits = gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 3), gorgonia.WithName("l"), gorgonia.WithInit(gorgonia.Ones()))
	idx := gorgonia.NewVector(g, tensor.Int64, gorgonia.WithShape(2), gorgonia.WithName("i"), gorgonia.WithValue(tensor.New(tensor.WithBacking([]int64{0, 3}))))
	if _, err := CrossEntropyLoss(logits, idx); err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("target 3 of 3 classes: %v", err)
	}
}

func TestMSELoss(t *testing.T) {
	g := gorgonia.NewGraph()
	p := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 2), gorgonia.WithName("p"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, 2, 3, 4}))))
	y := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 2), gorgonia.WithName("y"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, 0, 3, 0}))))
	loss, err := MSELoss(p, y)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := gorgonia.Grad(loss, p)
	if err != nil {
		t.Fatal(err)
	}
	var lv, gv gorgonia.Value
	gorgonia.Read(loss, &lv)
	gorgonia.Read(grads[0], &gv)
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	// ((2)² + (4)²)/4 = 5; d/dp = 2(p − y)/4.
	if l, _ := scalarOf(lv); l != 5 {
		t.Errorf("mse %v, want 5", l)
	}
	want := []float32{0, 1, 0, 2}
	for i, v := range gv.(*tensor.Dense).Float32s() {
		if v != want[i] {
			t.Fatalf("mse gradient %v, want %v", gv, want)
		}
	}
	q := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(1, 4), gorgonia.WithName("q"))
	if _, err := MSELoss(p, q); err == nil {
		t.Error("mse of (2,2) and (1,4) accepted")
	}
}
