package model

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// dtypeModel is the dtype of every variable and activation.
const dtypeModel = dtypes.Float32

// visionTransformer is OpenAI's VisionTransformer: patchify, class token, learned positions, ln_pre,
// pre-LN residual blocks, ln_post on the class token, projection to EmbedDim.
//
// images is [B, R, R, 3] float32, channels last, already normalised with CLIP's mean/std. Returns the
// (unnormalised) image features [B, EmbedDim].
//
// With VisionStem "conv" the patch embedding is convStem's (variables under stem/).
//
// Variables under ctx: conv1/weights [3·P², W] (a patch-sized, patch-strided, bias-free convolution,
// written as reshape+matmul; patch vectors are ordered (row, column, channel)), class_embedding [W],
// positional_embedding [N+1, W], ln_pre/{gain,bias}, transformer/resblocks/<i>/…, ln_post/{gain,bias},
// proj [W, EmbedDim].
func visionTransformer(ctx *context.Context, cfg Config, images *Node) *Node {
	dims := images.Shape().Dimensions
	r, p, w := cfg.ImageResolution, cfg.VisionPatchSize, cfg.VisionWidth
	if images.Rank() != 4 || dims[1] != r || dims[2] != r || dims[3] != 3 {
		panic(fmt.Sprintf("vision: images must be [B,%d,%d,3], got %s", r, r, images.Shape()))
	}
	if images.DType() != dtypeModel {
		images = ConvertDType(images, dtypeModel)
	}
	b, grid := dims[0], r/p
	n := grid * grid
	g := images.Graph()

	var x *Node
	if cfg.VisionStem == StemConv {
		x = convStem(ctx.In("stem"), cfg, images) // [B, N, W]
	} else {
		// Patchify: [B, g, P, g, P, 3] → [B, g, g, P, P, 3] → [B, N, 3P²], then the patch embedding.
		x = Reshape(images, b, grid, p, grid, p, 3)
		x = TransposeAllAxes(x, 0, 1, 3, 2, 4, 5)
		x = Reshape(x, b, n, p*p*3)
		fanIn := float64(3 * p * p)
		bound := 1 / math.Sqrt(fanIn) // PyTorch's Conv2d default initialisation.
		conv := param(ctx.In("conv1"), "weights", initializers.RandomUniformFn(ctx, -bound, bound), 3*p*p, w).ValueGraph(g)
		x = DotGeneral(x, []int{2}, nil, conv, []int{0}, nil) // [B, N, W]
	}

	// Class token first, then learned positions. Scale w^-½ as in OpenAI's VisionTransformer.
	scale := math.Pow(float64(w), -0.5)
	cls := param(ctx, "class_embedding", normal(ctx, scale), w).ValueGraph(g)
	cls = BroadcastToDims(Reshape(cls, 1, 1, w), b, 1, w)
	x = Concatenate([]*Node{cls, x}, 1) // [B, N+1, W]
	pos := param(ctx, "positional_embedding", normal(ctx, scale), n+1, w).ValueGraph(g)
	x = Add(x, leading(pos, 3))

	x = layerNorm(ctx.In("ln_pre"), x)
	x = transformer(ctx.In("transformer"), x, cfg.VisionLayers, cfg.VisionHeads, nil, cfg.Activation)

	// ln_post on the class token (position 0), selected by a one-hot contraction (no Slice).
	first := OneHot(Const(g, int32(0)), n+1, dtypeModel) // [N+1]
	x = layerNorm(ctx.In("ln_post"), selectToken(x, first))
	proj := param(ctx, "proj", normal(ctx, scale), w, cfg.EmbedDim).ValueGraph(g)
	return MatMul(x, proj) // [B, EmbedDim]
}
