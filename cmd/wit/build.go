package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/witdata/wit/build"
)

func init() { rootCmd.AddCommand(newBuildCmd()) }

// buildOptions is what `wit build` reads from its flags and --config (the YAML holds Config).
type buildOptions struct {
	Config      build.Config
	JSON, Quiet bool
}

func newBuildCmd() *cobra.Command { return buildCommand(runBuild) }

// buildCommand declares the flags; run gets the resolved options (tests pass their own).
func buildCommand(run func(*cobra.Command, *buildOptions) error) *cobra.Command {
	o := &buildOptions{Config: build.DefaultConfig()}
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
	}
	c := &o.Config
	b := bindConfig(cmd, o, c, "YAML file of build options (see configs/build.yaml: sections crawl, filter, fetch); flags set on the command line override it", run)
	b.String(&c.Seeds, "seeds", "seed list: .txt (one URL a line, # comments), .csv/.tsv/.jsonl with a url column; .gz ok")
	b.String(&c.SeedsCol, "seeds-col", "column holding the URL in csv/tsv/jsonl seed files")
	b.String(&c.Out, "out", "data directory: shards/, state/, build-stats.json; reuse it to resume")
	b.Bool(&c.KeepPairs, "keep-pairs", "also keep the crawl's raw pairs as Arrow files in --out/pairs")
	b.String(&c.Shards, "shards-out", "write the image shards here instead of --out/shards: a path or an s3://bucket/prefix URL (the state stays in --out)")
	b.Int(&c.MaxLag, "max-lag", "kept pairs the downloader may fall behind before the crawl pauses")
	b.String(&c.Filter.Queries, "queries", `query list file (one entry a line, .gz ok), "default" for the embedded list, "" for no query filter`)
	b.String(&c.Filter.Languages, "languages", "caption languages kept, ISO 639-1 codes or names, comma-separated")
	b.Bool(&c.Filter.NoLanguage, "no-language", "switch the language filter off")
	b.Int(&c.Filter.Balance, "balance", "balancing threshold t per query entry (online mode); 0 = no balancing")
	b.Uint64(&c.Filter.Seed, "seed", "seed of the balancing coin flips")
	b.Int(&c.Crawl.MaxDepth, "max-depth", "link hops followed from a seed (0 = seeds only, -1 = unlimited)")
	b.Int64(&c.Crawl.MaxPages, "max-pages", "pages crawled in total at most, seeds included (0 = unlimited)")
	b.String(&c.Crawl.Scope, "scope", "links followed: host, domain (same registered domain) or glob (config allow_hosts)")
	b.Int(&c.Fetch.Size, "size", "image size in pixels after resizing")
	b.Int(&c.Fetch.SamplesPerShard, "samples-per-shard", "samples per shard file")
	b.Int(&c.Fetch.Workers, "fetch-workers", "image downloads in flight over all hosts")
	b.Bool(&c.Crawl.AllowPrivate, "allow-private", "crawl and download from loopback, private, link-local and metadata addresses (testing, intranets)", &c.Fetch.AllowPrivate)
	b.Duration(&c.Crawl.Delay, "delay", "minimum time between requests to one host, crawler and downloader each (Go duration; 0 allowed)", &c.Fetch.Delay)
	b.Int(&c.Crawl.PerHost, "per-host", "concurrent requests per host, crawler and downloader each", &c.Fetch.PerHost)
	b.Bool(&o.JSON, "json", "print the final stats as JSON on stdout instead of a summary on stderr")
	b.Bool(&o.Quiet, "quiet", "no progress line")
	return cmd
}

// runBuild runs the build with resolved options.
func runBuild(cmd *cobra.Command, o *buildOptions) error {
	cfg := o.Config
	if cfg.Seeds == "" || cfg.Out == "" {
		return fmt.Errorf("build: --seeds and --out are required (flags or config)")
	}
	cfg.Logger = slog.Default()
	finish := func() {}
	if !o.Quiet {
		cfg.Progress, finish = buildProgress(os.Stderr)
	}
	stats, err := build.Run(cmd.Context(), cfg)
	finish()
	var summary func(io.Writer)
	if stats.Out != "" {
		summary = stats.WriteSummary
	}
	return reportStats(err, o.JSON, stats, summary)
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
