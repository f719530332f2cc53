package shards

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/witdata/wit/internal/storage"
)

// FieldInfo describes one column.
type FieldInfo struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

// FileInfo describes one shard file.
type FileInfo struct {
	File     string `json:"file"`
	Rows     int64  `json:"rows"`
	Bytes    int64  `json:"bytes"`
	Batches  int    `json:"batches"`
	RowsFrom string `json:"rows_from"` // "stats", "manifest" or "counted" (every batch read)
	Error    string `json:"error,omitempty"`
}

// Cell is one column value of a previewed row. Binary values are never included: an image shows
// as its size and JPEG dimensions.
type Cell struct {
	Name  string
	Value any
}

// RowPreview is one row, columns in schema order; it marshals as a JSON object in that order.
type RowPreview []Cell

// MarshalJSON writes the row as an object with the columns in schema order.
func (r RowPreview) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<777 bytes, JPEG 24x16>" stays readable
	b.WriteByte('{')
	for i, c := range r {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(appendJSONString(nil, c.Name))
		b.WriteByte(':')
		if err := enc.Encode(c.Value); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a row written by MarshalJSON, keeping the column order.
func (r *RowPreview) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("shards: row preview is not a JSON object")
	}
	*r = (*r)[:0]
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		*r = append(*r, Cell{Name: name, Value: v})
	}
	_, err := dec.Token()
	return err
}

// InspectReport is what Inspect finds.
type InspectReport struct {
	Path          string            `json:"path"`
	Kind          string            `json:"kind"` // KindSamples, KindPairs or KindOther
	Schema        []FieldInfo       `json:"schema"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	Files         []FileInfo        `json:"files"`
	TotalRows     int64             `json:"total_rows"`
	TotalBytes    int64             `json:"total_bytes"`
	Samples       []RowPreview      `json:"samples"`
	Manifest      *Manifest         `json:"manifest,omitempty"`
	ManifestError string            `json:"manifest_error,omitempty"`
	HasSizes      bool              `json:"has_sizes_json"`
	StatsFiles    int               `json:"stats_files"`
	TempFiles     []string          `json:"temp_files,omitempty"`
}

// Unreadable returns how many of the report's files could not be read, plus one when
// manifest.json could not: the input is not what a reader can use.
func (r *InspectReport) Unreadable() int {
	n := 0
	for _, f := range r.Files {
		if f.Error != "" {
			n++
		}
	}
	if r.ManifestError != "" {
		n++
	}
	return n
}

// InspectOptions controls Inspect.
type InspectOptions struct {
	Rows int // rows to preview (default 3; negative: none)
}

// Inspect describes a shard directory or one shard file: schema, per-file rows, bytes and
// batches, a few rows, and the manifest. Row counts come from the NNNNN_stats.json or manifest
// entry that records the file's current size, otherwise every batch is read. A file that cannot
// be read is reported in its FileInfo, not as an error.
func Inspect(path string, opts InspectOptions) (*InspectReport, error) {
	if opts.Rows == 0 {
		opts.Rows = 3
	}
	st, err := statPath(path)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	rep := &InspectReport{Path: path, Files: []FileInfo{}, Samples: []RowPreview{}}
	var files []string
	dir := path
	if st.IsDir {
		if files, err = ListFiles(path); err != nil {
			return nil, fmt.Errorf("inspect: %w", err)
		}
		entries, _ := listEntries(path)
		for _, e := range entries {
			if strings.Contains(e.Name, tempMarker) {
				rep.TempFiles = append(rep.TempFiles, e.Name)
			}
			if _, ok := StatsIndex(e.Name); ok {
				rep.StatsFiles++
			}
		}
		if _, err := statPath(storage.Join(path, ManifestName)); err == nil {
			if rep.Manifest, err = ReadManifest(path); err != nil {
				rep.ManifestError = err.Error()
			}
		}
		_, err := statPath(storage.Join(path, SizesName))
		rep.HasSizes = err == nil
	} else {
		files = []string{path}
		dir = storage.Parent(path)
	}
	for _, p := range files {
		info := FileInfo{File: storage.Base(p), Bytes: fileSize(p)}
		f, err := Open(p)
		if err != nil {
			info.Error = trimPath(err, p)
			rep.Files = append(rep.Files, info)
			continue
		}
		info.Batches = f.NumBatches()
		if rep.Schema == nil {
			s := f.Schema()
			rep.Kind = KindOf(s)
			for _, fl := range s.Fields() {
				rep.Schema = append(rep.Schema, FieldInfo{Name: fl.Name, Type: fl.Type.String(), Nullable: fl.Nullable})
			}
			if md := s.Metadata(); md.Len() > 0 {
				rep.Metadata = map[string]string{}
				for i, k := range md.Keys() {
					rep.Metadata[k] = md.Values()[i]
				}
			}
		}
		if n, from := rowsRecorded(dir, p); from != "" {
			info.Rows, info.RowsFrom = n, from
		} else {
			info.RowsFrom = "counted"
			if info.Rows, err = f.NumRows(); err != nil {
				info.Error = trimPath(err, p)
			}
		}
		if len(rep.Samples) < opts.Rows && info.Error == "" {
			rep.Samples = appendPreviews(rep.Samples, f, opts.Rows)
		}
		f.Close()
		rep.TotalRows += info.Rows
		rep.TotalBytes += info.Bytes
		rep.Files = append(rep.Files, info)
	}
	return rep, nil
}

// rowsRecorded returns a shard's row count from its stats record or the manifest when they
// record the file's current size; from is "" when neither does.
func rowsRecorded(dir, path string) (n int64, from string) {
	size := fileSize(path)
	base := storage.Base(path)
	if idx, ok := FileIndex(path); ok {
		if ss, err := ReadShardStats(storage.Join(dir, StatsName(idx))); err == nil && ss.File == base && ss.Bytes == size {
			return ss.Successes, "stats"
		}
	}
	if m, err := ReadManifest(dir); err == nil {
		for _, s := range m.Shards {
			if s.File == base && s.Bytes == size {
				return s.Count, "manifest"
			}
		}
	}
	return 0, ""
}

func appendPreviews(dst []RowPreview, f *File, limit int) []RowPreview {
	for b := 0; b < f.NumBatches() && len(dst) < limit; b++ {
		rec, err := f.Batch(b)
		if err != nil {
			return dst
		}
		for i := 0; i < int(rec.NumRows()) && len(dst) < limit; i++ {
			row := make(RowPreview, 0, rec.NumCols())
			for j, fl := range rec.Schema().Fields() {
				row = append(row, Cell{Name: fl.Name, Value: previewValue(rec.Column(j), i)})
			}
			dst = append(dst, row)
		}
		rec.Release()
	}
	return dst
}

const previewChars = 160

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// previewValue returns a printable, JSON-friendly value; binary data becomes a description.
func previewValue(col arrow.Array, i int) any {
	if col.IsNull(i) {
		return nil
	}
	switch c := col.(type) {
	case *array.String:
		return truncate(c.Value(i), previewChars)
	case *array.Binary:
		return describeBinary(c.Value(i))
	case *array.Int32:
		return c.Value(i)
	case *array.Int64:
		return c.Value(i)
	case *array.Uint64:
		return c.Value(i)
	case *array.Timestamp:
		return c.Value(i).ToTime(c.DataType().(*arrow.TimestampType).Unit).UTC().Format(time.RFC3339Nano)
	case *array.List:
		start, end := c.ValueOffsets(i)
		out := make([]any, 0, min(end-start, 10))
		for k := start; k < end && k < start+10; k++ {
			out = append(out, previewValue(c.ListValues(), int(k)))
		}
		if end-start > 10 {
			out = append(out, fmt.Sprintf("… %d more", end-start-10))
		}
		return out
	default:
		return truncate(col.ValueStr(i), previewChars)
	}
}

func describeBinary(b []byte) string {
	if len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 {
		if cfg, err := jpeg.DecodeConfig(bytes.NewReader(b)); err == nil {
			return fmt.Sprintf("<%d bytes, JPEG %dx%d>", len(b), cfg.Width, cfg.Height)
		}
		return fmt.Sprintf("<%d bytes, JPEG with a bad header>", len(b))
	}
	return fmt.Sprintf("<%d bytes>", len(b))
}

// ---- stats ----

// Count is one value of a distribution and how often it occurs.
type Count struct {
	Value string  `json:"value"`
	Count int64   `json:"count"`
	Share float64 `json:"share"` // of all rows
}

// DatasetStats summarises the contents of a shard directory.
type DatasetStats struct {
	Dir              string  `json:"dir"`
	Kind             string  `json:"kind"`
	Files            int     `json:"files"`
	Samples          int64   `json:"samples"`
	FileBytes        int64   `json:"file_bytes"`
	ImageBytes       int64   `json:"image_bytes,omitempty"`
	MeanImageBytes   float64 `json:"mean_image_bytes,omitempty"`
	MeanCaptionChars float64 `json:"mean_caption_chars"` // in characters (runes)
	MeanCaptionWords float64 `json:"mean_caption_words"`
	EmptyCaptions    int64   `json:"empty_captions"`
	// ImageSizes is the distribution of stored image sizes ("256x256"), most frequent first.
	ImageSizes         []Count `json:"image_sizes,omitempty"`
	DistinctImageSizes int     `json:"distinct_image_sizes,omitempty"`
	// OriginalSizes buckets the original images by their longer side, in size order.
	OriginalSizes   []Count `json:"original_sizes,omitempty"`
	CaptionSources  []Count `json:"caption_sources"`
	Languages       []Count `json:"languages"` // language (samples) or page_lang (pairs)
	TopQueries      []Count `json:"top_queries,omitempty"`
	WithQuery       int64   `json:"samples_with_query,omitempty"`
	DistinctQueries int     `json:"distinct_queries,omitempty"`
}

var originalBuckets = []struct {
	name  string
	below int
}{
	{"<256", 256}, {"256-511", 512}, {"512-1023", 1024}, {"1024-2047", 2048}, {"2048-4095", 4096}, {">=4096", 1 << 62},
}

// ComputeStats reads every batch of dir's shards once (one batch in memory) and summarises them;
// top limits the listed image sizes, languages and queries. A file that cannot be read stops it
// with an error (wit shards verify reports every problem).
func ComputeStats(ctx context.Context, dir string, top int) (*DatasetStats, error) {
	if top <= 0 {
		top = 20
	}
	files, err := ListFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("stats: no shard files (NNNNN.arrow) in %s", dir)
	}
	st := &DatasetStats{Dir: dir, Files: len(files)}
	sizes := map[[2]int32]int64{}
	origs := make([]int64, len(originalBuckets))
	sources, langs, queries := map[string]int64{}, map[string]int64{}, map[string]int64{}
	var chars, words int64
	for _, path := range files {
		st.FileBytes += fileSize(path)
		for rec, err := range ReadFile(path, nil) { // Open bounds-checks the structure first
			if err == nil {
				err = ctx.Err()
			}
			if err != nil {
				return nil, fmt.Errorf("stats: %w", err)
			}
			s := rec.Schema()
			if st.Kind == "" {
				st.Kind = KindOf(s)
			}
			str := func(name string) *array.String {
				if idx := s.FieldIndices(name); len(idx) > 0 {
					c, _ := rec.Column(idx[0]).(*array.String)
					return c
				}
				return nil
			}
			i32 := func(name string) *array.Int32 {
				if idx := s.FieldIndices(name); len(idx) > 0 {
					c, _ := rec.Column(idx[0]).(*array.Int32)
					return c
				}
				return nil
			}
			caption, source := str(ColCaption), str(ColCaptionSource)
			lang := str(ColLanguage)
			if lang == nil {
				lang = str(ColPageLang)
			}
			width, height := i32(ColWidth), i32(ColHeight)
			ow, oh := i32(ColOriginalWidth), i32(ColOriginalHeight)
			var image *array.Binary
			if idx := s.FieldIndices(ColImage); len(idx) > 0 {
				image, _ = rec.Column(idx[0]).(*array.Binary)
			}
			var mq *array.List
			var mqv *array.String
			if idx := s.FieldIndices(ColMatchedQueries); len(idx) > 0 {
				if mq, _ = rec.Column(idx[0]).(*array.List); mq != nil {
					mqv, _ = mq.ListValues().(*array.String)
				}
			}
			for i := 0; i < int(rec.NumRows()); i++ {
				if caption != nil {
					c := caption.Value(i)
					if strings.TrimSpace(c) == "" {
						st.EmptyCaptions++
					}
					chars += int64(utf8.RuneCountInString(c))
					words += int64(len(strings.Fields(c)))
				}
				if source != nil {
					sources[source.Value(i)]++
				}
				if lang != nil {
					langs[lang.Value(i)]++
				}
				if image != nil {
					st.ImageBytes += int64(len(image.Value(i)))
				}
				if width != nil && height != nil {
					sizes[[2]int32{width.Value(i), height.Value(i)}]++
				}
				if ow != nil && oh != nil {
					long := int(max(ow.Value(i), oh.Value(i)))
					for b, bk := range originalBuckets {
						if long < bk.below {
							origs[b]++
							break
						}
					}
				}
				if mq != nil && mqv != nil {
					start, end := mq.ValueOffsets(i)
					if end > start {
						st.WithQuery++
					}
					for k := start; k < end; k++ {
						q := mqv.Value(int(k))
						if _, ok := queries[q]; !ok {
							q = strings.Clone(q) // the map outlives the batch
						}
						queries[q]++
					}
				}
			}
			st.Samples += rec.NumRows()
		}
	}
	n := st.Samples
	share := func(c int64) float64 {
		if n == 0 {
			return 0
		}
		return float64(c) / float64(n)
	}
	if n > 0 {
		st.MeanCaptionChars = float64(chars) / float64(n)
		st.MeanCaptionWords = float64(words) / float64(n)
		st.MeanImageBytes = float64(st.ImageBytes) / float64(n)
	}
	if len(sizes) > 0 {
		m := make(map[string]int64, len(sizes))
		for k, c := range sizes {
			m[fmt.Sprintf("%dx%d", k[0], k[1])] = c
		}
		st.ImageSizes = topCounts(m, top, share)
		st.DistinctImageSizes = len(sizes)
	}
	if st.Kind == KindSamples {
		for b, bk := range originalBuckets {
			st.OriginalSizes = append(st.OriginalSizes, Count{Value: bk.name, Count: origs[b], Share: share(origs[b])})
		}
	}
	st.CaptionSources = topCounts(sources, 0, share)
	st.Languages = topCounts(langs, top, share)
	if len(queries) > 0 {
		st.TopQueries = topCounts(queries, top, share)
		st.DistinctQueries = len(queries)
	}
	return st, nil
}

// topCounts sorts m by count (then value) and keeps the first top (0: all).
func topCounts(m map[string]int64, top int, share func(int64) float64) []Count {
	out := make([]Count, 0, len(m))
	for v, c := range m {
		out = append(out, Count{Value: v, Count: c, Share: share(c)})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Value, b.Value)
	})
	if top > 0 && len(out) > top {
		out = out[:top]
	}
	return out
}
