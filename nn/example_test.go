package nn_test

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Residual is a user-defined composite module: y = relu(body(x) + x).
// Its children live in the embedded Base and are looked up at Forward
// time, so nn.Set can replace them; the FloatFunctional is a child too, so
// eager quantization can observe the addition.
type Residual struct {
	nn.Base
	nn.Stateless
}

func NewResidual(ch int) (*Residual, error) {
	conv, err := nn.NewConv2d(ch, ch, []int{3}, nn.Padding(1), nn.WithSeed(3))
	if err != nil {
		return nil, err
	}
	r := &Residual{}
	for _, c := range []struct {
		name string
		m    nn.Module
	}{{"conv", conv}, {"skip_add", nn.NewFloatFunctional()}} {
		if err := r.AddModule(c.name, c.m); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Residual) TypeName() string { return "Residual" }

func (r *Residual) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	y, err := nn.Call(r.Child("conv"), x)
	if err != nil {
		return nil, err
	}
	return r.Child("skip_add").(*nn.FloatFunctional).AddReLU(y, x)
}

func (r *Residual) Clone() nn.Module { return &Residual{Base: r.CloneBase()} }

func Example_customModule() {
	block, err := NewResidual(2)
	if err != nil {
		panic(err)
	}
	fmt.Println(nn.StateDictKeys(block))
	// Swap the convolution for an Identity by path, as fusion would.
	if err := nn.Set(block, "conv", nn.NewIdentity()); err != nil {
		panic(err)
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(1, 2, 1, 2), gorgonia.WithName("x"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(1, 2, 1, 2), tensor.WithBacking([]float32{1, -2, 3, -4}))))
	y, err := nn.Call(block, x)
	if err != nil {
		panic(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		panic(err)
	}
	fmt.Println(y.Value().Data())
	// Output:
	// [conv.weight conv.bias]
	// [2 0 6 0]
}

func ExampleLSTM() {
	lstm, err := nn.NewLSTM(4, 3, 2, false, nn.WithSeed(1)) // input 4, hidden 3, 2 layers
	if err != nil {
		panic(err)
	}
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(5, 2, 4), gorgonia.WithName("x"), gorgonia.WithInit(gorgonia.Ones()))
	out, hn, cn, err := lstm.ForwardState(x, nil, nil) // zero initial states
	if err != nil {
		panic(err)
	}
	fmt.Println("out", out.Shape(), "h_n", hn.Shape(), "c_n", cn.Shape())
	fmt.Println(nn.StateDictKeys(lstm)[:4])
	// Output:
	// out (5, 2, 3) h_n (2, 2, 3) c_n (2, 2, 3)
	// [weight_ih_l0 weight_hh_l0 bias_ih_l0 bias_hh_l0]
}

func ExampleLoadNpzFile() {
	// testdata/sequential_cnn.npz was written from a PyTorch model with
	// np.savez(path, **{k: v.numpy() for k, v in model.state_dict().items()}).
	sd, err := nn.LoadNpzFile("testdata/sequential_cnn.npz")
	if err != nil {
		panic(err)
	}
	conv, _ := nn.NewConv2d(1, 4, []int{3}, nn.Padding(1))
	bn, _ := nn.NewBatchNorm2d(4)
	pool, _ := nn.NewMaxPool2d([]int{2})
	fc, _ := nn.NewLinear(36, 5)
	model, _ := nn.NewSequential(conv, bn, nn.NewReLU(), pool, nn.NewFlatten(), fc)
	if err := nn.LoadStateDict(model, sd, true); err != nil {
		panic(err)
	}
	fmt.Println(len(sd), "tensors loaded; running_var", nn.StateDict(model)["1.running_var"].Shape())
	// Output: 9 tensors loaded; running_var (4)
}

func ExampleSummary() {
	conv, _ := nn.NewConv2d(1, 2, []int{3})
	bn, _ := nn.NewBatchNorm2d(2)
	model, _ := nn.NewSequential(conv, bn, nn.NewReLU())
	nn.Eval(model)
	fmt.Print(nn.Summary(model))
	// Output:
	// Sequential [eval]
	//   (0): Conv2d [weight(2, 1, 3, 3) bias(2) eval]
	//   (1): BatchNorm2d [weight(2) bias(2) running_mean(2) running_var(2) num_batches_tracked() eval]
	//   (2): ReLU [eval]
}
