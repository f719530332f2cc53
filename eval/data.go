package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/witdata/wit/shards"
)

// Embedder is what a trained checkpoint provides (inference.Embedder satisfies it). EmbedImages may
// return a row per image with nil rows for unusable images together with a non-nil error: those
// images are skipped and reported, the others used. Any other error is fatal.
type Embedder interface {
	EmbedImages(images [][]byte) ([][]float32, error)
	EmbedTexts(texts []string) ([][]float32, error)
	Dim() int
}

// Record is one evaluation item: an image and what is known about it.
type Record struct {
	ID      string // shard key, or the image's path relative to the image folder
	Image   []byte // encoded image (JPEG, PNG, GIF); dropped once embedded
	Caption string
	Label   string // class folder name, or the label column's value
	SHA256  string // hex digest of the original image when the shard records it
}

// ImageExts are the file extensions ImageDir reads (case-insensitive).
var ImageExts = []string{".jpg", ".jpeg", ".png", ".gif"}

// MaxImageFileBytes bounds the size of one image file ImageDir reads.
const MaxImageFileBytes = 64 << 20

// ImageDir walks dir in lexical order and yields every image file: ID is its slash-separated path
// relative to dir and Label the first folder under dir ("" for files directly in dir), which is the
// layout of torchvision's ImageFolder (one subfolder per class). Hidden files and folders are skipped.
func ImageDir(ctx context.Context, dir string) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		st, err := os.Stat(dir)
		if err != nil {
			yield(Record{}, fmt.Errorf("image folder: %w", err))
			return
		}
		if !st.IsDir() {
			yield(Record{}, fmt.Errorf("image folder %s: not a directory", dir))
			return
		}
		stop := errors.New("stop")
		err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			name := d.Name()
			if path != dir && strings.HasPrefix(name, ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() || !slices.Contains(ImageExts, strings.ToLower(filepath.Ext(name))) {
				return nil
			}
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			label, _, nested := strings.Cut(rel, "/")
			if !nested {
				label = ""
			}
			data, err := readLimited(path, MaxImageFileBytes)
			if err != nil {
				return err
			}
			if !yield(Record{ID: rel, Image: data, Label: label}, nil) {
				return stop
			}
			return nil
		})
		if err != nil && !errors.Is(err, stop) {
			yield(Record{}, fmt.Errorf("image folder %s: %w", dir, err))
		}
	}
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}

// CountImageDir counts the files ImageDir would yield (for progress totals).
func CountImageDir(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && slices.Contains(ImageExts, strings.ToLower(filepath.Ext(d.Name()))) {
			n++
		}
		return nil
	})
	return n, err
}

// ShardOptions selects the columns ShardDir reads.
type ShardOptions struct {
	ImageCol   string // default "image"; "" with NoImages
	CaptionCol string // default "caption"
	LabelCol   string // optional: a utf8 column whose value is Record.Label
	NoImages   bool   // read captions and labels only
}

// ShardDir yields the rows of the image shards in dir (file order): key, image, caption, sha256
// (when the shards have it) and the label column when asked for. Rows with a null image or caption
// come through with the field empty (the caller decides).
func ShardDir(ctx context.Context, dir string, opts ShardOptions) iter.Seq2[Record, error] {
	if opts.ImageCol == "" {
		opts.ImageCol = shards.ColImage
	}
	if opts.CaptionCol == "" {
		opts.CaptionCol = shards.ColCaption
	}
	return func(yield func(Record, error) bool) {
		files, err := shards.ListFiles(dir)
		if err != nil {
			yield(Record{}, err)
			return
		}
		if len(files) == 0 {
			yield(Record{}, fmt.Errorf("shards %s: no *.arrow files", dir))
			return
		}
		f, err := shards.Open(files[0])
		if err != nil {
			yield(Record{}, err)
			return
		}
		schema := f.Schema()
		f.Close()
		cols := []string{opts.CaptionCol}
		if !opts.NoImages {
			cols = append(cols, opts.ImageCol)
		}
		if opts.LabelCol != "" && opts.LabelCol != opts.CaptionCol {
			cols = append(cols, opts.LabelCol)
		}
		for _, c := range cols {
			if len(schema.FieldIndices(c)) == 0 {
				yield(Record{}, fmt.Errorf("shards %s: no column %q (columns: %s)", dir, c, strings.Join(fieldNames(schema), ", ")))
				return
			}
		}
		for _, opt := range []string{shards.ColKey, shards.ColSHA256} {
			if len(schema.FieldIndices(opt)) > 0 {
				cols = append(cols, opt)
			}
		}
		row := 0
		for rec, err := range shards.ReadDir(ctx, dir, cols) {
			if err != nil {
				yield(Record{}, err)
				return
			}
			get := func(name string) (arrow.Array, error) {
				idx := rec.Schema().FieldIndices(name)
				if len(idx) == 0 {
					return nil, nil
				}
				return rec.Column(idx[0]), nil
			}
			str := func(name string) (*array.String, error) {
				a, _ := get(name)
				if a == nil {
					return nil, nil
				}
				s, ok := a.(*array.String)
				if !ok {
					return nil, fmt.Errorf("shards %s: column %q is %s, want utf8", dir, name, a.DataType())
				}
				return s, nil
			}
			caption, err1 := str(opts.CaptionCol)
			label, err2 := str(opts.LabelCol)
			key, err3 := str(shards.ColKey)
			sha, err4 := str(shards.ColSHA256)
			var img *array.Binary
			var err5 error
			if !opts.NoImages {
				a, _ := get(opts.ImageCol)
				var ok bool
				if img, ok = a.(*array.Binary); !ok {
					err5 = fmt.Errorf("shards %s: column %q is %s, want binary", dir, opts.ImageCol, a.DataType())
				}
			}
			if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
				yield(Record{}, err)
				return
			}
			value := func(a *array.String, i int) string {
				if a == nil || a.IsNull(i) {
					return ""
				}
				return a.Value(i)
			}
			for i := range int(rec.NumRows()) {
				r := Record{ID: value(key, i), Caption: value(caption, i), Label: value(label, i), SHA256: value(sha, i)}
				if r.ID == "" {
					r.ID = fmt.Sprintf("row%d", row)
				}
				if opts.LabelCol == opts.CaptionCol && opts.LabelCol != "" {
					r.Label = r.Caption
				}
				if img != nil && !img.IsNull(i) {
					r.Image = slices.Clone(img.Value(i)) // the batch is released after this loop
				}
				row++
				if !yield(r, nil) {
					return
				}
			}
		}
	}
}

func fieldNames(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i := range out {
		out[i] = s.Field(i).Name
	}
	return out
}

// CountShardRows counts the rows of the shards in dir from the files' footers (for progress totals).
func CountShardRows(dir string) (int64, error) {
	files, err := shards.ListFiles(dir)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, path := range files {
		f, err := shards.Open(path)
		if err != nil {
			return 0, err
		}
		n, err := f.NumRows()
		f.Close()
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// Skip is an item left out of an evaluation, and why.
type Skip struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// Embedded holds image embeddings beside their records (image bytes dropped).
type Embedded struct {
	Records []Record
	Images  *Matrix // row i belongs to Records[i]
	// Captions holds the caption embeddings (row i of Records[i]) when EmbedOptions.Texts.
	Captions *Matrix
	Skipped  []Skip
}

// EmbedOptions tunes EmbedRecords.
type EmbedOptions struct {
	Chunk    int                // images per Embedder call (default 256: decoding runs in parallel inside it)
	Keep     func(*Record) bool // optional filter, applied before embedding (skipped silently)
	Progress func(done int)     // called after each chunk with the records embedded so far
	Texts    bool               // also embed each record's caption (Embedded gets Captions)
	OnChunk  func(Chunk) error  // optional: receives each embedded chunk (streaming writers); then nothing is accumulated
}

// Chunk is one embedded chunk for streaming consumers.
type Chunk struct {
	Records []Record    // usable records of the chunk (images still attached)
	Images  [][]float32 // aligned with Records
	Texts   [][]float32 // caption embeddings when EmbedOptions.Texts, else nil
	Skipped []Skip
}

// EmbedRecords embeds the images of src in chunks. Records without an image, or whose image the
// embedder cannot use, are skipped and listed. With OnChunk set, chunks are handed over as they
// are done and the result holds only the skips (bounded memory for `wit embed` and `wit score`).
func EmbedRecords(ctx context.Context, e Embedder, src iter.Seq2[Record, error], opts EmbedOptions) (*Embedded, error) {
	if opts.Chunk <= 0 {
		opts.Chunk = 256
	}
	out := &Embedded{Images: &Matrix{Dim: e.Dim()}}
	if opts.Texts {
		out.Captions = &Matrix{Dim: e.Dim()}
	}
	captions := out.Captions
	done := 0
	var pending []Record
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		c, err := embedChunk(e, pending, opts.Texts)
		if err != nil {
			return err
		}
		pending = pending[:0]
		done += len(c.Records) + len(c.Skipped)
		out.Skipped = append(out.Skipped, c.Skipped...)
		if opts.OnChunk != nil {
			if err := opts.OnChunk(c); err != nil {
				return err
			}
		} else {
			for i, r := range c.Records {
				r.Image = nil
				out.Records = append(out.Records, r)
				if err := out.Images.Append(c.Images[i]); err != nil {
					return fmt.Errorf("embed %s: %w", r.ID, err)
				}
				if captions != nil {
					if err := captions.Append(c.Texts[i]); err != nil {
						return fmt.Errorf("embed caption of %s: %w", r.ID, err)
					}
				}
			}
		}
		if opts.Progress != nil {
			opts.Progress(done)
		}
		return nil
	}
	for r, err := range src {
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if opts.Keep != nil && !opts.Keep(&r) {
			continue
		}
		if len(r.Image) == 0 {
			out.Skipped = append(out.Skipped, Skip{r.ID, "no image"})
			continue
		}
		pending = append(pending, r)
		if len(pending) == opts.Chunk {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

func embedChunk(e Embedder, recs []Record, texts bool) (Chunk, error) {
	imgs := make([][]byte, len(recs))
	for i := range recs {
		imgs[i] = recs[i].Image
	}
	emb, err := e.EmbedImages(imgs)
	if err != nil && len(emb) != len(recs) {
		return Chunk{}, fmt.Errorf("embed images: %w", err)
	}
	var c Chunk
	for i, v := range emb {
		if v == nil {
			reason := "unusable image"
			if err != nil {
				reason = "unusable image (" + firstLine(err.Error()) + ")"
			}
			c.Skipped = append(c.Skipped, Skip{recs[i].ID, reason})
			continue
		}
		if len(v) != e.Dim() {
			return Chunk{}, fmt.Errorf("embed images: %s: %d values, want %d", recs[i].ID, len(v), e.Dim())
		}
		c.Records = append(c.Records, recs[i])
		c.Images = append(c.Images, v)
	}
	if texts && len(c.Records) > 0 {
		caps := make([]string, len(c.Records))
		for i, r := range c.Records {
			caps[i] = r.Caption
		}
		if c.Texts, err = e.EmbedTexts(caps); err != nil {
			return Chunk{}, fmt.Errorf("embed captions: %w", err)
		}
		if len(c.Texts) != len(caps) {
			return Chunk{}, fmt.Errorf("embed captions: %d embeddings for %d captions", len(c.Texts), len(caps))
		}
	}
	return c, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// EmbedTexts embeds texts in chunks into a Matrix, reporting progress after each chunk.
func EmbedTexts(ctx context.Context, e Embedder, texts []string, chunk int, progress func(done int)) (*Matrix, error) {
	if chunk <= 0 {
		chunk = 256
	}
	m := &Matrix{Dim: e.Dim(), Data: make([]float32, 0, len(texts)*e.Dim())}
	for start := 0; start < len(texts); start += chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		part := texts[start:min(start+chunk, len(texts))]
		emb, err := e.EmbedTexts(part)
		if err != nil {
			return nil, fmt.Errorf("embed texts: %w", err)
		}
		if len(emb) != len(part) {
			return nil, fmt.Errorf("embed texts: %d embeddings for %d texts", len(emb), len(part))
		}
		for _, v := range emb {
			if err := m.Append(v); err != nil {
				return nil, fmt.Errorf("embed texts: %w", err)
			}
		}
		if progress != nil {
			progress(start + len(part))
		}
	}
	return m, nil
}

// Progress prints a throttled progress line ("what: done/total (p%), rate/s, eta") to W.
type Progress struct {
	W     io.Writer
	What  string
	Total int64 // 0: unknown
	Every time.Duration

	start, last time.Time
}

// NewProgress starts a progress reporter; w nil discards.
func NewProgress(w io.Writer, what string, total int64) *Progress {
	now := time.Now()
	return &Progress{W: w, What: what, Total: total, Every: 2 * time.Second, start: now, last: now}
}

// Update reports done items, printing at most once per Every.
func (p *Progress) Update(done int64) {
	if p == nil || p.W == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < p.Every && (p.Total == 0 || done < p.Total) {
		return
	}
	p.last = now
	p.print(done, now)
}

// Finish prints the final line.
func (p *Progress) Finish(done int64) {
	if p == nil || p.W == nil {
		return
	}
	p.print(done, time.Now())
}

func (p *Progress) print(done int64, now time.Time) {
	el := now.Sub(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(done) / el
	}
	if p.Total > 0 {
		eta := ""
		if rate > 0 && done < p.Total {
			eta = fmt.Sprintf(", eta %s", time.Duration(float64(p.Total-done)/rate*float64(time.Second)).Round(time.Second))
		}
		fmt.Fprintf(p.W, "%s: %d/%d (%.0f%%), %.1f/s%s\n", p.What, done, p.Total, 100*float64(done)/float64(p.Total), rate, eta)
		return
	}
	fmt.Fprintf(p.W, "%s: %d, %.1f/s\n", p.What, done, rate)
}
