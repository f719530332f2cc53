package shards

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/witdata/wit/internal/atomicfile"
	"github.com/witdata/wit/internal/storage"
)

// Ext is the extension of committed shard files.
const Ext = ".arrow"

// tempMarker separates a file's final name from the random suffix of its temporary name.
const tempMarker = atomicfile.TempMarker

// WriterOptions controls file rotation and the commit protocol of a Writer.
type WriterOptions struct {
	RowsPerFile  int               // rotate after this many rows (default 10000)
	MaxFileBytes int64             // also rotate once a file passes this many bytes (0: no limit)
	BatchRows    int               // rows per record batch inside a file (default 1024)
	FirstIndex   int               // number of the first file; -1: one past the highest committed file in the directory
	Metadata     map[string]string // schema metadata written into every file (default: the schema's own; the checksum keys are added)
	// BeforeCommit runs once a temporary file is complete and fsynced, before it is renamed to its
	// final name. An error aborts the commit and the temporary file is removed.
	BeforeCommit func(c Commit) error
	// AfterCommit runs after the rename.
	AfterCommit func(c Commit) error
	// StageDir, for a directory on object storage, is a local directory where each file is
	// written first and from which it is uploaded at commit (storage.CreateStaged), so that
	// BeforeCommit sees a complete, durable TempPath there; without it files stream to the store
	// and TempPath is empty. Local directories ignore it (files are staged beside their name).
	StageDir string
	// SharedDir says that other writers write into dir at the same time (with other file
	// numbers): its temporary files are theirs and are left alone; the caller removes its own.
	SharedDir bool
}

// Commit describes one completed file.
type Commit struct {
	Index    int    // file number
	Path     string // final location (a path, or a URL on object storage)
	TempPath string // local temporary file it was written to ("" when streamed to object storage)
	Rows     int    // rows in the file
	Bytes    int64  // file size
}

// Writer appends rows to rotating Arrow IPC files. It is not safe for concurrent use.
type Writer struct {
	ctx    context.Context
	dir    storage.Dir
	loc    string // dir's location, for Commit.Path
	schema *arrow.Schema
	opts   WriterOptions

	builder *array.RecordBuilder
	pending int // rows in builder

	file      storage.Writer
	ipcw      *ipc.FileWriter
	index     int // number of the open file (or the next one when file == nil)
	fileRows  int
	committed []Commit
	closed    bool
}

// FileName returns the final name of file number index.
func FileName(index int) string { return fmt.Sprintf("%05d%s", index, Ext) }

// NewWriter creates dir if needed and returns a Writer for schema. dir is a local path or an
// object-store URL (internal/storage). Leftover temporary files in dir (and in opts.StageDir) are
// removed: they belong to a run that was killed before it committed them.
func NewWriter(dir string, schema *arrow.Schema, opts WriterOptions) (*Writer, error) {
	if opts.RowsPerFile <= 0 {
		opts.RowsPerFile = 10000
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = 1024
	}
	if opts.BatchRows > opts.RowsPerFile {
		opts.BatchRows = opts.RowsPerFile
	}
	ctx := context.Background()
	d, err := storage.Open(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	if err := d.Mkdir(ctx); err != nil {
		return nil, fmt.Errorf("shards: create %s: %w", dir, err)
	}
	if !opts.SharedDir {
		if err := CleanTemp(dir); err != nil {
			return nil, err
		}
	}
	if _, local := d.Local(); local {
		opts.StageDir = ""
	} else if opts.StageDir != "" {
		if err := CleanTemp(opts.StageDir); err != nil {
			return nil, err
		}
	}
	if opts.FirstIndex < 0 {
		files, err := ListFiles(dir)
		if err != nil {
			return nil, err
		}
		opts.FirstIndex = 0
		if len(files) > 0 {
			last, _ := FileIndex(files[len(files)-1])
			opts.FirstIndex = last + 1
		}
	}
	// The schema's metadata (opts.Metadata when given), plus the checksum keys: every batch is
	// written with its checksum (checksum.go), the schema says so and carries its own.
	var keys, vals []string
	if len(opts.Metadata) > 0 {
		keys = slices.Sorted(maps.Keys(opts.Metadata))
		for _, k := range keys {
			vals = append(vals, opts.Metadata[k])
		}
	} else {
		keys, vals = schema.Metadata().Keys(), schema.Metadata().Values()
	}
	mk, mv := []string{MetaChecksum}, []string{checksumVersion}
	for i, k := range keys {
		if k != MetaChecksum && k != MetaSchemaCRC32C { // an input's, copied by a stage
			mk, mv = append(mk, k), append(mv, vals[i])
		}
	}
	md := arrow.NewMetadata(mk, mv)
	schema = arrow.NewSchema(schema.Fields(), &md)
	sum := fmt.Sprintf("%08x", SchemaChecksum(schema))
	md = arrow.NewMetadata(append(slices.Clone(mk), MetaSchemaCRC32C), append(slices.Clone(mv), sum))
	schema = arrow.NewSchema(schema.Fields(), &md)
	return &Writer{
		ctx:     ctx,
		dir:     d,
		loc:     dir,
		schema:  schema,
		opts:    opts,
		builder: array.NewRecordBuilder(memory.DefaultAllocator, schema),
		index:   opts.FirstIndex,
	}, nil
}

// Schema returns the schema of the written files (with metadata).
func (w *Writer) Schema() *arrow.Schema { return w.schema }

// Builder returns the record builder of the current batch. Append exactly one value to every
// field, then call EndRow.
func (w *Writer) Builder() *array.RecordBuilder { return w.builder }

// EndRow finishes the row appended to Builder; it may flush a batch and rotate the file.
func (w *Writer) EndRow() error {
	if w.closed {
		return errors.New("shards: write after close")
	}
	w.pending++
	if w.pending >= w.opts.BatchRows || w.fileRows+w.pending >= w.opts.RowsPerFile {
		return w.flush()
	}
	return nil
}

// WriteRecord appends a whole record batch (same schema fields) to the output.
func (w *Writer) WriteRecord(rec arrow.RecordBatch) error {
	if w.closed {
		return errors.New("shards: write after close")
	}
	if err := w.flush(); err != nil {
		return err
	}
	for off := int64(0); off < rec.NumRows(); {
		if err := w.open(); err != nil {
			return err
		}
		room := int64(w.opts.RowsPerFile - w.fileRows)
		n := min(room, rec.NumRows()-off)
		part := rec.NewSlice(off, off+n)
		err := w.writeBatch(part)
		part.Release()
		if err != nil {
			return err
		}
		off += n
		if err := w.maybeRotate(); err != nil {
			return err
		}
	}
	return nil
}

// Committed returns the files committed so far by this Writer.
func (w *Writer) Committed() []Commit { return w.committed }

// Rows returns the rows written by this Writer, committed or not.
func (w *Writer) Rows() int {
	n := w.fileRows + w.pending
	for _, c := range w.committed {
		n += c.Rows
	}
	return n
}

// Flush writes the buffered rows into the current file and commits it, even if it is not full.
// Stages call it at checkpoints so that what they have produced becomes visible.
func (w *Writer) Flush() error {
	if err := w.flush(); err != nil {
		return err
	}
	return w.commit()
}

// Close commits the last file. A Writer that wrote no rows leaves no file.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	err := w.Flush()
	w.closed = true
	w.builder.Release()
	return err
}

// Abort drops the rows not yet committed and removes the temporary file.
func (w *Writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.builder.Release()
	if w.file == nil {
		return nil
	}
	w.file.Abort()
	w.file, w.ipcw = nil, nil
	return nil
}

func (w *Writer) flush() error {
	if w.pending == 0 {
		return nil
	}
	if err := w.open(); err != nil {
		return err
	}
	rec := w.builder.NewRecordBatch()
	w.pending = 0
	err := w.writeBatch(rec)
	rec.Release()
	if err != nil {
		return err
	}
	return w.maybeRotate()
}

func (w *Writer) writeBatch(rec arrow.RecordBatch) error {
	rec = withChecksum(rec)
	defer rec.Release()
	if err := w.ipcw.Write(rec); err != nil {
		return fmt.Errorf("shards: write %s: %w", storage.Join(w.loc, FileName(w.index)), err)
	}
	w.fileRows += int(rec.NumRows())
	return nil
}

func (w *Writer) maybeRotate() error {
	if w.fileRows >= w.opts.RowsPerFile || (w.opts.MaxFileBytes > 0 && w.file.Size() >= w.opts.MaxFileBytes) {
		return w.commit()
	}
	return nil
}

func (w *Writer) open() error {
	if w.file != nil {
		return nil
	}
	name := FileName(w.index)
	var f storage.Writer
	var err error
	if w.opts.StageDir != "" {
		f, err = storage.CreateStaged(w.ctx, w.dir, name, w.opts.StageDir)
	} else {
		f, err = w.dir.Create(w.ctx, name)
	}
	if err != nil {
		return fmt.Errorf("shards: %w", err)
	}
	w.file = f
	w.ipcw, err = ipc.NewFileWriter(f, ipc.WithSchema(w.schema), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		f.Abort()
		w.file = nil
		return fmt.Errorf("shards: start %s: %w", storage.Join(w.loc, name), err)
	}
	w.fileRows = 0
	return nil
}

// commit finishes the open file: footer, fsync (on local disk or in StageDir), BeforeCommit
// hook, then the Writer's commit: rename and directory fsync, or the upload's final request.
func (w *Writer) commit() error {
	if w.file == nil {
		return nil
	}
	f := w.file
	w.file = nil
	defer f.Abort() // drops the file unless it was committed
	path := storage.Join(w.loc, FileName(w.index))
	if err := w.ipcw.Close(); err != nil {
		return fmt.Errorf("shards: finish %s: %w", path, err)
	}
	c := Commit{Index: w.index, Path: path, Rows: w.fileRows, Bytes: f.Size()}
	if s, ok := f.(storage.Staged); ok {
		if err := s.Finish(); err != nil {
			return fmt.Errorf("shards: %w", err)
		}
		c.TempPath = s.TempPath()
	}
	if w.opts.BeforeCommit != nil {
		if err := w.opts.BeforeCommit(c); err != nil {
			return fmt.Errorf("shards: commit %s: %w", c.Path, err)
		}
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("shards: %w", err)
	}
	w.committed = append(w.committed, c)
	w.index++
	w.fileRows = 0
	if w.opts.AfterCommit != nil {
		if err := w.opts.AfterCommit(c); err != nil {
			return fmt.Errorf("shards: after commit %s: %w", c.Path, err)
		}
	}
	return nil
}

// CleanTemp removes temporary files left in dir by a run that did not commit them. (Object
// storage never holds any: see internal/storage.)
func CleanTemp(dir string) error { return removeStale(dir, IsTemp) }

// removeStale removes the files of dir whose names match stale; a missing dir is fine.
func removeStale(dir string, stale func(name string) bool) error {
	ctx := context.Background()
	d, err := storage.Open(ctx, dir)
	if err != nil {
		return fmt.Errorf("shards: %w", err)
	}
	entries, err := d.List(ctx, "")
	if err != nil {
		return fmt.Errorf("shards: %w", err)
	}
	for _, e := range entries {
		if e.IsDir || !stale(e.Name) {
			continue
		}
		if err := d.Delete(ctx, e.Name); err != nil {
			return fmt.Errorf("shards: remove stale %s: %w", e.Name, err)
		}
	}
	return nil
}

// IsTemp reports whether name is the temporary name of a shard file.
func IsTemp(name string) bool {
	i := strings.Index(name, Ext+tempMarker)
	if i <= 0 {
		return false
	}
	_, err := strconv.Atoi(name[:i])
	return err == nil
}

// TempIndex returns the file number encoded in a temporary file's name.
func TempIndex(name string) (int, bool) {
	name = storage.Base(name)
	i := strings.Index(name, Ext+tempMarker)
	if i <= 0 {
		return 0, false
	}
	n, err := strconv.Atoi(name[:i])
	return n, err == nil
}

// FileIndex returns the number of a committed shard file ("00012.arrow" -> 12).
func FileIndex(path string) (int, bool) {
	name := storage.Base(path)
	if !strings.HasSuffix(name, Ext) {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(name, Ext))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
