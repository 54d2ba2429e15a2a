package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func idxBytes(dims []uint32, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 8, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(data)
	return b.Bytes()
}

func writeSplit(t *testing.T, dir string, n int, gz bool) {
	t.Helper()
	pix := make([]byte, n*28*28)
	for i := range pix {
		pix[i] = byte(i)
	}
	lbl := make([]byte, n)
	for i := range lbl {
		lbl[i] = byte(i % 10)
	}
	write := func(name string, b []byte) {
		if gz {
			var z bytes.Buffer
			w := gzip.NewWriter(&z)
			w.Write(b)
			w.Close()
			b, name = z.Bytes(), name+".gz"
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("t10k-images-idx3-ubyte", idxBytes([]uint32{uint32(n), 28, 28}, pix))
	write("t10k-labels-idx1-ubyte", idxBytes([]uint32{uint32(n)}, lbl))
}

func TestLoadSplitPlainAndGzip(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		writeSplit(t, dir, 5, gz)
		ds, err := loadSplit(dir, "t10k", 3)
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if ds.N != 3 || len(ds.Images) != 3*784 || ds.Labels[2] != 2 {
			t.Fatalf("gz=%v: got N=%d, %d pixels, labels %v", gz, ds.N, len(ds.Images), ds.Labels)
		}
		if want := (float32(1)/255 - pixelMean) / pixelStd; ds.Images[1] != want {
			t.Fatalf("pixel 1 = %v, want %v", ds.Images[1], want)
		}
	}
}

func TestLoadSplitErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	if _, err := loadSplit(dir, "t10k", 0); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("missing files: %v", err)
	}
	writeSplit(t, dir, 4, false)
	p := filepath.Join(dir, "t10k-images-idx3-ubyte")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)-10], 0o644)
	if _, err := loadSplit(dir, "t10k", 0); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("truncated file: %v", err)
	}
}

func FuzzDecodeIDX(f *testing.F) {
	f.Add(idxBytes([]uint32{2, 2}, []byte{1, 2, 3, 4}))
	f.Add([]byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		dims, data, err := decodeIDX(bytes.NewReader(b))
		if err != nil {
			return
		}
		n := 1
		for _, d := range dims {
			n *= d
		}
		if len(data) != n {
			t.Fatalf("dims %v but %d bytes", dims, len(data))
		}
	})
}
