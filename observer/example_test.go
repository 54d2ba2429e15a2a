package observer_test

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/observer"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

func ExampleMinMaxObserver() {
	obs, err := observer.NewMinMaxObserver() // quint8, per_tensor_affine, 0..255
	if err != nil {
		panic(err)
	}
	x := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{-1, 2}))
	if err := obs.Observe(x); err != nil {
		panic(err)
	}
	qp, err := obs.CalculateQParams()
	if err != nil {
		panic(err)
	}
	fmt.Printf("scale %.9f zero point %d\n", qp.Scale(), qp.ZeroPoint())
	// Output: scale 0.011764706 zero point 85
}

func ExampleHistogramObserver() {
	obs, err := observer.NewHistogramObserver()
	if err != nil {
		panic(err)
	}
	x := tensor.New(tensor.WithShape(7), tensor.WithBacking([]float32{-4, -1, 0, 0.5, 1, 2, 12}))
	if err := obs.Observe(x); err != nil {
		panic(err)
	}
	qp, err := obs.CalculateQParams()
	if err != nil {
		panic(err)
	}
	fmt.Printf("scale %.8f zero point %d\n", qp.Scale(), qp.ZeroPoint())
	// Output: scale 0.06271446 zero point 64
}

func ExamplePerChannelMinMaxObserver() {
	obs, err := observer.NewPerChannelMinMaxObserver(observer.WithChAxis(1),
		observer.WithDtype(qdtype.QInt8Dtype), observer.WithQScheme(qdtype.PerChannelSymmetric))
	if err != nil {
		panic(err)
	}
	w := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{-1, 2, 0, 0.5, -4, 0}))
	if err := obs.Observe(w); err != nil {
		panic(err)
	}
	qp, err := obs.CalculateQParams()
	if err != nil {
		panic(err)
	}
	fmt.Printf("%.6g %v axis %d\n", qp.Scales, qp.ZeroPoints, qp.Axis)
	// Output: [0.00784314 0.0313726 1.19209e-07] [0 0 0] axis 1
}

func ExampleWithArgs() {
	// MinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
	factory := observer.WithArgs(observer.NewMinMaxObserver,
		observer.WithDtype(qdtype.QInt8Dtype), observer.WithQScheme(qdtype.PerTensorSymmetric))
	a, _ := factory()
	b, _ := factory() // a new, independent observer
	fmt.Println(a != b, a.QScheme(), qdtype.Name(a.Dtype()))
	// Output: true per_tensor_symmetric qint8
}

func ExampleMarshal() {
	obs, _ := observer.NewMovingAverageMinMaxObserver()
	_ = obs.Observe(tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{-1, 2})))
	b, err := observer.Marshal(obs)
	if err != nil {
		panic(err)
	}
	restored, err := observer.Unmarshal(b)
	if err != nil {
		panic(err)
	}
	fmt.Println(restored.State().Kind, restored.MinVal(), restored.MaxVal())
	// Output: MovingAverageMinMaxObserver [-1] [2]
}
