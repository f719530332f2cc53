package dist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names of the protocol's streams, consumers, buckets and subjects (see doc.go).
const (
	TasksStream      = "WIT_TASKS"      // work queue: one message per outstanding task
	InboxStream      = "WIT_INBOX"      // work queue: link batches forwarded to crawl partitions
	AdvisoryStream   = "WIT_ADVISORIES" // the server's max-deliveries advisories for WIT_TASKS
	TaskConsumer     = "wit-tasks"      // durable pull consumer of wit.task.>
	LeaseConsumer    = "wit-leases"     // durable pull consumer of wit.lease.>
	AdvisoryConsumer = "wit-advisories"
	JobsBucket       = "wit_jobs"    // job id -> JobRecord
	RecordsBucket    = "wit_tasks"   // <job>.s.<task> -> TaskRecord; <job>.d.<task> -> Outcome; <job>.final -> Outcome
	WorkersBucket    = "wit_workers" // worker id -> WorkerRecord, expires WorkerTTL after the last heartbeat

	taskSubjectPrefix  = "wit.task."
	leaseSubjectPrefix = "wit.lease."
	inboxSubjectPrefix = "wit.inbox."
	advisorySubjects   = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + TasksStream + ".*"
	finalTaskID        = "final"
)

// Task states in TaskRecord.State and Outcome.State.
const (
	StateRunning  = "running"
	StateRetrying = "retrying" // failed, will be delivered again
	StateDone     = "done"
	StateFailed   = "failed" // gave up: delivery limit or a permanent error
)

// JobRecord is a job's metadata in the wit_jobs bucket.
type JobRecord struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Spec      string    `json:"spec"`  // the stage's options, serialized by its Kind (YAML)
	Tasks     int       `json:"tasks"` // batch jobs: how many tasks; lease jobs: partitions
	Lease     bool      `json:"lease,omitempty"`
	Finalize  bool      `json:"finalize,omitempty"` // a final step runs once every task has an outcome
	Created   time.Time `json:"created"`
	Submitter string    `json:"submitter,omitempty"`
}

// TaskMsg is the payload of a task message.
type TaskMsg struct {
	Job   string          `json:"job"`
	Task  string          `json:"task"`
	Index int             `json:"index"`
	Input json.RawMessage `json:"input,omitempty"` // the Kind's own description of the task's input
}

// TaskRecord is a task's latest state (<job>.s.<task> in wit_tasks), for wit jobs.
type TaskRecord struct {
	Task     string          `json:"task"`
	Index    int             `json:"index"`
	State    string          `json:"state"`
	Worker   string          `json:"worker,omitempty"`
	Attempt  int             `json:"attempt"`
	Error    string          `json:"error,omitempty"`
	Started  time.Time       `json:"started"`
	Finished time.Time       `json:"finished,omitzero"`
	Result   json.RawMessage `json:"result,omitempty"`
}

// Outcome is written once when a task ends for good (<job>.d.<task>) and when a job's final step
// ends (<job>.final). Its presence is what "done" means: a task with an outcome is never run
// again, whatever the queue redelivers.
type Outcome struct {
	State    string          `json:"state"`
	Error    string          `json:"error,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Worker   string          `json:"worker,omitempty"`
	Finished time.Time       `json:"finished"`
	Index    int             `json:"index"`             // the task's position in the job
	Attempt  int             `json:"attempt,omitempty"` // deliveries it took
}

// setup creates (or updates to the same configuration) everything the protocol uses. Every
// client does it, so a fresh server needs no preparation.
func (c *Conn) setup(ctx context.Context) error {
	s := c.settings
	var err error
	c.tasks, err = c.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:                 TasksStream,
		Description:          "wit tasks: one message per outstanding task",
		Subjects:             []string{taskSubjectPrefix + ">", leaseSubjectPrefix + ">"},
		Retention:            jetstream.WorkQueuePolicy,
		Storage:              jetstream.FileStorage,
		Replicas:             s.Replicas,
		Duplicates:           s.DuplicateWait,
		MaxMsgsPerSubject:    1, // a task is queued or running at most once at a time
		Discard:              jetstream.DiscardNew,
		DiscardNewPerSubject: true,
	})
	if err != nil {
		return fmt.Errorf("queue: stream %s: %w", TasksStream, err)
	}
	c.inbox, err = c.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        InboxStream,
		Description: "wit crawl: link batches forwarded to partitions",
		Subjects:    []string{inboxSubjectPrefix + ">"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    s.Replicas,
		Duplicates:  s.DuplicateWait,
	})
	if err != nil {
		return fmt.Errorf("queue: stream %s: %w", InboxStream, err)
	}
	if _, err = c.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        AdvisoryStream,
		Description: "wit: tasks that reached their delivery limit",
		Subjects:    []string{advisorySubjects},
		Storage:     jetstream.FileStorage,
		Replicas:    s.Replicas,
		MaxAge:      7 * 24 * time.Hour,
	}); err != nil {
		return fmt.Errorf("queue: stream %s: %w", AdvisoryStream, err)
	}
	consumers := []struct {
		stream string
		cfg    jetstream.ConsumerConfig
	}{
		{TasksStream, jetstream.ConsumerConfig{Durable: TaskConsumer, FilterSubject: taskSubjectPrefix + ">",
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: s.AckWait, MaxDeliver: s.MaxDeliver,
			MaxAckPending: 100000, Replicas: s.Replicas}},
		{TasksStream, jetstream.ConsumerConfig{Durable: LeaseConsumer, FilterSubject: leaseSubjectPrefix + ">",
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: s.AckWait, MaxDeliver: s.LeaseDeliver,
			MaxAckPending: 100000, Replicas: s.Replicas}},
		{AdvisoryStream, jetstream.ConsumerConfig{Durable: AdvisoryConsumer, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: 30 * time.Second, Replicas: s.Replicas}},
	}
	for _, cc := range consumers {
		if !s.Apply {
			if _, err := c.JS.Consumer(ctx, cc.stream, cc.cfg.Durable); err == nil {
				continue // in place: used as configured
			} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
				return fmt.Errorf("queue: consumer %s: %w", cc.cfg.Durable, err)
			}
		}
		if _, err := c.JS.CreateOrUpdateConsumer(ctx, cc.stream, cc.cfg); err != nil {
			return fmt.Errorf("queue: consumer %s: %w", cc.cfg.Durable, err)
		}
	}
	buckets := []struct {
		kv  *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		{&c.jobs, jetstream.KeyValueConfig{Bucket: JobsBucket, Description: "wit jobs", Storage: jetstream.FileStorage, Replicas: s.Replicas}},
		{&c.records, jetstream.KeyValueConfig{Bucket: RecordsBucket, Description: "wit task states and outcomes", Storage: jetstream.FileStorage, Replicas: s.Replicas}},
		{&c.workers, jetstream.KeyValueConfig{Bucket: WorkersBucket, Description: "wit workers alive", Storage: jetstream.MemoryStorage, TTL: s.WorkerTTL, Replicas: s.Replicas}},
	}
	for _, b := range buckets {
		kv, err := c.JS.CreateOrUpdateKeyValue(ctx, b.cfg)
		if err != nil {
			return fmt.Errorf("queue: bucket %s: %w", b.cfg.Bucket, err)
		}
		*b.kv = kv
	}
	return nil
}

// Settings returns the timing knobs the connection was made with.
func (c *Conn) Settings() Settings { return c.settings }

// ID hashes its parts into a 16-hex-digit identifier: the same parts give the same ID on every
// machine, which is what makes submitting twice harmless.
func ID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func taskSubject(job *JobRecord, task string) string {
	if job.Lease && task != finalTaskID {
		return leaseSubjectPrefix + job.ID + "." + task
	}
	return taskSubjectPrefix + job.ID + "." + task
}

func statusKey(job, task string) string  { return job + ".s." + task }
func outcomeKey(job, task string) string { return job + ".d." + task }
func finalKey(job string) string         { return job + ".final" }
func submittedKey(job string) string     { return job + ".submitted" }

// isPerSubjectLimit reports the rejection of a task already queued or running.
func isPerSubjectLimit(err error) bool {
	return err != nil && strings.Contains(err.Error(), "maximum messages per subject exceeded")
}

// publishTask enqueues one task. msgID de-duplicates within the duplicate window; the stream's
// one-message-per-subject rule refuses a task that is still queued or running (not an error).
// It reports whether a new message was stored.
func (c *Conn) publishTask(ctx context.Context, job *JobRecord, t TaskMsg, msgID string) (bool, error) {
	data, err := json.Marshal(t)
	if err != nil {
		return false, err
	}
	ack, err := c.JS.Publish(ctx, taskSubject(job, t.Task), data, jetstream.WithMsgID(msgID))
	if isPerSubjectLimit(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("queue: enqueue task %s of job %s: %w", t.Task, t.Job, err)
	}
	return !ack.Duplicate, nil
}

// Job reads a job's record.
func (c *Conn) Job(ctx context.Context, id string) (*JobRecord, error) {
	e, err := c.jobs.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("queue: job %s: %w", id, err)
	}
	var j JobRecord
	if err := json.Unmarshal(e.Value(), &j); err != nil {
		return nil, fmt.Errorf("queue: job %s: %w", id, err)
	}
	return &j, nil
}

// Jobs lists every job record, oldest first.
func (c *Conn) Jobs(ctx context.Context) ([]*JobRecord, error) {
	lister, err := c.jobs.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("queue: list jobs: %w", err)
	}
	var out []*JobRecord
	for k := range lister.Keys() {
		j, err := c.Job(ctx, k)
		if err != nil {
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				continue
			}
			return nil, err
		}
		out = append(out, j)
	}
	sortJobs(out)
	return out, nil
}

func (c *Conn) outcome(ctx context.Context, key string) (*Outcome, error) {
	e, err := c.records.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("queue: read %s: %w", key, err)
	}
	var o Outcome
	if err := json.Unmarshal(e.Value(), &o); err != nil {
		return nil, fmt.Errorf("queue: %s: %w", key, err)
	}
	return &o, nil
}

// recordOutcome writes a task's outcome and waits for the queue's answer; an outcome already
// there (another delivery of the task finished first) is kept.
func (c *Conn) recordOutcome(ctx context.Context, key string, o Outcome) error {
	a, err := c.publishOutcome(key, o)
	if err != nil {
		return err
	}
	return a.wait(ctx)
}

// outcomeAck is the queue's answer to a task's outcome (publishOutcome).
type outcomeAck struct {
	key string
	put jetstream.PubAckFuture
}

// publishOutcome sends recordOutcome's publish without waiting for its answer. The outcome is
// the only write that marks a task done: countOutcomes counts the outcome keys themselves.
func (c *Conn) publishOutcome(key string, o Outcome) (outcomeAck, error) {
	a := outcomeAck{key: key}
	data, err := json.Marshal(o)
	if err != nil {
		return a, err
	}
	// Create's condition: no earlier value of the key.
	if a.put, err = c.JS.PublishAsync(recordSubject(key), data, jetstream.WithExpectLastSequencePerSubject(0)); err != nil {
		return a, fmt.Errorf("queue: record outcome %s: %w", key, err)
	}
	return a, nil
}

// wait waits for the answer: the outcome is recorded, by this delivery or an earlier one.
func (a outcomeAck) wait(ctx context.Context) error {
	if err := waitPubAck(ctx, a.put); err != nil && !isWrongLastSequence(err) {
		return fmt.Errorf("queue: record outcome %s: %w", a.key, err)
	}
	return nil
}

// pubAckWait bounds the wait for the answer to a publish sent without waiting (PublishAsync).
const pubAckWait = 10 * time.Second

// waitPubAck waits for the answer to a publish sent with PublishAsync.
func waitPubAck(ctx context.Context, f jetstream.PubAckFuture) error {
	select { // most answers are in by the time they are waited for: no timer for those
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return err
	default:
	}
	t := time.NewTimer(pubAckWait)
	defer t.Stop()
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return err
	case <-t.C:
		return errors.New("no answer from the queue")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isWrongLastSequence reports a conditional publish refused because the key has a value.
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// putOutcome writes a task's outcome; an outcome already there (another delivery of the task
// finished first) is kept.
func (c *Conn) putOutcome(ctx context.Context, key string, o Outcome) error {
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if _, err := c.records.Create(ctx, key, data); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("queue: record outcome %s: %w", key, err)
	}
	return nil
}

// putStatus records a task's latest state for wit jobs. It does not wait for the server: the
// state is informative (outcomes, which decide, are written synchronously), and a task's states
// are published in order on one connection.
func (c *Conn) putStatus(ctx context.Context, job string, r TaskRecord) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := c.JS.PublishAsync(recordSubject(statusKey(job, r.Task)), data); err != nil {
		return fmt.Errorf("queue: record task %s: %w", r.Task, err)
	}
	return nil
}

// countOutcomes counts the tasks of a job that have an outcome. The count is the pending count
// of a consumer of the job's outcome keys that nobody reads (countConsumer): the server keeps it
// as outcomes are written, so one request answers whatever the job's size, and since each key is
// written once (publishOutcome's condition) every task is counted once, however often it ran.
// The server counts an outcome just after confirming it: a count read at once may miss the
// outcomes confirmed last (it never counts one too many; see finalizer).
func (c *Conn) countOutcomes(ctx context.Context, job string) (int, error) {
	if v, ok := c.counters.Load(job); ok {
		info, err := v.(jetstream.Consumer).Info(ctx)
		if err == nil {
			return int(info.NumPending), nil
		}
		if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return 0, fmt.Errorf("queue: count outcomes of %s: %w", job, err)
		}
		// Removed after countIdle unused: made again, which counts from the stream.
	}
	cons, err := c.JS.CreateOrUpdateConsumer(ctx, "KV_"+RecordsBucket, countConsumer(job, c.settings.Replicas))
	if err != nil {
		return 0, fmt.Errorf("queue: count outcomes of %s: %w", job, err)
	}
	c.counters.Store(job, cons)
	return int(cons.CachedInfo().NumPending), nil
}

// countIdle is how long a job's counting consumer outlives its last use (the server removes it
// then; the next count makes it again).
const countIdle = 15 * time.Minute

// countConsumer is the configuration of the consumer whose pending count is the number of a
// job's outcomes (<job>.d.<task> keys; not the final step's): never read, acked or stored on
// disk.
func countConsumer(job string, replicas int) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:           "wit-count-" + job,
		Description:       "wit: counts the outcomes of job " + job,
		FilterSubject:     recordSubject(job + ".d.*"),
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		InactiveThreshold: countIdle,
		Replicas:          replicas,
	}
}

// recordSubject is the subject of a key of the wit_tasks bucket.
func recordSubject(key string) string { return "$KV." + RecordsBucket + "." + key }

// Outcomes reads the outcomes of a job's tasks (task id -> outcome).
func (c *Conn) Outcomes(ctx context.Context, job string) (map[string]*Outcome, error) {
	out := map[string]*Outcome{}
	prefix := job + ".d."
	err := c.watchPrefix(ctx, prefix+">", func(key string, value []byte) error {
		var o Outcome
		if err := json.Unmarshal(value, &o); err != nil {
			return fmt.Errorf("queue: %s: %w", key, err)
		}
		out[strings.TrimPrefix(key, prefix)] = &o
		return nil
	})
	return out, err
}

// TaskRecords reads the latest state of every task of a job that has started.
func (c *Conn) TaskRecords(ctx context.Context, job string) ([]TaskRecord, error) {
	var out []TaskRecord
	err := c.watchPrefix(ctx, job+".s.>", func(key string, value []byte) error {
		var r TaskRecord
		if err := json.Unmarshal(value, &r); err != nil {
			return fmt.Errorf("queue: %s: %w", key, err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// watchPrefix calls fn with the current value of every key matching filter.
func (c *Conn) watchPrefix(ctx context.Context, filter string, fn func(key string, value []byte) error) error {
	w, err := c.records.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("queue: read %s: %w", filter, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("queue: watcher closed")
			}
			if e == nil {
				return nil // initial values delivered
			}
			if err := fn(e.Key(), e.Value()); err != nil {
				return err
			}
		}
	}
}
