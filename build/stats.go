package build

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/witdata/wit/crawl"
	"github.com/witdata/wit/fetch"
	"github.com/witdata/wit/filter"
)

// Counter names of the filter stage in the queue store.
const (
	cRows      = "rows"
	cKept      = "kept"
	cRepaired  = "repaired_utf8"
	cDropPfx   = "drop/"
	cLangPfx   = "lang/"
	cStageScr  = "stage/script"
	cStageLex  = "stage/lexical"
	cStageHit  = "stage/cache"
	cStageLing = "stage/lingua"
	cStageFast = "stage/ngram"
)

// QueueStats describes the hand-off between the filter and the downloader.
type QueueStats struct {
	Items    int64 `json:"items"`    // kept items in the log (all runs)
	Consumed int64 `json:"consumed"` // items the downloader has read in this run (done ones are skipped by it)
	Lag      int64 `json:"lag"`      // items written but not yet read
}

// Stats is the state of a build: every stage's counters. Written to Out/build-stats.json.
type Stats struct {
	Out       string        `json:"out"`
	Shards    string        `json:"shards"`
	StartTime time.Time     `json:"start_time"`
	DurationS float64       `json:"duration_s"` // this run
	Crawl     crawl.Stats   `json:"crawl"`      // accumulated over runs
	Filter    *filter.Stats `json:"filter"`     // accumulated over runs
	Queue     QueueStats    `json:"queue"`
	Fetch     fetch.Stats   `json:"fetch"` // this run; dataset_count/dataset_shards are the totals
	Finished  bool          `json:"finished"`
	Error     string        `json:"error,omitempty"`
}

// filterStats rebuilds filter.Stats (the shape `wit filter` writes) from the stored counters and
// the balancer's running counts.
func filterStats(counters map[string]int64, bal *balanceView, elapsed time.Duration) *filter.Stats {
	s := &filter.Stats{Dropped: map[filter.Reason]int64{}, Languages: map[string]int64{}}
	for _, r := range filter.AllReasons {
		s.Dropped[r] = 0
	}
	for k, v := range counters {
		switch {
		case strings.HasPrefix(k, cDropPfx):
			s.Dropped[filter.Reason(k[len(cDropPfx):])] = v
		case strings.HasPrefix(k, cLangPfx):
			s.Languages[k[len(cLangPfx):]] = v
		}
	}
	s.Rows, s.Kept, s.RepairedUTF8 = counters[cRows], counters[cKept], counters[cRepaired]
	s.LanguageStage = filter.LanguageCounts{ScriptPrecheck: counters[cStageScr], Lexical: counters[cStageLex],
		CacheHits: counters[cStageHit], NgramScorer: counters[cStageFast], Lingua: counters[cStageLing]}
	s.Seconds = elapsed.Seconds()
	if s.Seconds > 0 {
		s.RowsPerSecond = float64(s.Rows) / s.Seconds
	}
	if bal != nil {
		s.Balance = bal.stats(20)
	}
	return s
}

// balanceView summarises the online balancer's counts like `wit filter` does.
type balanceView struct {
	mode    string
	t       int
	seed    uint64
	counts  []int32
	entries func(int32) string
}

func (b *balanceView) stats(topN int) *filter.BalanceStats {
	t := b.t
	if t == 0 {
		t = filter.DefaultThreshold
	}
	s := &filter.BalanceStats{Mode: b.mode, Threshold: b.t, Seed: b.seed, Entries: len(b.counts)}
	var over int64
	var top []int32
	for id, n := range b.counts {
		if n == 0 {
			continue
		}
		s.EntriesMatched++
		s.Matches += int64(n)
		if int(n) > t {
			s.EntriesOverT++
			over += int64(n)
		}
		top = append(top, int32(id))
	}
	if s.Matches > 0 {
		s.ShareMatchesOverT = float64(over) / float64(s.Matches)
	}
	sort.Slice(top, func(i, j int) bool {
		a, c := b.counts[top[i]], b.counts[top[j]]
		if a != c {
			return a > c
		}
		return top[i] < top[j]
	})
	for _, id := range top[:min(len(top), topN)] {
		n := int64(b.counts[id])
		s.Top = append(s.Top, filter.EntryCount{Entry: b.entries(id), Count: n, P: filter.KeepProbability(t, n)})
	}
	return s
}

// Line is the one-line progress report.
func (s Stats) Line() string {
	f := s.Filter
	var rows, kept int64
	if f != nil {
		rows, kept = f.Rows, f.Kept
	}
	return fmt.Sprintf("crawl %d pages (%d failed), %d pairs | filter %d kept of %d | queue %d waiting | fetch %d ok, %d failed, %.0f img/s",
		s.Crawl.Pages(), s.Crawl.Failed(), s.Crawl.Pairs, kept, rows, s.Queue.Lag, s.Fetch.Successes, s.Fetch.Failed, s.Fetch.ImagesPerSec)
}

// WriteSummary prints every stage's summary.
func (s Stats) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "== crawl\n%s\n", s.Crawl.Summary())
	if s.Filter != nil {
		fmt.Fprintln(w, "== filter")
		s.Filter.WriteSummary(w)
	}
	fmt.Fprintf(w, "== fetch\n%s", s.Fetch.Summary())
	fmt.Fprintf(w, "== build: %s in %s; queue %d items; shards in %s; stats in %s\n",
		map[bool]string{true: "finished", false: "stopped"}[s.Finished],
		time.Duration(s.DurationS*float64(time.Second)).Round(time.Millisecond), s.Queue.Items, s.Shards,
		s.Out+"/"+StatsFile)
}
