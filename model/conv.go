package model

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// Vision stems: how the image becomes the transformer's tokens.
const (
	// StemPatch is OpenAI's: one patch-sized, patch-strided convolution (a linear map of each
	// P×P patch). The default.
	StemPatch = "patch"
	// StemConv is the convolutional stem of Xiao et al., "Early Convolutions Help Transformers
	// See Better" (2021): log2(P) 3×3 stride-2 convolutions (channels W/2^(n-1) … W/2, W, each
	// followed by a layer norm over channels and a ReLU), then a 1×1 convolution to W. The
	// tokens are the same grid as the patch stem's, but each sees overlapping neighbourhoods
	// built up from 3-pixel edges: the locality bias small-data vision models rely on.
	StemConv = "conv"
)

// convStemChannels returns the output channels of the conv stem's 3×3 convolutions for a patch
// size (a power of two ≥ 2) and width.
func convStemChannels(patch, width int) []int {
	n := 0
	for p := patch; p > 1; p >>= 1 {
		n++
	}
	ch := make([]int, n)
	for i := range ch {
		ch[i] = max(width>>(n-1-i), 1)
	}
	return ch
}

// convStem maps images [B,R,R,3] to tokens [B, (R/P)², W] (see StemConv). Variables under ctx:
// conv<i>/weights [9·Cin, Cout] (ordered (dy, dx, channel), bias-free as the norm follows),
// conv<i>/norm/{gain,bias}, proj/{weights,bias} (the 1×1 convolution).
func convStem(ctx *context.Context, cfg Config, images *Node) *Node {
	x := images
	for i, c := range convStemChannels(cfg.VisionPatchSize, cfg.VisionWidth) {
		scope := ctx.Inf("conv%d", i)
		x = conv3x3(scope, x, c, 2)
		x = Max(layerNorm(scope.In("norm"), x), ZerosLike(x)) // ReLU
	}
	dims := x.Shape().Dimensions
	x = Reshape(x, dims[0], dims[1]*dims[2], dims[3])
	return dense(ctx.In("proj"), x, cfg.VisionWidth, 1/math.Sqrt(float64(dims[3])))
}

// conv3x3 is a bias-free 3×3 convolution with padding 1 and the given stride over x [B,H,W,C]
// (channels last), returning [B, ⌈H/s⌉, ⌈W/s⌉, out]. It is written as im2col by matrix products:
// a constant 0/1 matrix [3, Ho, H] picks, for each row offset dy, the input row s·o+dy-1 of every
// output row o (no row where that falls in the padding), the same along the width, and one
// product with the kernel [9C, out]. Every op is a DotGeneral, a transpose or a reshape, so the
// pure-Go backend's fast matrix kernel does the work and the gradient needs nothing it lacks
// (its ConvGeneral is a scalar loop, and Slice's gradient needs Pad, which it does not have).
func conv3x3(ctx *context.Context, x *Node, out, stride int) *Node {
	c := x.Shape().Dimensions[x.Rank()-1]
	bound := 1 / math.Sqrt(float64(9*c)) // PyTorch's Conv2d default.
	kernel := param(ctx, "weights", initializers.RandomUniformFn(ctx, -bound, bound), 9*c, out).ValueGraph(x.Graph())
	return conv3x3With(x, kernel, stride)
}

// conv3x3With is conv3x3 with the kernel [9C, out] given, ordered (dy, dx, channel).
func conv3x3With(x, kernel *Node, stride int) *Node {
	if x.Rank() != 4 {
		panic(fmt.Sprintf("conv3x3: want [B,H,W,C], got %s", x.Shape()))
	}
	dims := x.Shape().Dimensions
	b, h, w, c := dims[0], dims[1], dims[2], dims[3]
	if kd := kernel.Shape().Dimensions; kernel.Rank() != 2 || kd[0] != 9*c {
		panic(fmt.Sprintf("conv3x3: kernel must be [%d, out], got %s", 9*c, kernel.Shape()))
	}
	g := x.Graph()
	ho, wo := (h-1)/stride+1, (w-1)/stride+1
	rows := ConstTensor(g, shiftMatrix(ho, h, stride))                 // [3, Ho, H]
	cols := ConstTensor(g, shiftMatrix(wo, w, stride))                 // [3, Wo, W]
	t := DotGeneral(rows, []int{2}, nil, x, []int{1}, nil)             // [dy, Ho, B, W, C]
	t = DotGeneral(cols, []int{2}, nil, t, []int{3}, nil)              // [dx, Wo, dy, Ho, B, C]
	t = Reshape(TransposeAllAxes(t, 4, 3, 1, 2, 0, 5), b, ho, wo, 9*c) // [B, Ho, Wo, (dy, dx, C)]
	return DotGeneral(t, []int{3}, nil, kernel, []int{0}, nil)
}

// shiftMatrix is the [3, out, in] float32 selector of conv3x3: [d][o][i] = 1 where i = s·o+d-1.
func shiftMatrix(out, in, stride int) *tensors.Tensor {
	m := make([]float32, 3*out*in)
	for d := range 3 {
		for o := range out {
			if i := stride*o + d - 1; i >= 0 && i < in {
				m[(d*out+o)*in+i] = 1
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(m, 3, out, in)
}
