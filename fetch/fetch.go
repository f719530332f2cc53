package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/witdata/wit/imgproc"
	"github.com/witdata/wit/internal/atomicfile"
	"github.com/witdata/wit/internal/httpx"
	"github.com/witdata/wit/internal/input"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// Names of the run-level files in the output directory.
const (
	StatsFile = "stats.json" // Stats of the latest run
	InputFile = "fetch.json" // which input the directory was made from
	lockFile  = ".fetch.lock"
)

// job is one item with its input position (the identity resuming relies on).
type job struct {
	seq  int64
	item Item
	// From the processing journal: decoding it crashed an earlier run (it is failed without
	// being downloaded), or it was being decoded with others when one did (it is decoded alone).
	crashed, alone bool
}

type result struct {
	job
	res      *imgproc.Result
	reason   string
	err      error
	canceled bool
	bytes    int64
}

// Run downloads the images of source into shards in cfg.Out and returns the run's stats.
//
// Items are numbered in source order; an output directory remembers which numbers are done, so
// calling Run again with the same source continues where the last run stopped (finished shards
// are never rewritten). With cfg.RetryFailed, source is ignored (it may be nil) and the failed
// items recorded in cfg.Out are downloaded again.
//
// Cancelling ctx stops feeding, lets the downloads in flight finish or fail, commits what has
// been written and returns ctx's error. A killed process loses only the uncommitted shard and
// failure list; the next run redoes those items.
func Run(ctx context.Context, cfg Config, source iter.Seq2[Item, error]) (Stats, error) {
	if source == nil && !cfg.RetryFailed {
		return Stats{}, errors.New("fetch: no source")
	}
	return run(ctx, cfg, func(done *bitset, skipped *atomic.Int64, bad *input.BadRowLog) iter.Seq2[job, error] {
		return numbered(source, cfg.FirstSeq, done, skipped, bad)
	})
}

// Positioned is an item with its position in the input it came from.
type Positioned struct {
	Pos int64 `json:"pos"`
	Item
}

// RunPositioned is Run over items that carry their input positions instead of taking them from
// the source's order: a distributed fetch gives each task the items of a set of hosts, spread
// over the whole input. The output directory is the same as Run's over the whole input, so a
// later Run with the input resumes it.
func RunPositioned(ctx context.Context, cfg Config, source iter.Seq2[Positioned, error]) (Stats, error) {
	if source == nil || cfg.RetryFailed {
		return Stats{}, errors.New("fetch: RunPositioned needs a source and does not retry failed items")
	}
	return run(ctx, cfg, func(done *bitset, skipped *atomic.Int64, bad *input.BadRowLog) iter.Seq2[job, error] {
		return positioned(source, done, skipped, bad)
	})
}

// run is Run with the source made into jobs by feed (given the positions already done).
func run(ctx context.Context, cfg Config, makeFeed func(done *bitset, skipped *atomic.Int64, bad *input.BadRowLog) iter.Seq2[job, error]) (Stats, error) {
	if err := cfg.Validate(); err != nil {
		return Stats{}, fmt.Errorf("fetch: %w", err)
	}
	log := cfg.Logger
	out := cfg.Out
	outDir, err := storage.Open(ctx, out)
	if err != nil {
		return Stats{}, fmt.Errorf("fetch: %w", err)
	}
	if err := outDir.Mkdir(ctx); err != nil {
		return Stats{}, fmt.Errorf("fetch: %w", err)
	}
	shardDir, owns := outDir, shardRange(0, 0)
	if cfg.ShardDir != "" {
		if shardDir, err = storage.Open(ctx, cfg.ShardDir); err != nil {
			return Stats{}, fmt.Errorf("fetch: %w", err)
		}
		if err := shardDir.Mkdir(ctx); err != nil {
			return Stats{}, fmt.Errorf("fetch: %w", err)
		}
		owns = shardRange(cfg.FirstShard, cfg.ShardLimit)
	}
	unlock, err := lockDir(out)
	if err != nil {
		return Stats{}, err
	}
	defer unlock()
	if cfg.ShardDir != "" {
		// Out is the run's own: a killed run's manifest or stats temporary files go.
		if err := shards.CleanAtomicTemp(out); err != nil {
			return Stats{}, fmt.Errorf("fetch: %w", err)
		}
	}
	if !cfg.RetryFailed {
		if err := checkInput(out, cfg.InputName); err != nil {
			return Stats{}, err
		}
	}
	led, err := loadLedger(ctx, shardDir, owns, log)
	if err != nil {
		return Stats{}, err
	}
	if err := shards.WriteManifest(out, led.manifest); err != nil {
		return Stats{}, err
	}
	jl, err := openJournal(localStateDir(out), &led.done)
	if err != nil {
		return Stats{}, err
	}
	if len(jl.crashed)+len(jl.suspects) > 0 {
		log.Warn("fetch: an earlier run died while decoding; its items are failed as crashed (decoded alone then) or decoded alone (decoded with others)",
			"crashed", len(jl.crashed), "suspects", len(jl.suspects))
	}
	sw, err := newSampleWriter(shardDir, out, max(led.nextIndex, cfg.FirstShard), led.manifest, &cfg)
	if err != nil {
		return Stats{}, err
	}
	client := cfg.Client
	if client == nil {
		client = httpx.NewClient(cfg.httpOptions())
		defer client.CloseIdleConnections()
	}
	d := &downloader{client: client, maxBytes: cfg.MaxBytes, userAgent: cfg.UserAgent,
		agent: agentToken(cfg.UserAgent), localFiles: cfg.LocalFiles, baseDir: cfg.BaseDir}
	imgOpts := cfg.imageOptions()

	st := Stats{Input: cfg.InputName, Out: out, RetryFailed: cfg.RetryFailed, StartTime: time.Now().UTC(),
		Failures: map[string]int64{}}
	var bad *input.BadRowLog // malformed input rows; none when retrying recorded items
	if !cfg.RetryFailed {
		if bad, err = input.NewBadRowLog(filepath.Join(out, input.BadRowsFile), cfg.BadRows); err != nil {
			return Stats{}, fmt.Errorf("fetch: %w", err)
		}
		defer bad.Abort()
	}
	var seen, skipped, downloaded atomic.Int64
	sw.onCommit = func(c shards.Commit, _ *shards.ShardStats) {
		st.ShardsWritten++
		st.BytesWritten += c.Bytes
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan job, cfg.Workers)
	results := make(chan result, cfg.Workers)

	// Workers report each finished job's host so the scheduler can hand out that host's next
	// item; after the scheduler has gone they stop reporting.
	hostDone := make(chan string, cfg.Workers)
	feederDone := make(chan struct{})
	window := max(16*cfg.Workers, 1024)
	var srcErr error
	go func() {
		defer close(jobs)
		defer close(feederDone)
		var feed iter.Seq2[job, error]
		if cfg.RetryFailed {
			feed = led.retrySource(shardDir, cfg.RetryReasons)
		} else {
			feed = makeFeed(&led.done, &skipped, bad)
		}
		srcErr = schedule(runCtx, jl.annotate(feed), jobs, hostDone, cfg.PerHost, window, func() { seen.Add(1) })
	}()

	gate := &decodeGate{slots: make(chan struct{}, cfg.ProcessWorkers), journal: jl, alwaysAlone: cfg.ProcessWorkers == 1, log: log}
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Go(func() {
			for j := range jobs {
				r := work(runCtx, d, gate, imgOpts, j)
				downloaded.Add(r.bytes)
				results <- r
				select {
				case hostDone <- HostKey(j.item.URL):
				case <-feederDone:
				}
			}
		})
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	snapshot := func() Stats {
		s := st.clone()
		s.Seen, s.Skipped, s.DownloadedBytes = seen.Load(), skipped.Load(), downloaded.Load()
		if bad != nil {
			s.BadRows = bad.Counts()
		}
		s.finish(time.Now())
		return s
	}
	ticker := time.NewTicker(cfg.ProgressEvery)
	defer ticker.Stop()
	failThreshold := int64(cfg.SamplesPerShard)
	var writeErr error
loop:
	for {
		select {
		case r, ok := <-results:
			if !ok {
				break loop
			}
			if writeErr != nil {
				continue // draining after a write error
			}
			if !r.canceled {
				sw.received += r.bytes // recorded with the item, so a distributed fetch can sum them
			}
			switch {
			case r.canceled:
				st.Canceled++
				continue
			case r.res != nil:
				writeErr = sw.add(r.seq, &r.item, r.res)
				st.Successes++
			default:
				writeErr = sw.fail(r.seq, &r.item, r.reason, r.err)
				if writeErr == nil {
					writeErr = sw.flushFailures(failThreshold)
				}
				st.Failed++
				st.Failures[r.reason]++
				log.Debug("fetch: failed", "url", r.item.URL, "reason", r.reason, "err", r.err)
			}
			st.Done++
			if writeErr != nil {
				cancel()
			}
		case <-ticker.C:
			if cfg.Progress != nil {
				cfg.Progress(snapshot())
			}
		}
	}

	if writeErr != nil {
		sw.abort()
	} else {
		writeErr = sw.close()
	}
	if err := bad.Close(); err != nil && writeErr == nil {
		writeErr = fmt.Errorf("fetch: %w", err)
	}
	if err := jl.close(writeErr == nil); err != nil && writeErr == nil {
		writeErr = err
	}
	final := snapshot()
	final.DatasetShards = len(led.manifest.Shards)
	final.DatasetCount = led.manifest.TotalCount
	runErr := errors.Join(writeErr, srcErr)
	if runErr == nil && ctx.Err() != nil {
		runErr = ctx.Err()
		final.Interrupted = true
	}
	if runErr != nil {
		final.Error = runErr.Error()
	}
	if err := storage.WriteJSON(ctx, storage.Join(out, StatsFile), &final); err != nil && runErr == nil {
		runErr = err
	}
	return final, runErr
}

// numbered numbers the source's items from first and drops those an earlier run has done.
// Malformed rows go to bad (skipped and logged, or the error that ends the run); they take no
// number.
func numbered(source iter.Seq2[Item, error], first int64, done *bitset, skipped *atomic.Int64, bad *input.BadRowLog) iter.Seq2[job, error] {
	withPositions := func(yield func(Positioned, error) bool) {
		seq := first
		for it, err := range source {
			if err != nil {
				if !yield(Positioned{}, err) {
					return
				}
				continue
			}
			if !yield(Positioned{Pos: seq, Item: it}, nil) {
				return
			}
			seq++
		}
	}
	return positioned(withPositions, done, skipped, bad)
}

// positioned drops the items an earlier run has done; a malformed row goes to bad.
func positioned(source iter.Seq2[Positioned, error], done *bitset, skipped *atomic.Int64, bad *input.BadRowLog) iter.Seq2[job, error] {
	return func(yield func(job, error) bool) {
		for it, err := range source {
			if err != nil {
				if err = bad.Handle(err); err != nil {
					yield(job{}, err)
					return
				}
				continue
			}
			if it.Pos < 0 {
				yield(job{}, fmt.Errorf("fetch: item %q has position %d", it.URL, it.Pos))
				return
			}
			if done.has(it.Pos) {
				skipped.Add(1)
				continue
			}
			if !yield(job{seq: it.Pos, item: it.Item}, nil) {
				return
			}
		}
	}
}

// work downloads and processes one item.
func work(ctx context.Context, d *downloader, gate *decodeGate, opts imgproc.Options, j job) result {
	r := result{job: j}
	if j.crashed {
		gate.journal.recorded(j.seq)
		r.reason, r.err = ReasonCrashed, errors.New("decoding it killed an earlier run (it was decoded alone); not tried again")
		return r
	}
	data, err := d.get(ctx, j.item.URL)
	if err != nil {
		var f *Failure
		switch {
		case errors.As(err, &f):
			r.reason, r.err = f.Reason, f.Err
		case ctx.Err() != nil:
			r.canceled = true
		default:
			r.reason, r.err = ReasonNetwork, err
		}
		return r
	}
	r.bytes = int64(len(data))
	res, err := gate.process(ctx, j, data, opts)
	switch {
	case errors.Is(err, errGateCanceled):
		r.canceled = true
	case err != nil:
		r.reason, r.err = processReason(err), err
	default:
		r.res = res
	}
	return r
}

// processImage is imgproc.Process; tests replace it to crash the process on an item.
var processImage = imgproc.Process

var errGateCanceled = errors.New("canceled while waiting to decode")

// decodeGate runs the decodes: at most ProcessWorkers at once, which bounds memory (each within
// the image budget) and CPU, and a suspect of an earlier crash alone; each is journalled.
type decodeGate struct {
	slots       chan struct{}
	exclusive   sync.RWMutex // held for reading by every decode, for writing by one decoded alone
	journal     *journal
	alwaysAlone bool // ProcessWorkers is 1
	log         interface{ Warn(string, ...any) }
	warned      atomic.Bool
}

func (g *decodeGate) process(ctx context.Context, j job, data []byte, opts imgproc.Options) (*imgproc.Result, error) {
	if j.alone {
		g.exclusive.Lock() // waits for the decodes in progress, holds back new ones
		defer g.exclusive.Unlock()
	} else {
		select {
		case g.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, errGateCanceled
		}
		defer func() { <-g.slots }()
		g.exclusive.RLock()
		defer g.exclusive.RUnlock()
	}
	alone := j.alone || g.alwaysAlone
	if err := g.journal.start(j.seq, alone); err != nil && !g.warned.Swap(true) {
		g.log.Warn("fetch: cannot journal decodes; a crashing image would not be recognised on resume", "err", err)
	}
	res, err := processSafely(data, opts)
	if err := g.journal.end(j.seq); err != nil && !g.warned.Swap(true) {
		g.log.Warn("fetch: cannot journal decodes; a crashing image would not be recognised on resume", "err", err)
	}
	return res, err
}

// processSafely turns a panic while processing (imgproc recovers its decoders' panics, not its
// own) into a failure of the item.
func processSafely(data []byte, opts imgproc.Options) (res *imgproc.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, &Failure{Reason: ReasonCrashed, Err: fmt.Errorf("image processing panicked: %v", p)}
		}
	}()
	return processImage(data, opts)
}

// localStateDir is where a run keeps what must be on local disk (the lock, the decode journal):
// dir itself, or for an object-storage URL a folder of the local temporary directory named after
// the URL, which serves runs on this machine only.
func localStateDir(dir string) string {
	if !storage.IsRemote(dir) {
		return dir
	}
	sum := sha256.Sum256([]byte(dir))
	local := filepath.Join(os.TempDir(), "wit-fetch-"+hex.EncodeToString(sum[:8]))
	os.MkdirAll(local, 0o755) // an error shows when the lock or journal is opened
	return local
}

// lockDir takes an exclusive lock on dir so two runs cannot write the same shards. Object
// storage has no locks: for an s3:// directory the lock is a file in the local temporary
// directory named after the URL, which keeps two runs on one machine apart (not two machines).
func lockDir(dir string) (func(), error) {
	unlock, err := atomicfile.Lock(filepath.Join(localStateDir(dir), lockFile))
	if err != nil {
		return nil, fmt.Errorf("fetch: %s: %w", dir, err)
	}
	return unlock, nil
}

// inputRecord is fetch.json.
type inputRecord struct {
	Input string `json:"input"`
}

// checkInput refuses to resume a directory made from another input, and records the input of a
// new one.
func checkInput(dir, name string) error {
	if name == "" {
		return nil
	}
	path := storage.Join(dir, InputFile)
	data, err := storage.ReadFile(context.Background(), path)
	if err == nil {
		var rec inputRecord
		if err := json.Unmarshal(data, &rec); err != nil {
			return fmt.Errorf("fetch: %s: %w", path, err)
		}
		if rec.Input != "" && rec.Input != name {
			return fmt.Errorf("fetch: %s holds shards fetched from %s, not %s: resuming counts input positions, so use another output directory (or --retry-failed)", dir, rec.Input, name)
		}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("fetch: %w", err)
	}
	if err := storage.WriteJSON(context.Background(), path, &inputRecord{Input: name}); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	return nil
}
