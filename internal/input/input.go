// Package input reads the tabular inputs wit stages accept — seed lists, URL lists and caption
// files in the formats img2dataset takes — as one stream of rows with named columns.
//
// Formats are chosen by extension (or Options.Format): txt (one value a line, '#' comments), csv
// and tsv (header row), jsonl / json (objects; a .json file may also hold one array of objects),
// parquet, and arrow (an Arrow IPC file or a directory of shard files). Any of them may be gzipped
// (".gz"). Rows come out with Values aligned to Options.Columns, read lazily so memory stays flat
// for inputs of any size.
package input

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// Options says which columns to read.
type Options struct {
	// Columns to return, in this order. For txt inputs the line goes to Columns[0].
	Columns []string
	// Required columns must exist in the input's header/schema (default: Columns[0]).
	Required []string
	// Format overrides detection: txt, csv, tsv, jsonl, json, parquet or arrow.
	Format string
}

// Row is one input record.
type Row struct {
	Values []string // aligned with Options.Columns; "" where the input has no value
	Index  int64    // 0-based row number in the input
}

// Formats lists the accepted format names.
var Formats = []string{"txt", "csv", "tsv", "jsonl", "json", "parquet", "arrow"}

// DetectFormat returns the format implied by path's extension (".gz" stripped), or an error.
func DetectFormat(path string) (format string, gzipped bool, err error) {
	name := strings.ToLower(storage.Base(path))
	if strings.HasSuffix(name, ".gz") {
		gzipped = true
		name = strings.TrimSuffix(name, ".gz")
	}
	if st, err := storage.Stat(context.Background(), path); err == nil && st.IsDir {
		return "arrow", false, nil
	}
	switch ext := strings.TrimPrefix(filepath.Ext(name), "."); ext {
	case "txt", "lst", "list", "":
		return "txt", gzipped, nil
	case "csv", "tsv", "jsonl", "json", "parquet", "arrow":
		return ext, gzipped, nil
	case "ndjson":
		return "jsonl", gzipped, nil
	case "feather", "ipc":
		return "arrow", gzipped, nil
	default:
		return "", false, fmt.Errorf("input %s: unknown extension %q (want one of %v, optionally .gz)", path, ext, Formats)
	}
}

// Read streams the rows of path: a local path or an object-store URL (internal/storage). Errors
// carry the path and, where known, the line.
func Read(ctx context.Context, path string, opts Options) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		if len(opts.Columns) == 0 {
			yield(Row{}, fmt.Errorf("input %s: no columns requested", path))
			return
		}
		if opts.Required == nil {
			opts.Required = opts.Columns[:1]
		}
		format, gz, err := DetectFormat(path)
		if opts.Format != "" {
			format, err = opts.Format, nil
			gz = strings.HasSuffix(strings.ToLower(storage.Base(path)), ".gz")
		}
		if err != nil {
			yield(Row{}, err)
			return
		}
		r := &reader{ctx: ctx, path: path, opts: opts, yield: yield}
		switch format {
		case "arrow":
			r.readArrow()
			return
		case "parquet":
			r.readParquet(gz)
			return
		}
		f, err := storage.OpenFile(ctx, path)
		if err != nil {
			yield(Row{}, fmt.Errorf("input: %w", err))
			return
		}
		defer f.Close()
		var src io.Reader = f
		if gz {
			zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
			if err != nil {
				yield(Row{}, fmt.Errorf("input %s: gzip: %w", path, err))
				return
			}
			defer zr.Close()
			src = zr
		}
		br := bufio.NewReaderSize(src, 1<<16)
		switch format {
		case "txt":
			r.readTxt(br)
		case "csv":
			r.readCSV(br, ',')
		case "tsv":
			r.readCSV(br, '\t')
		case "jsonl", "json":
			r.readJSON(br)
		default:
			yield(Row{}, fmt.Errorf("input %s: unknown format %q (want one of %v)", path, format, Formats))
		}
	}
}

type reader struct {
	ctx   context.Context
	path  string
	opts  Options
	yield func(Row, error) bool
	n     int64
	done  bool
}

// emit sends one row; it returns false when the consumer stopped or the context ended.
func (r *reader) emit(values []string) bool {
	if r.done {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.fail(err)
		return false
	}
	row := Row{Values: values, Index: r.n}
	r.n++
	if !r.yield(row, nil) {
		r.done = true
		return false
	}
	return true
}

func (r *reader) fail(err error) {
	if !r.done {
		r.done = true
		r.yield(Row{}, err)
	}
}

func (r *reader) failf(format string, args ...any) {
	r.fail(fmt.Errorf("input %s: "+format, append([]any{r.path}, args...)...))
}

func (r *reader) readTxt(br *bufio.Reader) {
	line := 0
	for {
		s, err := br.ReadString('\n')
		if len(s) > 0 {
			line++
			s = strings.TrimSpace(strings.TrimPrefix(s, "\ufeff"))
			if s != "" && !strings.HasPrefix(s, "#") {
				if !utf8.ValidString(s) {
					r.failf("line %d: invalid UTF-8", line)
					return
				}
				values := make([]string, len(r.opts.Columns))
				values[0] = s
				if !r.emit(values) {
					return
				}
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			r.failf("line %d: %v", line+1, err)
			return
		}
	}
}

// columnIndex maps the requested columns onto the input's header; -1 where absent.
func (r *reader) columnIndex(header []string) ([]int, bool) {
	pos := make(map[string]int, len(header))
	for i, h := range header {
		pos[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	idx := make([]int, len(r.opts.Columns))
	for i, c := range r.opts.Columns {
		j, ok := pos[c]
		if !ok {
			j = -1
		}
		idx[i] = j
	}
	for _, req := range r.opts.Required {
		if _, ok := pos[req]; !ok {
			r.failf("no column %q (columns: %s)", req, strings.Join(header, ", "))
			return nil, false
		}
	}
	return idx, true
}

func (r *reader) readCSV(br *bufio.Reader, comma rune) {
	cr := csv.NewReader(br)
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	if comma == '\t' {
		cr.LazyQuotes = true
	}
	header, err := cr.Read()
	if err == io.EOF {
		return // empty file: no rows
	}
	if err != nil {
		r.failf("header: %v", err)
		return
	}
	idx, ok := r.columnIndex(append([]string(nil), header...))
	if !ok {
		return
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			r.failf("%v", err)
			return
		}
		values := make([]string, len(idx))
		for i, j := range idx {
			if j >= 0 && j < len(rec) {
				values[i] = rec[j]
			}
		}
		for _, v := range values {
			if !utf8.ValidString(v) {
				line, _ := cr.FieldPos(0)
				r.failf("line %d: invalid UTF-8", line)
				return
			}
		}
		if !r.emit(values) {
			return
		}
	}
}

func (r *reader) readJSON(br *bufio.Reader) {
	first, err := peekNonSpace(br)
	if err == io.EOF {
		return
	}
	if err != nil {
		r.failf("%v", err)
		return
	}
	dec := json.NewDecoder(br)
	dec.UseNumber()
	inArray := first == '['
	if inArray {
		if _, err := dec.Token(); err != nil {
			r.failf("%v", err)
			return
		}
	}
	for {
		if inArray && !dec.More() {
			return
		}
		var obj map[string]any
		err := dec.Decode(&obj)
		if err == io.EOF && !inArray {
			return
		}
		if err != nil {
			r.failf("record %d: %v", r.n+1, err)
			return
		}
		values := make([]string, len(r.opts.Columns))
		for i, c := range r.opts.Columns {
			values[i] = jsonString(obj[c])
		}
		for _, req := range r.opts.Required {
			if _, ok := obj[req]; !ok {
				r.failf("record %d: no field %q", r.n+1, req)
				return
			}
		}
		if !r.emit(values) {
			return
		}
	}
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return 0, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			br.ReadByte()
		case 0xEF: // UTF-8 BOM
			bom, err := br.Peek(3)
			if err == nil && bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
				br.Discard(3)
				continue
			}
			return b[0], nil
		default:
			return b[0], nil
		}
	}
}

func jsonString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func (r *reader) readArrow() {
	st, err := storage.Stat(r.ctx, r.path)
	if err != nil {
		r.fail(fmt.Errorf("input: %w", err))
		return
	}
	var batches iter.Seq2[arrow.RecordBatch, error]
	if st.IsDir {
		files, err := shards.ListFiles(r.path)
		if err != nil {
			r.fail(err)
			return
		}
		if len(files) == 0 {
			r.failf("directory holds no shard files (*.arrow)")
			return
		}
		batches = shards.ReadDir(r.ctx, r.path, nil)
	} else {
		batches = shards.ReadFile(r.path, nil)
	}
	for rec, err := range batches {
		if err != nil {
			r.fail(err)
			return
		}
		if !r.emitBatch(rec) {
			return
		}
	}
}

func (r *reader) readParquet(gz bool) {
	if gz {
		r.failf("gzipped parquet is not supported: parquet compresses its pages itself")
		return
	}
	f, err := storage.OpenFile(r.ctx, r.path)
	if err != nil {
		r.fail(fmt.Errorf("input: %w", err))
		return
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		r.failf("parquet: %v", err)
		return
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 4096}, memory.DefaultAllocator)
	if err != nil {
		r.failf("parquet: %v", err)
		return
	}
	schema, err := fr.Schema()
	if err != nil {
		r.failf("parquet schema: %v", err)
		return
	}
	var cols []int
	for _, c := range r.opts.Columns {
		if idx := schema.FieldIndices(c); len(idx) > 0 {
			cols = append(cols, idx[0])
		}
	}
	if _, ok := r.columnIndex(fieldNames(schema)); !ok {
		return
	}
	rr, err := fr.GetRecordReader(r.ctx, cols, nil)
	if err != nil {
		r.failf("parquet: %v", err)
		return
	}
	defer rr.Release()
	for rr.Next() {
		if !r.emitBatch(rr.RecordBatch()) {
			return
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		r.failf("parquet: %v", err)
	}
}

func fieldNames(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name
	}
	return out
}

// emitBatch turns the requested columns of a record batch into rows.
func (r *reader) emitBatch(rec arrow.RecordBatch) bool {
	idx, ok := r.columnIndex(fieldNames(rec.Schema()))
	if !ok {
		return false
	}
	get := make([]func(int) string, len(idx))
	for i, j := range idx {
		if j < 0 {
			get[i] = func(int) string { return "" }
			continue
		}
		g, err := stringGetter(rec.Column(j))
		if err != nil {
			r.failf("column %q: %v", r.opts.Columns[i], err)
			return false
		}
		get[i] = g
	}
	for row := 0; row < int(rec.NumRows()); row++ {
		values := make([]string, len(get))
		for i, g := range get {
			values[i] = g(row)
		}
		if !r.emit(values) {
			return false
		}
	}
	return true
}

// stringGetter reads a column's values as text; nulls read as "".
func stringGetter(a arrow.Array) (func(int) string, error) {
	switch c := a.(type) {
	case *array.String:
		return func(i int) string { return nullOr(c, i, c.Value) }, nil
	case *array.LargeString:
		return func(i int) string { return nullOr(c, i, c.Value) }, nil
	case *array.StringView:
		return func(i int) string { return nullOr(c, i, c.Value) }, nil
	case *array.Binary:
		return func(i int) string { return nullOr(c, i, c.ValueString) }, nil
	case *array.Int64:
		return func(i int) string {
			return nullOr(c, i, func(i int) string { return strconv.FormatInt(c.Value(i), 10) })
		}, nil
	case *array.Int32:
		return func(i int) string {
			return nullOr(c, i, func(i int) string { return strconv.FormatInt(int64(c.Value(i)), 10) })
		}, nil
	case *array.Float64:
		return func(i int) string {
			return nullOr(c, i, func(i int) string { return strconv.FormatFloat(c.Value(i), 'g', -1, 64) })
		}, nil
	default:
		if a.DataType().ID() == arrow.DICTIONARY {
			d := a.(*array.Dictionary)
			inner, err := stringGetter(d.Dictionary())
			if err != nil {
				return nil, err
			}
			return func(i int) string {
				if d.IsNull(i) {
					return ""
				}
				return inner(d.GetValueIndex(i))
			}, nil
		}
		return nil, fmt.Errorf("type %s is not text", a.DataType())
	}
}

func nullOr(a arrow.Array, i int, get func(int) string) string {
	if a.IsNull(i) {
		return ""
	}
	return get(i)
}
