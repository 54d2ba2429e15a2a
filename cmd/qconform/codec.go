package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// Case is one input line (SCHEMA.md §3). Fields it does not name are ignored.
type Case struct {
	ID     string                     `json:"id"`
	Op     string                     `json:"op"`
	Attrs  map[string]json.RawMessage `json:"attrs"`
	Inputs []*Tensor                  `json:"inputs"`
}

// Num is a JSON number that may also be written "nan", "inf" or "-inf".
type Num float64

// UnmarshalJSON reads a number or one of the non-finite strings.
func (n *Num) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "nan":
			*n = Num(math.NaN())
		case "inf":
			*n = Num(math.Inf(1))
		case "-inf":
			*n = Num(math.Inf(-1))
		default:
			return fmt.Errorf("bad number %q", s)
		}
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*n = Num(f)
	return nil
}

// MarshalJSON writes the shortest decimal that round-trips the value, or a
// non-finite string.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	switch {
	case math.IsNaN(f):
		return []byte(`"nan"`), nil
	case math.IsInf(f, 1):
		return []byte(`"inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-inf"`), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// Tensor is the wire form of a tensor (SCHEMA.md §4).
type Tensor struct {
	Dtype      string  `json:"dtype"`
	Shape      []int   `json:"shape"`
	Data       []Num   `json:"data"`
	QScheme    string  `json:"qscheme,omitempty"`
	Scale      *Num    `json:"scale,omitempty"`
	ZeroPoint  *int64  `json:"zero_point,omitempty"`
	Scales     []Num   `json:"scales,omitempty"`
	ZeroPoints []int64 `json:"zero_points,omitempty"`
	Axis       *int    `json:"axis,omitempty"`
}

// MarshalJSON writes data as JSON integers for integer and quantized
// dtypes, booleans for bool, and numbers (or non-finite strings) for float32.
func (t *Tensor) MarshalJSON() ([]byte, error) {
	type plain Tensor
	buf := make([]byte, 0, 16*len(t.Data)+2)
	buf = append(buf, '[')
	for i, v := range t.Data {
		if i > 0 {
			buf = append(buf, ',')
		}
		switch t.Dtype {
		case "float32", "float64":
			b, _ := v.MarshalJSON()
			buf = append(buf, b...)
		case "bool":
			buf = strconv.AppendBool(buf, v != 0)
		default:
			buf = strconv.AppendInt(buf, int64(v), 10)
		}
	}
	buf = append(buf, ']')
	// A per-channel tensor with an empty channel axis has no scales: write
	// them as [] (the embedded fields' omitempty would drop them).
	var scales, zps interface{}
	if t.QScheme == "per_channel_affine" {
		scales, zps = append([]Num{}, t.Scales...), append([]int64{}, t.ZeroPoints...)
	}
	return json.Marshal(struct {
		*plain
		Data       json.RawMessage `json:"data"`
		Scales     interface{}     `json:"scales,omitempty"`
		ZeroPoints interface{}     `json:"zero_points,omitempty"`
	}{(*plain)(t), buf, scales, zps})
}

func (t *Tensor) size() int {
	n := 1
	for _, s := range t.Shape {
		n *= s
	}
	return n
}

func (t *Tensor) check() error {
	if t == nil {
		return fmt.Errorf("qconform: missing tensor")
	}
	for _, s := range t.Shape {
		if s < 0 {
			return fmt.Errorf("qconform: negative dimension in shape %v", t.Shape)
		}
	}
	if len(t.Data) != t.size() {
		return fmt.Errorf("qconform: %d values for shape %v", len(t.Data), t.Shape)
	}
	return nil
}

func denseOf(shape []int, backing interface{}) *tensor.Dense {
	if len(shape) == 0 {
		return tensor.New(tensor.WithShape(), tensor.WithBacking(backing))
	}
	return tensor.New(tensor.WithShape(append([]int(nil), shape...)...), tensor.WithBacking(backing))
}

// Float32s returns the data of a float32 tensor.
func (t *Tensor) Float32s() ([]float32, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if t.Dtype != "float32" {
		return nil, fmt.Errorf("qconform: want a float32 tensor, got %s", t.Dtype)
	}
	out := make([]float32, len(t.Data))
	for i, v := range t.Data {
		out[i] = float32(v)
	}
	return out, nil
}

// Dense returns a float32 tensor as a *tensor.Dense.
func (t *Tensor) Dense() (*tensor.Dense, error) {
	data, err := t.Float32s()
	if err != nil {
		return nil, err
	}
	return denseOf(t.Shape, data), nil
}

// QParams returns the quantization parameters of a quantized tensor.
func (t *Tensor) QParams() (qdtype.QParams, error) {
	dt, err := qdtype.ParseDtype(t.Dtype)
	if err != nil {
		return qdtype.QParams{}, fmt.Errorf("qconform: %w", err)
	}
	switch t.QScheme {
	case "per_tensor_affine", "":
		if t.Scale == nil || t.ZeroPoint == nil {
			return qdtype.QParams{}, fmt.Errorf("qconform: per-tensor tensor without scale or zero_point")
		}
		return qdtype.PerTensor(dt, float64(*t.Scale), *t.ZeroPoint)
	case "per_channel_affine":
		if t.Axis == nil {
			return qdtype.QParams{}, fmt.Errorf("qconform: per-channel tensor without axis")
		}
		sc := make([]float64, len(t.Scales))
		for i, s := range t.Scales {
			sc[i] = float64(s)
		}
		return qdtype.PerChannel(dt, sc, t.ZeroPoints, *t.Axis)
	}
	return qdtype.QParams{}, fmt.Errorf("qconform: unsupported qscheme %q", t.QScheme)
}

// QTensor returns a quantized tensor.
func (t *Tensor) QTensor() (*qtensor.QTensor, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	qp, err := t.QParams()
	if err != nil {
		return nil, err
	}
	ints := make([]int64, len(t.Data))
	for i, v := range t.Data {
		if float64(v) != math.Trunc(float64(v)) {
			return nil, fmt.Errorf("qconform: quantized value %v is not an integer", v)
		}
		ints[i] = int64(v)
	}
	return qtensor.FromInts(t.Shape, ints, qp)
}

// Ints returns the data of an integer tensor (any dtype) as int64s.
func (t *Tensor) Ints() ([]int64, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	out := make([]int64, len(t.Data))
	for i, v := range t.Data {
		out[i] = int64(v)
	}
	return out, nil
}

// fromQTensor encodes a quantized tensor.
func fromQTensor(q *qtensor.QTensor) *Tensor {
	qp := q.QParams()
	ints := q.Ints()
	t := &Tensor{Dtype: qdtype.Name(q.Dtype()), Shape: shapeOf(q.Shape()), Data: make([]Num, len(ints))}
	for i, v := range ints {
		t.Data[i] = Num(v)
	}
	if qp.PerChannel() {
		t.QScheme = "per_channel_affine"
		t.Scales = make([]Num, len(qp.Scales))
		for i, s := range qp.Scales {
			t.Scales[i] = Num(s)
		}
		t.ZeroPoints = append([]int64{}, qp.ZeroPoints...)
		ax := qp.Axis
		t.Axis = &ax
	} else {
		t.QScheme = "per_tensor_affine"
		s, z := Num(qp.Scale()), qp.ZeroPoint()
		t.Scale, t.ZeroPoint = &s, &z
	}
	return t
}

func shapeOf(s tensor.Shape) []int {
	if len(s) == 0 {
		return []int{}
	}
	return append([]int{}, s...)
}

// fromFloat32 encodes float32 data.
func fromFloat32(shape []int, data []float32) *Tensor {
	t := &Tensor{Dtype: "float32", Shape: append([]int{}, shape...), Data: make([]Num, len(data))}
	for i, v := range data {
		t.Data[i] = Num(v)
	}
	return t
}

// fromDense encodes a plain Dense (float32, float64, int64, int32, int8,
// uint8 or bool).
func fromDense(d *tensor.Dense) (*Tensor, error) {
	if d.RequiresIterator() {
		d = d.Materialize().(*tensor.Dense)
	}
	shape := shapeOf(d.Shape())
	n := d.Shape().TotalSize()
	t := &Tensor{Shape: shape, Data: make([]Num, n)}
	switch d.Dtype() {
	case tensor.Float32:
		t.Dtype = "float32"
		for i, v := range d.Float32s()[:n] {
			t.Data[i] = Num(v)
		}
	case tensor.Float64:
		t.Dtype = "float32"
		for i, v := range d.Float64s()[:n] {
			t.Data[i] = Num(float32(v))
		}
	case tensor.Int64:
		t.Dtype = "int64"
		for i, v := range d.Int64s()[:n] {
			t.Data[i] = Num(v)
		}
	case tensor.Int:
		t.Dtype = "int64"
		for i, v := range d.Ints()[:n] {
			t.Data[i] = Num(v)
		}
	case tensor.Int32:
		t.Dtype = "int32"
		for i, v := range d.Int32s()[:n] {
			t.Data[i] = Num(v)
		}
	case tensor.Int8:
		t.Dtype = "int8"
		for i, v := range d.Int8s()[:n] {
			t.Data[i] = Num(v)
		}
	case tensor.Uint8:
		t.Dtype = "uint8"
		for i, v := range d.Uint8s()[:n] {
			t.Data[i] = Num(v)
		}
	case tensor.Bool:
		t.Dtype = "bool"
		for i, v := range d.Bools()[:n] {
			if v {
				t.Data[i] = 1
			}
		}
	default:
		return nil, fmt.Errorf("qconform: cannot encode dtype %v", d.Dtype())
	}
	return t, nil
}

// fromInt64s encodes int64 data (indices, zero points).
func fromInt64s(shape []int, data []int64) *Tensor {
	t := &Tensor{Dtype: "int64", Shape: append([]int{}, shape...), Data: make([]Num, len(data))}
	for i, v := range data {
		t.Data[i] = Num(v)
	}
	return t
}

// fromBools encodes a bool tensor.
func fromBools(shape []int, data []bool) *Tensor {
	t := &Tensor{Dtype: "bool", Shape: append([]int{}, shape...), Data: make([]Num, len(data))}
	for i, v := range data {
		if v {
			t.Data[i] = 1
		}
	}
	return t
}

// input returns inputs[i], or an error when it is missing or null.
func (c *Case) input(i int) (*Tensor, error) {
	if i >= len(c.Inputs) || c.Inputs[i] == nil {
		return nil, fmt.Errorf("qconform: %s: input %d is missing", c.Op, i)
	}
	return c.Inputs[i], nil
}

// denseInput decodes inputs[i] as a float32 *tensor.Dense; an error when it
// is missing, null or not float32.
func (c *Case) denseInput(i int) (*tensor.Dense, error) {
	t, err := c.input(i)
	if err != nil {
		return nil, err
	}
	return t.Dense()
}

// optInput returns inputs[i], or nil when it is absent or null.
func (c *Case) optInput(i int) *Tensor {
	if i >= len(c.Inputs) {
		return nil
	}
	return c.Inputs[i]
}

// has reports whether attr k is present and not null.
func (c *Case) has(k string) bool {
	v, ok := c.Attrs[k]
	return ok && string(v) != "null"
}

func (c *Case) attr(k string, dst interface{}) error {
	v, ok := c.Attrs[k]
	if !ok {
		return fmt.Errorf("qconform: %s: missing attr %q", c.Op, k)
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("qconform: %s: attr %q: %w", c.Op, k, err)
	}
	return nil
}

// float returns a number attr, or def when absent or null.
func (c *Case) float(k string, def float64) (float64, error) {
	if !c.has(k) {
		return def, nil
	}
	var n Num
	err := c.attr(k, &n)
	return float64(n), err
}

// int returns an integer attr, or def when absent or null.
func (c *Case) int(k string, def int64) (int64, error) {
	if !c.has(k) {
		return def, nil
	}
	var n Num
	if err := c.attr(k, &n); err != nil {
		return 0, err
	}
	if float64(n) != math.Trunc(float64(n)) {
		return 0, fmt.Errorf("qconform: %s: attr %q = %v is not an integer", c.Op, k, n)
	}
	return int64(n), nil
}

// bool returns a boolean attr, or def when absent or null.
func (c *Case) bool(k string, def bool) (bool, error) {
	if !c.has(k) {
		return def, nil
	}
	var b bool
	err := c.attr(k, &b)
	return b, err
}

// str returns a string attr, or def when absent or null.
func (c *Case) str(k string, def string) (string, error) {
	if !c.has(k) {
		return def, nil
	}
	var s string
	err := c.attr(k, &s)
	return s, err
}

// ints returns an int attr that may be a single int (repeated n times) or a
// list; def when absent or null.
func (c *Case) ints(k string, n int, def []int) ([]int, error) {
	if !c.has(k) {
		return def, nil
	}
	var one int
	if err := json.Unmarshal(c.Attrs[k], &one); err == nil {
		out := make([]int, n)
		for i := range out {
			out[i] = one
		}
		return out, nil
	}
	var list []int
	if err := c.attr(k, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// floats returns a list-of-numbers attr, or def.
func (c *Case) floats(k string, def []float64) ([]float64, error) {
	if !c.has(k) {
		return def, nil
	}
	var list []Num
	if err := c.attr(k, &list); err != nil {
		return nil, err
	}
	out := make([]float64, len(list))
	for i, v := range list {
		out[i] = float64(v)
	}
	return out, nil
}

// int64s returns a list-of-integers attr, or def.
func (c *Case) int64s(k string, def []int64) ([]int64, error) {
	if !c.has(k) {
		return def, nil
	}
	var list []int64
	err := c.attr(k, &list)
	return list, err
}

// dtype returns a quantized-dtype attr, or def.
func (c *Case) dtype(k string, def tensor.Dtype) (tensor.Dtype, error) {
	if !c.has(k) {
		return def, nil
	}
	s, err := c.str(k, "")
	if err != nil {
		return tensor.Dtype{}, err
	}
	return qdtype.ParseDtype(s)
}
