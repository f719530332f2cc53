package view

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// TestBatchCacheConcurrent: many readers of a few batches under a budget that forces evictions get
// valid batches, and a batch wanted by many at once is read once.
func TestBatchCacheConcurrent(t *testing.T) {
	dir, rows := writeTestDataset(t, 7, 3)
	d := openTest(t, dir)
	var reads atomic.Int64
	for _, budget := range []int64{1, 64 << 20} {
		d.batches = newBatchCache(budget)
		reads.Store(0)
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				for i := range 50 {
					r := int64((g*7 + i) % len(rows))
					fi, b, _, _ := d.x.locate(r)
					rec, err := d.batches.get(context.Background(), batchID{fi, b}, func() (arrow.RecordBatch, error) {
						reads.Add(1)
						return d.readBatch(&d.x.Files[fi], b)
					})
					if err != nil {
						t.Error(err)
						return
					}
					c := bindColumns(rec)
					_, _, row, _ := d.x.locate(r)
					if got := c.captionAt(int(row)); got != rows[r].Caption {
						t.Errorf("row %d: %q", r, got)
					}
					rec.Release()
				}
			})
		}
		wg.Wait()
		batches := 0
		for _, f := range d.x.Files {
			batches += len(f.Batches) - 1
		}
		if budget > 1<<20 && reads.Load() != int64(batches) {
			t.Errorf("budget %d: %d reads of %d batches", budget, reads.Load(), batches)
		}
		if budget == 1 && d.batches.lru.Len() != 1 {
			t.Errorf("budget of one byte keeps %d batches", d.batches.lru.Len())
		}
	}
}
