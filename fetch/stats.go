package fetch

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Stats describes one run (stats.json in the output directory, the progress line and the
// summary).
type Stats struct {
	Input       string    `json:"input,omitempty"`
	Out         string    `json:"out"`
	RetryFailed bool      `json:"retry_failed,omitempty"`
	StartTime   time.Time `json:"start_time"`
	EndTime     time.Time `json:"end_time"`
	DurationS   float64   `json:"duration_s"`

	RowsRead  int64            `json:"rows_read"` // input rows read: seen + skipped + bad rows
	BadRows   map[string]int64 `json:"bad_rows"`  // malformed input rows skipped, by reason (listed in bad-rows.jsonl)
	Seen      int64            `json:"seen"`      // items read from the source (or failed items to retry)
	Skipped   int64            `json:"skipped"`   // already done by an earlier run into the same directory
	Done      int64            `json:"done"`      // successes + failed in this run
	Successes int64            `json:"successes"` // images written
	Failed    int64            `json:"failed"`
	Failures  map[string]int64 `json:"failures"`           // failed items by reason
	Canceled  int64            `json:"canceled,omitempty"` // in flight when the run stopped; redone on resume

	DownloadedBytes int64   `json:"downloaded_bytes"` // image bytes received (successful or not)
	ShardsWritten   int     `json:"shards_written"`
	BytesWritten    int64   `json:"bytes_written"`
	ImagesPerSec    float64 `json:"images_per_s"` // items done per second of the run
	SuccessRate     float64 `json:"success_rate"` // successes / done

	DatasetShards int   `json:"dataset_shards"` // shards in the output directory after the run
	DatasetCount  int64 `json:"dataset_count"`  // samples in the output directory after the run

	Interrupted bool   `json:"interrupted,omitempty"`
	Error       string `json:"error,omitempty"`
}

func (s *Stats) finish(now time.Time) {
	if !s.RetryFailed {
		s.RowsRead = s.Seen + s.Skipped + s.BadRowsTotal()
	}
	s.EndTime = now.UTC()
	d := now.Sub(s.StartTime)
	s.DurationS = d.Seconds()
	if d > 0 {
		s.ImagesPerSec = float64(s.Done) / d.Seconds()
	}
	if s.Done > 0 {
		s.SuccessRate = float64(s.Successes) / float64(s.Done)
	}
}

// MergeStats adds up the stats of runs over parts of one input (the slices of a distributed
// fetch) into the stats of the whole: counts and bytes are summed, the run spans the earliest
// start to the latest end. The dataset totals are left for the caller (they describe the merged
// directory).
func MergeStats(input, out string, parts []Stats) Stats {
	m := Stats{Input: input, Out: out, Failures: map[string]int64{}}
	for i, p := range parts {
		if i == 0 || p.StartTime.Before(m.StartTime) {
			m.StartTime = p.StartTime
		}
		if p.EndTime.After(m.EndTime) {
			m.EndTime = p.EndTime
		}
		m.Seen += p.Seen
		m.Skipped += p.Skipped
		m.Done += p.Done
		m.Successes += p.Successes
		m.Failed += p.Failed
		for r, n := range p.Failures {
			m.Failures[r] += n
		}
		m.Canceled += p.Canceled
		m.DownloadedBytes += p.DownloadedBytes
		m.ShardsWritten += p.ShardsWritten
		m.BytesWritten += p.BytesWritten
		m.Interrupted = m.Interrupted || p.Interrupted
	}
	if len(parts) > 0 {
		m.finish(m.EndTime)
	}
	return m
}

// clone returns a copy that does not share the failure map.
func (s Stats) clone() Stats {
	s.Failures = maps.Clone(s.Failures)
	s.BadRows = maps.Clone(s.BadRows)
	return s
}

// BadRowsTotal is the number of malformed input rows skipped.
func (s Stats) BadRowsTotal() int64 { return sumCounts(s.BadRows) }

// sumCounts adds up counts by reason.
func sumCounts(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// Line is the one-line progress report.
func (s Stats) Line() string {
	return fmt.Sprintf("fetch: %d done (%d ok, %d failed), %d skipped, %.1f img/s, %d shards, %s written",
		s.Done, s.Successes, s.Failed, s.Skipped, s.ImagesPerSec, s.ShardsWritten, formatBytes(s.BytesWritten))
}

// Summary is the multi-line report printed at the end of a run: totals, then failures by reason,
// most frequent first.
func (s Stats) Summary() string {
	var b strings.Builder
	if !s.RetryFailed {
		fmt.Fprintf(&b, "read %d input rows: %d items to do, %d done by an earlier run, %d malformed rows skipped\n",
			s.RowsRead, s.Seen, s.Skipped, s.BadRowsTotal())
		for _, r := range slices.Sorted(maps.Keys(s.BadRows)) {
			fmt.Fprintf(&b, "  malformed %-17s %d (see %s)\n", r, s.BadRows[r], "bad-rows.jsonl")
		}
	}
	fmt.Fprintf(&b, "fetched %d of %d items in %s (%.1f img/s, %.1f%% ok); %d skipped as already done\n",
		s.Successes, s.Done, time.Duration(s.DurationS*float64(time.Second)).Round(time.Millisecond),
		s.ImagesPerSec, 100*s.SuccessRate, s.Skipped)
	fmt.Fprintf(&b, "wrote %d shards (%s); %s now holds %d samples in %d shards\n",
		s.ShardsWritten, formatBytes(s.BytesWritten), s.Out, s.DatasetCount, s.DatasetShards)
	if s.Canceled > 0 {
		fmt.Fprintf(&b, "%d items were in flight when the run stopped; a rerun does them\n", s.Canceled)
	}
	reasons := slices.Collect(maps.Keys(s.Failures))
	slices.SortFunc(reasons, func(a, b string) int {
		return cmp.Or(cmp.Compare(s.Failures[b], s.Failures[a]), strings.Compare(a, b))
	})
	for _, r := range reasons {
		fmt.Fprintf(&b, "  failed %-20s %d\n", r, s.Failures[r])
	}
	return b.String()
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
