package train

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	gctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"

	"github.com/witdata/wit/model"
	"github.com/witdata/wit/train/optim"
)

// AccumScope holds the gradient accumulators (one per trainable variable) when Accum > 1.
const AccumScope = "/accum"

// stepper runs one optimizer step as either one graph (Accum == 1: model.TrainStep) or Accum
// micro-batch graphs that add gradients into accumulators plus an apply graph.
type stepper struct {
	accum     int
	microExec *gctx.Exec
	applyExec *gctx.Exec
}

func newStepper(be backends.Backend, vars *gctx.Context, m *model.CLIP, opt *optim.AdamW, accum int) (*stepper, error) {
	s := &stepper{accum: accum}
	var err error
	if accum == 1 {
		s.microExec, err = gctx.NewExec(be, vars, m.TrainStep(opt))
		if err != nil {
			return nil, fmt.Errorf("train step graph: %w", err)
		}
		return s, nil
	}
	scale := 1 / float64(accum)
	s.microExec, err = gctx.NewExec(be, vars, func(ctx *gctx.Context, images, tokens *Node) []*Node {
		g := images.Graph()
		ctx.SetTraining(g, true)
		loss, logitScale := m.Forward(ctx, images, tokens)
		grads := ctx.BuildTrainableVariablesGradientsGraph(loss)
		var trainable []*gctx.Variable // the order BuildTrainableVariablesGradientsGraph uses
		for v := range ctx.IterVariables() {
			if v.Trainable && v.InUseByGraph(g) {
				trainable = append(trainable, v)
			}
		}
		for i, v := range trainable {
			acc := accumulator(ctx, v)
			acc.SetValueGraph(Add(acc.ValueGraph(g), MulScalar(grads[i], scale)))
		}
		return []*Node{loss, logitScale}
	})
	if err != nil {
		return nil, fmt.Errorf("micro-batch graph: %w", err)
	}
	s.applyExec, err = gctx.NewExec(be, vars, func(ctx *gctx.Context, g *Graph) *Node {
		var trainable []*gctx.Variable
		for v := range ctx.IterVariables() {
			if v.Trainable {
				trainable = append(trainable, v)
			}
		}
		grads := make([]*Node, len(trainable))
		for i, v := range trainable {
			v.ValueGraph(g) // marks it in use, as AdamW expects
			acc := accumulator(ctx, v)
			grads[i] = acc.ValueGraph(g)
			acc.SetValueGraph(ZerosLike(grads[i]))
		}
		opt.UpdateGraphWithGradients(ctx, grads, dtypes.Float32)
		model.ClampLogitScale(ctx, g)
		return ScalarZero(g, dtypes.Float32)
	})
	if err != nil {
		return nil, fmt.Errorf("apply graph: %w", err)
	}
	return s, nil
}

func accumulator(ctx *gctx.Context, v *gctx.Variable) *gctx.Variable {
	scope := AccumScope
	if v.Scope() != gctx.RootScope {
		scope += v.Scope()
	}
	return ctx.InAbsPath(scope).Checked(false).WithInitializer(initializers.Zero).
		VariableWithShape(v.Name(), v.Shape()).SetTrainable(false)
}

// micro runs one micro-batch (the whole step when accum == 1) and returns its loss and logit scale (ln).
func (s *stepper) micro(images, tokens *tensors.Tensor) (loss, scale float64, err error) {
	out, err := s.microExec.Exec(images, tokens)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		for _, t := range out {
			t.FinalizeAll()
		}
	}()
	l, ok1 := out[0].Value().(float32)
	sc, ok2 := out[1].Value().(float32)
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("step outputs %s, %s: want float32 scalars", out[0].Shape(), out[1].Shape())
	}
	return float64(l), float64(sc), nil
}

// apply applies the accumulated gradients (no-op when accum == 1: TrainStep already did).
func (s *stepper) apply() error {
	if s.applyExec == nil {
		return nil
	}
	out, err := s.applyExec.Exec()
	if err != nil {
		return err
	}
	for _, t := range out {
		t.FinalizeAll()
	}
	return nil
}
