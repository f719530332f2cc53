package build

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/witdata/wit/crawl"
	"github.com/witdata/wit/fetch"
	"github.com/witdata/wit/filter"
	"github.com/witdata/wit/filter/stageset"
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

// FilterOptions are the filter stage's settings in a form that YAML and flags can hold;
// Stages turns them into filter.Stages.
type FilterOptions struct {
	Queries        string `yaml:"queries"`          // query list file (.gz ok), "default" (embedded list) or "" (no query filter)
	FoldCase       bool   `yaml:"fold_case"`        // match the query list case-insensitively
	NoLanguage     bool   `yaml:"no_language"`      // switch the language filter off
	Languages      string `yaml:"languages"`        // languages kept (ISO 639-1 codes or names, comma-separated)
	DetectLangs    string `yaml:"detect_languages"` // lingua's candidate set ("" = filter.DefaultDetectLanguages, "all")
	LowAccuracy    bool   `yaml:"low_accuracy"`     // lingua's low accuracy mode
	LangCache      int    `yaml:"lang_cache"`       // LRU entries of language results (-1 = off)
	MinChars       int    `yaml:"min_chars"`
	MinWords       int    `yaml:"min_words"`
	MaxChars       int    `yaml:"max_chars"`
	NoJunk         bool   `yaml:"no_junk"`
	DropInvalidUTF bool   `yaml:"drop_invalid_utf8"`
	NoDedup        bool   `yaml:"no_dedup"`
	Balance        int    `yaml:"balance"` // MetaCLIP's t (online mode); 0 = no balancing
	Seed           uint64 `yaml:"seed"`    // seed of the balancing coins
}

// DefaultFilterOptions are `wit filter`'s defaults: the embedded query list, English only, the
// LAION/DataComp text rules, dedup on, t = 20,000.
func DefaultFilterOptions() FilterOptions {
	r := filter.DefaultTextRules()
	return FilterOptions{Queries: "default", Languages: "en", LangCache: 100_000,
		MinChars: r.MinChars, MinWords: r.MinWords, MaxChars: r.MaxChars, Balance: filter.DefaultThreshold}
}

// Stages builds the per-caption filter stages (loading the query list and lingua's models),
// the way wit filter does (filter/stageset).
func (o FilterOptions) Stages(log *slog.Logger) (filter.Stages, error) {
	return stageset.Settings{
		Queries: o.Queries, FoldCase: o.FoldCase, NoLanguage: o.NoLanguage, Languages: o.Languages,
		DetectLanguages: o.DetectLangs, LowAccuracy: o.LowAccuracy, CacheSize: o.LangCache,
		Text:            filter.TextRules{MinChars: o.MinChars, MinWords: o.MinWords, MaxChars: o.MaxChars, NoJunk: o.NoJunk},
		DropInvalidUTF8: o.DropInvalidUTF,
	}.Build(log)
}

// Config holds every option of a build. Start from DefaultConfig (or LoadConfig).
type Config struct {
	Seeds     string `yaml:"seeds"`      // seed list (crawl's formats)
	SeedsCol  string `yaml:"seeds_col"`  // URL column of csv/tsv/jsonl seeds
	Out       string `yaml:"out"`        // data directory: shards/, state/, build-stats.json
	KeepPairs bool   `yaml:"keep_pairs"` // also write the crawl's raw pairs to Out/pairs

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
	f, err := os.Open(file)
	if err != nil {
		return cfg, fmt.Errorf("build config: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("build config %s: %w", file, err)
	}
	return cfg, nil
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
