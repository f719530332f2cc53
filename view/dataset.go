package view

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/witdata/wit/internal/atomicfile"
	"github.com/witdata/wit/shards"
)

// CacheDirName is the folder beside the shards where the viewer caches what it computes (the index
// and stats of one pass, image embeddings). Shard readers ignore folders.
const CacheDirName = ".wit-view"

// Options configures Open.
type Options struct {
	// CacheDir holds the cached index, stats and embeddings (default DIR/.wit-view; when DIR is not
	// writable, a folder under the user's cache directory named after DIR's absolute path).
	CacheDir string
	// BatchCacheBytes bounds the record batches kept in memory between requests (default 256 MiB).
	BatchCacheBytes int64
	Progress        io.Writer    // progress lines of long passes (nil: none)
	Logger          *slog.Logger // nil: slog.Default()
}

// Dataset is a folder of Arrow shard files opened for viewing. It never writes to the folder's
// files; it reads record batches on demand (through a bounded cache) and holds only the index in
// memory. It is safe for concurrent use.
type Dataset struct {
	Dir      string
	CacheDir string
	x        *index
	stages   *StageStats
	batches  *batchCache
	log      *slog.Logger
}

// Open indexes dir's shard files (NNNNN.arrow) or loads the cached index when the files are the
// ones it was built from (same names, sizes and modification times).
func Open(ctx context.Context, dir string, opts Options) (*Dataset, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.BatchCacheBytes <= 0 {
		opts.BatchCacheBytes = 256 << 20
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("view: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("view: %s is not a folder of shard files (NNNNN.arrow)", dir)
	}
	files, err := stampFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("view: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("view: no shard files (NNNNN.arrow) in %s", dir)
	}
	cacheDir, err := prepareCacheDir(dir, opts.CacheDir)
	if err != nil {
		return nil, err
	}
	d := &Dataset{Dir: dir, CacheDir: cacheDir, log: opts.Logger}
	path := filepath.Join(cacheDir, indexFile)
	x, err := loadIndex(path, files)
	switch {
	case err == nil:
		d.log.Debug("view: cached index", "path", path, "rows", x.Rows)
	case errors.Is(err, errStaleCache):
		start := time.Now()
		if x, err = buildIndex(ctx, dir, files, opts.Progress); err != nil {
			return nil, err
		}
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "view: indexed %d rows in %d file(s) in %s\n", x.Rows, len(x.Files), time.Since(start).Round(time.Millisecond))
		}
		if err := x.save(path); err != nil {
			d.log.Warn("view: index not cached", "err", err)
		}
	default:
		return nil, err
	}
	d.x = x
	d.stages = readStageStats(dir)
	d.batches = newBatchCache(opts.BatchCacheBytes)
	return d, nil
}

// errStaleCache marks a cache file that is missing or was built from other inputs.
var errStaleCache = errors.New("view: cache is stale")

// prepareCacheDir creates the cache folder: the one asked for, else DIR/.wit-view, else (DIR
// read-only) one under the user's cache directory.
func prepareCacheDir(dir, asked string) (string, error) {
	if asked != "" {
		if err := os.MkdirAll(asked, 0o755); err != nil {
			return "", fmt.Errorf("view: cache folder: %w", err)
		}
		return asked, nil
	}
	beside := filepath.Join(dir, CacheDirName)
	if err := os.MkdirAll(beside, 0o755); err == nil && writable(beside) {
		return beside, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("view: %s is read-only and there is no user cache folder (--cache-dir): %w", dir, err)
	}
	abs, _ := filepath.Abs(dir)
	sum := sha256.Sum256([]byte(abs))
	other := filepath.Join(base, "wit", "view", hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(other, 0o755); err != nil {
		return "", fmt.Errorf("view: cache folder: %w", err)
	}
	return other, nil
}

func writable(dir string) bool {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}

// writeCacheFile writes a cache file atomically, so a reader never trusts half of one.
func writeCacheFile(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("view: cache: %w", err)
	}
	return nil
}

// Rows is the number of rows in the dataset.
func (d *Dataset) Rows() int64 { return d.x.Rows }

// Kind is shards.KindSamples (images), KindPairs or KindOther.
func (d *Dataset) Kind() string { return d.x.Kind }

// HasImages reports whether the dataset's rows carry images.
func (d *Dataset) HasImages() bool { return d.x.Kind == shards.KindSamples }

// Columns are the first file's column names.
func (d *Dataset) Columns() []string { return d.x.Columns }

// Stats returns the distributions of the index pass.
func (d *Dataset) Stats() *ScanStats { return &d.x.Stats }

// StageStats returns what the stages wrote beside the dataset.
func (d *Dataset) StageStats() *StageStats { return d.stages }

// Files are the shard file names, in order.
func (d *Dataset) Files() []string {
	out := make([]string, len(d.x.Files))
	for i, f := range d.x.Files {
		out[i] = f.Name
	}
	return out
}

// Key returns row r's key.
func (d *Dataset) Key(r int64) string { return d.x.key(r) }

// Lookup returns the row of key.
func (d *Dataset) Lookup(key string) (int64, bool) { return d.x.lookup(key) }

// ErrChanged is returned when a shard file differs from the one indexed (it was replaced while the
// viewer ran): restart it to index the new files.
var ErrChanged = errors.New("view: the shard files changed since they were indexed; restart wit view")

// batch returns the record batch holding row r (retained: the caller releases it) and r's row in it.
func (d *Dataset) batch(ctx context.Context, r int64) (arrow.RecordBatch, int, *fileEntry, error) {
	fi, b, row, ok := d.x.locate(r)
	if !ok {
		return nil, 0, nil, fmt.Errorf("view: row %d out of range [0, %d)", r, d.x.Rows)
	}
	f := &d.x.Files[fi]
	rec, err := d.batches.get(ctx, batchID{fi, b}, func() (arrow.RecordBatch, error) { return d.readBatch(f, b) })
	if err != nil {
		return nil, 0, nil, err
	}
	return rec, int(row), f, nil
}

// readBatch reads batch b of f from disk, after checking the file is the one indexed.
func (d *Dataset) readBatch(f *fileEntry, b int) (arrow.RecordBatch, error) {
	path := filepath.Join(d.Dir, f.Name)
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("view: %w (%w)", ErrChanged, err)
	}
	if st.Size() != f.Size || st.ModTime().UnixNano() != f.ModTime {
		return nil, fmt.Errorf("%w (%s)", ErrChanged, f.Name)
	}
	file, err := shards.Open(path)
	if err != nil {
		return nil, fmt.Errorf("view: %w", err)
	}
	defer file.Close()
	if b >= file.NumBatches() {
		return nil, fmt.Errorf("%w (%s has %d batches)", ErrChanged, f.Name, file.NumBatches())
	}
	rec, err := file.Batch(b)
	if err != nil {
		return nil, fmt.Errorf("view: %w", err)
	}
	if want := f.Batches[b+1] - f.Batches[b]; rec.NumRows() != want {
		rec.Release()
		return nil, fmt.Errorf("%w (%s batch %d has %d rows, indexed %d)", ErrChanged, f.Name, b, rec.NumRows(), want)
	}
	return rec, nil
}

// Sample returns row r.
func (d *Dataset) Sample(ctx context.Context, r int64) (Sample, error) {
	rec, i, f, err := d.batch(ctx, r)
	if err != nil {
		return Sample{}, err
	}
	defer rec.Release()
	return d.sampleAt(bindColumns(rec), i, r, f), nil
}

func (d *Dataset) sampleAt(c *rowColumns, i int, r int64, f *fileEntry) Sample {
	s := c.sample(i)
	s.Row, s.Key, s.File = r, d.x.key(r), f.Name
	return s
}

// Detail is everything about one row.
type Detail struct {
	Sample
	Columns []Column `json:"columns"`
	PHash   *uint64  `json:"phash,omitempty"`
}

// Detail returns row r with every column.
func (d *Dataset) Detail(ctx context.Context, r int64) (*Detail, error) {
	rec, i, f, err := d.batch(ctx, r)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	det := &Detail{Sample: d.sampleAt(bindColumns(rec), i, r, f), Columns: columnsOf(rec, i)}
	if d.x.PHash != nil {
		p := d.x.PHash[r]
		det.PHash = &p
	}
	return det, nil
}

// Image returns row r's stored image bytes (nil when the row has none).
func (d *Dataset) Image(ctx context.Context, r int64) ([]byte, Sample, error) {
	rec, i, f, err := d.batch(ctx, r)
	if err != nil {
		return nil, Sample{}, err
	}
	defer rec.Release()
	c := bindColumns(rec)
	img := c.imageAt(i)
	if img == nil {
		return nil, Sample{}, nil
	}
	return slices.Clone(img), d.sampleAt(c, i, r, f), nil
}

// Neighbor is a near-duplicate of a row: another row whose pHash differs in Distance bits.
type Neighbor struct {
	Row      int64  `json:"row"`
	Key      string `json:"key"`
	Distance int    `json:"distance"`
}

// NearDuplicates returns the rows whose pHash is within maxDistance bits of row r's (Hamming
// distance), closest first, at most limit. It scans the in-memory pHash column: 8 bytes a row,
// about a millisecond per million rows. A pHash of 0 means none was recorded and matches nothing.
func (d *Dataset) NearDuplicates(r int64, maxDistance, limit int) []Neighbor {
	if d.x.PHash == nil || r < 0 || r >= d.x.Rows || d.x.PHash[r] == 0 {
		return nil
	}
	h := d.x.PHash[r]
	var out []Neighbor
	for j, p := range d.x.PHash {
		if int64(j) == r || p == 0 {
			continue
		}
		if dist := bits.OnesCount64(h ^ p); dist <= maxDistance {
			out = append(out, Neighbor{Row: int64(j), Distance: dist})
		}
	}
	slices.SortStableFunc(out, func(a, b Neighbor) int { return a.Distance - b.Distance })
	if len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i].Key = d.x.key(out[i].Row)
	}
	return out
}
