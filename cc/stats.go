package cc

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Outcomes of a record: every record read is counted under exactly one.
const (
	OutcomePairs        = "pairs"         // gave at least one pair
	OutcomeNoCandidates = "no_candidates" // an HTML page without an image that has a caption
	OutcomeNoLinks      = "no_links"      // WAT: HTML metadata without a Links list
	OutcomeNotHTML      = "not_html"      // a response that is not an HTML page
	OutcomeHTTPStatus   = "http_status"   // a response with a status other than 2xx
	OutcomeNoIndex      = "noindex"       // robots meta / X-Robots-Tag noindex (noimageindex, noai)
	OutcomeNotResponse  = "not_response"  // warcinfo, request, WAT records of requests, other types
	OutcomeOtherFormat  = "other_format"  // a WAT record under --format warc, a response under --format wat
	OutcomeTooLarge     = "too_large"     // block over MaxBody
	OutcomeBadHTTP      = "bad_http"      // an HTTP message that cannot be parsed or decoded
	OutcomeBadJSON      = "bad_json"      // a WAT payload that is not valid JSON
	OutcomeBadURL       = "bad_url"       // a target URI that is not an absolute http(s) URL
	OutcomeReadError    = "read_error"    // the block could not be read (corrupt gzip member, truncated input)
)

// Kinds of WAT links (Counters.Links).
const (
	LinkImage    = "image"     // IMG@/src with an alt text: a pair
	LinkNotImage = "not_image" // any other path (A@/href, LINK@/href, SCRIPT@/src...)
	LinkNoAlt    = "no_alt"    // IMG@/src without alt text (or only white space)
	LinkBadURL   = "bad_url"   // IMG@/src whose URL does not resolve to http(s)
	LinkDup      = "duplicate" // the same (image URL, alt) again on the page
)

// Counters are the per-record tallies of an input file, and their sums.
type Counters struct {
	Records          int64            `json:"records"`
	Outcomes         map[string]int64 `json:"records_by_outcome"` // sums to Records
	BadGzipMembers   int64            `json:"bad_gzip_members"`   // corrupt members skipped (their records are lost)
	MalformedRecords int64            `json:"malformed_records"`  // records skipped for an unparsable header
	TruncatedRecords int64            `json:"truncated_records"`  // WARC-Truncated set (processed as they are)
	Links            map[string]int64 `json:"wat_links"`          // WAT links by kind
	Pairs            int64            `json:"pairs"`
	PairsBySource    map[string]int64 `json:"pairs_by_source"` // sums to Pairs
	Bytes            int64            `json:"bytes"`           // input bytes read (compressed size)
}

func (c *Counters) outcome(o string) {
	if c.Outcomes == nil {
		c.Outcomes = map[string]int64{}
	}
	c.Outcomes[o]++
	c.Records++
}

func (c *Counters) link(kind string) {
	if c.Links == nil {
		c.Links = map[string]int64{}
	}
	c.Links[kind]++
}

func (c *Counters) pair(source string) {
	if c.PairsBySource == nil {
		c.PairsBySource = map[string]int64{}
	}
	c.PairsBySource[source]++
	c.Pairs++
}

// Add adds o's counts to c.
func (c *Counters) Add(o *Counters) {
	c.Records += o.Records
	c.BadGzipMembers += o.BadGzipMembers
	c.MalformedRecords += o.MalformedRecords
	c.TruncatedRecords += o.TruncatedRecords
	c.Pairs += o.Pairs
	c.Bytes += o.Bytes
	addMap(&c.Outcomes, o.Outcomes)
	addMap(&c.Links, o.Links)
	addMap(&c.PairsBySource, o.PairsBySource)
}

func addMap(dst *map[string]int64, src map[string]int64) {
	if len(src) == 0 {
		return
	}
	if *dst == nil {
		*dst = map[string]int64{}
	}
	for k, v := range src {
		(*dst)[k] += v
	}
}

// FileStats is the result of one input file, kept in its done marker.
type FileStats struct {
	Counters
	Input       string  `json:"input"`
	Index       int     `json:"index"`
	Output      string  `json:"output,omitempty"` // pair file name in Out; "" when the input gave no pair
	Truncated   bool    `json:"truncated"`        // the input ended inside a record; the records before it were kept
	Format      string  `json:"format"`           // warc, wat, or mixed, by the records that were read
	DurationSec float64 `json:"duration_s"`
	Skipped     bool    `json:"-"` // done by an earlier run
}

// Stats sums the files done in Out (by this run and earlier ones) and says what this run did.
type Stats struct {
	Counters
	Files          int64 `json:"files"`           // inputs done, over all runs
	FilesTruncated int64 `json:"files_truncated"` // of which ended inside a record (records before kept)
	FilesSkipped   int64 `json:"files_skipped"`   // this run: already done, skipped
	FilesFailed    int64 `json:"files_failed"`    // this run: could not be read; done again next run
	FilesThisRun   int64 `json:"files_this_run"`
	// This run's throughput: records and pairs of the files it read, over its wall time.
	RecordsThisRun int64         `json:"records_this_run"`
	PairsThisRun   int64         `json:"pairs_this_run"`
	Duration       time.Duration `json:"-"`
	DurationSec    float64       `json:"duration_s"`
	RecordsPerSec  float64       `json:"records_per_s"`
	Failed         []string      `json:"failed_inputs,omitempty"`    // this run, with the error
	TruncatedFiles []string      `json:"truncated_inputs,omitempty"` // over all runs
}

func (s *Stats) finish(d time.Duration) {
	s.Duration = d
	s.DurationSec = d.Seconds()
	if d > 0 {
		s.RecordsPerSec = float64(s.RecordsThisRun) / d.Seconds()
	}
}

// Summary renders the stats for people: files, records by outcome, damage, pairs by source.
func (s *Stats) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cc: %d files done (%d this run, %d skipped as done, %d failed, %d truncated), %d records, %d pairs",
		s.Files, s.FilesThisRun, s.FilesSkipped, s.FilesFailed, s.FilesTruncated, s.Records, s.Pairs)
	if s.Duration > 0 {
		fmt.Fprintf(&b, "; this run %d records in %s (%.0f records/s)", s.RecordsThisRun, s.Duration.Round(time.Millisecond), s.RecordsPerSec)
	}
	b.WriteString("\n  records:")
	writeCounts(&b, s.Outcomes)
	fmt.Fprintf(&b, "\n  damage: %d bad gzip members, %d malformed records, %d truncated records (kept)",
		s.BadGzipMembers, s.MalformedRecords, s.TruncatedRecords)
	if len(s.Links) > 0 {
		b.WriteString("\n  WAT links:")
		writeCounts(&b, s.Links)
	}
	b.WriteString("\n  pairs by source:")
	writeCounts(&b, s.PairsBySource)
	for _, f := range s.Failed {
		b.WriteString("\n  failed: " + f)
	}
	return b.String()
}

func writeCounts(b *strings.Builder, m map[string]int64) {
	if len(m) == 0 {
		b.WriteString(" none")
		return
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(b, " %s %d", k, m[k])
	}
}
