package main

import (
	"bytes"
	stdcontext "context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/checkpoint"
	"github.com/witdata/wit/internal/gomlxfix"
	"github.com/witdata/wit/model"
	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/tokenizer"
)

// GoMLX must never try to download a PJRT plugin in tests (gomlxfix sets this too; a TestMain
// would clash with other files of this package).
func init() { os.Setenv("GOMLX_NO_AUTO_INSTALL", "1") }

var evalColors = map[string]color.RGBA{"red": {220, 30, 30, 255}, "green": {30, 200, 40, 255}, "blue": {30, 40, 220, 255}}

// tinyCheckpoint saves a randomly initialised tiny CLIP as a run folder (step 0): the eval commands
// must run end to end on it; its figures are near chance.
func tinyCheckpoint(t *testing.T) string {
	t.Helper()
	var caps []string
	for name := range evalColors {
		caps = append(caps, "a "+name+" square", "an emoji of "+name)
	}
	tok, err := tokenizer.Train(caps, tokenizer.TrainOptions{VocabSize: 280})
	if err != nil {
		t.Fatal(err)
	}
	cfg := model.Config{
		Name: "eval-test", EmbedDim: 16, ImageResolution: 8, VisionLayers: 1, VisionWidth: 16, VisionPatchSize: 4,
		VisionHeads: 2, ContextLength: 8, VocabSize: tok.VocabSize(), TransformerWidth: 16, TransformerHeads: 2, TransformerLayers: 1,
	}.WithDefaults()
	m, err := model.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	be, err := gomlxfix.NewBackend()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(1); err != nil {
		t.Fatal(err)
	}
	e := context.MustNewExec(be, ctx, func(ctx *context.Context, images, tokens *Node) []*Node {
		return []*Node{m.BuildImageEmbeddings(ctx, images), m.BuildTextEmbeddings(ctx, tokens), m.LogitScale(ctx, images.Graph())}
	})
	r := cfg.ImageResolution
	e.MustExec(tensors.FromFlatDataAndDimensions(make([]float32, r*r*3), 1, r, r, 3),
		tensors.FromFlatDataAndDimensions(tok.Encode("x", cfg.ContextLength), 1, cfg.ContextLength))
	run := t.TempDir()
	if _, err := checkpoint.Save(run, checkpoint.State{Model: cfg}, model.Hyper{}, ctx, tok); err != nil {
		t.Fatal(err)
	}
	return run
}

func pngOf(t *testing.T, c color.RGBA) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 12, 12))
	for y := 2; y < 10; y++ {
		for x := 2; x < 10; x++ {
			img.Set(x, y, c) // transparent border: composited on white
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// runWit runs one of this file's commands on a fresh command tree (cobra keeps flag values and
// their Changed state between executions of one tree).
func runWit(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var cmd *cobra.Command
	switch args[0] {
	case "eval":
		cmd = newEvalCmd()
	case "embed":
		cmd = newEmbedCmd()
	case "score":
		cmd = newScoreCmd()
	default:
		t.Fatalf("unknown command %q", args[0])
	}
	cmd.SetArgs(args[1:])
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(stdcontext.Background())
	return out.String(), err
}

func TestEvalCommandsOnTinyCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a model")
	}
	run := tinyCheckpoint(t)
	tmp := t.TempDir()

	// An image folder of 3 classes × 2 images, plus one corrupt file and one unlisted class.
	imgDir := filepath.Join(tmp, "images")
	for name, c := range evalColors {
		for i := range 2 {
			writeTestFile(t, filepath.Join(imgDir, name, fmt.Sprint(i, ".png")), pngOf(t, c))
		}
	}
	writeTestFile(t, filepath.Join(imgDir, "red", "broken.png"), []byte("\x89PNG not really"))
	writeTestFile(t, filepath.Join(imgDir, "purple", "0.png"), pngOf(t, color.RGBA{128, 0, 128, 255}))
	classes := filepath.Join(tmp, "classes.txt")
	writeTestFile(t, classes, []byte("# colours\nred\tred colour\ngreen\nblue\n"))

	out, err := runWit(t, "eval", "zeroshot", "--checkpoint", run, "--images", imgDir, "--classes", classes, "--json", "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	var zs struct {
		Checkpoint checkpointInfo `json:"checkpoint"`
		Images     int            `json:"images"`
		Classes    int            `json:"classes"`
		Unlabelled int            `json:"unlabelled"`
		Unusable   int            `json:"unusable"`
		AtK        []struct {
			K                          int
			Accuracy, Chance, Majority float64
		} `json:"at_k"`
		PerClass []struct{ Name string } `json:"per_class"`
	}
	if err := json.Unmarshal([]byte(out), &zs); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if zs.Images != 6 || zs.Classes != 3 || zs.Unlabelled != 1 || zs.Unusable != 1 || zs.Checkpoint.Model != "eval-test" {
		t.Errorf("zero-shot report %+v", zs)
	}
	if len(zs.AtK) != 2 || zs.AtK[1].K != 5 || zs.AtK[1].Accuracy != 1 || zs.AtK[0].Chance != 1.0/3 || zs.PerClass[0].Name != "red" {
		t.Errorf("zero-shot figures %+v", zs)
	}

	// Shards: the same images with captions; retrieval, embed, score.
	shardDir := filepath.Join(tmp, "shards")
	w, err := shards.NewWriter(shardDir, shards.SampleSchema, shards.WriterOptions{RowsPerFile: 4, Metadata: shards.SampleMetadata()})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for name, c := range evalColors {
		for k := range 2 {
			img := pngOf(t, color.RGBA{c.R, c.G, c.B + uint8(k), 255})
			shards.AppendSample(w.Builder(), &shards.Sample{Key: shards.SampleKey(i/4, i%4), Image: img, Caption: "a " + name + " square", Width: 12, Height: 12})
			if err := w.EndRow(); err != nil {
				t.Fatal(err)
			}
			i++
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out, err = runWit(t, "eval", "retrieval", "--checkpoint", run, "--shards", shardDir, "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "retrieval: 6 images, 3 captions, 6 links") || !strings.Contains(out, "R@1") {
		t.Errorf("retrieval output:\n%s", out)
	}
	report := filepath.Join(tmp, "retrieval.json")
	if _, err := runWit(t, "eval", "retrieval", "--checkpoint", run, "--shards", shardDir, "--quiet", "--out", report); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(report); err != nil || !strings.Contains(string(data), `"text_to_image"`) {
		t.Errorf("report file: %v %s", err, data)
	}

	embOut := filepath.Join(tmp, "emb")
	if out, err = runWit(t, "embed", "--checkpoint", run, "--shards", shardDir, "--out", embOut, "--json", "--quiet"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"rows": 6`) {
		t.Errorf("embed summary %s", out)
	}
	f, err := shards.Open(filepath.Join(embOut, shards.FileName(0)))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Schema().String(); !strings.Contains(got, "image_embedding: type=fixed_size_list<item: float32>[16]") {
		t.Errorf("embedding schema %s", got)
	}
	if v, _ := f.Schema().Metadata().GetValue("wit.model"); v != "eval-test" {
		t.Errorf("metadata model %q", v)
	}
	f.Close()
	texts := filepath.Join(tmp, "texts.txt")
	writeTestFile(t, texts, []byte("red\ngreen\n# comment\nblue\n"))
	if out, err = runWit(t, "embed", "--checkpoint", run, "--texts", texts, "--out", filepath.Join(tmp, "temb"), "--json", "--quiet"); err != nil || !strings.Contains(out, `"rows": 3`) {
		t.Errorf("embed texts: %v %s", err, out)
	}
	if out, err = runWit(t, "embed", "--checkpoint", run, "--images", imgDir, "--out", filepath.Join(tmp, "iemb"), "--json", "--quiet"); err != nil || !strings.Contains(out, `"rows": 7`) || !strings.Contains(out, `"unusable": 1`) {
		t.Errorf("embed images: %v %s", err, out)
	}

	scored := filepath.Join(tmp, "scored")
	if out, err = runWit(t, "score", "--checkpoint", run, "--shards", shardDir, "--out", scored, "--json", "--quiet"); err != nil {
		t.Fatal(err)
	}
	var ss struct {
		Scored, Rows int
		Mean         float64
		Quantiles    map[string]float64
	}
	if err := json.Unmarshal([]byte(out), &ss); err != nil || ss.Scored != 6 || ss.Rows != 6 || ss.Mean < -1 || ss.Mean > 1 {
		t.Errorf("score summary %+v %v %s", ss, err, out)
	}
	// A threshold above the median keeps some rows and drops the others.
	filtered := filepath.Join(tmp, "filtered")
	if out, err = runWit(t, "score", "--checkpoint", run, "--shards", shardDir, "--out", filtered, "--min-score", fmt.Sprint(ss.Quantiles["p50"]), "--json", "--quiet"); err != nil {
		t.Fatal(err)
	}
	var fs struct{ Rows, Dropped int }
	if err := json.Unmarshal([]byte(out), &fs); err != nil || fs.Rows+fs.Dropped != 6 || fs.Rows == 0 || fs.Dropped == 0 {
		t.Errorf("filtered %+v %v", fs, err)
	}
	pairs := filepath.Join(imgDir, "pairs.csv")
	writeTestFile(t, pairs, []byte("url,caption\nred/0.png,a red square\nfile://"+filepath.Join(imgDir, "blue", "1.png")+",blue\nmissing.png,x\nhttp://example.invalid/a.png,y\n"))
	if out, err = runWit(t, "score", "--checkpoint", run, "--in", pairs, "--out", filepath.Join(tmp, "pairscores"), "--json", "--quiet"); err != nil || !strings.Contains(out, `"rows": 2`) || !strings.Contains(out, `"unusable": 2`) {
		t.Errorf("score pairs: %v %s", err, out)
	}

	// Bad invocations fail with a clear message and write nothing.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "zeroshot", "--checkpoint", run, "--classes", classes}, "exactly one of --images, --shards"},
		{[]string{"eval", "zeroshot", "--checkpoint", run, "--images", imgDir, "--shards", shardDir, "--classes", classes}, "exactly one"},
		{[]string{"eval", "zeroshot", "--checkpoint", run, "--images", imgDir}, "--classes is required"},
		{[]string{"eval", "zeroshot", "--checkpoint", run, "--images", imgDir, "--classes", classes, "--templates", filepath.Join(tmp, "none.txt")}, "--templates"},
		{[]string{"eval", "retrieval", "--checkpoint", tmp, "--shards", shardDir}, "load checkpoint"},
		{[]string{"eval", "retrieval", "--shards", shardDir}, "--checkpoint is required"},
		{[]string{"score", "--checkpoint", run, "--shards", shardDir, "--out", scored}, "already holds"},
		{[]string{"score", "--checkpoint", run, "--shards", shardDir, "--out", filepath.Join(tmp, "x"), "--min-score", "2"}, "[-1, 1]"},
		{[]string{"embed", "--checkpoint", run, "--texts", texts}, "--out is required"},
	} {
		_, err := runWit(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
