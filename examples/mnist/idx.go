package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Dataset is a set of 28×28 grey images with their labels, as float32
// pixels scaled to [0, 1] and normalized with Mean/Std.
type Dataset struct {
	Images []float32 // N×1×28×28, row-major
	Labels []uint8   // N labels in [0, 9]
	N      int
	Rows   int
	Cols   int
}

// maxIDXElements caps what a header may announce, so a corrupt file cannot
// ask for a huge allocation.
const maxIDXElements = 1 << 28

// readIDX reads an IDX file (plain or gzip-compressed) of unsigned bytes
// and returns its dimensions and data. Every failure names the path.
func readIDX(path string) (dims []int, data []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("mnist: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("mnist: %s: bad gzip stream: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	dims, data, err = decodeIDX(r)
	if err != nil {
		return nil, nil, fmt.Errorf("mnist: %s: %w", path, err)
	}
	return dims, data, nil
}

// decodeIDX parses the IDX format: two zero bytes, a type byte (0x08 for
// unsigned bytes), the number of dimensions, big-endian uint32 sizes, then
// the data.
func decodeIDX(r io.Reader) ([]int, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, nil, fmt.Errorf("short IDX header: %w", err)
	}
	if hdr[0] != 0 || hdr[1] != 0 {
		return nil, nil, fmt.Errorf("not an IDX file (magic %x)", hdr)
	}
	if hdr[2] != 0x08 {
		return nil, nil, fmt.Errorf("IDX element type 0x%02x is not unsigned byte (0x08)", hdr[2])
	}
	nd := int(hdr[3])
	if nd < 1 || nd > 4 {
		return nil, nil, fmt.Errorf("IDX has %d dimensions, want 1 to 4", nd)
	}
	dims := make([]int, nd)
	total := 1
	for i := range dims {
		var d uint32
		if err := binary.Read(r, binary.BigEndian, &d); err != nil {
			return nil, nil, fmt.Errorf("short IDX dimensions: %w", err)
		}
		dims[i] = int(d)
		if d == 0 || total > maxIDXElements/int(d) {
			return nil, nil, fmt.Errorf("IDX dimensions %v are empty or too large", dims[:i+1])
		}
		total *= int(d)
	}
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, r, int64(total))
	if err != nil {
		return nil, nil, fmt.Errorf("IDX data truncated: %d of %d bytes: %w", n, total, err)
	}
	return dims, buf.Bytes(), nil
}

// Normalization of the pixel values (PyTorch's MNIST tutorial constants).
const (
	pixelMean = 0.1307
	pixelStd  = 0.3081
)

// loadSplit reads "<prefix>-images-idx3-ubyte[.gz]" and the matching labels
// from dir; prefix is "train" or "t10k". limit > 0 keeps the first limit
// examples.
func loadSplit(dir, prefix string, limit int) (*Dataset, error) {
	imgPath, err := findFile(dir, prefix+"-images-idx3-ubyte")
	if err != nil {
		return nil, err
	}
	lblPath, err := findFile(dir, prefix+"-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	idims, pix, err := readIDX(imgPath)
	if err != nil {
		return nil, err
	}
	if len(idims) != 3 {
		return nil, fmt.Errorf("mnist: %s: images have %d dimensions, want 3", imgPath, len(idims))
	}
	ldims, lbl, err := readIDX(lblPath)
	if err != nil {
		return nil, err
	}
	if len(ldims) != 1 || ldims[0] != idims[0] {
		return nil, fmt.Errorf("mnist: %s: %v labels for %d images in %s", lblPath, ldims, idims[0], imgPath)
	}
	for i, l := range lbl {
		if l > 9 {
			return nil, fmt.Errorf("mnist: %s: label %d at %d is not a digit class", lblPath, l, i)
		}
	}
	n := idims[0]
	if limit > 0 && limit < n {
		n = limit
	}
	rows, cols := idims[1], idims[2]
	ds := &Dataset{Images: make([]float32, n*rows*cols), Labels: append([]uint8(nil), lbl[:n]...), N: n, Rows: rows, Cols: cols}
	for i, p := range pix[:n*rows*cols] {
		ds.Images[i] = (float32(p)/255 - pixelMean) / pixelStd
	}
	return ds, nil
}

// findFile returns dir/name or dir/name.gz, whichever exists.
func findFile(dir, name string) (string, error) {
	for _, cand := range []string{name, name + ".gz"} {
		p := filepath.Join(dir, cand)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("mnist: neither %s nor %s.gz exists (install Debian's dataset-fashion-mnist, or point -data at MNIST-format IDX files)", filepath.Join(dir, name), filepath.Join(dir, name))
}
