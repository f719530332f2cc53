package crawl

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/gocolly/colly/v2/queue"
	"github.com/gocolly/colly/v2/storage"

	"github.com/witdata/wit/shards"
)

// Key spaces of the state store. Every key starts with one byte naming its space; numbers are
// big-endian so that pebble's byte order is numeric order.
const (
	ksSeen     = 'v' // v + url id (8)            -> ""            admitted URLs (colly's visited set)
	ksFrontier = 'f' // f + seq (8)               -> colly request  waiting to be fetched
	ksInFlight = 'i' // i + seq (8)               -> colly request  handed to a worker, not completed
	ksDelayed  = 'r' // r + due unix ns (8) + seq -> colly request  robots.txt said "retry later"
	ksPending  = 'p' // p + pair seq (8)          -> encoded pairs  committed page, pairs not yet in a file
	ksHandover = 'd' // d + pair seq (8)          -> encoded pairs  committed page, pairs not yet taken by OnPair
	ksFile     = 'F' // F + file index (8)        -> fileRecord     pair file committed (renamed or to rename)
	ksHost     = 'h' // h + host                  -> count (8)      pages admitted per host
	ksCounter  = 'k' // k + name                  -> count (8)      stats, accumulated over runs
	ksMeta     = 'm' // m + name                  -> count (8)      sequences
	ksCookie   = 'c' // c + host                  -> cookies        colly storage interface
	ksOutbox   = 'o' // o + seq (8)               -> JSON []Link    links for other partitions, not yet forwarded
	ksForward  = 'x' // x + url id (8)            -> ""             URLs put in the outbox once (distributed crawls)
)

var (
	metaFrontierSeq = []byte("mfseq")
	metaPairSeq     = []byte("mpseq")
	metaAdmitted    = []byte("madmitted")
	metaOutboxSeq   = []byte("moseq")
	metaSeedsRead   = []byte("mseeds") // a partition of a distributed crawl has read its seeds
)

func key8(space byte, n uint64) []byte {
	k := make([]byte, 9)
	k[0] = space
	binary.BigEndian.PutUint64(k[1:], n)
	return k
}

func keyStr(space byte, s string) []byte {
	k := make([]byte, 1+len(s))
	k[0] = space
	copy(k[1:], s)
	return k
}

func delayedKey(dueNS int64, seq uint64) []byte {
	k := make([]byte, 17)
	k[0] = ksDelayed
	binary.BigEndian.PutUint64(k[1:], uint64(dueNS))
	binary.BigEndian.PutUint64(k[9:], seq)
	return k
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// urlID is the visited-set id of a normalised URL: FNV-64a, the same kind of id colly's
// storage interface is built around. Collisions (two URLs, one id: the second is never fetched)
// become likely only past ~10^9 URLs.
func urlID(u string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(u))
	return h.Sum64()
}

// fileRecord is what the state store remembers about a committed pair file.
type fileRecord struct {
	Path     string `json:"path"`
	TempPath string `json:"temp_path"`
	Rows     int    `json:"rows"`
	Bytes    int64  `json:"bytes"`
	FirstSeq uint64 `json:"first_pending_seq"`
	LastSeq  uint64 `json:"last_pending_seq"`
}

// store is the crawl's pebble state. It implements colly's storage.Storage (visited set,
// cookies) and queue.Storage (frontier) so that the URL sets live on disk, plus the batch
// operations the crawl's exactly-once protocol needs.
type store struct {
	db  *pebble.DB
	log *slog.Logger

	// mu serialises page completions: admission reads (seen? host count?) and the batch that
	// writes them must not interleave with another completion's.
	mu          sync.Mutex
	frontierSeq uint64 // next frontier seq (under mu)
	pairSeq     uint64 // next pending-pairs seq (under mu)
	admitted    int64  // pages admitted in total (under mu)
	outboxSeq   uint64 // next outbox seq (under mu)
	counters    map[string]int64

	readCursor uint64 // frontier seqs below it were read by next (dispatcher goroutine only)

	frontier atomic.Int64 // keys in ksFrontier
	inFlight atomic.Int64 // keys in ksInFlight
	delayed  atomic.Int64 // keys in ksDelayed
	outbox   atomic.Int64 // keys in ksOutbox
}

var (
	_ storage.Storage = (*store)(nil)
	_ queue.Storage   = (*store)(nil)
)

// pebbleLogger sends pebble's chatter to slog at debug level.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
	os.Exit(1)
}

// openStore opens (or creates) the state directory and puts pages that were in flight when the
// last run ended back into the frontier.
func openStore(dir string, log *slog.Logger) (*store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state %s: %w", dir, err)
	}
	cache := pebble.NewCache(16 << 20)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:        cache,
		MemTableSize: 4 << 20, // small: memory must not grow with the crawl
		Logger:       pebbleLogger{log},
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", dir, err)
	}
	s := &store{db: db, log: log, counters: map[string]int64{}}
	if err := s.load(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *store) Close() error {
	if err := s.db.Flush(); err != nil {
		s.db.Close()
		return fmt.Errorf("flush state: %w", err)
	}
	return s.db.Close()
}

func (s *store) getU64(k []byte) (uint64, bool, error) {
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("state get %q: %w", k, err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, false, fmt.Errorf("state: corrupt counter %q", k)
	}
	return binary.BigEndian.Uint64(v), true, nil
}

func (s *store) has(k []byte) (bool, error) {
	_, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state get: %w", err)
	}
	closer.Close()
	return true, nil
}

// prefixIter iterates the keys of one space.
func (s *store) prefixIter(space byte) (*pebble.Iterator, error) {
	return s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{space}, UpperBound: []byte{space + 1}})
}

func (s *store) countSpace(space byte) (int64, error) {
	it, err := s.prefixIter(space)
	if err != nil {
		return 0, err
	}
	var n int64
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	return n, it.Close()
}

// load reads sequences and counters and requeues in-flight pages: a page is in flight from the
// moment the dispatcher pops it until its completion batch commits, so one found here was cut
// off by the end of the last run and was never recorded as done.
func (s *store) load() error {
	var err error
	if s.frontierSeq, _, err = s.getU64(metaFrontierSeq); err != nil {
		return err
	}
	if s.pairSeq, _, err = s.getU64(metaPairSeq); err != nil {
		return err
	}
	if s.outboxSeq, _, err = s.getU64(metaOutboxSeq); err != nil {
		return err
	}
	adm, _, err := s.getU64(metaAdmitted)
	if err != nil {
		return err
	}
	s.admitted = int64(adm)

	it, err := s.prefixIter(ksInFlight)
	if err != nil {
		return err
	}
	b := s.db.NewBatch()
	requeued := 0
	for it.First(); it.Valid(); it.Next() {
		seq := binary.BigEndian.Uint64(it.Key()[1:])
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return fmt.Errorf("state: read in-flight: %w", err)
		}
		b.Set(key8(ksFrontier, seq), v, nil)
		b.Delete(it.Key(), nil)
		requeued++
	}
	if err := it.Close(); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("state: requeue in-flight: %w", err)
	}
	if requeued > 0 {
		s.log.Info("crawl: requeued pages that were in flight when the last run stopped", "pages", requeued)
	}

	n, err := s.countSpace(ksFrontier)
	if err != nil {
		return err
	}
	s.frontier.Store(n)
	if n, err = s.countSpace(ksDelayed); err != nil {
		return err
	}
	s.delayed.Store(n)
	if n, err = s.countSpace(ksOutbox); err != nil {
		return err
	}
	s.outbox.Store(n)

	it, err = s.prefixIter(ksCounter)
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		v := it.Value()
		if len(v) == 8 {
			s.counters[string(it.Key()[1:])] = int64(binary.BigEndian.Uint64(v))
		}
	}
	return it.Close()
}

// eachPairs passes the encoded pairs stored under space (pending or handover keys), in seq
// order, to fn, and returns how many pairs it passed; what names the space in errors.
func (s *store) eachPairs(space byte, what string, fn func(seq uint64, pairs []shards.Pair) error) (int, error) {
	it, err := s.prefixIter(space)
	if err != nil {
		return 0, err
	}
	defer it.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		seq := beU64(it.Key()[1:])
		pairs, err := decodePairs(it.Value())
		if err != nil {
			return n, fmt.Errorf("state: %s %d: %w", what, seq, err)
		}
		if err := fn(seq, pairs); err != nil {
			return n, err
		}
		n += len(pairs)
	}
	return n, it.Error()
}

// ---- colly storage.Storage ----

func (s *store) Init() error { return nil }

// Visited marks a URL id as admitted.
func (s *store) Visited(id uint64) error {
	return s.db.Set(key8(ksSeen, id), nil, pebble.NoSync)
}

// IsVisited reports whether a URL id was admitted.
func (s *store) IsVisited(id uint64) (bool, error) { return s.has(key8(ksSeen, id)) }

// Cookies returns the cookies stored for u's host (the crawl itself runs without cookies).
func (s *store) Cookies(u *url.URL) string {
	v, closer, err := s.db.Get(keyStr(ksCookie, strings.ToLower(u.Host)))
	if err != nil {
		return ""
	}
	defer closer.Close()
	return string(v)
}

// SetCookies stores cookies for u's host.
func (s *store) SetCookies(u *url.URL, cookies string) {
	if err := s.db.Set(keyStr(ksCookie, strings.ToLower(u.Host)), []byte(cookies), pebble.NoSync); err != nil {
		s.log.Warn("crawl: store cookies", "host", u.Host, "err", err)
	}
}

// ---- colly queue.Storage ----

// AddRequest appends a serialised colly request to the frontier.
func (s *store) AddRequest(r []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.db.NewBatch()
	b.Set(key8(ksFrontier, s.frontierSeq), r, nil)
	b.Set(metaFrontierSeq, u64(s.frontierSeq+1), nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("state: add to frontier: %w", err)
	}
	s.frontierSeq++
	s.frontier.Add(1)
	return nil
}

// GetRequest pops the oldest frontier request into the in-flight space (nil when empty).
func (s *store) GetRequest() ([]byte, error) {
	var seq uint64
	var v []byte
	if err := s.readAhead(1, func(sq uint64, data []byte) { seq, v = sq, data }); err != nil || v == nil {
		return nil, err
	}
	return v, s.start(seq, v)
}

// QueueSize is the number of requests in the frontier.
func (s *store) QueueSize() (int, error) { return int(s.frontier.Load()), nil }

// readAhead passes up to n frontier items after the ones it passed before, oldest first, to fn,
// leaving them in the frontier: the dispatcher reads ahead into its window and moves an item to
// the in-flight space (start) only when it hands it to a worker. Only one goroutine reads; the
// cursor skips the items read before, in the window or started.
func (s *store) readAhead(n int, fn func(seq uint64, data []byte)) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: key8(ksFrontier, s.readCursor), UpperBound: []byte{ksFrontier + 1}})
	if err != nil {
		return err
	}
	for ok := it.First(); ok && n > 0; ok = it.Next() {
		seq := binary.BigEndian.Uint64(it.Key()[1:])
		fn(seq, append([]byte(nil), it.Value()...))
		s.readCursor = seq + 1
		n--
	}
	return it.Close()
}

// start moves frontier item seq (value v, as next returned it) to the in-flight space.
func (s *store) start(seq uint64, v []byte) error {
	b := s.db.NewBatch()
	b.Delete(key8(ksFrontier, seq), nil)
	b.Set(key8(ksInFlight, seq), v, nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("state: pop frontier: %w", err)
	}
	s.frontier.Add(-1)
	s.inFlight.Add(1)
	return nil
}

// releaseDue moves delayed items whose time has come back to the frontier (with new seqs, so
// they queue behind what is there). It returns how many moved and when the next one is due.
func (s *store) releaseDue(nowNS int64) (moved int, nextDue int64, err error) {
	it, err := s.prefixIter(ksDelayed)
	if err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.db.NewBatch()
	for it.First(); it.Valid(); it.Next() {
		due := int64(binary.BigEndian.Uint64(it.Key()[1:9]))
		if due > nowNS {
			nextDue = due
			break
		}
		b.Set(key8(ksFrontier, s.frontierSeq+uint64(moved)), append([]byte(nil), it.Value()...), nil)
		b.Delete(append([]byte(nil), it.Key()...), nil)
		moved++
	}
	if err := it.Close(); err != nil {
		return 0, 0, err
	}
	if moved == 0 {
		return 0, nextDue, nil
	}
	b.Set(metaFrontierSeq, u64(s.frontierSeq+uint64(moved)), nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		return 0, 0, fmt.Errorf("state: release delayed: %w", err)
	}
	s.frontierSeq += uint64(moved)
	s.frontier.Add(int64(moved))
	s.delayed.Add(int64(-moved))
	return moved, nextDue, nil
}

// fileRecords lists the pair files the store knows as committed.
func (s *store) fileRecords() (map[int]fileRecord, int, error) {
	it, err := s.prefixIter(ksFile)
	if err != nil {
		return nil, 0, err
	}
	recs := map[int]fileRecord{}
	next := 0
	for it.First(); it.Valid(); it.Next() {
		idx := int(binary.BigEndian.Uint64(it.Key()[1:]))
		var r fileRecord
		if err := json.Unmarshal(it.Value(), &r); err != nil {
			it.Close()
			return nil, 0, fmt.Errorf("state: file record %d: %w", idx, err)
		}
		recs[idx] = r
		next = idx + 1
	}
	return recs, next, it.Close()
}

// saveDuration adds d to the crawl time accumulated over runs.
func (s *store) addDuration(ns int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters["duration_ns"] += ns
	return s.db.Set(keyStr(ksCounter, "duration_ns"), u64(uint64(s.counters["duration_ns"])), pebble.NoSync)
}
