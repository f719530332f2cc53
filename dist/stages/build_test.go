package stages

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/witdata/wit/build"
	"github.com/witdata/wit/crawl"
	"github.com/witdata/wit/dist/disttest"
	"github.com/witdata/wit/fetch"
	"github.com/witdata/wit/filter"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// photoSite: hosts on 127.0.0.(50+i); page j links to page j+1 and to page j of the next host,
// and shows two images whose alt texts name query entries (dog on every page: a head entry).
func photoSite(t *testing.T, hosts, pages int) []string {
	var urls []string
	for i := range hosts {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", 50+i))
		if err != nil {
			t.Skipf("no loopback address: %v", err)
		}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if name, ok := strings.CutPrefix(r.URL.Path, "/img/"); ok {
				n, _ := strconv.Atoi(strings.TrimSuffix(name, ".jpg"))
				w.Header().Set("Content-Type", "image/jpeg")
				w.Write(testJPEG(n))
				return
			}
			j, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/p/"))
			if err != nil || j >= pages {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<html lang="en"><body><a href="/p/%d">next</a> <a href="%s/p/%d">over there</a>
<img src="/img/%d.jpg" alt="a brown dog sitting in the grass, picture %d of host %d">
<img src="/img/%d.jpg" alt="a small cat on a red sofa, picture %d of host %d"></body></html>`,
				j+1, urls[(i+1)%hosts], j, 1000*i+2*j, j, i, 1000*i+2*j+1, j, i)
		}))
		srv.Listener.Close()
		srv.Listener = l
		srv.Start()
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	return urls
}

// TestDistributedBuild: crawl -> filter (exact balancing) -> fetch as a pipeline of jobs on
// three workers gives the samples of `wit crawl`, `wit filter --mode exact` and `wit fetch` run
// one after the other on one machine; on a shared path, and with the seeds and every output in
// an S3 bucket (left with the outputs and the crawl state only).
func TestDistributedBuild(t *testing.T) {
	for _, kind := range storageKinds {
		t.Run(kind, func(t *testing.T) { testDistributedBuild(t, kind) })
	}
}

func testDistributedBuild(t *testing.T, kind string) {
	ts := newTestStorage(t, kind)
	const hosts, pages = 3, 8
	urls := photoSite(t, hosts, pages)
	dir := t.TempDir()
	seeds := filepath.Join(dir, "seeds.txt")
	if err := os.WriteFile(seeds, []byte(urls[0]+"/p/0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	queries := filepath.Join(dir, "queries.txt")
	if err := os.WriteFile(queries, []byte("dog\ncat\nred sofa\ngrass\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ccfg := crawlConfig(dir, seeds)
	set := filter.DefaultStageOptions()
	set.Queries, set.NoLanguage = queries, true
	fcfg := fetchConfig("")

	// One machine: the three commands in turn.
	single := filepath.Join(dir, "single")
	ccfg.Out, ccfg.State = filepath.Join(single, "pairs"), filepath.Join(single, "state")
	if _, err := crawl.Run(context.Background(), ccfg); err != nil {
		t.Fatal(err)
	}
	st, err := set.Stages(nil)
	if err != nil {
		t.Fatal(err)
	}
	fopts := filter.Options{In: ccfg.Out, Out: filepath.Join(single, "filtered"), Stages: st, Threshold: 10, Seed: 5, Mode: filter.ModeExact}
	fstats, err := filter.Run(context.Background(), fopts)
	if err != nil {
		t.Fatal(err)
	}
	if fstats.Dropped[filter.ReasonBalance] == 0 {
		t.Fatalf("no pair dropped by balancing: %+v", fstats.Dropped)
	}
	fcfg.Out, fcfg.InputName = filepath.Join(single, "shards"), fopts.Out
	if _, err := fetch.Run(context.Background(), fcfg, fetch.ReadInput(context.Background(), fopts.Out, fetch.InputOptions{})); err != nil {
		t.Fatal(err)
	}

	// Many machines.
	srv := disttest.StartServer(t, t.TempDir(), 0)
	c := disttest.Connect(t, srv.ClientURL())
	bcfg := build.DefaultConfig()
	bcfg.Seeds, bcfg.Out = seeds, ts.loc("multi")
	if kind == "s3" {
		bcfg.Seeds = ts.loc("seeds.txt")
		if err := storage.WriteFile(context.Background(), bcfg.Seeds, []byte(urls[0]+"/p/0\n")); err != nil {
			t.Fatal(err)
		}
	}
	bcfg.Crawl = crawlConfig(dir, seeds)
	bcfg.Filter = build.DefaultFilterOptions()
	bcfg.Filter.Queries, bcfg.Filter.NoLanguage, bcfg.Filter.Balance, bcfg.Filter.Seed = queries, true, 10, 5
	bcfg.Fetch = fetchConfig("")
	job, err := SubmitBuild(context.Background(), c, bcfg, 4, 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	disttest.StartWorkers(t, srv.ClientURL(), 3, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	p, err := c.WaitChain(ctx, job.ID, 100*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Final == nil || p.Final.State != "done" || p.Job.Kind != KindFetch {
		t.Fatalf("last job %s final %+v", p.Job.Kind, p.Final)
	}

	want, got := readDataset(t, fcfg.Out), readDataset(t, storage.Join(bcfg.Out, BuildShards))
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("samples: one machine %d, distributed %d", len(want), len(got))
	}
	for url, w := range want {
		if got[url] != w {
			t.Errorf("%s: distributed %+v, one machine %+v", url, got[url], w)
		}
	}
	for _, d := range []string{BuildPairs, BuildFiltered, BuildShards} {
		if _, err := storage.Stat(context.Background(), storage.Join(bcfg.Out, d, WorkDir)); !storage.IsNotExist(err) {
			t.Errorf("%s/%s left behind", d, WorkDir)
		}
	}
	isArrow := func(name string) bool { _, ok := shards.FileIndex(name); return ok }
	stray := ts.strayKeys(t, func(k string) bool {
		return k == "seeds.txt" ||
			keyIn(k, "multi/"+BuildPairs, topLevel(func(n string) bool { return isArrow(n) || n == "stats.json" })) ||
			keyIn(k, "multi/"+BuildFiltered, topLevel(func(n string) bool { return isArrow(n) || n == filter.StatsFile })) ||
			keyIn(k, "multi/"+BuildShards, topLevel(isFetchOutput)) ||
			keyIn(k, "multi/"+BuildState, func(rest string) bool {
				p, gen, ok := strings.Cut(rest, "/")
				return ok && strings.HasPrefix(p, "p") && strings.HasSuffix(gen, snapshotExt) && !strings.Contains(gen, "/")
			})
	})
	if len(stray) > 0 {
		t.Errorf("left in the bucket: %v", stray)
	}
}
