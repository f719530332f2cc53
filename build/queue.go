package build

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/witdata/wit/fetch"
)

// Key spaces of the queue store.
const (
	ksItem    = 'q' // q + be64(seq) -> JSON fetch.Item: the kept-item log, in decision order
	ksDedup   = 'd' // d + be64(pair key): pairs already decided
	ksCounter = 'c' // c + name -> be64: filter counters, accumulated over runs
	ksMeta    = 'm' // m + name
)

var (
	metaNext = []byte("mnext") // seq of the next item
	metaID   = []byte("mid")   // random id of this queue: names the input of the shard directory
)

// readChunk is how many items the source reads from the log at once.
const readChunk = 256

// queue is the durable hand-off between the filter and the downloader: an append-only log of
// kept items in pebble. fetch numbers its source's items and remembers which numbers are done,
// so the source must give the same items in the same order on every run; the crawl's pair order
// is not reproducible, the log is. The source reads the log from the start and then follows it
// as it grows, until the producer closes it.
type queue struct {
	db *pebble.DB
	id string

	mu       sync.Mutex
	cond     *sync.Cond
	next     uint64 // items in the log
	consumed uint64 // items the source has handed on in this run
	closed   bool   // no more items in this run
	counters map[string]int64
}

func openPebble(dir string) (*pebble.DB, error) {
	cache := pebble.NewCache(16 << 20)
	defer cache.Unref()
	opts := &pebble.Options{Cache: cache, MemTableSize: 16 << 20, Logger: pebbleLogger{}}
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(10) // dedup look-ups are mostly misses
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", dir, err)
	}
	return db, nil
}

type pebbleLogger struct{}

func (pebbleLogger) Infof(string, ...any) {}
func (pebbleLogger) Errorf(format string, args ...any) {
	slog.Error("pebble: " + fmt.Sprintf(format, args...))
}
func (pebbleLogger) Fatalf(format string, args ...any) {
	panic("pebble: " + fmt.Sprintf(format, args...))
}

func openQueue(dir string) (*queue, error) {
	db, err := openPebble(dir)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	q := &queue{db: db, counters: map[string]int64{}}
	q.cond = sync.NewCond(&q.mu)
	fail := func(err error) (*queue, error) {
		db.Close()
		return nil, fmt.Errorf("queue %s: %w", dir, err)
	}
	if v, ok, err := q.get(metaID); err != nil {
		return fail(err)
	} else if ok {
		q.id = string(v)
	} else {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fail(err)
		}
		q.id = hex.EncodeToString(b[:])
		if err := db.Set(metaID, []byte(q.id), pebble.Sync); err != nil {
			return fail(err)
		}
	}
	if v, ok, err := q.get(metaNext); err != nil {
		return fail(err)
	} else if ok && len(v) == 8 {
		q.next = binary.BigEndian.Uint64(v)
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{ksCounter}, UpperBound: []byte{ksCounter + 1}})
	if err != nil {
		return fail(err)
	}
	for it.First(); it.Valid(); it.Next() {
		if len(it.Value()) == 8 {
			q.counters[string(it.Key()[1:])] = int64(binary.BigEndian.Uint64(it.Value()))
		}
	}
	if err := it.Close(); err != nil {
		return fail(err)
	}
	return q, nil
}

func (q *queue) get(key []byte) ([]byte, bool, error) {
	v, closer, err := q.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, true, nil
}

func itemKey(seq uint64) []byte {
	var k [9]byte
	k[0] = ksItem
	binary.BigEndian.PutUint64(k[1:], seq)
	return k[:]
}

func dedupKey(key uint64) []byte {
	var k [9]byte
	k[0] = ksDedup
	binary.BigEndian.PutUint64(k[1:], key)
	return k[:]
}

func be64(v int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	return b[:]
}

// seen reports whether a pair key was decided by an earlier batch.
func (q *queue) seen(key uint64) (bool, error) {
	_, ok, err := q.get(dedupKey(key))
	if err != nil {
		return false, fmt.Errorf("queue: dedup: %w", err)
	}
	return ok, nil
}

// batch collects one group of decisions; commit makes them durable together.
type batch struct {
	q       *queue
	b       *pebble.Batch
	keys    map[uint64]bool // dedup keys set in this batch
	changed map[string]int64
	items   uint64
}

func (q *queue) newBatch() *batch {
	return &batch{q: q, b: q.db.NewBatch(), keys: map[uint64]bool{}, changed: map[string]int64{}}
}

func (b *batch) count(name string, d int64) {
	if _, ok := b.changed[name]; !ok {
		b.q.mu.Lock()
		b.changed[name] = b.q.counters[name]
		b.q.mu.Unlock()
	}
	b.changed[name] += d
}

// duplicate checks and records a pair key.
func (b *batch) duplicate(key uint64) (bool, error) {
	if b.keys[key] {
		return true, nil
	}
	seen, err := b.q.seen(key)
	if err != nil || seen {
		return seen, err
	}
	b.keys[key] = true
	return false, b.b.Set(dedupKey(key), nil, nil)
}

func (b *batch) append(it *fetch.Item) error {
	data, err := json.Marshal(it)
	if err != nil {
		return fmt.Errorf("queue: encode item: %w", err)
	}
	b.q.mu.Lock()
	seq := b.q.next + b.items
	b.q.mu.Unlock()
	b.items++
	return b.b.Set(itemKey(seq), data, nil)
}

// commit writes the batch durably (fsync: a pair handed to the filter is in the log before the
// crawler's worker moves on) and wakes the source.
func (b *batch) commit() error {
	defer b.b.Close()
	q := b.q
	q.mu.Lock()
	next := q.next + b.items
	q.mu.Unlock()
	for name, v := range b.changed {
		if err := b.b.Set(append([]byte{ksCounter}, name...), be64(v), nil); err != nil {
			return err
		}
	}
	if err := b.b.Set(metaNext, be64(int64(next)), nil); err != nil {
		return err
	}
	if err := b.b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("queue: commit: %w", err)
	}
	q.mu.Lock()
	q.next = next
	for name, v := range b.changed {
		q.counters[name] = v
	}
	q.cond.Broadcast()
	q.mu.Unlock()
	return nil
}

// waitLag blocks while more than maxLag items wait for the source, until ctx ends.
func (q *queue) waitLag(ctx context.Context, maxLag int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.next-q.consumed > uint64(maxLag) && ctx.Err() == nil && !q.closed {
		q.cond.Wait()
	}
}

// close ends the log for this run: the source returns once it has handed on every item.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// wakeOn wakes every waiter when ctx ends.
func (q *queue) wakeOn(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
}

// snapshot returns the log length, the items handed on and a copy of the counters.
func (q *queue) snapshot() (next, consumed uint64, counters map[string]int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	counters = make(map[string]int64, len(q.counters))
	for k, v := range q.counters {
		counters[k] = v
	}
	return q.next, q.consumed, counters
}

// items streams the log from its first item, following it as it grows, until the queue is
// closed and drained or ctx ends. Memory: one chunk of readChunk items.
func (q *queue) items(ctx context.Context) iter.Seq2[fetch.Item, error] {
	return func(yield func(fetch.Item, error) bool) {
		var seq uint64
		chunk := make([]fetch.Item, 0, readChunk)
		for {
			q.mu.Lock()
			for seq >= q.next && !q.closed && ctx.Err() == nil {
				q.cond.Wait()
			}
			next := q.next
			q.mu.Unlock()
			if ctx.Err() != nil || seq >= next {
				return // cancelled, or closed and drained
			}
			end := min(next, seq+readChunk)
			chunk = chunk[:0]
			it, err := q.db.NewIter(&pebble.IterOptions{LowerBound: itemKey(seq), UpperBound: itemKey(end)})
			if err != nil {
				yield(fetch.Item{}, fmt.Errorf("queue: read: %w", err))
				return
			}
			want := seq
			for it.First(); it.Valid(); it.Next() {
				got := binary.BigEndian.Uint64(it.Key()[1:])
				var item fetch.Item
				err := json.Unmarshal(it.Value(), &item)
				if got != want || err != nil {
					it.Close()
					yield(fetch.Item{}, fmt.Errorf("queue: item %d corrupt or missing (found %d): %v", want, got, err))
					return
				}
				chunk = append(chunk, item)
				want++
			}
			err = it.Close()
			if err == nil && want != end {
				err = fmt.Errorf("items %d..%d missing", want, end)
			}
			if err != nil {
				yield(fetch.Item{}, fmt.Errorf("queue: read: %w", err))
				return
			}
			for _, item := range chunk {
				if !yield(item, nil) {
					return
				}
				seq++
				q.mu.Lock()
				q.consumed = seq
				q.cond.Broadcast()
				q.mu.Unlock()
			}
		}
	}
}

func (q *queue) Close() error { return q.db.Close() }
