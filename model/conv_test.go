package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// directConv3x3 is the textbook loop: out[b,o,p,k] = Σ x[b, s·o+dy-1, s·p+dx-1, c]·w[(dy,dx,c), k]
// over taps inside the image (zero padding 1).
func directConv3x3(x []float32, b, h, w, c int, kernel []float32, out, stride int) ([]float32, int, int) {
	ho, wo := (h-1)/stride+1, (w-1)/stride+1
	y := make([]float32, b*ho*wo*out)
	for n := range b {
		for o := range ho {
			for p := range wo {
				for dy := range 3 {
					for dx := range 3 {
						i, j := stride*o+dy-1, stride*p+dx-1
						if i < 0 || i >= h || j < 0 || j >= w {
							continue
						}
						for ch := range c {
							v := x[((n*h+i)*w+j)*c+ch]
							row := kernel[((dy*3+dx)*c+ch)*out:]
							for k := range out {
								y[((n*ho+o)*wo+p)*out+k] += v * row[k]
							}
						}
					}
				}
			}
		}
	}
	return y, ho, wo
}

func randomFloats(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func maxAbsDiff(t *testing.T, got *tensors.Tensor, want []float32) float64 {
	t.Helper()
	flat := tensors.MustCopyFlatData[float32](got)
	if len(flat) != len(want) {
		t.Fatalf("%d values, want %d", len(flat), len(want))
	}
	d := 0.0
	for i := range flat {
		d = max(d, math.Abs(float64(flat[i]-want[i])))
	}
	return d
}

// TestConv3x3 checks conv3x3With against the direct loop, and its gradients against the loop's:
// for L = Σ y·r the gradient wrt the kernel is Σ patches·r, and wrt x, by linearity, the sum over
// unit inputs — computed here as the direct convolution of each basis image.
func TestConv3x3(t *testing.T) {
	for _, tc := range []struct{ b, h, w, c, out, stride int }{
		{1, 5, 5, 1, 1, 1},
		{2, 8, 8, 3, 4, 2},
		{2, 7, 6, 3, 5, 2}, // odd side: the last row's window hangs over the padding
		{1, 6, 9, 2, 3, 1},
		{3, 12, 12, 5, 8, 2},
	} {
		t.Run(fmt.Sprintf("%dx%dx%dx%d_to_%d_s%d", tc.b, tc.h, tc.w, tc.c, tc.out, tc.stride), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.h), uint64(tc.c)))
			x := randomFloats(rng, tc.b*tc.h*tc.w*tc.c)
			kernel := randomFloats(rng, 9*tc.c*tc.out)
			want, ho, wo := directConv3x3(x, tc.b, tc.h, tc.w, tc.c, kernel, tc.out, tc.stride)
			r := randomFloats(rng, len(want))

			e := MustNewExec(backend, func(x, kernel, r *Node) []*Node {
				y := conv3x3With(x, kernel, tc.stride)
				loss := ReduceAllSum(Mul(y, r))
				grads := Gradient(loss, x, kernel)
				return []*Node{y, grads[0], grads[1]}
			})
			out := e.MustExec(tensors.FromFlatDataAndDimensions(x, tc.b, tc.h, tc.w, tc.c),
				tensors.FromFlatDataAndDimensions(kernel, 9*tc.c, tc.out),
				tensors.FromFlatDataAndDimensions(r, tc.b, ho, wo, tc.out))
			if d := out[0].Shape().Dimensions; d[1] != ho || d[2] != wo || d[3] != tc.out {
				t.Fatalf("output shape %s, want [%d,%d,%d,%d]", out[0].Shape(), tc.b, ho, wo, tc.out)
			}
			if d := maxAbsDiff(t, out[0], want); d > 1e-4 {
				t.Errorf("forward differs from the direct loop by %g", d)
			}

			// L = Σ y·r is linear in each of x and the kernel, so its gradient at element i is L at
			// the unit vector e_i: the direct conv with a one-hot kernel, or of a one-hot image.
			linearGrad := func(n int, loss func(unit []float32) []float32) []float32 {
				grad := make([]float32, n)
				for i := range grad {
					unit := make([]float32, n)
					unit[i] = 1
					for j, v := range loss(unit) {
						grad[i] += v * r[j]
					}
				}
				return grad
			}
			gradKernel := linearGrad(len(kernel), func(unit []float32) []float32 {
				y, _, _ := directConv3x3(x, tc.b, tc.h, tc.w, tc.c, unit, tc.out, tc.stride)
				return y
			})
			if d := maxAbsDiff(t, out[2], gradKernel); d > 1e-3 {
				t.Errorf("kernel gradient differs by %g", d)
			}
			gradX := linearGrad(len(x), func(unit []float32) []float32 {
				y, _, _ := directConv3x3(unit, tc.b, tc.h, tc.w, tc.c, kernel, tc.out, tc.stride)
				return y
			})
			if d := maxAbsDiff(t, out[1], gradX); d > 1e-3 {
				t.Errorf("input gradient differs by %g", d)
			}
		})
	}
}

func TestConvStemChannels(t *testing.T) {
	for _, tc := range []struct {
		patch, width int
		want         string
	}{
		{8, 128, "[32 64 128]"},
		{4, 64, "[32 64]"},
		{2, 48, "[48]"},
		{16, 256, "[32 64 128 256]"},
	} {
		if got := fmt.Sprint(convStemChannels(tc.patch, tc.width)); got != tc.want {
			t.Errorf("patch %d width %d: %s, want %s", tc.patch, tc.width, got, tc.want)
		}
	}
}

// TestConvStemModel: a conv-stem CLIP builds, counts its parameters as the graph has them, gives
// unit-norm image embeddings that depend on the pixels, and a config that cannot have it is refused.
func TestConvStemModel(t *testing.T) {
	cfg := microConfig()
	cfg.VisionStem = StemConv
	if got, want := graphParameterCount(t, cfg, 2), cfg.ParameterCount(); got != want {
		t.Errorf("graph %d parameters, analytic %d", got, want)
	}
	tiny := loadPreset(t, "clip-tiny").Model
	tiny.VisionStem = StemConv
	if got, want := graphParameterCount(t, tiny, 1), tiny.ParameterCount(); got != want {
		t.Errorf("clip-tiny conv: graph %d parameters, analytic %d", got, want)
	}
	patchFLOPs := loadPreset(t, "clip-tiny").Model.ForwardFLOPs(64)
	if tiny.ForwardFLOPs(64) <= patchFLOPs {
		t.Errorf("conv stem counted no more FLOPs than the patch embedding")
	}
	t.Logf("clip-tiny with the conv stem: %.3fx the FLOPs, %d parameters", float64(tiny.ForwardFLOPs(64))/float64(patchFLOPs), tiny.ParameterCount())

	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	_ = ctx.SetRNGStateFromSeed(3)
	e := context.MustNewExec(backend, ctx, m.BuildImageEmbeddings)
	images, _ := batchFor(cfg, 2, 4)
	flat := tensors.MustCopyFlatData[float32](e.MustExec(images)[0])
	d := cfg.EmbedDim
	for b := range 2 {
		s := 0.0
		for _, v := range flat[b*d : (b+1)*d] {
			s += float64(v) * float64(v)
		}
		if math.Abs(s-1) > 1e-5 {
			t.Errorf("row %d: |e|²=%g", b, s)
		}
	}
	diff := 0.0
	for i := range d {
		diff = max(diff, math.Abs(float64(flat[i]-flat[d+i])))
	}
	if diff < 1e-4 {
		t.Errorf("two different images gave the same embedding")
	}

	for name, c := range map[string]Config{
		"patch not a power of 2": func() Config { c := cfg; c.ImageResolution, c.VisionPatchSize = 12, 6; return c }(),
		"unknown stem":           func() Config { c := cfg; c.VisionStem = "resnet"; return c }(),
	} {
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "vision_stem") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
