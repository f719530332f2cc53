package inference

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/witdata/wit/checkpoint"
	"github.com/witdata/wit/internal/gomlxfix"
	"github.com/witdata/wit/internal/testutil/cliptest"
	"github.com/witdata/wit/model"
)

var testBackend = gomlxfix.MustBackend()

// initContext creates a model's variables (random init) by running its embedding graphs once.
func initContext(t testing.TB, cfg model.Config) *context.Context {
	t.Helper()
	m, err := model.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(5); err != nil {
		t.Fatal(err)
	}
	e := context.MustNewExec(testBackend, ctx, func(ctx *context.Context, images, tokens *Node) []*Node {
		return []*Node{m.BuildImageEmbeddings(ctx, images), m.BuildTextEmbeddings(ctx, tokens), m.LogitScale(ctx, images.Graph())}
	})
	r := cfg.ImageResolution
	e.MustExec(tensors.FromFlatDataAndDimensions(make([]float32, 2*r*r*3), 2, r, r, 3),
		tensors.FromFlatDataAndDimensions(make([]int32, 2*cfg.ContextLength), 2, cfg.ContextLength))
	return ctx
}

func TestEmbedderFromCheckpoint(t *testing.T) {
	tok := testTokenizer(t)
	cfg := cliptest.TinyConfig(tok.VocabSize())
	ctx := initContext(t, cfg)
	run := t.TempDir()
	if _, err := checkpoint.Save(run, checkpoint.State{Step: 7, Model: cfg}, model.Hyper{}, ctx, tok); err != nil {
		t.Fatal(err)
	}
	e, err := LoadCheckpointWithBackend(run, testBackend, 4) // run folder → latest checkpoint
	if err != nil {
		t.Fatal(err)
	}
	if e.State.Step != 7 || e.Dim() != cfg.EmbedDim || e.Tokenizer.VocabSize() != tok.VocabSize() {
		t.Fatalf("state %+v dim %d", e.State.Step, e.Dim())
	}
	if math.Abs(e.LogitScale()-1/0.07) > 1e-3 {
		t.Errorf("logit scale %g, want 1/0.07", e.LogitScale())
	}

	rng := rand.New(rand.NewPCG(1, 2))
	var imgs [][]byte
	var caps []string
	for k := range 6 { // 6 > batch 4: two compiled-batch calls, the second padded
		img, c := testImage(k, 24, rng)
		imgs = append(imgs, img)
		caps = append(caps, c)
	}
	imgs[3] = []byte("not an image")
	iemb, err := e.EmbedImages(imgs)
	var bad *ImageErrors
	if !errors.As(err, &bad) || len(bad.Index) != 1 || bad.Index[0] != 3 || !errors.Is(err, ErrImage) {
		t.Fatalf("EmbedImages error %v, want one bad image at 3", err)
	}
	for i, v := range iemb {
		if i == 3 {
			if v != nil {
				t.Error("bad image has an embedding")
			}
			continue
		}
		checkUnit(t, v, cfg.EmbedDim)
	}
	temb, err := e.EmbedTexts(caps)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range temb {
		checkUnit(t, v, cfg.EmbedDim)
	}
	// A text alone (padded batch) embeds as inside a full batch; and as the original context does.
	one, err := e.EmbedTexts(caps[5:6])
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(one[0], temb[5]); d > 1e-5 {
		t.Errorf("text embedding depends on its batch: diff %g", d)
	}
	m, _ := model.New(cfg)
	direct := context.MustNewExec(testBackend, ctx, func(ctx *context.Context, tokens *Node) *Node { return m.BuildTextEmbeddings(ctx, tokens) })
	tokT := tensors.FromFlatDataAndDimensions(tok.Encode(caps[0], cfg.ContextLength), 1, cfg.ContextLength)
	want := tensors.MustCopyFlatData[float32](direct.MustExec(tokT)[0])
	if d := maxDiff(want, temb[0]); d > 1e-5 {
		t.Errorf("checkpointed weights embed differently from the originals: diff %g", d)
	}
}

func checkUnit(t *testing.T, v []float32, dim int) {
	t.Helper()
	if len(v) != dim {
		t.Fatalf("embedding of %d values, want %d", len(v), dim)
	}
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if math.Abs(s-1) > 1e-4 {
		t.Errorf("embedding norm² %g", s)
	}
}

func maxDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}
