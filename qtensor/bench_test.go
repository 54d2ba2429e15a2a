package qtensor

import (
	"fmt"
	"testing"

	"github.com/qgorgonia/qgorgonia/qdtype"
)

func benchQ(b *testing.B, shape ...int) *QTensor {
	b.Helper()
	data := make([]int64, numel(shape))
	for i := range data {
		data[i] = int64(i*7919%256) - 128
	}
	q, err := FromInts(shape, data, qdtype.MustPerTensor(qdtype.QInt8Dtype, 0.05, 3))
	if err != nil {
		b.Fatal(err)
	}
	return q
}

func BenchmarkMethods(b *testing.B) {
	q := benchQ(b, 64, 64, 32)
	cases := []struct {
		name string
		f    func() error
	}{
		{"op=dequantize", func() error { _, err := q.Dequantize(); return err }},
		{"op=mean_inner", func() error { _, err := q.MeanDims([]int{2}, false); return err }},
		{"op=mean_outer", func() error { _, err := q.MeanDims([]int{0}, false); return err }},
		{"op=sort", func() error { _, _, err := q.Sort(1, false, true); return err }},
		{"op=topk8", func() error { _, _, err := q.Topk(8, 2, true, false); return err }},
		{"op=maxdim", func() error { _, _, err := q.MaxDim(0, false); return err }},
		{"op=transpose", func() error { _, err := q.Transpose(0, 2); return err }},
		{"op=eq", func() error { _, err := q.Eq(q); return err }},
	}
	for _, c := range cases {
		b.Run(fmt.Sprintf("size=%d/%s", q.Size(), c.name), func(b *testing.B) {
			b.SetBytes(int64(q.Size()))
			for i := 0; i < b.N; i++ {
				if err := c.f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
