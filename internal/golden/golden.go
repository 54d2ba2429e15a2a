// Package golden reads the JSON golden files that the generator scripts
// (scripts/golden_*.py, run with PyTorch 1.13) write under each package's
// testdata directory. It is for tests only.
package golden

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"
)

// Num is a float64 read from JSON that also accepts the strings "inf",
// "-inf" and "nan", which the generators write for non-finite values (JSON
// has no literal for them).
type Num float64

// UnmarshalJSON reads a JSON number or one of "inf", "-inf", "nan".
func (n *Num) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		switch s {
		case "inf":
			*n = Num(math.Inf(1))
		case "-inf":
			*n = Num(math.Inf(-1))
		case "nan":
			*n = Num(math.NaN())
		default:
			return fmt.Errorf("golden: bad number %q", s)
		}
		return nil
	}
	var f float64
	err := json.Unmarshal(b, &f)
	*n = Num(f)
	return err
}

// Float32s converts v to float32, rounding each value to nearest even.
func Float32s(v []Num) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// Load decodes the JSON file at path into v and fails the test if the file
// cannot be read or decoded.
func Load(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("golden: %s: %v", path, err)
	}
}
