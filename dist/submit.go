package dist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Submission describes a job to enqueue.
type Submission struct {
	Kind string
	Spec string // the stage's options, serialized; hashed into the job ID
	// Tasks are the inputs of the tasks (batch kinds). A task's ID is the hash of the job ID and
	// its input unless TaskIDs names it (lease kinds name partitions "p0000", ...).
	Tasks   []json.RawMessage
	TaskIDs []string
}

// Submit records a job and enqueues its tasks. The job's ID is a hash of its kind and spec, and
// each task's ID a hash of the job and its input, used as the message ID: submitting the same
// job again (after a crash of the submitter, or by mistake) enqueues nothing new, and tasks that
// already have an outcome are never run again.
func (c *Conn) Submit(ctx context.Context, s Submission) (*JobRecord, error) {
	kind, ok := LookupKind(s.Kind)
	if !ok {
		return nil, fmt.Errorf("queue: unknown task kind %q (known: %v)", s.Kind, KindNames())
	}
	if s.TaskIDs != nil && len(s.TaskIDs) != len(s.Tasks) {
		return nil, errors.New("queue: TaskIDs and Tasks differ in length")
	}
	host, _ := os.Hostname()
	job := &JobRecord{ID: ID(s.Kind, s.Spec), Kind: s.Kind, Spec: s.Spec, Tasks: len(s.Tasks), Lease: kind.Lease,
		Finalize: kind.Finalize != nil, Created: time.Now().UTC(), Submitter: host + ":" + strconv.Itoa(os.Getpid())}
	data, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	resubmitted := false
	if _, err := c.jobs.Create(ctx, job.ID, data); err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("queue: record job: %w", err)
		}
		prev, err := c.Job(ctx, job.ID)
		if err != nil {
			return nil, err
		}
		c.log.Info("queue: job was submitted before; enqueuing its unfinished tasks again", "job", job.ID, "created", prev.Created)
		job, resubmitted = prev, true
	}
	if done, _ := c.outcome(ctx, finalKey(job.ID)); done != nil {
		return job, nil
	}
	ids := make([]string, len(s.Tasks))
	for i, in := range s.Tasks {
		if s.TaskIDs != nil {
			ids[i] = s.TaskIDs[i]
		} else {
			ids[i] = ID(job.ID, string(in))
		}
	}
	if dup := firstDuplicate(ids); dup != "" {
		return nil, fmt.Errorf("queue: two tasks of the job have the same input (task %s)", dup)
	}
	// A resubmitted job's finished tasks are not enqueued again: workers look for an outcome only
	// on redeliveries.
	var done map[string]*Outcome
	if resubmitted && !job.Lease {
		var err error
		if done, err = c.Outcomes(ctx, job.ID); err != nil {
			return nil, err
		}
	}
	var todo []TaskMsg
	for i, in := range s.Tasks {
		if done[ids[i]] == nil {
			todo = append(todo, TaskMsg{Job: job.ID, Task: ids[i], Index: i, Input: in})
		}
	}
	if err := c.enqueueTasks(ctx, job, todo); err != nil {
		return nil, err
	}
	if err := c.putOutcome(ctx, submittedKey(job.ID), Outcome{State: StateDone, Finished: time.Now().UTC()}); err != nil {
		return nil, err
	}
	if len(s.Tasks) == 0 && job.Finalize && !job.Lease {
		return job, c.enqueueFinal(ctx, job)
	}
	return job, nil
}

// submitWindow is how many task messages Submit has in flight before it waits for their answers.
const submitWindow = 1000

// enqueueTasks publishes the messages of a job's tasks (message ID job.task.0) without waiting
// for each answer in turn: submitWindow at a time, then their answers. A task whose answer is an
// error or does not come is published again the plain way, which its message ID makes harmless.
func (c *Conn) enqueueTasks(ctx context.Context, job *JobRecord, tasks []TaskMsg) error {
	type sent struct {
		t TaskMsg
		f jetstream.PubAckFuture
	}
	msgID := func(t TaskMsg) string { return job.ID + "." + t.Task + ".0" }
	window := make([]sent, 0, min(len(tasks), submitWindow))
	settle := func() error {
		for _, s := range window {
			if err := waitPubAck(ctx, s.f); err == nil || isPerSubjectLimit(err) {
				continue
			} else if ctx.Err() != nil {
				return fmt.Errorf("queue: enqueue task %s of job %s: %w", s.t.Task, job.ID, ctx.Err())
			}
			if _, err := c.publishTask(ctx, job, s.t, msgID(s.t)); err != nil {
				return err
			}
		}
		window = window[:0]
		return nil
	}
	for _, t := range tasks {
		data, err := json.Marshal(t)
		if err != nil {
			return err
		}
		f, err := c.JS.PublishAsync(taskSubject(job, t.Task), data, jetstream.WithMsgID(msgID(t)))
		if err != nil {
			if _, err := c.publishTask(ctx, job, t, msgID(t)); err != nil {
				return err
			}
			continue
		}
		window = append(window, sent{t, f})
		if len(window) == submitWindow {
			if err := settle(); err != nil {
				return err
			}
		}
	}
	return settle()
}

func firstDuplicate(ids []string) string {
	s := slices.Clone(ids)
	slices.Sort(s)
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			return s[i]
		}
	}
	return ""
}

// Republish enqueues a task again under a fresh message ID: used to wake a lease task (a crawl
// partition with new links). A task still queued or running is left alone (the stream holds one
// message per task) and false is returned.
func (c *Conn) Republish(ctx context.Context, job *JobRecord, task string, index int, input json.RawMessage) (bool, error) {
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	return c.publishTask(ctx, job, TaskMsg{Job: job.ID, Task: task, Index: index, Input: input}, job.ID+"."+task+"."+nonce)
}

// TaskQueued reports whether a task has a message in the queue (waiting or being worked on).
func (c *Conn) TaskQueued(ctx context.Context, job *JobRecord, task string) (bool, error) {
	n, err := c.countMessages(ctx, c.tasks, taskSubject(job, task))
	return n > 0, err
}

// countMessages counts the messages of a stream on subjects matching filter.
func (c *Conn) countMessages(ctx context.Context, st jetstream.Stream, filter string) (int, error) {
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, fmt.Errorf("queue: count %s: %w", filter, err)
	}
	n := 0
	for _, v := range info.State.Subjects {
		n += int(v)
	}
	return n, nil
}

// enqueueFinal enqueues the job's final step once (the message ID and the one-message-per-task
// rule stop a second copy; an existing final outcome stops it for good).
func (c *Conn) enqueueFinal(ctx context.Context, job *JobRecord) error {
	if o, err := c.outcome(ctx, finalKey(job.ID)); err != nil || o != nil {
		return err
	}
	_, err := c.publishTask(ctx, job, TaskMsg{Job: job.ID, Task: finalTaskID}, job.ID+".final")
	return err
}

// EnqueueFinal is enqueueFinal for lease kinds, which decide themselves when their job is done.
func (c *Conn) EnqueueFinal(ctx context.Context, job *JobRecord) error {
	return c.enqueueFinal(ctx, job)
}

// maybeFinalize enqueues the final step of a batch job once every task has an outcome, and
// returns how many have one.
func (c *Conn) maybeFinalize(ctx context.Context, job *JobRecord) (int, error) {
	if !job.Finalize || job.Lease {
		return 0, nil
	}
	n, err := c.countOutcomes(ctx, job.ID)
	if err != nil || n < job.Tasks {
		return n, err
	}
	return n, c.enqueueFinal(ctx, job)
}

// Progress is a cheap summary of a job for waiting on it.
type Progress struct {
	Job      *JobRecord
	Outcomes int      // tasks with an outcome (batch kinds)
	Final    *Outcome // the final step's outcome, or the job's when it has no final step
	Complete bool
}

// JobProgress reads how far a job is.
func (c *Conn) JobProgress(ctx context.Context, id string) (Progress, error) {
	job, err := c.Job(ctx, id)
	if err != nil {
		return Progress{}, err
	}
	p := Progress{Job: job}
	if p.Final, err = c.outcome(ctx, finalKey(id)); err != nil {
		return p, err
	}
	if !job.Lease {
		if p.Outcomes, err = c.countOutcomes(ctx, id); err != nil {
			return p, err
		}
	} else if p.Final == nil {
		// A safety net for the check lease tasks make after their ack.
		if idle, err := c.LeaseJobIdle(ctx, job); err == nil && idle {
			if err := c.enqueueFinal(ctx, job); err != nil {
				return p, err
			}
		}
	}
	p.Complete = p.Final != nil || !job.Finalize && !job.Lease && p.Outcomes >= job.Tasks
	if !p.Complete && job.Finalize && !job.Lease && p.Outcomes >= job.Tasks {
		// Workers enqueue the final step; a watcher may as well.
		if err := c.enqueueFinal(ctx, job); err != nil {
			return p, err
		}
	}
	return p, nil
}

// Wait polls a job until it is complete (or ctx ends), calling progress after each poll. The
// write of the job's final outcome ends the wait at once, not at the next poll.
func (c *Conn) Wait(ctx context.Context, id string, every time.Duration, progress func(Progress)) (Progress, error) {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var finalWritten <-chan jetstream.KeyValueEntry // nil (polls only) if the watch cannot be made
	if w, err := c.records.Watch(ctx, finalKey(id), jetstream.UpdatesOnly()); err == nil {
		defer w.Stop()
		finalWritten = w.Updates()
	} else {
		c.log.Debug("queue: watch the final outcome; polling only", "job", id, "err", err)
	}
	for {
		p, err := c.JobProgress(ctx, id)
		if err != nil {
			return p, err
		}
		if progress != nil {
			progress(p)
		}
		if p.Complete {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-t.C:
		case _, ok := <-finalWritten:
			if !ok {
				finalWritten = nil
			}
		}
	}
}

// WaitChain waits for a job and then for every job its final step submitted (Next), and returns
// the last one's progress.
func (c *Conn) WaitChain(ctx context.Context, id string, every time.Duration, progress func(Progress)) (Progress, error) {
	for {
		p, err := c.Wait(ctx, id, every, progress)
		if err != nil || p.Final == nil || p.Final.State != StateDone {
			return p, err
		}
		var next Next
		if json.Unmarshal(p.Final.Result, &next) != nil || next.Job == "" {
			return p, nil
		}
		id = next.Job
	}
}
