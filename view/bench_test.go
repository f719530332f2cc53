package view

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/witdata/wit/shards"
)

// BenchmarkFilteredScan: rows a filtered grid request examines per second over image shards (the
// test images stored at 64 px, about 2 KB each, and at 256 px, about 15 KB: fetch's default), with
// a filter that matches nothing, so every row is examined and the batch cache is cold. This is
// what the scan budget is sized by.
func BenchmarkFilteredScan(b *testing.B) {
	rows := testRows(b)
	for _, size := range []int{64, 256} {
		b.Run(fmt.Sprintf("%dpx", size), func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "shards")
			w, err := shards.NewWriter(dir, shards.SampleSchema, shards.WriterOptions{RowsPerFile: 10000, Metadata: shards.SampleMetadata()})
			if err != nil {
				b.Fatal(err)
			}
			const n = 20000
			imgs := scaledImages(b, rows, size)
			var bytes int64
			for i := range n {
				r := rows[i%len(rows)]
				img := imgs[i%len(rows)]
				bytes += int64(len(img))
				shards.AppendSample(w.Builder(), &shards.Sample{Key: shards.SampleKey(i/10000, i%10000), Image: img, Caption: r.Caption,
					Width: size, Height: size, MatchedQueries: r.Queries, Language: r.Language, CaptionSource: r.Source})
				if err := w.EndRow(); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			d := openTest(b, dir)
			b.SetBytes(bytes)
			b.ResetTimer()
			for b.Loop() {
				d.batches = newBatchCache(256 << 20) // cold
				p, err := d.Page(context.Background(), Filter{Text: "no such caption"}, 0, 48, Budget{Rows: n + 1, Time: 1 << 40})
				if err != nil || p.Next != n || len(p.Samples) != 0 {
					b.Fatalf("%+v %v", p, err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
