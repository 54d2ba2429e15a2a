package nn

import (
	"sync"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestConcurrentGraphs builds one model into several graphs at once and
// runs them at once (eval mode); run with -race. Machines are created one
// at a time: gorgonia.NewTapeMachine writes an engine into every bound
// value, including the shared parameter tensors.
func TestConcurrentGraphs(t *testing.T) {
	lin, err := NewLinear(4, 3, WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	model, err := NewSequential(lin, NewReLU())
	if err != nil {
		t.Fatal(err)
	}
	Eval(model)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	graphs := make([]*gorgonia.ExprGraph, n)
	ys := make([]*gorgonia.Node, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			g := gorgonia.NewGraph()
			x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(2, 4), gorgonia.WithName("x"), gorgonia.WithInit(gorgonia.Ones()))
			graphs[i] = g
			ys[i], errs[i] = Call(model, x)
		}(i)
	}
	wg.Wait()
	vms := make([]gorgonia.VM, n)
	for i := range vms {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if len(Learnables(model, graphs[i])) != 2 {
			t.Fatalf("graph %d: parameters not bound once each", i)
		}
		vms[i] = gorgonia.NewTapeMachine(graphs[i])
		defer vms[i].Close()
	}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = vms[i].RunAll()
		}(i)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		a, b := ys[i].Value().Data().([]float32), ys[0].Value().Data().([]float32)
		for j := range a {
			if a[j] != b[j] {
				t.Fatalf("graph %d output differs", i)
			}
		}
	}
}
