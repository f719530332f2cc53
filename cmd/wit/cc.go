package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/cc"
)

func init() { rootCmd.AddCommand(newCCCmd()) }

// ccConfig is what `wit cc` reads from its flags and --config: cc.Options plus the inputs.
type ccConfig struct {
	cc.Options `yaml:",inline"`
	In         []string `yaml:"in"`
	Base       string   `yaml:"base"`
	JSON       bool     `yaml:"-"`
	Quiet      bool     `yaml:"-"`
}

func newCCCmd() *cobra.Command { return ccCommand(runCC) }

// runCC runs wit cc with resolved options.
func runCC(cmd *cobra.Command, cfg *ccConfig) error {
	opts := &cfg.Options
	in, base := cfg.In, cfg.Base
	if len(in) == 0 || opts.Out == "" {
		return fmt.Errorf("cc: --in and --out are required")
	}
	opts.Logger = slog.Default()
	opts.Open = cc.NewOpener(opts.AllowPrivate, opts.Workers, opts.HTTPTimeout)
	finishProgress := func() {}
	if !cfg.Quiet {
		opts.Progress, finishProgress = cc.NewProgress(os.Stderr, slog.Default())
	}
	ctx := cmd.Context()
	stats, err := cc.Run(ctx, *opts, cc.Inputs(ctx, in, base, opts.Open))
	finishProgress()
	if stats == nil {
		return err
	}
	return reportStats(err, cfg.JSON, stats, func(w io.Writer) { fmt.Fprintln(w, stats.Summary()) })
}

// ccCommand declares the flags; run gets the resolved options (wit submit cc passes its own).
func ccCommand(run func(*cobra.Command, *ccConfig) error) *cobra.Command {
	cfg := &ccConfig{Options: cc.Options{Workers: 1, MaxBody: 5 << 20, HTTPTimeout: cc.DefaultHTTPTimeout, Format: cc.FormatAuto}, Base: cc.DefaultBase}
	opts := &cfg.Options
	cmd := &cobra.Command{
		Use:   "cc --in FILE|DIR|URL|LIST [--in ...] --out DIR|s3://BUCKET/PREFIX [flags]",
		Short: "Extract (image URL, caption) pairs from Common Crawl WARC/WAT files or a crawl archive",
		Long: `Read web archives and write the candidate (image URL, caption) pairs they hold as Arrow pair
files with the crawl's columns (page_url, image_url, caption, caption_source, page_lang,
fetched_at), so that wit filter, fetch and build take them as they take wit crawl's output.

Inputs (--in, repeatable, in order):
  a .warc(.gz) or .wat(.gz) file; a directory (its .warc(.gz) and .wat(.gz) files, recursively,
  in name order); an http(s) URL of such a file; or a Common Crawl file list (*.paths or
  *.paths.gz, local or a URL) whose entries are resolved against --base. Files, directories,
  lists and --base may also be object-store URLs (s3://bucket/prefix?region=...; credentials
  from the AWS environment, ~/.aws or the instance role), e.g. s3://bucket/warcs/ for a folder.
  Files are streamed (gzip per record, as Common Crawl ships them, or uncompressed), never held
  whole. URLs are fetched with retries; loopback and private addresses are refused unless
  --allow-private.

Records (--format auto tells them apart record by record):
  WARC response records: the HTTP response is parsed and, when it is a 2xx HTML page without a
    noindex/noai directive, read by the crawler's extractor (<img> alt/title, srcset, lazy-load
    attributes, <picture>, <figure>/<figcaption>, og:image); caption_source as in wit crawl.
  WAT metadata records (application/json): the links of HTML-Metadata whose path is IMG@/src
    and that have an alt text, as cc2dataset reads them; relative URLs are resolved against the
    page URL and its <base>; caption_source is "alt".
  page_url is the record's WARC-Target-URI (normalised), fetched_at its WARC-Date.

Damage is counted, not fatal: a corrupt gzip member loses its record only, a record whose
header cannot be parsed is skipped, a file that ends early keeps every record before the cut
(and is listed as truncated). An input that cannot be read (404, network) is logged and left
for the next run.

Output: --out/NNNNN.arrow, one per input that gave pairs (NNNNN = the input's position in the
expanded input list), each appearing only when its input has been read to the end, and
--out/cc-stats.json (records by outcome, damage, WAT links by kind, pairs by source, over all
runs). --out may be an s3:// URL: each pair file is then uploaded whole (one object) when its
input is done, and nothing else appears in the bucket. Done markers live in --state (default
OUT/.cc-state; for an s3:// --out a local folder under the user cache directory). Run the same
command again after an interruption (Ctrl-C, kill, crash): inputs already done are skipped,
inputs cut off are read again from the start; no pair is lost or written twice. A run over
another input list needs another --out.`,
		Example: `  wit cc --in crawl-data/CC-MAIN-2024-10/wat.paths.gz --base https://data.commoncrawl.org/ --out work/cc --limit-files 100 --workers 8
  wit cc --in ./warcs/ --out work/pairs
  wit cc --in work/warc --out work/archive-pairs          # the archive of wit crawl --warc-out
  wit cc --in 's3://my-bucket/warc/?region=eu-west-1' --out 's3://my-bucket/cc?region=eu-west-1' --workers 8`,
	}
	b := bindConfig(cmd, cfg, cfg, "YAML file of cc options (keys: in, base, out, state, format, limit_files, workers, max_body, allow_private, http_timeout); flags set on the command line override it", run)
	b.Repeated(&cfg.In, "in", "input: a .warc(.gz)/.wat(.gz) file, a directory of them, an http(s) URL, or a *.paths(.gz) list; a path or an s3:// URL (a file or a folder) (repeatable; order matters for resume)")
	b.String(&cfg.Base, "base", "URL (http(s) or s3://) or local directory that the relative entries of *.paths lists are resolved against")
	b.String(&opts.Out, "out", "output directory, a path or an s3:// URL: NNNNN.arrow pair files (one per input) and cc-stats.json")
	b.String(&opts.State, "state", "directory of per-input done markers for resume, a path or an s3:// URL (default OUT/.cc-state; for an s3:// --out a local folder under the user cache directory named after it)")
	b.String(&opts.Format, "format", "records to read: auto (WARC response and WAT metadata records, each by its type), warc (responses only) or wat (WAT records only)")
	b.Int(&opts.LimitFiles, "limit-files", "read only the first N inputs of the expanded list (0 = all); inputs already done count")
	b.Int(&opts.Workers, "workers", "input files read at once (one core each)")
	b.Int64(&opts.MaxBody, "max-body", "largest record block read in bytes; larger records are counted as too_large (Common Crawl cuts payloads at 1 MiB)")
	b.Bool(&opts.AllowPrivate, "allow-private", "allow http(s) inputs on loopback, private and link-local addresses (testing, intranet mirrors)")
	b.Duration(&opts.HTTPTimeout, "http-timeout", "longest time one http(s) input may take to download (retried on failure)")
	b.Bool(&cfg.JSON, "json", "print the final stats as JSON on stdout instead of a summary on stderr")
	b.Bool(&cfg.Quiet, "quiet", "no progress line")
	return cmd
}
