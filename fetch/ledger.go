package fetch

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/witdata/wit/internal/atomicfile"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// The ledger is what makes a rerun continue exactly where the last one stopped. Every committed
// shard has a stats record (NNNNN_stats.json) listing, as ranges, the input positions it accounts
// for — its rows and the items that failed since the shard before it (those are listed with their
// reason in NNNNN_failed.jsonl). Both files are written, fsynced and renamed before the shard file
// itself is renamed into place, so a position is "done" exactly when a shard that holds it, or a
// failures-only record, is visible. Records whose shard never made it (killed between the two
// renames) are removed on startup.

// failedRecord is one line of NNNNN_failed.jsonl.
type failedRecord struct {
	Seq    int64  `json:"seq"` // input position
	Reason string `json:"reason"`
	Error  string `json:"error,omitempty"`
	Item
}

// bitset is a growable set of non-negative int64.
type bitset struct{ words []uint64 }

func (b *bitset) has(i int64) bool {
	w := i >> 6
	return w < int64(len(b.words)) && b.words[w]&(1<<(uint(i)&63)) != 0
}

func (b *bitset) set(i int64) {
	w := int(i >> 6)
	if w >= len(b.words) {
		b.words = slices.Grow(b.words, w+1-len(b.words))[:w+1]
	}
	b.words[w] |= 1 << (uint(i) & 63)
}

func (b *bitset) clear(i int64) {
	if w := int(i >> 6); w < len(b.words) {
		b.words[w] &^= 1 << (uint(i) & 63)
	}
}

// toRanges sorts seqs and returns them as half-open [start, end) ranges.
func toRanges(seqs []int64) [][2]int64 {
	if len(seqs) == 0 {
		return nil
	}
	slices.Sort(seqs)
	var out [][2]int64
	start, prev := seqs[0], seqs[0]
	for _, s := range seqs[1:] {
		if s == prev || s == prev+1 {
			prev = s
			continue
		}
		out = append(out, [2]int64{start, prev + 1})
		start, prev = s, s
	}
	return append(out, [2]int64{start, prev + 1})
}

// ledger is the state recovered from an output directory.
type ledger struct {
	done      bitset // input positions accounted for by a visible record
	records   []int  // indices with a valid stats record, ascending
	stats     map[int]*shards.ShardStats
	nextIndex int // first free shard number
	manifest  *shards.Manifest
}

// shardNumbers are the shard numbers a run owns in its shard folder: [first, limit), or every
// number when limit is 0.
type shardNumbers struct{ first, limit int }

func shardRange(first, limit int) shardNumbers { return shardNumbers{first, limit} }

func (r shardNumbers) has(n int) bool { return r.limit == 0 || n >= r.first && n < r.limit }

// listPrefix is a name prefix that every file of the range starts with ("" for every number):
// on object storage a listing by it returns the range's objects, not the whole shared folder's.
func (r shardNumbers) listPrefix() string {
	if r.limit == 0 {
		return ""
	}
	a, b := fmt.Sprintf("%05d", r.first), fmt.Sprintf("%05d", r.limit-1)
	if len(a) != len(b) {
		return ""
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	return a[:i]
}

// leadingNumber is the number a shard file, record or one of their temporary files starts with
// ("00012.arrow.tmp-x", "00012_stats.json.tmp-y" -> 12).
func leadingNumber(name string) (int, bool) {
	i := strings.IndexAny(name, "._")
	if i <= 0 {
		return 0, false
	}
	n, err := strconv.Atoi(name[:i])
	return n, err == nil && n >= 0
}

// loadLedger cleans up after a killed run and reads the records of dir (a local directory or a
// folder on object storage, where a killed run leaves no temporary objects to clean), of the
// shard numbers owns (a folder shared by several runs holds others' too, never touched).
func loadLedger(ctx context.Context, d storage.Dir, owns shardNumbers, log *slog.Logger) (*ledger, error) {
	dir := d.String()
	if owns.limit == 0 {
		if err := shards.CleanTemp(dir); err != nil {
			return nil, err
		}
		if err := shards.CleanAtomicTemp(dir); err != nil {
			return nil, err
		}
	}
	all, err := d.List(ctx, owns.listPrefix())
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	var entries []storage.Info
	for _, e := range all {
		n, numbered := leadingNumber(e.Name)
		if numbered && !owns.has(n) {
			continue
		}
		if !e.IsDir && numbered && strings.Contains(e.Name, atomicfile.TempMarker) {
			// A shard or record a killed run never committed (local disk only).
			if err := d.Delete(ctx, e.Name); err != nil {
				return nil, fmt.Errorf("fetch: remove stale %s: %w", e.Name, err)
			}
			continue
		}
		entries = append(entries, e)
	}
	l := &ledger{stats: map[int]*shards.ShardStats{}}
	arrows := map[int]bool{}
	failedFiles := map[int]string{}
	for _, e := range entries {
		name := e.Name
		if n, ok := shards.FileIndex(name); ok && !e.IsDir {
			arrows[n] = true
			l.nextIndex = max(l.nextIndex, n+1)
		}
		if num, ok := strings.CutSuffix(name, "_failed.jsonl"); ok {
			if n, err := strconv.Atoi(num); err == nil && n >= 0 && name == shards.FailedName(n) {
				failedFiles[n] = name
			}
		}
	}
	for _, e := range entries {
		n, ok := shards.StatsIndex(e.Name)
		if !ok {
			continue
		}
		path := storage.Join(dir, e.Name)
		st, err := shards.ReadShardStats(path)
		if err != nil {
			return nil, fmt.Errorf("fetch: %w (remove it and its shard to redo those items)", err)
		}
		if st.File != "" && !arrows[n] {
			// Written in the commit of a shard whose rename never happened: those items are
			// not done.
			log.Warn("fetch: removing the record of a shard that was never committed", "stats", path)
			for _, name := range []string{e.Name, shards.FailedName(n)} {
				if err := d.Delete(ctx, name); err != nil {
					return nil, fmt.Errorf("fetch: %w", err)
				}
			}
			delete(failedFiles, n)
			continue
		}
		l.records = append(l.records, n)
		l.nextIndex = max(l.nextIndex, n+1)
		for _, r := range st.InputRanges {
			for s := r[0]; s < r[1]; s++ {
				l.done.set(s)
			}
		}
		// The bitset holds the positions now. A record's ranges can be one per item (a
		// distributed fetch's partition is spread over the input), so they are not kept:
		// retrySource reads them again.
		st.InputRanges = nil
		l.stats[n] = st
	}
	slices.Sort(l.records)
	for n, name := range failedFiles {
		if _, ok := l.stats[n]; !ok {
			if err := d.Delete(ctx, name); err != nil {
				return nil, fmt.Errorf("fetch: %w", err)
			}
		}
	}
	for n := range arrows {
		if _, ok := l.stats[n]; !ok {
			log.Warn("fetch: shard without a stats record; its input items are unknown and will not be skipped", "file", shards.FileName(n))
		}
	}
	m, err := shards.BuildManifestFunc(dir, func(name string) bool {
		n, ok := shards.FileIndex(name)
		return ok && owns.has(n)
	})
	if err != nil {
		return nil, err
	}
	l.manifest = m
	return l, nil
}

// retrySource yields the failed items whose latest record is a failure with one of reasons
// (nil: any), each once, newest record first, with their original input positions.
func (l *ledger) retrySource(dir storage.Dir, reasons []string) iter.Seq2[job, error] {
	return func(yield func(job, error) bool) {
		var lastFailed, yielded bitset
		// Pass 1, oldest first: a position's latest record wins.
		for _, n := range l.records {
			st := l.stats[n]
			full, err := shards.ReadShardStats(storage.Join(dir.String(), shards.StatsName(n)))
			if err != nil {
				yield(job{}, fmt.Errorf("fetch: %w", err))
				return
			}
			for _, r := range full.InputRanges {
				for s := r[0]; s < r[1]; s++ {
					lastFailed.clear(s)
				}
			}
			if st.FailedFile == "" {
				continue
			}
			for rec, err := range readFailed(storage.Join(dir.String(), st.FailedFile)) {
				if err != nil {
					yield(job{}, err)
					return
				}
				lastFailed.set(rec.Seq)
			}
		}
		// Pass 2, newest first: yield each still-failed position from its latest record.
		for _, n := range slices.Backward(l.records) {
			st := l.stats[n]
			if st.FailedFile == "" {
				continue
			}
			for rec, err := range readFailed(storage.Join(dir.String(), st.FailedFile)) {
				if err != nil {
					yield(job{}, err)
					return
				}
				if !lastFailed.has(rec.Seq) || yielded.has(rec.Seq) {
					continue
				}
				yielded.set(rec.Seq)
				if len(reasons) > 0 && !slices.Contains(reasons, rec.Reason) {
					continue
				}
				// An item that crashed a run is decoded alone: if it crashes this one too, the
				// journal names it again.
				if !yield(job{seq: rec.Seq, item: rec.Item, alone: rec.Reason == ReasonCrashed}, nil) {
					return
				}
			}
		}
	}
}

func readFailed(path string) iter.Seq2[failedRecord, error] {
	return func(yield func(failedRecord, error) bool) {
		f, err := storage.OpenFile(context.Background(), path)
		if err != nil {
			yield(failedRecord{}, fmt.Errorf("fetch: %w", err))
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		line := 0
		for sc.Scan() {
			line++
			var rec failedRecord
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				yield(failedRecord{}, fmt.Errorf("fetch: %s:%d: %w", path, line, err))
				return
			}
			if !yield(rec, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(failedRecord{}, fmt.Errorf("fetch: read %s: %w", path, err))
		}
	}
}

// Recorded sums what the stats records of a run's shard numbers account for. A distributed
// fetch reads it before and after each run of a slice: the difference is what the slice's runs
// did, counted once even when a run was cut off and the next one skipped what it had recorded.
type Recorded struct {
	Items     int64            `json:"items"`     // input items accounted for: successes + failures
	Successes int64            `json:"successes"` // rows in the shards
	Failures  map[string]int64 `json:"failures"`  // failed items by reason
	Shards    int              `json:"shards"`    // shard files
	Bytes     int64            `json:"bytes"`     // their size
	// Downloaded is what was received for the items, successful or not.
	Downloaded int64 `json:"downloaded"`
}

// ReadRecorded reads the stats records of shard numbers [first, limit) in dir (a local path or
// an object-store URL; limit 0: every number). Like a resuming run, it leaves out a record whose
// shard was never committed; unlike one, it changes nothing.
func ReadRecorded(ctx context.Context, dir string, first, limit int) (Recorded, error) {
	rec := Recorded{Failures: map[string]int64{}}
	d, err := storage.Open(ctx, dir)
	if err != nil {
		return rec, fmt.Errorf("fetch: %w", err)
	}
	owns := shardRange(first, limit)
	entries, err := d.List(ctx, owns.listPrefix())
	if err != nil {
		if storage.IsNotExist(err) {
			return rec, nil
		}
		return rec, fmt.Errorf("fetch: %w", err)
	}
	arrows := map[int]bool{}
	for _, e := range entries {
		if n, ok := shards.FileIndex(e.Name); ok && !e.IsDir && owns.has(n) {
			arrows[n] = true
		}
	}
	for _, e := range entries {
		n, ok := shards.StatsIndex(e.Name)
		if !ok || e.IsDir || !owns.has(n) {
			continue
		}
		st, err := shards.ReadShardStats(storage.Join(dir, e.Name))
		if err != nil {
			return rec, fmt.Errorf("fetch: %w", err)
		}
		if st.File != "" {
			if !arrows[n] {
				continue
			}
			rec.Shards++
			rec.Bytes += st.Bytes
		}
		rec.Items += st.Count
		rec.Successes += st.Successes
		rec.Downloaded += st.DownloadedBytes
		for r, k := range st.Failures {
			rec.Failures[r] += k
		}
	}
	return rec, nil
}

// Since is what r holds beyond an earlier reading of the same records.
func (r Recorded) Since(before Recorded) Recorded {
	d := Recorded{Items: r.Items - before.Items, Successes: r.Successes - before.Successes,
		Shards: r.Shards - before.Shards, Bytes: r.Bytes - before.Bytes, Downloaded: r.Downloaded - before.Downloaded,
		Failures: map[string]int64{}}
	for k, n := range r.Failures {
		if n -= before.Failures[k]; n != 0 {
			d.Failures[k] = n
		}
	}
	return d
}

// Failed is the number of failed items.
func (r Recorded) Failed() int64 { return sumCounts(r.Failures) }
