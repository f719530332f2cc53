package view

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/witdata/wit/shards"
)

// Histogram bounds: longer captions count in the last bucket.
const (
	maxCaptionChars = 1000
	maxCaptionWords = 200
	topListed       = 50     // languages, image sizes and query entries listed by name
	maxDistinctSize = 100000 // distinct stored image sizes counted; rarer ones fall into "other"
)

// Count is one value of a distribution.
type Count struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// EntryCount is how many query entries have exactly Matches matching rows.
type EntryCount struct {
	Matches int64 `json:"matches"`
	Entries int64 `json:"entries"`
}

// QueryStats describes the matched_queries column: how the rows spread over the query entries,
// which is what MetaCLIP's balancing shapes (entries with more than t matches are the head it
// subsamples, the others the tail it keeps whole).
type QueryStats struct {
	RowsWithQuery int64   `json:"rows_with_query"`
	Matches       int64   `json:"matches"` // (row, entry) pairs
	Distinct      int     `json:"distinct_entries"`
	Top           []Count `json:"top_entries"`
	// ByMatches is the rank–frequency curve in compressed form: for each match count, how many
	// entries have it, most matches first.
	ByMatches []EntryCount `json:"entries_by_matches"`
}

// ScanStats are the dataset's distributions, from one pass over its rows.
type ScanStats struct {
	Kind          string  `json:"kind"`
	Files         int     `json:"files"`
	Rows          int64   `json:"rows"`
	FileBytes     int64   `json:"file_bytes"`
	ImageBytes    int64   `json:"image_bytes,omitempty"`
	EmptyCaptions int64   `json:"empty_captions"`
	CaptionChars  []int64 `json:"caption_chars"` // [n]: captions of n characters (runes); the last bucket counts longer ones too
	CaptionWords  []int64 `json:"caption_words"` // [n]: captions of n words; the last bucket counts longer ones too
	// ImageSizes are the stored images' sizes ("256×256"), most frequent first.
	ImageSizes         []Count `json:"image_sizes,omitempty"`
	DistinctImageSizes int     `json:"distinct_image_sizes,omitempty"`
	// OriginalSides[k] counts originals whose longer side is in [2^(k-1), 2^k).
	OriginalSides []int64    `json:"original_sides,omitempty"`
	Languages     []Count    `json:"languages"`
	Sources       []Count    `json:"caption_sources"`
	Queries       QueryStats `json:"queries"`
}

type statsAccumulator struct {
	rows, imageBytes, empty, fileBytes int64
	chars, words                       []int64
	sizes                              map[[2]int32]int64
	sizeOther                          int64
	sides                              []int64
	langs, sources, queries            map[string]int64
	withQuery, matches                 int64
}

func newStatsAccumulator() *statsAccumulator {
	return &statsAccumulator{
		chars: make([]int64, maxCaptionChars+1), words: make([]int64, maxCaptionWords+1),
		sizes: map[[2]int32]int64{}, sides: make([]int64, 64),
		langs: map[string]int64{}, sources: map[string]int64{}, queries: map[string]int64{},
	}
}

// count increments m[k], cloning k when it is new (k may share a record batch's memory).
func count(m map[string]int64, k string) {
	if _, ok := m[k]; !ok {
		k = strings.Clone(k)
	}
	m[k]++
}

func (a *statsAccumulator) add(c *rowColumns, i int) {
	a.rows++
	if c.caption != nil {
		capt := c.captionAt(i)
		if strings.TrimSpace(capt) == "" {
			a.empty++
		}
		a.chars[min(utf8.RuneCountInString(capt), maxCaptionChars)]++
		a.words[min(len(strings.Fields(capt)), maxCaptionWords)]++
	}
	if c.source != nil {
		count(a.sources, str(c.source, i))
	}
	if c.language != nil || c.pageLang != nil {
		count(a.langs, c.languageAt(i))
	}
	if c.image != nil {
		a.imageBytes += int64(len(c.imageAt(i)))
	}
	if c.width != nil && c.height != nil {
		k := [2]int32{int32(i32(c.width, i)), int32(i32(c.height, i))}
		if _, ok := a.sizes[k]; ok || len(a.sizes) < maxDistinctSize {
			a.sizes[k]++
		} else {
			a.sizeOther++
		}
	}
	if c.origWidth != nil && c.origHeight != nil {
		a.sides[bits.Len(uint(max(0, i32(c.origWidth, i), i32(c.origHeight, i))))]++
	}
	n := 0
	c.eachQuery(i, func(q string) bool {
		count(a.queries, q)
		n++
		return true
	})
	if n > 0 {
		a.withQuery++
		a.matches += int64(n)
	}
}

func (a *statsAccumulator) finish(kind string, files int) ScanStats {
	s := ScanStats{
		Kind: kind, Files: files, Rows: a.rows, FileBytes: a.fileBytes, ImageBytes: a.imageBytes, EmptyCaptions: a.empty,
		CaptionChars: trimZeros(a.chars), CaptionWords: trimZeros(a.words),
		Languages: sortedCounts(a.langs, topListed), Sources: sortedCounts(a.sources, 0),
	}
	if len(a.sizes) > 0 {
		m := make(map[string]int64, len(a.sizes))
		for k, n := range a.sizes {
			m[fmt.Sprintf("%d×%d", k[0], k[1])] = n
		}
		s.ImageSizes = sortedCounts(m, topListed)
		if a.sizeOther > 0 {
			s.ImageSizes = append(s.ImageSizes, Count{Value: "other", Count: a.sizeOther})
		}
		s.DistinctImageSizes = len(a.sizes)
	}
	if sides := trimZeros(a.sides); len(sides) > 0 && kind == shards.KindSamples {
		s.OriginalSides = sides
	}
	q := &s.Queries
	q.RowsWithQuery, q.Matches, q.Distinct = a.withQuery, a.matches, len(a.queries)
	q.Top = sortedCounts(a.queries, topListed)
	byMatches := map[int64]int64{}
	for _, n := range a.queries {
		byMatches[n]++
	}
	for m, e := range byMatches {
		q.ByMatches = append(q.ByMatches, EntryCount{Matches: m, Entries: e})
	}
	slices.SortFunc(q.ByMatches, func(a, b EntryCount) int { return cmp.Compare(b.Matches, a.Matches) })
	return s
}

func trimZeros(h []int64) []int64 {
	end := len(h)
	for end > 0 && h[end-1] == 0 {
		end--
	}
	return slices.Clone(h[:end])
}

// sortedCounts sorts m by count (then value) and keeps the first top (0: all).
func sortedCounts(m map[string]int64, top int) []Count {
	out := make([]Count, 0, len(m))
	for v, n := range m {
		out = append(out, Count{Value: v, Count: n})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	if top > 0 && len(out) > top {
		out = out[:top]
	}
	return out
}

// StageStats is what the stages that made the dataset wrote beside it: fetch's per-shard and run
// stats (NNNNN_stats.json, stats.json), the crawl's stats.json, filter-stats.json, and wit build's
// build-stats.json in the folder above its shards. Only the fields the viewer shows are read, by
// their JSON names; a file that is missing or unreadable is skipped (and named in Problems).
type StageStats struct {
	Files    []string `json:"files"` // stats files read
	Problems []string `json:"problems,omitempty"`

	// Fetch: failed downloads by reason, summed over the per-shard records (every run), else the
	// latest run's stats.json.
	FetchOK       int64            `json:"fetch_ok"`
	FetchFailures map[string]int64 `json:"fetch_failures,omitempty"`

	// Crawl: pages by outcome.
	CrawlPagesOK   int64            `json:"crawl_pages_ok"`
	CrawlFailures  map[string]int64 `json:"crawl_failures,omitempty"`
	CrawlPairs     int64            `json:"crawl_pairs"`
	CrawlBySources map[string]int64 `json:"crawl_pairs_by_source,omitempty"`

	// Filter: rows kept and dropped by reason, and the balancing settings and pool.
	FilterRows    int64            `json:"filter_rows"`
	FilterKept    int64            `json:"filter_kept"`
	FilterDropped map[string]int64 `json:"filter_dropped,omitempty"`
	Balance       *BalanceInfo     `json:"balance,omitempty"`
}

// BalanceInfo is the filter's balancing: MetaCLIP's threshold t and the pool of matches it balanced.
type BalanceInfo struct {
	Mode              string  `json:"mode"`
	Threshold         int     `json:"threshold"`
	EntriesMatched    int     `json:"entries_matched"`
	EntriesOverT      int     `json:"entries_over_t"`
	Matches           int64   `json:"matches"`
	ShareMatchesOverT float64 `json:"share_matches_over_t"`
	Top               []Count `json:"top_entries"` // the pool's entries with most matches, before balancing
}

// JSON shapes of the stages' stats files (the fields read here only).
type (
	fetchJSON struct {
		Input     string           `json:"input"`
		Successes *int64           `json:"successes"`
		Failures  map[string]int64 `json:"failures"`
	}
	crawlJSON struct {
		PagesOK       *int64           `json:"pages_ok"`
		PagesFailed   map[string]int64 `json:"pages_failed"`
		Pairs         int64            `json:"pairs"`
		PairsBySource map[string]int64 `json:"pairs_by_source"`
	}
	filterJSON struct {
		Rows    int64            `json:"rows"`
		Kept    int64            `json:"kept"`
		Dropped map[string]int64 `json:"dropped"`
		Balance *struct {
			Mode              string  `json:"mode"`
			Threshold         int     `json:"threshold"`
			EntriesMatched    int     `json:"entries_matched"`
			EntriesOverT      int     `json:"entries_over_t"`
			Matches           int64   `json:"matches"`
			ShareMatchesOverT float64 `json:"share_matches_over_t"`
			Top               []struct {
				Entry string `json:"entry"`
				Count int64  `json:"count"`
			} `json:"top_entries"`
		} `json:"balance"`
	}
	buildJSON struct {
		Shards string      `json:"shards"`
		Crawl  *crawlJSON  `json:"crawl"`
		Filter *filterJSON `json:"filter"`
		Fetch  *fetchJSON  `json:"fetch"`
	}
)

// Names of the stages' stats files.
const (
	statsJSON       = "stats.json"        // fetch's latest run, or the crawl's
	filterStatsJSON = "filter-stats.json" // filter.StatsFile
	buildStatsJSON  = "build-stats.json"  // build.StatsFile, in the folder above the shards
	maxStatsJSON    = 16 << 20            // a stats file larger than this is not read
)

// readStageStats gathers the stats files of dir (see StageStats).
func readStageStats(dir string) *StageStats {
	s := &StageStats{}
	read := func(path string, v any) bool {
		st, err := os.Stat(path)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				s.Problems = append(s.Problems, err.Error())
			}
			return false
		}
		if st.Size() > maxStatsJSON {
			s.Problems = append(s.Problems, fmt.Sprintf("%s: %d bytes, not read", path, st.Size()))
			return false
		}
		data, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(data, v)
		}
		if err != nil {
			s.Problems = append(s.Problems, fmt.Sprintf("%s: %v", path, err))
			return false
		}
		s.Files = append(s.Files, path)
		return true
	}

	// Fetch's per-shard records hold every run's counts.
	entries, _ := os.ReadDir(dir)
	perShard := false
	for _, e := range entries {
		if _, ok := shards.StatsIndex(e.Name()); !ok || e.IsDir() {
			continue
		}
		var ss shards.ShardStats
		if read(filepath.Join(dir, e.Name()), &ss) {
			perShard = true
			s.FetchOK += ss.Successes
			s.FetchFailures = addCounts(s.FetchFailures, ss.Failures)
		}
	}
	var top struct {
		fetchJSON
		crawlJSON
	}
	fetchInput := ""
	if read(filepath.Join(dir, statsJSON), &top) {
		switch {
		case top.PagesOK != nil:
			s.addCrawl(&top.crawlJSON)
		case top.Successes != nil:
			fetchInput = top.Input
			if !perShard {
				s.FetchOK = *top.Successes
				s.FetchFailures = addCounts(s.FetchFailures, top.Failures)
			}
		}
	}
	var f filterJSON
	if read(filepath.Join(dir, filterStatsJSON), &f) {
		s.addFilter(&f)
	} else if fetchInput != "" {
		// fetch --in work/filtered: the filter's stats are beside its output.
		for _, in := range []string{fetchInput, filepath.Join(filepath.Dir(dir), fetchInput)} {
			if st, err := os.Stat(in); err == nil && st.IsDir() {
				if read(filepath.Join(in, filterStatsJSON), &f) {
					s.addFilter(&f)
				}
				break
			}
		}
	}
	// wit build: build-stats.json beside the shards folder, naming it.
	var b buildJSON
	parent := filepath.Dir(dir)
	if _, err := os.Stat(filepath.Join(parent, buildStatsJSON)); err == nil && read(filepath.Join(parent, buildStatsJSON), &b) {
		if sameDir(b.Shards, dir) {
			if b.Crawl != nil && s.CrawlPagesOK == 0 {
				s.addCrawl(b.Crawl)
			}
			if b.Filter != nil && s.FilterRows == 0 {
				s.addFilter(b.Filter)
			}
			if b.Fetch != nil && !perShard && b.Fetch.Successes != nil {
				s.FetchOK = *b.Fetch.Successes
				s.FetchFailures = addCounts(s.FetchFailures, b.Fetch.Failures)
			}
		} else {
			s.Files = s.Files[:len(s.Files)-1] // another dataset's
		}
	}
	return s
}

func sameDir(a, b string) bool {
	if a == "" {
		return false
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

func (s *StageStats) addCrawl(c *crawlJSON) {
	if c.PagesOK != nil {
		s.CrawlPagesOK = *c.PagesOK
	}
	s.CrawlFailures = addCounts(s.CrawlFailures, c.PagesFailed)
	s.CrawlPairs = c.Pairs
	s.CrawlBySources = addCounts(s.CrawlBySources, c.PairsBySource)
}

func (s *StageStats) addFilter(f *filterJSON) {
	s.FilterRows, s.FilterKept = f.Rows, f.Kept
	s.FilterDropped = addCounts(s.FilterDropped, f.Dropped)
	if b := f.Balance; b != nil {
		s.Balance = &BalanceInfo{Mode: b.Mode, Threshold: b.Threshold, EntriesMatched: b.EntriesMatched, EntriesOverT: b.EntriesOverT,
			Matches: b.Matches, ShareMatchesOverT: b.ShareMatchesOverT}
		for _, e := range b.Top {
			s.Balance.Top = append(s.Balance.Top, Count{Value: e.Entry, Count: e.Count})
		}
	}
}

// addCounts adds src into dst (allocated when nil), leaving out zero counts.
func addCounts(dst, src map[string]int64) map[string]int64 {
	for k, v := range src {
		if v == 0 {
			continue
		}
		if dst == nil {
			dst = map[string]int64{}
		}
		dst[k] += v
	}
	return dst
}
