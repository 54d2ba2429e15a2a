package nn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// tap is one weighted input index of an axis map.
type tap struct {
	i int
	w float32
}

// axisMap is a sparse linear map along one axis: output index o reads
// (Σ_t w_t·x[taps[o][t].i]) / div[o] (div nil: 1). Adaptive average pooling
// and nearest/linear interpolation are separable into such maps, applied
// axis by axis in the order PyTorch's kernels nest their loops.
type axisMap struct {
	axis  int
	in    int
	taps  [][]tap
	div   []float32
	label string
}

func (m *axisMap) out() int { return len(m.taps) }

// applyAxisMap returns m applied to x along m.axis.
func applyAxisMap(x *gorgonia.Node, m *axisMap) (*gorgonia.Node, error) {
	if err := checkF32Node(m.label, x, -1); err != nil {
		return nil, err
	}
	s := x.Shape()
	if m.axis >= s.Dims() || s[m.axis] != m.in {
		return nil, fmt.Errorf("nn: %s: input shape %v, want %d along axis %d", m.label, s, m.in, m.axis)
	}
	return gorgonia.ApplyOp(&axisMapOp{m: m, inShape: s.Clone(), id: nextOpID()}, x)
}

// axisMapOp applies m (adjoint false) or its transpose (adjoint true).
type axisMapOp struct {
	m       *axisMap
	inShape tensor.Shape // shape of the forward input
	adjoint bool
	id      uint64
}

var (
	_ gorgonia.SDOp = &axisMapOp{}
	_ gorgonia.ADOp = &axisMapOp{}
)

func (op *axisMapOp) outShapeFwd() tensor.Shape {
	s := op.inShape.Clone()
	s[op.m.axis] = op.m.out()
	return s
}

func (op *axisMapOp) shapes() (in, out tensor.Shape) {
	if op.adjoint {
		return op.outShapeFwd(), op.inShape.Clone()
	}
	return op.inShape.Clone(), op.outShapeFwd()
}

func (op *axisMapOp) run(dst, src []float32) {
	m := op.m
	A := prod(op.inShape[:m.axis])
	B := prod(op.inShape[m.axis+1:])
	I, O := m.in, m.out()
	if op.adjoint {
		clear(dst)
		for a := 0; a < A; a++ {
			for o, taps := range m.taps {
				g := src[(a*O+o)*B : (a*O+o+1)*B]
				d := float32(1)
				if m.div != nil {
					d = m.div[o]
				}
				for _, t := range taps {
					row := dst[(a*I+t.i)*B : (a*I+t.i+1)*B]
					for b, gv := range g {
						row[b] += gv * t.w / d
					}
				}
			}
		}
		return
	}
	for a := 0; a < A; a++ {
		for o, taps := range m.taps {
			row := dst[(a*O+o)*B : (a*O+o+1)*B]
			for b := range row {
				var s float32
				for _, t := range taps {
					s += float32(t.w * src[(a*I+t.i)*B+b])
				}
				if m.div != nil {
					s /= m.div[o]
				}
				row[b] = s
			}
		}
	}
}

func (op *axisMapOp) Arity() int { return 1 }
func (op *axisMapOp) Type() hm.Type {
	return hm.NewFnType(f32Type(op.inShape.Dims()), f32Type(op.inShape.Dims()))
}
func (op *axisMapOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	_, out := op.shapes()
	return out, nil
}
func (op *axisMapOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, in...)
}

// UsePreallocDo writes into prealloc when it is a float32 tensor of the
// output shape that aliases no input (the tape's register from the
// previous run), else into fresh storage.
func (op *axisMapOp) UsePreallocDo(prealloc gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("nn: %s: got %d inputs, want 1", op.m.label, len(in))
	}
	is, os := op.shapes()
	x, err := f32Data(op.m.label, in[0], is)
	if err != nil {
		return nil, err
	}
	out := preallocF32(prealloc, os, in...)
	op.run(out.Float32s(), x)
	return out, nil
}
func (op *axisMapOp) ReturnsPtr() bool     { return false }
func (op *axisMapOp) CallsExtern() bool    { return false }
func (op *axisMapOp) OverwritesInput() int { return -1 }
func (op *axisMapOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "nn.axismap:%s:%v:%d", op.m.label, op.adjoint, op.id)
}
func (op *axisMapOp) Hashcode() uint32   { return hashOf(op) }
func (op *axisMapOp) String() string     { return fmt.Sprintf("%s[axis %d]", op.m.label, op.m.axis) }
func (op *axisMapOp) DiffWRT(int) []bool { return []bool{true} }
func (op *axisMapOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	d, err := gorgonia.ApplyOp(&axisMapOp{m: op.m, inShape: op.inShape, adjoint: !op.adjoint, id: nextOpID()}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}
func (op *axisMapOp) DoDiff(ctx gorgonia.ExecutionContext, inputs gorgonia.Nodes, output *gorgonia.Node) error {
	g, err := outputGrad(op.m.label, output)
	if err != nil {
		return err
	}
	is, _ := op.shapes()
	dx := make([]float32, is.TotalSize())
	(&axisMapOp{m: op.m, inShape: op.inShape, adjoint: !op.adjoint}).run(dx, g)
	return accumulateGrad(op.m.label, inputs[0], dx)
}

// adaptiveAvgMap pools in → out along axis with PyTorch's windows
// [floor(o·in/out), ceil((o+1)·in/out)).
func adaptiveAvgMap(axis, in, out int) *axisMap {
	m := &axisMap{axis: axis, in: in, taps: make([][]tap, out), div: make([]float32, out), label: "adaptive_avg_pool"}
	for o := 0; o < out; o++ {
		s := o * in / out
		e := ((o+1)*in + out - 1) / out
		for i := s; i < e; i++ {
			m.taps[o] = append(m.taps[o], tap{i, 1})
		}
		m.div[o] = float32(e - s)
	}
	return m
}
