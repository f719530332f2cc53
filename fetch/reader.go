package fetch

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/witdata/wit/internal/input"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// Item is one image to download with the text that goes with it.
type Item struct {
	URL            string   `json:"url"`                       // http(s) URL, file:// URL or local path
	Caption        string   `json:"caption,omitempty"`         // stored as the sample's caption
	PageURL        string   `json:"page_url,omitempty"`        // page the image was found on
	CaptionSource  string   `json:"caption_source,omitempty"`  // alt, title, figcaption, og
	Language       string   `json:"language,omitempty"`        // caption language from the filter
	MatchedQueries []string `json:"matched_queries,omitempty"` // query-list entries the caption matched
}

// InputOptions says which columns of an input file hold the item fields.
type InputOptions struct {
	// URLCol holds the image URL. Default: "image_url" for Arrow inputs that have it (crawl and
	// filter output), else "url" (img2dataset's default).
	URLCol string
	// CaptionCol holds the caption (default "caption"; a missing column gives empty captions).
	CaptionCol string
	// Format overrides detection by extension (see internal/input).
	Format string
}

// Optional columns read when present, under the names the crawler and filter write.
const (
	colLanguage = shards.ColLanguage
	colQueries  = shards.ColMatchedQueries
)

// ReadInput streams the items of an input file: an Arrow IPC file or a directory of shard files
// (pairs or filtered pairs: image_url, caption, page_url, caption_source, matched_queries,
// language when present) or a URL list in any format internal/input reads (txt, csv, tsv, jsonl,
// json, parquet; optionally gzipped). Items come out in file order, the same order on every run,
// which is what resuming relies on. Rows with an empty URL are passed on (they fail as bad_url)
// so that positions stay stable.
func ReadInput(ctx context.Context, path string, opts InputOptions) iter.Seq2[Item, error] {
	if opts.CaptionCol == "" {
		opts.CaptionCol = shards.ColCaption
	}
	format := opts.Format
	if format == "" {
		f, _, err := input.DetectFormat(path)
		if err != nil {
			return func(yield func(Item, error) bool) { yield(Item{}, fmt.Errorf("fetch input: %w", err)) }
		}
		format = f
	}
	if format == "arrow" {
		return readArrowInput(ctx, path, opts)
	}
	if opts.URLCol == "" {
		opts.URLCol = "url"
	}
	cols := []string{opts.URLCol, opts.CaptionCol, shards.ColPageURL, shards.ColCaptionSource, colLanguage}
	if format != "parquet" {
		// Text formats carry matched_queries as a JSON array; parquet would have a list column,
		// which internal/input does not read as text.
		cols = append(cols, colQueries)
	}
	return func(yield func(Item, error) bool) {
		for row, err := range input.Read(ctx, path, input.Options{Columns: cols, Required: []string{opts.URLCol}, Format: opts.Format}) {
			if err != nil {
				yield(Item{}, fmt.Errorf("fetch input: %w", err))
				return
			}
			v := row.Values
			it := Item{URL: strings.TrimSpace(v[0]), Caption: v[1], PageURL: v[2], CaptionSource: v[3], Language: v[4]}
			if len(v) > 5 {
				it.MatchedQueries = parseQueries(v[5])
			}
			if !yield(it, nil) {
				return
			}
		}
	}
}

// parseQueries reads matched_queries written as text: a JSON array, or one bare entry.
func parseQueries(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if strings.HasPrefix(s, "[") {
		var out []string
		if json.Unmarshal([]byte(s), &out) == nil {
			return out
		}
	}
	return []string{s}
}

// readArrowInput reads pair-like Arrow files directly (rather than through internal/input) so
// that the list column matched_queries comes through.
func readArrowInput(ctx context.Context, path string, opts InputOptions) iter.Seq2[Item, error] {
	return func(yield func(Item, error) bool) {
		st, err := storage.Stat(ctx, path)
		if err != nil {
			yield(Item{}, fmt.Errorf("fetch input: %w", err))
			return
		}
		var batches iter.Seq2[arrow.RecordBatch, error]
		if st.IsDir {
			files, err := shards.ListFiles(path)
			if err != nil {
				yield(Item{}, fmt.Errorf("fetch input: %w", err))
				return
			}
			if len(files) == 0 {
				yield(Item{}, fmt.Errorf("fetch input %s: directory holds no shard files (*.arrow)", path))
				return
			}
			batches = shards.ReadDir(ctx, path, nil)
		} else {
			batches = shards.ReadFile(path, nil)
		}
		for rec, err := range batches {
			if err != nil {
				yield(Item{}, fmt.Errorf("fetch input: %w", err))
				return
			}
			if err := ctx.Err(); err != nil {
				yield(Item{}, err)
				return
			}
			items, err := arrowItems(rec, opts)
			if err != nil {
				yield(Item{}, fmt.Errorf("fetch input %s: %w", path, err))
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
		}
	}
}

func arrowItems(rec arrow.RecordBatch, opts InputOptions) ([]Item, error) {
	s := rec.Schema()
	urlCol := opts.URLCol
	if urlCol == "" {
		urlCol = shards.ColImageURL
		if len(s.FieldIndices(urlCol)) == 0 {
			urlCol = "url"
		}
	}
	text := func(name string, required bool) (func(int) string, error) {
		idx := s.FieldIndices(name)
		if len(idx) == 0 {
			if required {
				return nil, fmt.Errorf("no column %q (columns: %s)", name, strings.Join(fieldNames(s), ", "))
			}
			return func(int) string { return "" }, nil
		}
		switch c := rec.Column(idx[0]).(type) {
		case *array.String:
			return func(i int) string {
				if c.IsNull(i) {
					return ""
				}
				return strings.Clone(c.Value(i))
			}, nil
		case *array.LargeString:
			return func(i int) string {
				if c.IsNull(i) {
					return ""
				}
				return strings.Clone(c.Value(i))
			}, nil
		default:
			return nil, fmt.Errorf("column %q has type %s, want utf8", name, c.DataType())
		}
	}
	var getters [5]func(int) string
	for i, col := range []struct {
		name     string
		required bool
	}{{urlCol, true}, {opts.CaptionCol, false}, {shards.ColPageURL, false}, {shards.ColCaptionSource, false}, {colLanguage, false}} {
		g, err := text(col.name, col.required)
		if err != nil {
			return nil, err
		}
		getters[i] = g
	}
	queries := func(int) []string { return nil }
	if idx := s.FieldIndices(colQueries); len(idx) > 0 {
		switch c := rec.Column(idx[0]).(type) {
		case *array.List:
			vals, ok := c.ListValues().(*array.String)
			if !ok {
				return nil, fmt.Errorf("column %q has type %s, want list<utf8>", colQueries, c.DataType())
			}
			queries = func(i int) []string {
				if c.IsNull(i) {
					return nil
				}
				start, end := c.ValueOffsets(i)
				var out []string
				for j := start; j < end; j++ {
					out = append(out, strings.Clone(vals.Value(int(j))))
				}
				return out
			}
		case *array.String:
			queries = func(i int) []string { return parseQueries(c.Value(i)) }
		default:
			return nil, fmt.Errorf("column %q has type %s, want list<utf8>", colQueries, c.DataType())
		}
	}
	out := make([]Item, rec.NumRows())
	for i := range out {
		out[i] = Item{
			URL:            strings.TrimSpace(getters[0](i)),
			Caption:        getters[1](i),
			PageURL:        getters[2](i),
			CaptionSource:  getters[3](i),
			Language:       getters[4](i),
			MatchedQueries: queries(i),
		}
	}
	return out, nil
}

func fieldNames(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name
	}
	return out
}

// Items adapts a slice to a source for Run (tests, small programs).
func Items(items []Item) iter.Seq2[Item, error] {
	return func(yield func(Item, error) bool) {
		for _, it := range items {
			if !yield(it, nil) {
				return
			}
		}
	}
}
