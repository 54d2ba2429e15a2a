package fake

import (
	"testing"

	"github.com/qgorgonia/qgorgonia/observer"
	"gorgonia.org/tensor"
)

// TestFakeQuantizeNegativeChAxis: PyTorch 1.13's FakeQuantize hands its
// ch_axis unchanged to fake_quantize_per_channel_affine, which rejects a
// negative axis ("`axis` must be between 0 and number of dimensions of
// input"), although the observer accepts it. The same axis given as 2 works.
func TestFakeQuantizeNegativeChAxis(t *testing.T) {
	x := tensor.New(tensor.WithShape(2, 3, 4), tensor.WithBacking(make([]float32, 24)))
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(i%7) - 3
	}
	for _, c := range []struct {
		axis    int
		wantErr bool
	}{{-1, true}, {2, false}} {
		f, err := NewFakeQuantizer(observer.WithArgs(observer.NewPerChannelMinMaxObserver,
			observer.WithChAxis(c.axis), observer.WithQuantRange(0, 255)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Forward(x)
		if (err != nil) != c.wantErr {
			t.Errorf("ch_axis %d: error %v, want error %v", c.axis, err, c.wantErr)
		}
	}
}
