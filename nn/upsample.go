package nn

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
)

// Upsample is torch.nn.Upsample for modes "nearest", "linear" (3-d input),
// "bilinear" (4-d) and "trilinear" (5-d). Give Size (output spatial size,
// one value or one per axis) or ScaleFactor (output = floor(in·scale));
// source indices follow PyTorch 1.13's kernels: nearest reads
// min(floor(o·s), in−1) with s = 1/scale_factor (or in/out), linear modes
// interpolate at max(s·(o+0.5)−0.5, 0) (or s·o with AlignCorners,
// s = (in−1)/(out−1)), innermost axis first.
type Upsample struct {
	Base
	Stateless
	Size         []int
	ScaleFactor  []float64
	Mode         string
	AlignCorners bool
}

// NewUpsample returns an Upsample; exactly one of size and scale must be
// non-empty.
func NewUpsample(size []int, scale []float64, mode string, alignCorners bool) (*Upsample, error) {
	m := &Upsample{Size: size, ScaleFactor: scale, Mode: mode, AlignCorners: alignCorners}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Upsample) check() error {
	if (len(m.Size) == 0) == (len(m.ScaleFactor) == 0) {
		return fmt.Errorf("nn: upsample: give either size %v or scale_factor %v", m.Size, m.ScaleFactor)
	}
	switch m.Mode {
	case "nearest":
		if m.AlignCorners {
			return fmt.Errorf("nn: upsample: align_corners only applies to linear modes, not %q", m.Mode)
		}
	case "linear", "bilinear", "trilinear":
	default:
		return fmt.Errorf("nn: upsample: unsupported mode %q (nearest, linear, bilinear, trilinear)", m.Mode)
	}
	return nil
}

// TypeName returns "Upsample".
func (m *Upsample) TypeName() string { return "Upsample" }

// Clone returns a copy.
func (m *Upsample) Clone() Module {
	c := *m
	c.Base = m.cloneBase()
	c.Size = append([]int(nil), m.Size...)
	c.ScaleFactor = append([]float64(nil), m.ScaleFactor...)
	return &c
}

// Forward resizes the spatial axes of x (N, C, spatial…).
func (m *Upsample) Forward(x *gorgonia.Node) (*gorgonia.Node, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	if err := checkF32Node("upsample", x, -1); err != nil {
		return nil, err
	}
	s := x.Shape()
	nd := s.Dims() - 2
	want := map[string]int{"linear": 1, "bilinear": 2, "trilinear": 3}[m.Mode]
	if nd < 1 || nd > 3 || (want != 0 && nd != want) {
		return nil, fmt.Errorf("nn: upsample: input shape %v does not suit mode %q", s, m.Mode)
	}
	out := make([]int, nd)
	scales := make([]float64, nd)
	for i := 0; i < nd; i++ {
		in := s[2+i]
		if len(m.Size) > 0 {
			sz, err := expand("upsample", "size", m.Size, nd, 0)
			if err != nil {
				return nil, err
			}
			out[i] = sz[i]
		} else {
			if len(m.ScaleFactor) != 1 && len(m.ScaleFactor) != nd {
				return nil, fmt.Errorf("nn: upsample: scale_factor has %d values, want 1 or %d", len(m.ScaleFactor), nd)
			}
			sf := m.ScaleFactor[0]
			if len(m.ScaleFactor) == nd {
				sf = m.ScaleFactor[i]
			}
			if !(sf > 0) {
				return nil, fmt.Errorf("nn: upsample: scale_factor %v must be positive", sf)
			}
			scales[i] = sf
			out[i] = int(math.Floor(float64(in) * sf))
		}
		if out[i] <= 0 {
			return nil, fmt.Errorf("nn: upsample: output size %v is not positive for input %v", out, s)
		}
	}
	y := x
	var err error
	for i := nd - 1; i >= 0; i-- {
		var am *axisMap
		if m.Mode == "nearest" {
			am = nearestMap(2+i, s[2+i], out[i], scales[i])
		} else {
			am = linearMap(2+i, s[2+i], out[i], scales[i], m.AlignCorners)
		}
		if y, err = applyAxisMap(y, am); err != nil {
			return nil, err
		}
	}
	return y, nil
}

// pixelScale is PyTorch's compute_scales_value / area_pixel_compute_scale
// in float32: 1/scale_factor when given, else in/out.
func pixelScale(in, out int, scale float64) float32 {
	if scale > 0 {
		return float32(1 / scale)
	}
	return float32(in) / float32(out)
}

func nearestMap(axis, in, out int, scale float64) *axisMap {
	m := &axisMap{axis: axis, in: in, taps: make([][]tap, out), label: "upsample_nearest"}
	s := pixelScale(in, out, scale)
	for o := 0; o < out; o++ {
		var i int
		switch {
		case out == in:
			i = o
		case out == 2*in:
			i = o >> 1
		default:
			i = min(int(float32(math.Floor(float64(float32(o)*s)))), in-1)
		}
		m.taps[o] = []tap{{i, 1}}
	}
	return m
}

func linearMap(axis, in, out int, scale float64, alignCorners bool) *axisMap {
	m := &axisMap{axis: axis, in: in, taps: make([][]tap, out), label: "upsample_linear"}
	var s float32
	if alignCorners {
		if out > 1 {
			s = float32(in-1) / float32(out-1)
		}
	} else {
		s = pixelScale(in, out, scale)
	}
	for o := 0; o < out; o++ {
		var src float32
		if alignCorners {
			src = s * float32(o)
		} else {
			src = float32(float64(s)*(float64(o)+0.5) - 0.5)
			if src < 0 {
				src = 0
			}
		}
		i0 := int(src)
		i1 := i0
		if i0 < in-1 {
			i1 = i0 + 1
		}
		l1 := src - float32(i0)
		l0 := 1 - l1
		m.taps[o] = []tap{{i0, l0}, {i1, l1}}
	}
	return m
}
