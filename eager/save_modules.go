package eager

import (
	"fmt"

	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qat"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// maxUnchecked bounds sizes that no saved tensor vouches for (parameter-free
// layers), so a corrupted file cannot request a huge allocation.
const maxUnchecked = 1 << 20

// statelessTypes are the parameter-free nn modules saved by TypeName alone
// (plus the fields below in encodeOwn).
var statelessTypes = map[string]func() nn.Module{
	"ReLU": func() nn.Module { return nn.NewReLU() }, "ReLU6": func() nn.Module { return nn.NewReLU6() },
	"Sigmoid": func() nn.Module { return nn.NewSigmoid() }, "Tanh": func() nn.Module { return nn.NewTanh() },
	"Hardswish": func() nn.Module { return nn.NewHardswish() }, "Hardsigmoid": func() nn.Module { return nn.NewHardsigmoid() },
	"Identity": func() nn.Module { return nn.NewIdentity() }, "FloatFunctional": func() nn.Module { return nn.NewFloatFunctional() },
}

func encodeOwn(m nn.Module) (*Record, error) {
	switch f := m.(type) {
	case *nn.Sequential:
		return NewRecord("nn.Sequential"), nil
	case *QuantStub:
		return NewRecord("eager.QuantStub"), nil
	case *DeQuantStub:
		return NewRecord("eager.DeQuantStub"), nil
	case *QuantWrapper:
		return NewRecord("eager.QuantWrapper"), nil
	case *nn.Linear:
		r := NewRecord("nn.Linear")
		r.SetInt("in", int64(f.InFeatures))
		r.SetInt("out", int64(f.OutFeatures))
		paramsToRecord(r, m)
		return r, nil
	case *nn.Conv1d, *nn.Conv2d, *nn.Conv3d, *nn.ConvTranspose1d, *nn.ConvTranspose2d, *nn.ConvTranspose3d:
		c, transposed, _ := fuse.ConvOf(m)
		r := NewRecord("nn.Conv")
		r.Strings["kind"] = m.TypeName()
		r.SetBool("transposed", transposed)
		encodeConvGeometry(r, c)
		paramsToRecord(r, m)
		return r, nil
	case *nn.BatchNorm:
		r := NewRecord("nn.BatchNorm")
		r.Strings["kind"] = m.TypeName()
		r.SetInt("features", int64(f.NumFeatures))
		r.SetFloat("eps", f.Eps)
		r.SetFloat("momentum", f.Momentum)
		r.SetBool("cumulative", f.CumulativeAverage)
		r.SetBool("affine", f.Weight != nil)
		r.SetBool("track", f.RunningMean != nil)
		paramsToRecord(r, m)
		return r, nil
	case *nn.LayerNorm:
		r := NewRecord("nn.LayerNorm")
		r.SetInts("shape", f.NormalizedShape)
		r.SetFloat("eps", f.Eps)
		r.SetBool("affine", f.Weight != nil)
		paramsToRecord(r, m)
		return r, nil
	case *nn.GroupNorm:
		r := NewRecord("nn.GroupNorm")
		r.SetInt("groups", int64(f.NumGroups))
		r.SetInt("channels", int64(f.NumChannels))
		r.SetFloat("eps", f.Eps)
		r.SetBool("affine", f.Weight != nil)
		paramsToRecord(r, m)
		return r, nil
	case *nn.InstanceNorm:
		r := NewRecord("nn.InstanceNorm")
		r.Strings["kind"] = m.TypeName()
		r.SetInt("features", int64(f.NumFeatures))
		r.SetFloat("eps", f.Eps)
		r.SetBool("affine", f.Weight != nil)
		paramsToRecord(r, m)
		return r, nil
	case *nn.LSTM, *nn.GRU, *nn.RNN:
		var rb *nn.RNNBase
		r := NewRecord("nn.RNN")
		switch g := m.(type) {
		case *nn.LSTM:
			rb = &g.RNNBase
		case *nn.GRU:
			rb = &g.RNNBase
		case *nn.RNN:
			rb = &g.RNNBase
			r.Strings["nonlinearity"] = g.Nonlinearity()
		}
		r.Strings["kind"] = m.TypeName()
		r.SetInt("input", int64(rb.InputSize))
		r.SetInt("hidden", int64(rb.HiddenSize))
		r.SetInt("layers", int64(rb.NumLayers))
		r.SetBool("bias", rb.HasBias)
		r.SetBool("batch_first", rb.BatchFirst)
		r.SetBool("bidirectional", rb.Bidirectional)
		r.SetFloat("dropout", rb.DropoutP)
		paramsToRecord(r, m)
		return r, nil
	case *nn.LSTMCell, *nn.GRUCell, *nn.RNNCell:
		r := NewRecord("nn.Cell")
		r.Strings["kind"] = m.TypeName()
		if c, ok := m.(*nn.RNNCell); ok {
			r.Strings["nonlinearity"] = c.Nonlinearity()
		}
		paramsToRecord(r, m)
		return r, nil
	case *nn.Embedding:
		r := NewRecord("nn.Embedding")
		r.SetBool("has_padding", f.HasPadding)
		r.SetInt("padding_idx", int64(f.PaddingIdx))
		paramsToRecord(r, m)
		return r, nil
	case *nn.Flatten:
		r := NewRecord("nn.Flatten")
		r.SetInt("start", int64(f.StartDim), int64(f.EndDim))
		return r, nil
	case *nn.Dropout:
		r := NewRecord("nn.Dropout")
		r.SetFloat("p", f.P)
		return r, nil
	case *nn.ELU:
		r := NewRecord("nn.ELU")
		r.SetFloat("alpha", float64(f.Alpha))
		return r, nil
	case *nn.LeakyReLU:
		r := NewRecord("nn.LeakyReLU")
		r.SetFloat("slope", float64(f.NegativeSlope))
		return r, nil
	case *nn.Hardtanh:
		r := NewRecord("nn.Hardtanh")
		r.SetFloat("range", float64(f.MinVal), float64(f.MaxVal))
		return r, nil
	case *nn.MaxPool2d:
		r := NewRecord("nn.MaxPool2d")
		r.SetInts("kernel", f.KernelSize)
		r.SetInts("stride", f.Stride)
		r.SetInts("padding", f.Padding)
		r.SetInts("dilation", f.Dilation)
		r.SetBool("ceil", f.CeilMode)
		return r, nil
	case *nn.AvgPool2d:
		r := NewRecord("nn.AvgPool2d")
		r.SetInts("kernel", f.KernelSize)
		r.SetInts("stride", f.Stride)
		r.SetInts("padding", f.Padding)
		r.SetBool("ceil", f.CeilMode)
		r.SetBool("count_include_pad", f.CountIncludePad)
		r.SetInt("divisor", int64(f.DivisorOverride))
		return r, nil
	case *nn.AdaptiveAvgPool2d:
		r := NewRecord("nn.AdaptiveAvgPool2d")
		r.SetInt("size", int64(f.OutputSize[0]), int64(f.OutputSize[1]))
		return r, nil
	case *nn.Upsample:
		r := NewRecord("nn.Upsample")
		r.SetInts("size", f.Size)
		r.SetFloat("scale", f.ScaleFactor...)
		r.Strings["mode"] = f.Mode
		r.SetBool("align_corners", f.AlignCorners)
		return r, nil
	case fuse.Fused:
		return NewRecord("fuse." + m.TypeName()), nil
	case qat.Module:
		return encodeQAT(f)
	case *nodes.QuantizeModule:
		r := NewRecord("nodes.Quantize")
		r.Strings["dtype"] = qdtype.Name(f.QParams.Dtype)
		r.SetFloat("scale", f.QParams.Scale())
		r.SetInt("zero_point", f.QParams.ZeroPoint())
		return r, nil
	case *nodes.DequantizeModule:
		return NewRecord("nodes.DeQuantize"), nil
	case *nodes.QuantizedLinear:
		r := NewRecord("nodes.QuantizedLinear")
		w, b := f.Weight()
		r.QTensors["weight"] = w
		if b != nil {
			r.Tensors["bias"] = b
		}
		r.SetFloat("scale", f.Scale)
		r.SetInt("zero_point", f.ZeroPoint)
		r.SetBool("relu", f.ReLU)
		return r, nil
	case *nodes.QuantizedConv:
		r := NewRecord("nodes.QuantizedConv")
		w, b := f.Weight()
		r.QTensors["weight"] = w
		if b != nil {
			r.Tensors["bias"] = b
		}
		o := f.Packed.Options()
		r.SetInt("kind", int64(f.Kind))
		r.SetInts("stride", o.Stride)
		r.SetInts("padding", o.Padding)
		r.SetInts("dilation", o.Dilation)
		for _, v := range o.OutputPadding {
			if v != 0 {
				r.SetInts("output_padding", o.OutputPadding)
				break
			}
		}
		r.SetInt("groups", int64(o.Groups))
		r.SetFloat("scale", f.Scale)
		r.SetInt("zero_point", f.ZeroPoint)
		return r, nil
	case *nodes.QuantizedActivation:
		r := NewRecord("nodes.QuantizedActivation")
		r.Strings["kind"] = f.Kind
		r.SetFloat("param", f.Param)
		r.SetFloat("scale", f.Scale)
		r.SetInt("zero_point", f.ZeroPoint)
		return r, nil
	case *nodes.QuantizedNorm:
		r := NewRecord("nodes.QuantizedNorm")
		r.Strings["kind"] = f.Kind
		for k, v := range map[string][]float32{"weight": f.Weight, "bias": f.Bias, "mean": f.Mean, "var": f.Var} {
			if v != nil {
				r.Tensors[k] = tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(append([]float32(nil), v...)))
			}
		}
		r.SetInts("shape", f.NormalizedShape)
		r.SetInt("groups", int64(f.Groups))
		r.SetFloat("eps", f.Eps)
		r.SetFloat("scale", f.Scale)
		r.SetInt("zero_point", f.ZeroPoint)
		r.SetBool("relu", f.ReLU)
		return r, nil
	case *nodes.QFunctional:
		r := NewRecord("nodes.QFunctional")
		r.SetFloat("scale", f.Scale)
		r.SetInt("zero_point", f.ZeroPoint)
		return r, nil
	case *nodes.Passthrough:
		r := NewRecord("nodes.Passthrough")
		fr, err := encodeModule(f.Float, "float")
		if err != nil {
			return nil, err
		}
		r.Children = append(r.Children, NamedRecord{Name: "float", Record: fr})
		return r, nil
	case *nodes.DynamicQuantizedLinear:
		r := NewRecord("nodes.DynamicQuantizedLinear")
		if f.Packed != nil {
			w, b := f.Packed.Unpack()
			r.QTensors["weight"] = w
			if b != nil {
				r.Tensors["bias"] = b
			}
		} else {
			r.Tensors["fp16_weight"] = f.FP16Weight
			if f.FP16Bias != nil {
				r.Tensors["bias"] = f.FP16Bias
			}
		}
		r.SetBool("reduce_range", f.ReduceRange)
		r.SetBool("relu", f.ReLU)
		return r, nil
	case *nodes.DynamicQuantizedLSTM:
		return encodeRNNStack("nodes.DynamicQuantizedLSTM", f.NumLayers, f.Bidirectional, f.BatchFirst, f.Cells, encodeCellWeights), nil
	case *nodes.DynamicQuantizedGRU:
		return encodeRNNStack("nodes.DynamicQuantizedGRU", f.NumLayers, f.Bidirectional, f.BatchFirst, f.Cells, encodeCellWeights), nil
	case *nodes.DynamicFP16RNN:
		r := encodeRNNStack("nodes.DynamicFP16RNN", f.NumLayers, f.Bidirectional, f.BatchFirst, f.Cells, encodeFP16CellWeights)
		r.Strings["kind"] = f.Kind
		return r, nil
	case *nodes.DynamicFP16Cell:
		r := NewRecord("nodes.DynamicFP16Cell")
		r.Strings["kind"] = f.Kind
		r.Strings["nonlinearity"] = f.Nonlinearity
		encodeFP16CellWeights(r, "", f.Weights)
		return r, nil
	case *nodes.DynamicQuantizedCell:
		r := NewRecord("nodes.DynamicQuantizedCell")
		r.Strings["kind"] = f.Kind
		r.Strings["nonlinearity"] = f.Nonlinearity
		encodeCellWeights(r, "", f.Weights)
		return r, nil
	}
	if mk, ok := statelessTypes[m.TypeName()]; ok && fmt.Sprintf("%T", m) == fmt.Sprintf("%T", mk()) {
		return NewRecord("nn." + m.TypeName()), nil
	}
	codecMu.RLock()
	c, ok := codecs[m.TypeName()]
	codecMu.RUnlock()
	if ok && c.Encode != nil {
		r := NewRecord("user." + m.TypeName())
		if err := c.Encode(m, r); err != nil {
			return nil, err
		}
		return r, nil
	}
	return nil, fmt.Errorf("no codec for module type %s (%T); register one with RegisterCodec", m.TypeName(), m)
}

func encodeConvGeometry(r *Record, c *nn.ConvNd) {
	r.SetInt("in", int64(c.InChannels))
	r.SetInt("out", int64(c.OutChannels))
	r.SetInts("kernel", c.KernelSize)
	r.SetInts("stride", c.Stride)
	r.SetInts("padding", c.Padding)
	r.SetInts("dilation", c.Dilation)
	r.SetInts("output_padding", c.OutputPadding)
	r.SetInt("groups", int64(c.Groups))
	r.SetBool("bias", c.Bias != nil)
	r.SetBool("padding_same", c.PaddingSame)
}

// encodeRNNStack records an RNN stack's geometry and its cells' weights,
// cell i under the prefix "cell<i>.".
func encodeRNNStack[W any](typ string, layers int, bi, bf bool, cells []W, encode func(*Record, string, W)) *Record {
	r := NewRecord(typ)
	r.SetInt("layers", int64(layers))
	r.SetBool("bidirectional", bi)
	r.SetBool("batch_first", bf)
	r.SetInt("cells", int64(len(cells)))
	for i, c := range cells {
		encode(r, fmt.Sprintf("cell%d.", i), c)
	}
	return r
}

// decodeRNNStack reads what encodeRNNStack wrote.
func decodeRNNStack[W any](r *Record, decode func(*Record, string) (W, error)) (cells []W, layers int, bi, bf bool, err error) {
	layers, err1 := r.IntIn("layers", 1, maxDepth)
	bi, err2 := r.Bool("bidirectional")
	bf, err3 := r.Bool("batch_first")
	n, err4 := r.IntIn("cells", 1, 2*maxDepth)
	if err := firstErr(err1, err2, err3, err4); err != nil {
		return nil, 0, false, false, err
	}
	cells = make([]W, n)
	for i := range cells {
		if cells[i], err = decode(r, fmt.Sprintf("cell%d.", i)); err != nil {
			return nil, 0, false, false, err
		}
	}
	return cells, layers, bi, bf, nil
}

// encodeFP16CellWeights records the float weights of a float16 dynamic
// cell under the prefix p, leaving absent biases out.
func encodeFP16CellWeights(r *Record, p string, c nodes.FP16CellWeights) {
	for k, v := range map[string]*tensor.Dense{"weight_ih": c.WIH, "weight_hh": c.WHH, "bias_ih": c.BIH, "bias_hh": c.BHH} {
		if v != nil {
			r.Tensors[p+k] = v
		}
	}
}

// decodeFP16CellWeights reads what encodeFP16CellWeights wrote; the
// constructors check what is missing.
func decodeFP16CellWeights(r *Record, p string) (nodes.FP16CellWeights, error) {
	return nodes.FP16CellWeights{WIH: r.Tensors[p+"weight_ih"], WHH: r.Tensors[p+"weight_hh"], BIH: r.Tensors[p+"bias_ih"], BHH: r.Tensors[p+"bias_hh"]}, nil
}

func encodeCellWeights(r *Record, p string, c nodes.DynamicCellWeights) {
	r.QTensors[p+"weight_ih"] = c.WIH
	r.QTensors[p+"weight_hh"] = c.WHH
	if c.BIH != nil {
		r.Tensors[p+"bias_ih"] = c.BIH
	}
	if c.BHH != nil {
		r.Tensors[p+"bias_hh"] = c.BHH
	}
}

func encodeQAT(q qat.Module) (*Record, error) {
	r := NewRecord("qat.Module")
	r.Strings["kind"] = q.TypeName()
	r.SetBool("relu", q.FusedReLU())
	if c, ok := q.(qat.ConvModule); ok {
		r.SetInt("dims", int64(c.SpatialDims()))
		encodeConvGeometry(r, c.Conv())
	} else {
		r.SetInt("dims", 0)
	}
	if b, ok := q.(qat.BNModule); ok {
		r.SetBool("bn_frozen", b.BNFrozen())
	}
	paramsToRecord(r, q)
	if err := encodePP(r, "weight_fake_quant", &PostProcess{FakeQuant: q.WeightFakeQuant()}); err != nil {
		return nil, err
	}
	return r, nil
}

// expect checks that the record's tensor name has exactly shape.
func expect(r *Record, name string, shape ...int) error {
	s, err := tensorShape(r, name)
	if err != nil {
		return err
	}
	if !tensor.Shape(s).Eq(tensor.Shape(shape)) {
		return fmt.Errorf("%s: tensor %q has shape %v, want %v", r.Type, name, s, shape)
	}
	return nil
}

func intsOpt(r *Record, k string) ([]int, error) {
	if _, ok := r.Ints[k]; !ok {
		return nil, nil
	}
	return r.IntsIn(k, -maxUnchecked, maxUnchecked)
}

func decodeOwn(r *Record, children []nn.Child) (nn.Module, error) {
	switch r.Type {
	case "nn.Sequential":
		s, err := nn.NewSequential()
		if err != nil {
			return nil, err
		}
		return addChildren(s, children)
	case "eager.QuantStub":
		return NewQuantStub(nil), nil
	case "eager.DeQuantStub":
		return NewDeQuantStub(nil), nil
	case "eager.QuantWrapper":
		return addChildren(&QuantWrapper{}, children)
	case "nn.Linear":
		in, err1 := r.IntIn("in", 0, maxUnchecked*maxUnchecked)
		out, err2 := r.IntIn("out", 0, maxUnchecked*maxUnchecked)
		if err := firstErr(err1, err2, expect(r, "weight", out, in)); err != nil {
			return nil, err
		}
		_, hasBias := r.Tensors["bias"]
		l, err := nn.NewLinear(in, out, nn.WithBias(hasBias))
		if err != nil {
			return nil, err
		}
		return l, paramsFromRecord(r, l)
	case "nn.Conv":
		m, err := decodeConv(r)
		if err != nil {
			return nil, err
		}
		return m, paramsFromRecord(r, m)
	case "nn.BatchNorm":
		return decodeBatchNorm(r)
	case "nn.LayerNorm":
		shape, err := r.IntsIn("shape", 1, maxUnchecked)
		if err != nil {
			return nil, err
		}
		size := 1
		for _, d := range shape {
			if size *= d; size > maxUnchecked*16 {
				return nil, fmt.Errorf("%s: normalized shape %v too large", r.Type, shape)
			}
		}
		eps, err1 := r.Float("eps")
		affine, err2 := r.Bool("affine")
		if err := firstErr(err1, err2); err != nil {
			return nil, err
		}
		if affine {
			if err := expect(r, "weight", shape...); err != nil {
				return nil, err
			}
		}
		l, err := nn.NewLayerNorm(shape...)
		if err != nil {
			return nil, err
		}
		l.Eps = eps
		if !affine {
			l.Weight, l.Bias = nil, nil
		}
		return l, paramsFromRecord(r, l)
	case "nn.GroupNorm":
		groups, err1 := r.IntIn("groups", 1, maxUnchecked)
		ch, err2 := r.IntIn("channels", 1, maxUnchecked)
		eps, err3 := r.Float("eps")
		affine, err4 := r.Bool("affine")
		if err := firstErr(err1, err2, err3, err4); err != nil {
			return nil, err
		}
		g, err := nn.NewGroupNorm(groups, ch)
		if err != nil {
			return nil, err
		}
		g.Eps = eps
		if !affine {
			g.Weight, g.Bias = nil, nil
		}
		return g, paramsFromRecord(r, g)
	case "nn.InstanceNorm":
		n, err1 := r.IntIn("features", 1, maxUnchecked)
		eps, err2 := r.Float("eps")
		affine, err3 := r.Bool("affine")
		if err := firstErr(err1, err2, err3); err != nil {
			return nil, err
		}
		ctor := map[string]func(int, bool) (*nn.InstanceNorm, error){"InstanceNorm1d": nn.NewInstanceNorm1d,
			"InstanceNorm2d": nn.NewInstanceNorm2d, "InstanceNorm3d": nn.NewInstanceNorm3d}[r.Strings["kind"]]
		if ctor == nil {
			return nil, fmt.Errorf("%s: unknown kind %q", r.Type, r.Strings["kind"])
		}
		m, err := ctor(n, affine)
		if err != nil {
			return nil, err
		}
		m.Eps = eps
		return m, paramsFromRecord(r, m)
	case "nn.RNN":
		return decodeRNN(r)
	case "nn.Cell":
		return decodeCell(r)
	case "nn.Embedding":
		s, err := tensorShape(r, "weight")
		if err != nil {
			return nil, err
		}
		if len(s) != 2 {
			return nil, fmt.Errorf("%s: weight has shape %v, want 2-d", r.Type, s)
		}
		e, err := nn.NewEmbedding(s[0], s[1])
		if err != nil {
			return nil, err
		}
		if hp, _ := r.Bool("has_padding"); hp {
			idx, err := r.IntIn("padding_idx", -int64(s[0]), int64(s[0])-1)
			if err != nil {
				return nil, err
			}
			if err := e.SetPaddingIdx(idx); err != nil {
				return nil, err
			}
		}
		return e, paramsFromRecord(r, e)
	case "nn.Flatten":
		v, err := r.IntsIn("start", -maxRank, maxRank)
		if err != nil || len(v) != 2 {
			return nil, fmt.Errorf("%s: bad dims", r.Type)
		}
		f := nn.NewFlatten()
		f.StartDim, f.EndDim = v[0], v[1]
		return f, nil
	case "nn.Dropout":
		p, err := r.Float("p")
		if err != nil {
			return nil, err
		}
		return nn.NewDropout(p)
	case "nn.ELU":
		a, err := r.Float("alpha")
		if err != nil {
			return nil, err
		}
		return nn.NewELU(float32(a)), nil
	case "nn.LeakyReLU":
		a, err := r.Float("slope")
		if err != nil {
			return nil, err
		}
		return nn.NewLeakyReLU(float32(a)), nil
	case "nn.Hardtanh":
		v := r.Floats["range"]
		if len(v) != 2 {
			return nil, fmt.Errorf("%s: bad range", r.Type)
		}
		return nn.NewHardtanh(float32(v[0]), float32(v[1]))
	case "nn.MaxPool2d":
		k, err1 := intsOpt(r, "kernel")
		s, err2 := intsOpt(r, "stride")
		p, err3 := intsOpt(r, "padding")
		d, err4 := intsOpt(r, "dilation")
		ceil, err5 := r.Bool("ceil")
		if err := firstErr(err1, err2, err3, err4, err5); err != nil {
			return nil, err
		}
		m, err := nn.NewMaxPool2d(k)
		if err != nil {
			return nil, err
		}
		m.Stride, m.Padding, m.Dilation, m.CeilMode = s, p, d, ceil
		return m, nil
	case "nn.AvgPool2d":
		k, err1 := intsOpt(r, "kernel")
		s, err2 := intsOpt(r, "stride")
		p, err3 := intsOpt(r, "padding")
		ceil, err4 := r.Bool("ceil")
		cip, err5 := r.Bool("count_include_pad")
		div, err6 := r.IntIn("divisor", -maxUnchecked, maxUnchecked)
		if err := firstErr(err1, err2, err3, err4, err5, err6); err != nil {
			return nil, err
		}
		m, err := nn.NewAvgPool2d(k)
		if err != nil {
			return nil, err
		}
		m.Stride, m.Padding, m.CeilMode, m.CountIncludePad, m.DivisorOverride = s, p, ceil, cip, div
		return m, nil
	case "nn.AdaptiveAvgPool2d":
		v, err := r.IntsIn("size", -maxUnchecked, maxUnchecked)
		if err != nil || len(v) != 2 {
			return nil, fmt.Errorf("%s: bad output size", r.Type)
		}
		return nn.NewAdaptiveAvgPool2d(v[0], v[1]), nil
	case "nn.Upsample":
		size, err := intsOpt(r, "size")
		if err != nil {
			return nil, err
		}
		align, err := r.Bool("align_corners")
		if err != nil {
			return nil, err
		}
		return nn.NewUpsample(size, r.Floats["scale"], r.Strings["mode"], align)
	case "qat.Module":
		return decodeQAT(r, children)
	case "nodes.Quantize":
		dt, err := qdtype.ParseDtype(r.Strings["dtype"])
		if err != nil {
			return nil, err
		}
		s, err1 := r.Float("scale")
		z, err2 := r.Int("zero_point")
		if err := firstErr(err1, err2); err != nil {
			return nil, err
		}
		return nodes.NewQuantizeModule(s, z, dt)
	case "nodes.DeQuantize":
		return nodes.NewDequantizeModule(), nil
	case "nodes.QuantizedLinear":
		s, err1 := r.Float("scale")
		z, err2 := r.Int("zero_point")
		relu, err3 := r.Bool("relu")
		if err := firstErr(err1, err2, err3); err != nil {
			return nil, err
		}
		return nodes.NewQuantizedLinear(r.QTensors["weight"], r.Tensors["bias"], s, z, relu)
	case "nodes.QuantizedConv":
		kind, err1 := r.IntIn("kind", int64(nodes.Conv1d), int64(nodes.ConvTranspose2d))
		st, err2 := intsOpt(r, "stride")
		pad, err3 := intsOpt(r, "padding")
		dil, err4 := intsOpt(r, "dilation")
		g, err5 := r.IntIn("groups", 0, maxUnchecked)
		s, err6 := r.Float("scale")
		z, err7 := r.Int("zero_point")
		if err := firstErr(err1, err2, err3, err4, err5, err6, err7); err != nil {
			return nil, err
		}
		op, err8 := intsOpt(r, "output_padding")
		if err8 != nil {
			return nil, err8
		}
		return nodes.NewQuantizedConv(nodes.ConvKind(kind), r.QTensors["weight"], r.Tensors["bias"],
			ops.ConvOptions{Stride: st, Padding: pad, Dilation: dil, OutputPadding: op, Groups: g}, s, z)
	case "nodes.QuantizedActivation":
		p, err1 := r.Float("param")
		s, err2 := r.Float("scale")
		z, err3 := r.Int("zero_point")
		if err := firstErr(err1, err2, err3); err != nil {
			return nil, err
		}
		return nodes.NewQuantizedActivation(r.Strings["kind"], p, s, z)
	case "nodes.QuantizedNorm":
		n := nodes.QuantizedNorm{Kind: r.Strings["kind"]}
		var errs [6]error
		n.Eps, errs[0] = r.Float("eps")
		n.Scale, errs[1] = r.Float("scale")
		n.ZeroPoint, errs[2] = r.Int("zero_point")
		n.ReLU, errs[3] = r.Bool("relu")
		n.Groups, errs[4] = r.IntIn("groups", 0, maxUnchecked)
		n.NormalizedShape, errs[5] = intsOpt(r, "shape")
		if err := firstErr(errs[:]...); err != nil {
			return nil, err
		}
		for k, dst := range map[string]*[]float32{"weight": &n.Weight, "bias": &n.Bias, "mean": &n.Mean, "var": &n.Var} {
			if t, ok := r.Tensors[k]; ok {
				f, ok := t.Data().([]float32)
				if !ok {
					return nil, fmt.Errorf("%s: %s is not a float32 vector", r.Type, k)
				}
				*dst = f
			}
		}
		return nodes.NewQuantizedNorm(n)
	case "nodes.QFunctional":
		s, err1 := r.Float("scale")
		z, err2 := r.Int("zero_point")
		if err := firstErr(err1, err2); err != nil {
			return nil, err
		}
		return nodes.NewQFunctional(s, z)
	case "nodes.Passthrough":
		if len(children) != 1 || children[0].Name != "float" {
			return nil, fmt.Errorf("%s: want one child \"float\"", r.Type)
		}
		return nodes.NewPassthrough(children[0].Module)
	case "nodes.DynamicQuantizedLinear":
		rr, err1 := r.Bool("reduce_range")
		relu, err2 := r.Bool("relu")
		if err := firstErr(err1, err2); err != nil {
			return nil, err
		}
		if w, ok := r.Tensors["fp16_weight"]; ok {
			return nodes.NewDynamicQuantizedLinearFP16(w, r.Tensors["bias"], relu)
		}
		return nodes.NewDynamicQuantizedLinear(r.QTensors["weight"], r.Tensors["bias"], rr, relu)
	case "nodes.DynamicQuantizedLSTM", "nodes.DynamicQuantizedGRU":
		cells, layers, bi, bf, err := decodeRNNStack(r, decodeCellWeights)
		if err != nil {
			return nil, err
		}
		if r.Type == "nodes.DynamicQuantizedGRU" {
			return nodes.NewDynamicQuantizedGRU(cells, layers, bi, bf)
		}
		return nodes.NewDynamicQuantizedLSTM(cells, layers, bi, bf)
	case "nodes.DynamicFP16RNN":
		cells, layers, bi, bf, err := decodeRNNStack(r, decodeFP16CellWeights)
		if err != nil {
			return nil, err
		}
		return nodes.NewDynamicFP16RNN(r.Strings["kind"], cells, layers, bi, bf)
	case "nodes.DynamicFP16Cell":
		w, _ := decodeFP16CellWeights(r, "")
		return nodes.NewDynamicFP16Cell(r.Strings["kind"], r.Strings["nonlinearity"], w)
	case "nodes.DynamicQuantizedCell":
		c, err := decodeCellWeights(r, "")
		if err != nil {
			return nil, err
		}
		return nodes.NewDynamicQuantizedCell(r.Strings["kind"], r.Strings["nonlinearity"], c)
	}
	if len(r.Type) > 5 && r.Type[:5] == "fuse." {
		return decodeFused(r, children)
	}
	if len(r.Type) > 3 && r.Type[:3] == "nn." {
		if mk, ok := statelessTypes[r.Type[3:]]; ok {
			return mk(), nil
		}
	}
	if len(r.Type) > 5 && r.Type[:5] == "user." {
		codecMu.RLock()
		c, ok := codecs[r.Type[5:]]
		codecMu.RUnlock()
		if ok && c.Decode != nil {
			return c.Decode(r, children)
		}
	}
	return nil, fmt.Errorf("unknown module record %q", r.Type)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func decodeCellWeights(r *Record, p string) (nodes.DynamicCellWeights, error) {
	c := nodes.DynamicCellWeights{WIH: r.QTensors[p+"weight_ih"], WHH: r.QTensors[p+"weight_hh"], BIH: r.Tensors[p+"bias_ih"], BHH: r.Tensors[p+"bias_hh"]}
	if c.WIH == nil || c.WHH == nil {
		return c, fmt.Errorf("%s: %sweight_ih / weight_hh missing", r.Type, p)
	}
	return c, nil
}

// newFloatConv builds a float convolution from a record's geometry after
// checking the weight tensor's shape against it.
func newFloatConv(r *Record, kind string, transposed bool) (nn.Module, error) {
	in, err1 := r.IntIn("in", 1, maxUnchecked)
	out, err2 := r.IntIn("out", 1, maxUnchecked)
	k, err3 := r.IntsIn("kernel", 1, maxUnchecked)
	st, err4 := intsOpt(r, "stride")
	pad, err5 := intsOpt(r, "padding")
	dil, err6 := intsOpt(r, "dilation")
	op, err7 := intsOpt(r, "output_padding")
	g, err8 := r.IntIn("groups", 1, maxUnchecked)
	bias, err9 := r.Bool("bias")
	if err := firstErr(err1, err2, err3, err4, err5, err6, err7, err8, err9); err != nil {
		return nil, err
	}
	nd := map[string]int{"Conv1d": 1, "Conv2d": 2, "Conv3d": 3, "ConvTranspose1d": 1, "ConvTranspose2d": 2, "ConvTranspose3d": 3}[kind]
	if nd == 0 || len(k) != nd || in%g != 0 || out%g != 0 {
		return nil, fmt.Errorf("%s: bad convolution geometry (kind %q, kernel %v, groups %d)", r.Type, kind, k, g)
	}
	want := []int{out, in / g}
	if transposed {
		want = []int{in, out / g}
	}
	if err := expect(r, "weight", append(want, k...)...); err != nil {
		return nil, err
	}
	opts := []nn.Option{nn.Stride(st...), nn.Padding(pad...), nn.Dilation(dil...), nn.Groups(g), nn.WithBias(bias)}
	if transposed && len(op) > 0 {
		opts = append(opts, nn.OutputPadding(op...))
	}
	if same, _ := r.Bool("padding_same"); same {
		opts = append(opts, nn.PaddingSame())
	}
	switch kind {
	case "Conv1d":
		return nn.NewConv1d(in, out, k, opts...)
	case "Conv2d":
		return nn.NewConv2d(in, out, k, opts...)
	case "Conv3d":
		return nn.NewConv3d(in, out, k, opts...)
	case "ConvTranspose1d":
		return nn.NewConvTranspose1d(in, out, k, opts...)
	case "ConvTranspose2d":
		return nn.NewConvTranspose2d(in, out, k, opts...)
	default:
		return nn.NewConvTranspose3d(in, out, k, opts...)
	}
}

func decodeConv(r *Record) (nn.Module, error) {
	tr, err := r.Bool("transposed")
	if err != nil {
		return nil, err
	}
	return newFloatConv(r, r.Strings["kind"], tr)
}

func decodeBatchNorm(r *Record) (nn.Module, error) {
	n, err1 := r.IntIn("features", 1, maxUnchecked)
	eps, err2 := r.Float("eps")
	mom, err3 := r.Float("momentum")
	cum, err4 := r.Bool("cumulative")
	affine, err5 := r.Bool("affine")
	track, err6 := r.Bool("track")
	if err := firstErr(err1, err2, err3, err4, err5, err6); err != nil {
		return nil, err
	}
	ctor := map[string]func(int) (*nn.BatchNorm, error){"BatchNorm1d": nn.NewBatchNorm1d, "BatchNorm2d": nn.NewBatchNorm2d,
		"BatchNorm3d": nn.NewBatchNorm3d}[r.Strings["kind"]]
	if ctor == nil {
		return nil, fmt.Errorf("%s: unknown kind %q", r.Type, r.Strings["kind"])
	}
	bn, err := ctor(n)
	if err != nil {
		return nil, err
	}
	bn.Eps, bn.Momentum, bn.CumulativeAverage = eps, mom, cum
	if !affine {
		bn.Weight, bn.Bias = nil, nil
	}
	if !track {
		bn.RunningMean, bn.RunningVar, bn.NumBatchesTracked = nil, nil, nil
	}
	return bn, paramsFromRecord(r, bn)
}

func decodeRNN(r *Record) (nn.Module, error) {
	in, err1 := r.IntIn("input", 1, maxUnchecked)
	h, err2 := r.IntIn("hidden", 1, maxUnchecked)
	layers, err3 := r.IntIn("layers", 1, maxDepth)
	bias, err4 := r.Bool("bias")
	bf, err5 := r.Bool("batch_first")
	bi, err6 := r.Bool("bidirectional")
	drop, err7 := r.Float("dropout")
	if err := firstErr(err1, err2, err3, err4, err5, err6, err7); err != nil {
		return nil, err
	}
	gates := map[string]int{"LSTM": 4, "GRU": 3, "RNN": 1}[r.Strings["kind"]]
	if gates == 0 {
		return nil, fmt.Errorf("%s: unknown kind %q", r.Type, r.Strings["kind"])
	}
	if err := firstErr(expect(r, "weight_ih_l0", gates*h, in), expect(r, "weight_hh_l0", gates*h, h)); err != nil {
		return nil, err
	}
	if len(r.Tensors) < layers {
		return nil, fmt.Errorf("%s: %d layers but %d tensors", r.Type, layers, len(r.Tensors))
	}
	opts := []nn.Option{nn.WithBias(bias)}
	var m nn.Module
	var rb *nn.RNNBase
	var err error
	switch r.Strings["kind"] {
	case "LSTM":
		var l *nn.LSTM
		if l, err = nn.NewLSTM(in, h, layers, bi, opts...); err == nil {
			m, rb = l, &l.RNNBase
		}
	case "GRU":
		var l *nn.GRU
		if l, err = nn.NewGRU(in, h, layers, bi, opts...); err == nil {
			m, rb = l, &l.RNNBase
		}
	default:
		var l *nn.RNN
		if l, err = nn.NewRNN(in, h, layers, r.Strings["nonlinearity"], bi, opts...); err == nil {
			m, rb = l, &l.RNNBase
		}
	}
	if err != nil {
		return nil, err
	}
	rb.BatchFirst, rb.DropoutP = bf, drop
	return m, paramsFromRecord(r, m)
}

func decodeCell(r *Record) (nn.Module, error) {
	s, err := tensorShape(r, "weight_ih")
	if err != nil {
		return nil, err
	}
	gates := map[string]int{"LSTMCell": 4, "GRUCell": 3, "RNNCell": 1}[r.Strings["kind"]]
	if gates == 0 || len(s) != 2 || s[0]%gates != 0 {
		return nil, fmt.Errorf("%s: bad kind %q or weight_ih shape %v", r.Type, r.Strings["kind"], s)
	}
	h, in := s[0]/gates, s[1]
	if err := expect(r, "weight_hh", gates*h, h); err != nil {
		return nil, err
	}
	_, bias := r.Tensors["bias_ih"]
	var m nn.Module
	switch r.Strings["kind"] {
	case "LSTMCell":
		m, err = nn.NewLSTMCell(in, h, nn.WithBias(bias))
	case "GRUCell":
		m, err = nn.NewGRUCell(in, h, nn.WithBias(bias))
	default:
		m, err = nn.NewRNNCell(in, h, r.Strings["nonlinearity"], nn.WithBias(bias))
	}
	if err != nil {
		return nil, err
	}
	return m, paramsFromRecord(r, m)
}

// decodeFused rebuilds a fuse module from its children with the
// training-mode fuser methods (which keep a batch norm as a child).
func decodeFused(r *Record, children []nn.Child) (nn.Module, error) {
	mods := childModules(children)
	names := make([]string, len(mods))
	for i, m := range mods {
		names[i] = m.TypeName()
	}
	f, ok := fuse.DefaultFuserMethods()[fuse.PatternKey(names...)]
	if !ok {
		return nil, fmt.Errorf("%s: no fuser method for children %v", r.Type, names)
	}
	m, err := f(true, mods...)
	if err != nil {
		return nil, err
	}
	if "fuse."+m.TypeName() != r.Type {
		return nil, fmt.Errorf("%s: children %v fuse into %s", r.Type, names, m.TypeName())
	}
	return m, nil
}

// decodeQAT rebuilds a QAT module: its float twin (convolution or linear
// layer with the saved weights, fused with the saved batch norm and a ReLU
// as FuseModulesQAT would) through qat.FromFloat with the restored weight
// fake quantizer.
func decodeQAT(r *Record, children []nn.Child) (nn.Module, error) {
	dims, err1 := r.IntIn("dims", 0, 3)
	relu, err2 := r.Bool("relu")
	if err := firstErr(err1, err2); err != nil {
		return nil, err
	}
	pp, ok, err := decodePP(r, "weight_fake_quant")
	if err != nil {
		return nil, err
	}
	if !ok || pp.FakeQuant == nil {
		return nil, fmt.Errorf("%s: weight fake quantizer missing", r.Type)
	}
	var base nn.Module
	if dims == 0 {
		s, err := tensorShape(r, "weight")
		if err != nil {
			return nil, err
		}
		if len(s) != 2 {
			return nil, fmt.Errorf("%s: linear weight shape %v", r.Type, s)
		}
		_, bias := r.Tensors["bias"]
		if base, err = nn.NewLinear(s[1], s[0], nn.WithBias(bias)); err != nil {
			return nil, err
		}
	} else {
		if base, err = newFloatConv(r, fmt.Sprintf("Conv%dd", dims), false); err != nil {
			return nil, err
		}
	}
	if err := paramsFromRecord(r, base); err != nil {
		return nil, err
	}
	mods := []nn.Module{base}
	for _, c := range children {
		if bn, ok := c.Module.(*nn.BatchNorm); ok && c.Name == "bn" {
			mods = append(mods, bn)
		}
	}
	if relu {
		mods = append(mods, nn.NewReLU())
	}
	float := base
	if len(mods) > 1 {
		names := make([]string, len(mods))
		for i, m := range mods {
			names[i] = m.TypeName()
		}
		f, ok := fuse.DefaultFuserMethods()[fuse.PatternKey(names...)]
		if !ok {
			return nil, fmt.Errorf("%s: no fuser method for %v", r.Type, names)
		}
		if float, err = f(true, mods...); err != nil {
			return nil, err
		}
	}
	q, err := qat.FromFloat(float, pp.FakeQuant)
	if err != nil {
		return nil, err
	}
	if q.TypeName() != r.Strings["kind"] {
		return nil, fmt.Errorf("%s: rebuilt %s, want %s", r.Type, q.TypeName(), r.Strings["kind"])
	}
	if b, ok := q.(qat.BNModule); ok {
		if frozen, _ := r.Bool("bn_frozen"); frozen {
			b.FreezeBNStats()
		}
	}
	return q, nil
}
