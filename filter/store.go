package filter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// PairKey is the 64-bit identity of a pair: xxhash of image URL and normalised caption. It keys
// deduplication and seeds the balancing coins, so it must not depend on row order.
func PairKey(imageURL, caption string) uint64 {
	d := xxhash.New()
	_, _ = d.WriteString(imageURL)
	_, _ = d.Write([]byte{0})
	_, _ = d.WriteString(caption)
	return d.Sum64()
}

// openPebble opens a pebble store tuned for a small memory footprint (the filter must stay
// well under a GB next to lingua's models): 16 MB block cache, 32 MB memtables, bloom filters.
func openPebble(dir string, disableWAL bool) (*pebble.DB, error) {
	cache := pebble.NewCache(16 << 20)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:        cache,
		MemTableSize: 32 << 20,
		DisableWAL:   disableWAL,
		Logger:       slogPebble{},
	}
	// Most dedup look-ups are misses (new pairs): bloom filters answer them without reading
	// blocks (74 µs → a few µs per look-up once the set spills to disk).
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open pebble %s: %w", dir, err)
	}
	return db, nil
}

type slogPebble struct{}

func (slogPebble) Infof(string, ...any) {}
func (slogPebble) Errorf(format string, args ...any) {
	slog.Error("pebble: " + fmt.Sprintf(format, args...))
}
func (slogPebble) Fatalf(format string, args ...any) {
	panic("pebble: " + fmt.Sprintf(format, args...))
}

// Deduper remembers pair keys in pebble: memory stays bounded by pebble's memtables and cache
// (~50 MB) however many pairs pass, the set spills to sorted files on disk.
type Deduper struct {
	db        *pebble.DB
	dir       string
	removeDir bool
}

// NewDeduper opens a key set in dir; dir "" makes a temporary one removed by Close.
func NewDeduper(dir string) (*Deduper, error) {
	d := &Deduper{dir: dir}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "wit-dedup-*")
		if err != nil {
			return nil, fmt.Errorf("dedup: %w", err)
		}
		d.dir, d.removeDir = tmp, true
	}
	db, err := openPebble(d.dir, d.removeDir)
	if err != nil {
		return nil, fmt.Errorf("dedup: %w", err)
	}
	d.db = db
	return d, nil
}

// Seen records key and reports whether it had been recorded before. Not safe for concurrent
// use (check-then-set).
func (d *Deduper) Seen(key uint64) (bool, error) {
	var k [9]byte
	k[0] = 'd'
	binary.BigEndian.PutUint64(k[1:], key)
	_, closer, err := d.db.Get(k[:])
	if err == nil {
		closer.Close()
		return true, nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return false, fmt.Errorf("dedup get: %w", err)
	}
	if err := d.db.Set(k[:], nil, pebble.NoSync); err != nil {
		return false, fmt.Errorf("dedup set: %w", err)
	}
	return false, nil
}

// Close closes the store and removes a temporary one.
func (d *Deduper) Close() error {
	err := d.db.Close()
	if d.removeDir {
		if rerr := os.RemoveAll(d.dir); err == nil {
			err = rerr
		}
	}
	return err
}
