package dist

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"
)

// TestCountOutcomes: a job's count is the number of its tasks with an outcome: a second outcome
// of a task (another delivery) is not counted, nor the final step's, the task states, the
// submission mark or other jobs' outcomes; the count survives the removal of its consumer. The
// server counts an outcome just after confirming it, so a count may lag, never exceed.
func TestCountOutcomes(t *testing.T) {
	srv, err := StartServer(ServerOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	ctx := context.Background()
	c, err := Connect(ctx, srv.ClientURL(), Settings{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	const job, other = "00000000000000aa", "00000000000000bb"
	record := func(key string) {
		t.Helper()
		if err := c.recordOutcome(ctx, key, Outcome{State: StateDone, Finished: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(job string, want int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			n, err := c.countOutcomes(ctx, job)
			if err != nil {
				t.Fatal(err)
			}
			if n > want {
				t.Fatalf("job %s: %d outcomes counted, want %d", job, n, want)
			}
			if n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %s: %d outcomes counted after 5 s, want %d", job, n, want)
			}
		}
	}
	count(job, 0)
	for i := range 5 {
		record(outcomeKey(job, fmt.Sprintf("t%d", i)))
	}
	record(outcomeKey(job, "t1")) // a redelivery's outcome: refused, the first is kept
	record(finalKey(job))
	record(submittedKey(job))
	if _, err := c.records.Put(ctx, statusKey(job, "t5"), []byte(`{"state":"running"}`)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		record(outcomeKey(other, fmt.Sprintf("t%d", i)))
	}
	count(job, 5)
	count(other, 3)

	// The server removes an idle counting consumer; the next count makes it again.
	if err := c.JS.DeleteConsumer(ctx, "KV_"+RecordsBucket, countConsumer(job, 1).Durable); err != nil {
		t.Fatal(err)
	}
	count(job, 5)
	record(outcomeKey(job, "t9"))
	count(job, 6)
}
