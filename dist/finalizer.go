package dist

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// finalizer enqueues the final step of jobs whose tasks all have an outcome. Workers mark a job
// dirty when one of its tasks finishes (checked within checkEvery), and every sweepEvery each
// worker checks every unfinished job, so a final step is enqueued even when the worker that
// finished the last task died before its check: the check is not on the ack's path.
type finalizer struct {
	c   *Conn
	log *slog.Logger

	mu       sync.Mutex
	pending  map[string]*JobRecord
	complete map[string]bool // jobs whose final outcome exists
}

const (
	checkEvery = 100 * time.Millisecond
	sweepEvery = 5 * time.Second
)

func newFinalizer(c *Conn, log *slog.Logger) *finalizer {
	return &finalizer{c: c, log: log, pending: map[string]*JobRecord{}, complete: map[string]bool{}}
}

func (f *finalizer) dirty(job *JobRecord) {
	f.mu.Lock()
	f.pending[job.ID] = job
	f.mu.Unlock()
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
		if err := f.c.maybeFinalize(ctx, j); err != nil {
			f.log.Warn("worker: final step check; retrying", "job", j.ID, "err", err)
			f.dirty(j)
		}
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
		if err := f.c.maybeFinalize(ctx, j); err != nil {
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
