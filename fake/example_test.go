package fake_test

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/fake"
	"github.com/qgorgonia/qgorgonia/observer"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func ExampleFakeQuantizePerTensorAffine() {
	x := tensor.New(tensor.WithShape(4), tensor.WithBacking([]float32{-0.505, -0.51, 0.3, 1.27}))
	y, mask, err := fake.FakeQuantizePerTensorAffine(x, 0.01, 50, 0, 127)
	if err != nil {
		panic(err)
	}
	fmt.Println(y.Float32s(), mask)
	// Output: [-0.5 -0.5 0.29999998 0.77] [true false true false]
}

func ExampleFakeQuantizer() {
	// FakeQuantize(MovingAverageMinMaxObserver, quant_min=0, quant_max=255)
	fq, err := fake.NewFakeQuantizer(observer.WithArgs(observer.NewMovingAverageMinMaxObserver,
		observer.WithQuantRange(0, 255)))
	if err != nil {
		panic(err)
	}
	y, err := fq.Forward(tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{-1, 1})))
	if err != nil {
		panic(err)
	}
	qp := fq.QParams()
	fmt.Printf("%v scale %.7f zero point %d\n", y.Float32s(), qp.Scale(), qp.ZeroPoint())
	// Output: [-0.9960785 0.9960785] scale 0.0078431 zero point 127
}

func ExampleFakeQuantize() {
	g := G.NewGraph()
	x := G.NewVector(g, tensor.Float32, G.WithShape(3), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(3), tensor.WithBacking([]float32{-1, 0.5, 3}))))
	fq, err := fake.NewFakeQuantizer(observer.WithArgs(observer.NewMinMaxObserver))
	if err != nil {
		panic(err)
	}
	y, _, err := fake.FakeQuantize(x, fq)
	if err != nil {
		panic(err)
	}
	cost := G.Must(G.Sum(y))
	if _, err := G.Grad(cost, x); err != nil {
		panic(err)
	}
	m := G.NewTapeMachine(g, G.BindDualValues(x))
	defer m.Close()
	if err := m.RunAll(); err != nil {
		panic(err)
	}
	dx, _ := x.Grad()
	qp := fq.QParams()
	fmt.Printf("y %v\ndx %v\nscale %.7f zero point %d\n", y.Value().Data(), dx.Data(), qp.Scale(), qp.ZeroPoint())
	// Output:
	// y [-1.0039216 0.5019608 2.9960785]
	// dx [1 1 1]
	// scale 0.0156863 zero point 64
}
