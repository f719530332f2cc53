package train

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gomlx/gomlx/backends"

	"github.com/witdata/wit/model"
	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/tokenizer"
)

// StepInfo describes one completed optimizer step (Trainer.OnStep).
type StepInfo struct {
	Step       int64 // steps completed
	Loss       float64
	LogitScale float64 // exp(logit_scale) used by the step
	LR         float64
	Position   shards.Position
}

// Result summarises a finished (or interrupted) run.
type Result struct {
	Steps        int64 // steps completed in total
	StepsRun     int64 // steps taken by this call
	Samples      int64 // pairs consumed in total
	LastLoss     float64
	Checkpoint   string // last checkpoint written
	Corrupt      int64  // corrupt images skipped by this call
	Elapsed      time.Duration
	DataWaitFrac float64 // share of this call's wall time spent waiting for data
}

// Trainer trains CLIP on image shards into a run folder.
type Trainer struct {
	Preset  model.File       // architecture and suggested hyperparameters (configs/*.yaml)
	Options Options          // as given by the user; zero fields take defaults (see Options)
	Resume  bool             // continue from the run folder's latest checkpoint (fresh start if none)
	Backend backends.Backend // nil: gomlxfix.NewBackend() (pure Go)
	OnStep  func(StepInfo)   // called after every step (tests, custom logging)
	// Progress receives the progress bar (nil: stderr; ignored with Options.NoProgress).
	Progress io.Writer
}

// Train runs until Options.Steps steps are completed, writing metrics, checkpoints and the loss plot
// into Options.Out. When ctx is cancelled it writes a checkpoint of the last completed step and
// returns an error wrapping ctx's. Every exit after setup goes through run.finishWithCheckpoint or
// run.abortWithoutCheckpoint (see run.go), which say whether the run's state is saved.
func (t *Trainer) Train(ctx context.Context) (*Result, error) {
	r, err := t.setup(ctx)
	if err != nil {
		return nil, err
	}
	defer r.close()
	for r.state.Step < r.opts.Steps {
		if err := ctx.Err(); err != nil {
			return r.finishWithCheckpoint(fmt.Errorf("train interrupted at step %d: %w", r.state.Step, err))
		}
		batches, err := r.fetch(ctx)
		if err != nil { // no data (or cancelled while waiting): the last completed step is intact
			return r.finishWithCheckpoint(err)
		}
		info, err := r.step(batches)
		if err != nil { // a failed graph or a diverged loss: nothing of this state may be saved
			return r.abortWithoutCheckpoint(err)
		}
		if t.OnStep != nil {
			t.OnStep(info)
		}
		if err := r.log(info); err != nil {
			return r.finishWithCheckpoint(err)
		}
		if r.state.Step%r.opts.CheckpointEvery == 0 && r.state.Step < r.opts.Steps {
			if err := r.saveCheckpoint(); err != nil {
				return r.finishWithCheckpoint(err) // which tries the checkpoint once more
			}
		}
	}
	return r.finishWithCheckpoint(nil)
}

// tokenizer loads Options.Tokenizer or trains one on the shards' captions.
func (t *Trainer) tokenizer(ctx context.Context, opts Options, cfg model.Config) (*tokenizer.Tokenizer, error) {
	if opts.Tokenizer != "" {
		return tokenizer.Load(opts.Tokenizer)
	}
	t0 := time.Now()
	captions, readErr := shards.Captions(ctx, opts.Shards)
	c := tokenizer.NewCounter()
	c.AddAll(captions, opts.TokCaptions)
	if err := readErr(); err != nil {
		return nil, err
	}
	tok, err := c.Train(tokenizer.TrainOptions{VocabSize: min(opts.VocabSize, cfg.VocabSize)})
	if err != nil {
		return nil, fmt.Errorf("train tokenizer on %s: %w", opts.Shards, err)
	}
	slog.Info("trained tokenizer on the shards' captions", "vocab", tok.VocabSize(), "elapsed", time.Since(t0).Round(time.Millisecond))
	return tok, nil
}

// resumeOptions keeps a checkpoint's options (the schedule, batch and seed must not change for an
// exact resume) and takes from the command line only what does not change the math: steps (the
// cosine's length changes with it, which is logged), checkpointing, logging, loader workers.
func resumeOptions(saved, cli Options) Options {
	o := saved
	if cli.Steps != 0 && cli.Steps != saved.Steps {
		slog.Warn("resume: --steps differs from the checkpoint's; the cosine schedule is stretched to the new total", "was", saved.Steps, "now", cli.Steps)
		o.Steps = cli.Steps
	}
	if cli.Shards != "" {
		o.Shards = cli.Shards
	}
	o.Out = cli.Out
	for _, f := range []struct {
		dst *int64
		v   int64
	}{{&o.CheckpointEvery, cli.CheckpointEvery}, {&o.LogEvery, cli.LogEvery}} {
		if f.v != 0 {
			*f.dst = f.v
		}
	}
	for _, f := range []struct {
		dst *int
		v   int
	}{{&o.Keep, cli.Keep}, {&o.Workers, cli.Workers}, {&o.Prefetch, cli.Prefetch}} {
		if f.v != 0 {
			*f.dst = f.v
		}
	}
	o.NoProgress = cli.NoProgress
	if cli.BatchSize != 0 && cli.BatchSize != saved.BatchSize || cli.LR != 0 && cli.LR != saved.LR || cli.Accum != 0 && cli.Accum != saved.Accum || cli.Seed != 0 && cli.Seed != saved.Seed {
		slog.Warn("resume: batch size, learning rate, accumulation and seed come from the checkpoint; the command line's are ignored")
	}
	return o
}
