package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	gctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/schollz/progressbar/v3"
	"gopkg.in/yaml.v3"

	"github.com/witdata/wit/checkpoint"
	"github.com/witdata/wit/internal/atomicfile"
	"github.com/witdata/wit/internal/gomlxfix"
	"github.com/witdata/wit/model"
	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/tokenizer"
	"github.com/witdata/wit/train/optim"
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
// returns an error wrapping ctx's.
func (t *Trainer) Train(ctx context.Context) (*Result, error) {
	start := time.Now()
	out := t.Options.Out
	if out == "" {
		return nil, errors.New("train: no run folder (Options.Out)")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := checkpoint.CleanTemp(out); err != nil {
		return nil, err
	}
	be := t.Backend
	if be == nil {
		var err error
		if be, err = gomlxfix.NewBackend(); err != nil {
			return nil, err
		}
	}

	// State: a checkpoint's, or fresh.
	var (
		cfg   model.Config
		opts  Options
		tok   *tokenizer.Tokenizer
		state checkpoint.State
		vars  *gctx.Context
	)
	var ck *checkpoint.Checkpoint
	if t.Resume {
		var err error
		ck, err = checkpoint.Read(out)
		if errors.Is(err, checkpoint.ErrNotFound) {
			slog.Info("no checkpoint to resume from: starting a new run", "out", out)
			ck = nil
		} else if err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
	}
	if ck != nil {
		cfg, tok, state, vars = ck.State.Model, ck.Tokenizer, ck.State, ck.Context
		var saved Options
		if err := json.Unmarshal(ck.State.Options, &saved); err != nil {
			return nil, fmt.Errorf("resume: %s: options: %w", ck.Dir, err)
		}
		opts = resumeOptions(saved, t.Options)
		slog.Info("resuming", "checkpoint", ck.Dir, "step", state.Step, "position", state.Position, "steps", opts.Steps)
	} else {
		cfg = t.Preset.Model.WithDefaults()
		opts = t.Options.WithDefaults(t.Preset.Train, cfg)
		if err := opts.Validate(cfg); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		var err error
		if tok, err = t.tokenizer(ctx, opts, cfg); err != nil {
			return nil, err
		}
		vars = gctx.New()
		if err := vars.SetRNGStateFromSeed(int64(opts.Seed)); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		state = checkpoint.State{Model: cfg}
	}
	if err := opts.Validate(cfg); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if tok.VocabSize() > cfg.VocabSize {
		return nil, fmt.Errorf("train: tokenizer has %d ids, the model's vocabulary only %d", tok.VocabSize(), cfg.VocabSize)
	}
	var err error
	if state.Options, err = json.Marshal(opts); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := tok.Save(filepath.Join(out, checkpoint.TokenizerFile)); err != nil {
		return nil, err
	}
	cfgYAML, err := yaml.Marshal(model.File{Model: cfg, Train: opts.Hyper()})
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(out, checkpoint.ConfigFile), cfgYAML); err != nil {
		return nil, err
	}

	m, err := model.New(cfg)
	if err != nil {
		return nil, err
	}
	sched := optim.CosineWarmup{Peak: opts.LR, Min: opts.MinLR, Warmup: opts.Warmup, Total: opts.Steps}
	opt, err := optim.NewAdamW(optim.AdamWConfig{
		LR: &sched, Beta1: opts.Beta1, Beta2: opts.Beta2, Epsilon: opts.Epsilon, WeightDecay: opts.WeightDecay,
	})
	if err != nil {
		return nil, err
	}
	steps, err := newStepper(be, vars, m, opt, opts.Accum)
	if err != nil {
		return nil, err
	}

	loader, err := NewLoader(LoaderOptions{
		Shards: opts.Shards, Resolution: cfg.ImageResolution, ContextLength: cfg.ContextLength,
		BatchSize: opts.MicroBatch(), Workers: opts.Workers, Prefetch: opts.Prefetch, ShuffleBuffer: opts.ShuffleBuffer,
		Seed: opts.Seed, Epochs: -1, MaxPixels: opts.MaxPixels,
	}, tok)
	if err != nil {
		return nil, err
	}
	epochSize := loader.EpochSize()
	metrics, err := openMetrics(out, state.Step)
	if err != nil {
		return nil, err
	}
	defer metrics.close()
	slog.Info("training", "model", cfg.Name, "parameters", cfg.ParameterCount(), "vocab", tok.VocabSize(),
		"batch", opts.BatchSize, "accum", opts.Accum, "steps", opts.Steps, "from_step", state.Step,
		"epoch_size", epochSize, "backend", be.Name(), "out", out)

	var bar *progressbar.ProgressBar
	barOut := t.Progress
	if barOut == nil {
		barOut = os.Stderr
	}
	if !opts.NoProgress {
		bar = progressbar.NewOptions64(opts.Steps, progressbar.OptionSetWriter(barOut), progressbar.OptionSetWidth(25),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(250*time.Millisecond),
			progressbar.OptionSetDescription("train"), progressbar.OptionSetRenderBlankState(true))
		_ = bar.Set64(state.Step)
	}

	next, stop := iter.Pull2(loader.Batches(ctx, state.Position))
	defer stop()
	res := &Result{}
	if ck != nil {
		res.Checkpoint = ck.Dir
	}
	var (
		wait, logWait   time.Duration
		logStart        = time.Now()
		logLoss         float64
		logSteps        int64
		lastCheckpoint  = state.Step
		corruptAtStart  = state.Corrupt
		checkpointWrite = func() error {
			state.Corrupt = corruptAtStart + loader.Stats().Corrupt
			path, err := checkpoint.Save(out, state, opts.Hyper(), vars, tok)
			if err != nil {
				return err
			}
			res.Checkpoint = path
			lastCheckpoint = state.Step
			if err := checkpoint.Prune(out, opts.Keep); err != nil {
				return err
			}
			slog.Debug("checkpoint", "path", path)
			return WriteLossPlot(filepath.Join(out, LossPlot), cfg.Name+" — "+filepath.Base(out), metrics.points)
		}
	)
	finish := func(runErr error) (*Result, error) {
		if state.Step > lastCheckpoint {
			if err := checkpointWrite(); err != nil {
				return nil, errors.Join(runErr, err)
			}
		} else if err := WriteLossPlot(filepath.Join(out, LossPlot), cfg.Name+" — "+filepath.Base(out), metrics.points); err != nil {
			return nil, errors.Join(runErr, err)
		}
		if bar != nil {
			_ = bar.Finish()
			fmt.Fprintln(barOut)
		}
		res.Steps, res.Samples = state.Step, state.Samples
		res.Corrupt = loader.Stats().Corrupt
		res.Elapsed = time.Since(start)
		if res.Elapsed > 0 {
			res.DataWaitFrac = wait.Seconds() / res.Elapsed.Seconds()
		}
		slog.Info("training done", "steps", res.Steps, "this_run", res.StepsRun, "loss", res.LastLoss,
			"elapsed", res.Elapsed.Round(time.Millisecond), "data_wait_frac", res.DataWaitFrac, "corrupt_images", res.Corrupt, "checkpoint", res.Checkpoint)
		return res, runErr
	}

	r, l, mb := cfg.ImageResolution, cfg.ContextLength, opts.MicroBatch()
	for state.Step < opts.Steps {
		if err := ctx.Err(); err != nil {
			return finish(fmt.Errorf("train interrupted at step %d: %w", state.Step, err))
		}
		// Fetch every micro-batch first: an interruption while waiting for data leaves no partial
		// gradient sums in the accumulators (the checkpoint written on the way out stays exact).
		var pos shards.Position
		inputs := make([][2]*tensors.Tensor, 0, opts.Accum)
		release := func() {
			for _, in := range inputs {
				in[0].FinalizeAll()
				in[1].FinalizeAll()
			}
		}
		for range opts.Accum {
			t0 := time.Now()
			b, err, ok := next()
			d := time.Since(t0)
			wait += d
			logWait += d
			if !ok {
				err = errors.New("data stream ended")
				if ctx.Err() != nil {
					err = ctx.Err()
				}
			}
			if err != nil {
				release()
				return finish(fmt.Errorf("train at step %d: %w", state.Step, err))
			}
			if b.N != mb {
				b.Release()
				release()
				return finish(fmt.Errorf("train at step %d: short batch of %d", state.Step, b.N))
			}
			inputs = append(inputs, [2]*tensors.Tensor{
				tensors.FromFlatDataAndDimensions(b.Images, mb, r, r, 3),
				tensors.FromFlatDataAndDimensions(b.Tokens, mb, l),
			})
			pos = b.Position
			b.Release()
		}
		var loss, scale float64
		for _, in := range inputs {
			li, si, err := steps.micro(in[0], in[1])
			if err != nil {
				release()
				// The accumulators may hold part of a step: no checkpoint of this state.
				return nil, fmt.Errorf("train at step %d: %w", state.Step, err)
			}
			loss += li / float64(opts.Accum)
			scale = si
		}
		release()
		if err := steps.apply(); err != nil {
			return nil, fmt.Errorf("train at step %d: %w", state.Step, err)
		}
		lr := sched.LR(state.Step)
		state.Step++
		state.Samples += int64(opts.BatchSize)
		state.Position = pos
		res.StepsRun++
		res.LastLoss = loss
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			// Diverged: no checkpoint of these weights; the last good one stays the latest.
			return nil, fmt.Errorf("train: loss is %v at step %d (diverged; lower --lr or raise --warmup and --resume)", loss, state.Step)
		}
		info := StepInfo{Step: state.Step, Loss: loss, LogitScale: math.Exp(scale), LR: lr, Position: pos}
		if t.OnStep != nil {
			t.OnStep(info)
		}
		logLoss += loss
		logSteps++
		if state.Step%opts.LogEvery == 0 || state.Step == opts.Steps {
			el := time.Since(logStart).Seconds()
			mt := Metrics{
				Step: state.Step, Loss: logLoss / float64(logSteps), LR: lr, LogitScale: info.LogitScale,
				SamplesPerSec: float64(logSteps*int64(opts.BatchSize)) / el,
				Epoch:         float64(pos.Epoch) + float64(pos.Consumed)/float64(max(epochSize, 1)),
				DataWaitFrac:  logWait.Seconds() / el, Corrupt: loader.Stats().Corrupt, ElapsedSec: time.Since(start).Seconds(),
			}
			if err := metrics.add(mt); err != nil {
				return finish(err)
			}
			if bar != nil {
				bar.Describe(fmt.Sprintf("loss %.3f | %.0f samples/s | wait %.0f%%", mt.Loss, mt.SamplesPerSec, 100*mt.DataWaitFrac))
			}
			slog.Debug("step", "step", mt.Step, "loss", mt.Loss, "lr", lr, "samples_per_sec", mt.SamplesPerSec)
			logLoss, logSteps, logWait, logStart = 0, 0, 0, time.Now()
		}
		if bar != nil {
			_ = bar.Set64(state.Step)
		}
		if state.Step%opts.CheckpointEvery == 0 && state.Step < opts.Steps {
			if err := checkpointWrite(); err != nil {
				return finish(err)
			}
		}
	}
	return finish(nil)
}

// tokenizer loads Options.Tokenizer or trains one on the shards' captions.
func (t *Trainer) tokenizer(ctx context.Context, opts Options, cfg model.Config) (*tokenizer.Tokenizer, error) {
	if opts.Tokenizer != "" {
		return tokenizer.Load(opts.Tokenizer)
	}
	t0 := time.Now()
	tok, err := tokenizer.TrainShards(ctx, opts.Shards, opts.TokCaptions, tokenizer.TrainOptions{VocabSize: min(opts.VocabSize, cfg.VocabSize)})
	if err != nil {
		return nil, err
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
