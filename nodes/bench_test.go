package nodes

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/qgorgonia/qgorgonia/ops"
	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/gorgonia"
)

// BenchmarkQLinearNode compares a QLinear node run by a TapeMachine
// (RunAll + Reset per iteration) with the ops.Linear call it wraps, to show
// the per-call overhead of the graph. impl=do calls the node op's Do
// directly (the wrapper's own cost: input checks, QTensor wrapping, result
// checks); impl=tape includes the AttachQParams node that feeds the
// quantized input (a copy of the input) and Gorgonia's RunAll; impl=attach
// runs that node alone, so tape − attach is the QLinear node in the VM.
func BenchmarkQLinearNode(b *testing.B) {
	for _, sz := range [][3]int{{1, 16, 16}, {64, 1024, 1024}} {
		m, k, n := sz[0], sz[1], sz[2]
		r := rand.New(rand.NewSource(1))
		x := randQ(b, r, mustQP(qdtype.QUInt8Dtype, 0.05, 120), m, k)
		w := randQ(b, r, mustQP(qdtype.QInt8Dtype, 0.01, 0), n, k)
		bias := randFloat(r, -1, 1, n)
		p, err := ops.PrepackLinear(w, bias)
		if err != nil {
			b.Fatal(err)
		}
		gops := func(b *testing.B) {
			b.ReportMetric(2*float64(m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
		}
		name := fmt.Sprintf("size=%dx%dx%d", m, k, n)
		b.Run(name+"/impl=ops", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := ops.Linear(x, p, 0.3, 100); err != nil {
					b.Fatal(err)
				}
			}
			gops(b)
		})
		b.Run(name+"/impl=do", func(b *testing.B) {
			g := gorgonia.NewGraph()
			xn, err := qinput(g, "x", x)
			if err != nil {
				b.Fatal(err)
			}
			y, err := QLinearPacked(xn, p, 0.3, 100)
			if err != nil {
				b.Fatal(err)
			}
			op, _ := OpOf(y)
			in := x.Dense()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := op.Do(in); err != nil {
					b.Fatal(err)
				}
			}
			gops(b)
		})
		for _, impl := range []string{"tape", "attach"} {
			b.Run(name+"/impl="+impl, func(b *testing.B) {
				g := gorgonia.NewGraph()
				xn, err := qinput(g, "x", x)
				if err != nil {
					b.Fatal(err)
				}
				if impl == "tape" {
					if _, err := QLinearPacked(xn, p, 0.3, 100); err != nil {
						b.Fatal(err)
					}
				}
				vm := gorgonia.NewTapeMachine(g)
				defer vm.Close()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := vm.RunAll(); err != nil {
						b.Fatal(err)
					}
					vm.Reset()
				}
				if impl == "tape" {
					gops(b)
				}
			})
		}
	}
}
