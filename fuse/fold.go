package fuse

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// bnParams validates and reads the batch-norm vectors (each of length n,
// nil meaning the default fill value) and returns them as float32 slices.
func bnVector(op, name string, d *tensor.Dense, n int, fill float32) ([]float32, error) {
	if d == nil {
		v := make([]float32, n)
		for i := range v {
			v[i] = fill
		}
		return v, nil
	}
	data, shape, err := floats(op, name, d)
	if err != nil {
		return nil, err
	}
	if len(shape) != 1 || shape[0] != n {
		return nil, fmt.Errorf("fuse: %s: %s has shape %v, want (%d)", op, name, shape, n)
	}
	return data, nil
}

// floats returns a float32 Dense's elements in row-major order (views are
// materialized) and its shape.
func floats(op, name string, d *tensor.Dense) ([]float32, tensor.Shape, error) {
	if d.Dtype() != tensor.Float32 {
		return nil, nil, fmt.Errorf("fuse: %s: %s has dtype %v, want float32", op, name, d.Dtype())
	}
	shape := d.Shape().Clone()
	n := shape.TotalSize()
	if d.IsScalar() {
		shape, n = tensor.Shape{}, 1
	}
	if n == 0 {
		return []float32{}, shape, nil
	}
	if d.RequiresIterator() {
		m, ok := d.Materialize().(*tensor.Dense)
		if !ok {
			return nil, nil, fmt.Errorf("fuse: %s: cannot materialize %s", op, name)
		}
		d = m
	}
	data := d.Float32s()
	if len(data) < n {
		return nil, nil, fmt.Errorf("fuse: %s: %s holds %d values for shape %v", op, name, len(data), shape)
	}
	return data[:n], shape, nil
}

// rsqrt32 is torch.rsqrt on float32: f32(1/f32(sqrt(v))).
func rsqrt32(v float32) float32 {
	return float32(1 / float32(math.Sqrt(float64(v))))
}

// folding holds the validated inputs of a BN fold.
type folding struct {
	w          []float32
	wShape     tensor.Shape
	b, rm, rv  []float32
	gamma, bet []float32
}

func readFolding(op string, w, b, runMean, runVar, bnW, bnB *tensor.Dense, eps float64, minRank int) (*folding, error) {
	if w == nil || runMean == nil || runVar == nil {
		return nil, fmt.Errorf("fuse: %s: weight, running mean and running var are required", op)
	}
	if math.IsNaN(eps) || math.IsInf(eps, 0) || eps < 0 {
		return nil, fmt.Errorf("fuse: %s: eps %v must be finite and ≥ 0", op, eps)
	}
	wd, ws, err := floats(op, "weight", w)
	if err != nil {
		return nil, err
	}
	if len(ws) < minRank {
		return nil, fmt.Errorf("fuse: %s: weight has shape %v, want rank ≥ %d", op, ws, minRank)
	}
	rmShape := runMean.Shape()
	if runMean.IsScalar() || len(rmShape) != 1 {
		return nil, fmt.Errorf("fuse: %s: running mean has shape %v, want a vector", op, rmShape)
	}
	n := rmShape[0]
	f := &folding{w: wd, wShape: ws}
	if f.rm, err = bnVector(op, "running mean", runMean, n, 0); err != nil {
		return nil, err
	}
	if f.rv, err = bnVector(op, "running var", runVar, n, 0); err != nil {
		return nil, err
	}
	if f.b, err = bnVector(op, "bias", b, n, 0); err != nil {
		return nil, err
	}
	if f.gamma, err = bnVector(op, "bn weight", bnW, n, 1); err != nil {
		return nil, err
	}
	if f.bet, err = bnVector(op, "bn bias", bnB, n, 0); err != nil {
		return nil, err
	}
	return f, nil
}

// FuseConvBNWeights folds an eval-mode batch norm into the preceding
// convolution, PyTorch's torch.nn.utils.fusion.fuse_conv_bn_weights, in
// float32 tensor arithmetic:
//
//	r  = rsqrt(running_var + eps)                  (f32(1/f32(sqrt(·))))
//	W' = W · (γ·r) broadcast along dim 0 (dim 1 when transpose)
//	b' = ((b − running_mean)·r)·γ + β
//
// convW is (C_out, C_in/g, k…) or, with transpose (ConvTranspose weights),
// (C_in, C_out/g, k…); the batch-norm vectors have length C_out, the size of
// the scaled dimension. nil convB, bnW, bnB take PyTorch's defaults (0, 1,
// 0). The inputs are float32 and are not changed; the results are new
// contiguous tensors of convW's shape and (C_out). Errors name the offending
// shape or dtype.
func FuseConvBNWeights(convW, convB, runMean, runVar *tensor.Dense, eps float64, bnW, bnB *tensor.Dense, transpose bool) (w, b *tensor.Dense, err error) {
	const op = "fuse_conv_bn_weights"
	f, err := readFolding(op, convW, convB, runMean, runVar, bnW, bnB, eps, 2)
	if err != nil {
		return nil, nil, err
	}
	n := len(f.rm)
	axis := 0
	if transpose {
		axis = 1
	}
	if f.wShape[axis] != n {
		return nil, nil, fmt.Errorf("fuse: %s: weight shape %v has %d channels along dim %d, batch norm has %d", op, f.wShape, f.wShape[axis], axis, n)
	}
	epsF := float32(eps)
	r := make([]float32, n)
	mul := make([]float32, n)
	for c := range r {
		r[c] = rsqrt32(float32(f.rv[c] + epsF))
		mul[c] = float32(f.gamma[c] * r[c])
	}
	outW := make([]float32, len(f.w))
	outer, inner := 1, 1
	for _, d := range f.wShape[:axis] {
		outer *= d
	}
	for _, d := range f.wShape[axis+1:] {
		inner *= d
	}
	for o := 0; o < outer; o++ {
		for c := 0; c < n; c++ {
			off := (o*n + c) * inner
			m := mul[c]
			for i := off; i < off+inner; i++ {
				outW[i] = float32(f.w[i] * m)
			}
		}
	}
	outB := make([]float32, n)
	for c := range outB {
		v := float32(f.b[c] - f.rm[c])
		v = float32(v * r[c])
		v = float32(v * f.gamma[c])
		outB[c] = float32(v + f.bet[c])
	}
	return dense(f.wShape, outW), dense(tensor.Shape{n}, outB), nil
}

// FuseLinearBNWeights folds an eval-mode BatchNorm1d into the preceding
// linear layer, PyTorch's torch.nn.utils.fusion.fuse_linear_bn_weights, in
// float32 tensor arithmetic:
//
//	s  = γ·rsqrt(running_var + eps)
//	W' = W · s[:, None]
//	b' = (b − running_mean)·s + β
//
// linearW is (out, in) and the vectors have length out. nil linearB, bnW,
// bnB mean 0, 1, 0 (PyTorch requires bnW and bnB; this is an extension). The
// inputs are not changed.
func FuseLinearBNWeights(linearW, linearB, runMean, runVar *tensor.Dense, eps float64, bnW, bnB *tensor.Dense) (w, b *tensor.Dense, err error) {
	const op = "fuse_linear_bn_weights"
	f, err := readFolding(op, linearW, linearB, runMean, runVar, bnW, bnB, eps, 2)
	if err != nil {
		return nil, nil, err
	}
	n := len(f.rm)
	if len(f.wShape) != 2 || f.wShape[0] != n {
		return nil, nil, fmt.Errorf("fuse: %s: weight shape %v, want (%d, in)", op, f.wShape, n)
	}
	epsF := float32(eps)
	s := make([]float32, n)
	for c := range s {
		s[c] = float32(f.gamma[c] * rsqrt32(float32(f.rv[c]+epsF)))
	}
	in := f.wShape[1]
	outW := make([]float32, len(f.w))
	for c := 0; c < n; c++ {
		for i := c * in; i < (c+1)*in; i++ {
			outW[i] = float32(f.w[i] * s[c])
		}
	}
	outB := make([]float32, n)
	for c := range outB {
		v := float32(f.b[c] - f.rm[c])
		v = float32(v * s[c])
		outB[c] = float32(v + f.bet[c])
	}
	return dense(f.wShape, outW), dense(tensor.Shape{n}, outB), nil
}

func dense(shape tensor.Shape, data []float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape.Clone()...), tensor.WithBacking(data))
}
