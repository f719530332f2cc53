package filter

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/witdata/wit/internal/input"
	"github.com/witdata/wit/internal/storage"
)

// Stats summarises one run; it is written as JSON (filter-stats.json) and printed.
type Stats struct {
	Input         string           `json:"input"`
	Output        string           `json:"output"`
	RowsRead      int64            `json:"rows_read"` // rows + bad rows
	BadRows       map[string]int64 `json:"bad_rows"`  // malformed input rows skipped, by reason (see bad-rows.jsonl)
	Rows          int64            `json:"rows"`      // rows judged: kept + dropped
	Kept          int64            `json:"kept"`
	Dropped       map[Reason]int64 `json:"dropped"`        // by reason; every reason listed
	RepairedUTF8  int64            `json:"repaired_utf8"`  // captions whose invalid UTF-8 bytes were removed
	Languages     map[string]int64 `json:"languages"`      // language mix of captions that reached the language stage
	LanguageStage LanguageCounts   `json:"language_stage"` // how the language stage answered
	Balance       *BalanceStats    `json:"balance,omitempty"`
	Seconds       float64          `json:"seconds"`
	RowsPerSecond float64          `json:"rows_per_second"`
}

// LanguageCounts says how the language stage answered.
type LanguageCounts struct {
	ScriptPrecheck int64 `json:"script_precheck"` // rejected by script, lingua not asked
	Lexical        int64 `json:"lexical"`         // settled by function words, lingua not asked
	NgramScorer    int64 `json:"ngram_scorer"`    // settled by the n-gram scorer, lingua not asked
	CacheHits      int64 `json:"cache_hits"`
	Lingua         int64 `json:"lingua"` // lingua asked
}

// BalanceStats describes the query entries' match counts over the pool (the pairs that passed
// every stage but balancing) and the balancing settings.
type BalanceStats struct {
	Mode              string       `json:"mode"`      // exact, online, or off
	Threshold         int          `json:"threshold"` // t
	Seed              uint64       `json:"seed"`
	Entries           int          `json:"entries"`              // size of the query list
	EntriesMatched    int          `json:"entries_matched"`      // entries with >= 1 match
	EntriesOverT      int          `json:"entries_over_t"`       // entries with > t matches
	Matches           int64        `json:"matches"`              // (pair, entry) matches
	ShareMatchesOverT float64      `json:"share_matches_over_t"` // share of matches held by entries over t
	Top               []EntryCount `json:"top_entries"`
}

// EntryCount is one query entry's matches and its keep probability.
type EntryCount struct {
	Entry string  `json:"entry"`
	Count int64   `json:"count"`
	P     float64 `json:"p"`
}

func newStats(o Options) *Stats {
	s := &Stats{Input: o.In, Output: o.Out, Dropped: map[Reason]int64{}, Languages: map[string]int64{}, BadRows: map[string]int64{}}
	for _, r := range AllReasons {
		s.Dropped[r] = 0
	}
	if o.Stages.Matcher != nil {
		mode := o.Mode
		if o.Threshold == 0 {
			mode = "off"
		}
		s.Balance = &BalanceStats{Mode: mode, Threshold: o.Threshold, Seed: o.Seed}
	}
	return s
}

func (s *Stats) add(v *rowVerdict) {
	s.Rows++
	if v.reason == Kept {
		s.Kept++
	} else {
		s.Dropped[v.reason]++
	}
	if v.Repaired {
		s.RepairedUTF8++
	}
	if v.LangChecked {
		s.Languages[v.Lang.Code()]++
		switch {
		case v.Lang.ByScript:
			s.LanguageStage.ScriptPrecheck++
		case v.Lang.ByLexical:
			s.LanguageStage.Lexical++
		case v.Lang.ByFast:
			s.LanguageStage.NgramScorer++
		case v.Lang.Cached:
			s.LanguageStage.CacheHits++
		default:
			s.LanguageStage.Lingua++
		}
	}
}

// addBadRows adds the malformed rows the reader skipped.
func (s *Stats) addBadRows(counts map[string]int64) {
	for k, v := range counts {
		s.BadRows[k] += v
	}
}

// BadRowsTotal is the number of malformed input rows skipped.
func (s *Stats) BadRowsTotal() int64 {
	var n int64
	for _, v := range s.BadRows {
		n += v
	}
	return n
}

// moveToBalance turns one kept pair into a balance drop (exact mode's second pass).
func (s *Stats) moveToBalance() {
	s.Kept--
	s.Dropped[ReasonBalance]++
}

func (s *Stats) finish(d time.Duration, counts []int32, m QueryMatcher, topN int) {
	s.RowsRead = s.Rows + s.BadRowsTotal()
	s.Seconds = d.Seconds()
	if s.Seconds > 0 {
		s.RowsPerSecond = float64(s.Rows) / s.Seconds
	}
	if s.Balance == nil || m == nil {
		return
	}
	b := s.Balance
	b.Entries = m.Len()
	t := b.Threshold
	if t == 0 {
		t = DefaultThreshold // report the head against CLIP's t even when not balancing
	}
	var over int64
	type ec struct {
		id int32
		n  int32
	}
	var top []ec
	for id, n := range counts {
		if n == 0 {
			continue
		}
		b.EntriesMatched++
		b.Matches += int64(n)
		if int(n) > t {
			b.EntriesOverT++
			over += int64(n)
		}
		top = append(top, ec{int32(id), n})
	}
	if b.Matches > 0 {
		b.ShareMatchesOverT = float64(over) / float64(b.Matches)
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].n != top[j].n {
			return top[i].n > top[j].n
		}
		return top[i].id < top[j].id
	})
	for _, e := range top[:min(len(top), topN)] {
		b.Top = append(b.Top, EntryCount{Entry: m.Entry(e.id), Count: int64(e.n), P: KeepProbability(t, int64(e.n))})
	}
}

// writeJSONAtomic writes v as indented JSON to path (a local path, whose directory is created,
// or an object-store URL) atomically.
func writeJSONAtomic(path string, v any) error {
	if err := storage.WriteJSON(context.Background(), path, v); err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	return nil
}

// WriteSummary prints the human summary of a run.
func (s *Stats) WriteSummary(w io.Writer) {
	pct := func(n int64) float64 { return 100 * float64(n) / float64(max(1, s.Rows)) }
	fmt.Fprintf(w, "rows read %d  malformed %d  judged %d  kept %d (%.1f%%)  in %.1fs (%.0f rows/s)\n",
		s.RowsRead, s.BadRowsTotal(), s.Rows, s.Kept, pct(s.Kept), s.Seconds, s.RowsPerSecond)
	if n := s.BadRowsTotal(); n > 0 {
		fmt.Fprintf(w, "malformed rows skipped (listed in %s):\n", filepath.Join(s.Output, input.BadRowsFile))
		for _, k := range slices.Sorted(maps.Keys(s.BadRows)) {
			fmt.Fprintf(w, "  %-18s %10d\n", k, s.BadRows[k])
		}
	}
	fmt.Fprintln(w, "dropped:")
	for _, r := range AllReasons {
		if n := s.Dropped[r]; n > 0 {
			fmt.Fprintf(w, "  %-18s %10d  %5.1f%%\n", r, n, pct(n))
		}
	}
	if s.RepairedUTF8 > 0 {
		fmt.Fprintf(w, "repaired invalid UTF-8 in %d captions\n", s.RepairedUTF8)
	}
	if len(s.Languages) > 0 {
		type kv struct {
			k string
			v int64
		}
		var langs []kv
		var total int64
		for k, v := range s.Languages {
			langs = append(langs, kv{k, v})
			total += v
		}
		slices.SortFunc(langs, func(a, b kv) int {
			if a.v != b.v {
				return int(b.v - a.v)
			}
			return strings.Compare(a.k, b.k)
		})
		var parts []string
		for _, l := range langs[:min(len(langs), 12)] {
			parts = append(parts, fmt.Sprintf("%s %.1f%%", l.k, 100*float64(l.v)/float64(total)))
		}
		ls := s.LanguageStage
		fmt.Fprintf(w, "languages (%d captions): %s\n", total, strings.Join(parts, ", "))
		fmt.Fprintf(w, "language stage: %d by script pre-check, %d by function words, %d by n-gram scorer, %d cached, %d by lingua\n", ls.ScriptPrecheck, ls.Lexical, ls.NgramScorer, ls.CacheHits, ls.Lingua)
	}
	if b := s.Balance; b != nil {
		t := b.Threshold
		if t == 0 {
			t = DefaultThreshold
		}
		fmt.Fprintf(w, "query entries: %d of %d matched; %d over t=%d hold %.1f%% of %d matches (balancing: %s)\n",
			b.EntriesMatched, b.Entries, b.EntriesOverT, t, 100*b.ShareMatchesOverT, b.Matches, b.Mode)
		var parts []string
		for _, e := range b.Top[:min(len(b.Top), 10)] {
			parts = append(parts, fmt.Sprintf("%s %d", e.Entry, e.Count))
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "top entries: %s\n", strings.Join(parts, ", "))
		}
	}
}
