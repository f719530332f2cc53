package crawl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/gocolly/colly/v2"

	"github.com/witdata/wit/crawl/extract"
	"github.com/witdata/wit/crawl/robots"
	"github.com/witdata/wit/internal/httpx"
	"github.com/witdata/wit/internal/input"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/internal/urlnorm"
	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/warc"
)

// Keys of the values a frontier request carries in its colly context.
const (
	ctxRoot     = "wit.root"     // scope root: the host the seed resolved to
	ctxAttempts = "wit.attempts" // times robots.txt said "retry later"
	ctxResult   = "wit.result"   // *fetchResult, set by the worker (never serialised)
)

// job is a frontier item handed to a worker.
type job struct {
	seq  uint64
	data []byte // the colly request as stored in the frontier
	host string // its URL's host, the dispatcher's per-host key
}

// link is a URL found on a page (or a seed) that may be admitted to the frontier.
type link struct {
	url   string
	host  string
	root  string
	depth int
}

// fetchResult collects what colly's callbacks saw of one request.
type fetchResult struct {
	status   int
	body     []byte
	ctype    string
	finalURL *url.URL
	reason   string // set by callbacks that aborted the download
	noIndex  bool   // X-Robots-Tag
	noFollow bool
}

// outcome is what a worker hands to the completion batch.
type outcome struct {
	reason     string // "" = ok
	bytes      int64
	noIndex    bool
	links      []link
	pairs      []shards.Pair
	redirectTo string // final URL when it differs from the requested one
	retryData  []byte // robots said retry later: re-queue this request
	retryAt    time.Time
	downReason string // the page's host gave no answer at all (see hostHealth)
}

type crawler struct {
	cfg    Config
	log    *slog.Logger
	st     *store
	pf     *pairFiles
	scope  *scope
	client *httpx.Client
	robots *robots.Cache
	health *hostHealth
	c      *colly.Collector
	warc   *warc.Archive // nil without Config.WARCOut

	hardCtx    context.Context // requests; cancelled ShutdownGrace after the crawl is cancelled
	runCtx     context.Context // dispatching; cancelled by the caller or by a fatal error
	abort      context.CancelCauseFunc
	wake       chan struct{}
	windowSize int // frontier items the dispatcher reads ahead

	forwardWake chan struct{} // outbox entries were added (distributed crawls)
	lastInbox   time.Time     // when the inbox was last polled (dispatcher goroutine only)
	idleSince   time.Time     // when the frontier and the inbox were first seen empty (dispatcher only)

	start     time.Time
	persisted atomic.Int64 // ns of this run already added to the stored duration
	finished  atomic.Bool
}

// Run crawls the seeds of cfg until the frontier is exhausted or ctx is cancelled, then commits
// the pair file in progress and writes stats.json. Calling it again with the same State and Out
// continues the crawl (see the package documentation for the guarantees).
func Run(ctx context.Context, cfg Config) (Stats, error) {
	if err := cfg.Validate(); err != nil {
		return Stats{}, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	st, err := openStore(cfg.State, log)
	if err != nil {
		return Stats{}, err
	}
	cr := &crawler{cfg: cfg, log: log, st: st, scope: newScope(cfg.Scope, cfg.AllowHosts), wake: make(chan struct{}, 1),
		windowSize:  max(16*cfg.Workers, 1024),
		forwardWake: make(chan struct{}, 1), start: time.Now(), health: newHostHealth(cfg.RobotsRetryDelay)}
	stats, runErr := cr.run(ctx)
	if err := st.Close(); err != nil && runErr == nil {
		runErr = err
	}
	return stats, runErr
}

func (cr *crawler) run(parent context.Context) (Stats, error) {
	cfg := cr.cfg
	if cfg.Out != "" {
		next, err := recoverFiles(parent, cr.st, cfg.Out, cr.log)
		if err != nil {
			return Stats{}, err
		}
		if cr.pf, err = newPairFiles(cr.st, cfg.Out, stagingDir(cfg.State), next, cfg.RowsPerFile); err != nil {
			return Stats{}, err
		}
		if err := cr.feedPending(); err != nil {
			cr.pf.w.Abort()
			return Stats{}, err
		}
	}
	if err := cr.bumpCounter(cRuns, 1); err != nil {
		return Stats{}, err
	}
	if cfg.OnPair != nil {
		if err := cr.handOverLeft(); err != nil {
			if cr.pf != nil {
				cr.pf.w.Abort()
			}
			return Stats{}, err
		}
	}
	if cfg.WARCOut != "" {
		a, err := openArchive(parent, cfg, cr.log)
		if err != nil {
			return Stats{}, err
		}
		cr.warc = a
	}

	runCtx, abort := context.WithCancelCause(parent)
	defer abort(nil)
	cr.runCtx, cr.abort = runCtx, abort
	// Requests outlive a cancel by ShutdownGrace so that in-flight pages can complete.
	hardCtx, hardCancel := context.WithCancel(context.WithoutCancel(parent))
	defer hardCancel()
	cr.hardCtx = hardCtx
	stopGrace := context.AfterFunc(runCtx, func() {
		t := time.AfterFunc(cr.cfg.ShutdownGrace, hardCancel)
		context.AfterFunc(hardCtx, func() { t.Stop() })
	})
	defer stopGrace()

	cr.setupHTTP()
	if err := cr.addSeeds(runCtx); err != nil {
		cr.fail(err)
	}

	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	if cfg.Progress != nil {
		progressWG.Add(1)
		go func() {
			defer progressWG.Done()
			cr.progressLoop(progressDone)
		}()
	}

	syncDone := make(chan struct{})
	var syncWG sync.WaitGroup
	syncWG.Add(1)
	go func() {
		defer syncWG.Done()
		cr.syncLoop(syncDone)
	}()

	forwardDone := make(chan struct{})
	var forwardWG sync.WaitGroup
	if cfg.Forward != nil {
		forwardWG.Add(1)
		go func() {
			defer forwardWG.Done()
			cr.forwardLoop(forwardDone)
		}()
	}

	win := newWindow(runCtx, cfg.PerHost)
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cr.worker(win)
		}()
	}
	dispatchErr := cr.dispatch(runCtx, win)
	if dispatchErr != nil {
		cr.fail(dispatchErr)
	}
	wg.Wait()
	close(forwardDone)
	forwardWG.Wait()
	close(syncDone)
	syncWG.Wait()
	close(progressDone)
	progressWG.Wait()

	var errs []error
	if cause := context.Cause(runCtx); cause != nil && !errors.Is(cause, context.Canceled) {
		errs = append(errs, cause)
	}
	if cr.pf != nil {
		cr.st.mu.Lock()
		if len(errs) == 0 {
			if err := cr.pf.close(); err != nil {
				errs = append(errs, err)
			}
		} else {
			// Leave the uncommitted rows pending; the next run writes them.
			cr.pf.w.Abort()
		}
		cr.st.mu.Unlock()
	}
	if cr.warc != nil {
		if err := cr.warc.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := cr.st.addDuration(int64(time.Since(cr.start)) - cr.persisted.Load()); err != nil {
		errs = append(errs, err)
	}
	cr.persisted.Store(int64(time.Since(cr.start)))
	stats := cr.snapshot()
	dir := cfg.Out
	if dir == "" {
		dir = cfg.State
	}
	if err := writeStatsFile(dir, stats); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 && parent.Err() != nil {
		errs = append(errs, parent.Err())
	}
	return stats, errors.Join(errs...)
}

func (cr *crawler) fail(err error) {
	cr.log.Error("crawl: stopping", "err", err)
	cr.abort(err)
}

// setupHTTP builds the polite client, the robots.txt cache and the colly collector on top.
func (cr *crawler) setupHTTP() {
	cfg := cr.cfg
	o := httpx.DefaultOptions()
	o.UserAgent = cfg.UserAgent
	o.Timeout = cfg.Timeout
	o.MaxBodyBytes = cfg.MaxBody
	o.MaxRedirects = cfg.MaxRedirects
	o.Retries = cfg.Retries
	if cfg.BackoffBase > 0 {
		o.BackoffBase = cfg.BackoffBase
	}
	if cfg.BackoffMax > 0 {
		o.BackoffMax = cfg.BackoffMax
		o.MaxRetryAfter = cfg.BackoffMax
	}
	o.PerHost = cfg.PerHost
	o.Delay = cfg.Delay
	o.AllowPrivate = cfg.AllowPrivate
	o.AllowAddrs = cfg.AllowAddrs
	o.ShareLimits = cfg.ShareLimitsWith
	cr.client = httpx.NewClient(o)
	httpClient := cr.client.HTTP
	if cr.warc != nil {
		httpClient = archivingClient(httpClient, cr.warc, cfg.MaxBody, cr.log)
	}
	if !cfg.IgnoreRobots {
		cr.robots = robots.NewCache(httpClient, cfg.UserAgent, robots.Options{
			TTL: cfg.RobotsTTL, MaxCrawlDelay: cfg.MaxCrawlDelay, MaxEntries: 10000,
			RetryTTL: cfg.RobotsRetryDelay, FetchTimeout: cfg.Timeout * time.Duration(cfg.Retries+2),
		})
	}

	c := colly.NewCollector(
		colly.UserAgent(cfg.UserAgent),
		colly.MaxBodySize(int(cfg.MaxBody+1)), // one byte more than allowed tells "too large" from "exactly the limit"
		colly.AllowURLRevisit(),               // the frontier admits each URL once (visited set in pebble)
		colly.IgnoreRobotsTxt(),               // robots.txt is ours: crawl/robots, with expiry and Crawl-delay
		colly.StdlibContext(cr.hardCtx),
	)
	// The store backs colly's visited set; the crawl checks it when admitting links, before a URL
	// enters the frontier, so colly need not (AllowURLRevisit) check it again at fetch time.
	if err := c.SetStorage(cr.st); err != nil {
		panic(err) // store.Init cannot fail
	}
	// httpx's client: SSRF guard at dial time, per-host limits, retries, redirect cap. Set after
	// SetStorage so that no cookie jar is attached: the crawl is stateless.
	c.SetClient(httpClient)
	c.OnResponseHeaders(cr.onHeaders)
	c.OnResponse(func(r *colly.Response) {
		res := resultOf(r.Ctx)
		res.status = r.StatusCode
		res.body = r.Body
		res.ctype = r.Headers.Get("Content-Type")
		res.finalURL = r.Request.URL
	})
	c.OnError(func(r *colly.Response, _ error) {
		if res := resultOf(r.Ctx); res != nil && r.StatusCode != 0 {
			res.status = r.StatusCode
		}
	})
	cr.c = c
}

func resultOf(ctx *colly.Context) *fetchResult {
	if ctx == nil {
		return nil
	}
	res, _ := ctx.GetAny(ctxResult).(*fetchResult)
	return res
}

// onHeaders stops downloads that cannot give a page: error statuses, bodies that are not HTML
// or are announced as too large.
func (cr *crawler) onHeaders(r *colly.Response) {
	res := resultOf(r.Ctx)
	if res == nil {
		return
	}
	res.status = r.StatusCode
	if r.StatusCode < 200 || r.StatusCode >= 300 {
		r.Request.Abort()
		return
	}
	ct := r.Headers.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil && !htmlish(mt) {
		res.reason = ReasonNotHTML
		r.Request.Abort()
		return
	}
	if n, err := strconv.ParseInt(r.Headers.Get("Content-Length"), 10, 64); err == nil && n > cr.cfg.MaxBody {
		res.reason = ReasonTooLarge
		r.Request.Abort()
		return
	}
	for _, v := range r.Headers.Values("X-Robots-Tag") {
		noIndex, noFollow := parseRobotsTag(v, cr.cfg.UserAgent)
		res.noIndex = res.noIndex || noIndex
		res.noFollow = res.noFollow || noFollow
	}
}

// htmlish reports whether a media type may hold an HTML page (text/plain is sniffed later).
func htmlish(mt string) bool {
	return mt == "text/html" || mt == "application/xhtml+xml" || mt == "text/plain" || mt == "application/octet-stream"
}

// parseRobotsTag reads an X-Robots-Tag header value ("noindex, nofollow", "bot: noai").
// noimageindex, noai and noimageai count as noindex: they forbid what a dataset does.
func parseRobotsTag(v, ua string) (noIndex, noFollow bool) {
	if name, rest, ok := strings.Cut(v, ":"); ok && !strings.ContainsAny(name, ", ") {
		// "botname: directives" applies to that bot only.
		n := strings.ToLower(strings.TrimSpace(name))
		if !strings.Contains(strings.ToLower(ua), n) {
			return false, false
		}
		v = rest
	}
	for _, d := range strings.Split(v, ",") {
		switch strings.ToLower(strings.TrimSpace(d)) {
		case "noindex", "noimageindex", "noai", "noimageai":
			noIndex = true
		case "nofollow":
			noFollow = true
		case "none":
			noIndex, noFollow = true, true
		}
	}
	return
}

// stagingDir is where pair files bound for object storage are written before their upload
// (shards.WriterOptions.StageDir): inside the state directory, which is local and kept.
func stagingDir(state string) string { return filepath.Join(state, "staging") }

// recoverFiles finishes the commit of pair files whose pebble record was written but whose
// rename (or upload) did not happen (the process died in between), and returns the next file
// index.
func recoverFiles(ctx context.Context, st *store, dir string, log *slog.Logger) (int, error) {
	recs, next, err := st.fileRecords()
	if err != nil {
		return 0, err
	}
	out, err := storage.Open(ctx, dir)
	if err != nil {
		return 0, fmt.Errorf("output %s: %w", dir, err)
	}
	if err := out.Mkdir(ctx); err != nil {
		return 0, fmt.Errorf("output %s: %w", dir, err)
	}
	for idx, r := range recs {
		name := storage.Base(r.Path)
		if _, err := out.Stat(ctx, name); err == nil {
			continue
		} else if !storage.IsNotExist(err) {
			return 0, fmt.Errorf("output %s: %w", dir, err)
		}
		if _, err := os.Stat(r.TempPath); r.TempPath == "" || err != nil {
			log.Error("crawl: pair file recorded as committed is missing", "file", r.Path, "index", idx)
			continue
		}
		if err := storage.MoveIn(ctx, out, name, r.TempPath); err != nil {
			return 0, fmt.Errorf("finish commit of %s: %w", r.Path, err)
		}
		log.Info("crawl: finished the commit of a pair file cut off by the last run", "file", r.Path)
	}
	// Never overwrite a file this state does not know about (e.g. a state directory reset).
	files, err := shards.ListFiles(dir)
	if err != nil {
		return 0, err
	}
	if n := len(files); n > 0 {
		if last, ok := shards.FileIndex(files[n-1]); ok && last+1 > next {
			next = last + 1
		}
	}
	return next, nil
}

// feedPending appends the pairs of pages committed by earlier runs whose file was never
// committed (their temp files were removed), in pending order.
func (cr *crawler) feedPending() error {
	n, err := cr.st.eachPairs(ksPending, "pending pairs", cr.pf.add)
	if n > 0 {
		cr.log.Info("crawl: rewriting pairs of pages whose file was not committed", "pairs", n)
	}
	return err
}

// handOver gives a committed page's pairs to Config.OnPair and then deletes their handover
// key. The delete is not synced: if it is lost, the next run hands the pairs over again, as it
// does when OnPair fails or the process dies inside it.
func (cr *crawler) handOver(seq uint64, pairs []shards.Pair) error {
	for _, p := range pairs {
		if err := cr.cfg.OnPair(p); err != nil {
			return fmt.Errorf("pair consumer: %w", err)
		}
	}
	if err := cr.st.db.Delete(key8(ksHandover, seq), pebble.NoSync); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// handOverLeft hands over, before the crawl goes on, the pairs of pages whose completion a
// past run committed but whose pairs OnPair did not take (it failed, or the process died).
func (cr *crawler) handOverLeft() error {
	n, err := cr.st.eachPairs(ksHandover, "pairs to hand over", cr.handOver)
	if n > 0 {
		cr.log.Info("crawl: handing over again the pairs of pages an earlier run completed", "pairs", n)
	}
	return err
}

func (cr *crawler) bumpCounter(name string, d int64) error {
	st := cr.st
	st.mu.Lock()
	defer st.mu.Unlock()
	st.counters[name] += d
	return st.db.Set(keyStr(ksCounter, name), u64(uint64(st.counters[name])), pebble.NoSync)
}

// addSeeds admits the seeds (those already admitted by an earlier run are skipped). Malformed
// rows of the seed list are skipped and listed in Out/bad-rows.jsonl, or stop the crawl
// (Config.BadRows); the seed counters add up: rows = ok + invalid + malformed.
func (cr *crawler) addSeeds(ctx context.Context) (err error) {
	if cr.cfg.Local != nil {
		// A partition of a distributed crawl is started again whenever links arrive for it; it
		// reads its seeds once.
		if _, done, err := cr.st.getU64(metaSeedsRead); err != nil || done {
			return err
		}
	}
	var batch []link
	bad, ok := int64(0), int64(0)
	// In a distributed crawl every partition reads the seeds; one of them reports bad ones.
	countBad := cr.cfg.Local == nil || cr.cfg.Local("")
	// Beside the pair files, or, when pairs are only streamed (wit build), beside the state.
	logPath := filepath.Join(filepath.Dir(filepath.Clean(cr.cfg.State)), input.BadRowsFile)
	if cr.cfg.Out != "" {
		logPath = filepath.Join(cr.cfg.Out, input.BadRowsFile)
	}
	if !countBad {
		logPath = "" // count only: the reporting partition lists them
	}
	badRows, err := input.NewBadRowLog(logPath, cr.cfg.BadRows)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			badRows.Abort()
			return
		}
		if err = badRows.Close(); err != nil {
			return
		}
		if !countBad {
			err = cr.bumpCounter(cSeedsOK, ok)
			return
		}
		counts := badRows.Counts()
		for reason, n := range counts {
			cr.log.Warn("crawl: skipped malformed seed rows", "reason", reason, "rows", n, "list", logPath)
			if err = cr.bumpCounter(cSeedBadPrefix+reason, n); err != nil {
				return
			}
		}
		if err = cr.bumpCounter(cSeedsOK, ok); err == nil && bad > 0 {
			err = cr.bumpCounter(cSeedsBad, bad)
		}
	}()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, _, err := cr.complete(job{}, &outcome{links: batch}, false)
		batch = batch[:0]
		return err
	}
	for row, err := range input.Read(ctx, cr.cfg.Seeds, input.Options{Columns: []string{cr.cfg.SeedsCol}, Required: []string{cr.cfg.SeedsCol}, Arrow: shards.ReadPath}) {
		if err != nil {
			if err = badRows.Handle(err); err != nil {
				return fmt.Errorf("seeds %s: %w", cr.cfg.Seeds, err)
			}
			continue
		}
		raw := strings.TrimSpace(row.Values[0])
		if raw == "" {
			bad++ // an empty URL field
			continue
		}
		if !strings.Contains(raw, "://") {
			raw = "https://" + raw // a bare host name
		}
		norm, err := urlnorm.String(raw)
		if err != nil {
			if countBad {
				cr.log.Warn("crawl: skipping seed", "row", row.Index, "url", raw, "err", err)
			}
			bad++
			continue
		}
		u, _ := url.Parse(norm)
		host := strings.ToLower(u.Host)
		if cr.cfg.Local != nil && !cr.cfg.Local(host) {
			continue // another partition's seed: its owner reads the same list
		}
		ok++
		batch = append(batch, link{url: norm, host: host, root: host, depth: 0})
		if len(batch) >= 512 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if cr.cfg.Local != nil {
		if err := cr.st.db.Set(metaSeedsRead, u64(1), pebble.NoSync); err != nil {
			return fmt.Errorf("state: %w", err)
		}
	}
	return nil
}

func (cr *crawler) setCounter(name string, v int64) error {
	st := cr.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.counters[name] == v {
		return nil
	}
	st.counters[name] = v
	return st.db.Set(keyStr(ksCounter, name), u64(uint64(v)), pebble.NoSync)
}

// dispatch keeps the workers' window filled from the frontier until the crawl is done or ctx
// ends. It reads up to windowSize items ahead into per-host queues, from which the workers take
// only items whose host has fewer than PerHost pages with them (see window): a run of one host's
// links in the frontier would otherwise park every worker in that host's limiter while other
// hosts wait.
func (cr *crawler) dispatch(ctx context.Context, win *window) error {
	defer win.close()
	st := cr.st
	var lastRead time.Time
	var batch []job
	for {
		if ctx.Err() != nil {
			return nil
		}
		if cr.cfg.Inbox != nil && time.Since(cr.lastInbox) >= time.Second {
			// Links forwarded by other partitions join the frontier at least once a second.
			cr.lastInbox = time.Now()
			if _, err := cr.pollInbox(ctx); err != nil && ctx.Err() == nil {
				cr.log.Warn("crawl: inbox", "err", err)
			}
		}
		// The window's items are still in the frontier count: the rest are unread. A read costs
		// a pebble seek, so they are read in batches, or when the window has nothing to hand
		// out (at most every readEvery while it holds items of busy hosts: the unread ones may
		// be another host's).
		queued, ready := win.state()
		room, unread := cr.windowSize-queued, int(st.frontier.Load())-queued
		readDue := time.Time{}
		if n := min(room, unread); n > 0 {
			if n >= min(room, readBatch) || queued == 0 || (!ready && time.Since(lastRead) >= readEvery) {
				batch = batch[:0]
				if err := st.readAhead(n, func(seq uint64, data []byte) {
					batch = append(batch, job{seq: seq, data: data, host: requestHost(data)})
				}); err != nil {
					return err
				}
				win.add(batch)
				lastRead = time.Now()
				continue
			} else if !ready {
				readDue = lastRead.Add(readEvery)
			}
		}
		// Order matters: a completion adds its links before it leaves the in-flight count.
		if st.inFlight.Load() == 0 && st.frontier.Load() == 0 && st.delayed.Load() == 0 && st.outbox.Load() == 0 {
			if cr.cfg.Inbox == nil {
				cr.finished.Store(true)
				return nil
			}
			cr.lastInbox = time.Now()
			n, err := cr.pollInbox(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if n > 0 {
				cr.idleSince = time.Time{}
				continue
			}
			// Links often arrive just after a partition runs dry; waiting InboxGrace for them
			// saves a restart of the partition.
			if cr.idleSince.IsZero() {
				cr.idleSince = time.Now()
			}
			if time.Since(cr.idleSince) >= cr.cfg.InboxGrace {
				cr.finished.Store(true)
				return nil
			}
			t := time.NewTimer(min(200*time.Millisecond, cr.cfg.InboxGrace))
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		cr.idleSince = time.Time{}
		wait := 200 * time.Millisecond
		if st.delayed.Load() > 0 {
			moved, next, err := st.releaseDue(time.Now().UnixNano())
			if err != nil {
				return err
			}
			if moved > 0 {
				continue
			}
			if d := time.Duration(next - time.Now().UnixNano()); next > 0 && d < wait {
				wait = max(d, time.Millisecond)
			}
		}
		if !readDue.IsZero() {
			wait = max(min(wait, time.Until(readDue)), time.Millisecond)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-cr.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// requestHost is the lower-case host of a stored colly request, read without decoding the rest
// ("" when it does not decode: the worker then reports the item as bad state).
func requestHost(data []byte) string {
	var r struct{ URL string }
	// colly writes the URL first; one without escapes is read as it stands.
	if rest, ok := bytes.CutPrefix(data, []byte(`{"URL":"`)); ok {
		if end := bytes.IndexAny(rest, `"\`); end >= 0 && rest[end] == '"' {
			r.URL = string(rest[:end])
		}
	}
	if r.URL == "" && json.Unmarshal(data, &r) != nil {
		return ""
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

// readBatch is how many unread frontier items make the dispatcher read on while its window
// still has items to hand out.
const readBatch = 256

// readEvery is how often the dispatcher reads on at the most while every host in its window is
// at its limit.
const readEvery = 50 * time.Millisecond

func (cr *crawler) signal() {
	select {
	case cr.wake <- struct{}{}:
	default:
	}
}

func (cr *crawler) worker(win *window) {
	var prevHost string
	hadPrev := false
	for {
		j, ok := win.take(prevHost, hadPrev)
		if !ok {
			return
		}
		prevHost, hadPrev = j.host, true
		if err := cr.st.start(j.seq, j.data); err != nil {
			cr.fail(err)
			continue
		}
		o, abandoned := cr.process(j)
		if abandoned {
			// Cut off by shutdown: the in-flight key stays and the next run fetches it again.
			cr.st.inFlight.Add(-1)
			cr.signal()
			continue
		}
		pairs, seq, err := cr.complete(j, o, true)
		if err != nil {
			cr.fail(err)
		} else if cr.cfg.OnPair != nil && len(pairs) > 0 {
			if err := cr.handOver(seq, pairs); err != nil {
				cr.fail(err)
			}
		}
		cr.signal()
	}
}

// process fetches one page and extracts it. abandoned reports a fetch cut off by shutdown.
func (cr *crawler) process(j job) (o *outcome, abandoned bool) {
	o = &outcome{}
	req, err := cr.c.UnmarshalRequest(j.data)
	if err != nil {
		cr.log.Warn("crawl: unreadable frontier item", "seq", j.seq, "err", err)
		o.reason = ReasonBadState
		return o, false
	}
	pageURL := req.URL
	root := req.Ctx.Get(ctxRoot)
	if root == "" {
		root = strings.ToLower(pageURL.Host)
	}
	host := strings.ToLower(pageURL.Host)
	reason, probed, err := cr.health.admit(cr.hardCtx, host)
	switch {
	case err != nil:
		return nil, true // shut down while another page of the host was its probe
	case reason != "":
		o.reason = reason // the host did not answer a moment ago: do not wait for it again
		return o, false
	case probed != nil:
		// This page is the host's probe: tell the pages waiting on it whether the host answered.
		defer func() {
			down := ""
			if o != nil {
				down = o.downReason
			}
			probed(down)
		}()
	}
	if cr.robots != nil {
		rctx, cancel := context.WithTimeout(cr.hardCtx, cr.cfg.Timeout*time.Duration(cr.cfg.Retries+2))
		dec, err := cr.robots.Check(rctx, pageURL)
		cancel()
		switch {
		case errors.Is(err, robots.ErrRetryLater):
			attempts, _ := strconv.Atoi(req.Ctx.Get(ctxAttempts))
			if attempts >= cr.cfg.RobotsRetries {
				o.reason = ReasonRobotsUnavailable
				return o, false
			}
			req.Ctx.Put(ctxAttempts, strconv.Itoa(attempts+1))
			if o.retryData, err = req.Marshal(); err != nil {
				o.reason = ReasonBadState
				return o, false
			}
			o.retryAt = time.Now().Add(cr.cfg.RobotsRetryDelay << attempts)
			return o, false
		case errors.Is(err, robots.ErrUnreachable):
			// No answer at all (after httpx's retries): the page cannot be fetched either.
			o.reason = classify(err, 0)
			if unreachable(o.reason) {
				o.downReason = o.reason
			}
			return o, false
		case err != nil:
			if cr.hardCtx.Err() != nil {
				return nil, true
			}
			o.reason = classify(err, 0)
			return o, false
		case !dec.Allowed:
			o.reason = ReasonRobots
			return o, false
		case dec.CrawlDelay > 0:
			cr.client.SetHostDelay(pageURL.Host, max(cr.cfg.Delay, min(dec.CrawlDelay, cr.cfg.MaxCrawlDelay)))
		}
	}

	res := &fetchResult{}
	req.Ctx.Put(ctxResult, res)
	doErr := req.Do()
	if res.reason != "" {
		o.reason = res.reason
		return o, false
	}
	if doErr != nil || res.body == nil && res.status == 0 {
		if cr.hardCtx.Err() != nil {
			return nil, true
		}
		if doErr == nil {
			doErr = errors.New("no response")
		}
		o.reason = classify(doErr, res.status)
		if failed := failedHost(doErr); res.status == 0 && failed != "" && unreachable(o.reason) {
			if failed == host {
				o.downReason = o.reason
			}
			cr.health.markDown(failed, o.reason)
		}
		return o, false
	}
	if res.status < 200 || res.status >= 300 {
		o.reason = classify(nil, res.status)
		return o, false
	}
	o.bytes = int64(len(res.body))
	if int64(len(res.body)) > cr.cfg.MaxBody {
		o.reason = ReasonTooLarge
		return o, false
	}
	final := res.finalURL
	if final == nil {
		final = pageURL
	}
	finalStr := urlnorm.Normalize(final).String()
	if finalStr != pageURL.String() {
		o.redirectTo = finalStr
		if req.Depth > 0 && !cr.scope.allows(root, strings.ToLower(final.Host)) {
			o.reason = ReasonRedirectScope
			return o, false
		}
	}
	if req.Depth == 0 {
		root = strings.ToLower(final.Host) // a seed's redirect (www., https) sets its scope
	}
	ct := res.ctype
	if strings.Contains(strings.ToLower(ct), "charset") {
		// colly already decoded the body to UTF-8 by the header's charset.
		if mt, _, err := mime.ParseMediaType(ct); err == nil {
			ct = mt + "; charset=utf-8"
		}
	}
	if !extract.IsHTML(ct, res.body) {
		o.reason = ReasonNotHTML
		return o, false
	}
	page, err := extract.Extract(final, res.body, ct)
	if err != nil {
		if errors.Is(err, extract.ErrNotHTML) {
			o.reason = ReasonNotHTML
		} else {
			o.reason = ReasonParse
		}
		return o, false
	}
	if page.NoIndex || res.noIndex {
		o.noIndex = true
	} else if len(page.Candidates) > 0 {
		now := time.Now().UTC()
		o.pairs = make([]shards.Pair, len(page.Candidates))
		for i, c := range page.Candidates {
			o.pairs[i] = shards.Pair{PageURL: finalStr, ImageURL: c.ImageURL, Caption: c.Caption, CaptionSource: c.Source, PageLang: page.Lang, FetchedAt: now}
		}
	}
	depth := req.Depth + 1
	if !page.NoFollow && !res.noFollow && (cr.cfg.MaxDepth < 0 || depth <= cr.cfg.MaxDepth) {
		for _, l := range page.Links {
			lu, err := url.Parse(l)
			if err != nil || lu.Host == "" {
				continue
			}
			host := strings.ToLower(lu.Host)
			if !cr.scope.allows(root, host) {
				continue
			}
			o.links = append(o.links, link{url: l, host: host, root: root, depth: depth})
		}
	}
	return o, false
}

// classify names the failure reason of a fetch error or HTTP status: the transport's reason
// (httpx.Reason) when it has a specific one, else the status class.
func classify(err error, status int) string {
	if r := httpx.Reason(err); r != "" && r != ReasonNetwork {
		return r
	}
	switch {
	case status >= 500:
		return ReasonHTTP5xx
	case status >= 400:
		return ReasonHTTP4xx
	case status >= 300:
		return ReasonHTTP3xx
	}
	return ReasonNetwork
}

// complete records a finished page in ONE pebble batch: its in-flight key is dropped, its new
// links enter the visited set and the frontier (within the depth, scope and page caps), its
// pairs enter the pending space, counters move. Then the pairs go to the open pair file.
// Seeds use it with fromWorker false (no in-flight key, no page counters).
func (cr *crawler) complete(j job, o *outcome, fromWorker bool) ([]shards.Pair, uint64, error) {
	st := cr.st
	st.mu.Lock()
	defer st.mu.Unlock()
	b := st.db.NewBatch()
	defer b.Close()
	changed := map[string]int64{}
	inc := func(name string, d int64) { changed[name] = st.counters[name] + d }

	if fromWorker {
		b.Delete(key8(ksInFlight, j.seq), nil)
		if o.redirectTo != "" && o.reason == "" {
			// The page is known under its final URL too; if that URL was admitted on its own it
			// is (or will be) fetched under that name, so this copy adds nothing.
			k := key8(ksSeen, urlID(o.redirectTo))
			seen, err := st.has(k)
			if err != nil {
				return nil, 0, err
			}
			if seen {
				o.pairs, o.links = nil, nil
			} else {
				b.Set(k, nil, nil)
			}
		}
		switch {
		case o.retryData != nil:
			b.Set(delayedKey(o.retryAt.UnixNano(), st.frontierSeq), o.retryData, nil)
		case o.reason == "":
			inc(cPagesOK, 1)
		default:
			inc(cFailPrefix+o.reason, 1)
		}
		if o.noIndex {
			inc(cNoIndex, 1)
		}
		if o.bytes > 0 {
			inc(cBytes, o.bytes)
		}
	}
	seqBefore := st.frontierSeq
	if o.retryData != nil {
		st.frontierSeq++ // the delayed key took a seq
	}
	added, outboxAdded, err := cr.admitLocked(b, o.links)
	if err != nil {
		st.frontierSeq = seqBefore
		return nil, 0, err
	}
	var pairSeq uint64
	keepPairs := len(o.pairs) > 0 && (cr.pf != nil || cr.cfg.OnPair != nil)
	if len(o.pairs) > 0 {
		bySrc := map[string]int64{}
		for _, p := range o.pairs {
			bySrc[p.CaptionSource]++
		}
		for s, n := range bySrc {
			inc(cSourcePrefix+s, n)
		}
		inc(cPairs, int64(len(o.pairs)))
	}
	if keepPairs {
		pairSeq = st.pairSeq
		enc := encodePairs(o.pairs)
		if cr.pf != nil {
			b.Set(key8(ksPending, pairSeq), enc, nil)
		}
		if cr.cfg.OnPair != nil {
			// Deleted once OnPair has taken every pair (handedOver); a run that stops before
			// that hands them over again at its next start.
			b.Set(key8(ksHandover, pairSeq), enc, nil)
		}
		b.Set(metaPairSeq, u64(pairSeq+1), nil)
	}
	for name, v := range changed {
		b.Set(keyStr(ksCounter, name), u64(uint64(v)), nil)
	}
	b.Set(metaFrontierSeq, u64(st.frontierSeq+uint64(added)), nil)
	b.Set(metaAdmitted, u64(uint64(st.admitted+int64(added))), nil)
	// NoSync: a completion lost by a crash only means the page is fetched again; the synced
	// batch of the next file commit makes every earlier completion durable.
	if err := b.Commit(pebble.NoSync); err != nil {
		st.frontierSeq = seqBefore
		return nil, 0, fmt.Errorf("state: commit page: %w", err)
	}
	for name, v := range changed {
		st.counters[name] = v
	}
	st.frontierSeq += uint64(added)
	st.admitted += int64(added)
	st.frontier.Add(int64(added))
	if outboxAdded > 0 {
		st.outboxSeq++
		st.outbox.Add(1)
		select {
		case cr.forwardWake <- struct{}{}:
		default:
		}
	}
	if o.retryData != nil {
		st.delayed.Add(1)
	}
	if fromWorker {
		st.inFlight.Add(-1)
	}
	if keepPairs {
		st.pairSeq++
	}
	if len(o.pairs) > 0 && cr.pf != nil {
		if err := cr.pf.add(pairSeq, o.pairs); err != nil {
			return nil, 0, err
		}
	}
	return o.pairs, pairSeq, nil
}

// admitLocked adds the links that are new and within the page caps to the visited set and the
// frontier in b, and returns how many it added; links to hosts another crawl owns (Config.Local)
// go into one outbox entry (outboxAdded 1). st.mu is held.
func (cr *crawler) admitLocked(b *pebble.Batch, links []link) (added, outboxAdded int, err error) {
	if len(links) == 0 {
		return 0, 0, nil
	}
	st := cr.st
	cfg := cr.cfg
	var hostCounts map[string]int64
	var foreign []Link
	ids := make(map[uint64]struct{}, len(links))
	for _, l := range links {
		id := urlID(l.url)
		if _, dup := ids[id]; dup {
			continue
		}
		if cfg.Local != nil && !cfg.Local(l.host) {
			ids[id] = struct{}{}
			fk := key8(ksForward, id)
			sent, err := st.has(fk)
			if err != nil {
				return 0, 0, err
			}
			if !sent {
				b.Set(fk, nil, nil)
				foreign = append(foreign, Link{URL: l.url, Host: l.host, Root: l.root, Depth: l.depth})
			}
			continue
		}
		if cfg.MaxPages > 0 && st.admitted+int64(added) >= cfg.MaxPages {
			continue
		}
		ids[id] = struct{}{}
		vk := key8(ksSeen, id)
		seen, err := st.has(vk)
		if err != nil {
			return 0, 0, err
		}
		if seen {
			continue
		}
		var hk []byte
		if cfg.MaxPagesPerHost > 0 {
			if hostCounts == nil {
				hostCounts = map[string]int64{}
			}
			hk = keyStr(ksHost, l.host)
			n, ok := hostCounts[l.host]
			if !ok {
				v, _, err := st.getU64(hk)
				if err != nil {
					return 0, 0, err
				}
				n = int64(v)
			}
			if n >= cfg.MaxPagesPerHost {
				hostCounts[l.host] = n
				continue
			}
			hostCounts[l.host] = n + 1
		}
		data, err := marshalRequest(l)
		if err != nil {
			continue
		}
		b.Set(vk, nil, nil)
		b.Set(key8(ksFrontier, st.frontierSeq+uint64(added)), data, nil)
		added++
	}
	for h, n := range hostCounts {
		b.Set(keyStr(ksHost, h), u64(uint64(n)), nil)
	}
	if len(foreign) > 0 {
		b.Set(key8(ksOutbox, st.outboxSeq), encodeLinks(foreign), nil)
		b.Set(metaOutboxSeq, u64(st.outboxSeq+1), nil)
		outboxAdded = 1
	}
	return added, outboxAdded, nil
}

func marshalRequest(l link) ([]byte, error) {
	u, err := url.Parse(l.url)
	if err != nil {
		return nil, err
	}
	ctx := colly.NewContext()
	ctx.Put(ctxRoot, l.root)
	r := &colly.Request{URL: u, Method: http.MethodGet, Depth: l.depth, Ctx: ctx}
	return r.Marshal()
}

func (cr *crawler) snapshot() Stats {
	st := cr.st
	st.mu.Lock()
	s := statsFrom(st.counters, st.admitted)
	st.mu.Unlock()
	s.Frontier = st.frontier.Load() // the dispatcher's window included: those pages wait too
	s.InFlight = st.inFlight.Load()
	s.Delayed = st.delayed.Load()
	s.Finished = cr.finished.Load()
	s.finish(time.Duration(int64(time.Since(cr.start)) - cr.persisted.Load()))
	return s
}

// walSyncEvery bounds what a kill -9 or power cut loses: page completions are committed
// without fsync, and pebble's log keeps up to a block of them in memory; syncing the log this
// often means only pages completed in the last moment are fetched again after a crash (a
// distributed crawl's next holder continues almost where the dead one stopped).
const walSyncEvery = 100 * time.Millisecond

func (cr *crawler) syncLoop(done <-chan struct{}) {
	t := time.NewTicker(walSyncEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if err := cr.st.db.LogData(nil, pebble.Sync); err != nil {
				cr.log.Warn("crawl: sync state log", "err", err)
			}
		}
	}
}

func (cr *crawler) progressLoop(done <-chan struct{}) {
	t := time.NewTicker(cr.cfg.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			elapsed := int64(time.Since(cr.start))
			if err := cr.st.addDuration(elapsed - cr.persisted.Load()); err == nil {
				cr.persisted.Store(elapsed)
			}
			cr.cfg.Progress(cr.snapshot())
		}
	}
}

func beU64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}
