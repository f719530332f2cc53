package shards

import (
	"archive/tar"
	"bufio"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/witdata/wit/internal/storage"
)

// Export formats.
const (
	FormatWebDataset = "webdataset" // one tar per output: key.jpg, key.txt (caption), key.json (other columns)
	FormatParquet    = "parquet"    // one .parquet per shard, the same columns (image as binary)
)

// Parquet compression codecs Export accepts. The default is zstd: it is read by pyarrow, DuckDB,
// Spark and HF datasets, and compresses the text columns (URLs, captions, hashes) about 1.5x better
// than snappy at a similar speed. The image column is always stored uncompressed: JPEG is already
// entropy-coded, and compressing it costs CPU for no gain.
var ParquetCodecs = map[string]compress.Compression{
	"zstd":   compress.Codecs.Zstd,
	"snappy": compress.Codecs.Snappy,
	"none":   compress.Codecs.Uncompressed,
}

// ExportOptions controls Export.
type ExportOptions struct {
	Format string // FormatWebDataset or FormatParquet
	// SamplesPerTar (webdataset only): 0 writes one tar per shard, named like it (00003.arrow ->
	// 00003.tar). N > 0 re-chunks the whole data set, in shard order, into tars of N samples
	// numbered from 00000.tar; the last one may be shorter.
	SamplesPerTar int
	Compression   string // parquet codec: zstd (default), snappy or none
	RowGroupRows  int    // parquet: rows per row group (default 1024); a row group is also cut at 64 MiB
	Logger        *slog.Logger
}

// ExportManifest is the manifest.json Export writes in its output directory; sizes.json beside it
// maps every output file to its sample count, the file OpenCLIP reads to size a webdataset. The
// options are recorded so that a rerun with other options does not mix two layouts.
type ExportManifest struct {
	SchemaVersion int         `json:"schema_version"`
	Format        string      `json:"format"`
	SamplesPerTar int         `json:"samples_per_tar,omitempty"`
	Compression   string      `json:"compression,omitempty"`
	Shards        []ShardInfo `json:"shards"`
	TotalCount    int64       `json:"total_count"`
	TotalBytes    int64       `json:"total_bytes"`
}

// ExportResult summarises one Export run.
type ExportResult struct {
	Written     int   // output files written by this run
	Skipped     int   // complete outputs left from an earlier run
	Samples     int64 // samples written by this run
	Bytes       int64 // bytes written by this run
	SourceBytes int64 // bytes of the shard files read by this run
	Elapsed     time.Duration
	Manifest    *ExportManifest
}

// ErrNoImages is returned when a webdataset export is asked of shards without an image column
// (pair files from the crawler): they can only be exported as Parquet.
var ErrNoImages = errors.New("shards have no image column: webdataset needs images (export pair files with --format parquet)")

// exportTempMarkers name the temporary files of an interrupted export; Export removes them.
var exportTempMarkers = []string{".tar" + tempMarker, ".parquet" + tempMarker}

const parquetRowGroupBytes = 64 << 20

// Export converts the committed shards of srcDir into webdataset tars or Parquet files in outDir.
// It streams one record batch at a time, writes every output under a temporary name and renames
// it when complete, and records it in outDir/manifest.json and sizes.json. A rerun skips the
// outputs the manifest lists with their current size, so an interrupted export resumes.
func Export(ctx context.Context, srcDir, outDir string, opts ExportOptions) (*ExportResult, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	switch opts.Format {
	case FormatWebDataset:
		opts.Compression = ""
		if opts.SamplesPerTar < 0 {
			return nil, fmt.Errorf("export: samples per tar %d < 0", opts.SamplesPerTar)
		}
	case FormatParquet:
		if opts.SamplesPerTar != 0 {
			return nil, errors.New("export: samples per tar applies to webdataset only")
		}
		if opts.Compression == "" {
			opts.Compression = "zstd"
		}
		if _, ok := ParquetCodecs[opts.Compression]; !ok {
			return nil, fmt.Errorf("export: unknown parquet compression %q (zstd, snappy or none)", opts.Compression)
		}
		if opts.RowGroupRows <= 0 {
			opts.RowGroupRows = 1024
		}
	default:
		return nil, fmt.Errorf("export: unknown format %q (webdataset or parquet)", opts.Format)
	}
	files, err := ListFiles(srcDir)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("export: no shard files (NNNNN.arrow) in %s", srcDir)
	}
	if storage.Inside(srcDir, outDir) && storage.Inside(outDir, srcDir) {
		return nil, errors.New("export: output directory is the source directory")
	}
	if opts.Format == FormatWebDataset {
		f, err := Open(files[0])
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		s := f.Schema()
		f.Close()
		if len(s.FieldIndices(ColImage)) == 0 {
			return nil, fmt.Errorf("export %s: %w", srcDir, ErrNoImages)
		}
		if len(s.FieldIndices(ColKey)) == 0 {
			return nil, fmt.Errorf("export %s: shards have no %q column, which names webdataset samples", srcDir, ColKey)
		}
	}
	od, err := storage.Open(ctx, outDir)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := od.Mkdir(ctx); err != nil {
		return nil, fmt.Errorf("export: create %s: %w", outDir, err)
	}
	if err := cleanExportTemp(outDir); err != nil {
		return nil, err
	}
	man, err := loadExportManifest(outDir, opts)
	if err != nil {
		return nil, err
	}
	e := &exporter{ctx: ctx, src: srcDir, out: outDir, outDir: od, opts: opts, man: man, log: log, res: &ExportResult{Manifest: man}}
	if opts.Format == FormatWebDataset && opts.SamplesPerTar > 0 {
		err = e.rechunked(files)
	} else {
		err = e.perShard(files)
	}
	e.res.Elapsed = time.Since(start)
	if err != nil {
		return e.res, err
	}
	if err := e.writeManifest(); err != nil {
		return e.res, err
	}
	return e.res, nil
}

func cleanExportTemp(dir string) error {
	if err := removeStale(dir, func(name string) bool {
		for _, m := range exportTempMarkers {
			if strings.Contains(name, m) {
				return true
			}
		}
		return false
	}); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return CleanAtomicTemp(dir)
}

func loadExportManifest(dir string, opts ExportOptions) (*ExportManifest, error) {
	fresh := &ExportManifest{SchemaVersion: SchemaVersion, Format: opts.Format, SamplesPerTar: opts.SamplesPerTar,
		Compression: opts.Compression, Shards: []ShardInfo{}}
	path := storage.Join(dir, ManifestName)
	data, err := readFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fresh, nil
	}
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	var m ExportManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("export: %s: %w", path, err)
	}
	if m.Format != opts.Format || m.SamplesPerTar != opts.SamplesPerTar || m.Compression != opts.Compression {
		return nil, fmt.Errorf("export: %s holds an export with format=%s samples_per_tar=%d compression=%q; "+
			"use another output directory or the same options", dir, m.Format, m.SamplesPerTar, m.Compression)
	}
	fresh.Shards = m.Shards
	if fresh.Shards == nil {
		fresh.Shards = []ShardInfo{}
	}
	return fresh, nil
}

type exporter struct {
	ctx    context.Context
	src    string
	out    string
	outDir storage.Dir
	opts   ExportOptions
	man    *ExportManifest
	log    *slog.Logger
	res    *ExportResult
}

// complete reports whether output name is listed in the manifest with its current size (and,
// when want > 0, with want samples).
func (e *exporter) complete(name string, want int64) bool {
	for _, s := range e.man.Shards {
		if s.File != name {
			continue
		}
		st, err := e.outDir.Stat(e.ctx, name)
		return err == nil && st.Size == s.Bytes && (want <= 0 || s.Count == want)
	}
	return false
}

func (e *exporter) record(info ShardInfo) error {
	replaced := false
	for i, s := range e.man.Shards {
		if s.File == info.File {
			e.man.Shards[i], replaced = info, true
		}
	}
	if !replaced {
		e.man.Shards = append(e.man.Shards, info)
	}
	e.res.Written++
	e.res.Samples += info.Count
	e.res.Bytes += info.Bytes
	e.log.Info("export: wrote", "file", storage.Join(e.out, info.File), "samples", info.Count, "bytes", info.Bytes)
	return e.writeManifest()
}

func (e *exporter) writeManifest() error {
	m := e.man
	sortShardInfos(m.Shards)
	m.TotalCount, m.TotalBytes = 0, 0
	sizes := make(map[string]int64, len(m.Shards))
	for _, s := range m.Shards {
		m.TotalCount += s.Count
		m.TotalBytes += s.Bytes
		sizes[s.File] = s.Count
	}
	if err := writeJSON(storage.Join(e.out, ManifestName), m); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := writeJSON(storage.Join(e.out, SizesName), sizes); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

func sortShardInfos(s []ShardInfo) {
	// Zero-padded numbers: shorter names first, then lexical order is numeric order.
	slices.SortFunc(s, func(a, b ShardInfo) int {
		if c := cmp.Compare(len(a.File), len(b.File)); c != 0 {
			return c
		}
		return strings.Compare(a.File, b.File)
	})
}

func outputName(index int, format string) string {
	if format == FormatParquet {
		return fmt.Sprintf("%05d.parquet", index)
	}
	return fmt.Sprintf("%05d.tar", index)
}

// perShard writes one output per shard file, named like it.
func (e *exporter) perShard(files []string) error {
	for _, path := range files {
		idx, _ := FileIndex(path)
		name := outputName(idx, e.opts.Format)
		if e.complete(name, 0) {
			e.res.Skipped++
			continue
		}
		if err := e.ctx.Err(); err != nil {
			return err
		}
		var err error
		if e.opts.Format == FormatParquet {
			err = e.writeParquet(path, name)
		} else {
			err = e.writeTarShard(path, name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// atomicOut is an output file that appears under its name only when committed (storage.Writer).
type atomicOut struct {
	f    storage.Writer
	buf  *bufio.Writer
	path string
}

func createAtomic(ctx context.Context, dir storage.Dir, name string) (*atomicOut, error) {
	f, err := dir.Create(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &atomicOut{f: f, buf: bufio.NewWriterSize(f, 1<<20), path: storage.Join(dir.String(), name)}, nil
}

// Write goes through the buffer; atomicOut is deliberately not an io.Closer, so that a library
// that closes its sink (pqarrow does) leaves the commit to us.
func (o *atomicOut) Write(p []byte) (int, error) { return o.buf.Write(p) }

func (o *atomicOut) commit() (int64, error) {
	if err := o.buf.Flush(); err != nil {
		o.abort()
		return 0, fmt.Errorf("export: write %s: %w", o.path, err)
	}
	if err := o.f.Commit(); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	return o.f.Size(), nil
}

func (o *atomicOut) abort() { o.f.Abort() }

// ---- webdataset ----

// tarOut writes webdataset samples into one tar.
type tarOut struct {
	out     *atomicOut
	tw      *tar.Writer
	mtime   time.Time
	count   int64
	lastKey string
	json    []byte
}

func newTarOut(ctx context.Context, dir storage.Dir, name string, mtime time.Time) (*tarOut, error) {
	o, err := createAtomic(ctx, dir, name)
	if err != nil {
		return nil, err
	}
	return &tarOut{out: o, tw: tar.NewWriter(o), mtime: mtime.Truncate(time.Second)}, nil
}

func (t *tarOut) file(name string, data []byte) error {
	hdr := tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644, ModTime: t.mtime}
	if err := t.tw.WriteHeader(&hdr); err != nil {
		return err
	}
	_, err := t.tw.Write(data)
	return err
}

// add writes row i of the batch as key.jpg, key.txt and key.json, consecutively (webdataset
// groups a sample's files by the name up to the first dot, in order).
func (t *tarOut) add(c *wdsColumns, i int) error {
	key := c.key.Value(i)
	if err := CheckWebDatasetKey(key); err != nil {
		return err
	}
	if key == t.lastKey {
		return fmt.Errorf("key %q repeats: webdataset would merge the two samples", key)
	}
	t.lastKey = key
	if c.image.IsValid(i) {
		if err := t.file(key+".jpg", c.image.Value(i)); err != nil {
			return err
		}
	}
	if c.caption != nil && c.caption.IsValid(i) {
		if err := t.file(key+".txt", []byte(c.caption.Value(i))); err != nil {
			return err
		}
	}
	t.json = appendRowJSON(t.json[:0], c.rec, i, c.imageIdx)
	if err := t.file(key+".json", t.json); err != nil {
		return err
	}
	t.count++
	return nil
}

func (t *tarOut) commit() (int64, error) {
	if err := t.tw.Close(); err != nil {
		t.out.abort()
		return 0, fmt.Errorf("export: finish %s: %w", t.out.path, err)
	}
	return t.out.commit()
}

// CheckWebDatasetKey reports whether key can name a webdataset sample: not empty, and no dot
// (webdataset splits names at the first dot), slash, backslash or control character.
func CheckWebDatasetKey(key string) error {
	if key == "" {
		return errors.New("empty key")
	}
	for _, r := range key {
		if r == '.' || r == '/' || r == '\\' || r < 0x20 || r == 0x7f {
			return fmt.Errorf("key %q cannot name a webdataset sample (no dots, slashes or control characters)", key)
		}
	}
	return nil
}

type wdsColumns struct {
	rec      arrow.RecordBatch
	key      *array.String
	image    *array.Binary
	caption  *array.String
	imageIdx int
}

func newWDSColumns(rec arrow.RecordBatch) (*wdsColumns, error) {
	s := rec.Schema()
	c := &wdsColumns{rec: rec}
	var ok bool
	ki, ii := s.FieldIndices(ColKey), s.FieldIndices(ColImage)
	if len(ii) == 0 {
		return nil, ErrNoImages
	}
	if len(ki) == 0 {
		return nil, fmt.Errorf("no %q column", ColKey)
	}
	if c.key, ok = rec.Column(ki[0]).(*array.String); !ok {
		return nil, fmt.Errorf("column %s has type %s, want utf8", ColKey, rec.Column(ki[0]).DataType())
	}
	c.imageIdx = ii[0]
	if c.image, ok = rec.Column(ii[0]).(*array.Binary); !ok {
		return nil, fmt.Errorf("column %s has type %s, want binary", ColImage, rec.Column(ii[0]).DataType())
	}
	if ci := s.FieldIndices(ColCaption); len(ci) > 0 {
		if c.caption, ok = rec.Column(ci[0]).(*array.String); !ok {
			return nil, fmt.Errorf("column %s has type %s, want utf8", ColCaption, rec.Column(ci[0]).DataType())
		}
	}
	return c, nil
}

func modTime(path string) time.Time {
	if st, err := statPath(path); err == nil && !st.ModTime.IsZero() {
		return st.ModTime
	}
	return time.Now()
}

func (e *exporter) writeTarShard(path, name string) error {
	f, err := Open(path)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer f.Close()
	t, err := newTarOut(e.ctx, e.outDir, name, modTime(path))
	if err != nil {
		return err
	}
	for b := 0; b < f.NumBatches(); b++ {
		if err := e.ctx.Err(); err != nil {
			t.out.abort()
			return err
		}
		if err := e.tarBatch(f, b, func(c *wdsColumns, i int) error { return t.add(c, i) }); err != nil {
			t.out.abort()
			return err
		}
	}
	n, err := t.commit()
	if err != nil {
		return err
	}
	e.res.SourceBytes += fileSize(path)
	return e.record(ShardInfo{File: name, Count: t.count, Bytes: n})
}

// tarBatch reads batch b of f and calls add for every row.
func (e *exporter) tarBatch(f *File, b int, add func(c *wdsColumns, i int) error) error {
	rec, err := f.Batch(b)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer rec.Release()
	c, err := newWDSColumns(rec)
	if err != nil {
		return fmt.Errorf("export: %s batch %d: %w", f.path, b, err)
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		if err := add(c, i); err != nil {
			return fmt.Errorf("export: %s batch %d row %d: %w", f.path, b, i, err)
		}
	}
	return nil
}

// rechunked writes the data set, in shard order, into tars of SamplesPerTar samples. Sample g
// (counted from 0 over all shards) goes to tar g/N. A complete tar of N samples from an earlier
// run is skipped (the last, shorter tar is always rewritten: more shards may have appeared).
func (e *exporter) rechunked(files []string) error {
	n := int64(e.opts.SamplesPerTar)
	done := map[int64]bool{}
	for _, s := range e.man.Shards {
		if k, err := strconv.ParseInt(strings.TrimSuffix(s.File, ".tar"), 10, 64); err == nil && e.complete(s.File, n) {
			done[k] = true
		}
	}
	allDone := func(from, count int64) bool {
		for k := from / n; k <= (from+count-1)/n; k++ {
			if !done[k] {
				return false
			}
		}
		return true
	}
	var cur *tarOut
	curIdx := int64(-1)
	defer func() {
		if cur != nil {
			cur.out.abort()
		}
	}()
	flush := func() error {
		if cur == nil {
			return nil
		}
		t := cur
		cur = nil
		size, err := t.commit()
		if err != nil {
			return err
		}
		return e.record(ShardInfo{File: outputName(int(curIdx), FormatWebDataset), Count: t.count, Bytes: size})
	}
	var g int64
	for _, path := range files {
		if rows, ok := knownRows(e.src, path); ok && rows > 0 && allDone(g, rows) {
			g += rows
			continue
		}
		f, err := Open(path)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		mtime := modTime(path)
		for b := 0; b < f.NumBatches(); b++ {
			if err := e.ctx.Err(); err != nil {
				f.Close()
				return err
			}
			err := e.tarBatch(f, b, func(c *wdsColumns, i int) error {
				k := g / n
				g++
				if done[k] {
					return nil
				}
				if cur != nil && curIdx != k {
					if err := flush(); err != nil {
						return err
					}
				}
				if cur == nil {
					t, err := newTarOut(e.ctx, e.outDir, outputName(int(k), FormatWebDataset), mtime)
					if err != nil {
						return err
					}
					cur, curIdx = t, k
				}
				if err := cur.add(c, i); err != nil {
					return err
				}
				if cur.count == n {
					return flush()
				}
				return nil
			})
			if err != nil {
				f.Close()
				return err
			}
		}
		f.Close()
		e.res.SourceBytes += fileSize(path)
	}
	return flush()
}

// knownRows returns a shard's row count when its stats record or the manifest records the file's
// current size.
func knownRows(dir, path string) (int64, bool) {
	n, from := rowsRecorded(dir, path)
	return n, from != ""
}

// ---- parquet ----

func (e *exporter) parquetProps(schema *arrow.Schema) *parquet.WriterProperties {
	props := []parquet.WriterProperty{
		parquet.WithCompression(ParquetCodecs[e.opts.Compression]),
		parquet.WithMaxRowGroupLength(int64(e.opts.RowGroupRows)),
		parquet.WithDataPageSize(1 << 20),
		parquet.WithCreatedBy("wit"),
		// Dictionaries only for the low-cardinality columns; the others (keys, URLs, hashes,
		// captions) are nearly unique and a dictionary would be built only to be dropped.
		parquet.WithDictionaryDefault(false),
	}
	for _, name := range []string{ColCaptionSource, ColLanguage, ColPageLang} {
		if len(schema.FieldIndices(name)) > 0 {
			props = append(props, parquet.WithDictionaryFor(name, true))
		}
	}
	for _, f := range schema.Fields() {
		if f.Type.ID() == arrow.BINARY || f.Type.ID() == arrow.LARGE_BINARY {
			// Image bytes: already compressed, and min/max statistics of JPEG bytes help nobody.
			props = append(props, parquet.WithCompressionFor(f.Name, compress.Codecs.Uncompressed),
				parquet.WithStatsFor(f.Name, false))
		}
	}
	return parquet.NewWriterProperties(props...)
}

func (e *exporter) writeParquet(path, name string) error {
	f, err := Open(path)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer f.Close()
	out, err := createAtomic(e.ctx, e.outDir, name)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		out.abort()
		return err
	}
	schema := f.Schema()
	pw, err := pqarrow.NewFileWriter(schema, out, e.parquetProps(schema), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return fail(fmt.Errorf("export: parquet writer for %s: %w", path, err))
	}
	// Batches are held until they make a row group (RowGroupRows rows or 64 MiB), then written
	// column by column straight to the file. pqarrow's buffered row groups would copy every
	// byte into growing buffers first; this keeps memory at one row group of input.
	var pending []arrow.RecordBatch
	var rows, pendingRows, pendingBytes int64
	release := func() {
		for _, r := range pending {
			r.Release()
		}
		pending, pendingRows, pendingBytes = pending[:0], 0, 0
	}
	defer release()
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		tbl := array.NewTableFromRecords(schema, pending)
		err := pw.WriteTable(tbl, pendingRows)
		tbl.Release()
		release()
		if err != nil {
			return fmt.Errorf("export: write %s: %w", out.path, err)
		}
		return nil
	}
	for b := 0; b < f.NumBatches(); b++ {
		if err := e.ctx.Err(); err != nil {
			pw.Close()
			return fail(err)
		}
		rec, err := f.Batch(b)
		if err != nil {
			pw.Close()
			return fail(fmt.Errorf("export: %w", err))
		}
		size := batchBytes(rec)
		if len(pending) > 0 && (pendingRows+rec.NumRows() > int64(e.opts.RowGroupRows) || pendingBytes+size > parquetRowGroupBytes) {
			if err := flush(); err != nil {
				rec.Release()
				pw.Close()
				return fail(err)
			}
		}
		pending = append(pending, rec)
		pendingRows += rec.NumRows()
		pendingBytes += size
		rows += rec.NumRows()
	}
	if err := flush(); err != nil {
		pw.Close()
		return fail(err)
	}
	if err := pw.Close(); err != nil {
		return fail(fmt.Errorf("export: finish %s: %w", out.path, err))
	}
	n, err := out.commit()
	if err != nil {
		return err
	}
	e.res.SourceBytes += fileSize(path)
	return e.record(ShardInfo{File: name, Count: rows, Bytes: n})
}

func batchBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		for _, b := range c.Data().Buffers() {
			if b != nil {
				n += int64(b.Len())
			}
		}
	}
	return n
}

// ---- JSON of one row ----

// appendRowJSON appends row i of rec as a JSON object of every column except skip, in schema
// order. Written by hand: encoding/json on a map costs more than the tar itself.
func appendRowJSON(dst []byte, rec arrow.RecordBatch, i, skip int) []byte {
	dst = append(dst, '{')
	first := true
	for j, f := range rec.Schema().Fields() {
		if j == skip {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, f.Name)
		dst = append(dst, ':')
		dst = appendValueJSON(dst, rec.Column(j), i)
	}
	return append(dst, '}')
}

func appendValueJSON(dst []byte, col arrow.Array, i int) []byte {
	if col.IsNull(i) {
		return append(dst, "null"...)
	}
	switch c := col.(type) {
	case *array.String:
		return appendJSONString(dst, c.Value(i))
	case *array.LargeString:
		return appendJSONString(dst, c.Value(i))
	case *array.Binary:
		return appendJSONString(dst, base64.StdEncoding.EncodeToString(c.Value(i)))
	case *array.Int8:
		return strconv.AppendInt(dst, int64(c.Value(i)), 10)
	case *array.Int16:
		return strconv.AppendInt(dst, int64(c.Value(i)), 10)
	case *array.Int32:
		return strconv.AppendInt(dst, int64(c.Value(i)), 10)
	case *array.Int64:
		return strconv.AppendInt(dst, c.Value(i), 10)
	case *array.Uint8:
		return strconv.AppendUint(dst, uint64(c.Value(i)), 10)
	case *array.Uint16:
		return strconv.AppendUint(dst, uint64(c.Value(i)), 10)
	case *array.Uint32:
		return strconv.AppendUint(dst, uint64(c.Value(i)), 10)
	case *array.Uint64:
		return strconv.AppendUint(dst, c.Value(i), 10)
	case *array.Float32:
		return appendFloatJSON(dst, float64(c.Value(i)), 32)
	case *array.Float64:
		return appendFloatJSON(dst, c.Value(i), 64)
	case *array.Boolean:
		return strconv.AppendBool(dst, c.Value(i))
	case *array.Timestamp:
		unit := c.DataType().(*arrow.TimestampType).Unit
		return appendJSONString(dst, c.Value(i).ToTime(unit).UTC().Format(time.RFC3339Nano))
	case *array.List:
		start, end := c.ValueOffsets(i)
		dst = append(dst, '[')
		for k := start; k < end; k++ {
			if k > start {
				dst = append(dst, ',')
			}
			dst = appendValueJSON(dst, c.ListValues(), int(k))
		}
		return append(dst, ']')
	default:
		b, err := json.Marshal(col.GetOneForMarshal(i))
		if err != nil {
			return appendJSONString(dst, col.ValueStr(i))
		}
		return append(dst, b...)
	}
}

func appendFloatJSON(dst []byte, v float64, bits int) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(dst, "null"...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, bits)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' { // valid JSON, but break JavaScript line parsing
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

var _ io.Writer = (*atomicOut)(nil)
