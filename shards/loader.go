package shards

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/witdata/wit/internal/storage"
)

// LoaderOptions configures a Loader: what to read, how to shuffle, and which part of the data set
// this worker reads.
type LoaderOptions struct {
	Columns       []string // columns to read (nil: all)
	Seed          uint64   // shuffle seed; the same seed gives the same order
	ShuffleShards bool     // shuffle the order of shard files every epoch
	ShuffleBuffer int      // sample shuffle buffer size (0 or 1: read order)
	WorkerIndex   int      // this worker's index in [0, NumWorkers)
	NumWorkers    int      // shards are dealt round-robin to workers (default 1)
	Epochs        int      // epochs to read (0: one; -1: forever)
	// SkipChecksums reads batches without checking them against their checksums. The check is
	// on by default: it costs a CRC-32C pass over bytes that are decoded next anyway (well under
	// 1% of a training step's input work), and a changed byte then stops the stream with an
	// error naming the file and batch (ErrChecksum) instead of training on it silently.
	SkipChecksums bool

	// Prefetch is how many shard files of a directory on object storage are downloaded ahead of
	// the one being read, into local temporary files (0: 2; negative: none, every read is a range
	// request). Local directories are read in place.
	Prefetch int
}

// Position is where a Loader stream stands: resuming from it yields exactly the samples that an
// uninterrupted stream would have yielded next.
type Position struct {
	Epoch    int   `json:"epoch"`
	Consumed int64 `json:"consumed"` // samples yielded in this epoch
}

// Row is one sample: Values holds the projected columns in order, as string, []byte (a copy),
// int64, uint64, float64 or []string; nil for nulls.
type Row struct {
	Values []any
	Pos    Position // position after this row
}

// Loader streams the samples of a shard directory in a seeded, resumable order. Memory is bounded
// by the shuffle buffer and one record batch, whatever the data set's size.
type Loader struct {
	dir   string
	sdir  storage.Dir
	files []string
	rows  []int64 // rows per file, read from the footers' batch headers
	opts  LoaderOptions
}

// NewLoader lists the shards in dir and counts their rows: from manifest.json when it lists every
// file with its current size (image shards: no file is read but the first, for its schema),
// otherwise by reading every file.
func NewLoader(dir string, opts LoaderOptions) (*Loader, error) {
	if opts.NumWorkers <= 0 {
		opts.NumWorkers = 1
	}
	if opts.WorkerIndex < 0 || opts.WorkerIndex >= opts.NumWorkers {
		return nil, fmt.Errorf("shards: worker %d out of range [0,%d)", opts.WorkerIndex, opts.NumWorkers)
	}
	if opts.Epochs == 0 {
		opts.Epochs = 1
	}
	files, err := ListFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("shards: %s holds no shard files", dir)
	}
	if opts.Prefetch == 0 {
		opts.Prefetch = 2
	}
	sdir, err := storage.Open(context.Background(), dir)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	l := &Loader{dir: dir, sdir: sdir, files: files, rows: make([]int64, len(files)), opts: opts}
	if l.rowsFromManifest() {
		f, err := Open(files[0])
		if err != nil {
			return nil, err
		}
		_, err = projection(f.Schema(), opts.Columns, files[0])
		f.Close()
		if err != nil {
			return nil, err
		}
		return l, nil
	}
	for i, path := range files {
		f, err := Open(path)
		if err != nil {
			return nil, err
		}
		if _, err := projection(f.Schema(), opts.Columns, path); err != nil {
			f.Close()
			return nil, err
		}
		f.VerifyChecksums = false // counting only; batches are checked when their rows are read
		l.rows[i], err = f.NumRows()
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return l, nil
}

// rowsFromManifest fills l.rows from the directory's manifest when it lists every file with the
// size the file has now.
func (l *Loader) rowsFromManifest() bool {
	m, err := ReadManifest(l.dir)
	if err != nil {
		return false
	}
	entries, err := listEntries(l.dir)
	if err != nil {
		return false
	}
	sizes := make(map[string]int64, len(entries))
	for _, e := range entries {
		sizes[e.Name] = e.Size
	}
	listed := make(map[string]ShardInfo, len(m.Shards))
	for _, s := range m.Shards {
		listed[s.File] = s
	}
	rows := make([]int64, len(l.files))
	for i, path := range l.files {
		name := storage.Base(path)
		s, ok := listed[name]
		if size, found := sizes[name]; !ok || !found || s.Bytes != size || s.Count < 0 {
			return false
		}
		rows[i] = s.Count
	}
	copy(l.rows, rows)
	return true
}

// EpochSize returns the number of samples this worker reads per epoch.
func (l *Loader) EpochSize() int64 {
	var n int64
	for _, fi := range l.order(0) {
		n += l.rows[fi]
	}
	return n
}

// order returns the file indices this worker reads in epoch e.
func (l *Loader) order(epoch int) []int {
	all := make([]int, len(l.files))
	for i := range all {
		all[i] = i
	}
	if l.opts.ShuffleShards {
		rng := rand.New(rand.NewPCG(l.opts.Seed, uint64(epoch)*0x9E3779B97F4A7C15+1))
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	}
	var mine []int
	for i, fi := range all {
		if i%l.opts.NumWorkers == l.opts.WorkerIndex {
			mine = append(mine, fi)
		}
	}
	return mine
}

// coord names one sample.
type coord struct {
	file int
	row  int64
}

type slot struct {
	at     coord
	values []any // nil until read
}

// Samples streams rows from position from. The stream ends after the configured epochs, at the
// first error, or when ctx ends.
func (l *Loader) Samples(ctx context.Context, from Position) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		for epoch := from.Epoch; l.opts.Epochs < 0 || epoch < l.opts.Epochs; epoch++ {
			skip := int64(0)
			if epoch == from.Epoch {
				skip = from.Consumed
			}
			if !l.epoch(ctx, epoch, skip, yield) {
				return
			}
		}
	}
}

// epoch yields one epoch's samples after skipping the first skip of them. The shuffle decisions
// depend only on the seed and the sample count, so skipping replays them on coordinates alone
// (no reading) and then reads just the samples still in the buffer.
func (l *Loader) epoch(ctx context.Context, epoch int, skip int64, yield func(Row, error) bool) bool {
	rng := rand.New(rand.NewPCG(l.opts.Seed^0x5DEECE66D, uint64(epoch)))
	size := max(l.opts.ShuffleBuffer, 1)
	buf := make([]slot, 0, size)
	var consumed int64

	// emit takes a random slot out of the buffer (the classic streaming shuffle).
	emit := func() (slot, bool) {
		j := 0
		if len(buf) > 1 {
			j = rng.IntN(len(buf))
		}
		s := buf[j]
		buf[j] = buf[len(buf)-1]
		buf = buf[:len(buf)-1]
		consumed++
		if consumed <= skip {
			return s, false
		}
		return s, true
	}
	out := func(s slot) bool {
		return yield(Row{Values: s.values, Pos: Position{Epoch: epoch, Consumed: consumed}}, nil)
	}
	materialised := skip == 0
	order := l.order(epoch)
	var pf *storage.Prefetcher
	if l.opts.Prefetch > 0 && storage.IsRemote(l.dir) {
		names := make([]string, len(order))
		for i, fi := range order {
			names[i] = storage.Base(l.files[fi])
		}
		pf = storage.NewPrefetcher(ctx, l.sdir, names, l.opts.Prefetch)
		defer pf.Close()
	}
	for _, fi := range order {
		rows := l.rows[fi]
		var reader func(row int64) ([]any, error)
		var closeReader func()
		for r := int64(0); r < rows; r++ {
			if err := ctx.Err(); err != nil {
				yield(Row{}, err)
				return false
			}
			s := slot{at: coord{fi, r}}
			if consumed >= skip { // the next emissions are yielded: read from here on
				if !materialised {
					if err := l.fill(ctx, pf, buf); err != nil {
						yield(Row{}, err)
						return false
					}
					materialised = true
				}
				if reader == nil {
					var err error
					reader, closeReader, err = l.sequential(ctx, pf, fi)
					if err != nil {
						yield(Row{}, err)
						return false
					}
				}
				v, err := reader(r)
				if err != nil {
					closeReader()
					yield(Row{}, err)
					return false
				}
				s.values = v
			}
			buf = append(buf, s)
			if len(buf) == size {
				if got, ok := emit(); ok && !out(got) {
					if closeReader != nil {
						closeReader()
					}
					return false
				}
			}
		}
		if closeReader != nil {
			closeReader()
		}
	}
	if !materialised {
		if err := l.fill(ctx, pf, buf); err != nil {
			yield(Row{}, err)
			return false
		}
	}
	for len(buf) > 0 {
		if got, ok := emit(); ok && !out(got) {
			return false
		}
	}
	return true
}

// open opens file fi, through the prefetcher pf when there is one.
func (l *Loader) open(ctx context.Context, pf *storage.Prefetcher, fi int) (*File, error) {
	if pf == nil {
		return Open(l.files[fi])
	}
	r, err := pf.Open(ctx, storage.Base(l.files[fi]))
	if err != nil {
		return nil, fmt.Errorf("shards: open %s: %w", l.files[fi], err)
	}
	return openReader(r, l.files[fi])
}

// sequential returns a reader of one file's rows in increasing order.
func (l *Loader) sequential(ctx context.Context, pf *storage.Prefetcher, fi int) (func(row int64) ([]any, error), func(), error) {
	f, err := l.open(ctx, pf, fi)
	if err != nil {
		return nil, nil, err
	}
	f.VerifyChecksums = !l.opts.SkipChecksums
	idx, err := projection(f.Schema(), l.opts.Columns, l.files[fi])
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	var rec arrow.RecordBatch
	batch, start := -1, int64(0)
	closer := func() {
		if rec != nil {
			rec.Release()
			rec = nil
		}
		f.Close()
	}
	read := func(row int64) ([]any, error) {
		for rec == nil || row >= start+rec.NumRows() {
			if rec != nil {
				start += rec.NumRows()
				rec.Release()
				rec = nil
			}
			batch++
			if batch >= f.NumBatches() {
				return nil, fmt.Errorf("shards: %s: row %d beyond the file's rows: %w", l.files[fi], row, ErrCorrupt)
			}
			var err error
			if rec, err = f.Batch(batch); err != nil {
				return nil, err
			}
		}
		return rowValues(rec, idx, int(row-start))
	}
	return read, closer, nil
}

// fill reads the values of buffered slots that were skipped over as coordinates.
func (l *Loader) fill(ctx context.Context, pf *storage.Prefetcher, buf []slot) error {
	byFile := map[int][]int{}
	for i := range buf {
		if buf[i].values == nil {
			byFile[buf[i].at.file] = append(byFile[buf[i].at.file], i)
		}
	}
	for fi, slots := range byFile {
		want := make(map[int64]int, len(slots))
		for _, i := range slots {
			want[buf[i].at.row] = i
		}
		read, closer, err := l.sequential(ctx, pf, fi)
		if err != nil {
			return err
		}
		for r := int64(0); r < l.rows[fi] && len(want) > 0; r++ {
			i, ok := want[r]
			if !ok {
				continue
			}
			v, err := read(r)
			if err != nil {
				closer()
				return err
			}
			buf[i].values = v
			delete(want, r)
		}
		closer()
	}
	return nil
}

// rowValues copies one row's projected values out of a batch.
func rowValues(rec arrow.RecordBatch, idx []int, row int) ([]any, error) {
	n := int(rec.NumCols())
	if idx != nil {
		n = len(idx)
	}
	out := make([]any, n)
	for k := range n {
		j := k
		if idx != nil {
			j = idx[k]
		}
		v, err := value(rec.Column(j), row)
		if err != nil {
			return nil, fmt.Errorf("shards: column %q: %w", rec.Schema().Field(j).Name, err)
		}
		out[k] = v
	}
	return out, nil
}

var errUnsupported = errors.New("unsupported column type")

func value(a arrow.Array, i int) (any, error) {
	if a.IsNull(i) {
		return nil, nil
	}
	switch c := a.(type) {
	case *array.String:
		return c.Value(i), nil
	case *array.LargeString:
		return c.Value(i), nil
	case *array.Binary:
		return append([]byte(nil), c.Value(i)...), nil
	case *array.LargeBinary:
		return append([]byte(nil), c.Value(i)...), nil
	case *array.Int32:
		return int64(c.Value(i)), nil
	case *array.Int64:
		return c.Value(i), nil
	case *array.Uint64:
		return c.Value(i), nil
	case *array.Float32:
		return float64(c.Value(i)), nil
	case *array.Float64:
		return c.Value(i), nil
	case *array.Timestamp:
		return int64(c.Value(i)), nil
	case *array.List:
		start, end := c.ValueOffsets(i)
		strs, ok := c.ListValues().(*array.String)
		if !ok {
			return nil, fmt.Errorf("%w: list<%s>", errUnsupported, c.ListValues().DataType())
		}
		out := make([]string, 0, end-start)
		for k := start; k < end; k++ {
			out = append(out, strs.Value(int(k)))
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%w: %s", errUnsupported, a.DataType())
	}
}
