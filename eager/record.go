package eager

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/tensor"
)

// Record is one module in the saved form of a model: its TypeName,
// configuration, tensors, opaque blobs (observer states) and children.
// Codecs registered with RegisterCodec read and write Records.
type Record struct {
	Type     string
	Ints     map[string][]int64
	Floats   map[string][]float64
	Strings  map[string]string
	Tensors  map[string]*tensor.Dense    // float32 or int64
	QTensors map[string]*qtensor.QTensor // quantized tensors with their qparams
	Blobs    map[string][]byte
	Children []NamedRecord
}

// NamedRecord is a child record.
type NamedRecord struct {
	Name   string
	Record *Record
}

// NewRecord returns an empty record of the given type.
func NewRecord(typeName string) *Record {
	return &Record{Type: typeName, Ints: map[string][]int64{}, Floats: map[string][]float64{}, Strings: map[string]string{},
		Tensors: map[string]*tensor.Dense{}, QTensors: map[string]*qtensor.QTensor{}, Blobs: map[string][]byte{}}
}

// SetInt stores integer values.
func (r *Record) SetInt(k string, v ...int64) { r.Ints[k] = append([]int64(nil), v...) }

// SetInts stores ints.
func (r *Record) SetInts(k string, v []int) {
	s := make([]int64, len(v))
	for i, x := range v {
		s[i] = int64(x)
	}
	r.Ints[k] = s
}

// SetBool stores a flag.
func (r *Record) SetBool(k string, b bool) {
	if b {
		r.Ints[k] = []int64{1}
	} else {
		r.Ints[k] = []int64{0}
	}
}

// SetFloat stores float values.
func (r *Record) SetFloat(k string, v ...float64) { r.Floats[k] = append([]float64(nil), v...) }

// Int returns the single integer k.
func (r *Record) Int(k string) (int64, error) {
	v, ok := r.Ints[k]
	if !ok || len(v) != 1 {
		return 0, fmt.Errorf("%s: integer %q missing", r.Type, k)
	}
	return v[0], nil
}

// IntIn returns the single integer k as an int in [lo, hi].
func (r *Record) IntIn(k string, lo, hi int64) (int, error) {
	v, err := r.Int(k)
	if err != nil {
		return 0, err
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%s: %s = %d out of [%d, %d]", r.Type, k, v, lo, hi)
	}
	return int(v), nil
}

// IntsIn returns the integers k as ints, each in [lo, hi].
func (r *Record) IntsIn(k string, lo, hi int64) ([]int, error) {
	v, ok := r.Ints[k]
	if !ok {
		return nil, fmt.Errorf("%s: integers %q missing", r.Type, k)
	}
	out := make([]int, len(v))
	for i, x := range v {
		if x < lo || x > hi {
			return nil, fmt.Errorf("%s: %s[%d] = %d out of [%d, %d]", r.Type, k, i, x, lo, hi)
		}
		out[i] = int(x)
	}
	return out, nil
}

// Bool returns the flag k.
func (r *Record) Bool(k string) (bool, error) {
	v, err := r.Int(k)
	return v != 0, err
}

// Float returns the single float k.
func (r *Record) Float(k string) (float64, error) {
	v, ok := r.Floats[k]
	if !ok || len(v) != 1 {
		return 0, fmt.Errorf("%s: float %q missing", r.Type, k)
	}
	return v[0], nil
}

// Child returns the child record called name.
func (r *Record) Child(name string) (*Record, error) {
	for _, c := range r.Children {
		if c.Name == name {
			return c.Record, nil
		}
	}
	return nil, fmt.Errorf("%s: child %q missing", r.Type, name)
}

// Binary layout (all integers little-endian or unsigned varints "uv"):
//
//	file    = magic "QGEAGER\x00" | uv version (1) | uv flags | record
//	record  = str type | uv n, n×(str key, uv m, m×zigzag-varint) (Ints)
//	          | uv n, n×(str key, uv m, m×f64)                      (Floats)
//	          | uv n, n×(str key, str value)                        (Strings)
//	          | uv n, n×(str key, dense)                            (Tensors)
//	          | uv n, n×(str key, qtensor)                          (QTensors)
//	          | uv n, n×(str key, bytes)                            (Blobs)
//	          | uv n, n×(str name, record)                          (Children)
//	str     = bytes = uv length | length bytes
//	dense   = str dtype ("float32" | "int64") | shape | raw little-endian data
//	qtensor = str dtype ("quint8" | "qint8" | "qint32") | shape | qparams
//	          | raw data (one byte per quint8 / qint8 value, 4 bytes little-endian per qint32)
//	qparams = str scheme | uv n, n×f64 scales | uv n, n×zigzag zero points | zigzag axis
//	shape   = uv rank (≤ 8) | rank×uv dims
//
// Map entries are written in sorted key order, so equal models give equal
// bytes.
const (
	saveMagic   = "QGEAGER\x00"
	saveVersion = 1
	maxRank     = 8
	maxDepth    = 64
)

type writer struct{ b []byte }

func (w *writer) uv(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) sv(v int64)  { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) f64(v float64) {
	w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(v))
}
func (w *writer) bytes(p []byte) { w.uv(uint64(len(p))); w.b = append(w.b, p...) }
func (w *writer) str(s string)   { w.uv(uint64(len(s))); w.b = append(w.b, s...) }
func (w *writer) shape(s []int) {
	w.uv(uint64(len(s)))
	for _, d := range s {
		w.uv(uint64(d))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

func (w *writer) record(r *Record) error {
	w.str(r.Type)
	w.uv(uint64(len(r.Ints)))
	for _, k := range sortedKeys(r.Ints) {
		w.str(k)
		w.uv(uint64(len(r.Ints[k])))
		for _, v := range r.Ints[k] {
			w.sv(v)
		}
	}
	w.uv(uint64(len(r.Floats)))
	for _, k := range sortedKeys(r.Floats) {
		w.str(k)
		w.uv(uint64(len(r.Floats[k])))
		for _, v := range r.Floats[k] {
			w.f64(v)
		}
	}
	w.uv(uint64(len(r.Strings)))
	for _, k := range sortedKeys(r.Strings) {
		w.str(k)
		w.str(r.Strings[k])
	}
	w.uv(uint64(len(r.Tensors)))
	for _, k := range sortedKeys(r.Tensors) {
		w.str(k)
		if err := w.dense(r.Tensors[k]); err != nil {
			return fmt.Errorf("%s: tensor %q: %w", r.Type, k, err)
		}
	}
	w.uv(uint64(len(r.QTensors)))
	for _, k := range sortedKeys(r.QTensors) {
		w.str(k)
		if err := w.qtensor(r.QTensors[k]); err != nil {
			return fmt.Errorf("%s: tensor %q: %w", r.Type, k, err)
		}
	}
	w.uv(uint64(len(r.Blobs)))
	for _, k := range sortedKeys(r.Blobs) {
		w.str(k)
		w.bytes(r.Blobs[k])
	}
	w.uv(uint64(len(r.Children)))
	for _, c := range r.Children {
		w.str(c.Name)
		if err := w.record(c.Record); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) dense(d *tensor.Dense) error {
	if d == nil {
		return fmt.Errorf("nil tensor")
	}
	shape := []int(d.Shape())
	if d.IsScalar() {
		shape = nil
	}
	switch data := d.Data().(type) {
	case []float32:
		w.str("float32")
		w.shape(shape)
		for _, v := range data {
			w.b = binary.LittleEndian.AppendUint32(w.b, math.Float32bits(v))
		}
	case float32:
		w.str("float32")
		w.shape(nil)
		w.b = binary.LittleEndian.AppendUint32(w.b, math.Float32bits(data))
	case []int64:
		w.str("int64")
		w.shape(shape)
		for _, v := range data {
			w.b = binary.LittleEndian.AppendUint64(w.b, uint64(v))
		}
	case int64:
		w.str("int64")
		w.shape(nil)
		w.b = binary.LittleEndian.AppendUint64(w.b, uint64(data))
	default:
		return fmt.Errorf("dtype %v cannot be saved (float32, int64)", d.Dtype())
	}
	return nil
}

func (w *writer) qtensor(q *qtensor.QTensor) error {
	if q == nil {
		return fmt.Errorf("nil quantized tensor")
	}
	qp := q.QParams()
	if len(qp.FloatZeroPoints) > 0 {
		return fmt.Errorf("float zero points cannot be saved")
	}
	w.str(qdtype.Name(q.Dtype()))
	w.shape(q.Shape())
	w.str(qp.Scheme.String())
	w.uv(uint64(len(qp.Scales)))
	for _, s := range qp.Scales {
		w.f64(s)
	}
	w.uv(uint64(len(qp.ZeroPoints)))
	for _, z := range qp.ZeroPoints {
		w.sv(z)
	}
	w.sv(int64(qp.Axis))
	switch data := q.Dense().Data().(type) {
	case []qdtype.QUInt8:
		for _, v := range data {
			w.b = append(w.b, byte(v))
		}
	case []qdtype.QInt8:
		for _, v := range data {
			w.b = append(w.b, byte(v))
		}
	case []qdtype.QInt32:
		for _, v := range data {
			w.b = binary.LittleEndian.AppendUint32(w.b, uint32(v))
		}
	default:
		return fmt.Errorf("quantized storage %T cannot be saved", data)
	}
	return nil
}

// reader decodes a byte slice; every length is checked against the bytes
// left before anything is allocated, so no input makes it allocate more
// than a small multiple of the input size.
type reader struct {
	b     []byte
	err   error
	depth int
}

var errTruncated = errors.New("truncated input")

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) uv() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errTruncated)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) sv() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errTruncated)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a count of items each taking at least min bytes.
func (r *reader) count(min int) int {
	n := r.uv()
	if r.err == nil && n > uint64(len(r.b)/min) {
		r.fail(fmt.Errorf("count %d exceeds the %d bytes left", n, len(r.b)))
		return 0
	}
	return int(n)
}

func (r *reader) raw(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail(errTruncated)
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) f64() float64 {
	p := r.raw(8)
	if p == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(p))
}

func (r *reader) bytes() []byte {
	n := r.count(1)
	return append([]byte(nil), r.raw(n)...)
}

func (r *reader) str() string {
	n := r.count(1)
	if n > 1<<16 {
		r.fail(fmt.Errorf("string of %d bytes is too long", n))
		return ""
	}
	return string(r.raw(n))
}

func (r *reader) shape() ([]int, int) {
	rank := r.uv()
	if r.err == nil && rank > maxRank {
		r.fail(fmt.Errorf("rank %d > %d", rank, maxRank))
	}
	if r.err != nil {
		return nil, 0
	}
	s := make([]int, rank)
	size := uint64(1)
	for i := range s {
		d := r.uv()
		if r.err != nil {
			return nil, 0
		}
		if d > uint64(len(r.b)) && d != 0 {
			r.fail(fmt.Errorf("dimension %d exceeds the input size", d))
			return nil, 0
		}
		size *= d
		if size > uint64(len(r.b))+1 && d != 0 {
			r.fail(fmt.Errorf("tensor of shape prefix %v is larger than the input", s[:i+1]))
			return nil, 0
		}
		s[i] = int(d)
	}
	return s, int(size)
}

func (r *reader) dense() *tensor.Dense {
	dt := r.str()
	shape, size := r.shape()
	if r.err != nil {
		return nil
	}
	switch dt {
	case "float32":
		p := r.raw(4 * size)
		if p == nil {
			return nil
		}
		data := make([]float32, size)
		for i := range data {
			data[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
		}
		if len(shape) == 0 {
			return tensor.New(tensor.FromScalar(data[0]))
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
	case "int64":
		p := r.raw(8 * size)
		if p == nil {
			return nil
		}
		data := make([]int64, size)
		for i := range data {
			data[i] = int64(binary.LittleEndian.Uint64(p[8*i:]))
		}
		if len(shape) == 0 {
			return tensor.New(tensor.FromScalar(data[0]))
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
	}
	r.fail(fmt.Errorf("tensor dtype %q (float32, int64)", dt))
	return nil
}

func (r *reader) qtensor() *qtensor.QTensor {
	dtName := r.str()
	shape, size := r.shape()
	scheme := r.str()
	if r.err != nil {
		return nil
	}
	dt, err := qdtype.ParseDtype(dtName)
	if err != nil {
		r.fail(err)
		return nil
	}
	sch, err := qdtype.ParseQScheme(scheme)
	if err != nil {
		r.fail(err)
		return nil
	}
	ns := r.count(8)
	scales := make([]float64, ns)
	for i := range scales {
		scales[i] = r.f64()
	}
	nz := r.count(1)
	zps := make([]int64, nz)
	for i := range zps {
		zps[i] = r.sv()
	}
	axis := r.sv()
	if r.err != nil {
		return nil
	}
	width := 1
	if dt == qdtype.QInt32Dtype {
		width = 4
	}
	p := r.raw(width * size)
	if r.err != nil {
		return nil
	}
	ints := make([]int64, size)
	for i := range ints {
		switch dt {
		case qdtype.QUInt8Dtype:
			ints[i] = int64(p[i])
		case qdtype.QInt8Dtype:
			ints[i] = int64(int8(p[i]))
		default:
			ints[i] = int64(int32(binary.LittleEndian.Uint32(p[4*i:])))
		}
	}
	if axis < -maxRank || axis > maxRank {
		r.fail(fmt.Errorf("axis %d", axis))
		return nil
	}
	qp := qdtype.QParams{Dtype: dt, Scheme: sch, Scales: scales, ZeroPoints: zps, Axis: int(axis)}
	q, err := qtensor.FromInts(shape, ints, qp)
	if err != nil {
		r.fail(err)
		return nil
	}
	return q
}

func (r *reader) record() *Record {
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > maxDepth {
		r.fail(fmt.Errorf("module tree deeper than %d", maxDepth))
		return nil
	}
	rec := NewRecord(r.str())
	for i, n := 0, r.count(2); i < n && r.err == nil; i++ {
		k := r.str()
		m := r.count(1)
		v := make([]int64, m)
		for j := range v {
			v[j] = r.sv()
		}
		rec.Ints[k] = v
	}
	for i, n := 0, r.count(2); i < n && r.err == nil; i++ {
		k := r.str()
		m := r.count(8)
		v := make([]float64, m)
		for j := range v {
			v[j] = r.f64()
		}
		rec.Floats[k] = v
	}
	for i, n := 0, r.count(2); i < n && r.err == nil; i++ {
		k := r.str()
		rec.Strings[k] = r.str()
	}
	for i, n := 0, r.count(3); i < n && r.err == nil; i++ {
		k := r.str()
		if d := r.dense(); d != nil {
			rec.Tensors[k] = d
		}
	}
	for i, n := 0, r.count(4); i < n && r.err == nil; i++ {
		k := r.str()
		if q := r.qtensor(); q != nil {
			rec.QTensors[k] = q
		}
	}
	for i, n := 0, r.count(2); i < n && r.err == nil; i++ {
		k := r.str()
		rec.Blobs[k] = r.bytes()
	}
	for i, n := 0, r.count(2); i < n && r.err == nil; i++ {
		name := r.str()
		c := r.record()
		if c != nil {
			rec.Children = append(rec.Children, NamedRecord{Name: name, Record: c})
		}
	}
	if r.err != nil {
		return nil
	}
	return rec
}
