package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/fetch"
	"github.com/witdata/wit/internal/storage"
)

func init() { rootCmd.AddCommand(newFetchCmd()) }

// fetchOptions is what `wit fetch` reads from its flags and --config: fetch.Config plus the
// input's description (keys in, url_col, caption_col, input_format).
type fetchOptions struct {
	fetch.Config `yaml:",inline"`
	In           string `yaml:"in"`
	URLCol       string `yaml:"url_col"`
	CaptionCol   string `yaml:"caption_col"`
	InputFormat  string `yaml:"input_format"`
	JSON         bool   `yaml:"-"`
}

func newFetchCmd() *cobra.Command { return fetchCommand(runFetch) }

// fetchCommand declares the flags; run gets the resolved options (tests pass their own).
func fetchCommand(run func(*cobra.Command, *fetchOptions) error) *cobra.Command {
	o := &fetchOptions{Config: fetch.DefaultConfig(), CaptionCol: "caption"}
	cmd := &cobra.Command{
		Use:   "fetch --in INPUT --out DIR",
		Short: "Download images into Arrow sample shards (img2dataset for wit)",
		Long: `Download the image of every input item, resize it and write it with its caption into
Arrow IPC shards (00000.arrow, ...; columns: key, image, caption, url, page_url,
caption_source, width, height, original_width, original_height, sha256, phash,
matched_queries, language).

Input: a directory (or file) of Arrow pairs from "wit crawl" or "wit filter" (columns
image_url, caption, page_url, caption_source, matched_queries, language), or a URL list
in txt, csv, tsv, jsonl, json or parquet, optionally .gz — img2dataset's inputs, so CC3M,
CC12M or LAION lists work. URLs are http(s); file:// URLs and local paths (relative ones
resolved against the input file's directory) only with --local-files, otherwise they fail
as local_disabled, so that an untrusted list cannot copy the machine's files into shards.
Loopback, private, link-local and metadata addresses are refused (blocked_address) unless
--allow-private, or --allow-addr for a few of them.

Before a body is read, each response is checked: status, X-Robots-Tag (noai, noimageai,
noindex, noimageindex, unprefixed or addressed to this user agent's first token or "*"),
Content-Length against --max-bytes and Content-Type (image/*; octet-stream or none is
sniffed; anything else fails as not_image).

Memory: each image is checked against --max-image-memory before it is decoded, from its
header, its bit depth and alpha, the target size and the resize mode (a 13,000,000x1 strip
asked for keep_ratio, a 16-bit 6300x6300 PNG); what would take more fails as
memory_budget. At most --process-workers images are decoded at once and at most
--workers downloads (each up to --max-bytes) are held, so peak memory stays under about
process-workers x max-image-memory + workers x max-bytes, plus one shard batch.

Output directory: shards, NNNNN_stats.json per shard (count, successes, failures by
reason, duration), NNNNN_failed.jsonl (failed items with reason), manifest.json and
sizes.json (updated as shards complete), stats.json (this run).

Resume: run the same command again; it skips every item already recorded and never
rewrites a finished shard. Ctrl-C commits what is done. --retry-failed downloads only
the items whose latest attempt failed (optionally only some --retry-reasons) into new
shards.

Options may also come from --config (YAML, see configs/fetch.yaml); flags given on the
command line override it.`,
		Example: `  wit fetch --in work/filtered --out data/shards
  wit fetch --in urls.parquet --url-col url --caption-col caption --out data/shards --workers 128
  wit fetch --out data/shards --retry-failed --retry-reasons timeout,http_5xx,dns`,
	}
	c := &o.Config
	b := bindConfig(cmd, o, o, "YAML file with fetch options (keys as in configs/fetch.yaml); flags set on the command line override it", run)
	b.String(&o.In, "in", "input: Arrow pairs dir/file (wit crawl/filter output) or a URL list (txt, csv, tsv, jsonl, json, parquet; .gz ok); a path or an s3:// URL")
	b.String(&c.Out, "out", "output directory or s3://bucket/prefix for shards, per-shard stats, failed lists, manifest.json, sizes.json, stats.json")
	b.String(&o.URLCol, "url-col", `input column holding the image URL (default "image_url" for Arrow pairs, else "url")`)
	b.String(&o.CaptionCol, "caption-col", "input column holding the caption (absent column = empty captions)")
	b.String(&o.InputFormat, "input-format", "input format when the extension does not say: txt, csv, tsv, jsonl, json, parquet or arrow")
	b.String(&c.BadRows, "bad-rows", "malformed input rows (bad quoting, wrong field count, invalid UTF-8, NUL bytes): skip (counted, listed in --out/bad-rows.jsonl) or error (stop at the first)")

	b.Int(&c.Workers, "workers", "downloads in flight over all hosts")
	b.Int(&c.PerHost, "per-host", "downloads in flight per host (as the crawler's --per-host)")
	b.Duration(&c.Delay, "delay", "minimum time between request starts to one host, e.g. 250ms (as the crawler's --delay)")
	b.Duration(&c.Timeout, "timeout", "per attempt: connect, headers and the whole body must arrive within it (failure: timeout)")
	b.Int(&c.Retries, "retries", "extra attempts after a 429, 5xx, timeout or reset, with exponential backoff honouring Retry-After")
	b.Bytes(&c.MaxBytes, "max-bytes", "largest image accepted, e.g. 20MiB; checked against Content-Length before reading (failure: too_large)")
	b.Int(&c.MaxRedirects, "max-redirects", "longest redirect chain followed (failure: redirects)")
	b.Bool(&c.AllowPrivate, "allow-private", "allow loopback, private and link-local addresses (turns the SSRF guard off; for intranets and tests)")
	b.List(&c.AllowAddrs, "allow-addr", "comma-separated private destinations allowed one by one (ip:port, ip or CIDR), e.g. an intranet mirror; all others stay refused (as the crawler's --allow-addr)")
	b.Bool(&c.LocalFiles, "local-files", "accept local paths and file:// URLs in the input (off: they fail as local_disabled; only for lists you trust)")
	b.String(&c.UserAgent, "user-agent", `User-Agent header; its first token is matched against X-Robots-Tag prefixes ("wit-fetch: noai")`)

	b.Int(&c.Size, "size", "target image size in pixels (img2dataset's image_size)")
	b.String(&c.ResizeMode, "resize-mode", "no | border (fit inside size×size, pad white) | keep_ratio (shorter side = size) | keep_ratio_largest (longer side = size) | center_crop")
	b.Int(&c.Quality, "quality", "JPEG quality of the stored images, 1..100")
	b.Int(&c.MinSize, "min-size", "refuse images whose shorter side is smaller (failure: too_small; 0 = off)")
	b.Float64(&c.MaxAspect, "max-aspect", "refuse images whose longer/shorter side ratio is larger (failure: aspect; 0 = off)")
	b.Int64(&c.MaxPixels, "max-pixels", "refuse images whose header declares more pixels, before decoding (decompression bombs; failure: too_many_pixels)")
	b.Bytes(&c.MaxImageMemory, "max-image-memory", "memory one image may take to decode, resize and encode, e.g. 256MiB, estimated from its header before decoding (failure: memory_budget)")
	b.Int(&c.ProcessWorkers, "process-workers", "images decoded and resized at once (0 = number of CPUs); image memory peaks at process-workers x max-image-memory")

	b.Int(&c.SamplesPerShard, "samples-per-shard", "samples per shard file (keys stay 9 digits up to 10000)")
	b.Bytes(&c.MaxShardBytes, "max-shard-bytes", "also start a new shard once one passes this size, e.g. 1GiB (0 = off)")
	b.Bool(&c.RetryFailed, "retry-failed", "download again only the failed items recorded in --out, into new shards (no --in)")
	b.List(&c.RetryReasons, "retry-reasons", "with --retry-failed, only these failure reasons, comma-separated (e.g. timeout,http_5xx,dns; default all)")
	b.Duration(&c.ProgressEvery, "progress-every", "how often the progress line (images/s, ok, failed) is printed to stderr")
	b.Bool(&o.JSON, "json", "print the final stats as JSON on stdout")
	return cmd
}

// runFetch downloads with resolved options.
func runFetch(cmd *cobra.Command, o *fetchOptions) error {
	cfg, in := o.Config, o.In
	if cfg.Out == "" {
		return errors.New("--out is required")
	}
	if in == "" && !cfg.RetryFailed {
		return errors.New("--in is required (or --retry-failed to redo failed items of --out)")
	}
	if in != "" && cfg.RetryFailed {
		return errors.New("--retry-failed reads the failed items from --out; drop --in")
	}
	ctx := cmd.Context()
	var source = fetch.Items(nil)
	if in != "" {
		abs := in
		if !storage.IsRemote(in) {
			var err error
			if abs, err = filepath.Abs(in); err != nil {
				return err
			}
		}
		st, err := storage.Stat(ctx, abs)
		if err != nil {
			return fmt.Errorf("--in: %w", err)
		}
		cfg.InputName = abs
		if cfg.BaseDir == "" && !storage.IsRemote(abs) {
			cfg.BaseDir = filepath.Dir(abs)
			if st.IsDir {
				cfg.BaseDir = abs
			}
		}
		source = fetch.ReadInput(ctx, abs, fetch.InputOptions{URLCol: o.URLCol, CaptionCol: o.CaptionCol, Format: o.InputFormat})
	}
	cfg.Progress = func(s fetch.Stats) { fmt.Fprintln(os.Stderr, s.Line()) }
	st, err := fetch.Run(ctx, cfg, source)
	if st.Out == "" {
		return err
	}
	// The summary goes to stderr with --json too: stdout holds only the JSON.
	fmt.Fprint(os.Stderr, st.Summary())
	return reportStats(err, o.JSON, &st, nil)
}
