package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/crawl"
)

func init() { rootCmd.AddCommand(newCrawlCmd()) }

// crawlRunner runs a crawl once its flags are read: on this machine (wit crawl) or as a job on
// the queue (wit submit crawl).
type crawlRunner func(cmd *cobra.Command, cfg crawl.Config, jsonOut, quiet bool) error

func newCrawlCmd() *cobra.Command { return newCrawlCmdWith(runCrawlHere) }

// newCrawlCmdWith builds the crawl command's flags and config binding around run.
func newCrawlCmdWith(run crawlRunner) *cobra.Command {
	var (
		configFile string
		allowHosts string
		allowAddrs string
		jsonOut    bool
		quiet      bool
	)
	def := crawl.DefaultConfig()
	flagCfg := def
	cmd := &cobra.Command{
		Use:   "crawl --seeds FILE --out DIR --state DIR [flags]",
		Short: "Crawl seed sites politely into candidate (image URL, caption) pairs",
		Long: `Crawl the sites of a seed list and write every candidate (image URL, caption) pair found on
their HTML pages as Arrow IPC files (columns page_url, image_url, caption, caption_source,
page_lang, fetched_at; caption_source is alt, title, figcaption or og).

Politeness is on by default: robots.txt obeyed (Crawl-delay honoured up to a cap), 2 connections
and 250ms between requests per host, retries with backoff on 429/5xx honouring Retry-After, a
User-Agent with a contact URL, at most 5 redirects. Loopback, private, link-local and cloud
metadata addresses are refused unless --allow-private.

State (visited set, frontier, pending pairs, counters) lives in --state (pebble). Interrupt the
crawl (Ctrl-C, SIGTERM, even kill -9) and run the same command again: it continues where it
stopped: no pair lost or written twice, and no page fetched twice (after kill -9 or a power cut,
the pages in flight then, and those completed in the last moment before it, are fetched again). A finished crawl run again does nothing.

Output: --out/NNNNN.arrow (a file appears only when complete) and --out/stats.json (pages ok /
failed by reason, robots-blocked, pairs by caption source, bytes, duration), accumulated over
resumed runs. A progress line goes to stderr while it runs.

Flags override --config (YAML, see configs/crawl.yaml), which overrides the defaults.`,
		Example: `  wit crawl --seeds seeds.txt --out work/pairs --state work/state
  wit crawl --config configs/crawl.yaml --seeds sites.csv --scope domain --max-depth 2
  wit crawl --seeds s.txt --out o --state st --scope glob --allow-hosts '*.wikipedia.org,*.wikimedia.org'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := def
			if configFile != "" {
				var err error
				if cfg, err = crawl.LoadConfig(configFile); err != nil {
					return err
				}
			}
			// Flags given on the command line win over the config file.
			fl := cmd.Flags()
			set := func(name string, apply func()) {
				if fl.Changed(name) {
					apply()
				}
			}
			set("seeds", func() { cfg.Seeds = flagCfg.Seeds })
			set("seeds-col", func() { cfg.SeedsCol = flagCfg.SeedsCol })
			set("out", func() { cfg.Out = flagCfg.Out })
			set("state", func() { cfg.State = flagCfg.State })
			set("max-depth", func() { cfg.MaxDepth = flagCfg.MaxDepth })
			set("max-pages-per-host", func() { cfg.MaxPagesPerHost = flagCfg.MaxPagesPerHost })
			set("max-pages", func() { cfg.MaxPages = flagCfg.MaxPages })
			set("scope", func() { cfg.Scope = flagCfg.Scope })
			set("allow-hosts", func() { cfg.AllowHosts = splitList(allowHosts) })
			set("workers", func() { cfg.Workers = flagCfg.Workers })
			set("per-host", func() { cfg.PerHost = flagCfg.PerHost })
			set("delay", func() { cfg.Delay = flagCfg.Delay })
			set("user-agent", func() { cfg.UserAgent = flagCfg.UserAgent })
			set("timeout", func() { cfg.Timeout = flagCfg.Timeout })
			set("max-body", func() { cfg.MaxBody = flagCfg.MaxBody })
			set("retries", func() { cfg.Retries = flagCfg.Retries })
			set("max-crawl-delay", func() { cfg.MaxCrawlDelay = flagCfg.MaxCrawlDelay })
			set("allow-private", func() { cfg.AllowPrivate = flagCfg.AllowPrivate })
			set("allow-addr", func() { cfg.AllowAddrs = splitList(allowAddrs) })
			set("rows-per-file", func() { cfg.RowsPerFile = flagCfg.RowsPerFile })
			set("shutdown-grace", func() { cfg.ShutdownGrace = flagCfg.ShutdownGrace })
			if cfg.Seeds == "" || cfg.Out == "" || cfg.State == "" {
				return fmt.Errorf("crawl: --seeds, --out and --state are required (flags or config)")
			}
			cfg.Logger = slog.Default()
			return run(cmd, cfg, jsonOut, quiet)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "YAML file of crawl options (keys as in configs/crawl.yaml); flags override it")
	f.StringVar(&flagCfg.Seeds, "seeds", "", "seed list: .txt (one URL a line, # comments), .csv/.tsv/.jsonl with a url column; .gz ok")
	f.StringVar(&flagCfg.SeedsCol, "seeds-col", def.SeedsCol, "column holding the URL in csv/tsv/jsonl seed files")
	f.StringVar(&flagCfg.Out, "out", "", "output directory for pair files (NNNNN.arrow) and stats.json")
	f.StringVar(&flagCfg.State, "state", "", "state directory (pebble: visited set, frontier, pending pairs); reuse it to resume")
	f.IntVar(&flagCfg.MaxDepth, "max-depth", def.MaxDepth, "link hops followed from a seed (0 = seeds only, -1 = unlimited)")
	f.Int64Var(&flagCfg.MaxPagesPerHost, "max-pages-per-host", 0, "pages fetched per host at most (0 = unlimited)")
	f.Int64Var(&flagCfg.MaxPages, "max-pages", 0, "pages fetched in total at most, seeds included (0 = unlimited)")
	f.StringVar(&flagCfg.Scope, "scope", def.Scope, "links followed: host (same host as the seed), domain (same registered domain, e.g. *.example.co.uk), glob (only --allow-hosts)")
	f.StringVar(&allowHosts, "allow-hosts", "", "comma-separated host globs always in scope, e.g. '*.wikimedia.org' (required with --scope glob)")
	f.IntVar(&flagCfg.Workers, "workers", def.Workers, "pages fetched at once over all hosts")
	f.IntVar(&flagCfg.PerHost, "per-host", def.PerHost, "concurrent requests per host")
	f.DurationVar(&flagCfg.Delay, "delay", def.Delay, "minimum time between requests to one host, a Go duration (250ms, 1s; 0 allowed)")
	f.StringVar(&flagCfg.UserAgent, "user-agent", def.UserAgent, "User-Agent header; include a contact URL. robots.txt groups match its first word")
	f.DurationVar(&flagCfg.Timeout, "timeout", def.Timeout, "per request attempt: connect, headers and whole body")
	f.Int64Var(&flagCfg.MaxBody, "max-body", def.MaxBody, "largest page in bytes; larger ones fail as too_large")
	f.IntVar(&flagCfg.Retries, "retries", def.Retries, "retries on 429, 5xx and timeouts (exponential backoff, Retry-After honoured)")
	f.DurationVar(&flagCfg.MaxCrawlDelay, "max-crawl-delay", def.MaxCrawlDelay, "cap on a robots.txt Crawl-delay")
	f.BoolVar(&flagCfg.AllowPrivate, "allow-private", false, "allow loopback, private, link-local and metadata addresses (testing, intranets)")
	f.StringVar(&allowAddrs, "allow-addr", "", "comma-separated private destinations allowed one by one (ip:port, ip or CIDR), e.g. an intranet mirror; all others stay refused")
	f.IntVar(&flagCfg.RowsPerFile, "rows-per-file", def.RowsPerFile, "pairs per output file (a file ends at the first page boundary past this)")
	f.DurationVar(&flagCfg.ShutdownGrace, "shutdown-grace", def.ShutdownGrace, "after Ctrl-C, how long pages in flight may take to finish")
	f.BoolVar(&jsonOut, "json", false, "print the final stats as JSON on stdout instead of a summary on stderr")
	f.BoolVar(&quiet, "quiet", false, "no progress line")
	return cmd
}

// runCrawlHere runs the crawl in this process.
func runCrawlHere(cmd *cobra.Command, cfg crawl.Config, jsonOut, quiet bool) error {
	finishProgress := func() {}
	if !quiet {
		cfg.Progress, finishProgress = crawl.NewProgress(os.Stderr, slog.Default())
	}
	stats, err := crawl.Run(cmd.Context(), cfg)
	finishProgress()
	if jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if e := enc.Encode(stats); e != nil && err == nil {
			err = e
		}
	} else if stats.Runs > 0 {
		fmt.Fprintln(os.Stderr, stats.Summary())
	}
	return err
}

// splitList is a comma-separated flag's items, trimmed, empty ones left out.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
