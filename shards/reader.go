package shards

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/witdata/wit/internal/storage"
)

// ListFiles returns the committed shard files in dir ("NNNNN.arrow"), sorted by number, as
// locations inside dir (paths, or URLs on object storage). Temporary files and other names are
// ignored. A local directory must exist; a folder on object storage that an unfinished writer
// marked incomplete (storage.IncompleteMarker) is an error wrapping storage.ErrIncomplete.
func ListFiles(dir string) ([]string, error) {
	entries, err := listEntries(dir)
	if err != nil {
		return nil, err
	}
	if err := storage.CheckComplete(dir, entries); err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	type numbered struct {
		n    int
		path string
	}
	var files []numbered
	for _, e := range entries {
		if e.IsDir {
			continue
		}
		if n, ok := FileIndex(e.Name); ok {
			files = append(files, numbered{n, storage.Join(dir, e.Name)})
		}
	}
	slices.SortFunc(files, func(a, b numbered) int { return a.n - b.n })
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.path
	}
	return out, nil
}

// ErrCorrupt marks a shard file that cannot be read as Arrow IPC.
var ErrCorrupt = errors.New("corrupt shard")

// File is an open shard file.
type File struct {
	f      storage.Reader
	r      *ipc.FileReader
	path   string
	schema *arrow.Schema
	blocks []ipcBlock // record batch blocks, bounds-checked against the file
	// VerifyChecksums makes Batch check each batch against the checksum written with it (true
	// after Open). Batches of shards written before checksums have none and are not checked.
	VerifyChecksums bool
}

// Open opens a shard file and reads its footer. A truncated or foreign file gives an error that
// wraps ErrCorrupt.
func Open(path string) (*File, error) {
	f, err := storage.OpenFile(context.Background(), path)
	if err != nil {
		return nil, fmt.Errorf("shards: open %s: %w", path, err)
	}
	return openReader(f, path)
}

// openReader reads the footer of the shard file f (at path, for messages); it closes f on error.
func openReader(f storage.Reader, path string) (_ *File, err error) {
	// Bounds-check the footer and block sizes first: a corrupt length makes arrow-go allocate
	// whatever it says (hundreds of GB), which no recover can catch.
	blocks, err := checkStructure(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	defer func() {
		// The footer is a flatbuffer read without bounds checks; a corrupt one makes it panic.
		if p := recover(); p != nil {
			f.Close()
			err = fmt.Errorf("shards: %s: %w: %v", path, ErrCorrupt, p)
		}
	}()
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("shards: %s: %w: %v", path, ErrCorrupt, err)
	}
	if err := checkSchemaChecksum(r.Schema()); err != nil {
		f.Close()
		return nil, fmt.Errorf("shards: %s: %w", path, err)
	}
	if len(blocks) != r.NumRecords() {
		f.Close()
		return nil, fmt.Errorf("shards: %s: %w: %d record blocks, reader sees %d", path, ErrCorrupt, len(blocks), r.NumRecords())
	}
	return &File{f: f, r: r, path: path, schema: r.Schema(), blocks: blocks, VerifyChecksums: true}, nil
}

// Schema returns the file's schema.
func (f *File) Schema() *arrow.Schema { return f.schema }

// NumBatches returns the number of record batches in the file.
func (f *File) NumBatches() int { return f.r.NumRecords() }

// Batch reads record batch i, validated (buffer sizes, offsets) and, with VerifyChecksums,
// checked against its checksum. The batch is the caller's (it stays valid across later reads),
// and the caller releases it.
func (f *File) Batch(i int) (rec arrow.RecordBatch, err error) {
	defer func() {
		// The IPC reader trusts offsets in the file; a corrupt body can make it panic.
		if p := recover(); p != nil {
			rec, err = nil, fmt.Errorf("shards: %s batch %d: %w: %v", f.path, i, ErrCorrupt, p)
		}
	}()
	if i < 0 || i >= len(f.blocks) {
		return nil, fmt.Errorf("shards: %s: batch %d of %d", f.path, i, len(f.blocks))
	}
	if err := checkMessage(f.f, f.blocks[i]); err != nil {
		return nil, fmt.Errorf("shards: %s batch %d: %w: %v", f.path, i, ErrCorrupt, err)
	}
	rec, err = f.r.RecordBatchAt(i) // owned by the caller (RecordBatch would be reused by the next read)
	if err != nil {
		return nil, fmt.Errorf("shards: %s batch %d: %w: %v", f.path, i, ErrCorrupt, err)
	}
	if err := validate(rec); err != nil {
		rec.Release()
		return nil, fmt.Errorf("shards: %s batch %d: %w: %v", f.path, i, ErrCorrupt, err)
	}
	if f.VerifyChecksums {
		if _, err := f.CheckBatch(rec); err != nil {
			rec.Release()
			return nil, fmt.Errorf("shards: %s batch %d: %w", f.path, i, err)
		}
	}
	return rec, nil
}

// HasChecksums reports whether the file was written with a checksum in every batch (false for
// shards written before wit recorded them).
func (f *File) HasChecksums() bool { return hasChecksums(f.schema) }

// CheckBatch compares a batch of this file with the checksum written with it. present is false
// for a batch without one (a shard written before checksums); err wraps ErrChecksum and
// ErrCorrupt when the content differs, or when the batch lacks one in a file whose batches all
// have one.
func (f *File) CheckBatch(rec arrow.RecordBatch) (present bool, err error) {
	return checkBatch(rec, f.HasChecksums())
}

// NumRows counts the rows of all batches (it reads every batch's header).
func (f *File) NumRows() (int64, error) {
	var n int64
	for i := 0; i < f.NumBatches(); i++ {
		rec, err := f.Batch(i)
		if err != nil {
			return n, err
		}
		n += rec.NumRows()
		rec.Release()
	}
	return n, nil
}

// Close closes the file.
func (f *File) Close() error {
	f.r.Close()
	return f.f.Close()
}

// projection returns the field indices of columns in schema (nil: all).
func projection(schema *arrow.Schema, columns []string, path string) ([]int, error) {
	if columns == nil {
		return nil, nil
	}
	idx := make([]int, len(columns))
	for i, c := range columns {
		found := schema.FieldIndices(c)
		if len(found) == 0 {
			return nil, fmt.Errorf("shards: %s has no column %q (has %v)", path, c, fieldNames(schema))
		}
		idx[i] = found[0]
	}
	return idx, nil
}

func fieldNames(s *arrow.Schema) []string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return names
}

// project returns a batch with only the given columns, in that order.
func project(rec arrow.RecordBatch, idx []int) arrow.RecordBatch {
	if idx == nil {
		rec.Retain()
		return rec
	}
	fields := make([]arrow.Field, len(idx))
	cols := make([]arrow.Array, len(idx))
	for i, j := range idx {
		fields[i] = rec.Schema().Field(j)
		cols[i] = rec.Column(j)
	}
	md := rec.Schema().Metadata()
	return array.NewRecordBatch(arrow.NewSchema(fields, &md), cols, rec.NumRows())
}

// ReadFile streams the record batches of one file, projected to columns (nil: all). Each batch
// is released after the loop body returns: retain it to keep it.
func ReadFile(path string, columns []string) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		f, err := Open(path)
		if err != nil {
			yield(nil, err)
			return
		}
		defer f.Close()
		idx, err := projection(f.schema, columns, path)
		if err != nil {
			yield(nil, err)
			return
		}
		for i := 0; i < f.NumBatches(); i++ {
			rec, err := f.Batch(i)
			if err != nil {
				yield(nil, err)
				return
			}
			out := project(rec, idx)
			rec.Release()
			ok := yield(out, nil)
			out.Release()
			if !ok {
				return
			}
		}
	}
}

// ReadDir streams the record batches of every committed file in dir, in file order.
func ReadDir(ctx context.Context, dir string, columns []string) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		files, err := ListFiles(dir)
		if err != nil {
			yield(nil, err)
			return
		}
		for _, path := range files {
			for rec, err := range ReadFile(path, columns) {
				if err == nil {
					err = ctx.Err()
				}
				if !yield(rec, err) || err != nil {
					return
				}
			}
		}
	}
}

// ReadPath streams the record batches of path: one Arrow IPC file, or the committed shard files
// of a directory in file order (ReadDir). It checks first that path exists and, for a directory,
// that it holds shard files, so that a wrong input fails before any output is started.
func ReadPath(ctx context.Context, path string, columns []string) (iter.Seq2[arrow.RecordBatch, error], error) {
	st, err := storage.Stat(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	if !st.IsDir {
		return ReadFile(path, columns), nil
	}
	files, err := ListFiles(path)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("shards: directory %s holds no shard files (*%s)", path, Ext)
	}
	return ReadDir(ctx, path, columns), nil
}

// Captions streams the non-null captions (ColCaption) of the shard files of dir, in file order.
// The sequence ends at the first read error, which err then returns.
func Captions(ctx context.Context, dir string) (captions iter.Seq[string], err func() error) {
	var readErr error
	captions = func(yield func(string) bool) {
		for rec, err := range ReadDir(ctx, dir, []string{ColCaption}) {
			if err != nil {
				readErr = fmt.Errorf("read captions from %s: %w", dir, err)
				return
			}
			col, ok := rec.Column(0).(*array.String)
			if !ok {
				readErr = fmt.Errorf("read captions from %s: column %q is %s, want utf8", dir, ColCaption, rec.Column(0).DataType())
				return
			}
			for i := range col.Len() {
				if col.IsValid(i) && !yield(col.Value(i)) {
					return
				}
			}
		}
	}
	return captions, func() error { return readErr }
}

// validate checks what a corrupt file could break before values are read: buffer sizes
// (array.ValidateRecord) and, in O(rows), that variable-length offsets rise and stay inside
// their data. array.ValidateRecordFull does this too but also rescans every byte of every
// string and is 4x slower on image shards.
func validate(rec arrow.RecordBatch) error {
	if err := array.ValidateRecord(rec); err != nil {
		return err
	}
	for i, col := range rec.Columns() {
		if err := validateOffsets(col); err != nil {
			return fmt.Errorf("column %q: %w", rec.Schema().Field(i).Name, err)
		}
	}
	return nil
}

func validateOffsets(a arrow.Array) error {
	var offsets []int32
	var dataLen int
	switch c := a.(type) {
	case *array.String, *array.Binary:
		bufs := a.Data().Buffers()
		if len(bufs) < 3 || bufs[1] == nil {
			return nil // ValidateRecord has checked the layout
		}
		offsets = arrow.Int32Traits.CastFromBytes(bufs[1].Bytes())
		if bufs[2] != nil {
			dataLen = bufs[2].Len()
		}
	case *array.List:
		offsets = arrow.Int32Traits.CastFromBytes(a.Data().Buffers()[1].Bytes())
		dataLen = c.ListValues().Len()
		if err := validateOffsets(c.ListValues()); err != nil {
			return err
		}
	default:
		return nil
	}
	if a.Len() == 0 {
		return nil
	}
	start, end := a.Data().Offset(), a.Data().Offset()+a.Len()
	if len(offsets) < end+1 {
		return fmt.Errorf("%d offsets for %d values", len(offsets), end)
	}
	prev := offsets[start]
	if prev < 0 {
		return fmt.Errorf("negative offset %d", prev)
	}
	for _, o := range offsets[start : end+1] {
		if o < prev || int(o) > dataLen {
			return fmt.Errorf("offset %d out of order or past %d data bytes", o, dataLen)
		}
		prev = o
	}
	return nil
}
