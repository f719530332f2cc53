package model

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	_ "github.com/witdata/wit/internal/gomlxfix" // VJP fixes must be registered before any gradient is built.
)

// Scopes and names of the model's variables, relative to the context given to the graph functions.
const (
	VisualScope   = "visual"
	TextScope     = "text"
	LogitScaleVar = "logit_scale"
)

// InitialLogitScale is ln(1/0.07), CLIP's initial temperature; MaxLogitScale is ln(100), its clamp.
var (
	InitialLogitScale = math.Log(1 / 0.07)
	MaxLogitScale     = math.Log(100)
)

// CLIP builds CLIP's graphs for one architecture. It holds no variables: those live in the
// context.Context passed to each graph function, so one context (and its checkpoint) holds the
// weights, the optimizer state and the RNG state.
type CLIP struct {
	cfg Config
}

// New validates cfg (after WithDefaults) and returns the model.
func New(cfg Config) (*CLIP, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("clip config %q: %w", cfg.Name, err)
	}
	return &CLIP{cfg: cfg}, nil
}

// Config returns the validated configuration.
func (m *CLIP) Config() Config { return m.cfg }

// BuildImageEmbeddings maps images [B, R, R, 3] (float32, CLIP-normalised) to L2-normalised
// embeddings [B, EmbedDim].
func (m *CLIP) BuildImageEmbeddings(ctx *context.Context, images *Node) *Node {
	x := visionTransformer(ctx.Checked(false).In(VisualScope), m.cfg, images)
	return L2NormalizeWithEpsilon(x, 1e-12, -1)
}

// BuildTextEmbeddings maps tokens [B, ContextLength] (integer ids, end token = largest id) to
// L2-normalised embeddings [B, EmbedDim].
func (m *CLIP) BuildTextEmbeddings(ctx *context.Context, tokens *Node) *Node {
	x := textTransformer(ctx.Checked(false).In(TextScope), m.cfg, tokens)
	return L2NormalizeWithEpsilon(x, 1e-12, -1)
}

// LogitScale returns the learnable log-temperature clamped to ≤ ln(100) for the forward pass (the
// gradient passes while it is below the clamp).
func (m *CLIP) LogitScale(ctx *context.Context, g *Graph) *Node {
	v := logitScaleVar(ctx)
	return MinScalar(v.ValueGraph(g), MaxLogitScale)
}

func logitScaleVar(ctx *context.Context) *context.Variable {
	init := func(g *Graph, shape shapes.Shape) *Node { return Scalar(g, shape.DType, InitialLogitScale) }
	return ctx.Checked(false).WithInitializer(init).VariableWithShape(LogitScaleVar, shapes.Make(dtypeModel))
}

// Logits returns the image→text similarity logits [B, B]: exp(logit_scale)·img·txtᵀ for normalised
// embeddings.
func Logits(imageEmb, textEmb, logitScale *Node) *Node {
	sim := DotGeneral(imageEmb, []int{1}, nil, textEmb, []int{1}, nil) // [B_img, B_txt]
	return Mul(sim, Exp(logitScale))
}

// ContrastiveLoss is CLIP's symmetric cross-entropy over a [B, B] logits matrix whose diagonal holds
// the matching pairs: the mean of the image→text (rows) and text→image (columns) losses.
func ContrastiveLoss(logits *Node) *Node {
	n := logits.Shape().Dimensions[0]
	if logits.Rank() != 2 || logits.Shape().Dimensions[1] != n {
		panic(fmt.Sprintf("contrastive loss: logits must be square, got %s", logits.Shape()))
	}
	g := logits.Graph()
	idx := shapes.Make(dtypes.Int32, n, n)
	diag := ConvertDType(Equal(Iota(g, idx, 0), Iota(g, idx, 1)), logits.DType())
	rows := ReduceAllSum(Mul(LogSoftmax(logits, 1), diag))
	cols := ReduceAllSum(Mul(LogSoftmax(logits, 0), diag))
	return MulScalar(Add(rows, cols), -0.5/float64(n))
}

// Forward returns the loss and the (clamped) logit scale for a batch of matching image–caption pairs.
func (m *CLIP) Forward(ctx *context.Context, images, tokens *Node) (loss, logitScale *Node) {
	if images.Shape().Dimensions[0] != tokens.Shape().Dimensions[0] {
		panic(fmt.Sprintf("clip: %d images but %d captions", images.Shape().Dimensions[0], tokens.Shape().Dimensions[0]))
	}
	img := m.BuildImageEmbeddings(ctx, images)
	txt := m.BuildTextEmbeddings(ctx, tokens)
	logitScale = m.LogitScale(ctx, images.Graph())
	return ContrastiveLoss(Logits(img, txt, logitScale)), logitScale
}

// Loss is Forward's loss: a graph function for context.NewExec(backend, ctx, m.Loss).
func (m *CLIP) Loss(ctx *context.Context, images, tokens *Node) *Node {
	loss, _ := m.Forward(ctx, images, tokens)
	return loss
}

// ClampLogitScale sets the logit_scale variable to clip(value, 0, ln 100) in the graph: OpenCLIP
// clamps the parameter after every optimizer step. Call it after the optimizer update.
func ClampLogitScale(ctx *context.Context, g *Graph) {
	v := logitScaleVar(ctx)
	v.SetValueGraph(ClipScalar(v.ValueGraph(g), 0, MaxLogitScale))
}

// TrainStep returns a graph function for context.NewExec that takes one optimisation step on a batch
// (images [B,R,R,3] float32, tokens [B,L] int32) and returns {loss, logit scale (ln, before the
// update)}. It differentiates the loss, applies opt (e.g. train/optim.NewAdamW) and clamps the logit
// scale. Variables are created on first use and initialised by context.Exec from the context's RNG
// (seed it with ctx.SetRNGStateFromSeed for reproducible runs).
func (m *CLIP) TrainStep(opt optimizers.Interface) func(ctx *context.Context, images, tokens *Node) []*Node {
	return func(ctx *context.Context, images, tokens *Node) []*Node {
		ctx.SetTraining(images.Graph(), true)
		loss, scale := m.Forward(ctx, images, tokens)
		opt.UpdateGraph(ctx, images.Graph(), loss)
		ClampLogitScale(ctx, images.Graph())
		return []*Node{loss, scale}
	}
}

// shapesOf is a float32 shape of the given dimensions.
func shapesOf(dims ...int) shapes.Shape { return shapes.Make(dtypeModel, dims...) }
