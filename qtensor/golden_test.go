package qtensor

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/qgorgonia/qgorgonia/internal/golden"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// The vectors in testdata/golden_qtensor.json come from PyTorch 1.13 via
// scripts/golden_qtensor.py.

type gNum = golden.Num

var f32s = golden.Float32s

type gQ struct {
	Dtype     string  `json:"dtype"`
	Shape     []int   `json:"shape"`
	Scale     float64 `json:"scale"`
	ZeroPoint int64   `json:"zero_point"`
	Data      []int64 `json:"data"`
}

func (g gQ) qtensor(t *testing.T) *QTensor {
	t.Helper()
	return gFull{Dtype: g.Dtype, Shape: g.Shape, Data: g.Data, Scale: g.Scale, ZeroPoint: g.ZeroPoint}.full(t)
}

// gFull is a quantized tensor with either qscheme.
type gFull struct {
	Dtype      string    `json:"dtype"`
	Shape      []int     `json:"shape"`
	Data       []int64   `json:"data"`
	QScheme    string    `json:"qscheme"`
	Scale      float64   `json:"scale"`
	ZeroPoint  int64     `json:"zero_point"`
	Scales     []float64 `json:"scales"`
	ZeroPoints []int64   `json:"zero_points"`
	Axis       int       `json:"axis"`
}

func (g gFull) full(t *testing.T) *QTensor {
	t.Helper()
	dt, err := qdtype.ParseDtype(g.Dtype)
	if err != nil {
		t.Fatal(err)
	}
	var qp qdtype.QParams
	if g.QScheme == "per_channel_affine" {
		qp, err = qdtype.PerChannel(dt, g.Scales, g.ZeroPoints, g.Axis)
	} else {
		qp, err = qdtype.PerTensor(dt, g.Scale, g.ZeroPoint)
	}
	if err != nil {
		t.Fatal(err)
	}
	q, err := FromInts(g.Shape, g.Data, qp)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

type goldenFile struct {
	Torch             string `json:"torch"`
	QuantizePerTensor []struct {
		X         []gNum  `json:"x"`
		Scale     float64 `json:"scale"`
		ZeroPoint int64   `json:"zero_point"`
		Dtype     string  `json:"dtype"`
		Q         []int64 `json:"q"`
	} `json:"quantize_per_tensor"`
	QuantizePerChannel []struct {
		X          []gNum    `json:"x"`
		Shape      []int     `json:"shape"`
		Scales     []float64 `json:"scales"`
		ZeroPoints []int64   `json:"zero_points"`
		Axis       int       `json:"axis"`
		Dtype      string    `json:"dtype"`
		Q          []int64   `json:"q"`
	} `json:"quantize_per_channel"`
	Mean []struct {
		X       gQ      `json:"x"`
		Dims    []int   `json:"dims"`
		Keepdim bool    `json:"keepdim"`
		Shape   []int   `json:"shape"`
		Out     []int64 `json:"out"`
	} `json:"mean"`
	Sort []struct {
		X          gQ      `json:"x"`
		Dim        int     `json:"dim"`
		Descending bool    `json:"descending"`
		Values     []int64 `json:"values"`
		Indices    []int64 `json:"indices"`
	} `json:"sort"`
	Extrema []struct {
		X          gQ      `json:"x"`
		Dim        int     `json:"dim"`
		Keepdim    bool    `json:"keepdim"`
		Shape      []int   `json:"shape"`
		Max        []int64 `json:"max"`
		MaxIndices []int64 `json:"max_indices"`
		Min        []int64 `json:"min"`
		MinIndices []int64 `json:"min_indices"`
	} `json:"extrema"`
	Topk []struct {
		X       gQ      `json:"x"`
		K       int     `json:"k"`
		Dim     int     `json:"dim"`
		Largest bool    `json:"largest"`
		Sorted  bool    `json:"sorted"`
		Values  []int64 `json:"values"`
		Indices []int64 `json:"indices"`
	} `json:"topk"`
	Dequantize []struct {
		Q   gFull  `json:"q"`
		Out []gNum `json:"out"`
	} `json:"dequantize"`
	Views []struct {
		X    gFull           `json:"x"`
		Op   string          `json:"op"`
		Args []interface{}   `json:"args"`
		Out  json.RawMessage `json:"out"`
	} `json:"views"`
	Compare []struct {
		Op    string  `json:"op"`
		A     gQ      `json:"a"`
		B     *gQ     `json:"b"`
		Other float64 `json:"other"`
		Shape []int   `json:"shape"`
		Out   []bool  `json:"out"`
	} `json:"compare"`
}

func loadGolden(t *testing.T) *goldenFile {
	t.Helper()
	var g goldenFile
	golden.Load(t, "testdata/golden_qtensor.json", &g)
	if len(g.QuantizePerTensor) == 0 || len(g.Mean) == 0 || len(g.Topk) == 0 {
		t.Fatal("golden file has empty sections")
	}
	return &g
}

func denseF32(shape []int, data []float32) *tensor.Dense {
	return denseWithShape(shape, data)
}

func TestGoldenQuantize(t *testing.T) {
	g := loadGolden(t)
	for i, c := range g.QuantizePerTensor {
		dt, _ := qdtype.ParseDtype(c.Dtype)
		x := f32s(c.X)
		q, err := QuantizePerTensor(denseF32([]int{len(x)}, x), c.Scale, c.ZeroPoint, dt)
		if err != nil {
			t.Fatalf("per-tensor %d: %v", i, err)
		}
		if got := q.Ints(); !slices.Equal(got, c.Q) {
			for j := range got {
				if got[j] != c.Q[j] {
					t.Errorf("per-tensor %d (%s s=%g zp=%d): x=%v → %d, PyTorch %d", i, c.Dtype, c.Scale, c.ZeroPoint, x[j], got[j], c.Q[j])
				}
			}
		}
	}
	for i, c := range g.QuantizePerChannel {
		dt, _ := qdtype.ParseDtype(c.Dtype)
		q, err := QuantizePerChannel(denseF32(c.Shape, f32s(c.X)), c.Scales, c.ZeroPoints, c.Axis, dt)
		if err != nil {
			t.Fatalf("per-channel %d: %v", i, err)
		}
		if got := q.Ints(); !slices.Equal(got, c.Q) {
			t.Errorf("per-channel %d (%s %v axis %d): got %v, PyTorch %v", i, c.Dtype, c.Shape, c.Axis, got, c.Q)
		}
	}
}

func TestGoldenDequantize(t *testing.T) {
	g := loadGolden(t)
	if len(g.Dequantize) == 0 {
		t.Fatal("no dequantize vectors")
	}
	for i, c := range g.Dequantize {
		q := c.Q.full(t)
		d, err := q.Dequantize()
		if err != nil {
			t.Fatal(err)
		}
		want := f32s(c.Out)
		for j, v := range d.Float32s() {
			if diff := q.Int(j) - c.Q.ZeroPoint; !q.qp.PerChannel() && (diff > math.MaxInt32 || diff < math.MinInt32) {
				// PyTorch computes q − zp in int32 here and wraps; we
				// compute it exactly.
				if v != float32(diff)*float32(c.Q.Scale) {
					t.Errorf("dequantize %d: q=%d → %v, want the exact %v", i, q.Int(j), v, float32(diff)*float32(c.Q.Scale))
				}
				continue
			}
			if math.Float32bits(v) != math.Float32bits(want[j]) {
				t.Errorf("dequantize %d (%s %s): q=%d → %v, PyTorch %v", i, c.Q.Dtype, c.Q.QScheme, q.Int(j), v, want[j])
				break
			}
		}
	}
}

func TestGoldenMean(t *testing.T) {
	g := loadGolden(t)
	for i, c := range g.Mean {
		x := c.X.qtensor(t)
		m, err := x.MeanDims(c.Dims, c.Keepdim)
		if err != nil {
			t.Fatalf("mean %d: %v", i, err)
		}
		if !sameShape(m.Shape(), c.Shape) || !slices.Equal(m.Ints(), c.Out) || !m.QParams().Equal(x.QParams()) {
			bad := 0
			got := m.Ints()
			for j := range got {
				if j < len(c.Out) && got[j] != c.Out[j] {
					bad++
				}
			}
			t.Errorf("mean %d (%s %v dims %v keepdim %v): shape %v, %d of %d values differ", i, c.X.Dtype, c.X.Shape, c.Dims, c.Keepdim, m.Shape(), bad, len(got))
		}
	}
}

func TestGoldenSortExtrema(t *testing.T) {
	g := loadGolden(t)
	for i, c := range g.Sort {
		x := c.X.qtensor(t)
		v, idx, err := x.Sort(c.Dim, c.Descending, true)
		if err != nil {
			t.Fatalf("sort %d: %v", i, err)
		}
		if !slices.Equal(v.Ints(), c.Values) || !slices.Equal(idx.Int64s(), c.Indices) {
			t.Errorf("sort %d (%s %v dim %d desc %v): stable sort differs from PyTorch", i, c.X.Dtype, c.X.Shape, c.Dim, c.Descending)
		}
	}
	for i, c := range g.Extrema {
		x := c.X.qtensor(t)
		vmax, imax, err := x.MaxDim(c.Dim, c.Keepdim)
		if err != nil {
			t.Fatal(err)
		}
		vmin, imin, err := x.MinDim(c.Dim, c.Keepdim)
		if err != nil {
			t.Fatal(err)
		}
		if !sameShape(vmax.Shape(), c.Shape) || !slices.Equal(vmax.Ints(), c.Max) || !slices.Equal(vmin.Ints(), c.Min) {
			t.Errorf("extrema %d: values differ", i)
		}
		// PyTorch leaves the index of tied extrema open; every index must
		// select the value.
		checkIndices(t, fmt.Sprintf("max %d", i), x, c.Dim, imax.Int64s(), c.Max)
		checkIndices(t, fmt.Sprintf("min %d", i), x, c.Dim, imin.Int64s(), c.Min)
	}
}

// checkIndices verifies that idx[j] selects, along dim, an element of x
// equal to want[j] (outputs laid out as x with dim reduced to len/… ).
func checkIndices(t *testing.T, name string, x *QTensor, dim int, idx, want []int64) {
	t.Helper()
	shape := x.Shape()
	d, _ := wrapDim("check", dim, len(shape))
	outer, n, inner := rowSplit(shape, d)
	k := len(idx) / (outer * inner)
	ints := x.Ints()
	for o := 0; o < outer; o++ {
		for j := 0; j < k; j++ {
			for in := 0; in < inner; in++ {
				p := (o*k+j)*inner + in
				ix := idx[p]
				if ix < 0 || int(ix) >= n || ints[(o*n+int(ix))*inner+in] != want[p] {
					t.Errorf("%s: index %d at %d does not select value %d", name, ix, p, want[p])
					return
				}
			}
		}
	}
}

func TestGoldenTopk(t *testing.T) {
	g := loadGolden(t)
	for i, c := range g.Topk {
		x := c.X.qtensor(t)
		v, idx, err := x.Topk(c.K, c.Dim, c.Largest, c.Sorted)
		if err != nil {
			t.Fatalf("topk %d: %v", i, err)
		}
		if !slices.Equal(v.Ints(), c.Values) {
			t.Errorf("topk %d (%s %v k=%d dim=%d largest=%v sorted=%v): values %v, PyTorch %v", i, c.X.Dtype, c.X.Shape, c.K, c.Dim, c.Largest, c.Sorted, v.Ints(), c.Values)
			continue
		}
		checkIndices(t, fmt.Sprintf("topk %d", i), x, c.Dim, idx.Int64s(), c.Values)
		seen := map[[2]int64]bool{}
		shape := x.Shape()
		_, _, inner := rowSplit(shape, c.Dim)
		for p, ix := range idx.Int64s() {
			key := [2]int64{int64(p/(c.K*inner)*inner + p%inner), ix}
			if seen[key] {
				t.Errorf("topk %d: index %d repeats in a row", i, ix)
			}
			seen[key] = true
		}
	}
}

func TestGoldenCompare(t *testing.T) {
	g := loadGolden(t)
	for i, c := range g.Compare {
		op, err := ParseComparison(c.Op)
		if err != nil {
			t.Fatal(err)
		}
		a := c.A.qtensor(t)
		var r *tensor.Dense
		if c.B != nil {
			r, err = Compare(a, c.B.qtensor(t), op)
		} else {
			r, err = CompareScalar(a, c.Other, op)
		}
		if err != nil {
			t.Fatalf("compare %d: %v", i, err)
		}
		if !sameShape(r.Shape(), c.Shape) || !slices.Equal(r.Bools(), c.Out) {
			t.Errorf("compare %d (%s, other %v): got %v %v, PyTorch %v %v", i, c.Op, c.Other, r.Shape(), r.Bools(), c.Shape, c.Out)
		}
	}
}
