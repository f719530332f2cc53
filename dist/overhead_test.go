package dist_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/witdata/wit/dist"
	"github.com/witdata/wit/dist/disttest"
)

// TestQueueOverhead (WIT_DIST_BENCH=1) runs the same 10,000 small tasks (wait
// WIT_DIST_BENCH_SLEEP, then write a small file atomically: write, fsync, rename, fsync the
// directory) directly with 4 goroutines and as a job on one worker process with 4 slots (started
// before the job: the time counts from the submission to the job's completion, final step
// included), and reports the throughput and CPU time of both. WIT_DIST_BENCH_EMPTY makes the
// tasks do nothing (no wait, no file), which measures the queue's own cost per task.
// WIT_DIST_BENCH_ROUNDS alternates the two that many times and reports the median ratio, so
// that a shared machine's load hits both alike. Not run in CI: it measures, it does not check.
func TestQueueOverhead(t *testing.T) {
	if os.Getenv("WIT_DIST_BENCH") == "" {
		t.Skip("set WIT_DIST_BENCH=1 to measure")
	}
	n, _ := strconv.Atoi(os.Getenv("WIT_DIST_BENCH_TASKS"))
	if n <= 0 {
		n = 10000
	}
	rounds, _ := strconv.Atoi(os.Getenv("WIT_DIST_BENCH_ROUNDS"))
	rounds = max(rounds, 1)
	const slots = 4
	sleep, _ := time.ParseDuration(os.Getenv("WIT_DIST_BENCH_SLEEP")) // the task's own wait (e.g. a download), default none
	empty := os.Getenv("WIT_DIST_BENCH_EMPTY") != ""                  // tasks that do nothing: the queue's own cost
	what := fmt.Sprintf("wait %s + atomic file write", sleep)
	if empty {
		what = "empty"
	}
	kind, _ := dist.LookupKind("test.write")

	// Directly: the same Run function, the same concurrency.
	direct := func() (time.Duration, time.Duration) {
		out := t.TempDir()
		cpu := selfCPU()
		spec, _ := yaml.Marshal(writeSpec{Out: out, Sleep: sleep, Empty: empty})
		job := &dist.JobRecord{ID: "direct", Spec: string(spec)}
		start := time.Now()
		var wg sync.WaitGroup
		next := make(chan int)
		for range slots {
			wg.Go(func() {
				for i := range next {
					in, _ := json.Marshal(writeInput{N: i})
					if _, err := kind.Run(context.Background(), &dist.Task{Job: job, Input: in}); err != nil {
						t.Error(err)
					}
				}
			})
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
		return time.Since(start), selfCPU() - cpu
	}

	// On the queue: one worker process, up before the job is submitted (as workers are).
	store := t.TempDir()
	if d := os.Getenv("WIT_DIST_BENCH_STORE"); d != "" {
		store, _ = os.MkdirTemp(d, "store")
		defer os.RemoveAll(store)
	}
	srv := disttest.StartServer(t, store, 0)
	c := disttest.Connect(t, srv.ClientURL())
	pool := disttest.StartTestWorkers(t, srv.ClientURL(), 1, slots)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if ws, _ := c.Workers(context.Background()); len(ws) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker did not start")
		}
	}
	// The CPU time the queue run takes: this process (the server, the submission) and the worker.
	queued := func(round int) (total, submitting, cpu, workerCPU time.Duration, tail string) {
		out := t.TempDir()
		cpu0, wcpu0 := selfCPU(), processCPU(t, pool.PID(0))
		start := time.Now()
		job := submitWrite(t, c, writeSpec{Out: out, Sleep: sleep, Empty: empty, Attempt: fmt.Sprint("bench", round)}, inputs(n))
		submitting = time.Since(start)
		p := disttest.Wait(t, c, job.ID, 30*time.Minute)
		total = time.Since(start)
		if p.Final == nil || p.Final.State != dist.StateDone {
			t.Fatalf("final: %+v", p.Final)
		}
		cpu, workerCPU = selfCPU()-cpu0, processCPU(t, pool.PID(0))-wcpu0
		// Where the end of the run goes: the last task's outcome, the final step's, the wait.
		outcomes, err := c.Outcomes(context.Background(), job.ID)
		if err != nil {
			t.Fatal(err)
		}
		var last time.Time
		for _, o := range outcomes {
			if o.Finished.After(last) {
				last = o.Finished
			}
		}
		end := start.Add(total)
		tail = fmt.Sprintf("last task finished at %s, final step %s later, seen complete %s after that",
			last.Sub(start).Round(time.Millisecond), p.Final.Finished.Sub(last).Round(time.Millisecond), end.Sub(p.Final.Finished).Round(time.Millisecond))
		return total, submitting, cpu, workerCPU, tail
	}

	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	var ratios []float64
	for r := range rounds {
		d, dcpu := direct()
		q, sub, qcpu, wcpu, tail := queued(r)
		ratio := 100 * d.Seconds() / q.Seconds()
		ratios = append(ratios, ratio)
		perTask := func(d time.Duration) time.Duration { return (d / time.Duration(n)).Round(time.Microsecond) }
		t.Logf("%d tasks (%s), %d slots: direct %.0f tasks/s (%s; CPU a task %s); queue %.0f tasks/s (%s, of which submitting %s; CPU a task: worker %s, server and submitter %s): %.0f%% of direct; %s",
			n, what, slots, rate(d), d.Round(time.Millisecond), perTask(dcpu), rate(q), q.Round(time.Millisecond), sub.Round(time.Millisecond), perTask(wcpu), perTask(qcpu), ratio, tail)
	}
	slices.Sort(ratios)
	fmt.Printf("queue overhead (%s): queue throughput %.0f%% of direct (median of %d rounds; %.0f%%..%.0f%%)\n",
		what, ratios[len(ratios)/2], rounds, ratios[0], ratios[len(ratios)-1])
}

// selfCPU is the CPU time (user and system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU is the CPU time (user and system) process pid has used, from /proc (Linux).
func processCPU(t *testing.T, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Logf("worker CPU not measured: %v", err)
		return 0
	}
	// Fields after the command name (which ends at the last ')'): utime and stime are the
	// 12th and 13th, in clock ticks (100 a second).
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
