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

// run is one call of Trainer.Train: what setup builds (state, stepper, loader, metrics, progress bar)
// and what the steps update. Its exits say what they save: finishWithCheckpoint writes a checkpoint
// of the last completed step (if it has none yet) and returns the Result; abortWithoutCheckpoint
// writes nothing, so the run folder's latest checkpoint stays the last good one.
type run struct {
	out       string
	opts      Options // in effect: the checkpoint's (resume) or the Trainer's with defaults
	cfg       model.Config
	tok       *tokenizer.Tokenizer
	state     checkpoint.State // step, samples, data position: updated by every step
	vars      *gctx.Context    // weights, optimizer state, accumulators, RNG
	sched     optim.CosineWarmup
	steps     *stepper
	loader    *Loader
	epochSize int64 // samples per epoch (metrics' fractional epoch)
	metrics   *metricsLog
	bar       *progressbar.ProgressBar // nil with Options.NoProgress
	barOut    io.Writer
	next      func() (*Batch, error, bool) // the loader's batches, pulled
	stop      func()
	res       *Result

	start          time.Time
	wait           time.Duration // waiting for data, this call
	lastCheckpoint int64         // step of the latest checkpoint written or resumed from
	corruptAtStart int64         // corrupt images counted by the checkpoint resumed from

	// Since the last metrics line.
	logStart time.Time
	logWait  time.Duration
	logLoss  float64
	logSteps int64
}

// setup prepares the run folder, restores or initialises the state, builds the stepper and the
// loader, opens metrics.jsonl and the progress bar. A failure leaves no checkpoint behind.
func (t *Trainer) setup(ctx context.Context) (*run, error) {
	r := &run{start: time.Now(), out: t.Options.Out, res: &Result{}}
	if r.out == "" {
		return nil, errors.New("train: no run folder (Options.Out)")
	}
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := checkpoint.CleanTemp(r.out); err != nil {
		return nil, err
	}
	be := t.Backend
	if be == nil {
		var err error
		if be, err = gomlxfix.NewBackend(); err != nil {
			return nil, err
		}
	}
	if err := r.restoreOrInit(ctx, t); err != nil {
		return nil, err
	}
	if err := r.writeRunFiles(); err != nil {
		return nil, err
	}
	if err := r.build(be); err != nil {
		return nil, err
	}
	r.startProgress(t.Progress)
	r.next, r.stop = iter.Pull2(r.loader.Batches(ctx, r.state.Position))
	r.lastCheckpoint = r.state.Step
	r.corruptAtStart = r.state.Corrupt
	r.logStart = time.Now()
	return r, nil
}

// restoreOrInit takes the state from the run folder's latest checkpoint (Trainer.Resume, when there
// is one) or starts fresh: the preset's model, the Trainer's options with defaults, a tokenizer, an
// RNG seeded with Options.Seed.
func (r *run) restoreOrInit(ctx context.Context, t *Trainer) error {
	var ck *checkpoint.Checkpoint
	if t.Resume {
		var err error
		ck, err = checkpoint.Read(r.out)
		if errors.Is(err, checkpoint.ErrNotFound) {
			slog.Info("no checkpoint to resume from: starting a new run", "out", r.out)
			ck = nil
		} else if err != nil {
			return fmt.Errorf("resume: %w", err)
		}
	}
	if ck != nil {
		r.cfg, r.tok, r.state, r.vars = ck.State.Model, ck.Tokenizer, ck.State, ck.Context
		var saved Options
		if err := json.Unmarshal(ck.State.Options, &saved); err != nil {
			return fmt.Errorf("resume: %s: options: %w", ck.Dir, err)
		}
		r.opts = resumeOptions(saved, t.Options)
		r.res.Checkpoint = ck.Dir
		slog.Info("resuming", "checkpoint", ck.Dir, "step", r.state.Step, "position", r.state.Position, "steps", r.opts.Steps)
		return nil
	}
	r.cfg = t.Preset.Model.WithDefaults()
	r.opts = t.Options.WithDefaults(t.Preset.Train, r.cfg)
	if err := r.opts.Validate(r.cfg); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	var err error
	if r.tok, err = t.tokenizer(ctx, r.opts, r.cfg); err != nil {
		return err
	}
	r.vars = gctx.New()
	if err := r.vars.SetRNGStateFromSeed(int64(r.opts.Seed)); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	r.state = checkpoint.State{Model: r.cfg}
	return nil
}

// writeRunFiles checks the options against the model and writes the run folder's tok.json and
// config.yaml (the preset as run).
func (r *run) writeRunFiles() error {
	if err := r.opts.Validate(r.cfg); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if r.tok.VocabSize() > r.cfg.VocabSize {
		return fmt.Errorf("train: tokenizer has %d ids, the model's vocabulary only %d", r.tok.VocabSize(), r.cfg.VocabSize)
	}
	var err error
	if r.state.Options, err = json.Marshal(r.opts); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := r.tok.Save(filepath.Join(r.out, checkpoint.TokenizerFile)); err != nil {
		return err
	}
	cfgYAML, err := yaml.Marshal(model.File{Model: r.cfg, Train: r.opts.Hyper()})
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(r.out, checkpoint.ConfigFile), cfgYAML)
}

// build creates the model, AdamW with the cosine schedule, the stepper and the loader, and opens
// metrics.jsonl (cut back to the resumed step).
func (r *run) build(be backends.Backend) error {
	m, err := model.New(r.cfg)
	if err != nil {
		return err
	}
	o := r.opts
	r.sched = optim.CosineWarmup{Peak: o.LR, Min: o.MinLR, Warmup: o.Warmup, Total: o.Steps}
	opt, err := optim.NewAdamW(optim.AdamWConfig{
		LR: &r.sched, Beta1: o.Beta1, Beta2: o.Beta2, Epsilon: o.Epsilon, WeightDecay: o.WeightDecay,
	})
	if err != nil {
		return err
	}
	if r.steps, err = newStepper(be, r.vars, m, opt, o.Accum); err != nil {
		return err
	}
	r.loader, err = NewLoader(LoaderOptions{
		Shards: o.Shards, Resolution: r.cfg.ImageResolution, ContextLength: r.cfg.ContextLength,
		BatchSize: o.MicroBatch(), Workers: o.Workers, Prefetch: o.Prefetch, ShuffleBuffer: o.ShuffleBuffer,
		Seed: o.Seed, Epochs: -1, MaxPixels: o.MaxPixels,
		ScaleMin: o.CropScaleMin, ScaleMax: CropScaleMax, Jitter: o.jitter(),
		ZoomOut: o.zoomOut(), Outline: Outline{Prob: o.OutlineProb},
	}, r.tok)
	if err != nil {
		return err
	}
	r.epochSize = r.loader.EpochSize()
	if r.metrics, err = openMetrics(r.out, r.state.Step); err != nil {
		return err
	}
	slog.Info("training", "model", r.cfg.Name, "parameters", r.cfg.ParameterCount(), "vocab", r.tok.VocabSize(),
		"batch", o.BatchSize, "accum", o.Accum, "steps", o.Steps, "from_step", r.state.Step,
		"epoch_size", r.epochSize, "backend", be.Name(), "out", r.out)
	return nil
}

// startProgress shows the progress bar on w (nil: stderr) unless Options.NoProgress.
func (r *run) startProgress(w io.Writer) {
	r.barOut = w
	if r.barOut == nil {
		r.barOut = os.Stderr
	}
	if r.opts.NoProgress {
		return
	}
	r.bar = progressbar.NewOptions64(r.opts.Steps, progressbar.OptionSetWriter(r.barOut), progressbar.OptionSetWidth(25),
		progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(250*time.Millisecond),
		progressbar.OptionSetDescription("train"), progressbar.OptionSetRenderBlankState(true))
	_ = r.bar.Set64(r.state.Step)
}

// microBatches are one step's inputs: {images, tokens} per micro-batch.
type microBatches struct {
	inputs [][2]*tensors.Tensor
	pos    shards.Position // data position after the last one
}

func (mb *microBatches) release() {
	for _, in := range mb.inputs {
		in[0].FinalizeAll()
		in[1].FinalizeAll()
	}
}

// fetch takes one step's Accum micro-batches from the loader. Every micro-batch is fetched before
// any runs: an interruption while waiting for data leaves no partial gradient sums in the
// accumulators, so the checkpoint written on the way out stays exact.
func (r *run) fetch(ctx context.Context) (*microBatches, error) {
	res, l, n := r.cfg.ImageResolution, r.cfg.ContextLength, r.opts.MicroBatch()
	mb := &microBatches{inputs: make([][2]*tensors.Tensor, 0, r.opts.Accum)}
	for range r.opts.Accum {
		t0 := time.Now()
		b, err, ok := r.next()
		d := time.Since(t0)
		r.wait += d
		r.logWait += d
		if !ok {
			err = errors.New("data stream ended")
			if ctx.Err() != nil {
				err = ctx.Err()
			}
		}
		if err != nil {
			mb.release()
			return nil, fmt.Errorf("train at step %d: %w", r.state.Step, err)
		}
		if b.N != n {
			b.Release()
			mb.release()
			return nil, fmt.Errorf("train at step %d: short batch of %d", r.state.Step, b.N)
		}
		mb.inputs = append(mb.inputs, [2]*tensors.Tensor{
			tensors.FromFlatDataAndDimensions(b.Images, n, res, res, 3),
			tensors.FromFlatDataAndDimensions(b.Tokens, n, l),
		})
		mb.pos = b.Position
		b.Release()
	}
	return mb, nil
}

// step runs one optimizer step on mb and advances the state. An error means the weights, the
// optimizer state or the accumulators cannot be trusted (a failed graph, a diverged loss): the
// caller must not checkpoint them.
func (r *run) step(mb *microBatches) (StepInfo, error) {
	var loss, scale float64
	for _, in := range mb.inputs {
		li, si, err := r.steps.micro(in[0], in[1])
		if err != nil {
			mb.release()
			return StepInfo{}, fmt.Errorf("train at step %d: %w", r.state.Step, err)
		}
		loss += li / float64(r.opts.Accum)
		scale = si
	}
	mb.release()
	if err := r.steps.apply(); err != nil {
		return StepInfo{}, fmt.Errorf("train at step %d: %w", r.state.Step, err)
	}
	lr := r.sched.LR(r.state.Step)
	r.state.Step++
	r.state.Samples += int64(r.opts.BatchSize)
	r.state.Position = mb.pos
	r.res.StepsRun++
	r.res.LastLoss = loss
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return StepInfo{}, fmt.Errorf("train: loss is %v at step %d (diverged; lower --lr or raise --warmup and --resume)", loss, r.state.Step)
	}
	return StepInfo{Step: r.state.Step, Loss: loss, LogitScale: math.Exp(scale), LR: lr, Position: mb.pos}, nil
}

// log adds a completed step to the running means; every LogEvery steps (and at the last) it appends
// a line to metrics.jsonl and updates the progress bar's description.
func (r *run) log(info StepInfo) error {
	r.logLoss += info.Loss
	r.logSteps++
	if r.state.Step%r.opts.LogEvery == 0 || r.state.Step == r.opts.Steps {
		el := time.Since(r.logStart).Seconds()
		pos := info.Position
		mt := Metrics{
			Step: r.state.Step, Loss: r.logLoss / float64(r.logSteps), LR: info.LR, LogitScale: info.LogitScale,
			SamplesPerSec: float64(r.logSteps*int64(r.opts.BatchSize)) / el,
			Epoch:         float64(pos.Epoch) + float64(pos.Consumed)/float64(max(r.epochSize, 1)),
			DataWaitFrac:  r.logWait.Seconds() / el, Corrupt: r.loader.Stats().Corrupt, ElapsedSec: time.Since(r.start).Seconds(),
		}
		if err := r.metrics.add(mt); err != nil {
			return err
		}
		if r.bar != nil {
			r.bar.Describe(fmt.Sprintf("loss %.3f | %.0f samples/s | wait %.0f%%", mt.Loss, mt.SamplesPerSec, 100*mt.DataWaitFrac))
		}
		slog.Debug("step", "step", mt.Step, "loss", mt.Loss, "lr", info.LR, "samples_per_sec", mt.SamplesPerSec)
		r.logLoss, r.logSteps, r.logWait, r.logStart = 0, 0, 0, time.Now()
	}
	if r.bar != nil {
		_ = r.bar.Set64(r.state.Step)
	}
	return nil
}

// saveCheckpoint writes a checkpoint of the current state, prunes old ones to Options.Keep and
// redraws the loss plot.
func (r *run) saveCheckpoint() error {
	r.state.Corrupt = r.corruptAtStart + r.loader.Stats().Corrupt
	path, err := checkpoint.Save(r.out, r.state, r.opts.Hyper(), r.vars, r.tok)
	if err != nil {
		return err
	}
	r.res.Checkpoint = path
	r.lastCheckpoint = r.state.Step
	if err := checkpoint.Prune(r.out, r.opts.Keep); err != nil {
		return err
	}
	slog.Debug("checkpoint", "path", path)
	return r.writeLossPlot()
}

func (r *run) writeLossPlot() error {
	return WriteLossPlot(filepath.Join(r.out, LossPlot), r.cfg.Name+" — "+filepath.Base(r.out), r.metrics.points)
}

// finishWithCheckpoint ends the run keeping its state: a checkpoint of the last completed step
// unless the latest already is one (else just the loss plot), the progress bar closed, the Result
// summed up. runErr (nil on success) is returned with the result, joined with any error of the
// checkpoint.
func (r *run) finishWithCheckpoint(runErr error) (*Result, error) {
	if r.state.Step > r.lastCheckpoint {
		if err := r.saveCheckpoint(); err != nil {
			return nil, errors.Join(runErr, err)
		}
	} else if err := r.writeLossPlot(); err != nil {
		return nil, errors.Join(runErr, err)
	}
	if r.bar != nil {
		_ = r.bar.Finish()
		fmt.Fprintln(r.barOut)
	}
	res := r.res
	res.Steps, res.Samples = r.state.Step, r.state.Samples
	res.Corrupt = r.loader.Stats().Corrupt
	res.Elapsed = time.Since(r.start)
	if res.Elapsed > 0 {
		res.DataWaitFrac = r.wait.Seconds() / res.Elapsed.Seconds()
	}
	slog.Info("training done", "steps", res.Steps, "this_run", res.StepsRun, "loss", res.LastLoss,
		"elapsed", res.Elapsed.Round(time.Millisecond), "data_wait_frac", res.DataWaitFrac, "corrupt_images", res.Corrupt, "checkpoint", res.Checkpoint)
	return res, runErr
}

// abortWithoutCheckpoint ends the run without saving anything: the state in memory is not to be
// trusted (a failed graph execution may have left part of a step in the accumulators; a diverged
// loss, bad weights), so the latest checkpoint on disk stays the last good one.
func (r *run) abortWithoutCheckpoint(err error) (*Result, error) {
	return nil, err
}

// close stops the loader and closes metrics.jsonl (after either exit).
func (r *run) close() {
	r.stop()
	r.metrics.close()
}
