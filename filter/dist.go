package filter

import (
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// A distributed filter (package dist/stages) runs Run's work in steps that many machines share,
// MetaCLIP's way, and gives the same output as Run in exact mode:
//
//  1. MapFile, one task per input file: normalisation, text rules, query match and language;
//     the survivors are written with their pair key, matched entry ids and input position
//     (file index << 32 | row), split by pair key into Partitions directories.
//  2. DedupPartition, one task per partition (one owner per key): the partition's rows from
//     every input file in input order, the first occurrence of a key kept; it counts the
//     matches per entry of what it keeps.
//  3. One reduce: the partitions' counts added up (SumCounts).
//  4. SamplePartition, one task per partition: ExactBalancer with the global counts.
//  5. MergeOutput: the partitions' kept rows merged back into input order and written as Run
//     writes them, with filter-stats.json.

const colPosition = "_wit_position" // distributed staging only: uint64 input position

// Position is a row's place in the whole input: its file's index and its row in that file.
func Position(file, row int) uint64 { return uint64(file)<<32 | uint64(row) }

// MapResult is what MapFile reports: its stats (rows, drops by stage) and the output schema.
type MapResult struct {
	Stats *Stats `json:"stats"`
}

// PartitionDir names partition k's directory under dir.
func PartitionDir(dir string, k int) string { return storage.Join(dir, fmt.Sprintf("d%04d", k)) }

// MapFile runs the per-caption stages over one input file (opts.In) with file index fileIndex,
// and writes the survivors into PartitionDir(dir, PairKey % partitions). Dedup, counting and
// balancing are left to the later steps. Written again from scratch when run again.
func MapFile(ctx context.Context, opts Options, fileIndex, partitions int, dir string) (*Stats, error) {
	opts.Out = dir // validate's overwrite check
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.KeepAll || opts.Mode == ModeOnline {
		return nil, errors.New("filter: a distributed filter runs in exact mode without --keep-all")
	}
	src, err := openSource(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := storage.RemoveAll(ctx, dir); err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	r := &runner{opts: opts, src: src, stats: newStats(opts)}
	writers := make([]*shards.Writer, partitions)
	defer func() {
		for _, w := range writers {
			if w != nil {
				w.Abort()
			}
		}
	}()
	var schema *arrow.Schema
	verdicts := make([]rowVerdict, 0, 1024)
	row := 0
	for rec, err := range src.records {
		if err != nil {
			return nil, fmt.Errorf("filter: read %s: %w", opts.In, err)
		}
		if schema == nil {
			if err := r.planSchema(rec.Schema()); err != nil {
				return nil, err
			}
			schema = withPosition(withStagingCols(r.outSchema))
		}
		if verdicts, err = r.decide(ctx, rec, verdicts[:0]); err != nil {
			return nil, err
		}
		for i := range verdicts {
			v := &verdicts[i]
			if v.reason != Kept {
				continue
			}
			k := int(v.key % uint64(partitions))
			if writers[k] == nil {
				if writers[k], err = shards.NewWriter(PartitionDir(dir, k), schema, shards.WriterOptions{RowsPerFile: 1 << 20}); err != nil {
					return nil, fmt.Errorf("filter: %w", err)
				}
			}
			b := writers[k].Builder()
			r.appendRow(b, rec, i, v, true)
			b.Field(schema.NumFields() - 1).(*array.Uint64Builder).Append(Position(fileIndex, row+i))
			if err := writers[k].EndRow(); err != nil {
				return nil, fmt.Errorf("filter: write: %w", err)
			}
		}
		row += len(verdicts)
	}
	for k, w := range writers {
		if w == nil {
			continue
		}
		writers[k] = nil
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("filter: %w", err)
		}
	}
	return r.stats, nil
}

func withPosition(s *arrow.Schema) *arrow.Schema {
	fields := append(slices.Clone(s.Fields()), arrow.Field{Name: colPosition, Type: arrow.PrimitiveTypes.Uint64})
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}

// stagedRows streams the rows of the partition directories dirs, in order.
func stagedRows(ctx context.Context, dirs []string) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for _, d := range dirs {
			if _, err := storage.Stat(ctx, d); storage.IsNotExist(err) {
				continue // no survivor of that file fell in this partition
			}
			for rec, err := range shards.ReadDir(ctx, d, nil) {
				if !yield(rec, err) || err != nil {
					return
				}
			}
		}
	}
}

// copyRow appends row i of rec (every column) to b.
func copyRow(b *array.RecordBuilder, rec arrow.RecordBatch, i int) {
	for c := range int(rec.NumCols()) {
		appendValue(b.Field(c), rec.Column(c), i)
	}
}

// DedupResult is what DedupPartition reports.
type DedupResult struct {
	Rows       int64 `json:"rows"`
	Duplicates int64 `json:"duplicates"`
}

// DedupPartition reads one partition's rows from every input file's directory (inputs, in input
// order), keeps the first occurrence of each pair key (unless opts.NoDedup) into out, and writes
// the matches per entry of the kept rows to countsFile (entries int32s, little-endian).
func DedupPartition(ctx context.Context, opts Options, inputs []string, out, countsFile string) (DedupResult, error) {
	var res DedupResult
	var d *Deduper
	if !opts.NoDedup {
		var err error
		if d, err = NewDeduper(""); err != nil {
			return res, err
		}
		defer d.Close()
	}
	var counts []int32
	if m := opts.Stages.Matcher; m != nil {
		counts = make([]int32, m.Len())
	}
	if err := storage.RemoveAll(ctx, out); err != nil {
		return res, fmt.Errorf("filter: %w", err)
	}
	var w *shards.Writer
	defer func() {
		if w != nil {
			w.Abort()
		}
	}()
	for rec, err := range stagedRows(ctx, inputs) {
		if err != nil {
			return res, fmt.Errorf("filter: read staged rows: %w", err)
		}
		n := int(rec.NumCols())
		keys := rec.Column(n - 3).(*array.Uint64)
		idList := rec.Column(n - 2).(*array.List)
		idVals := idList.ListValues().(*array.Int32).Int32Values()
		if w == nil {
			if w, err = shards.NewWriter(out, rec.Schema(), shards.WriterOptions{RowsPerFile: 1 << 20}); err != nil {
				return res, fmt.Errorf("filter: %w", err)
			}
		}
		b := w.Builder()
		for i := range int(rec.NumRows()) {
			res.Rows++
			if d != nil {
				seen, err := d.Seen(keys.Value(i))
				if err != nil {
					return res, fmt.Errorf("filter: %w", err)
				}
				if seen {
					res.Duplicates++
					continue
				}
			}
			if counts != nil {
				s, e := idList.ValueOffsets(i)
				for _, id := range idVals[s:e] {
					if counts[id] < 1<<31-1 {
						counts[id]++
					}
				}
			}
			copyRow(b, rec, i)
			if err := w.EndRow(); err != nil {
				return res, fmt.Errorf("filter: write: %w", err)
			}
		}
	}
	if w != nil {
		err := w.Close()
		w = nil
		if err != nil {
			return res, fmt.Errorf("filter: %w", err)
		}
	}
	return res, WriteCounts(countsFile, counts)
}

// WriteCounts writes per-entry counts atomically (int32s, little-endian) to path, a local path
// or an object-store URL.
func WriteCounts(path string, counts []int32) error {
	buf := make([]byte, 4*len(counts))
	for i, c := range counts {
		binary.LittleEndian.PutUint32(buf[4*i:], uint32(c))
	}
	if err := storage.WriteFile(context.Background(), path, buf); err != nil {
		return fmt.Errorf("filter: counts: %w", err)
	}
	return nil
}

// ReadCounts reads a file written by WriteCounts.
func ReadCounts(path string) ([]int32, error) {
	buf, err := storage.ReadFile(context.Background(), path)
	if err != nil {
		return nil, fmt.Errorf("filter: counts: %w", err)
	}
	if len(buf)%4 != 0 {
		return nil, fmt.Errorf("filter: counts %s: %d bytes is not a whole number of counts", path, len(buf))
	}
	out := make([]int32, len(buf)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(buf[4*i:]))
	}
	return out, nil
}

// SumCounts is the reduce: the partitions' counts added up (saturating like Run's).
func SumCounts(files []string) ([]int32, error) {
	var sum []int64
	for _, f := range files {
		c, err := ReadCounts(f)
		if err != nil {
			return nil, err
		}
		if sum == nil {
			sum = make([]int64, len(c))
		}
		if len(c) != len(sum) {
			return nil, fmt.Errorf("filter: counts %s has %d entries, want %d (another query list?)", f, len(c), len(sum))
		}
		for i, v := range c {
			sum[i] += int64(v)
		}
	}
	out := make([]int32, len(sum))
	for i, v := range sum {
		out[i] = int32(min(v, 1<<31-1))
	}
	return out, nil
}

// SamplePartition keeps the rows of one deduplicated partition (in) that ExactBalancer keeps
// with the global counts, into out, and returns how many it dropped.
func SamplePartition(ctx context.Context, opts Options, counts []int32, in, out string) (int64, error) {
	if err := storage.RemoveAll(ctx, out); err != nil {
		return 0, fmt.Errorf("filter: %w", err)
	}
	if _, err := storage.Stat(ctx, in); storage.IsNotExist(err) {
		return 0, nil
	}
	bal := &ExactBalancer{T: opts.Threshold, Seed: opts.Seed, Counts: counts}
	var w *shards.Writer
	defer func() {
		if w != nil {
			w.Abort()
		}
	}()
	var dropped int64
	var ids []int32
	for rec, err := range shards.ReadDir(ctx, in, nil) {
		if err != nil {
			return 0, fmt.Errorf("filter: read %s: %w", in, err)
		}
		n := int(rec.NumCols())
		keys := rec.Column(n - 3).(*array.Uint64)
		idList := rec.Column(n - 2).(*array.List)
		idVals := idList.ListValues().(*array.Int32).Int32Values()
		if w == nil {
			if w, err = shards.NewWriter(out, rec.Schema(), shards.WriterOptions{RowsPerFile: 1 << 20}); err != nil {
				return 0, fmt.Errorf("filter: %w", err)
			}
		}
		b := w.Builder()
		for i := range int(rec.NumRows()) {
			if opts.Threshold > 0 {
				s, e := idList.ValueOffsets(i)
				ids = append(ids[:0], idVals[s:e]...)
				if !bal.Keep(keys.Value(i), ids) {
					dropped++
					continue
				}
			}
			copyRow(b, rec, i)
			if err := w.EndRow(); err != nil {
				return 0, fmt.Errorf("filter: write: %w", err)
			}
		}
	}
	if w != nil {
		err := w.Close()
		w = nil
		if err != nil {
			return 0, fmt.Errorf("filter: %w", err)
		}
	}
	return dropped, nil
}

// MergeStats adds up the stats of MapFile tasks and applies the later steps' drops.
func MergeStats(opts Options, parts []*Stats, duplicates, balanced int64) *Stats {
	if opts.Mode == "" {
		opts.Mode = ModeExact // the only mode the distributed steps run
	}
	s := newStats(opts)
	for _, p := range parts {
		s.Rows += p.Rows
		s.Kept += p.Kept
		for r, n := range p.Dropped {
			s.Dropped[r] += n
		}
		s.RepairedUTF8 += p.RepairedUTF8
		for l, n := range p.Languages {
			s.Languages[l] += n
		}
		s.LanguageStage.ScriptPrecheck += p.LanguageStage.ScriptPrecheck
		s.LanguageStage.Lexical += p.LanguageStage.Lexical
		s.LanguageStage.NgramScorer += p.LanguageStage.NgramScorer
		s.LanguageStage.CacheHits += p.LanguageStage.CacheHits
		s.LanguageStage.Lingua += p.LanguageStage.Lingua
	}
	s.Kept -= duplicates + balanced
	s.Dropped[ReasonDuplicate] += duplicates
	s.Dropped[ReasonBalance] += balanced
	return s
}

// MergeOutput merges the sampled partitions (each in input order) back into input order and
// writes opts.Out as Run does: Arrow files of RowsPerFile rows with the output columns, and
// filter-stats.json (stats finished with the global counts), appearing at once.
func MergeOutput(ctx context.Context, opts Options, parts []string, stats *Stats, counts []int32, started time.Time) error {
	out, err := storage.CreateOutput(ctx, opts.Out)
	if err != nil {
		return fmt.Errorf("filter: %w", err)
	}
	defer out.Abort() // nothing after Commit
	tmp := out.Dir().String()
	h := &mergeHeap{}
	for _, p := range parts {
		if _, err := storage.Stat(ctx, p); storage.IsNotExist(err) {
			continue
		}
		next, stop := iter.Pull2(shards.ReadDir(ctx, p, nil))
		defer stop()
		c := &mergeCursor{next: next}
		if err := c.advance(); err != nil {
			return err
		}
		if c.rec != nil {
			heap.Push(h, c)
		}
	}
	if h.Len() == 0 {
		return errors.New("filter: no pair was kept")
	}
	staged := (*h)[0].rec.Schema()
	nOut := staged.NumFields() - 3
	md := staged.Metadata()
	outSchema := arrow.NewSchema(staged.Fields()[:nOut], &md)
	w, err := shards.NewWriter(tmp, outSchema, shards.WriterOptions{RowsPerFile: opts.RowsPerFile})
	if err != nil {
		return fmt.Errorf("filter: %w", err)
	}
	defer func() {
		if w != nil {
			w.Abort()
		}
	}()
	b := w.Builder()
	for h.Len() > 0 {
		c := (*h)[0]
		for col := range nOut {
			appendValue(b.Field(col), c.rec.Column(col), c.row)
		}
		if err := w.EndRow(); err != nil {
			return fmt.Errorf("filter: write: %w", err)
		}
		if err := c.advance(); err != nil {
			return err
		}
		if c.rec == nil {
			heap.Pop(h)
		} else {
			heap.Fix(h, 0)
		}
	}
	err = w.Close()
	w = nil
	if err != nil {
		return fmt.Errorf("filter: %w", err)
	}
	stats.Input, stats.Output = opts.In, opts.Out
	topN := opts.TopEntries
	if topN <= 0 {
		topN = 20
	}
	stats.finish(time.Since(started), counts, opts.Stages.Matcher, topN)
	if err := writeJSONAtomic(storage.Join(tmp, StatsFile), stats); err != nil {
		return err
	}
	if err := out.Commit(); err != nil {
		return fmt.Errorf("filter: commit output: %w", err)
	}
	return nil
}

// mergeCursor walks one partition's rows; pos is the current row's input position.
type mergeCursor struct {
	next func() (arrow.RecordBatch, error, bool)
	rec  arrow.RecordBatch
	pos  *array.Uint64
	row  int
}

func (c *mergeCursor) advance() error {
	if c.rec != nil && c.row+1 < int(c.rec.NumRows()) {
		c.row++
		return nil
	}
	for {
		rec, err, ok := c.next()
		if !ok {
			c.rec = nil
			return nil
		}
		if err != nil {
			return fmt.Errorf("filter: read sampled rows: %w", err)
		}
		if rec.NumRows() == 0 {
			continue
		}
		c.rec, c.row = rec, 0
		c.pos = rec.Column(int(rec.NumCols()) - 1).(*array.Uint64)
		return nil
	}
}

func (c *mergeCursor) position() uint64 { return c.pos.Value(c.row) }

type mergeHeap []*mergeCursor

func (h mergeHeap) Len() int           { return len(h) }
func (h mergeHeap) Less(i, j int) bool { return h[i].position() < h[j].position() }
func (h mergeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)        { *h = append(*h, x.(*mergeCursor)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
