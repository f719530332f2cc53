package dist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
)

// Kind is a kind of task: what a worker runs for the tasks of a job of that kind. Stages
// register their kinds (fetch, crawl, ...) with Register; every worker knows every kind, so
// any worker takes any task.
type Kind struct {
	Name string
	// Lease marks tasks held for long (a crawl partition): they are delivered by their own
	// consumer with a higher delivery limit, carry no outcome (a partition can be woken again)
	// and are acked by Run itself (Task.Ack) when its work is durably done.
	Lease bool
	// Run executes one task. Its outputs must be written atomically under names that depend
	// only on the task, so that a second run (after a worker died) overwrites them with the
	// same content. The result (small, JSON) is stored in the task's outcome. An error wrapped
	// with Permanent fails the task at once; others are retried up to the delivery limit.
	Run func(ctx context.Context, t *Task) (any, error)
	// Finalize, when set, runs once after every task of the job has an outcome (done or
	// failed), as a task of its own (the same guarantees): merging per-task outputs, writing
	// the job's manifest and stats.
	Finalize func(ctx context.Context, f *Final) (any, error)
	// Settle, for lease kinds, runs after a lease task was given up (delivery limit), so the
	// kind can drop what was left for it and notice the job has nothing left to do.
	Settle func(ctx context.Context, c *Conn, job *JobRecord, task string) error
	// Wake, for lease kinds, enqueues a lease task again (Conn.Republish with its input). The
	// workers' sweep calls it for a task that has messages in its inbox but is neither queued
	// nor held: its last holder died between releasing it and waking it for links that arrived.
	Wake func(ctx context.Context, c *Conn, job *JobRecord, task string) error
}

var (
	kindsMu sync.RWMutex
	kinds   = map[string]*Kind{}
)

// Register makes a kind known to this process's workers and submitters.
func Register(k *Kind) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if k.Name == "" || k.Run == nil {
		panic("dist: Register needs a name and Run")
	}
	if _, dup := kinds[k.Name]; dup {
		panic("dist: kind " + k.Name + " registered twice")
	}
	kinds[k.Name] = k
}

// LookupKind returns a registered kind.
func LookupKind(name string) (*Kind, bool) {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	k, ok := kinds[name]
	return k, ok
}

// KindNames lists the registered kinds.
func KindNames() []string {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	var out []string
	for n := range kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Task is one delivery of a task to a worker.
type Task struct {
	Job     *JobRecord
	ID      string
	Index   int
	Input   json.RawMessage
	Attempt int // 1 on the first delivery
	Worker  string
	Conn    *Conn
	Log     *slog.Logger
	// AllowPrivate: the worker lets tasks reach private addresses (see WorkerOptions).
	AllowPrivate bool

	ack   func(ctx context.Context) error
	acked bool
}

// CheckPrivate refuses a job that asks for private addresses on a worker that does not allow
// them. The error is not permanent: another worker may allow them.
func (t *Task) CheckPrivate(jobAsks bool) error {
	if jobAsks && !t.AllowPrivate {
		return fmt.Errorf("job %s asks for private addresses (--allow-private); this worker does not allow them (start it with --allow-private)", t.Job.ID)
	}
	return nil
}

// DecodeInput unmarshals the task's input.
func (t *Task) DecodeInput(v any) error {
	if err := json.Unmarshal(t.Input, v); err != nil {
		return Permanent(fmt.Errorf("task %s input: %w", t.ID, err))
	}
	return nil
}

// Ack acknowledges a lease task's message (waiting for the server's confirmation): from then on
// the task is no longer held by this worker. Batch tasks are acked by the worker.
func (t *Task) Ack(ctx context.Context) error {
	if t.acked {
		return nil
	}
	if err := t.ack(ctx); err != nil {
		return err
	}
	t.acked = true
	return nil
}

// Next is what a final step returns when it submitted the job that continues its work (a
// pipeline of jobs: a distributed filter's map, dedup and sample steps). Waiting on a job
// follows it (Conn.WaitChain).
type Next struct {
	Job string `json:"next_job"`
}

// Final is the final step of a job: the outcomes of all its tasks.
type Final struct {
	Job      *JobRecord
	Outcomes map[string]*Outcome // task id -> outcome
	Conn     *Conn
	Log      *slog.Logger
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent wraps err so that the task fails at once instead of being delivered again.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports an error wrapped by Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
