package eval

import (
	"context"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"time"
)

// RunOptions are the knobs shared by the evaluation pipelines.
type RunOptions struct {
	Chunk    int       // images per Embedder call (default 256)
	Progress io.Writer // progress lines (nil: none)
	Total    int64     // expected records, for the progress line (0: unknown)
}

func (o RunOptions) progress(what string) func(int) {
	p := NewProgress(o.Progress, what, o.Total)
	return func(done int) { p.Update(int64(done)) }
}

// maxListedSkips bounds the skipped items a report lists by name (all are counted).
const maxListedSkips = 20

// ZeroShotReport is `wit eval zeroshot`'s output.
type ZeroShotReport struct {
	*ZeroShotResult
	Templates []string `json:"templates"`
	Prompts   int      `json:"prompts"`
	// Unlabelled counts records whose label is not one of the classes (UnknownLabels names the most
	// frequent of them); Unusable those without a usable image.
	Unlabelled    int            `json:"unlabelled"`
	UnknownLabels map[string]int `json:"unknown_labels,omitempty"`
	Unusable      int            `json:"unusable"`
	Skipped       []Skip         `json:"skipped,omitempty"` // the first few unusable ones
	Seconds       float64        `json:"seconds"`
}

// RunZeroShot embeds the prompts of classes × templates and the images of src, and classifies every
// image whose Label is one of the classes' labels (exact match); the others are counted as
// unlabelled.
func RunZeroShot(ctx context.Context, e Embedder, src iter.Seq2[Record, error], classes []Class, templates []string, ks []int, opts RunOptions) (*ZeroShotReport, error) {
	start := time.Now()
	if len(classes) == 0 {
		return nil, fmt.Errorf("zero-shot: no classes")
	}
	if len(templates) == 0 {
		return nil, fmt.Errorf("zero-shot: no templates")
	}
	index := make(map[string]int, len(classes))
	names := make([]string, len(classes))
	for i, c := range classes {
		if _, dup := index[c.Label]; dup {
			return nil, fmt.Errorf("zero-shot: class %q listed twice", c.Label)
		}
		index[c.Label] = i
		names[i] = c.Name
	}
	prompts := Prompts(names, templates)
	pe, err := EmbedTexts(ctx, e, prompts, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("zero-shot prompts: %w", err)
	}
	weights, err := ClassWeights(pe, len(classes), len(templates))
	if err != nil {
		return nil, err
	}
	rep := &ZeroShotReport{Templates: templates, Prompts: len(prompts), UnknownLabels: map[string]int{}}
	keep := func(r *Record) bool {
		if _, ok := index[r.Label]; ok {
			return true
		}
		rep.Unlabelled++
		rep.UnknownLabels[r.Label]++
		return false
	}
	emb, err := EmbedRecords(ctx, e, src, EmbedOptions{Chunk: opts.Chunk, Keep: keep, Progress: opts.progress("zero-shot images")})
	if err != nil {
		return nil, err
	}
	if emb.Images.Rows == 0 {
		return nil, fmt.Errorf("zero-shot: no usable image carries one of the %d class labels (%d unlabelled, %d unusable; labels seen: %s)",
			len(classes), rep.Unlabelled, len(emb.Skipped), topLabels(rep.UnknownLabels, 5))
	}
	labels := make([]int, len(emb.Records))
	for i, r := range emb.Records {
		labels[i] = index[r.Label]
	}
	if rep.ZeroShotResult, err = ZeroShot(ctx, emb.Images, weights, labels, names, ks); err != nil {
		return nil, err
	}
	for i := range rep.PerClass {
		rep.PerClass[i].Name = classes[i].Label
	}
	rep.Unusable = len(emb.Skipped)
	rep.Skipped = emb.Skipped[:min(len(emb.Skipped), maxListedSkips)]
	rep.UnknownLabels = topCounts(rep.UnknownLabels, maxListedSkips)
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func topCounts(m map[string]int, n int) map[string]int {
	if len(m) <= n {
		return m
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	out := make(map[string]int, n)
	for _, k := range keys[:n] {
		out[k] = m[k]
	}
	return out
}

func topLabels(m map[string]int, n int) string {
	var parts []string
	for k, v := range topCounts(m, n) {
		parts = append(parts, fmt.Sprintf("%q×%d", k, v))
	}
	slices.Sort(parts)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// RetrievalReport is `wit eval retrieval`'s output.
type RetrievalReport struct {
	*RetrievalResult
	Rows          int     `json:"rows"`           // records read
	Unusable      int     `json:"unusable"`       // records without a usable image
	EmptyCaptions int     `json:"empty_captions"` // records whose image stays in as a distractor only
	DuplicateRows int     `json:"duplicate_rows"` // records whose image (same SHA-256) was already embedded
	Skipped       []Skip  `json:"skipped,omitempty"`
	Seconds       float64 `json:"seconds"`
}

// RunRetrieval embeds the images and captions of src and measures retrieval both ways. Images with
// the same SHA-256 are one image (linked to each of their captions), identical captions one text
// (linked to each of their images), so duplicates neither double-count nor turn a correct answer into
// a miss. Records without a caption keep their image as a distractor.
func RunRetrieval(ctx context.Context, e Embedder, src iter.Seq2[Record, error], ks []int, opts RunOptions) (*RetrievalReport, error) {
	start := time.Now()
	rep := &RetrievalReport{}
	type row struct{ image, caption string }
	var rows []row
	seen := map[string]bool{}
	keep := func(r *Record) bool {
		rep.Rows++
		id := "row:" + r.ID
		if r.SHA256 != "" {
			id = "sha:" + r.SHA256
		}
		caption := strings.TrimSpace(r.Caption)
		rows = append(rows, row{id, caption})
		if caption == "" {
			rep.EmptyCaptions++
		}
		if seen[id] {
			rep.DuplicateRows++
			return false
		}
		seen[id] = true
		r.ID = id // the embedded record's ID is its image identity
		return true
	}
	emb, err := EmbedRecords(ctx, e, src, EmbedOptions{Chunk: opts.Chunk, Keep: keep, Progress: opts.progress("retrieval images")})
	if err != nil {
		return nil, err
	}
	imageRow := make(map[string]int, len(emb.Records))
	for i, r := range emb.Records {
		imageRow[r.ID] = i
	}
	textRow := map[string]int{}
	var texts []string
	var links []Link
	for _, r := range rows {
		img, ok := imageRow[r.image]
		if !ok || r.caption == "" {
			continue
		}
		t, ok := textRow[r.caption]
		if !ok {
			t = len(texts)
			textRow[r.caption] = t
			texts = append(texts, r.caption)
		}
		links = append(links, Link{img, t})
	}
	if len(links) == 0 {
		return nil, fmt.Errorf("retrieval: no usable image with a caption among %d records (%d unusable)", rep.Rows, len(emb.Skipped))
	}
	txt, err := EmbedTexts(ctx, e, texts, 0, NewProgressFunc(opts.Progress, "retrieval captions", int64(len(texts))))
	if err != nil {
		return nil, err
	}
	if rep.RetrievalResult, err = Retrieval(ctx, emb.Images, txt, links, ks); err != nil {
		return nil, err
	}
	rep.Unusable = len(emb.Skipped)
	rep.Skipped = emb.Skipped[:min(len(emb.Skipped), maxListedSkips)]
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// NewProgressFunc is a Progress as a callback (nil writer: no output).
func NewProgressFunc(w io.Writer, what string, total int64) func(int) {
	if w == nil {
		return nil
	}
	p := NewProgress(w, what, total)
	return func(done int) { p.Update(int64(done)) }
}
