package main

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestCompareReduceShapeHandlers runs a few cases of the compare, reduce
// and shape families through the runner (expectations from PyTorch 1.13).
func TestCompareReduceShapeHandlers(t *testing.T) {
	const q = `{"dtype":"quint8","shape":[2,3],"data":[10,14,12,9,20,12],"qscheme":"per_tensor_affine","scale":0.5,"zero_point":10}`
	cases := []struct {
		line string
		want string // JSON of the outputs, or "error"
	}{
		{`{"id":"a","op":"slice","attrs":{"dim":1,"start":null,"end":-1,"step":1},"inputs":[` + q + `]}`,
			`[{"dtype":"quint8","shape":[2,2],"data":[10,14,9,20],"qscheme":"per_tensor_affine","scale":0.5,"zero_point":10}]`},
		{`{"id":"a2","op":"slice","attrs":{"dim":-1,"start":-2,"end":9223372036854775807,"step":1},"inputs":[` + q + `]}`,
			`[{"dtype":"quint8","shape":[2,2],"data":[14,12,20,12],"qscheme":"per_tensor_affine","scale":0.5,"zero_point":10}]`},
		{`{"id":"a3","op":"slice","attrs":{"dim":1,"start":-9223372036854775808,"end":1},"inputs":[` + q + `]}`,
			`[{"dtype":"quint8","shape":[2,1],"data":[10,9],"qscheme":"per_tensor_affine","scale":0.5,"zero_point":10}]`},
		{`{"id":"b","op":"select","attrs":{"dim":0,"index":2},"inputs":[` + q + `]}`, "error"},
		{`{"id":"c","op":"expand","attrs":{"size":[2,2,-1]},"inputs":[` + q + `]}`,
			`[{"dtype":"quint8","shape":[2,2,3],"data":[10,14,12,9,20,12,10,14,12,9,20,12],"qscheme":"per_tensor_affine","scale":0.5,"zero_point":10}]`},
		{`{"id":"d","op":"topk","attrs":{"k":2,"dim":1,"largest":true,"sorted":true},"inputs":[` + q + `]}`,
			`[{"dtype":"quint8","shape":[2,2],"data":[14,12,20,12],"qscheme":"per_tensor_affine","scale":0.5,"zero_point":10},{"dtype":"int64","shape":[2,2],"data":[1,2,1,2]}]`},
		{`{"id":"e","op":"mean","attrs":{"dim":[0],"keepdim":true},"inputs":[` + q + `]}`,
			`[{"dtype":"quint8","shape":[1,3],"data":[10,17,12],"qscheme":"per_tensor_affine","scale":0.5,"zero_point":10}]`},
		{`{"id":"f","op":"max","attrs":{},"inputs":[` + q + `]}`,
			`[{"dtype":"quint8","shape":[],"data":[20],"qscheme":"per_tensor_affine","scale":0.5,"zero_point":10}]`},
		{`{"id":"g","op":"gt","attrs":{"other":1.0},"inputs":[` + q + `]}`,
			`[{"dtype":"bool","shape":[2,3],"data":[false,true,false,false,true,false]}]`},
		{`{"id":"h","op":"equal","attrs":{},"inputs":[` + q + `,` + q + `]}`,
			`[{"dtype":"bool","shape":[],"data":[true]}]`},
		{`{"id":"i","op":"topk","attrs":{"k":4,"dim":1},"inputs":[` + q + `]}`, "error"},
	}
	for _, c := range cases {
		res := runLine([]byte(c.line))
		if c.want == "error" {
			if res.Error == "" {
				t.Errorf("%s: no error", res.ID)
			}
			continue
		}
		if res.Error != "" {
			t.Errorf("%s: %s", res.ID, res.Error)
			continue
		}
		got, err := json.Marshal(res.Outputs)
		if err != nil {
			t.Fatal(err)
		}
		var g, w interface{}
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(c.want), &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: got %s, want %s", res.ID, got, c.want)
		}
	}
}
