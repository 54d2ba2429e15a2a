package observer

import (
	"bytes"
	"encoding/gob"
	"fmt"

	"github.com/qgorgonia/qgorgonia/qdtype"
	"gorgonia.org/tensor"
)

// Observer kinds, PyTorch's class names, as stored in State.Kind.
const (
	KindMinMax                        = "MinMaxObserver"
	KindMovingAverageMinMax           = "MovingAverageMinMaxObserver"
	KindPerChannelMinMax              = "PerChannelMinMaxObserver"
	KindMovingAveragePerChannelMinMax = "MovingAveragePerChannelMinMaxObserver"
	KindHistogram                     = "HistogramObserver"
	KindFixedQParams                  = "FixedQParamsObserver"
	KindPlaceholder                   = "PlaceholderObserver"
	KindNoop                          = "NoopObserver"
	KindRecording                     = "RecordingObserver"
)

// State is an observer's configuration and statistics, the counterpart of
// PyTorch's observer state_dict plus constructor arguments. FromState
// rebuilds the observer; Marshal and Unmarshal encode it (gob, which keeps
// ±Inf). Fields a kind does not use are zero.
type State struct {
	Kind              string
	Dtype             string // PyTorch name: "quint8", "qint8", "qint32", "float32", "float16"
	QScheme           string // PyTorch name, e.g. "per_tensor_affine"
	ReduceRange       bool
	CustomRange       bool
	QuantMin          int64 // the custom range as given (before reduce_range)
	QuantMax          int64
	Eps               float32
	AveragingConstant float32
	ChAxis            int // per-channel: as given
	Axis              int // per-channel: normalized axis of the last batch
	Bins              int
	UpsampleRate      int
	MinVal            []float32
	MaxVal            []float32
	Histogram         []float32
	Scale             float64 // FixedQParamsObserver
	ZeroPoint         int64
	ComputeDtype      string
	CustomOpName      string
	RecordedShapes    [][]int
	Recorded          [][]float32
}

func dtypeName(dt tensor.Dtype) string {
	if dt == Float16 {
		return "float16"
	}
	return qdtype.Name(dt)
}

func parseDtype(name string) (tensor.Dtype, error) {
	switch name {
	case "float32":
		return tensor.Float32, nil
	case "float16":
		return Float16, nil
	case "float64":
		return tensor.Float64, nil
	}
	return qdtype.ParseDtype(name)
}

// FromState builds an observer of s.Kind with s's configuration and
// statistics. It returns an error for an unknown kind, invalid
// configuration, or statistics that do not fit it.
func FromState(s State) (Observer, error) { return fromState(s, "") }

func fromState(s State, want string) (Observer, error) {
	if want != "" && s.Kind != want {
		return nil, fmt.Errorf("observer: %s: cannot restore a %q state", want, s.Kind)
	}
	dt, err := parseDtype(s.Dtype)
	if err != nil {
		return nil, fmt.Errorf("observer: state: %w", err)
	}
	var opts []Option
	uniformOpts := func() error {
		sch, err := qdtype.ParseQScheme(s.QScheme)
		if err != nil {
			return fmt.Errorf("observer: state: %w", err)
		}
		opts = append(opts, WithDtype(dt), WithQScheme(sch), WithReduceRange(s.ReduceRange), WithEps(s.Eps))
		if s.CustomRange {
			opts = append(opts, WithQuantRange(s.QuantMin, s.QuantMax))
		}
		return nil
	}
	switch s.Kind {
	case KindMinMax, KindMovingAverageMinMax:
		if err := uniformOpts(); err != nil {
			return nil, err
		}
		if s.Kind == KindMinMax {
			o, err := NewMinMaxObserver(opts...)
			if err != nil {
				return nil, err
			}
			return o, o.setRange(s.Kind, s.MinVal, s.MaxVal)
		}
		o, err := NewMovingAverageMinMaxObserver(append(opts, WithAveragingConstant(s.AveragingConstant))...)
		if err != nil {
			return nil, err
		}
		return o, o.setRange(s.Kind, s.MinVal, s.MaxVal)
	case KindPerChannelMinMax, KindMovingAveragePerChannelMinMax:
		if err := uniformOpts(); err != nil {
			return nil, err
		}
		opts = append(opts, WithChAxis(s.ChAxis))
		if s.Kind == KindPerChannelMinMax {
			o, err := NewPerChannelMinMaxObserver(opts...)
			if err != nil {
				return nil, err
			}
			return o, o.setRange(s.Kind, s.Axis, s.MinVal, s.MaxVal)
		}
		o, err := NewMovingAveragePerChannelMinMaxObserver(append(opts, WithAveragingConstant(s.AveragingConstant))...)
		if err != nil {
			return nil, err
		}
		return o, o.setRange(s.Kind, s.Axis, s.MinVal, s.MaxVal)
	case KindHistogram:
		if err := uniformOpts(); err != nil {
			return nil, err
		}
		o, err := NewHistogramObserver(append(opts, WithBins(s.Bins), WithUpsampleRate(s.UpsampleRate))...)
		if err != nil {
			return nil, err
		}
		if len(s.MinVal) != 1 || len(s.MaxVal) != 1 || len(s.Histogram) != s.Bins {
			return nil, fmt.Errorf("observer: %s: state has %d/%d range values and %d histogram bins, want 1/1 and %d", s.Kind, len(s.MinVal), len(s.MaxVal), len(s.Histogram), s.Bins)
		}
		if isNaN32(s.MinVal[0]) || isNaN32(s.MaxVal[0]) {
			return nil, fmt.Errorf("observer: %s: state range is NaN", s.Kind)
		}
		o.minVal, o.maxVal = s.MinVal[0], s.MaxVal[0]
		o.histogram = cloneF32(s.Histogram)
		return o, nil
	case KindFixedQParams:
		sch, err := qdtype.ParseQScheme(s.QScheme)
		if err != nil {
			return nil, fmt.Errorf("observer: state: %w", err)
		}
		return NewFixedQParamsObserver(WithDtype(dt), WithQScheme(sch), WithQuantRange(s.QuantMin, s.QuantMax), WithFixedQParams(s.Scale, s.ZeroPoint))
	case KindPlaceholder:
		opts = []Option{WithDtype(dt), WithCustomOpName(s.CustomOpName)}
		if s.ComputeDtype != "" {
			cdt, err := parseDtype(s.ComputeDtype)
			if err != nil {
				return nil, fmt.Errorf("observer: state: %w", err)
			}
			opts = append(opts, WithComputeDtype(cdt))
		}
		return NewPlaceholderObserver(opts...)
	case KindNoop:
		return NewNoopObserver(WithDtype(dt), WithCustomOpName(s.CustomOpName))
	case KindRecording:
		o, err := NewRecordingObserver(WithDtype(dt))
		if err != nil {
			return nil, err
		}
		if len(s.RecordedShapes) != len(s.Recorded) {
			return nil, fmt.Errorf("observer: %s: state has %d shapes for %d tensors", s.Kind, len(s.RecordedShapes), len(s.Recorded))
		}
		for i, data := range s.Recorded {
			shape := s.RecordedShapes[i]
			n := 1
			for _, d := range shape {
				if d < 0 {
					return nil, fmt.Errorf("observer: %s: state shape %v is negative", s.Kind, shape)
				}
				n *= d
			}
			if n != len(data) {
				return nil, fmt.Errorf("observer: %s: state tensor %d has %d values for shape %v", s.Kind, i, len(data), shape)
			}
			var d *tensor.Dense
			if len(shape) == 0 {
				d = tensor.New(tensor.FromScalar(data[0]))
			} else {
				d = tensor.New(tensor.WithShape(append([]int(nil), shape...)...), tensor.WithBacking(cloneF32(data)))
			}
			o.values = append(o.values, d)
		}
		return o, nil
	}
	return nil, fmt.Errorf("observer: state: unknown observer kind %q", s.Kind)
}

// Marshal encodes an observer's State (configuration and statistics).
func Marshal(o Observer) ([]byte, error) {
	if o == nil {
		return nil, fmt.Errorf("observer: marshal: nil observer")
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(o.State()); err != nil {
		return nil, fmt.Errorf("observer: marshal: %w", err)
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes bytes written by Marshal into a new observer.
func Unmarshal(b []byte) (Observer, error) {
	var s State
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&s); err != nil {
		return nil, fmt.Errorf("observer: unmarshal: %w", err)
	}
	return FromState(s)
}
