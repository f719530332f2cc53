package fetch

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/witdata/wit/imgproc"
	"github.com/witdata/wit/internal/cliconfig"
	"github.com/witdata/wit/internal/httpx"
	"github.com/witdata/wit/internal/input"
	"github.com/witdata/wit/internal/netguard"
)

// DefaultUserAgent identifies the image downloader. Its first product token ("wit-fetch") is the
// name X-Robots-Tag directives addressed to a specific agent are matched against.
const DefaultUserAgent = "wit-fetch/0.1 (+https://github.com/witdata/wit)"

// Config holds every fetch option. Start from DefaultConfig (or LoadConfig, which starts from it).
type Config struct {
	Out string `yaml:"out"` // shard directory: NNNNN.arrow, NNNNN_stats.json, NNNNN_failed.jsonl, manifest.json, sizes.json, stats.json

	// Network (the same meaning as the crawler's options).
	Workers      int           `yaml:"workers"`       // downloads in flight over all hosts
	PerHost      int           `yaml:"per_host"`      // downloads in flight per host
	Delay        time.Duration `yaml:"delay"`         // minimum time between request starts to one host
	UserAgent    string        `yaml:"user_agent"`    // sent with every request
	Timeout      time.Duration `yaml:"timeout"`       // per attempt: connect, headers and the whole body
	Retries      int           `yaml:"retries"`       // extra attempts on 429/5xx/timeouts (backoff, Retry-After)
	MaxBytes     int64         `yaml:"max_bytes"`     // larger downloads (or local files) fail with reason too_large
	MaxRedirects int           `yaml:"max_redirects"` // longer redirect chains fail with reason redirects
	AllowPrivate bool          `yaml:"allow_private"` // allow loopback/private/link-local addresses (SSRF guard off)
	AllowAddrs   []string      `yaml:"allow_addrs"`   // private destinations allowed one by one: "ip:port", "ip" or CIDR (the guard stays on for the rest)
	LocalFiles   bool          `yaml:"local_files"`   // accept local paths and file:// URLs in the input (off: they fail with local_disabled)
	BaseDir      string        `yaml:"base_dir"`      // relative local paths are resolved against it ("" = working directory)

	// Images (img2dataset's resizer options).
	Size           int     `yaml:"size"`             // target size in pixels
	ResizeMode     string  `yaml:"resize_mode"`      // no, border, keep_ratio, keep_ratio_largest, center_crop
	Quality        int     `yaml:"quality"`          // JPEG quality 1..100
	MinSize        int     `yaml:"min_size"`         // shorter side below it fails with reason too_small (0: off)
	MaxAspect      float64 `yaml:"max_aspect"`       // longer/shorter side above it fails with reason aspect (0: off)
	MaxPixels      int64   `yaml:"max_pixels"`       // declared width×height above it fails with too_many_pixels before decoding
	MaxImageMemory int64   `yaml:"max_image_memory"` // bytes one image may take to decode, resize and encode, estimated from its header; more fails with memory_budget (negative: no limit)
	ProcessWorkers int     `yaml:"process_workers"`  // images decoded and resized at once (default: GOMAXPROCS); peak image memory is ProcessWorkers × MaxImageMemory

	// Shards.
	SamplesPerShard int   `yaml:"samples_per_shard"` // rows per shard file (at most 10,000 keeps 9-digit keys)
	MaxShardBytes   int64 `yaml:"max_shard_bytes"`   // also start a new shard once one passes this size (0: off)

	// RetryFailed ignores the source and downloads again the items whose latest attempt (in any
	// earlier run into Out) failed, with a reason in RetryReasons (empty: every reason).
	RetryFailed  bool     `yaml:"retry_failed"`
	RetryReasons []string `yaml:"retry_reasons"`

	// BadRows is the policy for malformed input rows (see internal/input): "skip" (default:
	// skipped, counted by reason in Stats.BadRows, listed in Out/bad-rows.jsonl) or "error".
	BadRows string `yaml:"bad_rows"`

	// InputName names the source in stats.json and in Out's fetch.json. A rerun into the same Out
	// with a different InputName is refused: resuming counts input positions, which only mean the
	// same items when the input is the same.
	InputName string `yaml:"-"`

	// FirstSeq is the input position of the source's first item (default 0). A distributed
	// fetch (package dist/stages) runs each slice of an input with its own FirstSeq, so the
	// positions its records hold are the whole input's and the merged directory resumes like a
	// single-machine one.
	FirstSeq int64 `yaml:"-"`
	// FirstShard is the first shard number of a new output directory (default 0); a
	// distributed fetch gives each slice its own range of numbers.
	FirstShard int `yaml:"-"`
	// ShardDir, when set, is where the run's shards and their records (NNNNN.arrow,
	// NNNNN_stats.json, NNNNN_failed.jsonl) go instead of Out: a folder that other runs share,
	// each owning its own shard numbers, [FirstShard, ShardLimit) for this one. The run reads,
	// cleans and writes only its numbers there (a shard that would pass ShardLimit is an error),
	// and keeps its own files in Out: manifest.json and sizes.json of its shards, stats.json,
	// fetch.json, the bad-rows list, the lock and the decode journal. A distributed fetch
	// (package dist/stages) gives each slice a range in the job's output folder, so the shards
	// are written under their final names and no merge has to move them.
	ShardDir   string `yaml:"-"`
	ShardLimit int    `yaml:"-"`

	// Client, when set, is used instead of a client built from the network options (wit build
	// shares the crawler's, so per-host limits hold across both stages).
	Client *httpx.Client `yaml:"-"`
	// ShareLimitsWith, when set (and Client is not), shares that client's per-host limiter and
	// DNS cache while keeping fetch's own request options.
	ShareLimitsWith *httpx.Client `yaml:"-"`
	// Logger receives warnings (nil: slog.Default()).
	Logger *slog.Logger `yaml:"-"`
	// Progress, when set, is called about every ProgressEvery with a snapshot of the run.
	Progress      func(Stats)   `yaml:"-"`
	ProgressEvery time.Duration `yaml:"progress_every"`
}

// DefaultConfig returns img2dataset's image defaults (256 px, border, quality 95, 10,000 samples
// per shard, 10 s timeout) with polite network defaults: 4 downloads per host, retries with
// backoff honouring Retry-After, 20 MiB per image, the SSRF guard on, local files refused (an
// untrusted URL list must not copy the machine's files into the shards).
func DefaultConfig() Config {
	return Config{
		BadRows:         "skip",
		Workers:         64,
		PerHost:         4,
		Delay:           0,
		UserAgent:       DefaultUserAgent,
		Timeout:         10 * time.Second,
		Retries:         2,
		MaxBytes:        20 << 20,
		MaxRedirects:    5,
		Size:            imgproc.DefaultSize,
		ResizeMode:      "border",
		Quality:         imgproc.DefaultQuality,
		MaxPixels:       imgproc.DefaultMaxPixels,
		MaxImageMemory:  imgproc.DefaultMaxMemory,
		SamplesPerShard: 10000,
		ProgressEvery:   5 * time.Second,
	}
}

// LoadConfig reads a YAML file over DefaultConfig. Durations are Go durations ("250ms"). Unknown
// keys are an error, so that a misspelt option is not silently ignored.
func LoadConfig(file string) (Config, error) {
	cfg := DefaultConfig()
	if err := cliconfig.LoadFile(file, &cfg); err != nil {
		return cfg, fmt.Errorf("fetch config: %w", err)
	}
	return cfg, nil
}

// Validate checks the options and fills derived defaults.
func (c *Config) Validate() error {
	var errs []error
	if c.Out == "" {
		errs = append(errs, errors.New("no output directory"))
	}
	if c.Workers <= 0 {
		errs = append(errs, fmt.Errorf("workers %d: want > 0", c.Workers))
	}
	if c.PerHost <= 0 {
		errs = append(errs, fmt.Errorf("per_host %d: want > 0", c.PerHost))
	}
	if c.Delay < 0 {
		errs = append(errs, fmt.Errorf("delay %s: want >= 0", c.Delay))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout %s: want > 0", c.Timeout))
	}
	if c.Retries < 0 {
		errs = append(errs, fmt.Errorf("retries %d: want >= 0", c.Retries))
	}
	if c.MaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("max_bytes %d: want > 0", c.MaxBytes))
	}
	if _, err := netguard.ParseAllowList(c.AllowAddrs); err != nil {
		errs = append(errs, err)
	}
	if c.Size <= 0 {
		errs = append(errs, fmt.Errorf("size %d: want > 0", c.Size))
	}
	if err := input.CheckBadRowsPolicy(c.BadRows); err != nil {
		errs = append(errs, err)
	}
	if _, err := imgproc.ParseResizeMode(c.ResizeMode); err != nil {
		errs = append(errs, err)
	}
	if c.Quality < 1 || c.Quality > 100 {
		errs = append(errs, fmt.Errorf("quality %d: want 1..100", c.Quality))
	}
	if c.MinSize < 0 || c.MaxAspect < 0 {
		errs = append(errs, errors.New("min_size and max_aspect must be >= 0"))
	}
	if c.MaxAspect > 0 && c.MaxAspect < 1 {
		errs = append(errs, fmt.Errorf("max_aspect %g: a ratio longer/shorter side is >= 1", c.MaxAspect))
	}
	if c.SamplesPerShard <= 0 {
		errs = append(errs, fmt.Errorf("samples_per_shard %d: want > 0", c.SamplesPerShard))
	}
	if c.FirstSeq < 0 || c.FirstShard < 0 {
		errs = append(errs, errors.New("first_seq and first_shard must be >= 0"))
	}
	if c.ShardDir != "" && c.ShardLimit <= c.FirstShard {
		errs = append(errs, fmt.Errorf("shard_limit %d: a shared shard folder needs a range past first_shard %d", c.ShardLimit, c.FirstShard))
	}
	if c.MaxShardBytes < 0 {
		errs = append(errs, fmt.Errorf("max_shard_bytes %d: want >= 0", c.MaxShardBytes))
	}
	if c.ProcessWorkers <= 0 {
		c.ProcessWorkers = runtime.GOMAXPROCS(0)
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return errors.Join(errs...)
}

// imageOptions converts the image options for imgproc (Validate has checked them).
func (c *Config) imageOptions() imgproc.Options {
	mode, _ := imgproc.ParseResizeMode(c.ResizeMode)
	return imgproc.Options{Size: c.Size, Mode: mode, Quality: c.Quality, MaxPixels: c.MaxPixels,
		MinSize: c.MinSize, MaxAspect: c.MaxAspect, MaxMemory: c.MaxImageMemory}
}

// httpOptions converts the network options for httpx.
func (c *Config) httpOptions() httpx.Options {
	o := httpx.DefaultOptions()
	o.UserAgent = c.UserAgent
	o.Timeout = c.Timeout
	o.MaxBodyBytes = c.MaxBytes
	o.MaxRedirects = c.MaxRedirects
	if c.MaxRedirects == 0 {
		o.MaxRedirects = -1 // httpx reads 0 as its default; fetch's 0 means none
	}
	o.Retries = c.Retries
	o.PerHost = c.PerHost
	o.Delay = c.Delay
	o.AllowPrivate = c.AllowPrivate
	o.AllowAddrs = c.AllowAddrs
	o.ShareLimits = c.ShareLimitsWith
	return o
}
