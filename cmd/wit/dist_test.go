package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/witdata/wit/dist"
	"github.com/witdata/wit/fetch"
	"github.com/witdata/wit/shards"
)

// The submit commands take the single-machine commands' flags, plus --queue and --wait.
func TestSubmitCommandsReuseStageFlags(t *testing.T) {
	for _, tt := range []struct {
		cmd   string
		flags []string
	}{
		{"fetch", []string{"in", "out", "samples-per-shard", "max-bytes", "resize-mode", "slice-size"}},
		{"crawl", []string{"seeds", "out", "state", "per-host", "delay", "scope", "partitions"}},
		{"filter", []string{"in", "out", "queries", "balance", "seed", "min-chars", "partitions"}},
		{"build", []string{"seeds", "out", "queries", "balance", "per-host", "partitions", "filter-partitions"}},
	} {
		sub, _, err := newSubmitCmd().Find([]string{tt.cmd})
		if err != nil || sub.Name() != tt.cmd {
			t.Fatalf("submit %s: %v", tt.cmd, err)
		}
		for _, name := range append(tt.flags, "queue", "wait", "ack-wait", "max-deliver") {
			if f := sub.Flags().Lookup(name); f == nil || f.Usage == "" {
				t.Errorf("submit %s: flag --%s missing or undocumented", tt.cmd, name)
			}
		}
	}
}

// TestSubmitFetchEndToEnd runs "wit submit fetch --wait" against an in-process queue server and
// worker: the flags reach the workers through the job's spec.
func TestSubmitFetchEndToEnd(t *testing.T) {
	dir := t.TempDir()
	src, err := filepath.Abs("../../fetch/testdata/video-001.jpeg")
	if err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte(src+"\nmissing.jpg\n"), 0o644)
	srv, err := dist.StartServer(dist.ServerOptions{Listen: "127.0.0.1:0", StoreDir: filepath.Join(dir, "queue")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := dist.Connect(ctx, srv.ClientURL(), dist.Settings{AckWait: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		done <- dist.RunWorker(ctx, c, dist.WorkerOptions{Concurrency: 2, Poll: 100 * time.Millisecond})
	}()

	out := filepath.Join(dir, "shards")
	cmd := newSubmitCmd()
	cmd.SetArgs([]string{"fetch", "--queue", srv.ClientURL(), "--in", list, "--out", out, "--size", "48", "--slice-size", "1", "--local-files", "--wait"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	m, err := shards.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.TotalCount != 1 {
		t.Fatalf("manifest: %d samples, want 1", m.TotalCount)
	}
	var st fetch.Stats
	if data, err := os.ReadFile(filepath.Join(out, fetch.StatsFile)); err != nil || json.Unmarshal(data, &st) != nil {
		t.Fatalf("stats.json: %v", err)
	}
	if st.Successes != 1 || st.Failed != 1 || st.Input != list {
		t.Errorf("stats: %+v", st)
	}
	for rec, err := range shards.ReadFile(filepath.Join(out, m.Shards[0].File), nil) {
		if err != nil {
			t.Fatal(err)
		}
		s, err := shards.SampleAt(rec, 0)
		if err != nil {
			t.Fatal(err)
		}
		if s.Width != 48 { // --size reached the worker
			t.Errorf("sample width %d, want 48", s.Width)
		}
	}
	cancel()
	<-done
}
