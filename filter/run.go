package filter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/witdata/wit/internal/input"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// Output columns added to the input's columns.
const (
	ColMatchedQueries = "matched_queries" // list<utf8>: the matched query entries
	ColLanguage       = "language"        // utf8: ISO 639-1 code, "und", or "und-<script>" (pre-check)
	ColDecision       = "decision"        // utf8: "keep" or "drop" (only with KeepAll)
	ColDropReason     = "drop_reason"     // utf8: a Reason, "" when kept (only with KeepAll)

	// StatsFile is the stats JSON written inside the output directory.
	StatsFile = "filter-stats.json"

	colPairKey  = "_wit_pair_key"  // staging only (exact mode): uint64 pair key
	colMatchIDs = "_wit_match_ids" // staging only (exact mode): list<int32> entry ids
)

// Balance modes.
const (
	ModeExact  = "exact"  // two passes: count every entry over the whole pool, then sample
	ModeOnline = "online" // one pass with running counts (see OnlineBalancer for the bias)
)

// Options configures Run. The yaml keys are those of configs/filter.yaml (`wit filter --config`),
// which also holds the StageOptions that become Stages.
type Options struct {
	In         string   `yaml:"in"`          // pairs directory of Arrow files, an .arrow file, or txt/csv/tsv/jsonl/json/parquet (.gz)
	Out        string   `yaml:"out"`         // output directory or s3:// folder; must not exist or be empty
	CaptionCol string   `yaml:"caption_col"` // default "caption"
	URLCol     string   `yaml:"url_col"`     // default "image_url" for Arrow input, "url" otherwise
	ExtraCols  []string `yaml:"columns"`     // non-Arrow inputs: further columns to carry to the output

	Stages  Stages `yaml:"-"`
	NoDedup bool   `yaml:"no_dedup"`

	Threshold   int    `yaml:"balance"`       // balancing t; 0 = no balancing
	Seed        uint64 `yaml:"seed"`          // seed of the balancing coins
	Mode        string `yaml:"mode"`          // ModeExact (default) or ModeOnline
	StateDir    string `yaml:"state_dir"`     // online mode: pebble dir of running counts (default: a temp dir, not kept)
	KeepAll     bool   `yaml:"keep_all"`      // write dropped rows too, with decision and drop_reason columns
	StatsJSON   string `yaml:"stats_json"`    // also write the stats JSON here
	RowsPerFile int    `yaml:"rows_per_file"` // output rotation (default shards' 10,000)
	Workers     int    `yaml:"workers"`       // caption evaluation goroutines (default GOMAXPROCS)
	TopEntries  int    `yaml:"top_entries"`   // entries listed in the stats (default 20)
	// BadRows is the policy for malformed rows of non-Arrow inputs: input.BadRowsSkip (default:
	// skipped, counted by reason, logged in input.BadRowsFile inside Out) or input.BadRowsError.
	BadRows string `yaml:"bad_rows"`
}

// Run filters opts.In into opts.Out. The output appears only when everything succeeded
// (storage.Output): on local disk files are written into a sibling temp directory that is renamed
// to Out at the end; on object storage they are written under their final names, between a
// storage.IncompleteMarker written first and deleted last, which readers check. An empty or
// corrupt input, a cancelled run or any error leaves no partial output behind (a killed run on
// object storage leaves files that the marker declares incomplete).
func Run(ctx context.Context, opts Options) (*Stats, error) {
	start := time.Now()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	src, err := openSource(ctx, opts)
	if err != nil {
		return nil, err
	}
	out, err := storage.CreateOutput(ctx, opts.Out)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	defer out.Abort() // nothing after Commit
	tmp := out.Dir().String()
	bad, err := input.NewBadRowLog(storage.Join(tmp, input.BadRowsFile), opts.BadRows)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	defer bad.Abort()
	src.bad = bad
	r := &runner{opts: opts, src: src, stats: newStats(opts)}
	if err := r.run(ctx, tmp); err != nil {
		return nil, err
	}
	if err := bad.Close(); err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	r.stats.addBadRows(bad.Counts())
	r.stats.finish(time.Since(start), r.counts, opts.Stages.Matcher, opts.TopEntries)
	if err := writeJSONAtomic(storage.Join(tmp, StatsFile), r.stats); err != nil {
		return nil, err
	}
	if err := out.Commit(); err != nil {
		return nil, fmt.Errorf("filter: commit output: %w", err)
	}
	if opts.StatsJSON != "" {
		if err := writeJSONAtomic(opts.StatsJSON, r.stats); err != nil {
			return r.stats, err
		}
	}
	return r.stats, nil
}

func (o *Options) validate() error {
	if o.In == "" || o.Out == "" {
		return errors.New("filter: input and output are required")
	}
	if o.CaptionCol == "" {
		o.CaptionCol = shards.ColCaption
	}
	if o.Mode == "" {
		o.Mode = ModeExact
	}
	if o.Mode != ModeExact && o.Mode != ModeOnline {
		return fmt.Errorf("filter: mode %q: want %s or %s", o.Mode, ModeExact, ModeOnline)
	}
	if o.Threshold < 0 {
		return fmt.Errorf("filter: balance threshold %d < 0", o.Threshold)
	}
	if o.Threshold > 0 && o.Stages.Matcher == nil {
		return errors.New("filter: balancing needs a query list (or turn it off with threshold 0)")
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.TopEntries <= 0 {
		o.TopEntries = 20
	}
	if err := input.CheckBadRowsPolicy(o.BadRows); err != nil {
		return fmt.Errorf("filter: %w", err)
	}
	if storage.Inside(o.Out, o.In) {
		return fmt.Errorf("filter: output %s would overwrite the input", o.Out)
	}
	return nil
}

// source yields record batches with at least the caption column (and the URL column when the
// input has one), whatever the input format.
type source struct {
	records  func(yield func(arrow.RecordBatch, error) bool)
	caption  string
	url      string // "" when the input has no URL column
	isArrow  bool
	describe string
	bad      *input.BadRowLog // what malformed rows of a non-Arrow input do
}

func openSource(ctx context.Context, opts Options) (*source, error) {
	st, err := storage.Stat(ctx, opts.In)
	if err != nil {
		return nil, fmt.Errorf("filter: input: %w", err)
	}
	format, _, ferr := input.DetectFormat(opts.In)
	if st.IsDir || (ferr == nil && format == "arrow" && !strings.HasSuffix(storage.Base(opts.In), ".gz")) {
		url := opts.URLCol
		if url == "" {
			url = shards.ColImageURL
		}
		records, err := shards.ReadPath(ctx, opts.In, nil)
		if err != nil {
			return nil, fmt.Errorf("filter: input: %w", err)
		}
		return &source{caption: opts.CaptionCol, url: url, isArrow: true, describe: "arrow", records: records}, nil
	}
	if ferr != nil {
		return nil, fmt.Errorf("filter: %w", ferr)
	}
	url := opts.URLCol
	if url == "" {
		url = "url"
	}
	cols := []string{url, opts.CaptionCol}
	for _, c := range opts.ExtraCols {
		if !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	if format == "txt" { // one caption a line
		cols = []string{opts.CaptionCol}
		url = ""
	}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c, Type: arrow.BinaryTypes.String}
	}
	schema := arrow.NewSchema(fields, nil)
	s := &source{caption: opts.CaptionCol, url: url, describe: format}
	s.records = func(yield func(arrow.RecordBatch, error) bool) {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		defer b.Release()
		n := 0
		flush := func() bool {
			rec := b.NewRecordBatch()
			defer rec.Release()
			n = 0
			return yield(rec, nil)
		}
		// Invalid UTF-8 in the caption is Normalize's to repair (or, with DropInvalidUTF8, to drop
		// and count); in any other column it makes the row malformed.
		ropts := input.Options{Columns: cols, Required: []string{opts.CaptionCol}, KeepInvalidUTF8: []string{opts.CaptionCol}}
		for row, err := range input.Read(ctx, opts.In, ropts) {
			if err != nil {
				if err = s.bad.Handle(err); err != nil {
					yield(nil, err)
					return
				}
				continue
			}
			for i, v := range row.Values {
				b.Field(i).(*array.StringBuilder).Append(v)
			}
			if n++; n == 1024 && !flush() {
				return
			}
		}
		if n > 0 {
			flush()
		}
	}
	return s, nil
}

type runner struct {
	opts   Options
	src    *source
	stats  *Stats
	counts []int32 // matches per entry over the pool (pairs passing every stage but balance)
	dedup  *Deduper
	online *OnlineBalancer

	outSchema *arrow.Schema
	inCols    []int // input column index per copied output column
	captionAt int   // output index of the caption column
}

type rowVerdict struct {
	Verdict
	key    uint64
	reason Reason
}

func (r *runner) run(ctx context.Context, tmp string) error {
	o := r.opts
	if m := o.Stages.Matcher; m != nil {
		r.counts = make([]int32, m.Len())
	}
	if !o.NoDedup {
		d, err := NewDeduper("")
		if err != nil {
			return err
		}
		r.dedup = d
		defer d.Close()
	}
	if o.Threshold > 0 && o.Mode == ModeOnline {
		dir := o.StateDir
		if dir == "" {
			t, err := os.MkdirTemp("", "wit-balance-*")
			if err != nil {
				return fmt.Errorf("filter: %w", err)
			}
			defer os.RemoveAll(t)
			dir = t
		}
		m := o.Stages.Matcher
		b, err := OpenOnlineBalancer(dir, o.Threshold, o.Seed, m.Len(), m.Entry)
		if err != nil {
			return err
		}
		r.online = b
		defer b.Close()
	}
	exact := o.Threshold > 0 && o.Mode == ModeExact
	stageDir := tmp
	if exact {
		stageDir = filepath.Join(tmp, ".stage")
		if storage.IsRemote(tmp) {
			// Pass 1's staging is not output: on object storage it stays on local disk.
			t, err := os.MkdirTemp("", "wit-filter-stage-*")
			if err != nil {
				return fmt.Errorf("filter: %w", err)
			}
			defer os.RemoveAll(t)
			stageDir = t
		}
	}
	var w *shards.Writer
	defer func() {
		if w != nil {
			w.Abort()
		}
	}()
	verdicts := make([]rowVerdict, 0, 1024)
	for rec, err := range r.src.records {
		if err != nil {
			return fmt.Errorf("filter: read %s: %w", o.In, err)
		}
		if w == nil {
			if err := r.planSchema(rec.Schema()); err != nil {
				return err
			}
			schema := r.outSchema
			if exact {
				schema = withStagingCols(schema)
			}
			w, err = shards.NewWriter(stageDir, schema, shards.WriterOptions{RowsPerFile: o.RowsPerFile, FirstIndex: 0})
			if err != nil {
				return fmt.Errorf("filter: %w", err)
			}
		}
		verdicts, err = r.decide(ctx, rec, verdicts[:0])
		if err != nil {
			return err
		}
		if err := r.write(w, rec, verdicts, exact); err != nil {
			return err
		}
	}
	if w == nil || r.stats.Rows == 0 {
		if n := r.src.bad.Total(); n > 0 {
			return fmt.Errorf("filter: input %s has no well-formed rows (%d malformed: %v)", o.In, n, r.src.bad.Counts())
		}
		return fmt.Errorf("filter: input %s has no rows", o.In)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("filter: %w", err)
	}
	w = nil
	if exact {
		if err := r.sample(ctx, stageDir, tmp); err != nil {
			return err
		}
		if err := os.RemoveAll(stageDir); err != nil {
			return fmt.Errorf("filter: %w", err)
		}
	}
	return nil
}

// planSchema derives the output schema from the first batch: the input's columns (minus any
// earlier filter columns, which are replaced) plus the filter's columns.
func (r *runner) planSchema(in *arrow.Schema) error {
	capIdx := in.FieldIndices(r.src.caption)
	if len(capIdx) == 0 {
		return fmt.Errorf("filter: input %s has no caption column %q (columns: %v)", r.opts.In, r.src.caption, fieldNames(in))
	}
	if t := in.Field(capIdx[0]).Type.ID(); t != arrow.STRING && t != arrow.LARGE_STRING {
		return fmt.Errorf("filter: caption column %q is %s, want utf8", r.src.caption, in.Field(capIdx[0]).Type)
	}
	if r.src.url != "" && len(in.FieldIndices(r.src.url)) == 0 {
		if r.opts.URLCol != "" || !r.src.isArrow {
			return fmt.Errorf("filter: input %s has no URL column %q (columns: %v)", r.opts.In, r.src.url, fieldNames(in))
		}
		r.src.url = "" // arrow input without image_url: dedup on the caption alone
	}
	var fields []arrow.Field
	r.inCols = r.inCols[:0]
	for i, f := range in.Fields() {
		switch f.Name {
		case ColMatchedQueries, ColLanguage, ColDecision, ColDropReason, colPairKey, colMatchIDs:
			continue
		}
		if f.Name == r.src.caption {
			r.captionAt = len(fields)
		}
		fields = append(fields, f)
		r.inCols = append(r.inCols, i)
	}
	fields = append(fields,
		arrow.Field{Name: ColMatchedQueries, Type: arrow.ListOf(arrow.BinaryTypes.String)},
		arrow.Field{Name: ColLanguage, Type: arrow.BinaryTypes.String})
	if r.opts.KeepAll {
		fields = append(fields,
			arrow.Field{Name: ColDecision, Type: arrow.BinaryTypes.String},
			arrow.Field{Name: ColDropReason, Type: arrow.BinaryTypes.String})
	}
	md := in.Metadata()
	r.outSchema = arrow.NewSchema(fields, &md)
	return nil
}

func withStagingCols(s *arrow.Schema) *arrow.Schema {
	fields := append(slices.Clone(s.Fields()),
		arrow.Field{Name: colPairKey, Type: arrow.PrimitiveTypes.Uint64},
		arrow.Field{Name: colMatchIDs, Type: arrow.ListOf(arrow.PrimitiveTypes.Int32)})
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}

func fieldNames(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name
	}
	return out
}

func stringAt(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return ""
	}
	switch a := a.(type) {
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	}
	return a.ValueStr(i)
}

// decide runs the per-caption stages in parallel, then dedup and balancing in row order.
func (r *runner) decide(ctx context.Context, rec arrow.RecordBatch, out []rowVerdict) ([]rowVerdict, error) {
	n := int(rec.NumRows())
	out = slices.Grow(out, n)[:n]
	capCol := rec.Column(rec.Schema().FieldIndices(r.src.caption)[0])
	var urlCol arrow.Array
	if r.src.url != "" {
		urlCol = rec.Column(rec.Schema().FieldIndices(r.src.url)[0])
	}
	workers := min(r.opts.Workers, max(1, n/64))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				out[i] = rowVerdict{Verdict: r.opts.Stages.Evaluate(stringAt(capCol, i), nil)}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		v := &out[i]
		v.reason = v.Reason
		url := ""
		if urlCol != nil {
			url = stringAt(urlCol, i)
		}
		v.key = PairKey(url, v.Caption)
		if v.reason == Kept && r.dedup != nil {
			seen, err := r.dedup.Seen(v.key)
			if err != nil {
				return nil, fmt.Errorf("filter: %w", err)
			}
			if seen {
				v.reason = ReasonDuplicate
			}
		}
		if v.reason == Kept && r.counts != nil {
			for _, id := range v.Matches {
				if r.counts[id] < 1<<31-1 {
					r.counts[id]++
				}
			}
		}
		if v.reason == Kept && r.online != nil && !r.online.Keep(v.key, v.Matches) {
			v.reason = ReasonBalance
		}
		r.stats.add(v)
	}
	return out, nil
}

// write appends the rows to keep (all rows with KeepAll) to w.
func (r *runner) write(w *shards.Writer, rec arrow.RecordBatch, vs []rowVerdict, staging bool) error {
	b := w.Builder()
	for i := range vs {
		v := &vs[i]
		if v.reason != Kept && !r.opts.KeepAll {
			continue
		}
		r.appendRow(b, rec, i, v, staging)
		if err := w.EndRow(); err != nil {
			return fmt.Errorf("filter: write: %w", err)
		}
	}
	return nil
}

// appendRow appends row i with its verdict's columns (and the staging columns) to b.
func (r *runner) appendRow(b *array.RecordBuilder, rec arrow.RecordBatch, i int, v *rowVerdict, staging bool) {
	m := r.opts.Stages.Matcher
	{
		for j, c := range r.inCols {
			if j == r.captionAt {
				b.Field(j).(*array.StringBuilder).Append(v.Caption)
				continue
			}
			appendValue(b.Field(j), rec.Column(c), i)
		}
		f := len(r.inCols)
		lb := b.Field(f).(*array.ListBuilder)
		lb.Append(true)
		vb := lb.ValueBuilder().(*array.StringBuilder)
		for _, id := range v.Matches {
			vb.Append(m.Entry(id))
		}
		lang := ""
		if v.LangChecked {
			lang = v.Lang.Code()
		}
		b.Field(f + 1).(*array.StringBuilder).Append(lang)
		f += 2
		if r.opts.KeepAll {
			dec := "keep"
			if v.reason != Kept {
				dec = "drop"
			}
			b.Field(f).(*array.StringBuilder).Append(dec)
			b.Field(f + 1).(*array.StringBuilder).Append(string(v.reason))
			f += 2
		}
		if staging {
			b.Field(f).(*array.Uint64Builder).Append(v.key)
			ib := b.Field(f + 1).(*array.ListBuilder)
			ib.Append(true)
			ib.ValueBuilder().(*array.Int32Builder).AppendValues(v.Matches, nil)
		}
	}
}

// sample is pass 2 of the exact mode: with every entry's count known, decide each staged pair.
func (r *runner) sample(ctx context.Context, stageDir, outDir string) error {
	bal := &ExactBalancer{T: r.opts.Threshold, Seed: r.opts.Seed, Counts: r.counts}
	w, err := shards.NewWriter(outDir, r.outSchema, shards.WriterOptions{RowsPerFile: r.opts.RowsPerFile, FirstIndex: 0})
	if err != nil {
		return fmt.Errorf("filter: %w", err)
	}
	defer func() {
		if w != nil {
			w.Abort()
		}
	}()
	nOut := r.outSchema.NumFields()
	var ids []int32
	for rec, err := range shards.ReadDir(ctx, stageDir, nil) {
		if err != nil {
			return fmt.Errorf("filter: read staged pairs: %w", err)
		}
		keys := rec.Column(nOut).(*array.Uint64)
		idList := rec.Column(nOut + 1).(*array.List)
		idVals := idList.ListValues().(*array.Int32)
		var decCol, reasonCol *array.String
		if r.opts.KeepAll {
			decCol = rec.Column(nOut - 2).(*array.String)
			reasonCol = rec.Column(nOut - 1).(*array.String)
		}
		b := w.Builder()
		for i := range int(rec.NumRows()) {
			kept := decCol == nil || decCol.Value(i) == "keep"
			if kept {
				s, e := idList.ValueOffsets(i)
				ids = append(ids[:0], idVals.Int32Values()[s:e]...)
				if !bal.Keep(keys.Value(i), ids) {
					kept = false
					r.stats.moveToBalance()
				}
			}
			if !kept && !r.opts.KeepAll {
				continue
			}
			last := nOut
			if r.opts.KeepAll {
				last = nOut - 2
			}
			for c := range last {
				appendValue(b.Field(c), rec.Column(c), i)
			}
			if r.opts.KeepAll {
				reason := reasonCol.Value(i)
				dec := "keep"
				if !kept {
					dec = "drop"
					if reason == "" {
						reason = string(ReasonBalance)
					}
				}
				b.Field(nOut - 2).(*array.StringBuilder).Append(dec)
				b.Field(nOut - 1).(*array.StringBuilder).Append(reason)
			}
			if err := w.EndRow(); err != nil {
				return fmt.Errorf("filter: write: %w", err)
			}
		}
	}
	err = w.Close()
	w = nil
	if err != nil {
		return fmt.Errorf("filter: %w", err)
	}
	return nil
}

// appendValue copies a[i] into b for the column types pair files use, falling back to the
// string form for others.
func appendValue(b array.Builder, a arrow.Array, i int) {
	if a.IsNull(i) {
		b.AppendNull()
		return
	}
	switch a := a.(type) {
	case *array.String:
		b.(*array.StringBuilder).Append(a.Value(i))
	case *array.LargeString:
		b.(*array.LargeStringBuilder).Append(a.Value(i))
	case *array.Binary:
		b.(*array.BinaryBuilder).Append(a.Value(i))
	case *array.Timestamp:
		b.(*array.TimestampBuilder).Append(a.Value(i))
	case *array.Int64:
		b.(*array.Int64Builder).Append(a.Value(i))
	case *array.Int32:
		b.(*array.Int32Builder).Append(a.Value(i))
	case *array.Uint64:
		b.(*array.Uint64Builder).Append(a.Value(i))
	case *array.Float64:
		b.(*array.Float64Builder).Append(a.Value(i))
	case *array.Float32:
		b.(*array.Float32Builder).Append(a.Value(i))
	case *array.Boolean:
		b.(*array.BooleanBuilder).Append(a.Value(i))
	case *array.List:
		lb := b.(*array.ListBuilder)
		lb.Append(true)
		s, e := a.ValueOffsets(i)
		vals := a.ListValues()
		for j := int(s); j < int(e); j++ {
			appendValue(lb.ValueBuilder(), vals, j)
		}
	default:
		if err := b.AppendValueFromString(a.ValueStr(i)); err != nil {
			slog.Warn("filter: cannot copy value", "type", a.DataType(), "err", err)
			b.AppendNull()
		}
	}
}
