package stages

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/witdata/wit/cc"
	"github.com/witdata/wit/crawl"
	"github.com/witdata/wit/demo"
	"github.com/witdata/wit/dist/disttest"
	"github.com/witdata/wit/shards"
)

// ccArchive archives a crawl of the demo site as several small WARC files and returns their
// paths.
func ccArchive(t *testing.T, dir string) []string {
	t.Helper()
	site, err := demo.NewSite(8)
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
	cfg := crawl.DefaultConfig()
	cfg.Seeds, cfg.Out, cfg.State = seeds, filepath.Join(dir, "pairs"), filepath.Join(dir, "state")
	cfg.WARCOut, cfg.WARCFileBytes = archive, 20_000
	cfg.AllowPrivate, cfg.Delay, cfg.MaxDepth = true, 0, -1
	if _, err := crawl.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(archive)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".warc.gz") {
			paths = append(paths, filepath.Join(archive, e.Name()))
		}
	}
	if len(paths) < 3 {
		t.Fatalf("%d WARC files, want several", len(paths))
	}
	return paths
}

// serveSlowly serves the files of dir over HTTP, 4 KiB every 20 ms, so that a kill or a queue
// restart finds a task in the middle of its input; each request's path is sent on requests
// (when there is room).
func serveSlowly(t *testing.T, dir string) (url string, requests <-chan string) {
	reqs := make(chan string, 64)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := os.ReadFile(filepath.Join(dir, filepath.Base(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		select {
		case reqs <- r.URL.Path:
		default:
		}
		for i := 0; i < len(data); i += 4096 {
			w.Write(data[i:min(i+4096, len(data))])
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
	}))
	t.Cleanup(files.Close)
	return files.URL, reqs
}

// ccPairFiles lists a cc output's pair files: name, rows and a digest of their contents.
func ccPairFiles(t *testing.T, d string) []string {
	t.Helper()
	fs, err := shards.ListFiles(d)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fs {
		var rows []string
		for rec, err := range shards.ReadFile(f, nil) {
			if err != nil {
				t.Fatal(err)
			}
			ps, err := shards.Pairs(rec)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				rows = append(rows, p.PageURL+" "+p.ImageURL+" "+p.Caption)
			}
		}
		out = append(out, fmt.Sprintf("%s %d %x", filepath.Base(f), len(rows), strings.Join(rows, "\n")))
	}
	return out
}

// ccSingle runs cc.Run over local files: the output the distributed runs must equal.
func ccSingle(t *testing.T, out string, paths []string) *cc.Stats {
	t.Helper()
	ctx := context.Background()
	opts := cc.Options{Out: out, Workers: 1, MaxBody: 5 << 20, HTTPTimeout: time.Minute, Format: cc.FormatAuto}
	opts.Open = cc.NewOpener(true, 1, time.Minute)
	want, err := cc.Run(ctx, opts, cc.Inputs(ctx, paths, "", opts.Open))
	if err != nil {
		t.Fatal(err)
	}
	return want
}

func readCCStats(t *testing.T, out string) cc.Stats {
	t.Helper()
	var got cc.Stats
	data, err := os.ReadFile(filepath.Join(out, cc.StatsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	return got
}

// slowCCInputs archives a crawl of the demo site as several WARC files in a temporary dir, serves
// them slowly (base URL, one request signal per request) and runs cc.Run over them into
// dir/single, whose stats are want.
func slowCCInputs(t *testing.T) (dir, base string, urls []string, requests <-chan string, single string, want *cc.Stats) {
	dir = t.TempDir()
	paths := ccArchive(t, dir)
	base, requests = serveSlowly(t, filepath.Dir(paths[0]))
	for _, p := range paths {
		urls = append(urls, base+"/"+filepath.Base(p))
	}
	single = filepath.Join(dir, "single")
	return dir, base, urls, requests, single, ccSingle(t, single, paths)
}

// TestDistributedCCSurvivesKilledWorkers archives a crawl of the demo site as several WARC files,
// serves them slowly over HTTP and runs them as a cc job; both workers are killed while a file is
// being read. The pair files equal those of a single-machine cc.Run over the same files, and the
// summed stats count every file once.
func TestDistributedCCSurvivesKilledWorkers(t *testing.T) {
	ctx := context.Background()
	dir, _, urls, requests, single, want := slowCCInputs(t)

	srv := disttest.StartServer(t, t.TempDir(), 0)
	c := disttest.Connect(t, srv.ClientURL())
	multi := filepath.Join(dir, "multi")
	job, err := SubmitCC(ctx, c, cc.Options{Out: multi, MaxBody: 5 << 20, HTTPTimeout: time.Minute, Format: cc.FormatAuto, AllowPrivate: true}, urls, "")
	if err != nil {
		t.Fatal(err)
	}
	if job.Tasks != len(urls) {
		t.Fatalf("%d tasks, want %d", job.Tasks, len(urls))
	}
	workers := disttest.StartWorkers(t, srv.ClientURL(), 2, 1)
	<-requests
	time.Sleep(30 * time.Millisecond)
	workers.Kill(0)
	workers.Kill(1)
	p := disttest.Wait(t, c, job.ID, 90*time.Second)
	if p.Final == nil || p.Final.State != "done" {
		t.Fatalf("final step: %+v", p.Final)
	}
	outcomes, err := c.Outcomes(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	redelivered := 0
	for _, o := range outcomes {
		if o.Attempt > 1 {
			redelivered++
		}
	}
	if redelivered == 0 {
		t.Error("no input was cut off by the kill")
	}
	if w, g := ccPairFiles(t, single), ccPairFiles(t, multi); len(w) == 0 || !slices.Equal(w, g) {
		t.Fatalf("pair files: single %d, distributed %d, or different contents", len(w), len(g))
	}
	got := readCCStats(t, multi)
	if got.Files != want.Files || got.Records != want.Records || got.Pairs != want.Pairs || got.FilesFailed != 0 {
		t.Fatalf("stats: single files=%d records=%d pairs=%d; distributed files=%d records=%d pairs=%d failed=%d",
			want.Files, want.Records, want.Pairs, got.Files, got.Records, got.Pairs, got.FilesFailed)
	}
}

// TestDistributedCCQueueRestartAndPoison runs a cc job on wit workers whose last input always
// fails (its URL answers 404) and stops the queue server while inputs are being read, starting
// it again on the same store: the job completes; the failing input is reported, with its error,
// after the delivery limit; the other inputs' pair files and counts equal cc.Run's.
func TestDistributedCCQueueRestartAndPoison(t *testing.T) {
	ctx := context.Background()
	dir, base, urls, requests, single, want := slowCCInputs(t)
	good := len(urls)
	urls = append(urls, base+"/missing.warc.gz")

	store, port := t.TempDir(), disttest.FreePort(t)
	srv := disttest.StartServer(t, store, port)
	c := disttest.Connect(t, srv.ClientURL())
	multi := filepath.Join(dir, "multi")
	job, err := SubmitCC(ctx, c, cc.Options{Out: multi, MaxBody: 5 << 20, HTTPTimeout: time.Minute, Format: cc.FormatAuto, AllowPrivate: true}, urls, "")
	if err != nil {
		t.Fatal(err)
	}
	workers := disttest.StartWorkers(t, srv.ClientURL(), 2, 1)
	<-requests
	srv.Shutdown()
	time.Sleep(300 * time.Millisecond)
	disttest.StartServer(t, store, port)
	p := disttest.Wait(t, c, job.ID, 90*time.Second)
	if p.Final == nil || p.Final.State != "done" {
		t.Fatalf("final step: %+v", p.Final)
	}
	workers.Close() // before the server's cleanup
	st, err := c.Status(ctx, p.Job)
	if err != nil {
		t.Fatal(err)
	}
	if st.Done != good || st.Failed != 1 || len(st.Failures) != 1 || !strings.Contains(st.Failures[0].Error, "404") {
		t.Fatalf("done %d, failed %d (%+v); want %d and the 404 input", st.Done, st.Failed, st.Failures, good)
	}
	if st.Failures[0].Attempt != disttest.Settings.MaxDeliver {
		t.Errorf("the failing input was given up after %d deliveries, want %d", st.Failures[0].Attempt, disttest.Settings.MaxDeliver)
	}
	if w, g := ccPairFiles(t, single), ccPairFiles(t, multi); len(w) == 0 || !slices.Equal(w, g) {
		t.Fatalf("pair files: single %d, distributed %d, or different contents", len(w), len(g))
	}
	got := readCCStats(t, multi)
	if got.Files != want.Files || got.Records != want.Records || got.Pairs != want.Pairs || got.FilesFailed != 1 || len(got.Failed) != 1 {
		t.Fatalf("stats: single files=%d records=%d pairs=%d; distributed files=%d records=%d pairs=%d failed=%d %v",
			want.Files, want.Records, want.Pairs, got.Files, got.Records, got.Pairs, got.FilesFailed, got.Failed)
	}
}
