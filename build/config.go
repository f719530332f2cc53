package build

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/witdata/wit/crawl"
	"github.com/witdata/wit/fetch"
	"github.com/witdata/wit/filter"
	"github.com/witdata/wit/internal/cliconfig"
)

// Layout of the output directory (relative to Config.Out).
const (
	ShardsDir      = "shards"        // fetch's sample shards, manifest.json, sizes.json, stats.json
	PairsDir       = "pairs"         // the crawl's raw pair files (only with Config.KeepPairs)
	CrawlStateDir  = "state/crawl"   // crawl's pebble state (visited set, frontier, counters)
	QueueStateDir  = "state/queue"   // the kept-item log, dedup set and filter counters (pebble)
	BalanceDir     = "state/balance" // the online balancer's running counts (pebble)
	StatsFile      = "build-stats.json"
	defaultMaxLag  = 10_000
	defaultPending = 256
)

// FilterOptions are the filter stage's settings (the filter section of configs/build.yaml): the
// per-caption stages, as `wit filter` takes them, plus dedup and online balancing.
type FilterOptions struct {
	filter.StageOptions `yaml:",inline"` // turned into filter.Stages by its Stages method

	NoDedup bool   `yaml:"no_dedup"` // keep duplicate (image URL, caption) pairs
	Balance int    `yaml:"balance"`  // MetaCLIP's t (online mode); 0 = no balancing
	Seed    uint64 `yaml:"seed"`     // seed of the balancing coins
}

// DefaultFilterOptions are `wit filter`'s defaults with the embedded query list: English only,
// the LAION/DataComp text rules, dedup on, t = 20,000.
func DefaultFilterOptions() FilterOptions {
	st := filter.DefaultStageOptions()
	st.Queries = "default"
	return FilterOptions{StageOptions: st, Balance: filter.DefaultThreshold}
}

// Config holds every option of a build. Start from DefaultConfig (or LoadConfig).
type Config struct {
	Seeds     string `yaml:"seeds"`      // seed list (crawl's formats)
	SeedsCol  string `yaml:"seeds_col"`  // URL column of csv/tsv/jsonl seeds
	Out       string `yaml:"out"`        // data directory: shards/, state/, build-stats.json
	KeepPairs bool   `yaml:"keep_pairs"` // also write the crawl's raw pairs to Out/pairs
	// Shards is where the sample shards go instead of Out/shards: a local path or an object-store
	// URL (s3://bucket/prefix; internal/storage). The state stays in Out, on local disk.
	Shards string `yaml:"shards"`

	// MaxLag bounds how far the crawl and filter may run ahead of the downloader: when this many
	// kept items wait in the queue, the crawl's workers pause. The queue lives on disk, so this
	// bounds the backlog, not memory.
	MaxLag int `yaml:"max_lag"`

	Crawl  crawl.Config  `yaml:"crawl"`  // Seeds, Out, State and OnPair are set by Run
	Filter FilterOptions `yaml:"filter"` // turned into Stages unless Stages is set
	Fetch  fetch.Config  `yaml:"fetch"`  // Out, InputName, Client are set by Run

	// Stages, when set, is used instead of building stages from Filter (tests, the demo).
	Stages *filter.Stages `yaml:"-"`

	Logger *slog.Logger `yaml:"-"`
	// Progress, when set, receives a snapshot about every ProgressEvery.
	Progress      func(Stats)   `yaml:"-"`
	ProgressEvery time.Duration `yaml:"progress_every"`
}

// DefaultConfig returns the stages' own defaults, with the downloader's network limits taken
// from the crawler's (per-host concurrency and delay) and local files refused (crawled URLs are
// web URLs; a page must not make the downloader read the local disk).
func DefaultConfig() Config {
	c := Config{SeedsCol: "url", MaxLag: defaultMaxLag, Crawl: crawl.DefaultConfig(), Filter: DefaultFilterOptions(),
		Fetch: fetch.DefaultConfig(), ProgressEvery: time.Second}
	c.Fetch.LocalFiles = false
	c.Fetch.PerHost = c.Crawl.PerHost
	c.Fetch.Delay = c.Crawl.Delay
	return c
}

// SetNetwork sets the network options the crawler and the downloader share.
func (c *Config) SetNetwork(allowPrivate bool, delay time.Duration, perHost int) {
	c.Crawl.AllowPrivate, c.Fetch.AllowPrivate = allowPrivate, allowPrivate
	c.Crawl.Delay, c.Fetch.Delay = delay, delay
	if perHost > 0 {
		c.Crawl.PerHost, c.Fetch.PerHost = perHost, perHost
	}
}

// LoadConfig reads a YAML file (see configs/build.yaml) over DefaultConfig. Unknown keys are an
// error, so that a misspelt option is not silently ignored.
func LoadConfig(file string) (Config, error) {
	cfg := DefaultConfig()
	err := cliconfig.LoadFile(file, &cfg)
	return cfg, err
}

// Validate checks the options that belong to the build itself; the stages check their own.
func (c *Config) Validate() error {
	var errs []error
	if c.Seeds == "" {
		errs = append(errs, errors.New("no seeds file"))
	}
	if c.Out == "" {
		errs = append(errs, errors.New("no output directory"))
	}
	if c.MaxLag <= 0 {
		c.MaxLag = defaultMaxLag
	}
	if c.Filter.Balance < 0 {
		errs = append(errs, fmt.Errorf("balance %d: want >= 0", c.Filter.Balance))
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if len(errs) > 0 {
		return fmt.Errorf("build config: %w", errors.Join(errs...))
	}
	return nil
}

func (c *Config) path(rel string) string { return filepath.Join(c.Out, filepath.FromSlash(rel)) }

// shards is where the sample shards go: Shards, or Out/shards.
func (c *Config) shards() string {
	if c.Shards != "" {
		return c.Shards
	}
	return c.path(ShardsDir)
}
