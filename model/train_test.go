package model

import (
	"math"
	"testing"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/checkpoints"

	"github.com/witdata/wit/train/optim"
)

// trainConfig is a clip-tiny-shaped model shrunk so 30 steps fit the 60 s test budget on 2 cores.
func trainConfig() Config {
	return Config{
		Name: "test-train", EmbedDim: 64, ImageResolution: 16, VisionLayers: 2, VisionWidth: 64, VisionPatchSize: 4,
		VisionHeads: 2, ContextLength: 12, VocabSize: 200, TransformerWidth: 64, TransformerHeads: 2, TransformerLayers: 2,
	}.WithDefaults()
}

func newTrainer(t testing.TB, cfg Config, lr float64, seed int64) (*context.Context, *context.Exec) {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opt := optim.DefaultAdamW()
	opt.LearningRate = lr
	adamw, err := optim.NewAdamW(opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(seed); err != nil {
		t.Fatal(err)
	}
	return ctx, context.MustNewExec(backend, ctx, m.TrainStep(adamw))
}

// TestLossFallsOnFixedBatch: 30 AdamW steps on one fixed batch of 16 pairs must drive the contrastive
// loss well below chance (ln 16 ≈ 2.77).
func TestLossFallsOnFixedBatch(t *testing.T) {
	cfg := trainConfig()
	ctx, step := newTrainer(t, cfg, 2e-3, 42)
	images, tokens := batchFor(cfg, 16, 7)
	start := time.Now()
	var first, last float32
	for i := range 30 {
		out := step.MustExec(images, tokens)
		loss := out[0].Value().(float32)
		if i == 0 {
			first = loss
		}
		last = loss
		if math.IsNaN(float64(loss)) {
			t.Fatalf("step %d: NaN loss", i)
		}
	}
	t.Logf("loss %.3f → %.3f in 30 steps (%v)", first, last, time.Since(start))
	if math.Abs(float64(first)-math.Log(16)) > 0.5 {
		t.Errorf("initial loss %.3f far from chance ln16=%.3f", first, math.Log(16))
	}
	if last > first/2 {
		t.Errorf("loss did not fall: %.3f → %.3f", first, last)
	}
	if got := ctx.GetVariableByScopeAndName(optim.AdamWScope, "step").MustValue().Value().(int64); got != 30 {
		t.Errorf("optimizer step %d, want 30", got)
	}
}

// TestLogitScaleGradientAndClamp: the logit scale receives a gradient, starts at ln(1/0.07), and is
// held at ≤ ln(100) both in the forward pass and in the variable after a step.
func TestLogitScaleGradientAndClamp(t *testing.T) {
	cfg := microConfig()
	m, _ := New(cfg)
	ctx := context.New()
	_ = ctx.SetRNGStateFromSeed(3)
	images, tokens := batchFor(cfg, 4, 3)
	grad := context.MustNewExec(backend, ctx, func(ctx *context.Context, images, tokens *Node) []*Node {
		loss, scale := m.Forward(ctx, images, tokens)
		v := ctx.GetVariableByScopeAndName(ctx.Scope(), LogitScaleVar)
		return []*Node{scale, Gradient(loss, v.ValueGraph(images.Graph()))[0]}
	})
	out := grad.MustExec(images, tokens)
	if s := out[0].Value().(float32); math.Abs(float64(s)-InitialLogitScale) > 1e-6 {
		t.Errorf("initial logit scale %g, want ln(1/0.07)=%g", s, InitialLogitScale)
	}
	if g := out[1].Value().(float32); g == 0 || math.IsNaN(float64(g)) {
		t.Errorf("logit scale gradient %g", g)
	}

	// Push it past the clamp; a training step must bring the variable back to ≤ ln(100).
	adamw, _ := optim.NewAdamW(optim.DefaultAdamW())
	step := context.MustNewExec(backend, ctx, m.TrainStep(adamw))
	v := ctx.GetVariableByScopeAndName("/", LogitScaleVar)
	v.MustSetValue(tensors.FromValue(float32(6)))
	res := step.MustExec(images, tokens)
	if s := res[1].Value().(float32); float64(s) > MaxLogitScale+1e-6 {
		t.Errorf("forward used logit scale %g > ln100", s)
	}
	if got := v.MustValue().Value().(float32); float64(got) > MaxLogitScale+1e-6 || got < 0 {
		t.Errorf("logit scale after step %g, want within [0, ln100=%g]", got, MaxLogitScale)
	}
}

// TestDecayOnlyOnMatrices: with the model's names, OpenCLIP's rule decays exactly the rank ≥ 2
// variables (no weight matrix has "ln"/"bn"/"bias" in its path by accident).
func TestDecayOnlyOnMatrices(t *testing.T) {
	cfg := microConfig()
	ctx := context.New()
	graphParameterCountCtx(t, ctx, cfg)
	decayed, kept := 0, 0
	for v := range ctx.IterVariables() {
		if !v.Trainable {
			continue
		}
		d := optim.OpenCLIPDecay(v.ScopeAndName(), v.Shape())
		if d != (v.Shape().Rank() >= 2) {
			t.Errorf("%s %s: decay=%v", v.ScopeAndName(), v.Shape(), d)
		}
		if d {
			decayed++
		} else {
			kept++
		}
	}
	t.Logf("%d variables decayed, %d not", decayed, kept)
}

func graphParameterCountCtx(t testing.TB, ctx *context.Context, cfg Config) {
	m, _ := New(cfg)
	g := NewGraph(backend, "vars")
	defer g.Finalize()
	images, tokens := batchFor(cfg, 2, 1)
	_ = m.Loss(ctx, Const(g, images), Const(g, tokens))
}

// TestStateIsInContext: everything a resume needs (weights, AdamW moments and step, RNG) lives in
// context variables: a clone of the context, trained on by a fresh executor, continues exactly like
// the original.
func TestStateIsInContext(t *testing.T) {
	cfg := microConfig()
	images, tokens := batchFor(cfg, 4, 11)
	ctx, step := newTrainerFor(t, cfg, 42)
	for range 3 {
		step.MustExec(images, tokens)
	}
	clone, err := ctx.Clone()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := New(cfg)
	opt := optim.DefaultAdamW()
	opt.LearningRate = 1e-3 // as newTrainerFor
	adamw, _ := optim.NewAdamW(opt)
	resumed := context.MustNewExec(backend, clone, m.TrainStep(adamw))
	for i := range 2 {
		a := step.MustExec(images, tokens)[0].Value().(float32)
		b := resumed.MustExec(images, tokens)[0].Value().(float32)
		if a != b {
			t.Fatalf("step %d after resume: loss %v, uninterrupted %v", i, b, a)
		}
	}
	for v := range ctx.IterVariables() {
		w := clone.GetVariableByScopeAndName(v.Scope(), v.Name())
		if w == nil || !v.MustValue().Equal(w.MustValue()) {
			t.Fatalf("variable %s differs after resume", v.ScopeAndName())
		}
	}
}

func newTrainerFor(t testing.TB, cfg Config, seed int64) (*context.Context, *context.Exec) {
	return newTrainer(t, cfg, 1e-3, seed)
}

// trainSteps runs n steps on one batch and returns the first and last loss; a NaN fails the test.
func trainSteps(t *testing.T, step *context.Exec, images, tokens *tensors.Tensor, n int) (first, last float32) {
	t.Helper()
	for i := range n {
		loss := step.MustExec(images, tokens)[0].Value().(float32)
		if math.IsNaN(float64(loss)) {
			t.Fatalf("step %d: NaN loss", i)
		}
		if i == 0 {
			first = loss
		}
		last = loss
	}
	return first, last
}

// TestGELUVariantTrains: the exact-GELU MLP (OpenCLIP's choice for new models) differentiates on the
// pure-Go backend too (Erf has a VJP there).
func TestGELUVariantTrains(t *testing.T) {
	cfg := microConfig()
	cfg.Activation = GELU
	_, step := newTrainer(t, cfg, 3e-3, 5)
	images, tokens := batchFor(cfg, 8, 5)
	first, last := trainSteps(t, step, images, tokens, 8)
	if last >= first {
		t.Errorf("GELU model loss did not fall: %.3f → %.3f", first, last)
	}
}

// TestConvStemTrains: the conv stem differentiates on the pure-Go backend and learns a fixed batch.
func TestConvStemTrains(t *testing.T) {
	cfg := trainConfig()
	cfg.VisionStem = StemConv
	ctx, step := newTrainer(t, cfg, 2e-3, 6)
	images, tokens := batchFor(cfg, 16, 6)
	first, last := trainSteps(t, step, images, tokens, 20)
	t.Logf("loss %.3f → %.3f in 20 steps", first, last)
	if last > first/2 {
		t.Errorf("conv-stem model loss did not fall: %.3f → %.3f", first, last)
	}
	if ctx.GetVariableByScopeAndName("/visual/stem/conv0", "weights") == nil {
		t.Errorf("no conv stem variables")
	}
}

// TestCheckpointResume: GoMLX's checkpoints package round-trips the whole training state (weights,
// AdamW state, RNG), and training resumed from disk continues exactly like the uninterrupted run.
func TestCheckpointResume(t *testing.T) {
	cfg := microConfig()
	images, tokens := batchFor(cfg, 4, 31)
	dir := t.TempDir()
	ctx, step := newTrainer(t, cfg, 1e-3, 77)
	for range 2 {
		step.MustExec(images, tokens)
	}
	h, err := checkpoints.Build(ctx).Dir(dir).Immediate().Done()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Save(); err != nil {
		t.Fatal(err)
	}
	want := step.MustExec(images, tokens)[0].Value().(float32)

	m, _ := New(cfg)
	opt := optim.DefaultAdamW()
	opt.LearningRate = 1e-3
	adamw, _ := optim.NewAdamW(opt)
	loaded := context.New()
	if _, err := checkpoints.Build(loaded).Dir(dir).Immediate().Done(); err != nil {
		t.Fatal(err)
	}
	got := context.MustNewExec(backend, loaded, m.TrainStep(adamw)).MustExec(images, tokens)[0].Value().(float32)
	if got != want {
		t.Fatalf("next-step loss after resume %v, uninterrupted %v", got, want)
	}
	if s := loaded.GetVariableByScopeAndName(optim.AdamWScope, "step").MustValue().Value().(int64); s != 3 {
		t.Errorf("resumed AdamW step %d, want 3", s)
	}
}
