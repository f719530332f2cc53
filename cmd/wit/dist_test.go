package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/witdata/wit/cc"
	"github.com/witdata/wit/demo"
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
		{"fetch", []string{"in", "out", "samples-per-shard", "max-bytes", "resize-mode", "partitions"}},
		{"cc", []string{"in", "out", "base", "state", "format", "max-body"}},
		{"crawl", []string{"seeds", "out", "state", "per-host", "delay", "scope", "partitions"}},
		{"filter", []string{"in", "out", "queries", "balance", "seed", "min-chars", "partitions"}},
		{"build", []string{"seeds", "out", "queries", "balance", "per-host", "partitions", "filter-partitions", "fetch-partitions"}},
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
	cmd.SetArgs([]string{"fetch", "--queue", srv.ClientURL(), "--in", list, "--out", out, "--size", "48", "--partitions", "2", "--local-files", "--wait"})
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

// TestSubmitCCEndToEnd archives a crawl with --warc-out (several WARC files), then runs
// "wit submit cc --wait" on the archive with an in-process queue and worker: the pair files and
// counts equal those of "wit cc" on the same archive.
func TestSubmitCCEndToEnd(t *testing.T) {
	dir := t.TempDir()
	site, err := demo.NewSite(6)
	if err != nil {
		t.Fatal(err)
	}
	web, base, err := demo.Serve(site)
	if err != nil {
		t.Fatal(err)
	}
	defer web.Close()
	seeds := filepath.Join(dir, "seeds.txt")
	os.WriteFile(seeds, []byte(base+"/\n"), 0o644)
	archive := filepath.Join(dir, "warc")
	runCLI(t, newCrawlCmd(), "--seeds", seeds, "--out", filepath.Join(dir, "pairs"), "--state", filepath.Join(dir, "state"),
		"--warc-out", archive, "--warc-file-bytes", "20000", "--allow-private", "--delay", "0", "--max-depth", "-1", "--quiet")
	single := filepath.Join(dir, "single")
	runCLI(t, newCCCmd(), "--in", archive, "--out", single, "--quiet")

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
	go dist.RunWorker(ctx, c, dist.WorkerOptions{Concurrency: 2, Poll: 100 * time.Millisecond})
	distributed := filepath.Join(dir, "distributed")
	cmd := newSubmitCmd()
	cmd.SetArgs([]string{"cc", "--queue", srv.ClientURL(), "--in", archive, "--out", distributed, "--wait"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	files := func(d string) []string {
		t.Helper()
		fs, err := shards.ListFiles(d)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range fs {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rec, err := range shards.ReadFile(f, nil) {
				if err != nil {
					t.Fatal(err)
				}
				n += int(rec.NumRows())
			}
			out = append(out, fmt.Sprintf("%s %d rows %d bytes", filepath.Base(f), n, len(data)))
		}
		return out
	}
	want, got := files(single), files(distributed)
	if len(want) < 2 || !slices.Equal(got, want) {
		t.Fatalf("wit submit cc wrote %v, wit cc %v", got, want)
	}
	read := func(d string) cc.Stats {
		var st cc.Stats
		data, err := os.ReadFile(filepath.Join(d, cc.StatsFile))
		if err != nil || json.Unmarshal(data, &st) != nil {
			t.Fatalf("stats in %s: %v", d, err)
		}
		return st
	}
	if s, d := read(single), read(distributed); s.Files != d.Files || s.Records != d.Records || s.Pairs != d.Pairs || d.FilesFailed != 0 {
		t.Fatalf("stats: wit cc %+v\nsubmit cc %+v", s, d)
	}
}
