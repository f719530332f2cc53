package view

import (
	"container/list"
	"context"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
)

// batchID names one record batch: file index in the dataset, batch index in the file.
type batchID struct{ file, batch int }

// batchCache keeps recently read record batches, up to a byte budget, so that the thumbnails of one
// grid page (mostly rows of the same batch, requested at once by the browser) cost one read. A
// batch being read is read once: concurrent requests for it wait for that read.
type batchCache struct {
	mu      sync.Mutex
	max     int64
	used    int64
	lru     *list.List // of *batchEntry, most recent first
	entries map[batchID]*batchEntry
}

type batchEntry struct {
	id    batchID
	ready chan struct{} // closed when rec or err is set
	rec   arrow.RecordBatch
	err   error
	size  int64
	elem  *list.Element // nil while loading or once evicted
}

func newBatchCache(maxBytes int64) *batchCache {
	return &batchCache{max: maxBytes, lru: list.New(), entries: map[batchID]*batchEntry{}}
}

// get returns the batch, retained for the caller, reading it with load when it is not cached.
func (c *batchCache) get(ctx context.Context, id batchID, load func() (arrow.RecordBatch, error)) (arrow.RecordBatch, error) {
	for {
		c.mu.Lock()
		e, ok := c.entries[id]
		if !ok {
			break // c.mu stays locked
		}
		if e.elem != nil {
			c.lru.MoveToFront(e.elem)
		}
		c.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err != nil {
			return nil, e.err
		}
		c.mu.Lock()
		if c.entries[id] == e { // not evicted meanwhile: eviction releases under the lock too
			e.rec.Retain()
			c.mu.Unlock()
			return e.rec, nil
		}
		c.mu.Unlock()
	}
	e := &batchEntry{id: id, ready: make(chan struct{})}
	c.entries[id] = e
	c.mu.Unlock()

	rec, err := load()
	c.mu.Lock()
	defer c.mu.Unlock()
	e.rec, e.err = rec, err
	close(e.ready)
	if err != nil {
		delete(c.entries, id) // not cached: the next request tries again
		return nil, err
	}
	e.size = recordBytes(rec)
	e.elem = c.lru.PushFront(e)
	c.used += e.size
	rec.Retain() // the caller's reference; the cache keeps load's
	for c.used > c.max && c.lru.Len() > 1 {
		c.evict(c.lru.Back().Value.(*batchEntry))
	}
	return rec, nil
}

func (c *batchCache) evict(e *batchEntry) {
	c.lru.Remove(e.elem)
	e.elem = nil
	delete(c.entries, e.id)
	c.used -= e.size
	e.rec.Release()
}

// recordBytes is the size of a batch's buffers.
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	var add func(d arrow.ArrayData)
	add = func(d arrow.ArrayData) {
		for _, b := range d.Buffers() {
			if b != nil {
				n += int64(b.Len())
			}
		}
		for _, ch := range d.Children() {
			add(ch)
		}
	}
	for _, col := range rec.Columns() {
		add(col.Data())
	}
	return n
}
