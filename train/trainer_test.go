package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/witdata/wit/checkpoint"
	"github.com/witdata/wit/inference"
	"github.com/witdata/wit/internal/testutil/cliptest"
	"github.com/witdata/wit/model"
)

func tinyPreset() model.File {
	return model.File{Model: cliptest.TinyConfig(300), Train: model.Hyper{BatchSize: 8, LearningRate: 2e-3, MinLR: 1e-4, WarmupSteps: 3, Steps: 40, WeightDecay: 0.2}}
}

// TestTrainLossFallsAndRunFolder trains the tiny model on synthetic shapes (tokenizer trained on the
// fly from the shards) and checks the loss falls and the run folder is complete.
func TestTrainLossFallsAndRunFolder(t *testing.T) {
	shardDir, run := t.TempDir(), t.TempDir()
	writeShards(t, shardDir, 120, 50, 15, 24)
	var losses []float64
	tr := &Trainer{
		Preset:  tinyPreset(),
		Options: Options{Shards: shardDir, Out: run, Steps: 40, CheckpointEvery: 15, Keep: 2, LogEvery: 5, Workers: 2, ShuffleBuffer: 64, NoProgress: true},
		Backend: testBackend,
		OnStep:  func(s StepInfo) { losses = append(losses, s.Loss) },
	}
	start := time.Now()
	res, err := tr.Train(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mean := func(xs []float64) float64 {
		var s float64
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	first, last := mean(losses[:5]), mean(losses[len(losses)-5:])
	t.Logf("40 steps in %v: loss %.3f → %.3f; corrupt %d; data wait %.2f", time.Since(start), first, last, res.Corrupt, res.DataWaitFrac)
	if res.Steps != 40 || len(losses) != 40 || res.Samples != 320 {
		t.Fatalf("result %+v, %d step callbacks", res, len(losses))
	}
	if last > first-0.4 {
		t.Errorf("loss did not fall: %.3f → %.3f", first, last)
	}
	if res.Corrupt == 0 {
		t.Error("corrupt images were not counted")
	}
	// Run folder.
	for _, f := range []string{MetricsFile, LossPlot, checkpoint.ConfigFile, checkpoint.TokenizerFile} {
		if st, err := os.Stat(filepath.Join(run, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	cks, _ := checkpoint.List(run)
	if len(cks) != 2 || filepath.Base(cks[1]) != checkpoint.Name(40) || filepath.Base(cks[0]) != checkpoint.Name(30) {
		t.Errorf("checkpoints %v, want steps 30 and 40", cks)
	}
	f, _ := os.Open(filepath.Join(run, MetricsFile))
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"step", "loss", "lr", "logit_scale", "samples_per_sec", "epoch", "data_wait_frac"} {
			if _, ok := m[k]; !ok {
				t.Errorf("metrics line %d lacks %q: %s", lines, k, sc.Text())
			}
		}
		if m["samples_per_sec"].(float64) <= 0 || m["logit_scale"].(float64) <= 1 {
			t.Errorf("metrics line %s", sc.Text())
		}
		lines++
	}
	if lines != 8 {
		t.Errorf("%d metrics lines, want 8", lines)
	}
	// The checkpoint is self-contained: the embedder loads it.
	e, err := inference.LoadCheckpointWithBackend(run, testBackend, 4)
	if err != nil {
		t.Fatal(err)
	}
	if e.State.Step != 40 || e.Tokenizer.VocabSize() > 300 {
		t.Errorf("embedder state step %d", e.State.Step)
	}
}

// TestResumeExact: a run interrupted after step 3 and resumed from its checkpoint takes steps 4–6
// with exactly the losses of an uninterrupted run (weights, AdamW state, data position, crops),
// with gradient accumulation over 2 micro-batches.
func TestResumeExact(t *testing.T) {
	shardDir := t.TempDir()
	writeShards(t, shardDir, 60, 25, 0, 24)
	tok := testTokenizer(t)
	tokPath := filepath.Join(t.TempDir(), "tok.json")
	if err := tok.Save(tokPath); err != nil {
		t.Fatal(err)
	}
	opts := func(out string) Options {
		return Options{Shards: shardDir, Out: out, Tokenizer: tokPath, Steps: 6, Accum: 2, CheckpointEvery: 100, LogEvery: 1, Workers: 2, ShuffleBuffer: 16, NoProgress: true, Seed: 7}
	}
	record := func(dst *[]float64) func(StepInfo) { return func(s StepInfo) { *dst = append(*dst, s.Loss) } }

	var full []float64
	straight := &Trainer{Preset: tinyPreset(), Options: opts(t.TempDir()), Backend: testBackend, OnStep: record(&full)}
	if _, err := straight.Train(context.Background()); err != nil {
		t.Fatal(err)
	}

	run := t.TempDir()
	var first, second []float64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupted := &Trainer{Preset: tinyPreset(), Options: opts(run), Backend: testBackend, OnStep: func(s StepInfo) {
		first = append(first, s.Loss)
		if s.Step == 3 {
			cancel()
		}
	}}
	res, err := interrupted.Train(ctx)
	if !errors.Is(err, context.Canceled) || res == nil || res.Steps != 3 {
		t.Fatalf("interrupted run: %v, %+v", err, res)
	}
	resumed := &Trainer{Preset: tinyPreset(), Options: opts(run), Resume: true, Backend: testBackend, OnStep: record(&second)}
	if _, err := resumed.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := append(first, second...)
	t.Logf("uninterrupted %v\nresumed       %v", full, got)
	if len(got) != 6 {
		t.Fatalf("%d steps after resume", len(got))
	}
	for i := range full {
		if got[i] != full[i] {
			t.Errorf("step %d: loss %v after resume, %v uninterrupted", i+1, got[i], full[i])
		}
	}
	ms, err := ReadMetrics(filepath.Join(run, MetricsFile))
	if err != nil || len(ms) != 6 || ms[5].Step != 6 {
		t.Errorf("metrics after resume: %d lines, err %v", len(ms), err)
	}
}

func TestOptionsValidate(t *testing.T) {
	cfg := cliptest.TinyConfig(300)
	for _, o := range []Options{
		{BatchSize: 1},
		{BatchSize: 8, Accum: 3},
		{BatchSize: 8, Accum: 8},
		{BatchSize: 8, LR: 1e-3, MinLR: 1e-2},
		{BatchSize: 8, VocabSize: 1000},
		{BatchSize: 8, CropScaleMin: 1.5},
		{BatchSize: 8, ColorJitter: 1},
		{BatchSize: 8, ColorJitter: -0.1},
		{BatchSize: 8, GrayScale: 2},
	} {
		if err := o.WithDefaults(model.Hyper{}, cfg).Validate(cfg); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if err := (Options{}).WithDefaults(tinyPreset().Train, cfg).Validate(cfg); err != nil {
		t.Error(err)
	}
}

// TestDivergedRunKeepsLastGoodCheckpoint: a loss that turns NaN or infinite ends the run with an
// error and without a checkpoint of the diverged weights; the latest stays the last good step's.
func TestDivergedRunKeepsLastGoodCheckpoint(t *testing.T) {
	shardDir, run := t.TempDir(), t.TempDir()
	writeShards(t, shardDir, 40, 20, 0, 24)
	var losses []float64
	tr := &Trainer{
		Preset: tinyPreset(),
		// A learning rate of 1e30 throws the weights out of float32's range after the first update.
		Options: Options{Shards: shardDir, Out: run, Steps: 10, LR: 1e30, Warmup: 1, CheckpointEvery: 1, LogEvery: 1, Workers: 2, ShuffleBuffer: 16, NoProgress: true},
		Backend: testBackend,
		OnStep:  func(s StepInfo) { losses = append(losses, s.Loss) },
	}
	res, err := tr.Train(context.Background())
	if err == nil || res != nil || !strings.Contains(err.Error(), "diverged") {
		t.Fatalf("diverged run: %v, %+v", err, res)
	}
	cks, _ := checkpoint.List(run)
	if len(cks) == 0 || len(losses) == 0 {
		t.Fatalf("checkpoints %v after %d good steps (%v)", cks, len(losses), err)
	}
	ck, err := checkpoint.Read(run)
	if err != nil {
		t.Fatal(err)
	}
	if ck.State.Step != int64(len(losses)) {
		t.Errorf("latest checkpoint at step %d, last good step %d", ck.State.Step, len(losses))
	}
	t.Logf("good steps %v; latest checkpoint %s", losses, ck.Dir)
}
