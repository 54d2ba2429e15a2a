package eager_test

import (
	"bytes"
	"fmt"

	"github.com/qgorgonia/qgorgonia/eager"
	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"gorgonia.org/tensor"
)

// tinyModel is QuantStub → Linear(3, 2) → ReLU → DeQuantStub with fixed
// weights.
func tinyModel() *nn.Sequential {
	lin, _ := nn.NewLinear(3, 2)
	copy(lin.Weight.Data.Float32s(), []float32{0.5, -0.25, 1, -1, 0.75, 0.1})
	copy(lin.Bias.Data.Float32s(), []float32{0.1, -0.2})
	m, _ := nn.NewSequential(eager.NewQuantStub(nil), lin, nn.NewReLU(), eager.NewDeQuantStub(nil))
	return m
}

func batch(v ...float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(len(v)/3, 3), tensor.WithBacking(v))
}

// Post-training static quantization: fuse, prepare, calibrate, convert.
func ExamplePrepare() {
	model := nn.Eval(tinyModel())
	fused, _ := fuse.FuseModules(model, [][]string{{"1", "2"}}) // Linear+ReLU
	fused.ModuleBase().QConfig = eager.DefaultQConfig()
	prepared, _ := eager.Prepare(fused)
	for _, b := range []*tensor.Dense{batch(1, 2, 3, -1, 0, 1), batch(0.5, -2, 1, 2, 2, -1)} {
		if _, err := eager.Run(prepared, b); err != nil { // calibration
			fmt.Println(err)
		}
	}
	quantized, err := eager.Convert(prepared)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range quantized.ModuleBase().Children() {
		fmt.Println(c.Name, c.Module.TypeName())
	}
	y, _ := eager.Run(quantized, batch(1, 2, 3))
	fmt.Printf("%.4f\n", y.Float32s())
	// Output:
	// 0 Quantize
	// 1 QuantizedLinearReLU
	// 2 QuantizedIdentity
	// 3 DeQuantize
	// [3.0756 0.6346]
}

// Dynamic quantization of the Linear and LSTM layers of a model.
func ExampleQuantizeDynamic() {
	lstm, _ := nn.NewLSTM(3, 4, 1, false, nn.WithSeed(1))
	lin, _ := nn.NewLinear(4, 2, nn.WithSeed(2))
	model, _ := nn.NewSequential(lstm, lin)
	quantized, err := eager.QuantizeDynamic(model, eager.DynamicSpec{}) // qint8, default types
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range quantized.ModuleBase().Children() {
		fmt.Println(c.Name, c.Module.TypeName())
	}
	x := tensor.New(tensor.WithShape(2, 1, 3), tensor.WithBacking([]float32{1, 0, -1, 0.5, 0.5, 0.5}))
	y, _ := eager.Run(quantized, x)
	fmt.Println(y.Shape())
	// Output:
	// 0 DynamicQuantizedLSTM
	// 1 DynamicQuantizedLinear
	// (2, 1, 2)
}

// Quantization-aware training: fuse for QAT, prepare_qat, train (here:
// forward passes in training mode), convert.
func ExamplePrepareQAT() {
	model := tinyModel()
	fused, _ := fuse.FuseModulesQAT(model, [][]string{{"1", "2"}})
	qc, _ := eager.GetDefaultQATQConfig("x86", 1)
	fused.ModuleBase().QConfig = qc
	prepared, err := eager.PrepareQAT(fused)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(prepared.ModuleBase().Children()[1].Module.TypeName(), "(QAT)")
	for _, b := range []*tensor.Dense{batch(1, 2, 3, -1, 0, 1), batch(0.5, -2, 1, 2, 2, -1)} {
		if _, err := eager.Run(prepared, b); err != nil { // a training step would also update weights
			fmt.Println(err)
		}
	}
	quantized, err := eager.Convert(nn.Eval(prepared))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(quantized.ModuleBase().Children()[1].Module.TypeName())
	y, _ := eager.Run(quantized, batch(1, 2, 3))
	fmt.Printf("%.4f\n", y.Float32s())
	// Output:
	// LinearReLU (QAT)
	// QuantizedLinearReLU
	// [3.0774 0.6300]
}

// Saving a quantized model and loading it back: the loaded model needs no
// float weights and computes the same int8 result.
func ExampleSave() {
	model := tinyModel()
	model.QConfig = eager.DefaultQConfig()
	quantized, err := eager.Quantize(model, eager.DefaultEvalFn, []any{[]*tensor.Dense{batch(1, 2, 3, -1, 0, 1)}})
	if err != nil {
		fmt.Println(err)
		return
	}
	var buf bytes.Buffer
	if err := eager.Save(&buf, quantized); err != nil {
		fmt.Println(err)
		return
	}
	loaded, err := eager.Load(&buf)
	if err != nil {
		fmt.Println(err)
		return
	}
	y1, _ := eager.Run(quantized, batch(1, 2, 3))
	y2, _ := eager.Run(loaded, batch(1, 2, 3))
	fmt.Printf("%.4f %.4f\n", y1.Float32s(), y2.Float32s())
	// Output:
	// [3.0756 0.6102] [3.0756 0.6102]
}
