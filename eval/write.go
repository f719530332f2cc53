package eval

import (
	"context"
	"fmt"
	"iter"
	"math"
	"os"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/witdata/wit/shards"
)

// Column names of embedding files (`wit embed`) and of scored shards (`wit score`).
const (
	ColImageEmbedding = "image_embedding" // fixed_size_list<float32>[dim], L2-normalised
	ColTextEmbedding  = "text_embedding"  // fixed_size_list<float32>[dim], L2-normalised
	ColLabel          = "label"           // class folder of an image folder input
	ColText           = "text"            // the embedded text (texts input)
	ColCLIPScore      = "clip_score"      // cosine similarity of image and caption embeddings; null if the image is unusable
	MetaEmbeddingDim  = "wit.embedding_dim"
	MetaKindEmbedding = "embeddings"
)

// checkOutDir refuses an output folder that already holds shard files: a second run would
// silently replace or mix with them.
func checkOutDir(dir string) error {
	files, err := shards.ListFiles(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return nil //nolint:nilerr // the writer reports a bad folder with its own error
	}
	if len(files) > 0 {
		return fmt.Errorf("%s already holds %d shard file(s); choose an empty or new folder", dir, len(files))
	}
	return nil
}

// EmbedWriteOptions configures WriteImageEmbeddings and WriteTextEmbeddings.
type EmbedWriteOptions struct {
	RunOptions
	Texts    bool              // image inputs: also embed the caption column into text_embedding
	Label    bool              // image inputs: write a label column (image folders)
	Metadata map[string]string // extra schema metadata (checkpoint, model)
	Writer   shards.WriterOptions
}

// EmbedSummary reports what an embedding or scoring run wrote.
type EmbedSummary struct {
	Out      string  `json:"out"`
	Rows     int     `json:"rows"`     // rows written
	Unusable int     `json:"unusable"` // inputs without a usable image
	Skipped  []Skip  `json:"skipped,omitempty"`
	Files    int     `json:"files"`
	Seconds  float64 `json:"seconds,omitempty"`
}

func embeddingType(dim int) arrow.DataType {
	return arrow.FixedSizeListOfNonNullable(int32(dim), arrow.PrimitiveTypes.Float32)
}

// newOutWriter starts the shard writer of an embedding or score output: out must hold no shard
// files yet, and every file's metadata says kind and the embedding dimension, plus extra.
func newOutWriter(out string, schema *arrow.Schema, kind string, dim int, extra map[string]string, wopts shards.WriterOptions) (*shards.Writer, error) {
	if err := checkOutDir(out); err != nil {
		return nil, err
	}
	wopts.Metadata = map[string]string{shards.MetaKind: kind, MetaEmbeddingDim: strconv.Itoa(dim)}
	for k, v := range extra {
		wopts.Metadata[k] = v
	}
	return shards.NewWriter(out, schema, wopts)
}

func appendEmbedding(b array.Builder, v []float32) {
	lb := b.(*array.FixedSizeListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.Float32Builder).AppendValues(v, nil)
}

// WriteImageEmbeddings embeds the images of src (and their captions with opts.Texts) into Arrow
// shards in out: key, caption, [label], image_embedding, [text_embedding]. Unusable images are
// left out and listed.
func WriteImageEmbeddings(ctx context.Context, e Embedder, src iter.Seq2[Record, error], out string, opts EmbedWriteOptions) (*EmbedSummary, error) {
	fields := []arrow.Field{
		{Name: shards.ColKey, Type: arrow.BinaryTypes.String},
		{Name: shards.ColCaption, Type: arrow.BinaryTypes.String},
	}
	if opts.Label {
		fields = append(fields, arrow.Field{Name: ColLabel, Type: arrow.BinaryTypes.String})
	}
	fields = append(fields, arrow.Field{Name: ColImageEmbedding, Type: embeddingType(e.Dim())})
	if opts.Texts {
		fields = append(fields, arrow.Field{Name: ColTextEmbedding, Type: embeddingType(e.Dim())})
	}
	w, err := newOutWriter(out, arrow.NewSchema(fields, nil), MetaKindEmbedding, e.Dim(), opts.Metadata, opts.Writer)
	if err != nil {
		return nil, err
	}
	sum := &EmbedSummary{Out: out}
	write := func(c Chunk) error {
		b := w.Builder()
		for i, r := range c.Records {
			f := 0
			b.Field(f).(*array.StringBuilder).Append(r.ID)
			b.Field(f + 1).(*array.StringBuilder).Append(r.Caption)
			f += 2
			if opts.Label {
				b.Field(f).(*array.StringBuilder).Append(r.Label)
				f++
			}
			appendEmbedding(b.Field(f), c.Images[i])
			if opts.Texts {
				appendEmbedding(b.Field(f+1), c.Texts[i])
			}
			if err := w.EndRow(); err != nil {
				return err
			}
			sum.Rows++
		}
		return nil
	}
	emb, err := EmbedRecords(ctx, e, src, EmbedOptions{Chunk: opts.Chunk, Texts: opts.Texts, OnChunk: write, Progress: opts.progress("embed images")})
	if err != nil {
		w.Abort()
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	sum.Files = len(w.Committed())
	sum.Unusable = len(emb.Skipped)
	sum.Skipped = emb.Skipped[:min(len(emb.Skipped), maxListedSkips)]
	return sum, nil
}

// TextRecord is one text to embed.
type TextRecord struct {
	Key  string
	Text string
}

// WriteTextEmbeddings embeds texts into Arrow shards in out: key, text, text_embedding.
func WriteTextEmbeddings(ctx context.Context, e Embedder, src iter.Seq2[TextRecord, error], out string, opts EmbedWriteOptions) (*EmbedSummary, error) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: shards.ColKey, Type: arrow.BinaryTypes.String},
		{Name: ColText, Type: arrow.BinaryTypes.String},
		{Name: ColTextEmbedding, Type: embeddingType(e.Dim())},
	}, nil)
	w, err := newOutWriter(out, schema, MetaKindEmbedding, e.Dim(), opts.Metadata, opts.Writer)
	if err != nil {
		return nil, err
	}
	sum := &EmbedSummary{Out: out}
	chunk := opts.Chunk
	if chunk <= 0 {
		chunk = 256
	}
	progress := opts.progress("embed texts")
	var pending []TextRecord
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		texts := make([]string, len(pending))
		for i, t := range pending {
			texts[i] = t.Text
		}
		emb, err := e.EmbedTexts(texts)
		if err != nil {
			return fmt.Errorf("embed texts: %w", err)
		}
		if len(emb) != len(texts) {
			return fmt.Errorf("embed texts: %d embeddings for %d texts", len(emb), len(texts))
		}
		b := w.Builder()
		for i, t := range pending {
			b.Field(0).(*array.StringBuilder).Append(t.Key)
			b.Field(1).(*array.StringBuilder).Append(t.Text)
			appendEmbedding(b.Field(2), emb[i])
			if err := w.EndRow(); err != nil {
				return err
			}
		}
		sum.Rows += len(pending)
		pending = pending[:0]
		progress(sum.Rows)
		return nil
	}
	fail := func(err error) (*EmbedSummary, error) {
		w.Abort()
		return nil, err
	}
	for t, err := range src {
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return fail(err)
		}
		pending = append(pending, t)
		if len(pending) == chunk {
			if err := flush(); err != nil {
				return fail(err)
			}
		}
	}
	if err := flush(); err != nil {
		return fail(err)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	sum.Files = len(w.Committed())
	return sum, nil
}

// ScoreOptions configures Score.
type ScoreOptions struct {
	RunOptions
	ImageCol, CaptionCol string  // defaults "image", "caption"
	MinScore             float64 // keep only rows scoring at least this (NaN: keep all, unusable images included)
	Metadata             map[string]string
	Writer               shards.WriterOptions
}

// ScoreSummary is Score's report: counts and the score distribution (to choose a threshold).
type ScoreSummary struct {
	EmbedSummary
	Scored    int                `json:"scored"`
	Dropped   int                `json:"dropped"` // below --min-score, or unusable under a threshold
	MinScore  *float64           `json:"min_score,omitempty"`
	Mean      float64            `json:"mean"`
	Quantiles map[string]float64 `json:"quantiles"` // p1, p5, p25, p50, p75, p95, p99
}

// Score computes the CLIP score (cosine similarity of the image and caption embeddings, the
// quantity LAION-400M/5B thresholded: 0.28 and 0.3 with ViT-B/32) of every row of the image shards
// in in, and writes the shards to out with a clip_score column added (replaced when present; null
// for an unusable image). With MinScore set, only rows scoring at least MinScore are written.
func Score(ctx context.Context, e Embedder, in, out string, opts ScoreOptions) (*ScoreSummary, error) {
	if opts.ImageCol == "" {
		opts.ImageCol = shards.ColImage
	}
	if opts.CaptionCol == "" {
		opts.CaptionCol = shards.ColCaption
	}
	if err := checkOutDir(out); err != nil {
		return nil, err
	}
	batches, err := shards.ReadPath(ctx, in, nil)
	if err != nil {
		return nil, fmt.Errorf("score: %w", err)
	}
	filter := !math.IsNaN(opts.MinScore)
	sum := &ScoreSummary{EmbedSummary: EmbedSummary{Out: out}}
	if filter {
		sum.MinScore = &opts.MinScore
	}
	var w *shards.Writer
	var scores []float64
	progress := opts.progress("score")
	done := 0
	fail := func(err error) (*ScoreSummary, error) {
		if w != nil {
			w.Abort()
		}
		return nil, err
	}
	for rec, err := range batches {
		if err != nil {
			return fail(err)
		}
		schema := rec.Schema()
		ii, ci := schema.FieldIndices(opts.ImageCol), schema.FieldIndices(opts.CaptionCol)
		if len(ii) == 0 || len(ci) == 0 {
			return fail(fmt.Errorf("score %s: shards need columns %q and %q", in, opts.ImageCol, opts.CaptionCol))
		}
		imgCol, ok1 := rec.Column(ii[0]).(*array.Binary)
		capCol, ok2 := rec.Column(ci[0]).(*array.String)
		if !ok1 || !ok2 {
			return fail(fmt.Errorf("score %s: %q must be binary and %q utf8", in, opts.ImageCol, opts.CaptionCol))
		}
		n := int(rec.NumRows())
		batchScores, skipped, err := scoreBatch(e, imgCol, capCol, opts.Chunk)
		if err != nil {
			return fail(err)
		}
		sum.Unusable += len(skipped)
		for _, s := range skipped {
			if len(sum.Skipped) < maxListedSkips {
				sum.Skipped = append(sum.Skipped, Skip{fmt.Sprintf("%s row %d", in, done+s), "unusable image"})
			}
		}
		keep := make([]bool, n)
		for i, s := range batchScores {
			if !math.IsNaN(s) {
				sum.Scored++
				scores = append(scores, s)
			}
			keep[i] = !filter || (!math.IsNaN(s) && s >= opts.MinScore)
			if !keep[i] {
				sum.Dropped++
			}
		}
		outRec, err := withScores(rec, batchScores, keep)
		if err != nil {
			return fail(err)
		}
		if w == nil {
			md := outRec.Schema().Metadata()
			wopts := opts.Writer
			wopts.Metadata = map[string]string{}
			for i, k := range md.Keys() {
				wopts.Metadata[k] = md.Values()[i]
			}
			for k, v := range opts.Metadata {
				wopts.Metadata[k] = v
			}
			if w, err = shards.NewWriter(out, arrow.NewSchema(outRec.Schema().Fields(), nil), wopts); err != nil {
				outRec.Release()
				return fail(err)
			}
		}
		if outRec.NumRows() > 0 {
			err = w.WriteRecord(outRec)
		}
		sum.Rows += int(outRec.NumRows())
		outRec.Release()
		if err != nil {
			return fail(fmt.Errorf("score: write: %w", err))
		}
		done += n
		progress(done)
	}
	if w == nil {
		return nil, fmt.Errorf("score: %s holds no rows", in)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	sum.Files = len(w.Committed())
	sum.Mean, sum.Quantiles = distribution(scores)
	return sum, nil
}

// scoreBatch embeds the images and captions of one batch, chunk by chunk; unusable images score NaN.
func scoreBatch(e Embedder, imgs *array.Binary, caps *array.String, chunk int) (scores []float64, skipped []int, err error) {
	if chunk <= 0 {
		chunk = 256
	}
	n := imgs.Len()
	scores = make([]float64, n)
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		var data [][]byte
		var texts []string
		var rows []int
		for i := lo; i < hi; i++ {
			if imgs.IsNull(i) || len(imgs.Value(i)) == 0 {
				scores[i] = math.NaN()
				skipped = append(skipped, i)
				continue
			}
			data = append(data, imgs.Value(i))
			caption := ""
			if !caps.IsNull(i) {
				caption = caps.Value(i)
			}
			texts = append(texts, caption)
			rows = append(rows, i)
		}
		if len(rows) == 0 {
			continue
		}
		iemb, ierr := e.EmbedImages(data)
		if ierr != nil && len(iemb) != len(data) {
			return nil, nil, fmt.Errorf("score: embed images: %w", ierr)
		}
		temb, err := e.EmbedTexts(texts)
		if err != nil || len(temb) != len(texts) {
			return nil, nil, fmt.Errorf("score: embed captions: %d of %d, %v", len(temb), len(texts), err)
		}
		for k, i := range rows {
			if iemb[k] == nil {
				scores[i] = math.NaN()
				skipped = append(skipped, i)
				continue
			}
			scores[i] = Cosine(iemb[k], temb[k])
		}
	}
	return scores, skipped, nil
}

// withScores returns rec's kept rows with a clip_score column (replacing one already there).
func withScores(rec arrow.RecordBatch, scores []float64, keep []bool) (arrow.RecordBatch, error) {
	mem := memory.DefaultAllocator
	sb := array.NewFloat32Builder(mem)
	defer sb.Release()
	for i, s := range scores {
		if !keep[i] {
			continue
		}
		if math.IsNaN(s) {
			sb.AppendNull()
		} else {
			sb.Append(float32(s))
		}
	}
	scoreArr := sb.NewArray()
	defer scoreArr.Release()
	var fields []arrow.Field
	var cols []arrow.Array
	for i, f := range rec.Schema().Fields() {
		if f.Name == ColCLIPScore {
			continue
		}
		col, err := keepRows(mem, rec.Column(i), keep)
		if err != nil {
			for _, c := range cols {
				c.Release()
			}
			return nil, fmt.Errorf("score: column %s: %w", f.Name, err)
		}
		fields = append(fields, f)
		cols = append(cols, col)
	}
	fields = append(fields, arrow.Field{Name: ColCLIPScore, Type: arrow.PrimitiveTypes.Float32, Nullable: true})
	scoreArr.Retain()
	cols = append(cols, scoreArr)
	md := rec.Schema().Metadata()
	out := array.NewRecordBatch(arrow.NewSchema(fields, &md), cols, int64(scoreArr.Len()))
	for _, c := range cols {
		c.Release()
	}
	return out, nil
}

// keepRows returns the rows of a whose keep flag is set, concatenating runs of kept rows (any type).
func keepRows(mem memory.Allocator, a arrow.Array, keep []bool) (arrow.Array, error) {
	if !slices.Contains(keep, false) {
		a.Retain()
		return a, nil
	}
	var parts []arrow.Array
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	for i := 0; i < len(keep); {
		if !keep[i] {
			i++
			continue
		}
		j := i
		for j < len(keep) && keep[j] {
			j++
		}
		parts = append(parts, array.NewSlice(a, int64(i), int64(j)))
		i = j
	}
	if len(parts) == 0 {
		return array.MakeArrayOfNull(mem, a.DataType(), 0), nil
	}
	return array.Concatenate(parts, mem)
}

func distribution(v []float64) (mean float64, q map[string]float64) {
	q = map[string]float64{}
	if len(v) == 0 {
		return 0, q
	}
	slices.Sort(v)
	var s float64
	for _, x := range v {
		s += x
	}
	for _, p := range []int{1, 5, 25, 50, 75, 95, 99} {
		idx := int(math.Round(float64(p) / 100 * float64(len(v)-1)))
		q["p"+strconv.Itoa(p)] = v[idx]
	}
	return s / float64(len(v)), q
}

// ScoreRecords computes the CLIP score of every (image, caption) record of src (e.g. local image
// files listed with captions) and writes key, url (the record's ID), caption, clip_score to out.
// Unusable images are not written; they are counted and listed.
func ScoreRecords(ctx context.Context, e Embedder, src iter.Seq2[Record, error], out string, opts ScoreOptions) (*ScoreSummary, error) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: shards.ColKey, Type: arrow.BinaryTypes.String},
		{Name: shards.ColURL, Type: arrow.BinaryTypes.String},
		{Name: shards.ColCaption, Type: arrow.BinaryTypes.String},
		{Name: ColCLIPScore, Type: arrow.PrimitiveTypes.Float32},
	}, nil)
	w, err := newOutWriter(out, schema, "scores", e.Dim(), opts.Metadata, opts.Writer)
	if err != nil {
		return nil, err
	}
	filter := !math.IsNaN(opts.MinScore)
	sum := &ScoreSummary{EmbedSummary: EmbedSummary{Out: out}}
	if filter {
		sum.MinScore = &opts.MinScore
	}
	var scores []float64
	n := 0
	write := func(c Chunk) error {
		b := w.Builder()
		for i, r := range c.Records {
			s := Cosine(c.Images[i], c.Texts[i])
			sum.Scored++
			scores = append(scores, s)
			if filter && s < opts.MinScore {
				sum.Dropped++
				continue
			}
			b.Field(0).(*array.StringBuilder).Append(shards.SampleKey(n/10000, n%10000))
			b.Field(1).(*array.StringBuilder).Append(r.ID)
			b.Field(2).(*array.StringBuilder).Append(r.Caption)
			b.Field(3).(*array.Float32Builder).Append(float32(s))
			n++
			if err := w.EndRow(); err != nil {
				return err
			}
		}
		return nil
	}
	emb, err := EmbedRecords(ctx, e, src, EmbedOptions{Chunk: opts.Chunk, Texts: true, OnChunk: write, Progress: opts.progress("score")})
	if err != nil {
		w.Abort()
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	sum.Rows = n
	sum.Files = len(w.Committed())
	sum.Unusable = len(emb.Skipped)
	sum.Skipped = emb.Skipped[:min(len(emb.Skipped), maxListedSkips)]
	sum.Mean, sum.Quantiles = distribution(scores)
	return sum, nil
}
