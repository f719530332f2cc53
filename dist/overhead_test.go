package dist

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestQueueOverhead (WIT_DIST_BENCH=1) runs the same 10,000 small tasks (wait
// WIT_DIST_BENCH_SLEEP, then write a small file atomically: write, fsync, rename, fsync the
// directory) once directly with 4 goroutines and
// once as a job on one worker process with 4 slots, and reports the throughput of both. Not
// run in CI: it measures, it does not check.
func TestQueueOverhead(t *testing.T) {
	if os.Getenv("WIT_DIST_BENCH") == "" {
		t.Skip("set WIT_DIST_BENCH=1 to measure")
	}
	n, _ := strconv.Atoi(os.Getenv("WIT_DIST_BENCH_TASKS"))
	if n <= 0 {
		n = 10000
	}
	const slots = 4
	sleep, _ := time.ParseDuration(os.Getenv("WIT_DIST_BENCH_SLEEP")) // the task's own wait (e.g. a download), default none
	kind, _ := LookupKind("test.write")

	// Directly: the same Run function, the same concurrency.
	out := t.TempDir()
	spec, _ := yaml.Marshal(writeSpec{Out: out, Sleep: sleep})
	job := &JobRecord{ID: "direct", Spec: string(spec)}
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range slots {
		wg.Go(func() {
			for i := range next {
				in, _ := json.Marshal(writeInput{N: i})
				if _, err := kind.Run(context.Background(), &Task{Job: job, Input: in}); err != nil {
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
	direct := time.Since(start)

	// On the queue: one worker process.
	srv := startServer(t, t.TempDir(), 0)
	c := connect(t, srv.ClientURL())
	out = t.TempDir()
	start = time.Now()
	jobRec := submitWrite(t, c, writeSpec{Out: out, Sleep: sleep, Attempt: "bench"}, inputs(n))
	submitted := time.Since(start)
	startWorkers(t, srv.ClientURL(), 1, slots)
	p := waitJob(t, c, jobRec.ID, 30*time.Minute)
	queued := time.Since(start)
	if p.Final == nil || p.Final.State != StateDone {
		t.Fatalf("final: %+v", p.Final)
	}
	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	t.Logf("%d tasks (wait %s + atomic file write), %d slots: direct %.0f tasks/s (%s); queue %.0f tasks/s (%s, of which submitting %s): %.0f%% of direct",
		n, sleep, slots, rate(direct), direct.Round(time.Millisecond), rate(queued), queued.Round(time.Millisecond),
		submitted.Round(time.Millisecond), 100*direct.Seconds()/queued.Seconds())
	fmt.Printf("queue overhead: direct %.0f/s, queue %.0f/s (%.0f%%)\n", rate(direct), rate(queued), 100*direct.Seconds()/queued.Seconds())
}
