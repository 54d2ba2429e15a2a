package nn

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gorgonia.org/tensor"
)

// State dicts travel between PyTorch and Go as NumPy .npz archives, one
// .npy array per key:
//
//	np.savez("model.npz", **{k: v.numpy() for k, v in model.state_dict().items()})
//
// ReadNpz / LoadNpzFile read such a file (stored or deflated, .npy format
// 1.0 to 3.0, C order, little-endian float32, float64, int64 or int32),
// WriteNpz / SaveNpzFile write one NumPy's np.load reads back.

var (
	npyDescr   = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	npyFortran = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	npyShape   = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// ReadNpz reads every array of an .npz archive into a state dict keyed by
// the array names (the ".npy" suffix removed).
func ReadNpz(r io.ReaderAt, size int64) (map[string]*tensor.Dense, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("nn: read npz: %w", err)
	}
	sd := map[string]*tensor.Dense{}
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("nn: read npz: %s: %w", f.Name, err)
		}
		d, err := readNpy(rc, int64(f.UncompressedSize64))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("nn: read npz: %s: %w", f.Name, err)
		}
		sd[name] = d
	}
	return sd, nil
}

// LoadNpzFile reads an .npz file with ReadNpz.
func LoadNpzFile(path string) (map[string]*tensor.Dense, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nn: read npz: %w", err)
	}
	return ReadNpz(bytes.NewReader(b), int64(len(b)))
}

// readNpy parses one .npy array of size bytes; the data must fill exactly
// the rest of it (so a corrupt header cannot make it allocate more than
// the archive declares).
func readNpy(r io.Reader, size int64) (*tensor.Dense, error) {
	var magic [8]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, err
	}
	if string(magic[:6]) != "\x93NUMPY" {
		return nil, fmt.Errorf("not a .npy array (magic %q)", magic[:6])
	}
	var hlen int
	switch magic[6] {
	case 1:
		var n uint16
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
			return nil, err
		}
		hlen = int(n)
	case 2, 3:
		var n uint32
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
			return nil, err
		}
		hlen = int(n)
	default:
		return nil, fmt.Errorf(".npy format version %d.%d not supported", magic[6], magic[7])
	}
	if hlen > 1<<20 {
		return nil, fmt.Errorf(".npy header of %d bytes is implausible", hlen)
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, err
	}
	m := npyDescr.FindSubmatch(header)
	if m == nil {
		return nil, fmt.Errorf("no dtype in .npy header %q", header)
	}
	descr := string(m[1])
	if m := npyFortran.FindSubmatch(header); m == nil || string(m[1]) != "False" {
		return nil, fmt.Errorf("only C-order arrays are supported (header %q)", header)
	}
	m = npyShape.FindSubmatch(header)
	if m == nil {
		return nil, fmt.Errorf("no shape in .npy header %q", header)
	}
	var shape []int
	n := 1
	for _, p := range strings.Split(string(m[1]), ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("bad shape %q", m[1])
		}
		if v > 0 && n > math.MaxInt32/v {
			return nil, fmt.Errorf("shape %q too large", m[1])
		}
		shape = append(shape, v)
		n *= v
	}
	item := map[string]int64{"<f4": 4, "<f8": 8, "<i8": 8, "<i4": 4}[descr]
	if item == 0 {
		return nil, fmt.Errorf("dtype %q not supported (float32, float64, int64, int32)", descr)
	}
	prefix := int64(8 + 2 + hlen)
	if magic[6] != 1 {
		prefix += 2
	}
	if int64(n)*item != size-prefix {
		return nil, fmt.Errorf("shape %v of %s needs %d data bytes, the entry has %d", shape, descr, int64(n)*item, size-prefix)
	}
	mk := func(backing any) *tensor.Dense {
		if len(shape) == 0 {
			switch b := backing.(type) {
			case []float32:
				return tensor.New(tensor.FromScalar(b[0]))
			case []float64:
				return tensor.New(tensor.FromScalar(b[0]))
			case []int64:
				return tensor.New(tensor.FromScalar(b[0]))
			case []int32:
				return tensor.New(tensor.FromScalar(b[0]))
			}
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(backing))
	}
	switch descr {
	case "<f4":
		v := make([]float32, n)
		if err := binary.Read(r, binary.LittleEndian, v); err != nil {
			return nil, err
		}
		return mk(v), nil
	case "<f8":
		v := make([]float64, n)
		if err := binary.Read(r, binary.LittleEndian, v); err != nil {
			return nil, err
		}
		return mk(v), nil
	case "<i8":
		v := make([]int64, n)
		if err := binary.Read(r, binary.LittleEndian, v); err != nil {
			return nil, err
		}
		return mk(v), nil
	case "<i4":
		v := make([]int32, n)
		if err := binary.Read(r, binary.LittleEndian, v); err != nil {
			return nil, err
		}
		return mk(v), nil
	}
	return nil, fmt.Errorf("dtype %q not supported (float32, float64, int64, int32)", descr)
}

// WriteNpz writes sd as an uncompressed .npz archive, keys in sorted order.
func WriteNpz(w io.Writer, sd map[string]*tensor.Dense) error {
	keys := make([]string, 0, len(sd))
	for k := range sd {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	zw := zip.NewWriter(w)
	for _, k := range keys {
		d := sd[k]
		if d == nil {
			return fmt.Errorf("nn: write npz: key %q is nil", k)
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: k + ".npy", Method: zip.Store})
		if err != nil {
			return fmt.Errorf("nn: write npz: %w", err)
		}
		if err := writeNpy(fw, d); err != nil {
			return fmt.Errorf("nn: write npz: key %q: %w", k, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("nn: write npz: %w", err)
	}
	return nil
}

// SaveNpzFile writes sd to path with WriteNpz.
func SaveNpzFile(path string, sd map[string]*tensor.Dense) error {
	var buf bytes.Buffer
	if err := WriteNpz(&buf, sd); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("nn: write npz: %w", err)
	}
	return nil
}

func writeNpy(w io.Writer, d *tensor.Dense) error {
	if d.RequiresIterator() {
		d = d.Materialize().(*tensor.Dense)
	}
	var descr string
	var data any
	n := d.Shape().TotalSize()
	if d.Shape().Dims() == 0 {
		n = 1
	}
	switch d.Dtype() {
	case tensor.Float32:
		descr, data = "<f4", d.Float32s()[:n]
	case tensor.Float64:
		descr, data = "<f8", d.Float64s()[:n]
	case tensor.Int64:
		descr, data = "<i8", d.Int64s()[:n]
	case tensor.Int32:
		descr, data = "<i4", d.Int32s()[:n]
	default:
		return fmt.Errorf("dtype %v not supported", d.Dtype())
	}
	var dims []string
	for _, s := range d.Shape() {
		dims = append(dims, strconv.Itoa(s))
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape)
	// Pad so that magic + version + length + header is a multiple of 64.
	total := 10 + len(header) + 1
	header += strings.Repeat(" ", (64-total%64)%64) + "\n"
	if len(header) > math.MaxUint16 {
		return fmt.Errorf("header too long")
	}
	var buf bytes.Buffer
	buf.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&buf, binary.LittleEndian, uint16(len(header)))
	buf.WriteString(header)
	if err := binary.Write(&buf, binary.LittleEndian, data); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
