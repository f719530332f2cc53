package crawl

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Link is a URL admitted to another crawl's frontier: a distributed crawl (package dist/stages)
// runs one crawl per partition of the hosts and forwards the links each finds to the owners of
// their hosts.
type Link struct {
	URL   string `json:"url"`
	Host  string `json:"host"`
	Root  string `json:"root"` // the scope root of the page it was found on
	Depth int    `json:"depth"`
}

// OutboxBatch is the links of outbox entries First..Last (the pages completed since the last
// forward), handed to Config.Forward together. The same entries forwarded twice (the process
// died between the forward and their deletion) have the same First and Last when nothing was
// added in between, which the forwarder can use to de-duplicate; otherwise the receiver's
// visited set drops the repeats.
type OutboxBatch struct {
	First, Last uint64
	Links       []Link
}

// Inbox delivers links other crawls forwarded to this one. Next returns what is waiting (nil
// when nothing is) and an ack to call once the links are durably admitted.
type Inbox interface {
	Next(ctx context.Context) (links []Link, ack func() error, err error)
}

// PartitionOf is the partition, among n, of a host: a hash of its registered domain, so that
// every host of a site (www., cdn., and the bare domain) belongs to one partition and per-host
// politeness, robots.txt and page caps are decided in one place.
func PartitionOf(host string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(registeredDomain(host)))
	return int(h.Sum32() % uint32(n))
}

// MergeStats adds up the stats of the partitions of a distributed crawl. Durations add up too
// (crawl time summed over partitions); PagesPerSec is pages over wall time, which the caller
// passes.
func MergeStats(parts []Stats, wall time.Duration) Stats {
	m := Stats{PagesFailed: map[string]int64{}, PairsBySource: map[string]int64{}, Finished: len(parts) > 0}
	for _, p := range parts {
		m.PagesOK += p.PagesOK
		for k, v := range p.PagesFailed {
			m.PagesFailed[k] += v
		}
		m.RobotsBlocked += p.RobotsBlocked
		m.PagesNoIndex += p.PagesNoIndex
		m.PagesAdmitted += p.PagesAdmitted
		m.SeedsInvalid += p.SeedsInvalid
		m.Pairs += p.Pairs
		for k, v := range p.PairsBySource {
			m.PairsBySource[k] += v
		}
		m.PairsWritten += p.PairsWritten
		m.Files += p.Files
		m.Bytes += p.Bytes
		m.Frontier += p.Frontier
		m.InFlight += p.InFlight
		m.Delayed += p.Delayed
		m.Runs = max(m.Runs, p.Runs)
		m.Finished = m.Finished && p.Finished
	}
	m.Duration = wall
	m.DurationSec = wall.Seconds()
	if m.DurationSec > 0 {
		m.PagesPerSec = float64(m.Pages()) / m.DurationSec
	}
	return m
}

// WriteStats writes dir/stats.json atomically, as a crawl does.
func WriteStats(dir string, s Stats) error { return writeStatsFile(dir, s) }

func encodeLinks(links []Link) []byte { return mustJSON(links) }

func decodeLinks(b []byte) ([]Link, error) {
	var out []Link
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("state: outbox entry: %w", err)
	}
	return out, nil
}

// forwardLoop hands outbox entries to Config.Forward and deletes them, until done is closed
// and the outbox is empty or the hard context ends. A failed forward is retried.
func (cr *crawler) forwardLoop(done <-chan struct{}) {
	st := cr.st
	for {
		n, err := cr.forwardAll()
		if err != nil && cr.hardCtx.Err() == nil {
			cr.log.Warn("crawl: forwarding links to other partitions; retrying", "err", err)
		}
		if n == 0 && err == nil {
			select {
			case <-done:
				if st.outbox.Load() == 0 {
					return
				}
			default:
			}
		}
		wait := 100 * time.Millisecond
		if err != nil {
			wait = time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-cr.hardCtx.Done():
			t.Stop()
			return
		case <-cr.forwardWake:
		case <-t.C:
		}
		t.Stop()
	}
}

// forwardAll forwards every outbox entry, oldest first, and returns how many it forwarded.
func (cr *crawler) forwardAll() (int, error) {
	st := cr.st
	it, err := st.prefixIter(ksOutbox)
	if err != nil {
		return 0, err
	}
	type entry struct {
		seq   uint64
		links []Link
	}
	var entries []entry
	for it.First(); it.Valid() && len(entries) < 256; it.Next() {
		links, err := decodeLinks(it.Value())
		if err != nil {
			it.Close()
			return 0, err
		}
		entries = append(entries, entry{binary.BigEndian.Uint64(it.Key()[1:]), links})
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	if len(entries) == 0 {
		return 0, nil
	}
	// One forward for all: the forwarder sends one message (and one wake) per destination.
	b := OutboxBatch{First: entries[0].seq, Last: entries[len(entries)-1].seq}
	for _, e := range entries {
		b.Links = append(b.Links, e.links...)
	}
	if err := cr.cfg.Forward(b); err != nil {
		return 0, err
	}
	// NoSync: entries forwarded again after a crash are de-duplicated by their receiver.
	if err := st.db.DeleteRange(key8(ksOutbox, b.First), key8(ksOutbox, b.Last+1), pebble.NoSync); err != nil {
		return 0, fmt.Errorf("state: outbox: %w", err)
	}
	st.outbox.Add(-int64(len(entries)))
	return len(entries), nil
}

// pollInbox admits the links waiting in the inbox; the admission batch is synced before the
// inbox is acked, so a forwarded link is either still in the inbox or in this crawl's state.
func (cr *crawler) pollInbox(ctx context.Context) (int, error) {
	if cr.cfg.Inbox == nil {
		return 0, nil
	}
	links, ack, err := cr.cfg.Inbox.Next(ctx)
	if err != nil || len(links) == 0 {
		return 0, err
	}
	if _, _, err := cr.complete(job{}, &outcome{links: toInternal(links)}, false); err != nil {
		return 0, err
	}
	if err := cr.st.db.LogData(nil, pebble.Sync); err != nil {
		return 0, fmt.Errorf("state: sync inbox links: %w", err)
	}
	if err := ack(); err != nil {
		return 0, fmt.Errorf("inbox ack: %w", err)
	}
	return len(links), nil
}

func toInternal(ls []Link) []link {
	out := make([]link, len(ls))
	for i, l := range ls {
		out[i] = link{url: l.URL, host: l.Host, root: l.Root, depth: l.Depth}
	}
	return out
}
