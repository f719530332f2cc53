package model

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// maskedLogit is added to attention logits a token may not see; exp() of it underflows to 0 in float32.
const maskedLogit = -1e9

// textTransformer is CLIP's text encoder: token and position embeddings, causally masked pre-LN
// residual blocks, ln_final, and the features at the end-of-text token projected to EmbedDim.
//
// tokens is [B, ContextLength] of integer ids < VocabSize, as the tokenizer writes them: start token,
// caption, end token, then padding (0). The end token must have the largest id in the vocabulary, so
// that its position is the row's argmax, exactly as OpenAI's model.py finds it (text.argmax(-1)).
// Returns the (unnormalised) text features [B, EmbedDim].
//
// Variables under ctx: token_embedding [V, W], positional_embedding [L, W],
// transformer/resblocks/<i>/…, ln_final/{gain,bias}, text_projection [W, EmbedDim].
func textTransformer(ctx *context.Context, cfg Config, tokens *Node) *Node {
	dims := tokens.Shape().Dimensions
	if tokens.Rank() != 2 || dims[1] != cfg.ContextLength || !tokens.DType().IsInt() {
		panic(fmt.Sprintf("text: tokens must be integer [B,%d], got %s", cfg.ContextLength, tokens.Shape()))
	}
	g := tokens.Graph()
	l, w := cfg.ContextLength, cfg.TransformerWidth
	if tokens.DType() != dtypes.Int32 {
		tokens = ConvertDType(tokens, dtypes.Int32)
	}

	emb := param(ctx, "token_embedding", normal(ctx, 0.02), cfg.VocabSize, w).ValueGraph(g)
	x := Gather(emb, InsertAxes(tokens, -1)) // [B, L, W]; its VJP is a ScatterSum.
	pos := param(ctx, "positional_embedding", normal(ctx, 0.01), l, w).ValueGraph(g)
	x = Add(x, leading(pos, 3))

	x = transformer(ctx.In("transformer"), x, cfg.TransformerLayers, cfg.TransformerHeads, causalMask(g, l), cfg.Activation)
	x = layerNorm(ctx.In("ln_final"), x)

	// Features at the EOT token: one-hot of the argmax id's position, contracted with x (no Slice).
	eot := OneHot(ArgMax(tokens, -1, dtypes.Int32), l, dtypeModel) // [B, L]
	x = selectToken(x, eot)
	proj := param(ctx, "text_projection", normal(ctx, math.Pow(float64(w), -0.5)), w, cfg.EmbedDim).ValueGraph(g)
	return MatMul(x, proj) // [B, EmbedDim]
}

// causalMask is [L, L]: 0 where key ≤ query, maskedLogit above the diagonal.
func causalMask(g *Graph, l int) *Node {
	allowed := LowerTriangular(g, l) // bool, true on and below the diagonal
	zeros := Zeros(g, shapesOf(l, l))
	return Where(allowed, zeros, AddScalar(zeros, maskedLogit))
}
