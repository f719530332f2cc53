package train

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	gctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/witdata/wit/internal/testutil/cliptest"
	"github.com/witdata/wit/model"
	"github.com/witdata/wit/train/optim"
)

// randomBatch is n pairs of noise images and distinct captions (start, one id, end) for cfg.
func randomBatch(cfg model.Config, n int, seed uint64) (images, tokens *tensors.Tensor) {
	rng := rand.New(rand.NewPCG(seed, seed))
	r, l := cfg.ImageResolution, cfg.ContextLength
	img := make([]float32, n*r*r*3)
	for i := range img {
		img[i] = float32(rng.NormFloat64())
	}
	tok := make([]int32, n*l)
	for i := range n {
		tok[i*l], tok[i*l+1], tok[i*l+2] = int32(cfg.VocabSize-2), int32(1+i), int32(cfg.VocabSize-1)
	}
	return tensors.FromFlatDataAndDimensions(img, n, r, r, 3), tensors.FromFlatDataAndDimensions(tok, n, l)
}

// trainableValues clones every trainable variable's value (the executor donates variable buffers to
// the next call, so values are copied before the next step).
func trainableValues(t *testing.T, vars *gctx.Context) map[string]*tensors.Tensor {
	t.Helper()
	out := map[string]*tensors.Tensor{}
	for v := range vars.IterVariables() {
		if !v.Trainable {
			continue
		}
		c, err := v.MustValue().LocalClone()
		if err != nil {
			t.Fatal(err)
		}
		out[v.ScopeAndName()] = c
	}
	return out
}

// TestAccumulationMatchesSingleStep: with Accum = 2 and the same micro-batch twice, the mean of the
// accumulated gradients is that batch's gradient, so every step must equal a plain (Accum = 1) step
// on it; the first micro-batch must not move any weight, and apply must reset the accumulators
// (the second step matches too).
func TestAccumulationMatchesSingleStep(t *testing.T) {
	cfg := cliptest.TinyConfig(300)
	images, tokens := randomBatch(cfg, 4, 21)
	newSteps := func(accum int) (*gctx.Context, *stepper) {
		m, err := model.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		oc := optim.DefaultAdamW()
		oc.LearningRate = 1e-3
		opt, err := optim.NewAdamW(oc)
		if err != nil {
			t.Fatal(err)
		}
		vars := gctx.New()
		if err := vars.SetRNGStateFromSeed(9); err != nil {
			t.Fatal(err)
		}
		s, err := newStepper(testBackend, vars, m, opt, accum)
		if err != nil {
			t.Fatal(err)
		}
		return vars, s
	}
	run := func(s *stepper, micro int) {
		t.Helper()
		for range micro {
			if _, _, err := s.micro(images, tokens); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.apply(); err != nil {
			t.Fatal(err)
		}
	}
	plainVars, plain := newSteps(1)
	accVars, acc := newSteps(2)

	// Initial weights: a fresh context with the same seed, initialised by a loss graph.
	m, _ := model.New(cfg)
	fresh := gctx.New()
	_ = fresh.SetRNGStateFromSeed(9)
	gctx.MustNewExec(testBackend, fresh, m.Loss).MustExec(images, tokens)
	initial := trainableValues(t, fresh)

	if _, _, err := acc.micro(images, tokens); err != nil {
		t.Fatal(err)
	}
	for name, v := range trainableValues(t, accVars) {
		if w := initial[name]; w == nil || !w.Equal(v) {
			t.Fatalf("%s moved after the first micro-batch", name)
		}
	}
	if _, _, err := acc.micro(images, tokens); err != nil {
		t.Fatal(err)
	}
	if err := acc.apply(); err != nil {
		t.Fatal(err)
	}
	run(plain, 1)
	for step := 1; step <= 2; step++ {
		if step == 2 {
			run(acc, 2)
			run(plain, 1)
		}
		want := trainableValues(t, plainVars)
		got := trainableValues(t, accVars)
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("step %d: %d trainable variables accumulated, %d plain", step, len(got), len(want))
		}
		for name, w := range want {
			if g := got[name]; g == nil || !g.InDelta(w, 1e-6) {
				t.Fatalf("step %d: %s: accumulated update differs from a plain step", step, name)
			}
		}
	}
	accumulators := 0
	for v := range accVars.IterVariables() {
		if v.Scope() == AccumScope || strings.HasPrefix(v.Scope(), AccumScope+"/") {
			accumulators++
			if !v.MustValue().Equal(tensors.FromShape(v.Shape())) {
				t.Fatalf("accumulator %s not reset by apply", v.ScopeAndName())
			}
		}
	}
	if accumulators != len(initial) {
		t.Errorf("%d accumulators for %d trainable variables", accumulators, len(initial))
	}
	if got := accVars.GetVariableByScopeAndName(optim.AdamWScope, "step").MustValue().Value().(int64); got != 2 {
		t.Errorf("AdamW step %d after 2 accumulated steps, want 2", got)
	}
}
