package shards

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// blobSchema mimics an image shard: a JPEG-sized binary column and a caption.
var blobSchema = arrow.NewSchema([]arrow.Field{
	{Name: "image", Type: arrow.BinaryTypes.Binary},
	{Name: "caption", Type: arrow.BinaryTypes.String},
}, nil)

const blobBytes = 24 << 10 // a 256 px JPEG at q95 is 15–40 KB

func blobs(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([][]byte, n)
	for i := range out {
		b := make([]byte, blobBytes)
		for j := range b {
			b[j] = byte(rng.Uint32()) // incompressible, like JPEG data
		}
		out[i] = b
	}
	return out
}

func BenchmarkWriteShard(b *testing.B) {
	data := blobs(64)
	b.SetBytes(int64(blobBytes) * 1000)
	for b.Loop() {
		w, err := NewWriter(b.TempDir(), blobSchema, WriterOptions{RowsPerFile: 10000, BatchRows: 256})
		if err != nil {
			b.Fatal(err)
		}
		for i := range 1000 {
			w.Builder().Field(0).(*array.BinaryBuilder).Append(data[i%len(data)])
			w.Builder().Field(1).(*array.StringBuilder).Append("a photo of a red apple on a wooden table")
			if err := w.EndRow(); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadShard(b *testing.B) {
	dir := b.TempDir()
	data := blobs(64)
	w, _ := NewWriter(dir, blobSchema, WriterOptions{RowsPerFile: 2000, BatchRows: 256})
	for i := range 4000 {
		w.Builder().Field(0).(*array.BinaryBuilder).Append(data[i%len(data)])
		w.Builder().Field(1).(*array.StringBuilder).Append("a photo of a red apple on a wooden table")
		w.EndRow()
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(blobBytes) * 4000)
	for b.Loop() {
		var n int64
		for rec, err := range ReadDir(context.Background(), dir, []string{"image", "caption"}) {
			if err != nil {
				b.Fatal(err)
			}
			n += rec.NumRows()
		}
		if n != 4000 {
			b.Fatal(n)
		}
	}
}
