package crawl

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/witdata/wit/internal/httpx"
	"github.com/witdata/wit/internal/storage"
)

// Counter names in the state store (accumulated over resumed runs).
const (
	cPagesOK       = "pages_ok"
	cFailPrefix    = "fail/"
	cSourcePrefix  = "src/"
	cPairs         = "pairs"
	cPairsWritten  = "pairs_written"
	cFiles         = "files"
	cBytes         = "bytes"
	cNoIndex       = "noindex"
	cRuns          = "runs"
	cDuration      = "duration_ns"
	cSeedsBad      = "seeds_invalid"
	cSeedsOK       = "seeds_ok"
	cSeedBadPrefix = "seed_bad_rows/"
)

// Failure reasons of pages (keys of Stats.PagesFailed). Transport failures have the names
// internal/httpx gives them, the same as in fetch's stats.
const (
	ReasonHTTP3xx           = "http_3xx"
	ReasonHTTP4xx           = "http_4xx"
	ReasonHTTP5xx           = "http_5xx"
	ReasonTimeout           = httpx.ReasonTimeout
	ReasonTooLarge          = httpx.ReasonTooLarge
	ReasonNotHTML           = "not_html"
	ReasonBlockedAddress    = httpx.ReasonBlocked
	ReasonRedirects         = httpx.ReasonRedirects // more than MaxRedirects, or to a non-http(s) URL
	ReasonRedirectScope     = "redirect_out_of_scope"
	ReasonRobots            = "robots"
	ReasonRobotsUnavailable = "robots_unavailable"
	ReasonDNS               = httpx.ReasonDNS
	ReasonRefused           = httpx.ReasonRefused
	ReasonReset             = httpx.ReasonReset
	ReasonTLS               = httpx.ReasonTLS
	ReasonNetwork           = httpx.ReasonNetwork
	ReasonParse             = "parse"
	ReasonBadState          = "bad_state"
)

// Stats summarises a crawl. Counters are accumulated over every run on the same state
// directory; Duration and PagesPerSec too (time spent crawling, not wall time between runs).
type Stats struct {
	PagesOK       int64            `json:"pages_ok"`
	PagesFailed   map[string]int64 `json:"pages_failed"`    // by reason (see Reason*)
	RobotsBlocked int64            `json:"robots_blocked"`  // also counted in PagesFailed["robots"]
	PagesNoIndex  int64            `json:"pages_noindex"`   // fetched, but noindex/noimageindex/noai: no pairs
	PagesAdmitted int64            `json:"pages_admitted"`  // URLs accepted into the frontier, seeds included
	SeedRows      int64            `json:"seed_rows"`       // seed rows read: ok + invalid + malformed
	SeedsOK       int64            `json:"seeds_ok"`        // valid seed URLs (admitted now or by an earlier run)
	SeedsInvalid  int64            `json:"seeds_invalid"`   // empty or not a URL
	SeedBadRows   map[string]int64 `json:"seed_bad_rows"`   // malformed seed rows skipped, by reason (bad-rows.jsonl)
	Pairs         int64            `json:"pairs"`           // pairs found on committed pages
	PairsBySource map[string]int64 `json:"pairs_by_source"` // alt, title, figcaption, og, mediawiki, wordpress, doc_figure, aria_label, aria_describedby (extract.Sources)
	PairsWritten  int64            `json:"pairs_written"`   // pairs in committed files
	Files         int64            `json:"files"`
	Bytes         int64            `json:"bytes"` // page body bytes downloaded
	Frontier      int64            `json:"frontier"`
	InFlight      int64            `json:"in_flight"`
	Delayed       int64            `json:"delayed"`
	Runs          int64            `json:"runs"`
	Duration      time.Duration    `json:"-"`
	DurationSec   float64          `json:"duration_s"`
	PagesPerSec   float64          `json:"pages_per_s"`
	Finished      bool             `json:"finished"` // the frontier was exhausted
}

// Pages is the number of pages completed, ok or not.
func (s Stats) Pages() int64 {
	n := s.PagesOK
	for _, v := range s.PagesFailed {
		n += v
	}
	return n
}

// Failed is the number of pages that failed for any reason.
func (s Stats) Failed() int64 { return s.Pages() - s.PagesOK }

// Left is the number of admitted pages not done yet: queued in the frontier, in flight, and
// delayed (waiting to ask for a robots.txt again after a 429/5xx). The progress line and the
// summary both report it.
func (s Stats) Left() int64 { return s.Frontier + s.InFlight + s.Delayed }

func statsFrom(counters map[string]int64, admitted int64) Stats {
	s := Stats{PagesFailed: map[string]int64{}, PairsBySource: map[string]int64{}, PagesAdmitted: admitted, SeedBadRows: map[string]int64{}}
	for k, v := range counters {
		switch {
		case strings.HasPrefix(k, cSeedBadPrefix):
			s.SeedBadRows[k[len(cSeedBadPrefix):]] = v
			s.SeedRows += v
		case strings.HasPrefix(k, cFailPrefix):
			s.PagesFailed[k[len(cFailPrefix):]] = v
		case strings.HasPrefix(k, cSourcePrefix):
			s.PairsBySource[k[len(cSourcePrefix):]] = v
		}
	}
	s.PagesOK = counters[cPagesOK]
	s.RobotsBlocked = s.PagesFailed[ReasonRobots]
	s.PagesNoIndex = counters[cNoIndex]
	s.SeedsInvalid = counters[cSeedsBad]
	s.SeedsOK = counters[cSeedsOK]
	s.SeedRows += s.SeedsOK + s.SeedsInvalid
	s.Pairs = counters[cPairs]
	s.PairsWritten = counters[cPairsWritten]
	s.Files = counters[cFiles]
	s.Bytes = counters[cBytes]
	s.Runs = counters[cRuns]
	s.Duration = time.Duration(counters[cDuration])
	return s
}

func (s *Stats) finish(elapsed time.Duration) {
	s.Duration += elapsed
	s.DurationSec = s.Duration.Seconds()
	if s.DurationSec > 0 {
		s.PagesPerSec = float64(s.Pages()) / s.DurationSec
	}
}

// Summary renders the stats as a few human-readable lines.
func (s Stats) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seeds: %d rows read, %d ok, %d invalid, %d malformed", s.SeedRows, s.SeedsOK, s.SeedsInvalid, s.SeedRows-s.SeedsOK-s.SeedsInvalid)
	if len(s.SeedBadRows) > 0 {
		fmt.Fprintf(&b, " (%s; see bad-rows.jsonl)", formatCounts(s.SeedBadRows))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "pages: %d ok, %d failed, %d robots-blocked, %d noindex (%.0f pages/s over %s, %d run(s))\n",
		s.PagesOK, s.Failed(), s.RobotsBlocked, s.PagesNoIndex, s.PagesPerSec, s.Duration.Round(time.Millisecond), s.Runs)
	if len(s.PagesFailed) > 0 {
		fmt.Fprintf(&b, "failed by reason: %s\n", formatCounts(s.PagesFailed))
	}
	fmt.Fprintf(&b, "pairs: %d found, %d in %d file(s); by caption source: %s\n", s.Pairs, s.PairsWritten, s.Files, formatCounts(s.PairsBySource))
	fmt.Fprintf(&b, "bytes: %d; left: %d (%d queued, %d in flight, %d delayed for robots.txt); finished: %v",
		s.Bytes, s.Left(), s.Frontier, s.InFlight, s.Delayed, s.Finished)
	return b.String()
}

func formatCounts(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// writeStatsFile writes stats as JSON to dir/stats.json atomically (dir: a local directory,
// created if needed, or an object-store folder).
func writeStatsFile(dir string, s Stats) error {
	if err := storage.WriteJSON(context.Background(), storage.Join(dir, "stats.json"), s); err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
