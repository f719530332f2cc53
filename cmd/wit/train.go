package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/internal/cliconfig"
	"github.com/witdata/wit/internal/gomlxfix"
	"github.com/witdata/wit/model"
	"github.com/witdata/wit/train"
)

func init() { rootCmd.AddCommand(newTrainCmd()) }

// trainOptions is what `wit train` reads from its flags and --config. The YAML file is the model
// preset (configs/clip-*.yaml: sections model and train); the hyperparameter flags override its
// train section, so a flag that is set wins whatever its value (--weight-decay 0 is no decay).
type trainOptions struct {
	Preset    model.File
	Run       train.Options // zero fields: train's defaults (Options.WithDefaults)
	Resume    bool
	XLAPlugin string
}

func newTrainCmd() *cobra.Command { return trainCommand(runTrain) }

// trainCommand declares the flags; run gets the resolved options (tests pass their own).
func trainCommand(run func(*cobra.Command, *trainOptions) error) *cobra.Command {
	o := &trainOptions{Run: train.Options{CheckpointEvery: 500, Keep: 3, LogEvery: 10, Prefetch: 2, ShuffleBuffer: 2048}}
	var b *cliconfig.Binder
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
min_learning_rate; the logit scale is clamped to ln(100). The preset (--config) gives the
architecture (model section) and the hyperparameters (train section); a hyperparameter flag that
is set overrides the train section whatever its value (--weight-decay 0: no decay; a negative
decay, the old spelling, also means none), except that 0 for --steps, --batch-size and --lr keeps
the preset's.

Run folder (--out): config.yaml, tok.json, metrics.jsonl (one JSON object per --log-every steps:
step, loss, lr, logit_scale, samples_per_sec, epoch, data_wait_frac, corrupt_images, elapsed_s),
loss.png, checkpoints/step-N/ (weights, optimizer state, data position, tokenizer, config; written
atomically every --checkpoint-every steps, at the end and on Ctrl-C; the newest --keep kept).
--resume continues exactly from the latest checkpoint (same data, same next-step loss), with the
checkpoint's hyperparameters; a second Ctrl-C kills without a checkpoint.

Backend: GoMLX's pure-Go backend (no cgo). Binaries built with -tags xla can use a PJRT plugin
given by absolute path (--xla-plugin or $WIT_PJRT_PLUGIN), e.g. xla_cuda_plugin.so for GPUs.`,
	}
	validated := func(cmd *cobra.Command, o *trainOptions) error {
		o.Preset.Model = o.Preset.Model.WithDefaults()
		if err := o.Preset.Model.Validate(); err != nil {
			return fmt.Errorf("model config %s: %w", b.File(), err)
		}
		return run(cmd, o)
	}
	h, r := &o.Preset.Train, &o.Run
	b = bindConfig(cmd, o, &o.Preset, "model preset (YAML, sections model and train): architecture and hyperparameters; the flags below override its train section", validated)
	b.SetDefaultFile("configs/clip-tiny.yaml")
	b.String(&r.Shards, "shards", "image shard folder to train on, a path or an s3:// URL (remote shards are downloaded two files ahead) (required)")
	b.String(&r.Out, "out", "run folder for metrics, plot and checkpoints (required)")
	// --steps, --batch-size and --lr also go to the run's options: on --resume those are what may
	// change a checkpoint's values. Their 0 has always meant "the preset's".
	b.Int64(&h.Steps, "steps", "optimizer steps in total (default and 0: the preset's train.steps); with --resume, the total to reach", &r.Steps).ZeroMeansUnset()
	b.Int(&h.BatchSize, "batch-size", "image-caption pairs per optimizer step, i.e. the contrastive batch (default and 0: the preset's train.batch_size)", &r.BatchSize).ZeroMeansUnset()
	b.Float64(&h.LearningRate, "lr", "peak learning rate after warmup (default and 0: the preset's train.learning_rate)", &r.LR).ZeroMeansUnset()
	b.Float64(&h.MinLR, "min-lr", "learning rate at the end of the cosine (default: the preset's train.min_learning_rate)")
	b.Int64(&h.WarmupSteps, "warmup", "linear warmup steps (default: the preset's train.warmup_steps)")
	b.Float64(&h.WeightDecay, "weight-decay", "AdamW decoupled weight decay on weight matrices (default: the preset's train.weight_decay, 0.2; 0 or negative: none)")
	b.Int(&r.Accum, "accum", "(0: 1) split each batch into this many micro-batches whose gradients are averaged (less memory; each micro-batch's contrastive loss sees only its own negatives)")
	b.Int64(&r.CheckpointEvery, "checkpoint-every", "write a checkpoint every N steps")
	b.Int(&r.Keep, "keep", "keep the newest K checkpoints (older ones are deleted)")
	b.Int64(&r.LogEvery, "log-every", "append a metrics.jsonl line every N steps (loss averaged over them)")
	b.String(&r.Tokenizer, "tokenizer", "tok.json from 'wit tokenizer train' (default: train one on the fly from the shards' captions)")
	b.Int(&r.VocabSize, "vocab", "vocabulary of a tokenizer trained on the fly (0: the preset's vocab_size)")
	b.Bool(&o.Resume, "resume", "continue from the latest checkpoint in --out (starts fresh when there is none)")
	b.Uint64(&r.Seed, "seed", "(0: 1) seed of the weight initialisation, data shuffle and crops")
	b.Int(&r.Workers, "workers", "JPEG decode goroutines (0: the number of CPUs)")
	b.Int(&r.Prefetch, "prefetch", "batches prepared ahead of the model")
	b.Float64(&r.CropScaleMin, "crop-scale-min", "(0: 0.9) smallest area fraction of the random resized crop (OpenCLIP's 0.9; SimCLR-style training uses 0.08–0.5)")
	b.Float64(&r.ColorJitter, "color-jitter", "brightness, contrast and saturation jitter strength in [0, 1): factors drawn in [1-s, 1+s] (0: none)")
	b.Float64(&r.Hue, "hue", "hue jitter in [0, 0.5]: each training image's hue turned by a shift drawn in [-h, h] of a turn, with the colour jitter (0: none)")
	b.Float64(&r.GrayScale, "grayscale", "probability of turning a training image grey (0: never)")
	b.Float64(&r.ZoomOutProb, "zoom-out", "probability of zooming a training image out before the random crop: drawn smaller on a canvas of its border colour (torchvision's RandomZoomOut; 0: never)")
	b.Float64(&r.OutlineProb, "outline", "probability of drawing dark contours (Sobel edges of the luma) over a training image, turning shaded drawings into line drawings (0: never)")
	b.Float64(&r.ZoomOutMin, "zoom-out-min", "(0: 0.5) smallest side fraction of a zoomed-out image on its canvas")
	b.Int(&r.ShuffleBuffer, "shuffle-buffer", "samples in the shuffle buffer (with shard order shuffled every epoch)")
	b.Bool(&r.NoProgress, "no-progress", "no progress bar (logs and metrics only)")
	b.String(&o.XLAPlugin, "xla-plugin", "absolute path of a PJRT plugin for the XLA backend (binaries built with -tags xla only)")
	return cmd
}

// runTrain trains with resolved options.
func runTrain(cmd *cobra.Command, o *trainOptions) error {
	if o.Run.Shards == "" || o.Run.Out == "" {
		return fmt.Errorf("--shards and --out are required")
	}
	tr := &train.Trainer{Preset: o.Preset, Options: o.Run, Resume: o.Resume}
	if o.XLAPlugin != "" || (gomlxfix.HasXLA && os.Getenv(gomlxfix.EnvPJRTPlugin) != "") {
		be, err := gomlxfix.NewXLA(o.XLAPlugin)
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
}
