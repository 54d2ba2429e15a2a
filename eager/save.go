package eager

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"io"
	"sync"

	"github.com/qgorgonia/qgorgonia/fake"
	"github.com/qgorgonia/qgorgonia/nn"
	"github.com/qgorgonia/qgorgonia/nodes"
	"github.com/qgorgonia/qgorgonia/observer"
	"gorgonia.org/tensor"
)

// Codec saves and loads a user module type for Save and Load: Encode fills
// a Record (children are encoded by Save from the module's Base children
// and passed decoded to Decode, in order); Decode rebuilds the module.
type Codec struct {
	Encode func(m nn.Module, r *Record) error
	Decode func(r *Record, children []nn.Child) (nn.Module, error)
}

var (
	codecMu sync.RWMutex
	codecs  = map[string]Codec{}
)

// RegisterCodec makes Save and Load handle modules whose TypeName is
// typeName and which the built-in codecs do not know. Their records carry
// the key "user.<typeName>".
func RegisterCodec(typeName string, c Codec) {
	codecMu.Lock()
	defer codecMu.Unlock()
	codecs[typeName] = c
}

// Flags of the file header.
const flagConverted = 1

// Save writes model to w in qgorgonia's versioned binary format (magic
// "QGEAGER\x00", version 1; the layout is documented in record.go): the
// module tree with type names and configuration, float parameters and
// buffers, packed int8 weights with their qparams (as int8 values; loading
// repacks them), qconfigs (as fresh observer or fake-quantizer templates,
// observer.Marshal) and the state of activation observers and weight fake
// quantizers. Float, prepared (PTQ or QAT) and converted models round-trip;
// a converted model needs no float weights. Hooks other than the
// observers Prepare installs are functions and are not saved. Errors: a
// module type with no codec (RegisterCodec), a qconfig whose factories
// make an unsupported post-process.
func Save(w io.Writer, model nn.Module) error {
	if model == nil {
		return fmt.Errorf("eager: save: model is nil")
	}
	rec, err := encodeModule(model, "")
	if err != nil {
		return fmt.Errorf("eager: save: %w", err)
	}
	wr := &writer{b: append([]byte(nil), saveMagic...)}
	wr.uv(saveVersion)
	var flags uint64
	if isConverted(model) {
		flags |= flagConverted
	}
	wr.uv(flags)
	if err := wr.record(rec); err != nil {
		return fmt.Errorf("eager: save: %w", err)
	}
	_, err = w.Write(wr.b)
	return err
}

// Load reads a model written by Save. Loading validates every length
// against the input before allocating and every tensor against the module
// it belongs to: truncated, corrupted or hostile input is an error, never a
// panic or an allocation much larger than the input. Prepared models get
// their observer hooks back; converted models their float-input guards.
func Load(r io.Reader) (nn.Module, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("eager: load: %w", err)
	}
	return LoadBytes(data)
}

// LoadBytes is Load on an in-memory encoding.
func LoadBytes(data []byte) (m nn.Module, err error) {
	if !bytes.HasPrefix(data, []byte(saveMagic)) {
		return nil, fmt.Errorf("eager: load: not a qgorgonia model (bad magic)")
	}
	rd := &reader{b: data[len(saveMagic):]}
	if v := rd.uv(); rd.err == nil && v != saveVersion {
		return nil, fmt.Errorf("eager: load: format version %d, this build reads %d", v, saveVersion)
	}
	flags := rd.uv()
	rec := rd.record()
	if rd.err != nil {
		return nil, fmt.Errorf("eager: load: %w", rd.err)
	}
	if len(rd.b) != 0 {
		return nil, fmt.Errorf("eager: load: %d trailing bytes", len(rd.b))
	}
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("eager: load: corrupted model: %v", p)
		}
	}()
	var modes []trainMode
	m, err = decodeModule(rec, "", &modes)
	if err != nil {
		return nil, fmt.Errorf("eager: load: %w", err)
	}
	// nn's Train is recursive: apply the saved flags in pre-order so that
	// every module ends with its own.
	for _, tm := range modes {
		tm.m.ModuleBase().Train(tm.on)
	}
	if flags&flagConverted != 0 {
		guardFloat(m)
	}
	return m, nil
}

// isConverted reports whether m holds statically quantized modules (whose
// float neighbours Convert guards).
func isConverted(m nn.Module) bool {
	for _, nm := range nn.NamedModules(m) {
		switch nm.Module.(type) {
		case *nodes.QuantizeModule, *nodes.DequantizeModule, *nodes.QuantizedLinear, *nodes.QuantizedConv,
			*nodes.QuantizedActivation, *nodes.QuantizedNorm, *nodes.QFunctional, *nodes.Passthrough:
			return true
		}
	}
	return false
}

// --- post-processes and qconfigs ---

func encodePP(r *Record, prefix string, p *PostProcess) error {
	if p.Observer != nil {
		b, err := observer.Marshal(p.Observer)
		if err != nil {
			return err
		}
		r.Blobs[prefix+".observer"] = b
		return nil
	}
	var kind string
	switch p.FakeQuant.(type) {
	case *fake.FakeQuantizer:
		kind = "FakeQuantize"
	case *fake.FusedMovingAvgObsFakeQuantize:
		kind = "FusedMovingAvgObsFakeQuantize"
	default:
		return fmt.Errorf("fake quantizer %T cannot be saved", p.FakeQuant)
	}
	b, err := observer.Marshal(p.FakeQuant.Observer())
	if err != nil {
		return err
	}
	r.Strings[prefix+".fake_quant"] = kind
	r.Blobs[prefix+".observer"] = b
	r.SetBool(prefix+".observer_enabled", p.FakeQuant.ObserverEnabled())
	r.SetBool(prefix+".fake_quant_enabled", p.FakeQuant.FakeQuantEnabled())
	return nil
}

func decodePP(r *Record, prefix string) (*PostProcess, bool, error) {
	blob, ok := r.Blobs[prefix+".observer"]
	if !ok {
		return nil, false, nil
	}
	o, err := unmarshalObserver(blob)
	if err != nil {
		return nil, true, fmt.Errorf("%s: %s: %w", r.Type, prefix, err)
	}
	kind, isFake := r.Strings[prefix+".fake_quant"]
	if !isFake {
		return &PostProcess{Observer: o}, true, nil
	}
	src := func() (observer.Observer, error) { return o, nil }
	var q fake.Quantizer
	switch kind {
	case "FakeQuantize":
		q, err = fake.NewFakeQuantizer(src)
	case "FusedMovingAvgObsFakeQuantize":
		q, err = fake.NewFusedMovingAvgObsFakeQuantize(src)
	default:
		err = fmt.Errorf("unknown fake quantizer %q", kind)
	}
	if err != nil {
		return nil, true, fmt.Errorf("%s: %s: %w", r.Type, prefix, err)
	}
	oe, err1 := r.Bool(prefix + ".observer_enabled")
	fe, err2 := r.Bool(prefix + ".fake_quant_enabled")
	if err1 != nil || err2 != nil {
		return nil, true, fmt.Errorf("%s: %s: missing flags", r.Type, prefix)
	}
	q.EnableObserver(oe)
	q.EnableFakeQuant(fe)
	return &PostProcess{FakeQuant: q}, true, nil
}

// templateFactory turns a saved fresh post-process into a factory that
// decodes it again on every call.
func templateFactory(r *Record, prefix string) (Factory, error) {
	if _, ok := r.Blobs[prefix+".observer"]; !ok {
		return Factory{}, nil
	}
	if _, _, err := decodePP(r, prefix); err != nil {
		return Factory{}, err
	}
	if _, isFake := r.Strings[prefix+".fake_quant"]; isFake {
		return FakeQuantFactory(func() (fake.Quantizer, error) {
			p, _, err := decodePP(r, prefix)
			if err != nil {
				return nil, err
			}
			return p.FakeQuant, nil
		}), nil
	}
	return ObserverFactory(func() (observer.Observer, error) {
		p, _, err := decodePP(r, prefix)
		if err != nil {
			return nil, err
		}
		return p.Observer, nil
	}), nil
}

func encodeFactory(r *Record, prefix string, f Factory) error {
	if f.IsZero() {
		return nil
	}
	p, err := f.New()
	if err != nil {
		return err
	}
	return encodePP(r, prefix, p)
}

func encodeQConfig(r *Record, m nn.Module) error {
	b := m.ModuleBase()
	switch q := b.QConfig.(type) {
	case nil:
		return nil
	case *QConfig:
		if q == nil {
			r.SetBool("qconfig.none", true)
			return nil
		}
	case QConfig, *Observed:
	default:
		return fmt.Errorf("QConfig of type %T cannot be saved", b.QConfig)
	}
	qc := QConfigOf(m)
	r.SetBool("qconfig.set", true)
	if err := encodeFactory(r, "qconfig.activation", qc.Activation); err != nil {
		return fmt.Errorf("qconfig activation: %w", err)
	}
	if err := encodeFactory(r, "qconfig.weight", qc.Weight); err != nil {
		return fmt.Errorf("qconfig weight: %w", err)
	}
	if o, ok := b.QConfig.(*Observed); ok {
		if err := encodePP(r, "activation_post_process", o.ActivationPostProcess); err != nil {
			return fmt.Errorf("activation post-process: %w", err)
		}
	}
	return nil
}

func decodeQConfig(r *Record, m nn.Module, path string) error {
	b := m.ModuleBase()
	if none, _ := r.Bool("qconfig.none"); none {
		b.QConfig = NoQConfig
		return nil
	}
	if set, _ := r.Bool("qconfig.set"); !set {
		return nil
	}
	var qc QConfig
	var err error
	if qc.Activation, err = templateFactory(r, "qconfig.activation"); err != nil {
		return err
	}
	if qc.Weight, err = templateFactory(r, "qconfig.weight"); err != nil {
		return err
	}
	b.QConfig = &qc
	pp, ok, err := decodePP(r, "activation_post_process")
	if err != nil {
		return err
	}
	if ok {
		if err := attachRestored(m, path, &qc, pp); err != nil {
			return err
		}
	}
	return nil
}

// attachRestored installs a saved activation post-process as attach does.
func attachRestored(m nn.Module, path string, qc *QConfig, pp *PostProcess) error {
	m.ModuleBase().QConfig = qc
	return attach(m, path, pp)
}

// --- modules ---

func paramsToRecord(r *Record, m nn.Module) {
	for _, p := range append(m.NamedParameters(), m.NamedBuffers()...) {
		if p.Param != nil && p.Param.Data != nil {
			r.Tensors[p.Name] = p.Param.Data
		}
	}
}

// paramsFromRecord copies the record's tensors into m's own parameters and
// buffers; each must be present with the same shape and dtype.
func paramsFromRecord(r *Record, m nn.Module) error {
	for _, p := range append(m.NamedParameters(), m.NamedBuffers()...) {
		if p.Param == nil || p.Param.Data == nil {
			continue
		}
		src, ok := r.Tensors[p.Name]
		if !ok {
			return fmt.Errorf("%s: tensor %q missing", r.Type, p.Name)
		}
		dst := p.Param.Data
		if !src.Shape().Eq(dst.Shape()) || src.Dtype() != dst.Dtype() {
			return fmt.Errorf("%s: tensor %q is %v %v, want %v %v", r.Type, p.Name, src.Dtype(), src.Shape(), dst.Dtype(), dst.Shape())
		}
		if err := tensor.Copy(dst, src); err != nil {
			return fmt.Errorf("%s: tensor %q: %w", r.Type, p.Name, err)
		}
	}
	return nil
}

// tensorShape returns the shape of the record's tensor name, or an error.
func tensorShape(r *Record, name string) ([]int, error) {
	t, ok := r.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s: tensor %q missing", r.Type, name)
	}
	if t.IsScalar() {
		return nil, nil
	}
	return []int(t.Shape().Clone()), nil
}

func encodeModule(m nn.Module, path string) (*Record, error) {
	r, err := encodeOwn(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", describe(path, m), err)
	}
	r.SetBool("training", m.ModuleBase().Training())
	if err := encodeQConfig(r, m); err != nil {
		return nil, fmt.Errorf("%s: %w", describe(path, m), err)
	}
	for _, c := range m.ModuleBase().Children() {
		cr, err := encodeModule(c.Module, join(path, c.Name))
		if err != nil {
			return nil, err
		}
		r.Children = append(r.Children, NamedRecord{Name: c.Name, Record: cr})
	}
	return r, nil
}

// trainMode is a decoded module's saved training flag.
type trainMode struct {
	m  nn.Module
	on bool
}

func decodeModule(r *Record, path string, modes *[]trainMode) (nn.Module, error) {
	slot := len(*modes)
	*modes = append(*modes, trainMode{})
	var children []nn.Child
	for _, c := range r.Children {
		cm, err := decodeModule(c.Record, join(path, c.Name), modes)
		if err != nil {
			return nil, err
		}
		children = append(children, nn.Child{Name: c.Name, Module: cm})
	}
	m, err := decodeOwn(r, children)
	if err != nil {
		return nil, fmt.Errorf("module %q: %w", path, err)
	}
	tr, err := r.Bool("training")
	if err != nil {
		return nil, fmt.Errorf("module %q: %w", path, err)
	}
	(*modes)[slot] = trainMode{m: m, on: tr}
	if err := decodeQConfig(r, m, path); err != nil {
		return nil, fmt.Errorf("module %q: %w", path, err)
	}
	return m, nil
}

// addChildren attaches decoded children to a container.
func addChildren(m nn.Module, children []nn.Child) (nn.Module, error) {
	for _, c := range children {
		if err := m.ModuleBase().AddModule(c.Name, c.Module); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func childModules(children []nn.Child) []nn.Module {
	out := make([]nn.Module, len(children))
	for i, c := range children {
		out[i] = c.Module
	}
	return out
}

// unmarshalObserver is observer.Unmarshal with the sizes a corrupted state
// could inflate (histogram bins and upsample rate) bounded before the
// observer allocates them.
func unmarshalObserver(b []byte) (observer.Observer, error) {
	var s observer.State
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&s); err != nil {
		return nil, fmt.Errorf("observer state: %w", err)
	}
	if s.Bins < 0 || s.Bins > 1<<16 || s.UpsampleRate < 0 || s.UpsampleRate > 1<<12 || s.Bins*s.UpsampleRate > 1<<22 {
		return nil, fmt.Errorf("observer state: bins %d, upsample rate %d out of range", s.Bins, s.UpsampleRate)
	}
	if s.ChAxis < -maxRank || s.ChAxis > maxRank || s.Axis < -maxRank || s.Axis > maxRank {
		return nil, fmt.Errorf("observer state: channel axis %d / %d out of range", s.ChAxis, s.Axis)
	}
	return observer.FromState(s)
}
