package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/view"
)

func init() { rootCmd.AddCommand(newViewCmd()) }

func newViewCmd() *cobra.Command {
	var (
		listen, checkpoint, cacheDir string
		sopts                        view.ServerOptions
		quiet                        bool
	)
	cmd := &cobra.Command{
		Use:   "view DIR [--checkpoint RUN] [--listen 127.0.0.1:8470]",
		Short: "Look at a dataset in the browser: samples, stats charts, CLIP search",
		Long: `Serve a page for a folder of Arrow files: image shards (wit fetch, wit build), or pair files
without images (wit crawl, wit filter). It prints the URL; open it in a browser.

  /         the samples: thumbnail, caption, matched queries, language, caption source, size,
            the page it came from; filters (caption text, matched query, language, caption
            source, minimum original width and height), paged through the shards
  /sample   one sample: the full image, every column, its near-duplicates by pHash
  /stats    charts: caption lengths, image sizes, languages, caption sources, fetch failures by
            reason, matched-query counts against the balancing threshold t (MetaCLIP's head and
            tail), from the stages' stats files and one pass over the shards
  /search   with --checkpoint: text->image search and "more like this" (image->image), exact
            top-k over the images' embeddings

The first start reads every shard once (progress on stderr) and caches the index and stats in
DIR/.wit-view (or --cache-dir; a folder under the user's cache when DIR is read-only); the cache
is reused while the shard files keep their names, sizes and times. With --checkpoint, image
embeddings are computed in the background (searches use those done so far) and cached there too,
per checkpoint; an interrupted run caches what it has done and the next one continues.

It only reads the dataset, answers GET requests for what is in it (samples by key, never by path),
bounds every request's work, and listens on 127.0.0.1 unless --listen says otherwise.`,
		Example: `  wit view data/shards
  wit view data/shards --checkpoint runs/tiny
  wit view work/filtered --balance 20000
  wit view wit-demo/data/shards --checkpoint wit-demo/run --listen 127.0.0.1:9000`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			progress := cmd.ErrOrStderr()
			if quiet {
				progress = nil
			}
			d, err := view.Open(ctx, args[0], view.Options{CacheDir: cacheDir, Progress: progress})
			if err != nil {
				return err
			}
			if checkpoint != "" {
				e, err := loadEmbedder(cmd, checkpoint)
				if err != nil {
					return err
				}
				if sopts.Search, err = view.NewSearch(ctx, d, e, view.SearchOptions{Checkpoint: e.Dir, Progress: progress}); err != nil {
					return err
				}
			}
			s, err := view.NewServer(d, sopts)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen %s: %w", listen, err)
			}
			if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
				fmt.Fprintf(os.Stderr, "wit view: listening on %s: anyone who can reach this address can read the dataset\n", ln.Addr())
			}
			abs, _ := filepath.Abs(args[0])
			fmt.Fprintf(cmd.OutOrStdout(), "wit view: %s (%d rows) at http://%s/  (Ctrl-C stops)\n", abs, d.Rows(), ln.Addr())
			err = view.Serve(ctx, ln, s)
			if sopts.Search != nil {
				// Stopped by ctx too: let it cache the embeddings done so far, for the next start.
				wait, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				sopts.Search.Wait(wait)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8470", "address to serve on (host:port; a non-loopback host exposes the dataset to the network)")
	f.StringVar(&checkpoint, "checkpoint", "", "run folder (its latest checkpoint) or checkpoint folder: adds CLIP text->image and image->image search")
	f.StringVar(&cacheDir, "cache-dir", "", "folder for the cached index, stats and embeddings (default DIR/.wit-view)")
	f.IntVar(&sopts.PageSize, "page-size", view.DefaultPageSize, fmt.Sprintf("samples per grid page (at most %d)", view.MaxPageSize))
	f.Int64Var(&sopts.Budget.Rows, "scan-rows", 200_000, "rows one filtered grid request may examine before it answers with what it found (and a link to continue)")
	f.DurationVar(&sopts.Budget.Time, "scan-time", 0, "time one filtered grid request may scan (default 1s)")
	f.IntVar(&sopts.Threshold, "balance", 0, "the balancing threshold t for the stats page (default: the filter's, from its stats file)")
	f.BoolVar(&quiet, "quiet", false, "no progress lines on stderr")
	return cmd
}
