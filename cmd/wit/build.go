package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/witdata/wit/build"
)

func init() { rootCmd.AddCommand(newBuildCmd()) }

// buildRunner runs a build once its flags are read: on this machine (wit build) or as jobs on the
// queue (wit submit build).
type buildRunner func(cmd *cobra.Command, cfg build.Config, jsonOut, quiet bool) error

func newBuildCmd() *cobra.Command { return newBuildCmdWith(runBuildHere) }

// newBuildCmdWith builds the build command's flags and config binding around run.
func newBuildCmdWith(run buildRunner) *cobra.Command {
	var (
		configFile string
		jsonOut    bool
		quiet      bool
	)
	def := build.DefaultConfig()
	fl := def // flag values; applied over the config file only when given
	var allowPrivate bool
	var delay time.Duration
	var perHost int
	cmd := &cobra.Command{
		Use:   "build --seeds FILE --queries FILE|default --out DIR [flags]",
		Short: "Crawl, filter and fetch in one streaming process (resumable)",
		Long: `Run crawl -> filter -> fetch at once: every pair a crawled page yields is filtered as soon as it
is found and, when kept, its image is downloaded into shards while the crawl goes on. Memory is
bounded (dedup set, frontier and backlog live on disk) and every stage keeps its state under
--out/state, so running the same command again continues where it stopped (Ctrl-C, SIGTERM or
kill -9); a finished build run again does nothing.

Stages: see "wit crawl --help", "wit filter --help" (balancing runs in online mode: running
counts) and "wit fetch --help". The network flags --allow-private, --delay and --per-host apply to
the crawler and to the image downloader alike. Other stage options go in --config (YAML,
configs/build.yaml: sections crawl, filter, fetch).

Output in --out:
  shards/            image shards (Arrow IPC, wit's sample schema), per-shard stats,
                     manifest.json, sizes.json
  state/             crawl, filter-queue and balancer state (pebble); keep it to resume
  pairs/             the raw crawled pairs (only with --keep-pairs)
  build-stats.json   every stage's stats, also printed at the end (--json: as JSON)

While running, a progress line (crawl pages and pairs, kept pairs, queue backlog, images) goes
to stderr.`,
		Example: `  wit build --seeds seeds.txt --queries default --out data
  wit build --seeds sites.csv --queries queries.txt --out data --delay 1s --per-host 1
  wit build --config configs/build.yaml --seeds seeds.txt --out data --json > stats.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := def
			if configFile != "" {
				var err error
				if cfg, err = build.LoadConfig(configFile); err != nil {
					return err
				}
			}
			f := cmd.Flags()
			set := func(name string, apply func()) {
				if f.Changed(name) {
					apply()
				}
			}
			set("seeds", func() { cfg.Seeds = fl.Seeds })
			set("seeds-col", func() { cfg.SeedsCol = fl.SeedsCol })
			set("out", func() { cfg.Out = fl.Out })
			set("keep-pairs", func() { cfg.KeepPairs = fl.KeepPairs })
			set("max-lag", func() { cfg.MaxLag = fl.MaxLag })
			set("queries", func() { cfg.Filter.Queries = fl.Filter.Queries })
			set("languages", func() { cfg.Filter.Languages = fl.Filter.Languages })
			set("no-language", func() { cfg.Filter.NoLanguage = fl.Filter.NoLanguage })
			set("balance", func() { cfg.Filter.Balance = fl.Filter.Balance })
			set("seed", func() { cfg.Filter.Seed = fl.Filter.Seed })
			set("max-depth", func() { cfg.Crawl.MaxDepth = fl.Crawl.MaxDepth })
			set("max-pages", func() { cfg.Crawl.MaxPages = fl.Crawl.MaxPages })
			set("scope", func() { cfg.Crawl.Scope = fl.Crawl.Scope })
			set("size", func() { cfg.Fetch.Size = fl.Fetch.Size })
			set("samples-per-shard", func() { cfg.Fetch.SamplesPerShard = fl.Fetch.SamplesPerShard })
			set("fetch-workers", func() { cfg.Fetch.Workers = fl.Fetch.Workers })
			set("allow-private", func() { cfg.Crawl.AllowPrivate, cfg.Fetch.AllowPrivate = allowPrivate, allowPrivate })
			set("delay", func() { cfg.Crawl.Delay, cfg.Fetch.Delay = delay, delay })
			set("per-host", func() { cfg.Crawl.PerHost, cfg.Fetch.PerHost = perHost, perHost })
			if cfg.Seeds == "" || cfg.Out == "" {
				return fmt.Errorf("build: --seeds and --out are required (flags or config)")
			}
			cfg.Logger = slog.Default()
			return run(cmd, cfg, jsonOut, quiet)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "YAML file of build options (see configs/build.yaml); flags override it")
	f.StringVar(&fl.Seeds, "seeds", "", "seed list: .txt (one URL a line, # comments), .csv/.tsv/.jsonl with a url column; .gz ok")
	f.StringVar(&fl.SeedsCol, "seeds-col", def.SeedsCol, "column holding the URL in csv/tsv/jsonl seed files")
	f.StringVar(&fl.Out, "out", "", "data directory: shards/, state/, build-stats.json; reuse it to resume")
	f.BoolVar(&fl.KeepPairs, "keep-pairs", false, "also keep the crawl's raw pairs as Arrow files in --out/pairs")
	f.IntVar(&fl.MaxLag, "max-lag", def.MaxLag, "kept pairs the downloader may fall behind before the crawl pauses")
	f.StringVar(&fl.Filter.Queries, "queries", def.Filter.Queries, `query list file (one entry a line, .gz ok), "default" for the embedded list, "" for no query filter`)
	f.StringVar(&fl.Filter.Languages, "languages", def.Filter.Languages, "caption languages kept, ISO 639-1 codes or names, comma-separated")
	f.BoolVar(&fl.Filter.NoLanguage, "no-language", false, "switch the language filter off")
	f.IntVar(&fl.Filter.Balance, "balance", def.Filter.Balance, "balancing threshold t per query entry (online mode); 0 = no balancing")
	f.Uint64Var(&fl.Filter.Seed, "seed", 0, "seed of the balancing coin flips")
	f.IntVar(&fl.Crawl.MaxDepth, "max-depth", def.Crawl.MaxDepth, "link hops followed from a seed (0 = seeds only, -1 = unlimited)")
	f.Int64Var(&fl.Crawl.MaxPages, "max-pages", 0, "pages crawled in total at most, seeds included (0 = unlimited)")
	f.StringVar(&fl.Crawl.Scope, "scope", def.Crawl.Scope, "links followed: host, domain (same registered domain) or glob (config allow_hosts)")
	f.IntVar(&fl.Fetch.Size, "size", def.Fetch.Size, "image size in pixels after resizing")
	f.IntVar(&fl.Fetch.SamplesPerShard, "samples-per-shard", def.Fetch.SamplesPerShard, "samples per shard file")
	f.IntVar(&fl.Fetch.Workers, "fetch-workers", def.Fetch.Workers, "image downloads in flight over all hosts")
	f.BoolVar(&allowPrivate, "allow-private", false, "crawl and download from loopback, private, link-local and metadata addresses (testing, intranets)")
	f.DurationVar(&delay, "delay", def.Crawl.Delay, "minimum time between requests to one host, crawler and downloader each (Go duration; 0 allowed)")
	f.IntVar(&perHost, "per-host", def.Crawl.PerHost, "concurrent requests per host, crawler and downloader each")
	f.BoolVar(&jsonOut, "json", false, "print the final stats as JSON on stdout instead of a summary on stderr")
	f.BoolVar(&quiet, "quiet", false, "no progress line")
	return cmd
}

// runBuildHere runs the build in this process.
func runBuildHere(cmd *cobra.Command, cfg build.Config, jsonOut, quiet bool) error {
	finish := func() {}
	if !quiet {
		cfg.Progress, finish = buildProgress(os.Stderr)
	}
	stats, err := build.Run(cmd.Context(), cfg)
	finish()
	if jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if e := enc.Encode(stats); e != nil && err == nil {
			err = e
		}
	} else if stats.Out != "" {
		stats.WriteSummary(os.Stderr)
	}
	return err
}

// buildProgress shows the combined progress line: rewritten in place on a terminal, one log
// line per update otherwise.
func buildProgress(w *os.File) (update func(build.Stats), done func()) {
	tty := term.IsTerminal(int(w.Fd()))
	var last time.Time
	update = func(s build.Stats) {
		if tty {
			fmt.Fprintf(w, "\r\033[K%s", s.Line())
			return
		}
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			slog.Info("build progress", "line", s.Line())
		}
	}
	done = func() {
		if tty {
			fmt.Fprint(w, "\r\033[K")
		}
	}
	return update, done
}
