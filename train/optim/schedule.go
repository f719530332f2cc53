package optim

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
)

// CosineWarmup is OpenCLIP's learning-rate schedule (training/scheduler.py cosine_lr): linear warmup
// from Peak/Warmup to Peak over Warmup steps, then a half cosine from Peak down to Min at Total steps.
// Steps are 0-based: the step about to be taken.
type CosineWarmup struct {
	Peak, Min     float64
	Warmup, Total int64
}

// LR returns the learning rate for 0-based step (host-side; the trainer logs it).
func (s CosineWarmup) LR(step int64) float64 {
	if step < s.Warmup {
		return s.Peak * float64(step+1) / float64(s.Warmup)
	}
	span := max(s.Total-s.Warmup, 1)
	e := min(step-s.Warmup, span)
	return s.Min + 0.5*(1+math.Cos(math.Pi*float64(e)/float64(span)))*(s.Peak-s.Min)
}

// Graph is LR in the graph: step is a 0-based scalar of any float dtype.
func (s CosineWarmup) Graph(step *Node) *Node {
	warm := MulScalar(AddScalar(step, 1), s.Peak/float64(max(s.Warmup, 1)))
	span := float64(max(s.Total-s.Warmup, 1))
	e := ClipScalar(AddScalar(step, -float64(s.Warmup)), 0, span)
	cos := AddScalar(MulScalar(AddScalar(Cos(MulScalar(e, math.Pi/span)), 1), 0.5*(s.Peak-s.Min)), s.Min)
	return Where(LessThan(step, ConstAsDType(step.Graph(), step.DType(), float64(s.Warmup))), warm, cos)
}
