package nodes

import (
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/gorgonia"
)

// TestEmptyBatch builds and runs nodes on an empty batch (N = 0), which the
// ops accept and which the dry run must probe as it will run. TraceExec is
// left out: its bindCopy of an empty tensor panics inside gorgonia.Copy
// (tensor v0.9.24's CopyIter), outside any op, and so does the
// LispMachine's backward pass through Gorgonia's own Sum of an empty tensor.
func TestEmptyBatch(t *testing.T) {
	saved := machineKinds
	defer func() { machineKinds = saved }()
	machineKinds = []string{"tape", "lisp-fwd"}
	r := rand.New(rand.NewSource(17))
	x := randQ(t, r, mustQP(qdtype.QUInt8Dtype, 0.05, 120), 0, 3, 5, 5)
	w := randQ(t, r, mustQP(qdtype.QInt8Dtype, 0.01, 0), 4, 3, 3, 3)
	p, err := ops.PrepackConv2d(w, nil, ops.ConvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := ops.Conv2d(x, p, 0.1, 10)
	if err != nil {
		t.Fatal(err)
	}
	checkUnary(t, x, want, func(n *gorgonia.Node) (*gorgonia.Node, error) { return QConvPacked(Conv2d, n, p, 0.1, 10) })
	lw, lb := linearWeights(t, r, 3, 5, false)
	xl := randQ(t, r, mustQP(qdtype.QUInt8Dtype, 0.05, 120), 0, 5)
	wantL, err := ops.LinearWithWeights(xl, lw, lb, 0.1, 10)
	if err != nil {
		t.Fatal(err)
	}
	checkUnary(t, xl, wantL, func(n *gorgonia.Node) (*gorgonia.Node, error) { return QLinear(n, lw, lb, 0.1, 10) })
}
