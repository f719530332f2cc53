package main

import (
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/demo"
	"github.com/witdata/wit/model"
)

func init() { rootCmd.AddCommand(newDemoCmd()) }

func newDemoCmd() *cobra.Command {
	var (
		opts   demo.Options
		preset string
		quiet  bool
	)
	cmd := &cobra.Command{
		Use:   "demo [--out DIR] [--train-time 4m] [--no-train]",
		Short: "Run the whole pipeline on an embedded sample website (no network needed)",
		Long: `Serve a small embedded website on 127.0.0.1 (a random port) and run the whole job on it:

  1. crawl it politely (robots.txt disallows its members' area), filter the pairs against the
     query list (English only, deduplicated, balanced per query), download the images into
     Arrow shards — all in one streaming "wit build"
  2. hold one image style out: the site shows every emoji concept in two styles (Google Noto and
     Microsoft Fluent); the Fluent images are never trained on
  3. train clip-tiny on the Noto pairs for --train-time on the CPU
  4. evaluate on the held-out style: text->image and image->text retrieval among the concepts,
     zero-shot classification into the emoji groups (prompt ensembling), each beside chance

The site: 300 emoji concepts as 64x64 PNG with their Unicode CLDR names and keywords as
captions (<img alt>, <figure><figcaption>, srcset, lazy data-src, og:image), English pages and
French and German translations (which the language filter drops), some junk captions and three
broken images (a truncated PNG, an HTML page served as an image, a 404). Licences of the images
and texts: demo/site/ATTRIBUTION in the source tree.

At the end it prints what it found (pairs, kept and dropped by reason, shards, retrieval and
zero-shot figures beside chance) and where every output went. --out is replaced on every run
(only if it holds an earlier demo's output). Takes about 5-6 minutes on 2 cores with the default
--train-time.`,
		Example: `  wit demo
  wit demo --out /tmp/wit-demo --train-time 2m
  wit demo --no-train`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if preset != "" {
				p, err := model.LoadFile(preset)
				if err != nil {
					return err
				}
				opts.Preset = &p
			}
			opts.Logger = slog.Default()
			opts.Stdout = cmd.OutOrStdout()
			if !quiet {
				opts.Progress, opts.BuildDone = buildProgress(os.Stderr)
			}
			_, err := demo.Run(cmd.Context(), opts)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Out, "out", "wit-demo", "output directory (replaced on every run; refused if it holds something else)")
	f.DurationVar(&opts.TrainTime, "train-time", 4*time.Minute, "training time budget (the step count is sized to it)")
	f.Int64Var(&opts.TrainSteps, "train-steps", 0, "optimizer steps (0: sized to --train-time; training stops at whichever comes first)")
	f.IntVar(&opts.BatchSize, "batch-size", 32, "pairs per step (0: the preset's, 64 for clip-tiny); 32 gives twice the updates in the same time on the small site")
	f.BoolVar(&opts.NoTrain, "no-train", false, "stop after building the shards (no training, no evaluation)")
	f.StringVar(&opts.Queries, "queries", "default", `query list for the filter: "default" (the embedded list) or a file`)
	f.IntVar(&opts.Balance, "balance", 40, "balancing threshold t per query entry (small: the site is small)")
	f.IntVar(&opts.Concepts, "concepts", 0, "serve only this many of the 300 concepts (0: all)")
	f.StringVar(&preset, "preset", "", "model preset YAML (default: the embedded clip-tiny, as configs/clip-tiny.yaml)")
	f.BoolVar(&quiet, "quiet", false, "no progress line while building")
	return cmd
}
