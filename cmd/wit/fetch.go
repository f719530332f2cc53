package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/witdata/wit/fetch"
)

func init() { rootCmd.AddCommand(newFetchCmd()) }

// fetchRunner runs a fetch once its flags are read: on this machine (wit fetch) or as a job on
// the queue (wit submit fetch). in is the absolute input path ("" with --retry-failed).
type fetchRunner func(cmd *cobra.Command, cfg fetch.Config, in string, inOpts fetch.InputOptions, asJSON bool) error

func newFetchCmd() *cobra.Command { return newFetchCmdWith(runFetchHere) }

// newFetchCmdWith builds the fetch command's flags and validation around run.
func newFetchCmdWith(run fetchRunner) *cobra.Command {
	cfg := fetch.DefaultConfig()
	var (
		in, urlCol, captionCol, format, configFile, retryReasons string
		asJSON                                                   bool
	)
	maxBytes := fetchByteSize{&cfg.MaxBytes}
	maxShardBytes := fetchByteSize{&cfg.MaxShardBytes}
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
CC12M or LAION lists work. URLs may be http(s), file:// or local paths (relative paths
are resolved against the input file's directory).

Before a body is read, each response is checked: status, X-Robots-Tag (noai, noimageai,
noindex, noimageindex, unprefixed or addressed to this user agent's first token or "*"),
Content-Length against --max-bytes and Content-Type (image/*; octet-stream or none is
sniffed; anything else fails as not_image).

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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if configFile != "" {
				changed := map[string]string{}
				cmd.Flags().Visit(func(f *pflag.Flag) { changed[f.Name] = f.Value.String() })
				loaded, err := fetch.LoadConfig(configFile)
				if err != nil {
					return err
				}
				cfg = loaded
				maxBytes.p, maxShardBytes.p = &cfg.MaxBytes, &cfg.MaxShardBytes
				for name, v := range changed {
					if err := cmd.Flags().Set(name, v); err != nil {
						return fmt.Errorf("--%s: %w", name, err)
					}
				}
			}
			if retryReasons != "" {
				cfg.RetryReasons = splitList(retryReasons)
			}
			if cfg.Out == "" {
				return errors.New("--out is required")
			}
			if in == "" && !cfg.RetryFailed {
				return errors.New("--in is required (or --retry-failed to redo failed items of --out)")
			}
			if in != "" && cfg.RetryFailed {
				return errors.New("--retry-failed reads the failed items from --out; drop --in")
			}
			var abs string
			if in != "" {
				var err error
				if abs, err = filepath.Abs(in); err != nil {
					return err
				}
				st, err := os.Stat(abs)
				if err != nil {
					return fmt.Errorf("--in: %w", err)
				}
				cfg.InputName = abs
				if cfg.BaseDir == "" {
					cfg.BaseDir = filepath.Dir(abs)
					if st.IsDir() {
						cfg.BaseDir = abs
					}
				}
			}
			return run(cmd, cfg, abs, fetch.InputOptions{URLCol: urlCol, CaptionCol: captionCol, Format: format}, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "YAML file with fetch options (keys as in configs/fetch.yaml); flags override it")
	f.StringVar(&in, "in", "", "input: Arrow pairs dir/file (wit crawl/filter output) or a URL list (txt, csv, tsv, jsonl, json, parquet; .gz ok)")
	f.StringVar(&cfg.Out, "out", "", "output directory for shards, per-shard stats, failed lists, manifest.json, sizes.json, stats.json")
	f.StringVar(&urlCol, "url-col", "", `input column holding the image URL (default "image_url" for Arrow pairs, else "url")`)
	f.StringVar(&captionCol, "caption-col", "caption", "input column holding the caption (absent column = empty captions)")
	f.StringVar(&format, "input-format", "", "input format when the extension does not say: txt, csv, tsv, jsonl, json, parquet or arrow")

	f.IntVar(&cfg.Workers, "workers", cfg.Workers, "downloads in flight over all hosts")
	f.IntVar(&cfg.PerHost, "per-host", cfg.PerHost, "downloads in flight per host (as the crawler's --per-host)")
	f.DurationVar(&cfg.Delay, "delay", cfg.Delay, "minimum time between request starts to one host, e.g. 250ms (as the crawler's --delay)")
	f.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "per attempt: connect, headers and the whole body must arrive within it (failure: timeout)")
	f.IntVar(&cfg.Retries, "retries", cfg.Retries, "extra attempts after a 429, 5xx, timeout or reset, with exponential backoff honouring Retry-After")
	f.Var(&maxBytes, "max-bytes", "largest image accepted, e.g. 20MiB; checked against Content-Length before reading (failure: too_large)")
	f.IntVar(&cfg.MaxRedirects, "max-redirects", cfg.MaxRedirects, "longest redirect chain followed (failure: redirects)")
	f.BoolVar(&cfg.AllowPrivate, "allow-private", cfg.AllowPrivate, "allow loopback, private and link-local addresses (turns the SSRF guard off; for intranets and tests)")
	f.BoolVar(&cfg.LocalFiles, "local-files", cfg.LocalFiles, "accept local paths and file:// URLs in the input (--local-files=false for untrusted lists)")
	f.StringVar(&cfg.UserAgent, "user-agent", cfg.UserAgent, `User-Agent header; its first token is matched against X-Robots-Tag prefixes ("wit-fetch: noai")`)

	f.IntVar(&cfg.Size, "size", cfg.Size, "target image size in pixels (img2dataset's image_size)")
	f.StringVar(&cfg.ResizeMode, "resize-mode", cfg.ResizeMode, "no | border (fit inside size×size, pad white) | keep_ratio (shorter side = size) | keep_ratio_largest (longer side = size) | center_crop")
	f.IntVar(&cfg.Quality, "quality", cfg.Quality, "JPEG quality of the stored images, 1..100")
	f.IntVar(&cfg.MinSize, "min-size", cfg.MinSize, "refuse images whose shorter side is smaller (failure: too_small; 0 = off)")
	f.Float64Var(&cfg.MaxAspect, "max-aspect", cfg.MaxAspect, "refuse images whose longer/shorter side ratio is larger (failure: aspect; 0 = off)")
	f.Int64Var(&cfg.MaxPixels, "max-pixels", cfg.MaxPixels, "refuse images whose header declares more pixels, before decoding (decompression bombs; failure: too_many_pixels)")
	f.IntVar(&cfg.ProcessWorkers, "process-workers", cfg.ProcessWorkers, "images decoded and resized at once (0 = number of CPUs)")

	f.IntVar(&cfg.SamplesPerShard, "samples-per-shard", cfg.SamplesPerShard, "samples per shard file (keys stay 9 digits up to 10000)")
	f.Var(&maxShardBytes, "max-shard-bytes", "also start a new shard once one passes this size, e.g. 1GiB (0 = off)")
	f.BoolVar(&cfg.RetryFailed, "retry-failed", false, "download again only the failed items recorded in --out, into new shards (no --in)")
	f.StringVar(&retryReasons, "retry-reasons", "", "with --retry-failed, only these failure reasons, comma-separated (e.g. timeout,http_5xx,dns; default all)")
	f.DurationVar(&cfg.ProgressEvery, "progress-every", cfg.ProgressEvery, "how often the progress line (images/s, ok, failed) is printed to stderr")
	f.BoolVar(&asJSON, "json", false, "print the final stats as JSON on stdout")
	return cmd
}

// runFetchHere runs the fetch in this process.
func runFetchHere(cmd *cobra.Command, cfg fetch.Config, in string, inOpts fetch.InputOptions, asJSON bool) error {
	ctx := cmd.Context()
	var source = fetch.Items(nil)
	if in != "" {
		source = fetch.ReadInput(ctx, in, inOpts)
	}
	cfg.Progress = func(s fetch.Stats) { fmt.Fprintln(os.Stderr, s.Line()) }
	st, err := fetch.Run(ctx, cfg, source)
	if st.Out != "" {
		fmt.Fprint(os.Stderr, st.Summary())
	}
	if asJSON && st.Out != "" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(&st); jerr != nil && err == nil {
			err = jerr
		}
	}
	return err
}

// fetchByteSize is a flag holding a byte count written as 1048576, 500KB, 20MiB, 1.5GB, ...
type fetchByteSize struct{ p *int64 }

func (b *fetchByteSize) String() string {
	if b.p == nil {
		return "0"
	}
	return strconv.FormatInt(*b.p, 10)
}

func (b *fetchByteSize) Type() string { return "bytes" }

func (b *fetchByteSize) Set(s string) error {
	n, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b.p = n
	return nil
}

func parseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}}
	mult := 1.0
	lower := strings.ToLower(t)
	for _, u := range units {
		if strings.HasSuffix(lower, u.suffix) {
			mult = u.mult
			t = strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit (KB, MiB, GB, ...)", s)
	}
	return int64(v * mult), nil
}
