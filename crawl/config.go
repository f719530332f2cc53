package crawl

import (
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/witdata/wit/internal/cliconfig"
	"github.com/witdata/wit/internal/httpx"
	"github.com/witdata/wit/internal/input"
	"github.com/witdata/wit/internal/netguard"
	"github.com/witdata/wit/shards"
)

// Scope modes: which discovered links are followed.
const (
	ScopeHost   = "host"   // same host as the page the link was found on (the seed's host after redirects)
	ScopeDomain = "domain" // same registered domain (eTLD+1, public suffix list)
	ScopeGlob   = "glob"   // host matches one of AllowHosts
)

// Config holds every crawl option. The zero value is not usable; start from DefaultConfig (or
// LoadConfig, which starts from it) so that omitted options keep their polite defaults.
type Config struct {
	Seeds           string   `yaml:"seeds"`              // seed list: txt (# comments), csv/tsv/jsonl with a url column; .gz ok
	SeedsCol        string   `yaml:"seeds_col"`          // column holding the URL in csv/tsv/jsonl seeds (default "url")
	BadRows         string   `yaml:"bad_rows"`           // malformed seed rows: "skip" (counted, listed in bad-rows.jsonl in Out, or beside State without Out) or "error"
	Out             string   `yaml:"out"`                // directory or s3:// folder of pair files (NNNNN.arrow) and stats.json; "" = stream only (OnPair)
	State           string   `yaml:"state"`              // pebble directory: visited set, frontier, pending pairs, counters
	MaxDepth        int      `yaml:"max_depth"`          // link hops followed from a seed: 0 = seeds only, <0 = unlimited
	MaxPagesPerHost int64    `yaml:"max_pages_per_host"` // pages admitted per host (0 = unlimited)
	MaxPages        int64    `yaml:"max_pages"`          // pages admitted in total, seeds included (0 = unlimited)
	Scope           string   `yaml:"scope"`              // host | domain | glob
	AllowHosts      []string `yaml:"allow_hosts"`        // host globs (path.Match syntax, "*.example.org") always in scope

	Workers          int           `yaml:"workers"`    // pages fetched at once over all hosts
	PerHost          int           `yaml:"per_host"`   // concurrent requests per host
	Delay            time.Duration `yaml:"delay"`      // pause between requests to one host (0 allowed)
	UserAgent        string        `yaml:"user_agent"` // sent with every request, robots.txt group matched on it
	Timeout          time.Duration `yaml:"timeout"`    // whole request (connect, headers, body)
	MaxBody          int64         `yaml:"max_body"`   // larger pages fail with reason too_large
	MaxRedirects     int           `yaml:"max_redirects"`
	Retries          int           `yaml:"retries"` // retries on 429/5xx/timeouts (exponential backoff, Retry-After)
	BackoffBase      time.Duration `yaml:"backoff_base"`
	BackoffMax       time.Duration `yaml:"backoff_max"`
	MaxCrawlDelay    time.Duration `yaml:"max_crawl_delay"` // cap on robots.txt Crawl-delay
	RobotsTTL        time.Duration `yaml:"robots_ttl"`      // how long a robots.txt stays cached
	RobotsRetries    int           `yaml:"robots_retries"`  // re-queues of a page whose robots.txt answered 5xx
	RobotsRetryDelay time.Duration `yaml:"robots_retry_delay"`
	IgnoreRobots     bool          `yaml:"ignore_robots"`  // for crawling your own sites only
	AllowPrivate     bool          `yaml:"allow_private"`  // allow loopback/private/link-local addresses
	AllowAddrs       []string      `yaml:"allow_addrs"`    // private destinations allowed one by one: "ip:port", "ip" or CIDR
	RowsPerFile      int           `yaml:"rows_per_file"`  // pairs per Arrow file (files end at a page boundary)
	ShutdownGrace    time.Duration `yaml:"shutdown_grace"` // after cancel, how long in-flight pages may take
	// WARCOut, when set, is a directory or object-store URL (s3://bucket/prefix?...) where every
	// request and response (robots.txt and redirects too) is archived as WARC/1.1 files, gzip
	// per record, WARCFileBytes each; files bound for object storage are staged in State.
	WARCOut       string `yaml:"warc_out"`
	WARCFileBytes int64  `yaml:"warc_file_bytes"` // default 1 GiB

	// ShareLimitsWith, when set, shares that client's per-host limiter and DNS cache (wit build
	// gives the crawler and the downloader one politeness budget per host).
	ShareLimitsWith *httpx.Client `yaml:"-"`
	// Logger receives the progress line and warnings (nil: slog.Default()).
	Logger *slog.Logger `yaml:"-"`
	// Progress, when set, is called about every ProgressEvery with a snapshot while crawling.
	Progress      func(Stats)   `yaml:"-"`
	ProgressEvery time.Duration `yaml:"progress_every"`
	// OnPair, when set, receives every pair once its page's completion is committed to the state
	// store, which keeps the pairs until OnPair has taken them all: if OnPair fails (the error
	// stops the crawl) or the process dies first, the next run hands them over again before it
	// crawls on. Pairs are thus never lost, and delivered twice only across runs: those of a
	// page whose handover was cut off, and after a kill -9 those of the pages that were in
	// flight or whose unsynced completion was lost (fetched again). Files never hold a pair
	// twice. Called from several goroutines at once.
	OnPair func(shards.Pair) error `yaml:"-"`

	// A distributed crawl (package dist/stages) runs one crawl per partition of the hosts.
	// Local reports whether this crawl owns a host; seeds of other hosts are skipped (their
	// owner reads the same seed list) and links to them go to an outbox, written in the batch
	// of the page that found them (each URL once per crawl), then handed to Forward and
	// deleted, so no link is lost when the process dies. Inbox is polled for links forwarded
	// here by other crawls. The crawl is finished when the frontier and the outbox are empty
	// and the inbox has nothing. Bad seeds are counted by the crawl for which Local("") holds.
	Local   func(host string) bool  `yaml:"-"`
	Forward func(OutboxBatch) error `yaml:"-"`
	Inbox   Inbox                   `yaml:"-"`
	// InboxGrace is how long a crawl with an Inbox stays idle (frontier and inbox empty) before
	// it finishes, in case links arrive (0: finish at once).
	InboxGrace time.Duration `yaml:"-"`
}

// DefaultConfig returns polite defaults: robots.txt obeyed, 2 connections and 250 ms between
// requests per host, 30 s Crawl-delay cap, 20 s timeout, 5 MiB pages, 5 redirects, 3 retries.
func DefaultConfig() Config {
	return Config{
		SeedsCol:         "url",
		BadRows:          "skip",
		MaxDepth:         3,
		Scope:            ScopeHost,
		Workers:          32,
		PerHost:          2,
		Delay:            250 * time.Millisecond,
		UserAgent:        "wit-crawler/0.1 (+https://github.com/witdata/wit)",
		Timeout:          20 * time.Second,
		MaxBody:          5 << 20,
		MaxRedirects:     5,
		Retries:          3,
		BackoffBase:      500 * time.Millisecond,
		BackoffMax:       30 * time.Second,
		MaxCrawlDelay:    30 * time.Second,
		RobotsTTL:        24 * time.Hour,
		RobotsRetries:    3,
		RobotsRetryDelay: time.Minute,
		RowsPerFile:      10000,
		ShutdownGrace:    30 * time.Second,
		WARCFileBytes:    1 << 30,
		ProgressEvery:    time.Second,
	}
}

// LoadConfig reads a YAML file over DefaultConfig. Durations are Go durations ("250ms").
// Unknown keys are an error, so that a misspelt option is not silently ignored.
func LoadConfig(file string) (Config, error) {
	cfg := DefaultConfig()
	if err := cliconfig.LoadFile(file, &cfg); err != nil {
		return cfg, fmt.Errorf("crawl config: %w", err)
	}
	return cfg, nil
}

// Validate checks the options and fills derived defaults.
func (c *Config) Validate() error {
	var errs []error
	if c.Seeds == "" {
		errs = append(errs, errors.New("no seeds file"))
	}
	if c.State == "" {
		errs = append(errs, errors.New("no state directory"))
	}
	if (c.Local == nil) != (c.Forward == nil) {
		errs = append(errs, errors.New("Local and Forward go together"))
	}
	if c.Out == "" && c.OnPair == nil {
		errs = append(errs, errors.New("no output directory (and no OnPair consumer)"))
	}
	if _, err := netguard.ParseAllowList(c.AllowAddrs); err != nil {
		errs = append(errs, err)
	}
	if err := input.CheckBadRowsPolicy(c.BadRows); err != nil {
		errs = append(errs, err)
	}
	switch c.Scope {
	case "":
		c.Scope = ScopeHost
	case ScopeHost, ScopeDomain:
	case ScopeGlob:
		if len(c.AllowHosts) == 0 {
			errs = append(errs, errors.New("scope glob needs allow_hosts"))
		}
	default:
		errs = append(errs, fmt.Errorf("scope %q: want host, domain or glob", c.Scope))
	}
	for _, g := range c.AllowHosts {
		if _, err := path.Match(strings.ToLower(g), "x"); err != nil {
			errs = append(errs, fmt.Errorf("allow host glob %q: %w", g, err))
		}
	}
	if c.UserAgent == "" {
		errs = append(errs, errors.New("empty user agent"))
	}
	if c.Delay < 0 || c.Timeout < 0 || c.MaxCrawlDelay < 0 || c.BackoffBase < 0 || c.BackoffMax < 0 {
		errs = append(errs, errors.New("negative duration"))
	}
	if c.MaxPages < 0 || c.MaxPagesPerHost < 0 || c.Retries < 0 || c.MaxBody < 0 {
		errs = append(errs, errors.New("negative limit"))
	}
	if c.Workers <= 0 {
		c.Workers = 32
	}
	if c.PerHost <= 0 {
		c.PerHost = 2
	}
	if c.Timeout == 0 {
		c.Timeout = 20 * time.Second
	}
	if c.MaxBody == 0 {
		c.MaxBody = 5 << 20
	}
	if c.MaxRedirects <= 0 {
		c.MaxRedirects = 5
	}
	if c.RowsPerFile <= 0 {
		c.RowsPerFile = 10000
	}
	if c.SeedsCol == "" {
		c.SeedsCol = "url"
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = time.Second
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 30 * time.Second
	}
	if c.RobotsRetryDelay <= 0 {
		c.RobotsRetryDelay = time.Minute
	}
	if c.RobotsTTL <= 0 {
		c.RobotsTTL = 24 * time.Hour
	}
	if len(errs) > 0 {
		return fmt.Errorf("crawl config: %w", errors.Join(errs...))
	}
	return nil
}
