// Package input reads the tabular inputs wit stages accept — seed lists, URL lists and caption
// files in the formats img2dataset takes — as one stream of rows with named columns.
//
// Formats are chosen by extension (or Options.Format): txt (one value a line, '#' comments), csv
// (RFC 4180) and tsv (IANA: tabs, no quoting, \t \n \r \\ escapes), each with a header row, jsonl
// (one object a line), json (objects, or one array of objects), parquet, and arrow (an Arrow IPC
// file or a directory of shard files, read through Options.Arrow). Any of them but parquet may be gzipped (".gz"). Rows come
// out with Values aligned to Options.Columns, read lazily so memory stays flat for inputs of any
// size.
//
// A malformed row — bad CSV quoting, another number of fields than the header, invalid UTF-8, a
// NUL byte, a JSON line that does not parse, a line over MaxRecordBytes — is reported in the
// stream as a *BadRowError with its file, line and reason, and reading goes on after it if the
// consumer goes on; every other error ends the stream. A stage hands each error to a BadRowLog,
// which skips and logs bad rows (bad-rows.jsonl beside the output) or stops at the first,
// following the stage's --bad-rows policy.
package input

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
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
)

// Options says which columns to read.
type Options struct {
	// Columns to return, in this order. For txt inputs the line goes to Columns[0].
	Columns []string
	// Required columns must exist in the input's header/schema (default: Columns[0]).
	Required []string
	// Format overrides detection: txt, csv, tsv, jsonl, json, parquet or arrow.
	Format string
	// Arrow reads the "arrow" format (an Arrow IPC file or a directory of shard files); callers
	// pass shards.ReadPath. It is not read here directly so that this package depends on no
	// stage's data package. Without it, arrow inputs are refused.
	Arrow func(ctx context.Context, path string, columns []string) (iter.Seq2[arrow.RecordBatch, error], error)
	// KeepInvalidUTF8 names columns whose values may hold invalid UTF-8: they are passed on as
	// they are for the caller to repair or drop (the filter does, counting them) instead of making
	// the row malformed. In JSON inputs encoding/json has already put U+FFFD in place of the bad
	// bytes (of any field) when this is set.
	KeepInvalidUTF8 []string
}

// Row is one input record.
type Row struct {
	Values []string // aligned with Options.Columns; "" where the input has no value
	Index  int64    // 0-based number of the row among the rows returned
	Line   int64    // 1-based line where the row starts (text formats; 0 for parquet, arrow, json arrays)
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
			r.readTxt(newLineReader(br))
		case "csv":
			r.readDelimited(newLineReader(br), ',')
		case "tsv":
			r.readDelimited(newLineReader(br), '\t')
		case "jsonl":
			r.readJSONLines(newLineReader(br))
		case "json":
			r.readJSON(br)
		default:
			yield(Row{}, fmt.Errorf("input %s: unknown format %q (want one of %v)", path, format, Formats))
		}
	}
}

type reader struct {
	ctx     context.Context
	path    string
	opts    Options
	yield   func(Row, error) bool
	n       int64 // rows returned
	records int64 // records seen, bad ones included
	done    bool
}

// emit sends one row; it returns false when the consumer stopped or the context ended.
func (r *reader) emit(values []string) bool { return r.emitLine(values, 0) }

// emitLine sends one row that starts on line (0 = not a text format).
func (r *reader) emitLine(values []string, line int64) bool {
	if r.done {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.fail(err)
		return false
	}
	r.records++
	row := Row{Values: values, Index: r.n, Line: line}
	r.n++
	if !r.yield(row, nil) {
		r.done = true
		return false
	}
	return true
}

// bad reports a malformed row; it returns false when the consumer stopped (as a consumer that
// treats bad rows as fatal does) or the context ended.
func (r *reader) bad(b BadRow) bool {
	if r.done {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.fail(err)
		return false
	}
	r.records++
	b.File, b.Record = r.path, r.records
	if len(b.Text) > maxLoggedText {
		b.Text = b.Text[:maxLoggedText]
	}
	if !r.yield(Row{}, &BadRowError{b}) {
		r.done = true
		return false
	}
	return true
}

// keepsInvalid reports whether column c may hold invalid UTF-8 (Options.KeepInvalidUTF8).
func (r *reader) keepsInvalid(c string) bool {
	for _, k := range r.opts.KeepInvalidUTF8 {
		if k == c {
			return true
		}
	}
	return false
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

func (r *reader) readTxt(lr *lineReader) {
	keepInvalid := r.keepsInvalid(r.opts.Columns[0])
	for {
		l, ok := lr.next()
		if !ok {
			if err := lr.readErr(); err != nil {
				r.failf("line %d: %v", lr.last+1, err)
			}
			return
		}
		reason := ""
		switch {
		case l.tooLong:
			reason = BadTooLong
		case bytes.IndexByte(l.text, 0) >= 0:
			reason = BadNUL
		}
		s := string(l.text)
		if l.num == 1 {
			s = strings.TrimPrefix(s, "\ufeff")
		}
		s = strings.TrimSpace(s)
		if reason == "" && (s == "" || strings.HasPrefix(s, "#")) {
			continue
		}
		if reason == "" && !keepInvalid && !utf8.ValidString(s) {
			reason = BadUTF8
		}
		if reason != "" {
			if !r.bad(BadRow{Line: l.num, Reason: reason, Text: string(l.text)}) {
				return
			}
			continue
		}
		values := make([]string, len(r.opts.Columns))
		values[0] = s
		if !r.emitLine(values, l.num) {
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

// readJSONLines reads one JSON object a line; a line that is not one is a malformed row.
func (r *reader) readJSONLines(lr *lineReader) {
	for {
		l, ok := lr.next()
		if !ok {
			if err := lr.readErr(); err != nil {
				r.failf("line %d: %v", lr.last+1, err)
			}
			return
		}
		text := l.text
		if l.num == 1 {
			text = bytes.TrimPrefix(text, []byte("\ufeff"))
		}
		if len(bytes.TrimSpace(text)) == 0 && !l.tooLong {
			continue
		}
		var obj map[string]any
		reason, detail := "", ""
		switch {
		case l.tooLong:
			reason = BadTooLong
		case len(r.opts.KeepInvalidUTF8) == 0 && !utf8.Valid(text):
			reason = BadUTF8
		default:
			if err := json.Unmarshal(text, &obj); err != nil || obj == nil {
				reason = BadJSON
				if err != nil {
					detail = err.Error()
				} else {
					detail = "not an object"
				}
			}
		}
		var values []string
		if reason == "" {
			values, reason, detail = r.jsonValues(obj)
		}
		if reason != "" {
			if !r.bad(BadRow{Line: l.num, Reason: reason, Detail: detail, Text: string(l.text)}) {
				return
			}
			continue
		}
		if !r.emitLine(values, l.num) {
			return
		}
	}
}

// jsonValues picks the requested fields of a JSON object.
func (r *reader) jsonValues(obj map[string]any) ([]string, string, string) {
	for _, req := range r.opts.Required {
		if _, ok := obj[req]; !ok {
			return nil, BadMissing, "no field " + strconv.Quote(req)
		}
	}
	values := make([]string, len(r.opts.Columns))
	for i, c := range r.opts.Columns {
		values[i] = jsonString(obj[c])
	}
	return values, "", ""
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
			// The decoder cannot find the next record after a syntax error: this ends the input.
			r.failf("record %d: %v", r.records+1, err)
			return
		}
		values, reason, detail := r.jsonValues(obj)
		if reason != "" {
			if !r.bad(BadRow{Reason: reason, Detail: detail}) {
				return
			}
			continue
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
	if r.opts.Arrow == nil {
		r.failf("arrow inputs are not read here (no Options.Arrow)")
		return
	}
	batches, err := r.opts.Arrow(r.ctx, r.path, nil)
	if err != nil {
		r.fail(fmt.Errorf("input: %w", err))
		return
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
		bad := ""
		for i, g := range get {
			values[i] = g(row)
			if bad == "" && !utf8.ValidString(values[i]) && !r.keepsInvalid(r.opts.Columns[i]) {
				bad = r.opts.Columns[i]
			}
		}
		if bad != "" {
			if !r.bad(BadRow{Reason: BadUTF8, Detail: "column " + bad}) {
				return false
			}
			continue
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
