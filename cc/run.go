package cc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/witdata/wit/internal/atomicfile"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/warc"
)

// DefaultHTTPTimeout bounds the download of one http(s) input (a Common Crawl WARC file is
// about 1 GB).
const DefaultHTTPTimeout = time.Hour

// StatsFile is the name of the stats JSON written in Out.
const StatsFile = "cc-stats.json"

// tmpDirName holds each input's pair file while it is written (see stageDir).
const tmpDirName = ".cc-tmp"

// Options configures Run and ProcessFile.
type Options struct {
	// Out is the directory (a path or an object-store URL, see internal/storage) of pair files
	// (NNNNN.arrow, one per input that gave pairs) and StatsFile.
	Out string `yaml:"out"`
	// State is the directory of per-input done markers (default: DefaultState(Out)); a path, or
	// an object-store URL for workers on several machines.
	State   string `yaml:"state"`
	Format  string `yaml:"format"`  // auto (default), warc or wat
	Workers int    `yaml:"workers"` // input files read at once (default 1)
	// LimitFiles stops after this many inputs of the list (0: all); inputs already done count.
	LimitFiles int `yaml:"limit_files"`
	// MaxBody is the largest record block read (default 5 MiB, the crawler's page limit);
	// larger records are counted as too_large.
	MaxBody int64 `yaml:"max_body"`
	// Open opens inputs (default: NewOpener(AllowPrivate, Workers, HTTPTimeout)).
	Open         Opener        `yaml:"-"`
	AllowPrivate bool          `yaml:"allow_private"` // for the default Opener: allow loopback and private addresses
	HTTPTimeout  time.Duration `yaml:"http_timeout"`  // for the default Opener: one whole download (default 1h)

	Logger *slog.Logger `yaml:"-"` // nil: slog.Default()
	// Progress, when set, is called about every ProgressEvery with the running totals.
	Progress      func(Progress) `yaml:"-"`
	ProgressEvery time.Duration  `yaml:"-"`
}

// Progress is a snapshot of a running Run.
type Progress struct {
	FilesDone, FilesSkipped, FilesFailed, FilesActive int64
	Records, Pairs, Bytes                             int64 // this run, files in progress included
	Elapsed                                           time.Duration
}

func (o *Options) validate() error {
	if o.Out == "" {
		return errors.New("cc: no output directory")
	}
	switch o.Format {
	case "":
		o.Format = FormatAuto
	case FormatAuto, FormatWARC, FormatWAT:
	default:
		return fmt.Errorf("cc: format %q: want auto, warc or wat", o.Format)
	}
	if o.State == "" {
		o.State = DefaultState(o.Out)
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 5 << 20
	}
	if o.HTTPTimeout <= 0 {
		o.HTTPTimeout = DefaultHTTPTimeout
	}
	if o.Open == nil {
		o.Open = NewOpener(o.AllowPrivate, o.Workers, o.HTTPTimeout)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	return nil
}

// DefaultState is where the done markers of the output Out are kept when Options.State is empty:
// Out/.cc-state for a local Out; for an object-store Out, local disk too: a folder named after
// the URL under the user's cache directory (os.UserCacheDir, else the temporary directory).
// Markers and pair files need not be on the same storage: a pair file is named by its input
// and replaced whole, so an input whose marker is missing (state lost, or a run that stopped
// before writing it) is read again and its file written again over itself, never twice.
func DefaultState(out string) string {
	if p, ok := storage.LocalPath(out); ok {
		return filepath.Join(p, ".cc-state")
	}
	return filepath.Join(localWorkDir(out), "state")
}

// localWorkDir is the local folder of a remote output: its default state and staging area.
func localWorkDir(out string) string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	sum := sha256.Sum256([]byte(strings.TrimSuffix(out, "/")))
	return filepath.Join(base, "wit", "cc-"+hex.EncodeToString(sum[:8]))
}

// stageDir holds each input's pair file while it is written, on local disk: inside a local Out
// (so that the final rename stays on one file system); for an object-store Out in State when
// State is local, else in the output's local work folder, from where the file is uploaded whole.
func stageDir(o Options) string {
	if p, ok := storage.LocalPath(o.Out); ok {
		return filepath.Join(p, tmpDirName)
	}
	if p, ok := storage.LocalPath(o.State); ok {
		return filepath.Join(p, tmpDirName)
	}
	return filepath.Join(localWorkDir(o.Out), tmpDirName)
}

// live holds this run's running counts for progress.
type live struct {
	records, pairs, bytes atomic.Int64
}

// Run reads the inputs with Options.Workers in parallel, writes each one's pairs and done
// marker (see ProcessFile), and returns the stats summed over every input done in Out, also
// written to Out/cc-stats.json. Inputs done by an earlier run are skipped; an input that cannot
// be read is logged, counted and left for the next run. Cancelling ctx stops at once: inputs
// in progress leave nothing behind and are read again next time.
func Run(ctx context.Context, opts Options, inputs iter.Seq2[Input, error]) (*Stats, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	log := opts.Logger
	if err := prepareDirs(ctx, opts); err != nil {
		return nil, err
	}
	if storage.IsRemote(opts.Out) {
		log.Info("cc: pair files go to object storage", "out", opts.Out, "state", opts.State, "staging", stageDir(opts))
	}
	// The stats are written after a cancel too, and read the markers of every run.
	finishCtx := context.WithoutCancel(ctx)

	var (
		mu      sync.Mutex
		run     Stats
		lv      live
		active  atomic.Int64
		runErr  error
		failed  atomic.Int64
		done    atomic.Int64
		skipped atomic.Int64
	)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	jobs := make(chan Input)
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for in := range jobs {
				active.Add(1)
				fs, err := processFile(ctx, opts, in, &lv)
				active.Add(-1)
				mu.Lock()
				switch {
				case err == nil && fs.Skipped:
					skipped.Add(1)
					run.FilesSkipped++
				case err == nil:
					done.Add(1)
					run.FilesThisRun++
					run.RecordsThisRun += fs.Records
					run.PairsThisRun += fs.Pairs
					if fs.Truncated {
						log.Warn("cc: input ends inside a record; the records before it were kept", "input", in.Name)
					}
				case ctx.Err() != nil:
				case errors.Is(err, errFatal):
					runErr = err
					cancel(err)
				default:
					failed.Add(1)
					run.FilesFailed++
					run.Failed = append(run.Failed, in.Name+": "+err.Error())
					log.Error("cc: input failed; it is read again next run", "input", in.Name, "err", err)
				}
				mu.Unlock()
			}
		}()
	}

	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	if opts.Progress != nil {
		progressWG.Add(1)
		go func() {
			defer progressWG.Done()
			t := time.NewTicker(opts.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-progressDone:
					return
				case <-t.C:
					opts.Progress(Progress{FilesDone: done.Load(), FilesSkipped: skipped.Load(), FilesFailed: failed.Load(),
						FilesActive: active.Load(), Records: lv.records.Load(), Pairs: lv.pairs.Load(), Bytes: lv.bytes.Load(), Elapsed: time.Since(start)})
				}
			}
		}()
	}

	var inputErr error
	n := 0
feed:
	for in, err := range inputs {
		if err != nil {
			inputErr = err
			break
		}
		if opts.LimitFiles > 0 && n >= opts.LimitFiles {
			break
		}
		n++
		select {
		case jobs <- in:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	close(progressDone)
	progressWG.Wait()
	os.Remove(stageDir(opts)) // empty unless an input failed midway

	total, err := sumMarkers(finishCtx, opts.State)
	if err != nil {
		return nil, err
	}
	total.FilesSkipped, total.FilesFailed, total.FilesThisRun = run.FilesSkipped, run.FilesFailed, run.FilesThisRun
	total.RecordsThisRun, total.PairsThisRun, total.Failed = run.RecordsThisRun, run.PairsThisRun, run.Failed
	total.finish(time.Since(start))
	if err := storage.WriteJSON(finishCtx, storage.Join(opts.Out, StatsFile), total); err != nil {
		return total, fmt.Errorf("cc: %w", err)
	}
	if runErr != nil {
		return total, runErr
	}
	if inputErr != nil {
		return total, inputErr
	}
	if cause := context.Cause(ctx); cause != nil {
		return total, cause
	}
	return total, nil
}

func prepareDirs(ctx context.Context, opts Options) error {
	for _, loc := range []string{opts.Out, storage.Join(opts.State, "done")} {
		d, err := storage.Open(ctx, loc)
		if err != nil {
			return fmt.Errorf("cc: %w", err)
		}
		if err := d.Mkdir(ctx); err != nil {
			return fmt.Errorf("cc: %w", err)
		}
	}
	// Pair files of inputs that were being written when a run stopped: those inputs are not
	// done and will be read again.
	if err := os.RemoveAll(stageDir(opts)); err != nil {
		return fmt.Errorf("cc: remove stale temp files: %w", err)
	}
	return nil
}

// errFatal marks errors that stop a Run: the output cannot be written.
var errFatal = errors.New("cc: output")

// ProcessFile reads one input and makes its pairs visible at once, or not at all: the pairs go
// to a local temporary file (stageDir) that is put into Out as NNNNN.arrow (NNNNN = in.Index)
// when the input has been read to its end — renamed on local disk, uploaded whole to object
// storage (one object, created by the upload's final request) — then the input's done marker is
// written. A marker that names the same
// input means it is done: ProcessFile returns its stats with Skipped set. A marker naming another
// input is an error (the input list changed under the same Out). If it stops midway (ctx, a
// read error) nothing of the input is left and it is read again next time; if it stops between
// the rename and the marker, the next run writes the same file again over it. So every input's
// pairs are in Out exactly once. A truncated input is done: its complete records were read.
// A caller of ProcessFile alone (a distributed worker, with State on shared storage) must give
// each input its own Index; Run also removes the staged files of inputs a killed run was reading.
func ProcessFile(ctx context.Context, opts Options, in Input) (*FileStats, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return processFile(ctx, opts, in, nil)
}

func markerPath(opts Options, index int) string {
	return storage.Join(opts.State, "done", fmt.Sprintf("%05d.json", index))
}

func processFile(ctx context.Context, opts Options, in Input, lv *live) (*FileStats, error) {
	marker := markerPath(opts, in.Index)
	data, err := storage.ReadFile(ctx, marker)
	if err != nil && !storage.IsNotExist(err) {
		return nil, fmt.Errorf("done marker: %w", err) // a failed input: tried again next run
	}
	if err == nil {
		var fs FileStats
		if err := json.Unmarshal(data, &fs); err != nil {
			return nil, fmt.Errorf("%w: done marker %s: %v", errFatal, marker, err)
		}
		if fs.Input != in.Name {
			return nil, fmt.Errorf("%w: input %d is %s, but %s was made from %s: use a new --out for a different input list", errFatal, in.Index, in.Name, opts.Out, fs.Input)
		}
		fs.Skipped = true
		return &fs, nil
	}
	start := time.Now()
	tmp := filepath.Join(stageDir(opts), fmt.Sprintf("%05d", in.Index))
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("%w: %v", errFatal, err)
	}
	w, err := shards.NewWriter(tmp, shards.PairSchema, shards.WriterOptions{
		RowsPerFile: math.MaxInt32, // one file per input
		FirstIndex:  in.Index,
		Metadata:    map[string]string{"wit.stage": "cc", "wit.cc.input": in.Name},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errFatal, err)
	}
	defer os.RemoveAll(tmp)

	fs := &FileStats{Input: in.Name, Index: in.Index}
	if err := readInput(ctx, opts, in, w, fs, lv); err != nil {
		w.Abort()
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("%w: %v", errFatal, err)
	}
	out, err := storage.Open(ctx, opts.Out)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errFatal, err)
	}
	name := shards.FileName(in.Index)
	if committed := w.Committed(); len(committed) > 0 {
		if err := storage.MoveIn(ctx, out, name, committed[0].Path); err != nil {
			return nil, fmt.Errorf("%w: %v", errFatal, err)
		}
		fs.Output = name
	} else {
		// A file left by a run that stopped before its marker, the input having changed since.
		if err := out.Delete(ctx, name); err != nil {
			return nil, fmt.Errorf("%w: %v", errFatal, err)
		}
		if dir, ok := out.Local(); ok {
			if err := atomicfile.SyncDir(dir); err != nil {
				return nil, fmt.Errorf("%w: %v", errFatal, err)
			}
		}
	}
	fs.DurationSec = time.Since(start).Seconds()
	if err := storage.WriteJSON(ctx, marker, fs); err != nil {
		return nil, fmt.Errorf("%w: %v", errFatal, err)
	}
	return fs, nil
}

// readInput streams the records of one input into w.
func readInput(ctx context.Context, opts Options, in Input, w *shards.Writer, fs *FileStats, lv *live) error {
	rc, err := opts.Open(ctx, in.Name)
	if err != nil {
		return err
	}
	defer rc.Close()
	cr := &countReader{r: rc, lv: lv}
	rd := warc.NewReader(cr, warc.ReaderOptions{OnSkip: func(s warc.Skip) {
		opts.Logger.Warn("cc: skipping damaged input", "input", in.Name, "offset", s.Offset, "reason", s.Reason, "err", s.Err)
	}})
	p := newProcessor(opts.Format, opts.MaxBody)
	emit := func(pair shards.Pair) error {
		shards.AppendPair(w.Builder(), pair)
		if err := w.EndRow(); err != nil {
			return fmt.Errorf("%w: %v", errFatal, err)
		}
		return nil
	}
	var lastPairs, lastRecords int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, warc.ErrTruncated) {
			fs.Truncated = true
			continue // io.EOF follows
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", in.Name, err)
		}
		if err := p.record(rec, &fs.Counters, emit); err != nil {
			return err
		}
		if lv != nil {
			lv.records.Add(fs.Records - lastRecords)
			lv.pairs.Add(fs.Pairs - lastPairs)
			lastRecords, lastPairs = fs.Records, fs.Pairs
		}
	}
	c := rd.Counts()
	fs.BadGzipMembers, fs.MalformedRecords = c.BadMembers, c.Malformed
	fs.Bytes = cr.n
	switch {
	case p.sawWAT && p.sawWRC:
		fs.Format = "mixed"
	case p.sawWAT:
		fs.Format = FormatWAT
	case p.sawWRC:
		fs.Format = FormatWARC
	}
	return nil
}

type countReader struct {
	r  io.Reader
	n  int64
	lv *live
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.lv != nil {
		c.lv.bytes.Add(int64(n))
	}
	return n, err
}

// sumMarkers adds up the done markers of every input done in this output.
func sumMarkers(ctx context.Context, state string) (*Stats, error) {
	dir := storage.Join(state, "done")
	d, err := storage.Open(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("cc: %w", err)
	}
	entries, err := d.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("cc: %w", err)
	}
	s := &Stats{}
	for _, e := range entries {
		if e.IsDir || !strings.HasSuffix(e.Name, ".json") || strings.Contains(e.Name, atomicfile.TempMarker) {
			continue
		}
		data, err := storage.ReadFile(ctx, storage.Join(dir, e.Name))
		if err != nil {
			return nil, fmt.Errorf("cc: %w", err)
		}
		var fs FileStats
		if err := json.Unmarshal(data, &fs); err != nil {
			return nil, fmt.Errorf("cc: done marker %s: %w", e.Name, err)
		}
		s.Files++
		s.Add(&fs.Counters)
		if fs.Truncated {
			s.FilesTruncated++
			s.TruncatedFiles = append(s.TruncatedFiles, fs.Input)
		}
	}
	slices.Sort(s.TruncatedFiles)
	return s, nil
}
