package fake

import (
	"fmt"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"

	"gorgonia.org/tensor"
)

func TestDefaultFactories(t *testing.T) {
	for name, tc := range map[string]struct {
		f          Factory
		qmin, qmax int64
	}{
		"fake_quant":               {DefaultFakeQuant, 0, 127},
		"weight":                   {DefaultWeightFakeQuant, -128, 127},
		"per_channel_weight":       {DefaultPerChannelWeightFakeQuant, -128, 127},
		"dynamic":                  {DefaultDynamicFakeQuant, 0, 255},
		"histogram":                {DefaultHistogramFakeQuant, 0, 127},
		"fixed_neg1to1":            {DefaultFixedQParamsRangeNeg1To1FakeQuant, 0, 255},
		"fixed_0to1":               {DefaultFixedQParamsRange0To1FakeQuant, 0, 255},
		"fused_act":                {DefaultFusedActFakeQuant, 0, 255},
		"fused_wt":                 {DefaultFusedWtFakeQuant, -128, 127},
		"fused_per_channel_wt":     {DefaultFusedPerChannelWtFakeQuant, -128, 127},
		"fused_wt_127":             {FusedWtFakeQuantRangeNeg127To127, -127, 127},
		"fused_per_channel_wt_127": {FusedPerChannelWtFakeQuantRangeNeg127To127, -127, 127},
	} {
		q, err := tc.f()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if lo, hi := q.QuantRange(); lo != tc.qmin || hi != tc.qmax {
			t.Errorf("%s: range %d..%d, want %d..%d", name, lo, hi, tc.qmin, tc.qmax)
		}
		w := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{-1, 0.5, 0.25, 2, -0.75, 0}))
		if _, err := q.Forward(w); err != nil {
			t.Errorf("%s: forward: %v", name, err)
		}
	}
	// PyTorch 1.13: default_embedding_fake_quant()([[-1,2,0],[0.5,4,1]]) =
	// [[-1 2 0] [0.49999997 4 0.9941176]], scales [0.011764706 0.013725490],
	// zero points [85 -36.42857] (the last value needs the float64 product;
	// float32 arithmetic gives 0.9941177).
	emb, err := DefaultEmbeddingFakeQuant()
	if err != nil {
		t.Fatal(err)
	}
	ey, err := emb.Forward(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{-1, 2, 0, 0.5, 4, 1})))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(ey.Float32s()); got != "[-1 2 0 0.49999997 4 0.9941176]" {
		t.Errorf("embedding fake quant %s", got)
	}
	if qp := emb.QParams(); qp.Scheme != qdtype.PerChannelAffineFloatQParams || len(qp.FloatZeroPoints) != 2 || qp.FloatZeroPoints[0] != 85 {
		t.Errorf("embedding qparams %v", qp)
	}
	q, _ := DefaultFixedQParamsRangeNeg1To1FakeQuant()
	if qp := q.QParams(); qp.Scale() != 2.0/256 || qp.ZeroPoint() != 128 {
		t.Errorf("fixed qparams moved: %v", qp)
	}
	fq, _ := NewFakeQuantizer(nil)
	fq.DisableObserver()
	fq.DisableFakeQuant()
	if fq.ObserverEnabled() || fq.FakeQuantEnabled() {
		t.Error("disable methods did nothing")
	}
}
