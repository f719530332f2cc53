package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/witdata/wit/crawl"
	"github.com/witdata/wit/fetch"
	"github.com/witdata/wit/filter"
	"github.com/witdata/wit/internal/atomicfile"
	"github.com/witdata/wit/internal/httpx"
	"github.com/witdata/wit/shards"
)

// decision is one crawled pair on its way from a crawl worker to the committer.
type decision struct {
	pair    shards.Pair
	verdict filter.Verdict
	done    chan error
}

// pipeline holds the stages' shared state during Run.
type pipeline struct {
	cfg    Config
	stages filter.Stages
	q      *queue
	bal    *filter.OnlineBalancer
	reqs   chan *decision
	dead   chan struct{} // closed when the committer stopped on an error
	err    error         // the committer's error (read after dead is closed)

	crawlSnap atomic.Pointer[crawl.Stats]
	fetchSnap atomic.Pointer[fetch.Stats]
}

// Run crawls cfg.Seeds, filters every pair as it is found and downloads the kept pairs' images
// into shards, all at once (see the package documentation). Running it again with the same Out
// continues where it stopped. It returns every stage's stats, also written to Out/build-stats.json.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	start := time.Now()
	if err := cfg.Validate(); err != nil {
		return Stats{}, err
	}
	log := cfg.Logger
	for _, d := range []string{CrawlStateDir, QueueStateDir} { // fetch makes the shards' folder
		if err := os.MkdirAll(cfg.path(d), 0o755); err != nil {
			return Stats{}, fmt.Errorf("build: %w", err)
		}
	}
	var stages filter.Stages
	if cfg.Stages != nil {
		stages = *cfg.Stages
	} else {
		var err error
		if stages, err = cfg.Filter.Stages(log); err != nil {
			return Stats{}, fmt.Errorf("build: filter: %w", err)
		}
	}
	q, err := openQueue(cfg.path(QueueStateDir))
	if err != nil {
		return Stats{}, fmt.Errorf("build: %w", err)
	}
	defer q.Close()
	p := &pipeline{cfg: cfg, stages: stages, q: q, reqs: make(chan *decision, defaultPending), dead: make(chan struct{})}
	var bview *balanceView
	if m := stages.Matcher; m != nil {
		mode := filter.ModeOnline
		if cfg.Filter.Balance > 0 {
			p.bal, err = filter.OpenOnlineBalancer(cfg.path(BalanceDir), cfg.Filter.Balance, cfg.Filter.Seed, m.Len(), m.Entry)
			if err != nil {
				return Stats{}, fmt.Errorf("build: %w", err)
			}
			defer p.bal.Close()
		} else {
			mode = "off"
		}
		bview = &balanceView{mode: mode, t: cfg.Filter.Balance, seed: cfg.Filter.Seed, entries: m.Entry}
	}

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopWake := q.wakeOn(runCtx)
	defer stopWake()

	// Stage 2: the committer decides dedup and balancing in one order and appends to the log.
	var commitWG sync.WaitGroup
	commitWG.Go(func() {
		if err := p.commitLoop(runCtx); err != nil {
			p.err = err
			close(p.dead)
			cancel(err)
			for d := range p.reqs { // unblock crawl workers until the crawl has stopped
				d.done <- err
			}
		}
	})

	// One per-host budget for both stages: a host serving pages and images sees at most
	// --per-host requests at once and --delay between them, not twice that.
	limits := httpx.NewClient(httpx.Options{PerHost: cfg.Crawl.PerHost, Delay: cfg.Crawl.Delay})

	// Stage 1: the crawl, feeding the committer through OnPair.
	ccfg := cfg.Crawl
	ccfg.Seeds, ccfg.SeedsCol, ccfg.State = cfg.Seeds, cfg.SeedsCol, cfg.path(CrawlStateDir)
	ccfg.Out = ""
	if cfg.KeepPairs {
		ccfg.Out = cfg.path(PairsDir)
	}
	ccfg.Logger = log
	ccfg.OnPair = p.onPair
	ccfg.ShareLimitsWith = limits
	ccfg.ProgressEvery = cfg.ProgressEvery
	ccfg.Progress = func(s crawl.Stats) { p.crawlSnap.Store(&s) }
	var crawlStats crawl.Stats
	var crawlErr error
	var crawlWG sync.WaitGroup
	crawlWG.Go(func() {
		crawlStats, crawlErr = crawl.Run(runCtx, ccfg)
		p.crawlSnap.Store(&crawlStats)
		close(p.reqs) // crawl.Run returns after every OnPair call has returned
		commitWG.Wait()
		q.close()
		if crawlErr != nil && !errors.Is(crawlErr, context.Canceled) {
			cancel(fmt.Errorf("crawl: %w", crawlErr))
		}
	})

	// Progress.
	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	if cfg.Progress != nil {
		progressWG.Go(func() {
			t := time.NewTicker(cfg.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-progressDone:
					return
				case <-t.C:
					cfg.Progress(p.snapshot(start, nil)) // balancer counts are the committer's while it runs
				}
			}
		})
	}

	// Stage 3: the downloader reads the log.
	fcfg := cfg.Fetch
	fcfg.Out = cfg.shards()
	fcfg.InputName = "wit build queue " + q.id
	fcfg.Logger = log
	fcfg.ShareLimitsWith = limits
	fcfg.ProgressEvery = cfg.ProgressEvery
	fcfg.Progress = func(s fetch.Stats) { p.fetchSnap.Store(&s) }
	fetchStats, fetchErr := fetch.Run(runCtx, fcfg, q.items(runCtx))
	p.fetchSnap.Store(&fetchStats)
	if fetchErr != nil && !errors.Is(fetchErr, context.Canceled) {
		cancel(fmt.Errorf("fetch: %w", fetchErr))
	}
	crawlWG.Wait()
	close(progressDone)
	progressWG.Wait()

	var errs []error
	if crawlErr != nil && !errors.Is(crawlErr, context.Canceled) {
		errs = append(errs, fmt.Errorf("crawl: %w", crawlErr))
	}
	if p.err != nil {
		errs = append(errs, fmt.Errorf("filter: %w", p.err))
	}
	if fetchErr != nil && !errors.Is(fetchErr, context.Canceled) {
		errs = append(errs, fmt.Errorf("fetch: %w", fetchErr))
	}
	if p.bal != nil {
		if err := p.bal.Flush(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	stats := p.snapshot(start, bview)
	next, consumed, _ := q.snapshot()
	stats.Finished = len(errs) == 0 && crawlStats.Finished && consumed == next
	runErr := errors.Join(errs...)
	if runErr != nil {
		stats.Error = runErr.Error()
	}
	if err := atomicfile.WriteJSON(filepath.Join(cfg.Out, StatsFile), &stats); err != nil && runErr == nil {
		runErr = fmt.Errorf("build: %w", err)
	}
	return stats, runErr
}

func (p *pipeline) snapshot(start time.Time, bview *balanceView) Stats {
	next, consumed, counters := p.q.snapshot()
	s := Stats{Out: p.cfg.Out, Shards: p.cfg.shards(), StartTime: start.UTC(), DurationS: time.Since(start).Seconds(),
		Queue: QueueStats{Items: int64(next), Consumed: int64(consumed), Lag: int64(next - consumed)}}
	if c := p.crawlSnap.Load(); c != nil {
		s.Crawl = *c
	}
	if f := p.fetchSnap.Load(); f != nil {
		s.Fetch = *f
	}
	var bv *balanceView
	if bview != nil {
		b := *bview
		if p.bal != nil {
			b.counts = p.bal.Counts // only read once the committer has stopped
		}
		bv = &b
	}
	s.Filter = filterStats(counters, bv, time.Since(start))
	s.Filter.Input, s.Filter.Output = "crawl (streamed)", p.cfg.path(QueueStateDir)
	return s
}

// onPair runs the per-caption stages in the crawl worker's goroutine (they are the costly,
// parallel part) and waits until the committer has made the decision durable.
func (p *pipeline) onPair(pair shards.Pair) error {
	d := &decision{pair: pair, verdict: p.stages.Evaluate(pair.Caption, nil), done: make(chan error, 1)}
	select {
	case p.reqs <- d:
	case <-p.dead:
		return p.err
	}
	return <-d.done
}

// commitLoop takes the decisions in arrival order, applies dedup and balancing (which depend on
// order), appends the kept items to the log and commits every group with one synced batch.
func (p *pipeline) commitLoop(ctx context.Context) error {
	group := make([]*decision, 0, defaultPending)
	lastFlush := time.Now()
	for d := range p.reqs {
		group = append(group[:0], d)
	more:
		for len(group) < cap(group) {
			select {
			case d, ok := <-p.reqs:
				if !ok {
					break more
				}
				group = append(group, d)
			default:
				break more
			}
		}
		err := p.commitGroup(group)
		if err == nil && p.bal != nil && time.Since(lastFlush) > 5*time.Second {
			err = p.bal.Flush()
			lastFlush = time.Now()
		}
		if err != nil {
			for _, d := range group {
				d.done <- err
			}
			return err
		}
		// Back-pressure: the crawl's workers wait here while the downloader is far behind
		// (not after a cancel: then the pairs of the pages still finishing are only logged).
		p.q.waitLag(ctx, p.cfg.MaxLag)
		for _, d := range group {
			d.done <- nil
		}
	}
	return nil
}

func (p *pipeline) commitGroup(group []*decision) error {
	b := p.q.newBatch()
	m := p.stages.Matcher
	for _, d := range group {
		v := &d.verdict
		b.count(cRows, 1)
		if v.Repaired {
			b.count(cRepaired, 1)
		}
		if v.LangChecked {
			b.count(cLangPfx+v.Lang.Code(), 1)
			switch {
			case v.Lang.ByScript:
				b.count(cStageScr, 1)
			case v.Lang.ByLexical:
				b.count(cStageLex, 1)
			case v.Lang.Cached:
				b.count(cStageHit, 1)
			case v.Lang.ByFast:
				b.count(cStageFast, 1)
			default:
				b.count(cStageLing, 1)
			}
		}
		reason := v.Reason
		key := filter.PairKey(d.pair.ImageURL, v.Caption)
		if reason == filter.Kept && !p.cfg.Filter.NoDedup {
			dup, err := b.duplicate(key)
			if err != nil {
				b.b.Close()
				return err
			}
			if dup {
				reason = filter.ReasonDuplicate
			}
		}
		if reason == filter.Kept && p.bal != nil && !p.bal.Keep(key, v.Matches) {
			reason = filter.ReasonBalance
		}
		if reason != filter.Kept {
			b.count(cDropPfx+string(reason), 1)
			continue
		}
		b.count(cKept, 1)
		item := fetch.Item{URL: d.pair.ImageURL, Caption: v.Caption, PageURL: d.pair.PageURL,
			CaptionSource: d.pair.CaptionSource}
		if v.LangChecked {
			item.Language = v.Lang.Code()
		}
		if m != nil {
			item.MatchedQueries = make([]string, len(v.Matches))
			for i, id := range v.Matches {
				item.MatchedQueries[i] = m.Entry(id)
			}
		}
		if err := b.append(&item); err != nil {
			b.b.Close()
			return err
		}
	}
	return b.commit()
}
