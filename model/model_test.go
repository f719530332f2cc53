package model

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/witdata/wit/internal/gomlxfix"
)

var backend backends.Backend

func TestMain(m *testing.M) {
	_ = os.Setenv(gomlxfix.NoAutoInstallEnv, "1")
	backend = gomlxfix.MustBackend()
	os.Exit(m.Run())
}

// microConfig is small enough for exact checks in milliseconds.
func microConfig() Config {
	return Config{
		Name: "micro", EmbedDim: 16, ImageResolution: 8, VisionLayers: 2, VisionWidth: 32, VisionPatchSize: 4,
		VisionHeads: 2, ContextLength: 6, VocabSize: 40, TransformerWidth: 24, TransformerHeads: 2, TransformerLayers: 2,
	}.WithDefaults()
}

func loadPreset(t testing.TB, name string) File {
	t.Helper()
	f, err := LoadFile(filepath.Join("..", "configs", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPresets(t *testing.T) {
	for _, name := range []string{"clip-tiny", "clip-small", "vit-b-32"} {
		f := loadPreset(t, name)
		if f.Model.Name != name {
			t.Errorf("%s: name %q", name, f.Model.Name)
		}
		if f.Train.Beta2 != 0.98 || f.Train.Epsilon != 1e-6 || f.Train.WeightDecay != 0.2 {
			t.Errorf("%s: AdamW settings %+v differ from CLIP's", name, f.Train)
		}
		t.Logf("%s: %d parameters, %.2f GFLOP per training step at batch %d", name, f.Model.ParameterCount(),
			float64(f.Model.TrainFLOPs(f.Train.BatchSize))/1e9, f.Train.BatchSize)
	}
	tiny := loadPreset(t, "clip-tiny").Model
	if tiny.ImageResolution < 32 || tiny.ImageResolution > 64 || tiny.VisionWidth < 128 || tiny.VisionWidth > 256 {
		t.Errorf("clip-tiny outside the CPU envelope: %+v", tiny)
	}
}

func TestParseFileErrors(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("..", "configs", "clip-tiny.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"typo key":      strings.Replace(string(good), "vision_width", "vision_widht", 1),
		"patch":         strings.Replace(string(good), "vision_patch_size: 8", "vision_patch_size: 7", 1),
		"heads":         strings.Replace(string(good), "transformer_heads: 4", "transformer_heads: 3", 1),
		"activation":    strings.Replace(string(good), "quick_gelu", "relu", 1),
		"zero layers":   strings.Replace(string(good), "vision_layers: 4", "vision_layers: 0", 1),
		"not yaml":      "model: [",
		"empty":         "",
		"negative size": strings.Replace(string(good), "embed_dim: 128", "embed_dim: -1", 1),
	} {
		if _, err := ParseFile([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := LoadFile("/nonexistent/x.yaml"); err == nil {
		t.Error("missing file accepted")
	}
}

// TestViTB32ParameterCount checks OpenAI's ViT-B/32 size analytically and against the variables the
// graph creates (built, not executed: nothing is allocated or trained).
func TestViTB32ParameterCount(t *testing.T) {
	cfg := loadPreset(t, "vit-b-32").Model
	const openAI = 151_277_313
	if got := cfg.ParameterCount(); got != openAI {
		t.Fatalf("ParameterCount(vit-b-32)=%d, OpenAI's ViT-B/32 has %d", got, openAI)
	}
	if got := graphParameterCount(t, cfg, 1); got != openAI {
		t.Fatalf("graph variables hold %d parameters, want %d", got, openAI)
	}
}

func TestParameterCountMatchesGraph(t *testing.T) {
	for _, cfg := range []Config{microConfig(), loadPreset(t, "clip-tiny").Model, loadPreset(t, "clip-small").Model} {
		if got, want := graphParameterCount(t, cfg, 2), cfg.ParameterCount(); got != want {
			t.Errorf("%s: graph %d, analytic %d", cfg.Name, got, want)
		}
	}
}

// graphParameterCount builds the loss graph (without running it) and sums the trainable variables.
func graphParameterCount(t testing.TB, cfg Config, batch int) int64 {
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	g := NewGraph(backend, "count")
	defer g.Finalize()
	images := Parameter(g, "images", shapes.Make(dtypes.Float32, batch, cfg.ImageResolution, cfg.ImageResolution, 3))
	tokens := Parameter(g, "tokens", shapes.Make(dtypes.Int32, batch, cfg.ContextLength))
	_ = m.Loss(ctx, images, tokens)
	var n int64
	for v := range ctx.IterVariables() {
		if v.Trainable {
			n += int64(v.Shape().Size())
		}
	}
	return n
}

// batchFor makes a deterministic batch: random images and captions "start w… end 0…" whose end token
// (the largest id, VocabSize−1) sits at varying positions.
func batchFor(cfg Config, n int, seed uint64) (*tensors.Tensor, *tensors.Tensor) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	r := cfg.ImageResolution
	img := make([]float32, n*r*r*3)
	for i := range img {
		img[i] = float32(rng.NormFloat64())
	}
	tok := make([]int32, n*cfg.ContextLength)
	for b := range n {
		row := tok[b*cfg.ContextLength : (b+1)*cfg.ContextLength]
		length := 2 + rng.IntN(cfg.ContextLength-1) // start + words + end ≤ ContextLength
		row[0] = int32(cfg.VocabSize - 2)           // start token
		for i := 1; i < length-1; i++ {
			row[i] = int32(1 + rng.IntN(cfg.VocabSize-3))
		}
		row[length-1] = int32(cfg.VocabSize - 1) // end token: the largest id
	}
	return tensors.FromFlatDataAndDimensions(img, n, r, r, 3), tensors.FromFlatDataAndDimensions(tok, n, cfg.ContextLength)
}

func TestEmbeddingShapesAndNorms(t *testing.T) {
	cfg := microConfig()
	m, _ := New(cfg)
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(1); err != nil {
		t.Fatal(err)
	}
	images, tokens := batchFor(cfg, 3, 1)
	e := context.MustNewExec(backend, ctx, func(ctx *context.Context, images, tokens *Node) []*Node {
		return []*Node{m.BuildImageEmbeddings(ctx, images), m.BuildTextEmbeddings(ctx, tokens)}
	})
	out := e.MustExec(images, tokens)
	for i, o := range out {
		if d := o.Shape().Dimensions; len(d) != 2 || d[0] != 3 || d[1] != cfg.EmbedDim {
			t.Fatalf("output %d shape %s", i, o.Shape())
		}
		flat := tensors.MustCopyFlatData[float32](o)
		for b := range 3 {
			s := 0.0
			for _, v := range flat[b*cfg.EmbedDim : (b+1)*cfg.EmbedDim] {
				s += float64(v) * float64(v)
			}
			if math.Abs(s-1) > 1e-5 {
				t.Errorf("output %d row %d: |e|²=%g", i, b, s)
			}
		}
	}
}

// TestTextFeaturesAtEOT: the text embedding reads the end token's position; with the causal mask it
// must ignore everything after it and depend on what comes before.
func TestTextFeaturesAtEOT(t *testing.T) {
	cfg := microConfig()
	m, _ := New(cfg)
	ctx := context.New()
	_ = ctx.SetRNGStateFromSeed(2)
	e := context.MustNewExec(backend, ctx, m.BuildTextEmbeddings)
	eot := int32(cfg.VocabSize - 1)
	base := []int32{38, 5, 7, eot, 0, 0}
	afterEOT := []int32{38, 5, 7, eot, 9, 3}
	beforeEOT := []int32{38, 5, 8, eot, 0, 0}
	run := func(row []int32) []float32 {
		return tensors.MustCopyFlatData[float32](e.MustExec(tensors.FromFlatDataAndDimensions(row, 1, len(row)))[0])
	}
	a, b, c := run(base), run(afterEOT), run(beforeEOT)
	diff := func(x, y []float32) float64 {
		d := 0.0
		for i := range x {
			d = max(d, math.Abs(float64(x[i]-y[i])))
		}
		return d
	}
	if d := diff(a, b); d > 1e-6 {
		t.Errorf("tokens after EOT changed the embedding by %g", d)
	}
	if d := diff(a, c); d < 1e-4 {
		t.Errorf("a token before EOT did not change the embedding (%g)", d)
	}
}

func TestContrastiveLossByHand(t *testing.T) {
	logits := [][]float32{{2, 0, 1}, {0.5, 3, 0}, {1, 1, 1}}
	e := MustNewExec(backend, ContrastiveLoss)
	got := e.MustExec1(logits).Value().(float32)
	ce := func(row []float64, k int) float64 {
		s := 0.0
		for _, v := range row {
			s += math.Exp(v)
		}
		return math.Log(s) - row[k]
	}
	want := 0.0
	for i := range 3 {
		var row, col []float64
		for j := range 3 {
			row = append(row, float64(logits[i][j]))
			col = append(col, float64(logits[j][i]))
		}
		want += (ce(row, i) + ce(col, i)) / 2
	}
	want /= 3
	if math.Abs(float64(got)-want) > 1e-5 {
		t.Fatalf("loss %g, by hand %g", got, want)
	}
}

// FuzzParseFile: any input either fails with an error or yields a valid, countable architecture.
func FuzzParseFile(f *testing.F) {
	for _, name := range []string{"clip-tiny", "clip-small", "vit-b-32"} {
		data, err := os.ReadFile(filepath.Join("..", "configs", name+".yaml"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("model: {embed_dim: 1}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile(data)
		if err != nil {
			return
		}
		if err := file.Model.Validate(); err != nil {
			t.Fatalf("ParseFile accepted an invalid model: %v", err)
		}
		if file.Model.ParameterCount() <= 0 {
			t.Fatalf("non-positive parameter count for %+v", file.Model)
		}
	})
}
