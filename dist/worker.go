package dist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// WorkerOptions configures RunWorker.
type WorkerOptions struct {
	ID          string        // shown by wit jobs (default host-pid)
	Concurrency int           // tasks run at once (default 1)
	Poll        time.Duration // how long an idle slot waits for a task per pull (default 1s)
	// RetryDelay is the first delay before a failed task is delivered again; it doubles with
	// every attempt up to 30 s (default 1 s).
	RetryDelay time.Duration
	// AllowPrivate lets tasks reach loopback, private and link-local addresses when their job
	// asks for it (Task.AllowPrivate); without it such jobs' tasks are refused by this worker,
	// so a job on a shared queue cannot make workers probe their internal networks.
	AllowPrivate bool
	Logger       *slog.Logger
}

// WorkerRecord is a worker's heartbeat in the wit_workers bucket.
type WorkerRecord struct {
	ID          string    `json:"id"`
	Host        string    `json:"host"`
	PID         int       `json:"pid"`
	Concurrency int       `json:"concurrency"`
	Started     time.Time `json:"started"`
	Seen        time.Time `json:"seen"`
	Running     []string  `json:"running"` // job.task
	Done        int64     `json:"done"`
	Failed      int64     `json:"failed"`
}

type worker struct {
	c        *Conn
	o        WorkerOptions
	log      *slog.Logger
	tasks    jetstream.Consumer
	leases   jetstream.Consumer
	advis    jetstream.Consumer
	maxTask  int
	maxLease int

	jobsMu sync.Mutex
	jobs   map[string]*JobRecord

	runMu   sync.Mutex
	running map[string]bool
	fin     *finalizer
	ackWait atomic.Int64 // the consumers' ack wait in force (refreshed with the heartbeat)
	done    atomic.Int64
	failed  atomic.Int64
	started time.Time

	// Messages pulled and not yet started (queued), being run by a slot (busy), and the
	// messages this worker holds (from the pull until their ack, nak or term), heartbeated
	// together by heartbeatHeld.
	queued    atomic.Int32
	busy      atomic.Int32
	short     atomic.Bool   // the last task run took less than shortTask
	avgTask   atomic.Int64  // moving average of the tasks' run times (ns)
	freed     chan struct{} // a slot finished a task: feed may pull again
	heldMu    sync.Mutex
	held      map[jetstream.Msg]time.Time
	finishing sync.WaitGroup
	finishCap chan struct{}   // bounds the tasks whose outcome is being recorded
	recorded  chan *recording // batch tasks that succeeded, for publishOutcomes
}

// recording is a batch task that succeeded: publishOutcomes publishes its outcome, and once the
// queue has confirmed it, ackRecorded acks its message.
type recording struct {
	msg     jetstream.Msg
	job     *JobRecord
	task    string
	outKey  string
	outcome Outcome
	acked   bool // the task acked its message itself
	ack     outcomeAck
	err     error // the publish failed
}

// RunWorker pulls tasks and runs them until ctx is cancelled. Concurrency slots run tasks; the
// worker pulls messages in batches sized to its free slots (plus as many ahead while tasks are
// short), heartbeats every message it holds (InProgress every ack wait / 4) and acks a task
// only after its outcome is recorded. On cancel, the tasks in flight are cancelled and handed
// back (nak) for another worker, with the messages pulled but not started.
func RunWorker(ctx context.Context, c *Conn, o WorkerOptions) error {
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = time.Second
	}
	host, _ := os.Hostname()
	if o.ID == "" {
		o.ID = host + "-" + strconv.Itoa(os.Getpid())
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	w := &worker{c: c, o: o, log: log.With("worker", o.ID), jobs: map[string]*JobRecord{}, running: map[string]bool{}, started: time.Now().UTC(),
		freed: make(chan struct{}, 1), held: map[jetstream.Msg]time.Time{}, finishCap: make(chan struct{}, max(4*recordGroup, 16*o.Concurrency))}
	w.recorded = make(chan *recording, cap(w.finishCap))
	var err error
	if w.tasks, err = c.JS.Consumer(ctx, TasksStream, TaskConsumer); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if w.leases, err = c.JS.Consumer(ctx, TasksStream, LeaseConsumer); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if w.advis, err = c.JS.Consumer(ctx, AdvisoryStream, AdvisoryConsumer); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	w.maxTask = w.tasks.CachedInfo().Config.MaxDeliver
	w.maxLease = w.leases.CachedInfo().Config.MaxDeliver
	w.ackWait.Store(int64(min(w.tasks.CachedInfo().Config.AckWait, w.leases.CachedInfo().Config.AckWait)))

	w.fin = newFinalizer(c, w.log)
	var wg sync.WaitGroup
	wg.Go(func() { w.fin.run(ctx) })
	wg.Go(func() { w.heartbeat(ctx, host) })
	wg.Go(func() { w.advisories(ctx) })
	// Slots and the recording of their last outcomes end after ctx; their messages are
	// heartbeated until then.
	in := make(chan jetstream.Msg, o.Concurrency+max(o.Concurrency, maxAhead))
	var slots sync.WaitGroup
	slots.Go(func() { w.feed(ctx, in) })
	for range o.Concurrency {
		slots.Go(func() { w.slot(ctx, in) })
	}
	var acker sync.WaitGroup
	published := make(chan []*recording, cap(w.finishCap))
	acker.Go(func() { w.publishOutcomes(w.recorded, published) })
	acker.Go(func() { w.ackRecorded(ctx, published) })
	slotsDone := make(chan struct{})
	wg.Go(func() { w.heartbeatHeld(slotsDone) })
	w.log.Info("worker: started", "concurrency", o.Concurrency, "kinds", KindNames())
	slots.Wait()
	close(w.recorded)
	acker.Wait()
	w.finishing.Wait()
	close(slotsDone)
	wg.Wait()
	_ = c.workers.Delete(context.Background(), sanitizeKey(o.ID))
	return nil
}

// feed pulls task messages for the slots. It pulls when it has room (free slots, plus tasks
// ahead while tasks are very short: about aheadWork of work per slot) and either no pulled task
// is waiting or half its room is free, so that a queue of short tasks costs one pull request
// per batch, not a round trip per task, and the slots do not wait for one. Otherwise it pulls
// only for free slots, leaving queued tasks to idle workers and holding no task a crash of this
// worker would cost a delivery. Lease tasks (long by nature) are pulled only for free slots
// when no batch task came within the poll.
func (w *worker) feed(ctx context.Context, in chan<- jetstream.Msg) {
	defer close(in)
	for ctx.Err() == nil {
		room := w.pullRoom()
		if room == 0 {
			select {
			case <-ctx.Done():
			case <-w.freed:
			}
			continue
		}
		if w.fetch(ctx, w.tasks, room, w.o.Poll, in) > 0 {
			continue
		}
		if free := w.o.Concurrency - int(w.queued.Load()) - int(w.busy.Load()); free > 0 {
			w.fetch(ctx, w.leases, free, 0, in)
		}
	}
}

// pullRoom is how many task messages feed pulls now: its room (free slots, plus tasks ahead
// while tasks are very short), once no pulled task is waiting or half of the room is free; 0
// while it waits.
func (w *worker) pullRoom() int {
	limit := w.o.Concurrency + w.ahead()
	queued := int(w.queued.Load())
	room := limit - queued - int(w.busy.Load())
	if room <= 0 || queued > 0 && room < limit/2 {
		return 0
	}
	return room
}

// ahead is how many tasks the worker pulls before a slot is free for them: about aheadWork of
// work per slot at the tasks' average run time, at most maxAhead; none after a task of a second
// or more. Tasks of more than aheadWork are not pulled ahead: a pull's round trip is small next
// to them.
func (w *worker) ahead() int {
	avg := time.Duration(w.avgTask.Load())
	if !w.short.Load() || avg <= 0 {
		return 0
	}
	return min(int(int64(w.o.Concurrency)*int64(aheadWork)/int64(avg)), max(maxAhead, w.o.Concurrency))
}

const (
	aheadWork = 10 * time.Millisecond
	maxAhead  = 256
)

// ranTask records a task's run time for ahead. Only tasks that succeeded count in the average:
// a task that fails at once says nothing about the others' length (and pulling many ahead next
// to a task that may crash its worker costs them deliveries).
func (w *worker) ranTask(d time.Duration, ok bool) {
	w.short.Store(d < shortTask)
	if !ok {
		return
	}
	for {
		old := w.avgTask.Load()
		avg := int64(d)
		if old > 0 {
			avg = old + (int64(d)-old)/8
		}
		if w.avgTask.CompareAndSwap(old, avg) {
			return
		}
	}
}

// fetch pulls up to n messages (wait 0: only those ready), hands them to the slots and returns
// how many came.
func (w *worker) fetch(ctx context.Context, cons jetstream.Consumer, n int, wait time.Duration, in chan<- jetstream.Msg) int {
	var batch jetstream.MessageBatch
	var err error
	if wait == 0 {
		batch, err = cons.FetchNoWait(n)
	} else {
		// The context bounds the wait and ends it when the worker stops.
		fctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		batch, err = cons.Fetch(n, jetstream.FetchContext(fctx))
	}
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("worker: pull", "err", err)
			sleepCtx(ctx, w.o.Poll)
		}
		return 0
	}
	got := 0
	for m := range batch.Messages() {
		w.hold(m)
		w.queued.Add(1)
		in <- m // never blocks: in holds the most the worker pulls ahead
		got++
	}
	if err := batch.Error(); err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
		w.log.Debug("worker: pull", "err", err)
	}
	return got
}

// slot runs the tasks fed to it, one at a time. A task's outcome is recorded and its message
// acked while the slot runs the next ones (up to finishCap tasks' bookkeeping in flight per
// worker), so the queue's round trips overlap the work.
func (w *worker) slot(ctx context.Context, in <-chan jetstream.Msg) {
	for msg := range in {
		w.busy.Add(1)
		w.queued.Add(-1)
		if ctx.Err() != nil {
			_ = msg.Nak() // stopping: another worker takes it
			w.release(msg)
			w.busy.Add(-1)
			continue
		}
		finish, rec := w.handle(ctx, msg)
		w.busy.Add(-1)
		if w.pullRoom() > 0 { // only a slot's end makes room: feed waits for this
			select {
			case w.freed <- struct{}{}:
			default:
			}
		}
		if rec != nil {
			w.finishCap <- struct{}{}
			w.recorded <- rec // never blocks: it holds as many as finishCap
			continue
		}
		if finish == nil {
			w.release(msg)
			continue
		}
		w.finishCap <- struct{}{}
		w.finishing.Go(func() {
			defer func() { <-w.finishCap }()
			defer w.release(msg)
			finish()
		})
	}
}

// publishOutcomes publishes the outcomes of the batch tasks that succeeded, in groups: those
// ready, and, while tasks finish often enough for a group to fill (lingerWorthIt), those that
// finish within recordLinger of the first, up to recordGroup, so that the queue gets a burst of
// publishes and then of acks (one write, one wake-up each) rather than one at a time. It hands
// each group to ackRecorded, and goes on with the next group while the queue answers.
func (w *worker) publishOutcomes(in <-chan *recording, out chan<- []*recording) {
	defer close(out)
	linger := time.NewTimer(recordLinger)
	defer linger.Stop()
	for r := range in {
		group := []*recording{r}
		var wait <-chan time.Time // nil: only those ready
		if w.lingerWorthIt() {
			linger.Reset(recordLinger)
			wait = linger.C
		}
	gather:
		for len(group) < recordGroup {
			var r *recording
			ok := false
			if wait == nil {
				select {
				case r, ok = <-in:
				default:
				}
			} else {
				select {
				case r, ok = <-in:
				case <-wait:
				}
			}
			if !ok {
				break gather
			}
			group = append(group, r)
		}
		for _, r := range group {
			r.ack, r.err = w.c.publishOutcome(r.outKey, r.outcome)
		}
		out <- group
	}
}

// lingerWorthIt reports whether tasks finish often enough (several within recordLinger, from
// the slots' average run time) for a group of outcomes to be worth waiting for. Longer tasks'
// outcomes go out at once: waiting would only delay them, and a worker that dies meanwhile
// costs each of them a delivery.
func (w *worker) lingerWorthIt() bool {
	avg := time.Duration(w.avgTask.Load())
	return avg > 0 && avg/time.Duration(w.o.Concurrency) <= recordLinger/4
}

const (
	// How long a group of outcomes waits for more, and its largest size. A group a quarter the
	// size (5 ms) cost the queue server ~15% more CPU a task in TestQueueOverhead: its work is
	// per wake-up as much as per message.
	recordLinger = 20 * time.Millisecond
	recordGroup  = 64
)

// ackRecorded acks the messages of the tasks whose outcome is published once the queue has
// confirmed the outcome, in the order they finished (by the time a task's answer is waited for
// it has mostly come). A task whose outcome is not confirmed is
// handed back with a delay: its redelivery finds the outcome or records it.
func (w *worker) ackRecorded(ctx context.Context, in <-chan []*recording) {
	bg := context.WithoutCancel(ctx)
	for group := range in {
		for _, r := range group {
			err := r.err
			if err == nil {
				err = r.ack.wait(bg)
			}
			if err != nil {
				w.log.Error("worker: record outcome; the task will be delivered again", "job", r.job.ID, "task", r.task, "err", err)
				if !r.acked {
					_ = r.msg.NakWithDelay(w.o.RetryDelay)
				}
			} else {
				w.fin.dirty(r.job)
				if !r.acked {
					// Not waited for: a lost ack only means a redelivery, which finds the outcome.
					if err := r.msg.Ack(); err != nil {
						w.log.Warn("worker: ack (the outcome is recorded; a redelivery is skipped)", "task", r.task, "err", err)
					}
				}
			}
			w.release(r.msg)
			<-w.finishCap
		}
	}
}

// hold and release track the messages this worker holds, for heartbeatHeld.
func (w *worker) hold(m jetstream.Msg) {
	w.heldMu.Lock()
	w.held[m] = time.Now()
	w.heldMu.Unlock()
}

func (w *worker) release(m jetstream.Msg) {
	w.heldMu.Lock()
	delete(w.held, m)
	w.heldMu.Unlock()
}

// heartbeatHeld tells the queue that every message held for half a heartbeat interval or more
// (queued, running or being recorded) is still being worked on, until stop.
func (w *worker) heartbeatHeld(stop <-chan struct{}) {
	for {
		every := w.heartbeatEvery()
		t := time.NewTimer(every)
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
		w.heldMu.Lock()
		var due []jetstream.Msg
		for m, since := range w.held {
			if time.Since(since) >= every/2 {
				due = append(due, m)
			}
		}
		w.heldMu.Unlock()
		for _, m := range due {
			if err := m.InProgress(); err != nil {
				w.log.Debug("worker: heartbeat", "subject", m.Subject(), "err", err)
			}
		}
	}
}

// heartbeatEvery is how often a held task is heartbeated: a quarter of the ack wait in force.
func (w *worker) heartbeatEvery() time.Duration {
	return max(time.Duration(w.ackWait.Load())/4, 50*time.Millisecond)
}

// shortTask is the task duration under which the worker pulls tasks ahead.
const shortTask = time.Second

// runningAfter is how long a task runs before its "running" state is recorded.
const runningAfter = 250 * time.Millisecond

// pull fetches one message (wait 0: only if one is ready).
func (w *worker) pull(ctx context.Context, cons jetstream.Consumer, wait time.Duration) jetstream.Msg {
	var batch jetstream.MessageBatch
	var err error
	if wait == 0 {
		batch, err = cons.FetchNoWait(1)
	} else {
		// The context bounds the wait and ends it when the worker stops.
		fctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		batch, err = cons.Fetch(1, jetstream.FetchContext(fctx))
	}
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("worker: pull", "err", err)
			sleepCtx(ctx, w.o.Poll)
		}
		return nil
	}
	for m := range batch.Messages() {
		return m
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (w *worker) job(ctx context.Context, id string) (*JobRecord, error) {
	w.jobsMu.Lock()
	j := w.jobs[id]
	w.jobsMu.Unlock()
	if j != nil {
		return j, nil
	}
	j, err := w.c.Job(ctx, id)
	if err != nil {
		return nil, err
	}
	w.jobsMu.Lock()
	w.jobs[id] = j
	w.jobsMu.Unlock()
	return j, nil
}

// handle runs one delivered task message and returns what is left to do once its work is done
// (record the outcome, ack), which the slot runs while it pulls and runs the next task; nil when
// nothing is left. A batch task that succeeded (the common case) has its outcome published here
// and is returned as a recording for ackRecorded instead.
func (w *worker) handle(ctx context.Context, msg jetstream.Msg) (finish func(), rec *recording) {
	meta, err := msg.Metadata()
	if err != nil {
		w.log.Error("worker: message without metadata", "err", err)
		_ = msg.Term()
		return nil, nil
	}
	var tm TaskMsg
	if err := json.Unmarshal(msg.Data(), &tm); err != nil || tm.Job == "" || tm.Task == "" {
		w.log.Error("worker: unreadable task message; dropped", "subject", msg.Subject(), "err", err)
		_ = msg.TermWithReason("unreadable task message")
		return nil, nil
	}
	// Bookkeeping calls outlive a cancel so that a task that finished is still recorded.
	bg := context.WithoutCancel(ctx)
	job, err := w.job(bg, tm.Job)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			w.log.Error("worker: task of an unknown job; dropped", "job", tm.Job, "task", tm.Task)
			_ = msg.TermWithReason("unknown job")
			return nil, nil
		}
		w.log.Warn("worker: read job", "job", tm.Job, "err", err)
		_ = msg.NakWithDelay(w.o.RetryDelay)
		return nil, nil
	}
	kind, ok := LookupKind(job.Kind)
	if !ok {
		w.log.Error("worker: task of a kind this worker does not know; handed back", "kind", job.Kind)
		_ = msg.NakWithDelay(30 * time.Second)
		return nil, nil
	}
	final := tm.Task == finalTaskID
	outKey := outcomeKey(job.ID, tm.Task)
	if final {
		outKey = finalKey(job.ID)
	}
	if kind.Lease && !final {
		// A lease task woken after its job finished has nothing to do.
		if o, err := w.c.outcome(bg, finalKey(job.ID)); err == nil && o != nil {
			_ = msg.DoubleAck(bg)
			return nil, nil
		}
	}
	attempt := int(meta.NumDelivered)
	// A first delivery has no outcome (Submit does not enqueue tasks that have one); a
	// redelivery may: its earlier delivery finished but was not acked in time.
	if (!kind.Lease && attempt > 1) || final {
		if o, err := w.c.outcome(bg, outKey); err == nil && o != nil {
			// Never run twice: the outcome is there, and counted (it is what is counted).
			if !final {
				w.fin.dirty(job)
			}
			_ = msg.Ack()
			return nil, nil
		}
	}
	maxDeliver := w.maxTask
	if kind.Lease && !final {
		maxDeliver = w.maxLease
	}
	tr := TaskRecord{Task: tm.Task, Index: tm.Index, State: StateRunning, Worker: w.o.ID, Attempt: attempt, Started: time.Now().UTC()}
	// "running" is recorded for tasks that run long enough for wit jobs to see them; short
	// tasks go straight to their outcome (one write less per task).
	running := tr
	showRunning := time.AfterFunc(runningAfter, func() {
		if err := w.c.putStatus(bg, job.ID, running); err != nil {
			w.log.Debug("worker: record start", "err", err)
		}
	})
	key := job.ID + "." + tm.Task
	w.setRunning(key, true)
	defer w.setRunning(key, false)

	task := &Task{Job: job, ID: tm.Task, Index: tm.Index, Input: tm.Input, Attempt: attempt, Worker: w.o.ID, Conn: w.c, AllowPrivate: w.o.AllowPrivate,
		Log: taskLogger(w.log, job.ID, tm.Task), ack: msg.DoubleAck}
	start := time.Now()
	var result any
	if final {
		result, err = w.runFinal(ctx, kind, job)
	} else {
		result, err = runSafely(ctx, kind, task)
	}
	w.ranTask(time.Since(start), err == nil)
	shownRunning := !showRunning.Stop()

	if err != nil && ctx.Err() != nil && !IsPermanent(err) {
		// This worker is stopping: hand the task back at once.
		w.log.Info("worker: stopping; task handed back", "job", job.ID, "task", tm.Task)
		if !task.acked {
			_ = msg.Nak()
		}
		tr.State, tr.Error = StateRetrying, "worker stopped"
		_ = w.c.putStatus(bg, job.ID, tr)
		return nil, nil
	}
	if err == nil && !kind.Lease && !final && !shownRunning {
		// The common case: the outcome is published with others' by publishOutcomes.
		if res, jerr := json.Marshal(result); jerr == nil {
			w.done.Add(1)
			w.log.Debug("worker: task done", "job", job.ID, "task", tm.Task, "took", time.Since(start))
			return nil, &recording{msg: msg, job: job, task: tm.Task, outKey: outKey, acked: task.acked,
				outcome: Outcome{State: StateDone, Result: res, Worker: w.o.ID, Finished: time.Now().UTC(), Index: tm.Index, Attempt: attempt}}
		}
	}
	return func() {
		tr.Finished = time.Now().UTC()
		if err == nil {
			res, jerr := json.Marshal(result)
			if jerr != nil {
				err = Permanent(fmt.Errorf("task result: %w", jerr))
			} else {
				tr.State, tr.Result = StateDone, res
				w.done.Add(1)
				w.log.Debug("worker: task done", "job", job.ID, "task", tm.Task, "took", time.Since(start))
				if !kind.Lease || final {
					// The outcome is recorded before the ack: if the ack is lost, the redelivery
					// finds the outcome and skips the work.
					o := Outcome{State: StateDone, Result: res, Worker: w.o.ID, Finished: tr.Finished, Index: tm.Index, Attempt: attempt}
					if err := w.c.recordOutcome(bg, outKey, o); err != nil {
						w.log.Error("worker: record outcome; the task will be delivered again", "err", err)
						_ = msg.NakWithDelay(w.o.RetryDelay)
						return
					}
				}
				if kind.Lease || shownRunning {
					// Batch tasks' outcomes say "done"; this replaces a "running" shown.
					if err := w.c.putStatus(bg, job.ID, tr); err != nil {
						w.log.Warn("worker: record status", "err", err)
					}
				}
				if !kind.Lease && !final {
					w.fin.dirty(job)
				}
				if !task.acked {
					// Not waited for: a lost ack only means a redelivery, which finds the outcome.
					if err := msg.Ack(); err != nil {
						w.log.Warn("worker: ack (the outcome is recorded; a redelivery is skipped)", "task", tm.Task, "err", err)
					}
				}
				return
			}
		}
		tr.Error = err.Error()
		if IsPermanent(err) || attempt >= maxDeliver {
			tr.State = StateFailed
			w.failed.Add(1)
			w.log.Error("worker: task failed for good", "job", job.ID, "task", tm.Task, "attempt", attempt, "err", err)
			w.giveUp(bg, job, kind, tm.Task, outKey, tr)
			if err := w.afterGiveUp(bg, job, kind, tm.Task, final); err != nil {
				w.log.Warn("worker: final step check; the task will be delivered again", "job", job.ID, "err", err)
				if !task.acked {
					_ = msg.NakWithDelay(w.o.RetryDelay)
				}
				return
			}
			if !task.acked {
				_ = msg.TermWithReason("failed: " + truncate(err.Error(), 200))
			}
			return
		}
		tr.State = StateRetrying
		w.log.Warn("worker: task failed; it will be delivered again", "job", job.ID, "task", tm.Task, "attempt", attempt, "of", maxDeliver, "err", err)
		_ = w.c.putStatus(bg, job.ID, tr)
		if !task.acked {
			_ = msg.NakWithDelay(min(w.o.RetryDelay<<min(attempt-1, 10), 30*time.Second))
		}
	}, nil
}

// runSafely runs a task, turning a panic into a permanent failure of that task.
func runSafely(ctx context.Context, kind *Kind, t *Task) (res any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("task panicked: %v", r))
		}
	}()
	return kind.Run(ctx, t)
}

func (w *worker) runFinal(ctx context.Context, kind *Kind, job *JobRecord) (res any, err error) {
	if kind.Finalize == nil {
		return nil, nil
	}
	outcomes, err := w.c.Outcomes(ctx, job.ID)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("final step panicked: %v", r))
		}
	}()
	return kind.Finalize(ctx, &Final{Job: job, Outcomes: outcomes, Conn: w.c, Log: w.log.With("job", job.ID, "task", finalTaskID)})
}

// giveUp records a task's failure for good.
func (w *worker) giveUp(ctx context.Context, job *JobRecord, kind *Kind, task, outKey string, rec TaskRecord) {
	if err := w.c.putStatus(ctx, job.ID, rec); err != nil {
		w.log.Warn("worker: record status", "err", err)
	}
	o := Outcome{State: StateFailed, Error: rec.Error, Worker: rec.Worker, Finished: time.Now().UTC(), Index: rec.Index, Attempt: rec.Attempt}
	if err := w.c.recordOutcome(ctx, outKey, o); err != nil {
		w.log.Error("worker: record failure", "task", task, "err", err)
	}
}

// afterGiveUp lets the job move on without the failed task: the final step of a batch job, the
// Settle hook of a lease kind.
func (w *worker) afterGiveUp(ctx context.Context, job *JobRecord, kind *Kind, task string, final bool) error {
	switch {
	case final:
		return nil
	case kind.Lease:
		if kind.Settle != nil {
			return kind.Settle(ctx, w.c, job, task)
		}
		return nil
	default:
		w.fin.dirty(job)
		return nil
	}
}

// advisories records tasks whose worker died on every delivery: the server's max-deliveries
// advisory names the message, which is read, recorded as failed and removed from the queue.
func (w *worker) advisories(ctx context.Context) {
	bg := context.WithoutCancel(ctx)
	for ctx.Err() == nil {
		msg := w.pull(ctx, w.advis, 5*time.Second)
		if msg == nil {
			continue
		}
		var adv struct {
			Stream     string `json:"stream"`
			StreamSeq  uint64 `json:"stream_seq"`
			Deliveries uint64 `json:"deliveries"`
		}
		if err := json.Unmarshal(msg.Data(), &adv); err != nil || adv.Stream != TasksStream {
			_ = msg.Ack()
			continue
		}
		raw, err := w.c.tasks.GetMsg(bg, adv.StreamSeq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			_ = msg.Ack()
			continue
		}
		if err != nil {
			w.log.Warn("worker: read task of an advisory", "seq", adv.StreamSeq, "err", err)
			_ = msg.NakWithDelay(time.Second)
			continue
		}
		var tm TaskMsg
		if err := json.Unmarshal(raw.Data, &tm); err == nil && tm.Job != "" {
			if job, err := w.job(bg, tm.Job); err == nil {
				kind, _ := LookupKind(job.Kind)
				final := tm.Task == finalTaskID
				outKey := outcomeKey(job.ID, tm.Task)
				if final {
					outKey = finalKey(job.ID)
				}
				rec := TaskRecord{Task: tm.Task, Index: tm.Index, State: StateFailed, Attempt: int(adv.Deliveries),
					Error:    fmt.Sprintf("delivery limit reached after %d deliveries: the worker running it stopped each time (killed, crashed or too slow to heartbeat)", adv.Deliveries),
					Finished: time.Now().UTC()}
				w.log.Error("worker: task failed for good", "job", job.ID, "task", tm.Task, "err", rec.Error)
				if kind != nil {
					w.giveUp(bg, job, kind, tm.Task, outKey, rec)
					// Before the message is removed, so that a failed check is made again
					// when the advisory comes back.
					if err := w.afterGiveUp(bg, job, kind, tm.Task, final); err != nil {
						w.log.Warn("worker: final step check; retrying", "job", job.ID, "err", err)
						_ = msg.NakWithDelay(time.Second)
						continue
					}
				}
				if err := w.c.tasks.DeleteMsg(bg, adv.StreamSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
					w.log.Warn("worker: remove failed task", "err", err)
					_ = msg.NakWithDelay(time.Second)
					continue
				}
			}
		}
		_ = msg.Ack()
	}
}

func (w *worker) setRunning(key string, on bool) {
	w.runMu.Lock()
	defer w.runMu.Unlock()
	if on {
		w.running[key] = true
	} else {
		delete(w.running, key)
	}
}

// heartbeat keeps this worker's record alive in the wit_workers bucket.
func (w *worker) heartbeat(ctx context.Context, host string) {
	key := sanitizeKey(w.o.ID)
	every := max(w.c.settings.WorkerTTL/3, 100*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		w.runMu.Lock()
		running := make([]string, 0, len(w.running))
		for k := range w.running {
			running = append(running, k)
		}
		w.runMu.Unlock()
		slices.Sort(running)
		rec := WorkerRecord{ID: w.o.ID, Host: host, PID: os.Getpid(), Concurrency: w.o.Concurrency, Started: w.started,
			Seen: time.Now().UTC(), Running: running, Done: w.done.Load(), Failed: w.failed.Load()}
		if data, err := json.Marshal(rec); err == nil {
			if _, err := w.c.workers.Put(context.WithoutCancel(ctx), key, data); err != nil {
				w.log.Debug("worker: heartbeat record", "err", err)
			}
		}
		// Another client may have changed the ack wait (Settings.Apply).
		if ti, err := w.tasks.Info(ctx); err == nil {
			if li, err := w.leases.Info(ctx); err == nil {
				w.ackWait.Store(int64(min(ti.Config.AckWait, li.Config.AckWait)))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Workers lists the workers alive (heard from within the worker TTL).
func (c *Conn) Workers(ctx context.Context) ([]WorkerRecord, error) {
	lister, err := c.workers.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("queue: list workers: %w", err)
	}
	var out []WorkerRecord
	for k := range lister.Keys() {
		e, err := c.workers.Get(ctx, k)
		if err != nil {
			continue
		}
		var r WorkerRecord
		if json.Unmarshal(e.Value(), &r) == nil {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b WorkerRecord) int { return cmpString(a.ID, b.ID) })
	return out, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sanitizeKey keeps the characters a KV key may hold.
func sanitizeKey(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '=') {
			b[i] = '_'
		}
	}
	return string(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// taskLogger is w's logger with the task's job and task ID. Most tasks log nothing, so the two
// attributes are added only to records that are logged (slog.Logger.With formats them at
// once, a cost on every task).
func taskLogger(log *slog.Logger, job, task string) *slog.Logger {
	return slog.New(&taskHandler{inner: log.Handler(), job: job, task: task})
}

type taskHandler struct {
	inner     slog.Handler
	job, task string
}

func (h *taskHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *taskHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.eager().Handle(ctx, r)
}

func (h *taskHandler) WithAttrs(as []slog.Attr) slog.Handler { return h.eager().WithAttrs(as) }
func (h *taskHandler) WithGroup(name string) slog.Handler    { return h.eager().WithGroup(name) }

// eager is the handler With would have made: the attributes before the record's own and
// outside any group.
func (h *taskHandler) eager() slog.Handler {
	return h.inner.WithAttrs([]slog.Attr{slog.String("job", h.job), slog.String("task", h.task)})
}
