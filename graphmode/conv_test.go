package graphmode

import (
	"github.com/qgorgonia/qgorgonia/eager"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/qgorgonia/qgorgonia/fuse"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/ops"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convnet is the convnet of Gorgonia's MNIST example (examples/convnet),
// scaled down: Conv2d, Rectify, MaxPool2D, Dropout, Reshape, Mul, SoftMax;
// with bn, the second convolution is followed by BatchNorm.
type convnet struct {
	g                  *gorgonia.ExprGraph
	x, a0, a1, fc, out *gorgonia.Node
	feat               *gorgonia.Node
	bnOp               *gorgonia.BatchNormOp
	*convWeights
	bn bool
}

type convWeights struct {
	w0, w1, w3, gam, bet, bnMean, bnVar *tensor.Dense
}

const convBS = 4

func newConvWeights(seed uint64) *convWeights {
	r := rand.New(rand.NewPCG(seed, 3))
	w := &convWeights{w0: randDense(r, 0.5, 4, 1, 3, 3), w1: randDense(r, 0.3, 8, 4, 3, 3), w3: randDense(r, 0.3, 8*3*3, 10),
		gam: randDense(r, 0.3, 1, 8, 1, 1), bet: randDense(r, 0.2, 1, 8, 1, 1), bnMean: randDense(r, 0.5, 8), bnVar: randDense(r, 0.5, 8)}
	for i, v := range w.gam.Float32s() {
		w.gam.Float32s()[i] = 1 + v
	}
	for i, v := range w.bnVar.Float32s() {
		w.bnVar.Float32s()[i] = 0.5 + v*v
	}
	return w
}

func newConvnet(w *convWeights, bs int, withBN bool) *convnet {
	m := &convnet{g: gorgonia.NewGraph(), bn: withBN, convWeights: w}
	g := m.g
	m.x = gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(bs, 1, 12, 12), gorgonia.WithName("x"))
	c0 := gorgonia.Must(gorgonia.Conv2d(m.x, param(g, "w0", m.w0), tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}))
	m.a0 = gorgonia.Must(gorgonia.Rectify(c0))
	p0 := gorgonia.Must(gorgonia.MaxPool2D(m.a0, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}))
	l0 := gorgonia.Must(gorgonia.Dropout(p0, 0.2))
	c1 := gorgonia.Must(gorgonia.Conv2d(l0, param(g, "w1", m.w1), tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}))
	if withBN {
		y, _, _, op, err := gorgonia.BatchNorm(c1, param(g, "gamma", m.gam), param(g, "beta", m.bet), 0.9, 1e-5)
		if err != nil {
			panic(err)
		}
		if err := op.SetStats(m.bnMean, m.bnVar); err != nil {
			panic(err)
		}
		c1, m.bnOp = y, op
	}
	m.a1 = gorgonia.Must(gorgonia.Rectify(c1))
	p1 := gorgonia.Must(gorgonia.MaxPool2D(m.a1, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}))
	m.feat = gorgonia.Must(gorgonia.Reshape(p1, tensor.Shape{bs, 8 * 3 * 3}))
	l2 := gorgonia.Must(gorgonia.Dropout(m.feat, 0.2))
	m.fc = gorgonia.Must(gorgonia.Mul(l2, param(g, "w3", m.w3)))
	m.out = gorgonia.Must(gorgonia.SoftMax(m.fc))
	return m
}

// images draws a batch of 1×12×12 images around the clusters' centres.
func images(c *clusters, bs int) (*tensor.Dense, *tensor.Dense) {
	x, y := c.batch(bs)
	return tensor.New(tensor.WithShape(bs, 1, 12, 12), tensor.WithBacking(x.Float32s())), y
}

// fitHead fits the convnet's last layer w3 by ridge regression of one-hot
// targets on the features the float graph computes (random convolutional
// features, a least-squares head), so that the logits have real margins.
func fitHead(t testing.TB, data *clusters, m *convnet, batches int) {
	t.Helper()
	const f, k = 72, 10
	ata := make([]float64, f*f)
	aty := make([]float64, f*k)
	for b := 0; b < batches; b++ {
		x, y := images(data, convBS)
		feat := runFloat(t, m.g, m.x, x, m.feat)[0].Float32s()
		ys := y.Float32s()
		for s := 0; s < convBS; s++ {
			row := feat[s*f : (s+1)*f]
			for i := 0; i < f; i++ {
				for j := 0; j < f; j++ {
					ata[i*f+j] += float64(row[i]) * float64(row[j])
				}
				for j := 0; j < k; j++ {
					aty[i*k+j] += float64(row[i]) * float64(ys[s*k+j])
				}
			}
		}
	}
	for i := 0; i < f; i++ {
		ata[i*f+i] += 1e-2
	}
	// Cholesky: ata = L·Lᵀ, then two triangular solves per target column.
	l := make([]float64, f*f)
	for i := 0; i < f; i++ {
		for j := 0; j <= i; j++ {
			s := ata[i*f+j]
			for p := 0; p < j; p++ {
				s -= l[i*f+p] * l[j*f+p]
			}
			if i == j {
				l[i*f+i] = math.Sqrt(s)
			} else {
				l[i*f+j] = s / l[j*f+j]
			}
		}
	}
	w3 := m.w3.Float32s()
	z := make([]float64, f)
	for c := 0; c < k; c++ {
		for i := 0; i < f; i++ {
			s := aty[i*k+c]
			for p := 0; p < i; p++ {
				s -= l[i*f+p] * z[p]
			}
			z[i] = s / l[i*f+i]
		}
		for i := f - 1; i >= 0; i-- {
			s := z[i]
			for p := i + 1; p < f; p++ {
				s -= l[p*f+i] * z[p]
			}
			z[i] = s / l[i*f+i]
		}
		for i := 0; i < f; i++ {
			w3[i*k+c] = float32(z[i])
		}
	}
}

// reference builds the int8 convnet directly from package nodes with qparams
// observed on float values: PyTorch eager's QuantStub → ConvReLU2d →
// MaxPool2d → ConvReLU2d (ConvBnReLU2d folded) → MaxPool2d → flatten →
// Linear → DeQuantStub → softmax.
func (m *convnet) reference(t *testing.T, calib []*tensor.Dense, perChannel bool) (*gorgonia.ExprGraph, *gorgonia.Node, *gorgonia.Node) {
	w1 := m.w1
	var b1 *tensor.Dense
	fg, fx, a0, a1, fc := m.g, m.x, m.a0, m.a1, m.fc
	if m.bn {
		var err error
		w1, b1, err = fuse.FuseConvBNWeights(m.w1, nil, m.bnMean, m.bnVar, 1e-5, vec(m.gam), vec(m.bet), false)
		must(t, err)
		// the folded float model PyTorch calibrates (ConvBnReLU2d in eval)
		fg = gorgonia.NewGraph()
		fx = gorgonia.NewTensor(fg, tensor.Float32, 4, gorgonia.WithShape(convBS, 1, 12, 12), gorgonia.WithName("x"))
		c0 := gorgonia.Must(gorgonia.Conv2d(fx, param(fg, "w0", m.w0), tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}))
		a0 = gorgonia.Must(gorgonia.Rectify(c0))
		p0 := gorgonia.Must(gorgonia.MaxPool2D(a0, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}))
		c1 := gorgonia.Must(gorgonia.Conv2d(p0, param(fg, "w1f", w1), tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}))
		bb := tensor.New(tensor.WithShape(1, 8, 1, 1), tensor.WithBacking(append([]float32(nil), b1.Float32s()...)))
		a1 = gorgonia.Must(gorgonia.Rectify(gorgonia.Must(gorgonia.BroadcastAdd(c1, param(fg, "b1f", bb), nil, []byte{0, 2, 3}))))
		p1 := gorgonia.Must(gorgonia.MaxPool2D(a1, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}))
		r2 := gorgonia.Must(gorgonia.Reshape(p1, tensor.Shape{convBS, 8 * 3 * 3}))
		fc = gorgonia.Must(gorgonia.Mul(r2, param(fg, "w3", m.w3)))
	}
	var a0s, a1s, fcs []*tensor.Dense
	for _, d := range calib {
		v := runFloat(t, fg, fx, d, a0, a1, fc)
		a0s, a1s, fcs = append(a0s, v[0]), append(a1s, v[1]), append(fcs, v[2])
	}
	sx, zx := qparams(t, observerOver(t, calib))
	s0, z0 := qparams(t, observerOver(t, a0s))
	s1, z1 := qparams(t, observerOver(t, a1s))
	s3, z3 := qparams(t, observerOver(t, fcs))

	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(convBS, 1, 12, 12), gorgonia.WithName("x"))
	opt := ops.ConvOptions{Stride: []int{1, 1}, Padding: []int{1, 1}, Dilation: []int{1, 1}}
	q, err := nodes.Quantize(x, mustPerTensor(t, sx, zx))
	must(t, err)
	q, err = nodes.QConv2dReLU(q, weightQWith(t, m.w0, perChannel), nil, opt, s0, z0)
	must(t, err)
	q, err = nodes.QMaxPool2d(q, []int{2, 2}, []int{2, 2}, []int{0, 0}, nil, false)
	must(t, err)
	q, err = nodes.QConv2dReLU(q, weightQWith(t, w1, perChannel), b1, opt, s1, z1)
	must(t, err)
	q, err = nodes.QMaxPool2d(q, []int{2, 2}, []int{2, 2}, []int{0, 0}, nil, false)
	must(t, err)
	q, err = nodes.QReshape(q, convBS, 72)
	must(t, err)
	q, err = nodes.QLinear(q, weightQWith(t, transposed(m.w3), perChannel), nil, s3, z3)
	must(t, err)
	f, err := nodes.Dequantize(q)
	must(t, err)
	return g, x, gorgonia.Must(gorgonia.SoftMax(f))
}

func testConvnet(t *testing.T, withBN, perChannel bool) {
	w := newConvWeights(11)
	data := newClusters(21, 10, 144)
	fitHead(t, data, newConvnet(w, convBS, withBN), 60)
	m := newConvnet(w, convBS, withBN)
	var calib, test []*tensor.Dense
	for i := 0; i < 35; i++ {
		x, _ := images(data, convBS)
		if i < 10 {
			calib = append(calib, x)
		} else {
			test = append(test, x)
		}
	}
	qc := eager.DefaultQConfig()
	if perChannel {
		qc = eager.DefaultPerChannelQConfig()
	}
	r, err := QuantizeGraph(m.g, gorgonia.Nodes{m.out}, qc, calibrateWith(m.x, calib))
	must(t, err)
	rep := r.Report
	wantOps := []string{"QConv2dReLU", "QMaxPool2d", "QConv2dReLU", "QMaxPool2d", "QReshape", "QLinear"}
	if len(rep.Quantized) != len(wantOps) || len(rep.Float) != 1 || rep.Quantizes != 1 || rep.Dequantizes != 1 {
		t.Fatalf("report:\n%s", r.Describe())
	}
	for i, op := range wantOps {
		if rep.Quantized[i].Op != op {
			t.Fatalf("pattern %d is %s, want %s:\n%s", i, rep.Quantized[i].Op, op, r.Describe())
		}
	}
	if withBN && rep.Quantized[2].Kind != "conv2d+batchnorm(folded)+relu" {
		t.Fatalf("batch norm not folded:\n%s", r.Describe())
	}
	if rep.Float[0].Op != "Softmax{-1, false}()" {
		t.Fatalf("float op %q, want the softmax:\n%s", rep.Float[0].Op, r.Describe())
	}
	rg, rx, rout := m.reference(t, calib, perChannel)
	vm := gorgonia.NewTapeMachine(rg)
	defer vm.Close()
	agree, total := 0, 0
	for i, d := range append(batches(13, 3, convBS, 1, 12, 12), test...) {
		got := runResult(t, r, m.x, d)[0]
		must(t, gorgonia.Let(rx, d))
		must(t, vm.RunAll())
		sameBits(t, "convnet output", got, rout.Value().(*tensor.Dense))
		vm.Reset()
		if i < 3 { // random inputs: bit-exact check only
			continue
		}
		fl := runFloat(t, m.g, m.x, d, m.out)[0]
		for j, c := range argmaxRows(fl) {
			total++
			if argmaxRows(got)[j] == c {
				agree++
			}
		}
	}
	if float64(agree) < 0.99*float64(total) {
		t.Errorf("top-1 agreement with the float graph %d/%d < 99%%", agree, total)
	}
	t.Logf("top-1 agreement with the float graph %d/%d\n%s", agree, total, r.Describe())
}

func TestQuantizeGraphConvnet(t *testing.T)              { testConvnet(t, false, false) }
func TestQuantizeGraphConvBNReLU(t *testing.T)           { testConvnet(t, true, false) }
func TestQuantizeGraphConvBNReLUPerChannel(t *testing.T) { testConvnet(t, true, true) }
