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
type finalizer struct {
	c   *Conn
	log *slog.Logger
	now chan struct{} // a dirty job may be complete: check without waiting for the tick

	mu       sync.Mutex
	pending  map[string]*JobRecord
	counts   map[string]*jobCount
	complete map[string]bool // jobs whose final outcome exists
}

// jobCount is what a worker knows of a job's outcomes: the count at its last check and the
// outcomes it recorded since (some of which that count may include: the sum is a hint, the
// check decides).
type jobCount struct{ counted, since int }

const (
	checkEvery = 100 * time.Millisecond
	sweepEvery = 5 * time.Second
)

func newFinalizer(c *Conn, log *slog.Logger) *finalizer {
	return &finalizer{c: c, log: log, now: make(chan struct{}, 1), pending: map[string]*JobRecord{}, counts: map[string]*jobCount{},
		complete: map[string]bool{}}
}

// dirty notes that a task of job has just got its outcome.
func (f *finalizer) dirty(job *JobRecord) {
	f.mu.Lock()
	f.pending[job.ID] = job
	maybeComplete := false
	if jc := f.counts[job.ID]; jc != nil {
		jc.since++
		maybeComplete = jc.counted+jc.since >= job.Tasks
	}
	f.mu.Unlock()
	if maybeComplete {
		select {
		case f.now <- struct{}{}:
		default:
		}
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
			f.checkDirty(context.WithoutCancel(ctx)) // what this worker finished last
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

func (f *finalizer) checkDirty(ctx context.Context) {
	f.mu.Lock()
	jobs := f.pending
	f.pending = map[string]*JobRecord{}
	f.mu.Unlock()
	for _, j := range jobs {
		if !j.Finalize || j.Lease {
			continue
		}
		f.mu.Lock()
		jc := f.counts[j.ID]
		if jc == nil {
			jc = &jobCount{}
			f.counts[j.ID] = jc
		}
		since := jc.since
		f.mu.Unlock()
		n, err := f.c.maybeFinalize(ctx, j)
		if err != nil {
			f.log.Warn("worker: final step check; retrying", "job", j.ID, "err", err)
			f.mu.Lock()
			f.pending[j.ID] = j
			f.mu.Unlock()
			continue
		}
		f.mu.Lock()
		jc.counted, jc.since = n, jc.since-since
		if n >= j.Tasks {
			delete(f.counts, j.ID)
		}
		f.mu.Unlock()
	}
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
