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

// TestDistributedCCSurvivesKilledWorkers archives a crawl of the demo site as several WARC files,
// serves them slowly over HTTP and runs them as a cc job; both workers are killed while a file is
// being read. The pair files equal those of a single-machine cc.Run over the same files, and the
// summed stats count every file once.
func TestDistributedCCSurvivesKilledWorkers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
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
	if _, err := crawl.Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(archive)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".warc.gz") {
			names = append(names, e.Name())
		}
	}
	if len(names) < 3 {
		t.Fatalf("%d WARC files, want several", len(names))
	}
	// Each file is sent slowly, so that a kill finds a task in the middle of its input.
	requests := make(chan string, 64)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := os.ReadFile(filepath.Join(archive, filepath.Base(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		select {
		case requests <- r.URL.Path:
		default:
		}
		for i := 0; i < len(data); i += 4096 {
			w.Write(data[i:min(i+4096, len(data))])
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
	}))
	defer files.Close()
	var urls, paths []string
	for _, n := range names {
		urls = append(urls, files.URL+"/"+n)
		paths = append(paths, filepath.Join(archive, n))
	}

	single := filepath.Join(dir, "single")
	opts := cc.Options{Out: single, Workers: 1, MaxBody: 5 << 20, HTTPTimeout: time.Minute, Format: cc.FormatAuto}
	opts.Open = cc.NewOpener(true, 1, time.Minute)
	want, err := cc.Run(ctx, opts, cc.Inputs(ctx, paths, "", opts.Open))
	if err != nil {
		t.Fatal(err)
	}

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

	pairFiles := func(d string) []string {
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
	if w, g := pairFiles(single), pairFiles(multi); len(w) == 0 || !slices.Equal(w, g) {
		t.Fatalf("pair files: single %d, distributed %d, or different contents", len(w), len(g))
	}
	var got cc.Stats
	data, err := os.ReadFile(filepath.Join(multi, cc.StatsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Files != want.Files || got.Records != want.Records || got.Pairs != want.Pairs || got.FilesFailed != 0 {
		t.Fatalf("stats: single files=%d records=%d pairs=%d; distributed files=%d records=%d pairs=%d failed=%d",
			want.Files, want.Records, want.Pairs, got.Files, got.Records, got.Pairs, got.FilesFailed)
	}
}
