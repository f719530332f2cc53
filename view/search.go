package view

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// Embedder is what a trained checkpoint provides: L2-normalised image and text embeddings of Dim
// values (the shape of eval.Embedder; the checkpoint's embedder satisfies it). EmbedImages may
// return nil rows for unusable images together with a non-nil error: those images are left out of
// the search and counted. Any other error is fatal.
type Embedder interface {
	EmbedImages(images [][]byte) ([][]float32, error)
	EmbedTexts(texts []string) ([][]float32, error)
	Dim() int
}

// SearchOptions configures NewSearch.
type SearchOptions struct {
	// Checkpoint is the checkpoint folder the embedder was loaded from: the names, sizes and
	// modification times of its files key the embedding cache ("" caches nothing).
	Checkpoint string
	Batch      int       // images per EmbedImages call (default 64)
	Progress   io.Writer // progress lines (nil: none)
	// SaveEvery is how often the embeddings done so far are cached while they are computed, so an
	// interrupted run resumes (default 5 minutes; they are also saved when ctx is cancelled).
	SaveEvery time.Duration
}

// Search answers text→image and image→image queries over a dataset's image embeddings. The
// embeddings are computed once, in the background, in dataset order, and cached beside the shards
// (reused while the shards and the checkpoint are unchanged); until they are complete, queries
// search the rows embedded so far. Ranking is an exact top-k scan over all embeddings (topK).
type Search struct {
	d     *Dataset
	e     Embedder
	dim   int
	vecs  []float32 // Rows × dim, row-major, unit length (zero for unusable images)
	valid []byte    // 1: the row's embedding is usable

	done      atomic.Int64 // rows [0, done) are embedded: published after their vectors are written
	unusable  atomic.Int64
	fromCache bool
	start     time.Time
	finished  chan struct{}
	mu        sync.Mutex
	err       error
	tookS     float64
}

// SearchStatus tells how far the embeddings are.
type SearchStatus struct {
	Rows      int64   `json:"rows"`
	Embedded  int64   `json:"embedded"`
	Unusable  int64   `json:"unusable"`
	Ready     bool    `json:"ready"` // every row is embedded
	FromCache bool    `json:"from_cache"`
	Seconds   float64 `json:"seconds"` // spent embedding so far (or in all, once ready)
	Error     string  `json:"error,omitempty"`
}

// NewSearch loads the cached embeddings of d for this checkpoint, or starts computing them in the
// background (cancel ctx to stop; Status tells the progress).
func NewSearch(ctx context.Context, d *Dataset, e Embedder, opts SearchOptions) (*Search, error) {
	if !d.HasImages() {
		return nil, fmt.Errorf("view: %s holds %s, not images: nothing to search by image", d.Dir, d.Kind())
	}
	dim := e.Dim()
	if dim <= 0 {
		return nil, fmt.Errorf("view: embedder dimension %d", dim)
	}
	if opts.Batch <= 0 {
		opts.Batch = 64
	}
	n := d.Rows()
	if n*int64(dim) > math.MaxInt32*16 {
		return nil, fmt.Errorf("view: %d rows × %d dimensions do not fit in memory", n, dim)
	}
	if opts.SaveEvery <= 0 {
		opts.SaveEvery = 5 * time.Minute
	}
	s := &Search{d: d, e: e, dim: dim, finished: make(chan struct{}), start: time.Now(),
		vecs: make([]float32, n*int64(dim)), valid: make([]byte, n)}
	var cache *embedCache
	from := int64(0)
	if opts.Checkpoint != "" {
		fp, err := fingerprintFolder(opts.Checkpoint)
		if err != nil {
			return nil, fmt.Errorf("view: checkpoint: %w", err)
		}
		cache = newEmbedCache(d, fp, dim)
		done, err := cache.load(s.vecs, s.valid)
		switch {
		case err == nil:
			from = done
			s.done.Store(done)
			s.unusable.Store(done - int64(countOnes(s.valid[:done])))
		case !errors.Is(err, errStaleCache):
			d.log.Warn("view: embedding cache unreadable; recomputing", "err", err)
		}
		if from == n {
			s.fromCache = true
			close(s.finished)
			if opts.Progress != nil {
				fmt.Fprintf(opts.Progress, "view: image embeddings of %d rows from the cache (%s)\n", n, cache.dataPath)
			}
			return s, nil
		}
		if from > 0 && opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "view: %d of %d image embeddings from the cache; embedding the rest\n", from, n)
		}
	}
	go s.compute(ctx, cache, from, opts)
	return s, nil
}

func countOnes(b []byte) int {
	n := 0
	for _, v := range b {
		n += int(v)
	}
	return n
}

// compute embeds the rows from row from on, in dataset order, then caches the result; when it is
// stopped, it caches what it has done.
func (s *Search) compute(ctx context.Context, cache *embedCache, from int64, opts SearchOptions) {
	err := s.embedAll(ctx, cache, from, opts)
	switch {
	case err == nil:
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "view: embedded %d images in %s (%d unusable)\n", s.d.Rows(), time.Since(s.start).Round(time.Second), s.unusable.Load())
		}
		s.save(cache)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		if s.done.Load() > from {
			s.save(cache)
		}
	default:
		s.d.log.Error("view: embedding images failed", "err", err)
	}
	s.mu.Lock()
	s.err = err
	s.tookS = time.Since(s.start).Seconds()
	s.mu.Unlock()
	close(s.finished)
}

// save caches the embeddings done so far (called by the embedding goroutine only).
func (s *Search) save(cache *embedCache) {
	if cache == nil {
		return
	}
	done := s.done.Load()
	if err := cache.save(s.vecs[:done*int64(s.dim)], s.valid[:done]); err != nil {
		s.d.log.Warn("view: embeddings not cached", "err", err)
	}
}

func (s *Search) embedAll(ctx context.Context, cache *embedCache, from int64, opts SearchOptions) error {
	var (
		images [][]byte
		row    = from // first row of images
		last   = time.Now()
		saved  = time.Now()
	)
	flush := func() error {
		if len(images) == 0 {
			return nil
		}
		emb, err := s.e.EmbedImages(images)
		if err != nil && len(emb) != len(images) {
			return fmt.Errorf("embed images: %w", err)
		}
		for i, v := range emb {
			r := row + int64(i)
			if v == nil || len(v) != s.dim {
				if v != nil {
					return fmt.Errorf("embed images: %d values, want %d", len(v), s.dim)
				}
				s.unusable.Add(1)
				continue
			}
			dst := s.vecs[r*int64(s.dim) : (r+1)*int64(s.dim)]
			copy(dst, v)
			normalize(dst)
			s.valid[r] = 1
		}
		row += int64(len(images))
		s.done.Store(row) // publishes the vectors written above
		images = images[:0]
		if opts.Progress != nil && time.Since(last) > progressEvery {
			rate := float64(row-from) / time.Since(s.start).Seconds()
			eta := time.Duration(float64(s.d.Rows()-row)/rate) * time.Second
			fmt.Fprintf(opts.Progress, "view: embedding images %d/%d (%.0f/s, %s left)\n", row, s.d.Rows(), rate, eta.Round(time.Second))
			last = time.Now()
		}
		if time.Since(saved) > opts.SaveEvery {
			s.save(cache)
			saved = time.Now()
		}
		return nil
	}
	if from >= s.d.Rows() {
		return nil
	}
	fi, b, skip, _ := s.d.x.locate(from)
	for ; fi < len(s.d.x.Files); fi, b = fi+1, 0 {
		f := &s.d.x.Files[fi]
		for ; b+1 < len(f.Batches); b++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			rec, err := s.d.readBatch(f, b) // not through the batch cache: a full pass would flush it
			if err != nil {
				return err
			}
			c := bindColumns(rec)
			for i := int(skip); i < c.len(); i++ {
				images = append(images, slices.Clone(c.imageAt(i)))
				if len(images) == opts.Batch {
					if err := flush(); err != nil {
						rec.Release()
						return err
					}
				}
			}
			skip = 0
			rec.Release()
		}
	}
	return flush()
}

// Status reports the embeddings' progress. They are Ready (searchable in full) once every row is
// embedded, possibly while the cache is still being written.
func (s *Search) Status() SearchStatus {
	st := SearchStatus{Rows: s.d.Rows(), Embedded: s.done.Load(), Unusable: s.unusable.Load(), FromCache: s.fromCache}
	st.Seconds = time.Since(s.start).Seconds()
	select {
	case <-s.finished:
		s.mu.Lock()
		if s.err != nil {
			st.Error = s.err.Error()
		}
		st.Seconds = s.tookS
		s.mu.Unlock()
	default:
	}
	st.Ready = st.Embedded == st.Rows && st.Error == ""
	return st
}

// Wait blocks until the embeddings are complete and cached (or failed, or ctx ends).
func (s *Search) Wait(ctx context.Context) error {
	select {
	case <-s.finished:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ErrNoEmbedding is returned by Like for a row whose image is not (or not yet) embedded.
var ErrNoEmbedding = errors.New("view: this image has no embedding (unusable, or not embedded yet)")

// Text returns the k rows whose images are most similar to the text, best first.
func (s *Search) Text(text string, k int) ([]Hit, error) {
	emb, err := s.e.EmbedTexts([]string{text})
	if err != nil {
		return nil, fmt.Errorf("view: embed query: %w", err)
	}
	if len(emb) != 1 || len(emb[0]) != s.dim {
		return nil, fmt.Errorf("view: embed query: got %d embeddings", len(emb))
	}
	q := slices.Clone(emb[0])
	normalize(q)
	return s.search(q, k, -1), nil
}

// Like returns the k rows whose images are most similar to row r's image ("more like this"), best
// first, r itself left out.
func (s *Search) Like(r int64, k int) ([]Hit, error) {
	if r < 0 || r >= s.done.Load() || s.valid[r] == 0 {
		return nil, ErrNoEmbedding
	}
	q := slices.Clone(s.vecs[r*int64(s.dim) : (r+1)*int64(s.dim)])
	return s.search(q, k, r), nil
}

func (s *Search) search(q []float32, k int, exclude int64) []Hit {
	n := s.done.Load()
	return topK(s.vecs[:n*int64(s.dim)], s.dim, q, k, func(r int) bool {
		return int64(r) == exclude || s.valid[r] == 0
	})
}

// ---- cache ----

// embedCache is a dataset's image embeddings for one checkpoint, in two files of the cache folder:
// embeddings-ID.f32 (rows × dim float32, little-endian, row-major) and embeddings-ID.json (what
// they were computed from, the unusable rows, and the data file's size and xxhash). ID names the
// checkpoint.
type embedCache struct {
	dataPath, metaPath string
	meta               embedMeta
}

type embedMeta struct {
	Version    int     `json:"version"`
	Checkpoint string  `json:"checkpoint"` // fingerprint of the checkpoint folder
	Dim        int     `json:"dim"`
	Rows       int64   `json:"rows"`
	Embedded   int64   `json:"embedded"` // rows [0, embedded) are in the data file (all of them once complete)
	Shards     []stamp `json:"shards"`
	Unusable   []int64 `json:"unusable_rows"`
	DataBytes  int64   `json:"data_bytes"`
	DataHash   uint64  `json:"data_xxhash"`
}

const embedCacheVersion = 1

func newEmbedCache(d *Dataset, checkpoint string, dim int) *embedCache {
	sum := sha256.Sum256([]byte(checkpoint))
	id := hex.EncodeToString(sum[:8])
	c := &embedCache{
		dataPath: filepath.Join(d.CacheDir, "embeddings-"+id+".f32"),
		metaPath: filepath.Join(d.CacheDir, "embeddings-"+id+".json"),
		meta:     embedMeta{Version: embedCacheVersion, Checkpoint: checkpoint, Dim: dim, Rows: d.Rows()},
	}
	for _, f := range d.x.Files {
		c.meta.Shards = append(c.meta.Shards, stamp{Name: f.Name, Size: f.Size, ModTime: f.ModTime})
	}
	return c
}

// load reads the cached embeddings into vecs and valid (sized for every row) and returns how many
// rows it holds: all of them, or the first ones of an interrupted run.
func (c *embedCache) load(vecs []float32, valid []byte) (int64, error) {
	raw, err := os.ReadFile(c.metaPath)
	if errors.Is(err, os.ErrNotExist) {
		return 0, errStaleCache
	}
	if err != nil {
		return 0, err
	}
	var m embedMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return 0, fmt.Errorf("%w: %s: %v", errStaleCache, c.metaPath, err)
	}
	want := c.meta
	if m.Version != want.Version || m.Checkpoint != want.Checkpoint || m.Dim != want.Dim || m.Rows != want.Rows || !slices.Equal(m.Shards, want.Shards) ||
		m.Embedded < 0 || m.Embedded > m.Rows || int64(len(valid)) != m.Rows || int64(len(vecs)) != m.Rows*int64(m.Dim) {
		return 0, errStaleCache
	}
	n := m.Embedded * int64(m.Dim)
	if m.DataBytes != 4*n {
		return 0, errStaleCache
	}
	f, err := os.Open(c.dataPath)
	if err != nil {
		return 0, errStaleCache
	}
	defer f.Close()
	data := float32Bytes(vecs[:n])
	if _, err := io.ReadFull(f, data); err != nil || xxhash.Sum64(data) != m.DataHash {
		clear(vecs[:n])
		return 0, errStaleCache
	}
	fromLittleEndian(vecs[:n])
	for i := range m.Embedded {
		valid[i] = 1
	}
	for _, r := range m.Unusable {
		if r < 0 || r >= m.Embedded {
			clear(vecs[:n])
			clear(valid)
			return 0, errStaleCache
		}
		valid[r] = 0
	}
	return m.Embedded, nil
}

// save writes the embeddings of the first len(valid) rows: the data file, then the description that
// vouches for it (after a crash in between, the data file does not match the old description's
// hash and is recomputed).
func (c *embedCache) save(vecs []float32, valid []byte) error {
	m := c.meta
	m.Embedded = int64(len(valid))
	for r, v := range valid {
		if v == 0 {
			m.Unusable = append(m.Unusable, int64(r))
		}
	}
	data := float32Bytes(vecs) // searches read vecs meanwhile: never modified here
	if !littleEndian {
		data = make([]byte, 4*len(vecs))
		for i, v := range vecs {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
		}
	}
	m.DataBytes, m.DataHash = int64(len(data)), xxhash.Sum64(data)
	if err := writeCacheFile(c.dataPath, data); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeCacheFile(c.metaPath, raw)
}

// float32Bytes views v's memory as bytes (no copy: the cache of a million 512-d embeddings is 2 GB).
func float32Bytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// fromLittleEndian turns v's bytes, read from the little-endian cache file, into native floats
// (nothing to do on little-endian machines).
func fromLittleEndian(v []float32) {
	if littleEndian {
		return
	}
	b := float32Bytes(v)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

// fingerprintFolder describes a folder's files (relative path, size, modification time), so that
// a changed checkpoint invalidates what was computed with it.
func fingerprintFolder(dir string) (string, error) {
	type entry struct {
		Path    string `json:"p"`
		Size    int64  `json:"s"`
		ModTime int64  `json:"m"`
	}
	var entries []entry
	err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !de.Type().IsRegular() {
			return nil
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		entries = append(entries, entry{filepath.ToSlash(rel), info.Size(), info.ModTime().UnixNano()})
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(entries) == 0 {
		return "", fmt.Errorf("%s holds no files", dir)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	abs, _ := filepath.Abs(dir)
	raw, _ := json.Marshal(struct {
		Dir   string  `json:"dir"`
		Files []entry `json:"files"`
	}{abs, entries})
	return string(raw), nil
}
