package model

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the dot import.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// layerNormEpsilon is PyTorch's nn.LayerNorm default, used by CLIP.
const layerNormEpsilon = 1e-5

// param creates (or reuses) a float32 variable of the given dims under ctx, initialised by init.
func param(ctx *context.Context, name string, init initializers.VariableInitializer, dims ...int) *context.Variable {
	return ctx.WithInitializer(init).VariableWithShape(name, shapes.Make(dtypeModel, dims...))
}

// normal returns an N(0, std²) initializer drawing from the context's RNG (seeded by the caller).
func normal(ctx *context.Context, std float64) initializers.VariableInitializer {
	return initializers.RandomNormalFn(ctx, std)
}

// dense is x·W + b over x's last axis; W is [in, out] ("weights"), b is [out] ("bias", zeros).
func dense(ctx *context.Context, x *Node, out int, std float64) *Node {
	in := x.Shape().Dimensions[x.Rank()-1]
	w := param(ctx, "weights", normal(ctx, std), in, out).ValueGraph(x.Graph())
	b := param(ctx, "bias", initializers.Zero, out).ValueGraph(x.Graph())
	y := DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{0}, nil)
	return Add(y, leading(b, y.Rank()))
}

// layerNorm normalises over the last axis with a learned gain (ones) and bias (zeros).
func layerNorm(ctx *context.Context, x *Node) *Node {
	w := x.Shape().Dimensions[x.Rank()-1]
	gain := param(ctx, "gain", initializers.One, w).ValueGraph(x.Graph())
	bias := param(ctx, "bias", initializers.Zero, w).ValueGraph(x.Graph())
	mean := ReduceAndKeep(x, ReduceMean, -1)
	centred := Sub(x, mean)
	variance := ReduceAndKeep(Square(centred), ReduceMean, -1)
	normed := Div(centred, Sqrt(AddScalar(variance, layerNormEpsilon)))
	return Add(Mul(normed, leading(gain, x.Rank())), leading(bias, x.Rank()))
}

// leading reshapes v to the given rank by prepending unit axes, so it broadcasts against a
// higher-rank activation (GoMLX only broadcasts equal ranks, or scalars).
func leading(v *Node, rank int) *Node {
	if v.Rank() >= rank {
		return v
	}
	return InsertAxes(v, make([]int, rank-v.Rank())...)
}

// activation applies the MLP non-linearity.
func activation(x *Node, name string) *Node {
	if name == GELU {
		// 0.5·x·(1 + erf(x/√2))
		return Mul(MulScalar(x, 0.5), OnePlus(Erf(MulScalar(x, 1/math.Sqrt2))))
	}
	return Mul(x, Sigmoid(MulScalar(x, 1.702))) // QuickGELU
}

// initStd are the standard deviations of OpenAI's CLIP.initialize_parameters for a transformer of
// the given width and depth: attention in-projections width^-½, output projections
// width^-½·(2·layers)^-½, MLP c_fc (2·width)^-½.
type initStd struct{ attn, proj, fc float64 }

func transformerInit(width, layers int) initStd {
	w := float64(width)
	return initStd{
		attn: math.Pow(w, -0.5),
		proj: math.Pow(w, -0.5) * math.Pow(2*float64(layers), -0.5),
		fc:   math.Pow(2*w, -0.5),
	}
}

// attention is multi-head self-attention on x [B,T,W]; mask, if not nil, is added to the [T,T]
// attention logits (0 where allowed, a large negative number where not).
func attention(ctx *context.Context, x *Node, heads int, mask *Node, std initStd) *Node {
	dims := x.Shape().Dimensions
	b, t, w := dims[0], dims[1], dims[2]
	dh := w / heads
	// Separate q, k, v projections: the same parameters as PyTorch's packed in_proj [3W, W], without
	// slicing the packed result (Slice stays off differentiable paths).
	split := func(name string) *Node {
		return Reshape(dense(ctx.In(name), x, w, std.attn), b, t, heads, dh)
	}
	q, k, v := split("q_proj"), split("k_proj"), split("v_proj")
	q = MulScalar(q, 1/math.Sqrt(float64(dh)))
	logits := Einsum("bqhd,bkhd->bhqk", q, k) // [B,H,T,T]
	if mask != nil {
		logits = Add(logits, leading(mask, 4))
	}
	probs := Softmax(logits, -1)
	out := Einsum("bhqk,bkhd->bqhd", probs, v) // [B,T,H,Dh]
	out = Reshape(out, b, t, w)
	return dense(ctx.In("out_proj"), out, w, std.proj)
}

// residualBlock is OpenAI's ResidualAttentionBlock: pre-LN attention and a pre-LN MLP (4× width),
// each added back to the residual stream.
func residualBlock(ctx *context.Context, x *Node, heads int, mask *Node, act string, std initStd) *Node {
	w := x.Shape().Dimensions[2]
	x = Add(x, attention(ctx.In("attn"), layerNorm(ctx.In("ln_1"), x), heads, mask, std))
	h := layerNorm(ctx.In("ln_2"), x)
	h = activation(dense(ctx.In("mlp").In("c_fc"), h, 4*w, std.fc), act)
	h = dense(ctx.In("mlp").In("c_proj"), h, w, std.proj)
	return Add(x, h)
}

// transformer stacks residual blocks: scopes "resblocks/0", "resblocks/1", ….
func transformer(ctx *context.Context, x *Node, layers, heads int, mask *Node, act string) *Node {
	std := transformerInit(x.Shape().Dimensions[2], layers)
	for i := range layers {
		x = residualBlock(ctx.In("resblocks").Inf("%d", i), x, heads, mask, act, std)
	}
	return x
}

// selectToken returns x[b, index[b], :] for x [B,T,W] and a one-hot selector [B,T] (or [T] shared by
// the batch), as a contraction: differentiable without Slice (whose VJP needs Pad, missing in the
// pure-Go backend) and cheap (B·T·W).
func selectToken(x, oneHot *Node) *Node {
	if oneHot.Rank() == 1 {
		return DotGeneral(x, []int{1}, nil, oneHot, []int{0}, nil) // [B,W]
	}
	return DotGeneral(oneHot, []int{1}, []int{0}, x, []int{1}, []int{0}) // [B,W]
}
