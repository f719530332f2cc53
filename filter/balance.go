package filter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/v2"
)

// DefaultThreshold is MetaCLIP's / CLIP's t: at most ~20,000 pairs per query entry.
const DefaultThreshold = 20_000

// KeepProbability is MetaCLIP's p = t / max(count, t).
func KeepProbability(t int, count int64) float64 {
	if count <= int64(t) {
		return 1
	}
	return float64(t) / float64(count)
}

// Coin is the deterministic uniform [0,1) draw for (seed, pair, entry). It hashes its inputs
// instead of drawing from a shared RNG, so a pair's fate does not depend on row order,
// parallelism or which other pairs were seen: rerunning with the same seed gives the same output.
func Coin(seed, pairKey uint64, entry int32) float64 {
	var b [20]byte
	binary.LittleEndian.PutUint64(b[0:], seed)
	binary.LittleEndian.PutUint64(b[8:], pairKey)
	binary.LittleEndian.PutUint32(b[16:], uint32(entry))
	return float64(xxhash.Sum64(b[:])>>11) / (1 << 53)
}

// ExactBalancer samples with counts from a complete first pass: per entry, the expected number
// of kept pairs among its count matches is count·p = min(count, t) (plus pairs kept through
// another entry, MetaCLIP's "any entry passes").
type ExactBalancer struct {
	T      int
	Seed   uint64
	Counts []int32 // matches per entry id from pass 1
}

// NewExactBalancer sizes the count array for a matcher of n entries.
func NewExactBalancer(t int, seed uint64, n int) *ExactBalancer {
	return &ExactBalancer{T: t, Seed: seed, Counts: make([]int32, n)}
}

// Count records pass 1's matches of one pair.
func (b *ExactBalancer) Count(ids []int32) {
	for _, id := range ids {
		if b.Counts[id] < math.MaxInt32 {
			b.Counts[id]++
		}
	}
}

// Keep is pass 2's decision: kept if any matched entry passes its own coin.
func (b *ExactBalancer) Keep(pairKey uint64, ids []int32) bool {
	for _, id := range ids {
		if Coin(b.Seed, pairKey, id) < KeepProbability(b.T, int64(b.Counts[id])) {
			return true
		}
	}
	return false
}

// OnlineBalancer decides in one pass for streaming builds: each match first increments the
// entry's running count c, then the coin is tried against t / max(c, t). The counts live in
// memory (an int32 per entry) and persist in pebble on Flush/Close, so a resumed build goes on
// counting where it stopped.
//
// Bias: the first t matches of every entry are all kept, later ones with probability t/c, so an
// entry with N > t matches keeps about t·(1 + ln(N/t)) pairs instead of t (e.g. ~2.6t for
// N = 5t, ~4.9t for N = 50t). Head entries are damped logarithmically rather than capped; use
// the exact two-pass mode where the complete pool is at hand.
type OnlineBalancer struct {
	T       int
	Seed    uint64
	Counts  []int32
	entries func(int32) string
	db      *pebble.DB
}

// OpenOnlineBalancer opens (or creates) the running counts in dir. Counts are keyed by the
// entry's text, not its id, so a resumed build may use a re-ordered or extended query list.
func OpenOnlineBalancer(dir string, t int, seed uint64, n int, entry func(int32) string) (*OnlineBalancer, error) {
	db, err := openPebble(dir, false)
	if err != nil {
		return nil, fmt.Errorf("online balancer: %w", err)
	}
	b := &OnlineBalancer{T: t, Seed: seed, Counts: make([]int32, n), entries: entry, db: db}
	for id := range int32(n) {
		v, closer, err := db.Get(countKey(entry(id)))
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("online balancer: read count: %w", err)
		}
		if len(v) == 4 {
			b.Counts[id] = int32(binary.LittleEndian.Uint32(v))
		}
		closer.Close()
	}
	return b, nil
}

func countKey(entry string) []byte { return append([]byte("c/"), entry...) }

// Keep counts the pair's matches and decides it.
func (b *OnlineBalancer) Keep(pairKey uint64, ids []int32) bool {
	keep := false
	for _, id := range ids {
		if b.Counts[id] < math.MaxInt32 {
			b.Counts[id]++
		}
		if !keep && Coin(b.Seed, pairKey, id) < KeepProbability(b.T, int64(b.Counts[id])) {
			keep = true
		}
	}
	return keep
}

// Flush writes the non-zero counts to pebble durably.
func (b *OnlineBalancer) Flush() error {
	batch := b.db.NewBatch()
	defer batch.Close()
	var v [4]byte
	for id, c := range b.Counts {
		if c == 0 {
			continue
		}
		binary.LittleEndian.PutUint32(v[:], uint32(c))
		if err := batch.Set(countKey(b.entries(int32(id))), v[:], nil); err != nil {
			return fmt.Errorf("online balancer: %w", err)
		}
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("online balancer: commit counts: %w", err)
	}
	return nil
}

// Close flushes and closes the store.
func (b *OnlineBalancer) Close() error {
	err := b.Flush()
	if cerr := b.db.Close(); err == nil {
		err = cerr
	}
	return err
}
