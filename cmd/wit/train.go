package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/internal/gomlxfix"
	"github.com/witdata/wit/model"
	"github.com/witdata/wit/train"
)

func init() { rootCmd.AddCommand(newTrainCmd()) }

func newTrainCmd() *cobra.Command {
	var (
		opts      train.Options
		config    string
		resume    bool
		xlaPlugin string
	)
	cmd := &cobra.Command{
		Use:   "train --shards DIR --config configs/clip-tiny.yaml --out RUN [flags]",
		Short: "Train CLIP on image shards",
		Long: `Train CLIP (package model) on image shards ("image" JPEG and "caption" columns).

Data: the shards are read in a seeded, shuffled order (shards and a --shuffle-buffer), forever
(epochs wrap); JPEGs are decoded by --workers goroutines, randomly crop-resized (area 90-100%,
aspect 3/4-4/3, as OpenCLIP), resized to the preset's image_resolution and normalised with
CLIP's mean/std; captions are tokenised to context_length. Corrupt images are skipped and
counted. --prefetch batches are prepared ahead so the model does not wait.

Optimisation: AdamW (beta1 0.9, beta2 0.98, eps 1e-6, weight decay 0.2 on weight matrices only:
not on gains, biases or the logit scale) with a linear warmup then a cosine down to the preset's
min_learning_rate; the logit scale is clamped to ln(100). Values not given as flags come from the
preset's train section.

Run folder (--out): config.yaml, tok.json, metrics.jsonl (one JSON object per --log-every steps:
step, loss, lr, logit_scale, samples_per_sec, epoch, data_wait_frac, corrupt_images, elapsed_s),
loss.png, checkpoints/step-N/ (weights, optimizer state, data position, tokenizer, config; written
atomically every --checkpoint-every steps, at the end and on Ctrl-C; the newest --keep kept).
--resume continues exactly from the latest checkpoint (same data, same next-step loss), with the
checkpoint's hyperparameters; a second Ctrl-C kills without a checkpoint.

Backend: GoMLX's pure-Go backend (no cgo). Binaries built with -tags xla can use a PJRT plugin
given by absolute path (--xla-plugin or $WIT_PJRT_PLUGIN), e.g. xla_cuda_plugin.so for GPUs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Shards == "" || opts.Out == "" {
				return fmt.Errorf("--shards and --out are required")
			}
			preset, err := model.LoadFile(config)
			if err != nil {
				return err
			}
			tr := &train.Trainer{Preset: preset, Options: opts, Resume: resume}
			if xlaPlugin != "" || (gomlxfix.HasXLA && os.Getenv(gomlxfix.EnvPJRTPlugin) != "") {
				be, err := gomlxfix.NewXLA(xlaPlugin)
				if err != nil {
					return err
				}
				tr.Backend = be
			}
			res, err := tr.Train(cmd.Context())
			if res != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "steps %d (this run %d), samples %d, last loss %.4f, corrupt images %d, data wait %.1f%%, %s\ncheckpoint %s\n",
					res.Steps, res.StepsRun, res.Samples, res.LastLoss, res.Corrupt, 100*res.DataWaitFrac, res.Elapsed.Round(1e6), res.Checkpoint)
			}
			if err != nil {
				slog.Error("train", "err", err)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Shards, "shards", "", "image shard folder to train on (required)")
	f.StringVar(&config, "config", "configs/clip-tiny.yaml", "model preset: architecture and suggested hyperparameters")
	f.StringVar(&opts.Out, "out", "", "run folder for metrics, plot and checkpoints (required)")
	f.Int64Var(&opts.Steps, "steps", 0, "optimizer steps in total (0: the preset's); with --resume, the total to reach")
	f.IntVar(&opts.BatchSize, "batch-size", 0, "image-caption pairs per optimizer step, i.e. the contrastive batch (0: the preset's)")
	f.Float64Var(&opts.LR, "lr", 0, "peak learning rate after warmup (0: the preset's)")
	f.Float64Var(&opts.MinLR, "min-lr", 0, "learning rate at the end of the cosine (0: the preset's)")
	f.Int64Var(&opts.Warmup, "warmup", 0, "linear warmup steps (0: the preset's)")
	f.Float64Var(&opts.WeightDecay, "weight-decay", 0, "AdamW decoupled weight decay on weight matrices (0: the preset's, 0.2; negative: none)")
	f.IntVar(&opts.Accum, "accum", 0, "(0: 1) split each batch into this many micro-batches whose gradients are averaged (less memory; each micro-batch's contrastive loss sees only its own negatives)")
	f.Int64Var(&opts.CheckpointEvery, "checkpoint-every", 500, "write a checkpoint every N steps")
	f.IntVar(&opts.Keep, "keep", 3, "keep the newest K checkpoints (older ones are deleted)")
	f.Int64Var(&opts.LogEvery, "log-every", 10, "append a metrics.jsonl line every N steps (loss averaged over them)")
	f.StringVar(&opts.Tokenizer, "tokenizer", "", "tok.json from 'wit tokenizer train' (default: train one on the fly from the shards' captions)")
	f.IntVar(&opts.VocabSize, "vocab", 0, "vocabulary of a tokenizer trained on the fly (0: the preset's vocab_size)")
	f.BoolVar(&resume, "resume", false, "continue from the latest checkpoint in --out (starts fresh when there is none)")
	f.Uint64Var(&opts.Seed, "seed", 0, "(0: 1) seed of the weight initialisation, data shuffle and crops")
	f.IntVar(&opts.Workers, "workers", 0, "JPEG decode goroutines (0: the number of CPUs)")
	f.IntVar(&opts.Prefetch, "prefetch", 2, "batches prepared ahead of the model")
	f.IntVar(&opts.ShuffleBuffer, "shuffle-buffer", 2048, "samples in the shuffle buffer (with shard order shuffled every epoch)")
	f.BoolVar(&opts.NoProgress, "no-progress", false, "no progress bar (logs and metrics only)")
	f.StringVar(&xlaPlugin, "xla-plugin", "", "absolute path of a PJRT plugin for the XLA backend (binaries built with -tags xla only)")
	return cmd
}
