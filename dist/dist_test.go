package dist_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/witdata/wit/dist"
	"github.com/witdata/wit/dist/disttest"
	"github.com/witdata/wit/internal/atomicfile"
)

// The tests run workers as separate processes, so that a worker can be killed with SIGKILL like
// a real one: the test binary re-executed (disttest.StartTestWorkers), whose init registers the
// test kind below, which the wit binary does not have.

// writeSpec is the test kind's job spec.
type writeSpec struct {
	Out     string        `yaml:"out"`
	Sleep   time.Duration `yaml:"sleep"`
	Attempt string        `yaml:"attempt"` // makes different jobs of the same inputs
	Empty   bool          `yaml:"empty"`   // the task does nothing (TestQueueOverhead's queue-only figure)
}

type writeInput struct {
	N    int    `json:"n"`
	Fail string `json:"fail,omitempty"` // "always": returns an error; "crash": the worker process exits
}

func init() {
	dist.Register(&dist.Kind{
		Name: "test.write",
		Run: func(ctx context.Context, t *dist.Task) (any, error) {
			var spec writeSpec
			if err := yaml.Unmarshal([]byte(t.Job.Spec), &spec); err != nil {
				return nil, dist.Permanent(err)
			}
			var in writeInput
			if err := t.DecodeInput(&in); err != nil {
				return nil, err
			}
			if spec.Empty {
				return map[string]int{"bytes": 0}, nil
			}
			logLine(spec.Out, "start", in.N)
			switch in.Fail {
			case "always":
				return nil, fmt.Errorf("task %d always fails", in.N)
			case "crash":
				os.Exit(3)
			}
			select {
			case <-time.After(spec.Sleep):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			data := fmt.Appendf(nil, "output of task %d\n", in.N)
			if err := atomicfile.WriteFile(filepath.Join(spec.Out, fmt.Sprintf("%04d.txt", in.N)), data); err != nil {
				return nil, err
			}
			logLine(spec.Out, "commit", in.N)
			return map[string]int{"bytes": len(data)}, nil
		},
		Finalize: func(ctx context.Context, f *dist.Final) (any, error) {
			var spec writeSpec
			if err := yaml.Unmarshal([]byte(f.Job.Spec), &spec); err != nil {
				return nil, dist.Permanent(err)
			}
			sum := map[string]int{}
			for _, o := range f.Outcomes {
				sum[o.State]++
			}
			data, _ := json.Marshal(sum)
			return sum, atomicfile.WriteFile(filepath.Join(spec.Out, "final.json"), data)
		},
	})
}

// logLine appends one event to out/events.log (O_APPEND writes of one line are atomic).
func logLine(out, event string, n int) {
	f, err := os.OpenFile(filepath.Join(out, "events.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "%s %d %d\n", event, n, os.Getpid())
	f.Close()
}

func TestMain(m *testing.M) {
	os.Exit(disttest.Main(m))
}

func submitWrite(t *testing.T, c *dist.Conn, spec writeSpec, inputs []writeInput) *dist.JobRecord {
	t.Helper()
	specText, _ := yaml.Marshal(spec)
	var tasks []json.RawMessage
	for _, in := range inputs {
		b, _ := json.Marshal(in)
		tasks = append(tasks, b)
	}
	job, err := c.Submit(context.Background(), dist.Submission{Kind: "test.write", Spec: string(specText), Tasks: tasks})
	if err != nil {
		t.Fatal(err)
	}
	return job
}

type event struct {
	kind   string
	n, pid int
}

// events reads out/events.log: per task, how often it started and committed.
func events(t *testing.T, out string) (starts, commits map[int]int) {
	starts, commits = map[int]int{}, map[int]int{}
	for _, e := range eventList(t, out) {
		if e.kind == "start" {
			starts[e.n]++
		} else {
			commits[e.n]++
		}
	}
	return starts, commits
}

func eventList(t *testing.T, out string) []event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "events.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out2 []event
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e event
		if _, err := fmt.Sscanf(line, "%s %d %d", &e.kind, &e.n, &e.pid); err != nil {
			t.Fatalf("events.log line %q: %v", line, err)
		}
		out2 = append(out2, e)
	}
	return out2
}

func checkOutputs(t *testing.T, out string, n int) {
	t.Helper()
	for i := range n {
		data, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("%04d.txt", i)))
		if err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
		if want := fmt.Sprintf("output of task %d\n", i); string(data) != want {
			t.Fatalf("task %d wrote %q", i, data)
		}
	}
	left, _ := filepath.Glob(filepath.Join(out, "*.tmp-*"))
	if len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func inputs(n int) []writeInput {
	out := make([]writeInput, n)
	for i := range out {
		out[i] = writeInput{N: i}
	}
	return out
}

// TestKillWorker: a worker killed with SIGKILL in the middle of its tasks; the job completes,
// every output is there once with its content, and only tasks that were in flight on the killed
// worker ran twice.
func TestKillWorker(t *testing.T) {
	srv := disttest.StartServer(t, t.TempDir(), 0)
	c := disttest.Connect(t, srv.ClientURL())
	out := t.TempDir()
	const n = 24
	job := submitWrite(t, c, writeSpec{Out: out, Sleep: 150 * time.Millisecond}, inputs(n))
	// Submitting again is harmless.
	if again := submitWrite(t, c, writeSpec{Out: out, Sleep: 150 * time.Millisecond}, inputs(n)); again.ID != job.ID {
		t.Fatalf("second submission made job %s, want %s", again.ID, job.ID)
	}
	pool := disttest.StartTestWorkers(t, srv.ClientURL(), 2, 2)
	// Kill worker 0 once some tasks are done and it is in the middle of others.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if p, _ := c.JobProgress(context.Background(), job.ID); p.Outcomes >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	killed := pool.Kill(0)
	p := disttest.Wait(t, c, job.ID, 60*time.Second)
	if p.Final == nil || p.Final.State != dist.StateDone {
		t.Fatalf("final step: %+v", p.Final)
	}
	checkOutputs(t, out, n)
	var final map[string]int
	data, _ := os.ReadFile(filepath.Join(out, "final.json"))
	if err := json.Unmarshal(data, &final); err != nil || final[dist.StateDone] != n {
		t.Fatalf("final.json %s: want %d done", data, n)
	}
	starts, commits := events(t, out)
	twice := 0
	for i := range n {
		if commits[i] < 1 {
			t.Errorf("task %d never committed", i)
		}
		if starts[i] > 1 {
			twice++
		}
	}
	// Two slots on the killed worker: at most two tasks were cut off and redelivered.
	if twice > 2 {
		t.Errorf("%d tasks ran more than once (starts %v)", twice, starts)
	}
	// The kill did cut tasks off: started by the killed worker, committed only by another.
	cutOff := map[int]bool{}
	for _, e := range eventList(t, out) {
		if e.pid == killed {
			cutOff[e.n] = e.kind == "start"
		}
	}
	redone := 0
	for n, cut := range cutOff {
		if !cut {
			continue
		}
		redone++
		for _, e := range eventList(t, out) {
			if e.n == n && e.kind == "commit" && e.pid == killed {
				t.Errorf("task %d committed by the killed worker", n)
			}
		}
	}
	if redone == 0 {
		t.Errorf("the killed worker (pid %d) had no task in flight", killed)
	}
	st, err := c.Status(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if st.Done != n || st.Failed != 0 || !st.Complete {
		t.Errorf("status: %+v", st)
	}
}

// TestServerRestart: the queue server stops in the middle of a job and starts again on the same
// store; the workers reconnect and the job completes.
func TestServerRestart(t *testing.T) {
	store := t.TempDir()
	port := disttest.FreePort(t)
	srv := disttest.StartServer(t, store, port)
	url := srv.ClientURL()
	c := disttest.Connect(t, url)
	out := t.TempDir()
	const n = 30
	job := submitWrite(t, c, writeSpec{Out: out, Sleep: 100 * time.Millisecond}, inputs(n))
	pool := disttest.StartTestWorkers(t, url, 2, 2)
	for {
		if p, _ := c.JobProgress(context.Background(), job.ID); p.Outcomes >= 6 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.Shutdown()
	time.Sleep(500 * time.Millisecond)
	disttest.StartServer(t, store, port)
	p := disttest.Wait(t, c, job.ID, 60*time.Second)
	if p.Final == nil || p.Final.State != dist.StateDone {
		t.Fatalf("final step: %+v", p.Final)
	}
	checkOutputs(t, out, n)
	pool.Close() // before the server's cleanup
}

// TestPoisonTasks: a task that always fails and one that kills its worker each time end after
// the delivery limit and are reported with their error; the rest of the job completes.
func TestPoisonTasks(t *testing.T) {
	srv := disttest.StartServer(t, t.TempDir(), 0)
	c := disttest.Connect(t, srv.ClientURL())
	out := t.TempDir()
	in := inputs(10)
	in[3].Fail = "always"
	in[7].Fail = "crash"
	job := submitWrite(t, c, writeSpec{Out: out, Sleep: 20 * time.Millisecond}, in)
	disttest.StartTestWorkers(t, srv.ClientURL(), 2, 1)
	p := disttest.Wait(t, c, job.ID, 90*time.Second)
	if p.Final == nil || p.Final.State != dist.StateDone {
		t.Fatalf("final step: %+v", p.Final)
	}
	st, err := c.Status(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if st.Done != 8 || st.Failed != 2 {
		t.Fatalf("done %d failed %d, want 8 and 2", st.Done, st.Failed)
	}
	reasons := map[int]string{}
	for _, f := range st.Failures {
		reasons[f.Index] = f.Error
	}
	if !strings.Contains(reasons[3], "always fails") {
		t.Errorf("task 3 error %q", reasons[3])
	}
	if !strings.Contains(reasons[7], "delivery limit") {
		t.Errorf("task 7 error %q", reasons[7])
	}
	starts, _ := events(t, out)
	if starts[3] != disttest.Settings.MaxDeliver || starts[7] != disttest.Settings.MaxDeliver {
		t.Errorf("poison tasks started %d and %d times, want %d", starts[3], starts[7], disttest.Settings.MaxDeliver)
	}
	var final map[string]int
	data, _ := os.ReadFile(filepath.Join(out, "final.json"))
	if err := json.Unmarshal(data, &final); err != nil || final[dist.StateDone] != 8 || final[dist.StateFailed] != 2 {
		t.Fatalf("final.json %s", data)
	}
	// The poison messages are gone from the queue.
	for _, task := range []string{dist.ID(job.ID, `{"n":3,"fail":"always"}`), dist.ID(job.ID, `{"n":7,"fail":"crash"}`)} {
		if q, err := c.TaskQueued(context.Background(), job, task); err != nil || q {
			t.Errorf("task %s still queued (%v)", task, err)
		}
	}
}

// A client leaves the queue's ack wait and delivery limit alone unless told to apply its own.
func TestSettingsApply(t *testing.T) {
	srv := disttest.StartServer(t, t.TempDir(), 0)
	ackWait := func(c *dist.Conn) time.Duration {
		cons, err := c.JS.Consumer(context.Background(), dist.TasksStream, dist.TaskConsumer)
		if err != nil {
			t.Fatal(err)
		}
		return cons.CachedInfo().Config.AckWait
	}
	ctx := context.Background()
	first, err := dist.Connect(ctx, srv.ClientURL(), dist.Settings{AckWait: 3 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	plain, err := dist.Connect(ctx, srv.ClientURL(), dist.Settings{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if got := ackWait(plain); got != 3*time.Second {
		t.Errorf("a client with defaults changed the ack wait to %s", got)
	}
	apply, err := dist.Connect(ctx, srv.ClientURL(), dist.Settings{AckWait: 7 * time.Second, Apply: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer apply.Close()
	if got := ackWait(apply); got != 7*time.Second {
		t.Errorf("ack wait %s after Apply, want 7s", got)
	}
}
