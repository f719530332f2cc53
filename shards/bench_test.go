package shards

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/internal/storage/s3test"
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

// BenchmarkReadStorage reads the same 96 MB of image-like shards from local disk and from the
// in-process S3 server (range requests with read-ahead; the Loader with prefetch), in one run.
func BenchmarkReadStorage(b *testing.B) {
	_, bucket := s3test.Start(b, "bench")
	local := b.TempDir()
	remote := storage.Join(bucket, "shards")
	data := blobs(64)
	const rows = 4000
	for _, dir := range []string{local, remote} {
		w, err := NewWriter(dir, blobSchema, WriterOptions{RowsPerFile: 1000, BatchRows: 256})
		if err != nil {
			b.Fatal(err)
		}
		for i := range rows {
			w.Builder().Field(0).(*array.BinaryBuilder).Append(data[i%len(data)])
			w.Builder().Field(1).(*array.StringBuilder).Append("a photo of a red apple on a wooden table")
			w.EndRow()
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct{ name, dir string }{{"disk", local}, {"s3", remote}} {
		b.Run("ReadDir-"+c.name, func(b *testing.B) {
			b.SetBytes(int64(blobBytes) * rows)
			for b.Loop() {
				var n int64
				for rec, err := range ReadDir(context.Background(), c.dir, []string{"image", "caption"}) {
					if err != nil {
						b.Fatal(err)
					}
					n += rec.NumRows()
				}
				if n != rows {
					b.Fatal(n)
				}
			}
		})
		b.Run("Loader-"+c.name, func(b *testing.B) {
			b.SetBytes(int64(blobBytes) * rows)
			l, err := NewLoader(c.dir, LoaderOptions{Columns: []string{"image", "caption"}, Seed: 1, ShuffleShards: true})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				n := 0
				for _, err := range l.Samples(context.Background(), Position{}) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != rows {
					b.Fatal(n)
				}
			}
		})
	}
}
