package optim

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// AdamWConfig configures AdamW. Zero values are not defaults: start from DefaultAdamW.
type AdamWConfig struct {
	// LR gives the learning rate for a 0-based step; nil means the constant LearningRate.
	LR           *CosineWarmup
	LearningRate float64
	Beta1, Beta2 float64
	Epsilon      float64
	WeightDecay  float64
	// Decay says whether a variable (scope-and-name, shape) gets weight decay; nil means OpenCLIPDecay.
	Decay func(scopeAndName string, shape shapes.Shape) bool
}

// DefaultAdamW returns CLIP's AdamW settings (OpenCLIP defaults for ViT): β=(0.9, 0.98), ε=1e-6,
// weight decay 0.2, learning rate 5e-4.
func DefaultAdamW() AdamWConfig {
	return AdamWConfig{LearningRate: 5e-4, Beta1: 0.9, Beta2: 0.98, Epsilon: 1e-6, WeightDecay: 0.2}
}

// OpenCLIPDecay is OpenCLIP's rule (main.py): no decay for parameters with fewer than 2 dimensions or
// whose name contains "bn", "ln", "bias" or "logit_scale" — gains, biases, the class embedding and
// the logit scale. Embedding tables and weight matrices are decayed.
func OpenCLIPDecay(scopeAndName string, shape shapes.Shape) bool {
	if shape.Rank() < 2 {
		return false
	}
	for _, s := range []string{"bn", "ln", "bias", "logit_scale"} {
		if strings.Contains(scopeAndName, s) {
			return false
		}
	}
	return true
}

// AdamWScope is the absolute scope of the optimizer state: per trainable variable "<scope>/<name>"
// it holds "<AdamWScope><scope>/<name>_m" and "_v" (first and second moments), plus "step" (the
// number of updates applied) and "learning_rate" (the rate used by the last update) at its root.
// GoMLX's "/global_step" is incremented too. All are context variables, so a checkpoint of the
// context captures the optimizer exactly.
const AdamWScope = "/adamw"

// AdamW implements optimizers.Interface with decoupled weight decay (Loshchilov & Hutter, as in
// PyTorch's torch.optim.AdamW):
//
//	m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//	p ← p·(1 − lr·wd·[decay p]) − lr · (m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε)
type AdamW struct{ cfg AdamWConfig }

// NewAdamW validates cfg and returns the optimizer.
func NewAdamW(cfg AdamWConfig) (*AdamW, error) {
	switch {
	case cfg.Beta1 < 0 || cfg.Beta1 >= 1 || cfg.Beta2 < 0 || cfg.Beta2 >= 1:
		return nil, fmt.Errorf("adamw: betas (%g, %g) must be in [0,1)", cfg.Beta1, cfg.Beta2)
	case cfg.Epsilon <= 0:
		return nil, fmt.Errorf("adamw: epsilon %g must be > 0", cfg.Epsilon)
	case cfg.WeightDecay < 0:
		return nil, fmt.Errorf("adamw: weight decay %g must be ≥ 0", cfg.WeightDecay)
	case cfg.LR == nil && cfg.LearningRate <= 0:
		return nil, fmt.Errorf("adamw: learning rate %g must be > 0", cfg.LearningRate)
	case cfg.LR != nil && (cfg.LR.Peak <= 0 || cfg.LR.Warmup < 0 || cfg.LR.Total <= 0):
		return nil, fmt.Errorf("adamw: bad schedule %+v", *cfg.LR)
	}
	if cfg.Decay == nil {
		cfg.Decay = OpenCLIPDecay
	}
	return &AdamW{cfg: cfg}, nil
}

var _ optimizers.Interface = (*AdamW)(nil)

// UpdateGraph differentiates loss w.r.t. all trainable variables used by the graph and applies one step.
func (o *AdamW) UpdateGraph(ctx *context.Context, g *Graph, loss *Node) {
	if !loss.Shape().IsScalar() {
		panic(fmt.Sprintf("adamw: loss must be a scalar, got %s", loss.Shape()))
	}
	o.UpdateGraphWithGradients(ctx, ctx.BuildTrainableVariablesGradientsGraph(loss), loss.DType())
}

// UpdateGraphWithGradients applies one step from gradients given in the order of
// ctx.BuildTrainableVariablesGradientsGraph (trainable variables in use by the graph, in
// ctx.IterVariables order): the entry point for gradient accumulation (train's apply graph).
func (o *AdamW) UpdateGraphWithGradients(ctx *context.Context, grads []*Node, dtype dtypes.DType) {
	if len(grads) == 0 {
		panic("adamw: no gradients (no trainable variables in use?)")
	}
	g := grads[0].Graph()
	globalStep := optimizers.GetGlobalStepVar(ctx)
	globalStep.SetValueGraph(AddScalar(globalStep.ValueGraph(g), 1))
	state := ctx.Checked(false).InAbsPath(AdamWScope)
	stepVar := state.VariableWithValue("step", int64(0)).SetTrainable(false)
	step0 := stepVar.ValueGraph(g) // updates applied so far: 0-based index of this one.
	step1 := AddScalar(step0, 1)
	stepVar.SetValueGraph(step1)
	t := ConvertDType(step1, dtype)

	var lr *Node
	if o.cfg.LR != nil {
		lr = o.cfg.LR.Graph(ConvertDType(step0, dtype))
	} else {
		lr = Scalar(g, dtype, o.cfg.LearningRate)
	}
	state.VariableWithValue("learning_rate", shapes.CastAsDType(0.0, dtype)).SetTrainable(false).SetValueGraph(lr)

	one := ScalarOne(g, dtype)
	b1, b2 := Scalar(g, dtype, o.cfg.Beta1), Scalar(g, dtype, o.cfg.Beta2)
	bc1 := Sub(one, Pow(b1, t)) // bias corrections 1−βᵗ
	bc2 := Sub(one, Pow(b2, t))
	eps := Scalar(g, dtype, o.cfg.Epsilon)
	// Every scalar factor is computed once here, not per variable: a step executes its ops one
	// after another, and each tiny op costs the executor about as much as a small tensor op.
	c1, c2 := Sub(one, b1), Sub(one, b2)
	stepSize := Div(lr, bc1) // lr·m̂ = lr·m/bc1
	invBC2 := Div(one, bc2)  // v̂ = v/bc2
	var decay *Node          // 1 − lr·wd
	if o.cfg.WeightDecay > 0 {
		decay = Sub(one, MulScalar(lr, o.cfg.WeightDecay))
	}

	// Collect first: the loop creates moment variables.
	var trainable []*context.Variable
	for v := range ctx.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) {
			trainable = append(trainable, v)
		}
	}
	if len(trainable) != len(grads) {
		panic(fmt.Sprintf("adamw: %d gradients for %d trainable variables in use", len(grads), len(trainable)))
	}
	for i, v := range trainable {
		grad := grads[i]
		if grad.DType() != dtype {
			grad = ConvertDType(grad, dtype)
		}
		momScope := AdamWScope
		if v.Scope() != context.RootScope {
			momScope += v.Scope()
		}
		mom := state.InAbsPath(momScope).WithInitializer(initializers.Zero)
		shape := v.Shape().Clone()
		shape.DType = dtype
		mVar := mom.VariableWithShape(v.Name()+"_m", shape).SetTrainable(false)
		vVar := mom.VariableWithShape(v.Name()+"_v", shape).SetTrainable(false)
		m := Add(Mul(b1, mVar.ValueGraph(g)), Mul(c1, grad))
		s := Add(Mul(b2, vVar.ValueGraph(g)), Mul(c2, Square(grad)))
		mVar.SetValueGraph(m)
		vVar.SetValueGraph(s)

		p := v.ValueGraph(g)
		if p.DType() != dtype {
			p = ConvertDType(p, dtype)
		}
		if decay != nil && o.cfg.Decay(v.ScopeAndName(), v.Shape()) {
			p = Mul(p, decay)
		}
		update := Div(Mul(stepSize, m), Add(Sqrt(Mul(s, invBC2)), eps))
		p = Sub(p, update)
		if p.DType() != v.DType() {
			p = ConvertDType(p, v.DType())
		}
		v.SetValueGraph(p)
	}
}

// Clear deletes the optimizer state (moments, step, learning rate).
func (o *AdamW) Clear(ctx *context.Context) error {
	return ctx.InAbsPath(AdamWScope).DeleteVariablesInScope()
}
