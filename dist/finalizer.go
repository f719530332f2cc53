package dist

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// finalizer enqueues the final step of jobs whose tasks all have an outcome. Workers mark a job
// dirty when one of its tasks finishes (checked within checkEvery, or at once when the job's
// count at the last check plus the outcomes this worker recorded since reach its task count),
// and every sweepEvery each worker checks every unfinished job, so a final step is enqueued even
// when the worker that finished the last task died before its check: the check is not on the
// ack's path.
//
// The server counts an outcome just after confirming it (countOutcomes), so a count read right
// after a worker's last outcome may miss it. A worker therefore checks a job once more at least
// checkEvery after its last outcome of the job, and soon (lagRetry) when its own tally says the
// job is complete but the count does not yet.
type finalizer struct {
	c   *Conn
	log *slog.Logger
	now chan struct{} // a dirty job may be complete: check without waiting for the tick

	mu       sync.Mutex
	pending  map[string]*JobRecord
	counts   map[string]*jobCount
	complete map[string]bool // jobs whose final outcome exists
}

// jobCount is what a worker knows of a job's outcomes.
type jobCount struct {
	counted int       // the count at the last check (0 before the first)
	since   int       // outcomes this worker recorded since (the count may include some: counted+since is a hint, the check decides)
	last    time.Time // this worker's last outcome of the job
	retries int       // soon re-checks since the count fell short of counted+since
}

const (
	checkEvery = 100 * time.Millisecond
	sweepEvery = 5 * time.Second
	lagRetry   = 5 * time.Millisecond
	lagRetries = 10
)

func newFinalizer(c *Conn, log *slog.Logger) *finalizer {
	return &finalizer{c: c, log: log, now: make(chan struct{}, 1), pending: map[string]*JobRecord{}, counts: map[string]*jobCount{},
		complete: map[string]bool{}}
}

// dirty notes that a task of job has just got its outcome.
func (f *finalizer) dirty(job *JobRecord) {
	if !job.Finalize || job.Lease {
		return
	}
	f.mu.Lock()
	f.pending[job.ID] = job
	jc := f.counts[job.ID]
	if jc == nil {
		jc = &jobCount{}
		f.counts[job.ID] = jc
	}
	jc.since++
	jc.last = time.Now()
	maybeComplete := jc.counted+jc.since >= job.Tasks
	f.mu.Unlock()
	if maybeComplete {
		f.checkNow()
	}
}

// checkNow has run check the pending jobs without waiting for the tick.
func (f *finalizer) checkNow() {
	select {
	case f.now <- struct{}{}:
	default:
	}
}

func (f *finalizer) run(ctx context.Context) {
	check := time.NewTicker(checkEvery)
	defer check.Stop()
	sweep := time.NewTicker(sweepEvery)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			// What this worker finished last, once more after the server has counted it.
			bg := context.WithoutCancel(ctx)
			if f.checkDirty(bg) > 0 {
				time.Sleep(10 * lagRetry)
				f.checkDirty(bg)
			}
			return
		case <-check.C:
			f.checkDirty(ctx)
		case <-f.now:
			f.checkDirty(ctx)
		case <-sweep.C:
			f.sweep(ctx)
		}
	}
}

// checkDirty checks the pending jobs and returns how many are pending again.
func (f *finalizer) checkDirty(ctx context.Context) int {
	f.mu.Lock()
	jobs := f.pending
	f.pending = map[string]*JobRecord{}
	f.mu.Unlock()
	soon := false
	for _, j := range jobs {
		f.mu.Lock()
		jc := f.counts[j.ID]
		if jc == nil {
			jc = &jobCount{}
			f.counts[j.ID] = jc
		}
		tally, since, recent := jc.counted+jc.since, jc.since, time.Since(jc.last) < checkEvery
		f.mu.Unlock()
		n, err := f.c.maybeFinalize(ctx, j)
		f.mu.Lock()
		switch {
		case err != nil:
			f.log.Warn("worker: final step check; retrying", "job", j.ID, "err", err)
			f.pending[j.ID] = j
		case n >= j.Tasks:
			delete(f.counts, j.ID)
		default:
			jc.counted, jc.since = n, jc.since-since
			if tally >= j.Tasks && jc.retries < lagRetries {
				jc.retries++
				f.pending[j.ID] = j
				soon = true
			} else if recent {
				f.pending[j.ID] = j
			}
			if tally < j.Tasks {
				jc.retries = 0
			}
		}
		f.mu.Unlock()
	}
	if soon {
		time.AfterFunc(lagRetry, f.checkNow)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

// sweep checks every job not known to be complete.
func (f *finalizer) sweep(ctx context.Context) {
	jobs, err := f.c.Jobs(ctx)
	if err != nil {
		f.log.Debug("worker: final step sweep", "err", err)
		return
	}
	for _, j := range jobs {
		if f.complete[j.ID] || !j.Finalize {
			continue
		}
		if o, err := f.c.outcome(ctx, finalKey(j.ID)); err != nil {
			continue
		} else if o != nil {
			f.complete[j.ID] = true
			continue
		}
		if j.Lease {
			idle, err := f.c.LeaseJobIdle(ctx, j)
			if err == nil && idle {
				_ = f.c.enqueueFinal(ctx, j)
				continue
			}
			f.wakeStranded(ctx, j)
			continue
		}
		if _, err := f.c.maybeFinalize(ctx, j); err != nil {
			f.log.Debug("worker: final step sweep", "job", j.ID, "err", err)
		}
	}
}

// wakeStranded wakes the lease tasks whose inbox has messages nobody will read.
func (f *finalizer) wakeStranded(ctx context.Context, j *JobRecord) {
	kind, ok := LookupKind(j.Kind)
	if !ok || kind.Wake == nil {
		return
	}
	tasks, err := f.c.strandedInboxes(ctx, j)
	if err != nil {
		f.log.Debug("worker: sweep inboxes", "job", j.ID, "err", err)
		return
	}
	for _, t := range tasks {
		f.log.Info("worker: waking a task with unread inbox messages", "job", j.ID, "task", t)
		if err := kind.Wake(ctx, f.c, j, t); err != nil {
			f.log.Warn("worker: wake", "job", j.ID, "task", t, "err", err)
		}
	}
}
