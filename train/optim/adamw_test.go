package optim

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/witdata/wit/internal/gomlxfix"
)

// testBackend is the pure-Go backend (importing gomlxfix also registers its VJP fixes).
var testBackend = gomlxfix.MustBackend()

func TestOpenCLIPDecay(t *testing.T) {
	f32 := func(dims ...int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }
	for _, c := range []struct {
		name  string
		shape shapes.Shape
		want  bool
	}{
		{"/clip/visual/blocks/0/mlp/c_fc/weights", f32(64, 256), true},
		{"/clip/visual/blocks/0/mlp/c_fc/bias", f32(256), false},
		{"/clip/visual/blocks/0/ln_1/gain", f32(64), false},
		{"/clip/visual/ln_post/bias", f32(64), false},
		{"/clip/visual/class_embedding", f32(64), false},
		{"/clip/text/token_embedding", f32(1000, 64), true},
		{"/clip/text/positional_embedding", f32(77, 64), true},
		{"/clip/logit_scale", f32(), false},
		{"/clip/visual/conv1/weights", f32(3, 4, 4, 64), true},
	} {
		if got := OpenCLIPDecay(c.name, c.shape); got != c.want {
			t.Errorf("%s %s: decay=%v want %v", c.name, c.shape, got, c.want)
		}
	}
}

// TestAdamWHandComputed checks two AdamW steps against the formulas evaluated by hand in float64:
// loss = Σ w⊙A + Σ bias⊙B + logit_scale·c, so the gradients are A, B and c at every step.
func TestAdamWHandComputed(t *testing.T) {
	cfg := DefaultAdamW()
	cfg.LearningRate = 0.1
	opt, err := NewAdamW(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	w0 := [][]float32{{1, -2, 0.5}, {0.25, 3, -1}}
	a := [][]float32{{0.5, -1, 2}, {0.001, 0, -3}}
	b0 := []float32{0.3, -0.7, 1}
	bb := []float32{1, -0.5, 0.25}
	const ls0, c = float32(2.6592600), float32(-0.75)
	exec, err := context.NewExec(testBackend, ctx, func(ctx *context.Context, g *Graph) *Node {
		w := ctx.In("layer").VariableWithValue("weights", w0).ValueGraph(g)
		bias := ctx.In("layer").VariableWithValue("bias", b0).ValueGraph(g)
		ls := ctx.VariableWithValue("logit_scale", ls0).ValueGraph(g)
		loss := Add(Add(ReduceAllSum(Mul(w, Const(g, a))), ReduceAllSum(Mul(bias, Const(g, bb)))), MulScalar(ls, float64(c)))
		opt.UpdateGraph(ctx, g, loss)
		return loss
	})
	if err != nil {
		t.Fatal(err)
	}
	// Hand computation, per element: p, gradient gr, moments m, v.
	type elem struct{ p, gr, m, v float64 }
	var ws, bs []elem
	for i := range w0 {
		for j := range w0[i] {
			ws = append(ws, elem{p: float64(w0[i][j]), gr: float64(a[i][j])})
		}
	}
	for i := range b0 {
		bs = append(bs, elem{p: float64(b0[i]), gr: float64(bb[i])})
	}
	lsE := elem{p: float64(ls0), gr: float64(c)}
	step := func(e *elem, decay bool, t float64) {
		lr := cfg.LearningRate
		e.m = cfg.Beta1*e.m + (1-cfg.Beta1)*e.gr
		e.v = cfg.Beta2*e.v + (1-cfg.Beta2)*e.gr*e.gr
		if decay {
			e.p *= 1 - lr*cfg.WeightDecay
		}
		e.p -= lr * (e.m / (1 - math.Pow(cfg.Beta1, t))) / (math.Sqrt(e.v/(1-math.Pow(cfg.Beta2, t))) + cfg.Epsilon)
	}
	for it := 1; it <= 2; it++ {
		if _, err := exec.Exec(); err != nil {
			t.Fatal(err)
		}
		for i := range ws {
			step(&ws[i], true, float64(it))
		}
		for i := range bs {
			step(&bs[i], false, float64(it))
		}
		step(&lsE, false, float64(it))
		gotW := tensors.MustCopyFlatData[float32](ctx.GetVariableByScopeAndName("/layer", "weights").MustValue())
		gotB := tensors.MustCopyFlatData[float32](ctx.GetVariableByScopeAndName("/layer", "bias").MustValue())
		gotLS := tensors.MustCopyFlatData[float32](ctx.GetVariableByScopeAndName("/", "logit_scale").MustValue())[0]
		for i := range ws {
			if math.Abs(float64(gotW[i])-ws[i].p) > 1e-6 {
				t.Errorf("step %d: weights[%d]=%g, hand %g", it, i, gotW[i], ws[i].p)
			}
		}
		for i := range bs {
			if math.Abs(float64(gotB[i])-bs[i].p) > 1e-6 {
				t.Errorf("step %d: bias[%d]=%g, hand %g (no decay expected)", it, i, gotB[i], bs[i].p)
			}
		}
		if math.Abs(float64(gotLS)-lsE.p) > 1e-6 {
			t.Errorf("step %d: logit_scale=%g, hand %g", it, gotLS, lsE.p)
		}
	}
	// The state lives in context variables (checkpointed with the model).
	m := ctx.GetVariableByScopeAndName(AdamWScope+"/layer", "weights_m")
	v := ctx.GetVariableByScopeAndName(AdamWScope+"/layer", "weights_v")
	st := ctx.GetVariableByScopeAndName(AdamWScope, "step")
	if m == nil || v == nil || st == nil {
		t.Fatal("optimizer state variables missing")
	}
	if got := st.MustValue().Value().(int64); got != 2 {
		t.Errorf("step=%d want 2", got)
	}
	if got := tensors.MustCopyFlatData[float32](m.MustValue())[0]; math.Abs(float64(got)-ws[0].m) > 1e-7 {
		t.Errorf("first moment %g want %g", got, ws[0].m)
	}
}

func TestAdamWFirstStepLiteral(t *testing.T) {
	// One parameter, by hand: p=1, g=0.5, lr=0.1, wd=0.2 → p·(1−0.02) − 0.1·0.5/(0.5+1e-6).
	cfg := DefaultAdamW()
	cfg.LearningRate = 0.1
	opt, _ := NewAdamW(cfg)
	ctx := context.New()
	e := context.MustNewExec(testBackend, ctx, func(ctx *context.Context, g *Graph) *Node {
		p := ctx.VariableWithValue("weights", [][]float32{{1}}).ValueGraph(g)
		loss := ReduceAllSum(MulScalar(p, 0.5))
		opt.UpdateGraph(ctx, g, loss)
		return loss
	})
	e.MustExec()
	got := tensors.MustCopyFlatData[float32](ctx.GetVariableByScopeAndName("/", "weights").MustValue())[0]
	want := 1*(1-0.1*0.2) - 0.1*0.5/(0.5+1e-6)
	if math.Abs(float64(got)-want) > 1e-6 {
		t.Fatalf("p=%g want %g", got, want)
	}
}

func TestNewAdamWRejects(t *testing.T) {
	for _, cfg := range []AdamWConfig{
		{LearningRate: 1, Beta1: 1, Beta2: 0.9, Epsilon: 1e-6},
		{LearningRate: 1, Beta1: 0.9, Beta2: 0.9, Epsilon: 0},
		{LearningRate: 0, Beta1: 0.9, Beta2: 0.9, Epsilon: 1e-6},
		{LearningRate: 1, Beta1: 0.9, Beta2: 0.9, Epsilon: 1e-6, WeightDecay: -1},
		{LR: &CosineWarmup{Peak: 0, Total: 10}, Beta1: 0.9, Beta2: 0.9, Epsilon: 1e-6},
	} {
		if _, err := NewAdamW(cfg); err == nil {
			t.Errorf("accepted %+v", cfg)
		}
	}
}

// TestAdamWSchedule: with a schedule, update t uses LR(t−1) and records it in /adamw/learning_rate.
func TestAdamWSchedule(t *testing.T) {
	sched := &CosineWarmup{Peak: 0.1, Min: 0.01, Warmup: 2, Total: 6}
	cfg := DefaultAdamW()
	cfg.LR = sched
	opt, err := NewAdamW(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	e := context.MustNewExec(testBackend, ctx, func(ctx *context.Context, g *Graph) *Node {
		p := ctx.VariableWithValue("bias", []float32{1}).ValueGraph(g) // no decay: p moves by ≈lr each step
		loss := ReduceAllSum(p)
		opt.UpdateGraph(ctx, g, loss)
		return loss
	})
	prev := 1.0
	for step := range int64(8) {
		e.MustExec()
		lr := tensors.MustCopyFlatData[float32](ctx.GetVariableByScopeAndName(AdamWScope, "learning_rate").MustValue())[0]
		if math.Abs(float64(lr)-sched.LR(step)) > 1e-7 {
			t.Errorf("step %d: learning_rate %g, schedule %g", step, lr, sched.LR(step))
		}
		p := float64(tensors.MustCopyFlatData[float32](ctx.GetVariableByScopeAndName("/", "bias").MustValue())[0])
		// A constant gradient makes m̂/(√v̂+ε) ≈ 1, so the parameter moves by the rate itself.
		if math.Abs((prev-p)-sched.LR(step)) > 1e-5 {
			t.Errorf("step %d: moved %g, want ≈%g", step, prev-p, sched.LR(step))
		}
		prev = p
	}
}
