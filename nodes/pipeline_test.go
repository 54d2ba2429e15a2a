package nodes

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"github.com/qgorgonia/qgorgonia/qtensor"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestInt8Pipeline runs Quantize → QConv2d → QReLU → QMaxPool2d → QFlatten
// → QLinear → Dequantize and compares every stage with the same chain of
// qtensor/ops calls.
func TestInt8Pipeline(t *testing.T) {
	r := rand.New(rand.NewSource(15))
	x := randFloat(r, -1, 1, 2, 3, 8, 8)
	inQP := mustQP(qdtype.QUInt8Dtype, 2.0/255, 128)
	cw := randQ(t, r, mustQP(qdtype.QInt8Dtype, 0.01, 0), 4, 3, 3, 3)
	cb := randFloat(r, -0.1, 0.1, 4)
	copt := ops.ConvOptions{Padding: []int{1}}
	lw, lb := linearWeights(t, r, 10, 4*4*4, true)

	// The eager chain.
	q, err := qtensor.Quantize(x, inQP)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := ops.PrepackConv2d(cw, cb, copt)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ops.Conv2d(q, cp, 0.05, 120)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := ops.ReLU(c)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := ops.MaxPool2d(rl, []int{2}, nil, nil, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	flat, err := qtensor.New(mp.Dense().Clone().(*tensor.Dense), mp.QParams())
	if err != nil {
		t.Fatal(err)
	}
	if err := flat.Dense().Reshape(2, 64); err != nil {
		t.Fatal(err)
	}
	lin, err := ops.LinearWithWeights(flat, lw, lb, 0.1, 60)
	if err != nil {
		t.Fatal(err)
	}
	y, err := lin.Dequantize()
	if err != nil {
		t.Fatal(err)
	}
	want := []*tensor.Dense{q.Dense(), c.Dense(), rl.Dense(), mp.Dense(), flat.Dense(), lin.Dense(), y}

	checkAllMachines(t, func(g *gorgonia.ExprGraph) ([]*gorgonia.Node, error) {
		xn := finput(g, "x", x)
		qn, err := Quantize(xn, inQP)
		if err != nil {
			return nil, err
		}
		cn, err := QConv2d(qn, cw, cb, copt, 0.05, 120)
		if err != nil {
			return nil, err
		}
		rn, err := QReLU(cn)
		if err != nil {
			return nil, err
		}
		mn, err := QMaxPool2d(rn, []int{2}, nil, nil, nil, false)
		if err != nil {
			return nil, err
		}
		fn, err := QFlatten(mn, 1, -1)
		if err != nil {
			return nil, err
		}
		ln, err := QLinear(fn, lw, lb, 0.1, 60)
		if err != nil {
			return nil, err
		}
		yn, err := Dequantize(ln)
		if err != nil {
			return nil, err
		}
		return []*gorgonia.Node{qn, cn, rn, mn, fn, ln, yn}, nil
	}, want)
}

func TestReshapeFlattenKeepQParams(t *testing.T) {
	r := rand.New(rand.NewSource(16))
	pc, err := qdtype.PerChannel(qdtype.QInt8Dtype, []float64{0.1, 0.2, 0.3}, []int64{1, 2, 3}, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := randQ(t, r, pc, 2, 3, 2, 2)
	for _, c := range []struct {
		shape []int
		node  func(*gorgonia.Node) (*gorgonia.Node, error)
	}{
		{[]int{2, 3, 4}, func(n *gorgonia.Node) (*gorgonia.Node, error) { return QFlatten(n, 2, -1) }},
		{[]int{2, 3, 4}, func(n *gorgonia.Node) (*gorgonia.Node, error) { return QReshape(n, 2, 3, -1) }},
		{[]int{2, 3, 2, 2, 1}, func(n *gorgonia.Node) (*gorgonia.Node, error) { return QReshape(n, 2, 3, 2, 2, 1) }},
	} {
		d := x.Dense().Clone().(*tensor.Dense)
		if err := d.Reshape(c.shape...); err != nil {
			t.Fatal(err)
		}
		want, err := qtensor.New(d, pc)
		if err != nil {
			t.Fatal(err)
		}
		checkUnary(t, x, want, c.node)
	}
	pt := randQ(t, r, mustQP(qdtype.QUInt8Dtype, 0.1, 3), 2, 3, 4)
	d := pt.Dense().Clone().(*tensor.Dense)
	if err := d.Reshape(24); err != nil {
		t.Fatal(err)
	}
	want, _ := qtensor.New(d, pt.QParams())
	checkUnary(t, pt, want, func(n *gorgonia.Node) (*gorgonia.Node, error) { return QFlatten(n, 0, -1) })
	checkUnary(t, pt, want, func(n *gorgonia.Node) (*gorgonia.Node, error) { return QReshape(n, -1) })
}

// TestReadAcrossRuns checks gorgonia.Read on a quantized node: it delivers a
// copy of the register (Gorgonia reuses that copy, overwriting it, on the
// next run).
func TestReadAcrossRuns(t *testing.T) {
	g := gorgonia.NewGraph()
	x := gorgonia.NewVector(g, tensor.Float32, gorgonia.WithShape(3), gorgonia.WithName("x"))
	q, err := Quantize(x, mustQP(qdtype.QInt8Dtype, 0.5, 0))
	if err != nil {
		t.Fatal(err)
	}
	r, err := QReLU(q)
	if err != nil {
		t.Fatal(err)
	}
	var v gorgonia.Value
	gorgonia.Read(r, &v)
	if _, err := Dequantize(r); err != nil {
		t.Fatal(err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	var got []string
	for _, in := range [][]float32{{-1, 1, 2}, {3, -3, 0.5}} {
		if err := gorgonia.Let(x, tensor.New(tensor.WithBacking(in))); err != nil {
			t.Fatal(err)
		}
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		d := v.(*tensor.Dense)
		if d.Dtype() != qdtype.QInt8Dtype {
			t.Fatalf("Read gave dtype %v", d.Dtype())
		}
		got = append(got, fmt.Sprint(d.Int8s()))
		if overlaps(d, r.Value().(*tensor.Dense)) {
			t.Fatal("Read value shares the node's register")
		}
		m.Reset()
	}
	if got[0] != "[0 2 4]" || got[1] != "[6 0 1]" {
		t.Fatalf("Read values %v", got)
	}
}
