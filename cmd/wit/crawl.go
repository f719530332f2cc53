package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/crawl"
)

func init() { rootCmd.AddCommand(newCrawlCmd()) }

// crawlOptions is what `wit crawl` reads from its flags and --config (the YAML holds Config).
type crawlOptions struct {
	Config      crawl.Config
	JSON, Quiet bool
}

func newCrawlCmd() *cobra.Command { return crawlCommand(runCrawl) }

// crawlCommand declares the flags; run gets the resolved options (tests pass their own).
func crawlCommand(run func(*cobra.Command, *crawlOptions) error) *cobra.Command {
	o := &crawlOptions{Config: crawl.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "crawl --seeds FILE --out DIR --state DIR [flags]",
		Short: "Crawl seed sites politely into candidate (image URL, caption) pairs",
		Long: `Crawl the sites of a seed list and write every candidate (image URL, caption) pair found on
their HTML pages as Arrow IPC files (columns page_url, image_url, caption, caption_source,
page_lang, fetched_at; caption_source is alt, title, figcaption, og, mediawiki,
wordpress, doc_figure, aria_label or aria_describedby).

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

With --warc-out DIR every request and response (robots.txt and each redirect hop too) is also
archived as WARC/1.1 files, gzip per record, each renamed into place when complete; wit cc reads
the archive back into the same pairs. --warc-out may be an s3:// URL: each file is then staged in
--state and uploaded whole once complete.

Flags override --config (YAML, see configs/crawl.yaml), which overrides the defaults.`,
		Example: `  wit crawl --seeds seeds.txt --out work/pairs --state work/state
  wit crawl --config configs/crawl.yaml --seeds sites.csv --scope domain --max-depth 2
  wit crawl --seeds s.txt --out o --state st --scope glob --allow-hosts '*.wikipedia.org,*.wikimedia.org'`,
	}
	c := &o.Config
	b := bindConfig(cmd, o, c, "YAML file of crawl options (keys as in configs/crawl.yaml); flags set on the command line override it", run)
	b.String(&c.Seeds, "seeds", "seed list: .txt (one URL a line, # comments), .csv/.tsv/.jsonl with a url column; .gz ok")
	b.String(&c.SeedsCol, "seeds-col", "column holding the URL in csv/tsv/jsonl seed files")
	b.String(&c.BadRows, "bad-rows", "malformed seed rows (bad quoting, wrong field count, invalid UTF-8, NUL bytes): skip (counted, listed in --out/bad-rows.jsonl) or error (stop at the first)")
	b.String(&c.Out, "out", "output directory or s3://bucket/prefix for pair files (NNNNN.arrow) and stats.json (the state stays local in --state)")
	b.String(&c.State, "state", "state directory (pebble: visited set, frontier, pending pairs); reuse it to resume")
	b.Int(&c.MaxDepth, "max-depth", "link hops followed from a seed (0 = seeds only, -1 = unlimited)")
	b.Int64(&c.MaxPagesPerHost, "max-pages-per-host", "pages fetched per host at most (0 = unlimited)")
	b.Int64(&c.MaxPages, "max-pages", "pages fetched in total at most, seeds included (0 = unlimited)")
	b.String(&c.Scope, "scope", "links followed: host (same host as the seed), domain (same registered domain, e.g. *.example.co.uk), glob (only --allow-hosts)")
	b.List(&c.AllowHosts, "allow-hosts", "comma-separated host globs always in scope, e.g. '*.wikimedia.org' (required with --scope glob)")
	b.Int(&c.Workers, "workers", "pages fetched at once over all hosts")
	b.Int(&c.PerHost, "per-host", "concurrent requests per host")
	b.Duration(&c.Delay, "delay", "minimum time between requests to one host, a Go duration (250ms, 1s; 0 allowed)")
	b.String(&c.UserAgent, "user-agent", "User-Agent header; include a contact URL. robots.txt groups match its first word")
	b.Duration(&c.Timeout, "timeout", "per request attempt: connect, headers and whole body")
	b.Int64(&c.MaxBody, "max-body", "largest page in bytes; larger ones fail as too_large")
	b.Int(&c.Retries, "retries", "retries on 429, 5xx and timeouts (exponential backoff, Retry-After honoured)")
	b.Duration(&c.MaxCrawlDelay, "max-crawl-delay", "cap on a robots.txt Crawl-delay")
	b.Bool(&c.AllowPrivate, "allow-private", "allow loopback, private, link-local and metadata addresses (testing, intranets)")
	b.List(&c.AllowAddrs, "allow-addr", "comma-separated private destinations allowed one by one (ip:port, ip or CIDR), e.g. an intranet mirror; all others stay refused")
	b.Int(&c.RowsPerFile, "rows-per-file", "pairs per output file (a file ends at the first page boundary past this)")
	b.Duration(&c.ShutdownGrace, "shutdown-grace", "after Ctrl-C, how long pages in flight may take to finish")
	b.String(&c.WARCOut, "warc-out", "also archive every request and response (robots.txt and redirects too) as WARC/1.1 files, gzip per record, in this directory or s3://bucket/prefix (staged in --state, uploaded whole); read them back with wit cc")
	b.Int64(&c.WARCFileBytes, "warc-file-bytes", "size at which a WARC file is closed and the next one started")
	b.Bool(&o.JSON, "json", "print the final stats as JSON on stdout instead of a summary on stderr")
	b.Bool(&o.Quiet, "quiet", "no progress line")
	return cmd
}

// runCrawl runs the crawl with resolved options.
func runCrawl(cmd *cobra.Command, o *crawlOptions) error {
	cfg := o.Config
	if cfg.Seeds == "" || cfg.Out == "" || cfg.State == "" {
		return fmt.Errorf("crawl: --seeds, --out and --state are required (flags or config)")
	}
	cfg.Logger = slog.Default()
	finishProgress := func() {}
	if !o.Quiet {
		cfg.Progress, finishProgress = crawl.NewProgress(os.Stderr, slog.Default())
	}
	stats, err := crawl.Run(cmd.Context(), cfg)
	finishProgress()
	var summary func(io.Writer)
	if stats.Runs > 0 {
		summary = func(w io.Writer) { fmt.Fprintln(w, stats.Summary()) }
	}
	return reportStats(err, o.JSON, stats, summary)
}
