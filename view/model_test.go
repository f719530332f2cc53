package view

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/witdata/wit/inference"
	"github.com/witdata/wit/model"
	"github.com/witdata/wit/train"
)

var sharedDir string // removed after the tests

func TestMain(m *testing.M) {
	// Never let GoMLX try to download a PJRT plugin in tests.
	os.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
	var err error
	if sharedDir, err = os.MkdirTemp("", "wit-view-test-"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(sharedDir)
	os.Exit(code)
}

// tinyModelSteps trains the tiny CLIP long enough to tell the 17 test images apart by caption.
const tinyModelSteps = 300

var tinyRun struct {
	once sync.Once
	dir  string
	err  error
}

// tinyCheckpoint trains a tiny CLIP on the test dataset once per test binary (tokenizer trained on
// its captions) and returns the run folder: the real training and embedding path, small enough for
// 2 cores (300 steps of 16 pairs at 32 px: about 10-20 s).
func tinyCheckpoint(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("trains a model")
	}
	tinyRun.once.Do(func() {
		shardDir, _ := writeTestDataset(t, 7, 3)
		cfg := model.Config{
			Name: "view-test", EmbedDim: 32, ImageResolution: 32, VisionLayers: 1, VisionWidth: 48, VisionPatchSize: 8,
			VisionHeads: 2, ContextLength: 12, VocabSize: 300, TransformerWidth: 48, TransformerHeads: 2, TransformerLayers: 1,
		}.WithDefaults()
		run := filepath.Join(sharedDir, "run")
		start := time.Now()
		tr := &train.Trainer{
			Preset: model.File{Model: cfg, Train: model.Hyper{BatchSize: 16, LearningRate: 3e-3, MinLR: 1e-4, WarmupSteps: 10, WeightDecay: 0.1}},
			Options: train.Options{Shards: shardDir, Out: run, Steps: tinyModelSteps, CheckpointEvery: tinyModelSteps, LogEvery: 50,
				Workers: 2, ShuffleBuffer: 64, NoProgress: true, Seed: 3},
		}
		res, err := tr.Train(context.Background())
		if err != nil {
			tinyRun.err = err
			return
		}
		t.Logf("tiny CLIP: %d steps in %s, loss %.3f", res.Steps, time.Since(start).Round(time.Millisecond), res.LastLoss)
		tinyRun.dir = run
	})
	if tinyRun.err != nil {
		t.Fatal(tinyRun.err)
	}
	return tinyRun.dir
}

// TestSearchTrainedModel: with a trained checkpoint, every caption finds its own image among the
// first three (the video still and its re-encoded twin are the same stored image, so they tie).
func TestSearchTrainedModel(t *testing.T) {
	run := tinyCheckpoint(t)
	e, err := inference.LoadCheckpoint(run)
	if err != nil {
		t.Fatal(err)
	}
	dir, rows := writeTestDataset(t, 7, 3)
	d := openTest(t, dir)
	s, err := NewSearch(context.Background(), d, e, SearchOptions{Checkpoint: e.Dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		hits, err := s.Text(r.Caption, 3)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, h := range hits {
			found = found || h.Row == int64(i)
		}
		if !found {
			t.Errorf("%q: its image is not among the first 3 (%+v)", r.Caption, hits)
		}
	}
	// More like this: the twin of the video still comes first.
	still := int64(len(rows) - 4)
	if rows[still].File != "video-001.jpeg" {
		t.Fatalf("row %d is %s", still, rows[still].File)
	}
	hits, err := s.Like(still, 1)
	if err != nil || hits[0].Row != still+1 || hits[0].Score < 0.999 {
		t.Errorf("like the video still: %+v %v", hits, err)
	}
}
