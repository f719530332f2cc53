package eval

import (
	"context"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/witdata/wit/shards"
)

// wordEmbedder embeds an image (its bytes are words) or a text as the normalised count vector of
// the vocabulary words it contains: "a cat emoji." and an image "cat" share the direction of "cat".
// Images starting with "bad" are unusable, as a corrupt JPEG would be.
type wordEmbedder struct{ vocab []string }

func (w wordEmbedder) Dim() int { return len(w.vocab) }

func (w wordEmbedder) vec(s string) []float32 {
	v := make([]float32, len(w.vocab))
	for i, word := range w.vocab {
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '.' || r == ',' }) {
			if f == word {
				v[i]++
			}
		}
	}
	normalize(v)
	return v
}

func (w wordEmbedder) EmbedImages(images [][]byte) ([][]float32, error) {
	out := make([][]float32, len(images))
	var err error
	for i, b := range images {
		if strings.HasPrefix(string(b), "bad") {
			err = errors.New("bad image: decode")
			continue
		}
		out[i] = w.vec(string(b))
	}
	return out, err
}

func (w wordEmbedder) EmbedTexts(texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = w.vec(t)
	}
	return out, nil
}

var animals = wordEmbedder{vocab: []string{"cat", "dog", "fox", "owl"}}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunZeroShotImageDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cat/1.png"), "cat")
	writeFile(t, filepath.Join(dir, "cat/2.PNG"), "cat")
	writeFile(t, filepath.Join(dir, "cat/3.jpg"), "dog") // misclassified
	writeFile(t, filepath.Join(dir, "cat/bad.jpg"), "bad bytes")
	writeFile(t, filepath.Join(dir, "cat/notes.txt"), "cat") // not an image: ignored
	writeFile(t, filepath.Join(dir, "dog/1.gif"), "dog")
	writeFile(t, filepath.Join(dir, "fox/1.jpeg"), "fox")
	writeFile(t, filepath.Join(dir, "zebra/1.png"), "cat") // class not listed
	writeFile(t, filepath.Join(dir, ".hidden/1.png"), "cat")
	writeFile(t, filepath.Join(dir, "top.png"), "cat") // no class folder
	if n, err := CountImageDir(dir); err != nil || n != 8 {
		t.Fatalf("CountImageDir = %d, %v; want 8", n, err)
	}
	classes := []Class{{"cat", "cat"}, {"dog", "dog"}, {"fox", "fox"}}
	rep, err := RunZeroShot(context.Background(), animals, ImageDir(context.Background(), dir), classes, EmojiTemplates, []int{1, 2}, RunOptions{Chunk: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Images != 5 || rep.Unlabelled != 2 || rep.Unusable != 1 || rep.Prompts != 3*len(EmojiTemplates) {
		t.Fatalf("report %+v", rep)
	}
	if !near(rep.Accuracy(1), 4.0/5) {
		t.Errorf("top-1 %v, want 0.8", rep.Accuracy(1))
	}
	if rep.UnknownLabels["zebra"] != 1 || rep.UnknownLabels[""] != 1 {
		t.Errorf("unknown labels %v", rep.UnknownLabels)
	}
	if rep.Skipped[0].ID != "cat/bad.jpg" {
		t.Errorf("skipped %v", rep.Skipped)
	}
	_, err = RunZeroShot(context.Background(), animals, ImageDir(context.Background(), dir), []Class{{"owl", "owl"}}, PlainTemplates, []int{1}, RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "no usable image") {
		t.Errorf("no matching label: %v", err)
	}
	if _, err := RunZeroShot(context.Background(), animals, ImageDir(context.Background(), filepath.Join(dir, "missing")), classes, PlainTemplates, []int{1}, RunOptions{}); err == nil {
		t.Error("missing folder: no error")
	}
}

// writeSamples writes sample shards (files of perFile rows) from (image, caption) pairs; the
// SHA-256 column is the image bytes' hex, so equal images share it as fetch would record.
func writeSamples(t *testing.T, dir string, perFile int, pairs ...[2]string) {
	t.Helper()
	w, err := shards.NewWriter(dir, shards.SampleSchema, shards.WriterOptions{RowsPerFile: perFile, Metadata: shards.SampleMetadata()})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pairs {
		shards.AppendSample(w.Builder(), &shards.Sample{
			Key: shards.SampleKey(i/perFile, i%perFile), Image: []byte(p[0]), Caption: p[1],
			SHA256: hex.EncodeToString([]byte(p[0])), Width: 1, Height: 1,
		})
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRunRetrievalShards(t *testing.T) {
	dir := t.TempDir()
	writeSamples(t, dir, 3,
		[2]string{"cat", "a cat"},
		[2]string{"cat", "the cat"}, // same image, second caption
		[2]string{"dog", "a dog"},
		[2]string{"dog fox", "a dog"}, // same caption, second image
		[2]string{"owl", ""},          // no caption: distractor only
		[2]string{"bad", "a fox"},     // unusable image
		[2]string{"fox", "a owl"},     // wrong caption: a miss both ways
	)
	rep, err := RunRetrieval(context.Background(), animals, ShardDir(context.Background(), dir, ShardOptions{}), DefaultRecallKs, RunOptions{Chunk: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 7 || rep.DuplicateRows != 1 || rep.EmptyCaptions != 1 || rep.Unusable != 1 {
		t.Errorf("counts %+v", rep)
	}
	// images: cat, dog, "dog fox", owl, fox (5); texts: "a cat", "the cat", "a dog", "a owl" (4).
	if rep.Images != 5 || rep.Texts != 4 || rep.Links != 5 {
		t.Fatalf("images %d texts %d links %d", rep.Images, rep.Texts, rep.Links)
	}
	// image→text queries: cat (hit: both captions tie at the top), dog (hit: "a dog"),
	// "dog fox" ("a dog" is its only word match: hit), fox ("a owl" scores 0 like 3 other texts:
	// 1/4 at k=1).
	if got, want := rep.ImageToText.Recall(1), (1+1+1+0.25)/4; !near(got, want) {
		t.Errorf("image→text R@1 %v, want %v", got, want)
	}
	// text→image: "a cat"→cat hit, "the cat"→cat hit, "a dog": dog 1.0 beats "dog fox" 0.71, both
	// linked: hit; "a owl"→owl image (unlinked distractor) first: miss at 1, hit at 2.
	if got := rep.TextToImage.Recall(1); !near(got, 0.75) {
		t.Errorf("text→image R@1 %v, want 0.75", got)
	}
	if got := rep.TextToImage.Recall(5); !near(got, 1) {
		t.Errorf("text→image R@5 %v", got)
	}
}

func TestShardDirLabelColumn(t *testing.T) {
	dir := t.TempDir()
	writeSamples(t, dir, 10, [2]string{"cat", "cat"}, [2]string{"dog", "dog"})
	var labels []string
	for r, err := range ShardDir(context.Background(), dir, ShardOptions{LabelCol: shards.ColCaption}) {
		if err != nil {
			t.Fatal(err)
		}
		labels = append(labels, r.Label)
		if r.ID == "" || r.SHA256 == "" || len(r.Image) == 0 {
			t.Errorf("record %+v", r)
		}
	}
	if !slices.Equal(labels, []string{"cat", "dog"}) {
		t.Errorf("labels %v", labels)
	}
	for _, err := range ShardDir(context.Background(), dir, ShardOptions{LabelCol: "nope"}) {
		if err == nil || !strings.Contains(err.Error(), `no column "nope"`) {
			t.Errorf("missing label column: %v", err)
		}
		break
	}
	for _, err := range ShardDir(context.Background(), t.TempDir(), ShardOptions{}) {
		if err == nil {
			t.Error("empty folder: no error")
		}
		break
	}
}

func readEmbeddings(t *testing.T, dir, col string) (keys []string, vecs [][]float32) {
	t.Helper()
	for rec, err := range shards.ReadDir(context.Background(), dir, nil) {
		if err != nil {
			t.Fatal(err)
		}
		k := rec.Column(rec.Schema().FieldIndices(shards.ColKey)[0]).(*array.String)
		l := rec.Column(rec.Schema().FieldIndices(col)[0]).(*array.FixedSizeList)
		vals := l.ListValues().(*array.Float32).Float32Values()
		dim := len(vals) / l.Len()
		for i := range l.Len() {
			keys = append(keys, k.Value(i))
			vecs = append(vecs, slices.Clone(vals[i*dim:(i+1)*dim]))
		}
	}
	return keys, vecs
}

func TestWriteEmbeddings(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	writeSamples(t, src, 2, [2]string{"cat", "a dog"}, [2]string{"bad", "x"}, [2]string{"fox", "a fox"})
	out := filepath.Join(t.TempDir(), "emb")
	sum, err := WriteImageEmbeddings(ctx, animals, ShardDir(ctx, src, ShardOptions{}), out, EmbedWriteOptions{Texts: true, Metadata: map[string]string{"wit.checkpoint": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != 2 || sum.Unusable != 1 {
		t.Fatalf("summary %+v", sum)
	}
	keys, img := readEmbeddings(t, out, ColImageEmbedding)
	_, txt := readEmbeddings(t, out, ColTextEmbedding)
	if !slices.Equal(keys, []string{"000000000", "000010000"}) || img[0][0] != 1 || txt[0][1] != 1 || img[1][2] != 1 {
		t.Errorf("keys %v image %v text %v", keys, img, txt)
	}
	if _, err := WriteImageEmbeddings(ctx, animals, ShardDir(ctx, src, ShardOptions{}), out, EmbedWriteOptions{}); err == nil {
		t.Error("second write into a full folder: no error")
	}

	texts := func(yield func(TextRecord, error) bool) {
		for i, s := range []string{"owl", "cat dog"} {
			if !yield(TextRecord{Key: string(rune('a' + i)), Text: s}, nil) {
				return
			}
		}
	}
	tout := filepath.Join(t.TempDir(), "texts")
	if sum, err = WriteTextEmbeddings(ctx, animals, texts, tout, EmbedWriteOptions{RunOptions: RunOptions{Chunk: 1}}); err != nil || sum.Rows != 2 {
		t.Fatalf("texts: %+v %v", sum, err)
	}
	keys, vecs := readEmbeddings(t, tout, ColTextEmbedding)
	if !slices.Equal(keys, []string{"a", "b"}) || vecs[0][3] != 1 || math.Abs(float64(vecs[1][0])-1/math.Sqrt2) > 1e-6 {
		t.Errorf("text embeddings %v %v", keys, vecs)
	}
}

func TestScoreShards(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	writeSamples(t, src, 2,
		[2]string{"cat", "a cat"},     // 1
		[2]string{"cat dog", "a cat"}, // 0.707
		[2]string{"bad", "a cat"},     // unusable
		[2]string{"fox", "a owl"},     // 0
	)
	read := func(dir string) (caps []string, scores []float32, nulls int) {
		for rec, err := range shards.ReadDir(ctx, dir, []string{shards.ColCaption, ColCLIPScore, shards.ColImage}) {
			if err != nil {
				t.Fatal(err)
			}
			c := rec.Column(1).(*array.Float32)
			for i := range c.Len() {
				if c.IsNull(i) {
					nulls++
					continue
				}
				scores = append(scores, c.Value(i))
			}
		}
		return
	}
	all := filepath.Join(t.TempDir(), "all")
	sum, err := Score(ctx, animals, src, all, ScoreOptions{MinScore: math.NaN()})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != 4 || sum.Scored != 3 || sum.Unusable != 1 || sum.Dropped != 0 {
		t.Fatalf("summary %+v", sum)
	}
	_, scores, nulls := read(all)
	if nulls != 1 || len(scores) != 3 || math.Abs(float64(scores[0])-1) > 1e-6 || math.Abs(float64(scores[1])-1/math.Sqrt2) > 1e-6 || scores[2] != 0 {
		t.Errorf("scores %v, %d nulls", scores, nulls)
	}
	// Re-scoring scored shards with a threshold replaces the column and keeps rows ≥ 0.5.
	kept := filepath.Join(t.TempDir(), "kept")
	sum, err = Score(ctx, animals, all, kept, ScoreOptions{MinScore: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != 2 || sum.Dropped != 2 {
		t.Fatalf("filtered summary %+v", sum)
	}
	_, scores, nulls = read(kept)
	if len(scores) != 2 || nulls != 0 {
		t.Errorf("kept scores %v, %d nulls", scores, nulls)
	}
	f, err := shards.Open(filepath.Join(kept, shards.FileName(0)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := len(f.Schema().FieldIndices(ColCLIPScore)); n != 1 {
		t.Errorf("%d clip_score columns", n)
	}
	if v, _ := f.Schema().Metadata().GetValue(shards.MetaKind); v != "samples" {
		t.Errorf("sample metadata lost: kind %q", v)
	}

	pairs := func(yield func(Record, error) bool) {
		for _, r := range []Record{{ID: "a.png", Image: []byte("owl"), Caption: "owl"}, {ID: "b.png", Image: []byte("bad"), Caption: "x"}} {
			if !yield(r, nil) {
				return
			}
		}
	}
	pout := filepath.Join(t.TempDir(), "pairs")
	sum, err = ScoreRecords(ctx, animals, pairs, pout, ScoreOptions{MinScore: math.NaN()})
	if err != nil || sum.Rows != 1 || sum.Unusable != 1 || sum.Mean != 1 {
		t.Fatalf("pairs: %+v %v", sum, err)
	}
}
