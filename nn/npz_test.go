package nn

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"gorgonia.org/tensor"
)

// TestNpzFromPyTorch loads state dicts NumPy wrote from a PyTorch model
// (np.savez and np.savez_compressed) into the matching nn model and checks
// them against the golden JSON copy, then round-trips through WriteNpz.
func TestNpzFromPyTorch(t *testing.T) {
	var golden goldenCase
	for _, c := range loadGolden(t) {
		if c.Name == "sequential_cnn" {
			golden = c
		}
	}
	if golden.Name == "" {
		t.Fatal("golden sequential_cnn case missing")
	}
	for _, file := range []string{"sequential_cnn.npz", "sequential_cnn_deflated.npz"} {
		sd, err := LoadNpzFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		m, err := buildGolden(golden)
		if err != nil {
			t.Fatal(err)
		}
		if err := LoadStateDict(m, sd, true); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for k, want := range golden.State {
			got := StateDict(m)[k]
			if want.Dtype == "int64" {
				if got.Data().(int64) != int64(want.Data[0]) {
					t.Errorf("%s %s: %v, want %v", file, k, got.Data(), want.Data)
				}
				continue
			}
			if ok, msg := closeTo(got.Float32s(), want.Data); !ok {
				t.Errorf("%s %s: %s", file, k, msg)
			}
		}
		var buf bytes.Buffer
		if err := WriteNpz(&buf, StateDict(m)); err != nil {
			t.Fatal(err)
		}
		back, err := ReadNpz(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range StateDict(m) {
			b := back[k]
			if b == nil || !sameShape(b.Shape(), v.Shape()) || b.Dtype() != v.Dtype() || !b.Eq(v) {
				t.Errorf("round trip of %s: %v, want %v", k, b, v)
			}
		}
	}
	if _, err := ReadNpz(bytes.NewReader([]byte("not a zip")), 9); err == nil {
		t.Error("garbage accepted as npz")
	}
	var buf bytes.Buffer
	if err := WriteNpz(&buf, map[string]*tensor.Dense{"u8": tensor.New(tensor.WithBacking([]uint8{1}))}); err == nil {
		t.Error("uint8 tensor written without error")
	}
}

// FuzzReadNpz checks that arbitrary bytes give an error or a state dict,
// never a panic or an allocation beyond the input's declared size.
func FuzzReadNpz(f *testing.F) {
	for _, file := range []string{"sequential_cnn.npz", "sequential_cnn_deflated.npz"} {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, err := ReadNpz(bytes.NewReader(b), int64(len(b)))
		if err == nil && sd == nil {
			t.Fatal("nil state dict without error")
		}
	})
}
