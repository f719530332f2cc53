package fetch

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/witdata/wit/imgproc"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// sampleWriter is the single goroutine that turns results into shards: rows go to a
// shards.Writer, failures to a temporary NNNNN_failed.jsonl, and each commit writes the shard's
// stats record (the ledger) before the shard becomes visible, then updates manifest.json.
type sampleWriter struct {
	ctx      context.Context
	d        storage.Dir
	dir      string // d's location
	metaDir  string // where manifest.json goes: dir, or Config.Out when the shards go to Config.ShardDir
	limit    int    // first shard number past this run's range (0: none)
	opts     shards.WriterOptions
	w        *shards.Writer
	cur      int // number of the shard being written
	row      int // rows appended to it
	manifest *shards.Manifest

	seqs     []int64 // input positions accounted for since the last record
	failures map[string]int64
	nFailed  int64
	received int64          // bytes downloaded for the items of the pending record
	failed   storage.Writer // NNNNN_failed.jsonl of shard cur, until its record is written
	failName string
	failBuf  *bufio.Writer
	start    time.Time // first item of the current record

	onCommit  func(c shards.Commit, st *shards.ShardStats) // stats hook (may be nil)
	sample    shards.Sample                                // reused row
	lastStats *shards.ShardStats                           // handed from beforeCommit to afterCommit
}

func newSampleWriter(d storage.Dir, metaDir string, first int, m *shards.Manifest, cfg *Config) (*sampleWriter, error) {
	sw := &sampleWriter{ctx: context.Background(), d: d, dir: d.String(), metaDir: metaDir, cur: first, manifest: m, failures: map[string]int64{}}
	if cfg.ShardDir != "" {
		sw.limit = cfg.ShardLimit
	}
	// Small batches bound the builder's memory (~BatchRows images) and keep the int32 offsets
	// of the image column far from overflowing even for unresized originals.
	batch := 256
	if cfg.ResizeMode == "no" {
		batch = 16
	}
	sw.opts = shards.WriterOptions{
		RowsPerFile:  cfg.SamplesPerShard,
		MaxFileBytes: cfg.MaxShardBytes,
		BatchRows:    batch,
		FirstIndex:   first,
		Metadata:     shards.SampleMetadata(),
		BeforeCommit: sw.beforeCommit,
		AfterCommit:  sw.afterCommit,
		SharedDir:    cfg.ShardDir != "",
	}
	if cfg.MaxShardBytes > 0 {
		// Rotation is checked after each batch: smaller batches overshoot the limit less.
		sw.opts.BatchRows = min(batch, 32)
	}
	w, err := shards.NewWriter(sw.dir, shards.SampleSchema, sw.opts)
	if err != nil {
		return nil, err
	}
	sw.w = w
	return sw, nil
}

func (sw *sampleWriter) touch() {
	if sw.start.IsZero() {
		sw.start = time.Now()
	}
}

// add appends a processed image as the next row.
func (sw *sampleWriter) add(seq int64, it *Item, res *imgproc.Result) error {
	sw.touch()
	s := &sw.sample
	*s = shards.Sample{
		Key:            shards.SampleKey(sw.cur, sw.row),
		Image:          res.JPEG,
		Caption:        it.Caption,
		URL:            it.URL,
		PageURL:        it.PageURL,
		CaptionSource:  it.CaptionSource,
		Width:          res.Width,
		Height:         res.Height,
		OriginalWidth:  res.OrigWidth,
		OriginalHeight: res.OrigHeight,
		SHA256:         hex.EncodeToString(res.SHA256[:]),
		PHash:          res.PHash,
		MatchedQueries: it.MatchedQueries,
		Language:       it.Language,
	}
	shards.AppendSample(sw.w.Builder(), s)
	sw.seqs = append(sw.seqs, seq)
	sw.row++
	sw.sample = shards.Sample{}
	return sw.w.EndRow()
}

// fail records a failed item in the pending failed list.
func (sw *sampleWriter) fail(seq int64, it *Item, reason string, err error) error {
	sw.touch()
	if sw.failed == nil {
		// The list belongs to the record of shard cur (written at its commit, or as a
		// failures-only record numbered cur), so its final name is known now.
		name := shards.FailedName(sw.cur)
		f, err := sw.d.Create(sw.ctx, name)
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		sw.failed, sw.failName, sw.failBuf = f, name, bufio.NewWriterSize(f, 64<<10)
	}
	rec := failedRecord{Seq: seq, Reason: reason, Item: *it}
	if err != nil {
		rec.Error = err.Error()
	}
	line, jerr := json.Marshal(&rec)
	if jerr != nil {
		return fmt.Errorf("fetch: encode failed item: %w", jerr)
	}
	sw.failBuf.Write(line)
	if werr := sw.failBuf.WriteByte('\n'); werr != nil {
		return fmt.Errorf("fetch: write %s: %w", sw.failName, werr)
	}
	sw.seqs = append(sw.seqs, seq)
	sw.failures[reason]++
	sw.nFailed++
	return nil
}

// pendingRows reports whether rows wait for the next commit.
func (sw *sampleWriter) pendingRows() bool { return sw.row > 0 }

// writeRecord finishes the pending failed list and writes the stats record for shard index.
func (sw *sampleWriter) writeRecord(index int, c *shards.Commit) (*shards.ShardStats, error) {
	if sw.limit > 0 && index >= sw.limit {
		// The numbers past the range are another run's in a shared shard folder.
		return nil, fmt.Errorf("fetch: shard %d is past this run's range (shard_limit %d)", index, sw.limit)
	}
	end := time.Now()
	st := &shards.ShardStats{
		Count:           int64(len(sw.seqs)),
		Failures:        sw.failures,
		StartTime:       sw.start.UTC(),
		EndTime:         end.UTC(),
		DurationS:       end.Sub(sw.start).Seconds(),
		InputRanges:     toRanges(sw.seqs),
		DownloadedBytes: sw.received,
	}
	if c != nil {
		st.File = storage.Base(c.Path)
		st.Successes = int64(c.Rows)
		st.Bytes = c.Bytes
	}
	if sw.failed != nil {
		st.FailedFile = shards.FailedName(index)
		if sw.failName != st.FailedFile {
			return nil, fmt.Errorf("fetch: internal error: failed list %s recorded as %s", sw.failName, st.FailedFile)
		}
		if err := sw.failBuf.Flush(); err != nil {
			return nil, fmt.Errorf("fetch: write %s: %w", sw.failName, err)
		}
		if err := sw.failed.Commit(); err != nil {
			return nil, fmt.Errorf("fetch: %w", err)
		}
		sw.failed, sw.failBuf = nil, nil
	}
	if err := storage.WriteJSON(sw.ctx, storage.Join(sw.dir, shards.StatsName(index)), st); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	sw.seqs = sw.seqs[:0]
	sw.failures = map[string]int64{}
	sw.nFailed = 0
	sw.received = 0
	sw.start = time.Time{}
	return st, nil
}

func (sw *sampleWriter) beforeCommit(c shards.Commit) error {
	st, err := sw.writeRecord(c.Index, &c)
	if err != nil {
		return err
	}
	sw.lastStats = st
	return nil
}

func (sw *sampleWriter) afterCommit(c shards.Commit) error {
	sw.cur = c.Index + 1
	sw.row = 0
	sw.manifest.Add(shards.ShardInfo{File: storage.Base(c.Path), Count: int64(c.Rows), Bytes: c.Bytes})
	if sw.onCommit != nil {
		sw.onCommit(c, sw.lastStats)
	}
	return shards.WriteManifest(sw.metaDir, sw.manifest)
}

// flushFailures writes a failures-only record when many failures wait and no rows do, so that a
// long run of failures becomes durable without waiting for the next shard.
func (sw *sampleWriter) flushFailures(threshold int64) error {
	if sw.nFailed < threshold || sw.pendingRows() {
		return nil
	}
	return sw.failuresOnly()
}

func (sw *sampleWriter) failuresOnly() error {
	if _, err := sw.writeRecord(sw.cur, nil); err != nil {
		return err
	}
	sw.cur++
	// The shard writer has no open file (no pending rows): start a fresh one past the number
	// the record took.
	if err := sw.w.Abort(); err != nil {
		return err
	}
	sw.opts.FirstIndex = sw.cur
	w, err := shards.NewWriter(sw.dir, shards.SampleSchema, sw.opts)
	if err != nil {
		return err
	}
	sw.w = w
	return nil
}

// close commits the last shard and, when failures remain unrecorded, a failures-only record.
func (sw *sampleWriter) close() error {
	if err := sw.w.Close(); err != nil {
		sw.abort()
		return err
	}
	if len(sw.seqs) > 0 {
		if _, err := sw.writeRecord(sw.cur, nil); err != nil {
			return err
		}
		sw.cur++
	}
	return nil
}

// abort drops everything not committed (a resumed run redoes those items).
func (sw *sampleWriter) abort() error {
	err := sw.w.Abort()
	if sw.failed != nil {
		sw.failed.Abort()
		sw.failed, sw.failBuf = nil, nil
	}
	return errors.Join(err)
}
