package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/witdata/wit/dist"
	"github.com/witdata/wit/dist/disttest"
	"github.com/witdata/wit/fetch"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/shards"
)

// testJPEG makes a small distinct JPEG for number n.
func testJPEG(n int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 24, 16))
	for y := range 16 {
		for x := range 24 {
			img.Set(x, y, color.RGBA{uint8(n * 37), uint8(x * 10), uint8(y*15 + n), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// imageSite serves /img/N.jpg (N % 9 == 4 answers 404) after a delay; every request is
// announced on requests when someone listens.
func imageSite(t *testing.T, delay time.Duration, requests chan<- string) *httptest.Server {
	srv, _ := imageSiteCounting(t, delay, requests)
	return srv
}

// imageSiteCounting is imageSite that also reports the most requests it had in flight at once.
func imageSiteCounting(t *testing.T, delay time.Duration, requests chan<- string) (*httptest.Server, *atomic.Int64) {
	var inFlight, most atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); cur > m && !most.CompareAndSwap(m, cur); m = most.Load() {
		}
		select {
		case requests <- r.URL.Path:
		default:
		}
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/img/"), ".jpg"))
		if err != nil || n%9 == 4 {
			http.NotFound(w, r)
			return
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(testJPEG(n))
	}))
	t.Cleanup(srv.Close)
	return srv, &most
}

func fetchConfig(out string) fetch.Config {
	cfg := fetch.DefaultConfig()
	cfg.Out = out
	cfg.AllowPrivate = true
	cfg.Size = 16
	cfg.SamplesPerShard = 5
	cfg.Retries = 0
	cfg.Workers = 4
	cfg.PerHost = 4
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

type sampleView struct {
	Caption, SHA256 string
	Width, Height   int
	OrigW, OrigH    int
}

// readDataset reads every sample of dir by URL, checking that keys name their shard and that no
// URL is there twice.
func readDataset(t *testing.T, dir string) map[string]sampleView {
	t.Helper()
	files, err := shards.ListFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]sampleView{}
	for _, f := range files {
		idx, _ := shards.FileIndex(f)
		row := 0
		for rec, err := range shards.ReadFile(f, nil) {
			if err != nil {
				t.Fatal(err)
			}
			cols, err := shards.NewSampleColumns(rec)
			if err != nil {
				t.Fatal(err)
			}
			for i := range cols.Len() {
				s := cols.Sample(i)
				if want := shards.SampleKey(idx, row); s.Key != want {
					t.Errorf("%s row %d: key %q, want %q", f, row, s.Key, want)
				}
				if _, dup := out[s.URL]; dup {
					t.Errorf("%s is in the output twice", s.URL)
				}
				out[s.URL] = sampleView{s.Caption, s.SHA256, s.Width, s.Height, s.OriginalWidth, s.OriginalHeight}
				row++
			}
		}
	}
	return out
}

func readStats(t *testing.T, dir string) fetch.Stats {
	t.Helper()
	data := readLoc(t, storage.Join(dir, fetch.StatsFile))
	var st fetch.Stats
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestDistributedFetch: a fetch split by image host, run by two worker processes that are
// killed in the middle, gives the same samples, manifest and counts as a single-machine fetch,
// on a shared path and in an S3 bucket (where nothing but the output is left: no temporary or
// working objects), and no host ever has more than --per-host downloads at once over both
// workers.
func TestDistributedFetch(t *testing.T) {
	for _, kind := range storageKinds {
		t.Run(kind, func(t *testing.T) { testDistributedFetch(t, kind) })
	}
}

func testDistributedFetch(t *testing.T, kind string) {
	ts := newTestStorage(t, kind)
	requests := make(chan string)
	siteA, mostA := imageSiteCounting(t, 60*time.Millisecond, requests)
	siteB, mostB := imageSiteCounting(t, 60*time.Millisecond, requests)
	dir := t.TempDir()
	input := filepath.Join(dir, "urls.csv")
	var b strings.Builder
	b.WriteString("url,caption\n")
	const n = 48
	for i := range n { // the two hosts interleaved, as in a real list
		site := siteA
		if i%2 == 1 {
			site = siteB
		}
		fmt.Fprintf(&b, "%s/img/%d.jpg,picture number %d\n", site.URL, i, i)
	}
	if err := os.WriteFile(input, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := fetch.InputOptions{}

	single := filepath.Join(dir, "single")
	cfg := fetchConfig(single)
	cfg.InputName = input
	if _, err := fetch.Run(context.Background(), cfg, fetch.ReadInput(context.Background(), input, opts)); err != nil {
		t.Fatal(err)
	}

	srv := disttest.StartServer(t, t.TempDir(), 0)
	c := disttest.Connect(t, srv.ClientURL())
	multi := ts.loc("multi")
	cfg = fetchConfig(multi)
	cfg.InputName = input
	cfg.PerHost = 1 // two workers at work on one host would show as 2 at once
	// Chunks of a few items, and the budget exceeded, so that partitions come in several
	// chunks written in both ways.
	defer func(c, b int) { chunkBytes, submitBudget = c, b }(chunkBytes, submitBudget)
	chunkBytes, submitBudget = 600, 700
	const partitions = 8
	job, err := SubmitFetch(context.Background(), c, cfg, input, opts, partitions)
	if err != nil {
		t.Fatal(err)
	}
	hostA, hostB := fetch.HostKey(siteA.URL+"/"), fetch.HostKey(siteB.URL+"/")
	wantTasks := 2
	if partitionOfItem(hostA, 0, partitions) == partitionOfItem(hostB, 0, partitions) {
		wantTasks = 1
	}
	if job.Tasks != wantTasks {
		t.Fatalf("%d tasks, want %d (one per partition with a host: each has a shard's worth)", job.Tasks, wantTasks)
	}
	checkPartitioned(t, multi, partitions, n)
	mostA.Store(0) // the single-machine run's own
	mostB.Store(0)
	workers := disttest.StartWorkers(t, srv.ClientURL(), 2, 1)
	// Kill both workers while a download is in flight, a third of the way in, so that a
	// partition dies in the middle; both are started again.
	timeout := time.After(30 * time.Second)
	for range n / 3 {
		select {
		case <-requests:
		case <-timeout:
			t.Fatal("the workers made no progress")
		}
	}
	workers.Kill(0)
	workers.Kill(1)
	p := disttest.Wait(t, c, job.ID, 90*time.Second)
	if p.Final == nil || p.Final.State != "done" {
		t.Fatalf("final step: %+v", p.Final)
	}
	outcomes, err := c.Outcomes(context.Background(), job.ID)
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
		t.Error("no slice was cut off by the kill")
	}

	if a, b := mostA.Load(), mostB.Load(); a > int64(cfg.PerHost) || b > int64(cfg.PerHost) {
		t.Errorf("most downloads at once: host A %d, host B %d; --per-host %d", a, b, cfg.PerHost)
	}
	want, got := readDataset(t, single), readDataset(t, multi)
	if len(want) != n-5 || len(got) != len(want) { // 4, 13, 22, 31, 40 answer 404
		t.Fatalf("samples: single %d, distributed %d", len(want), len(got))
	}
	for url, w := range want {
		if got[url] != w {
			t.Errorf("%s: distributed %+v, single %+v", url, got[url], w)
		}
	}
	ms, err := shards.ReadManifest(single)
	if err != nil {
		t.Fatal(err)
	}
	mm, err := shards.ReadManifest(multi)
	if err != nil {
		t.Fatal(err)
	}
	if ms.TotalCount != mm.TotalCount || ms.SchemaVersion != mm.SchemaVersion {
		t.Errorf("manifest: single %d samples, distributed %d", ms.TotalCount, mm.TotalCount)
	}
	ss, sm := readStats(t, single), readStats(t, multi)
	if ss.Successes != sm.Successes || ss.Failed != sm.Failed || !maps.Equal(ss.Failures, sm.Failures) || ss.Failures["http_404"] != 5 ||
		ss.DownloadedBytes == 0 || ss.DownloadedBytes != sm.DownloadedBytes ||
		sm.DatasetCount != ms.TotalCount || sm.Input != input || sm.Error != "" {
		t.Errorf("stats: single %+v\ndistributed %+v", ss, sm)
	}
	if kind == "shared" {
		entries, _ := os.ReadDir(multi)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp") || e.Name() == WorkDir {
				t.Errorf("left in the output: %s", e.Name())
			}
		}
	}
	if stray := ts.strayKeys(t, func(k string) bool { return keyIn(k, "multi", topLevel(isFetchOutput)) }); len(stray) > 0 {
		t.Errorf("left in the bucket: %v", stray)
	}
	// The merged directory is a single-machine fetch directory: resuming it finds nothing to do.
	cfg = fetchConfig(multi)
	cfg.InputName = input
	st, err := fetch.Run(context.Background(), cfg, fetch.ReadInput(context.Background(), input, opts))
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != n || st.Done != 0 {
		t.Errorf("resume after the distributed fetch: skipped %d, done %d; want %d, 0", st.Skipped, st.Done, n)
	}
}

// TestFetchPartitionRerunCountsEveryItem: a partition whose first run is cut off after some
// items are recorded is run again; the second run skips those items, and its result still counts
// every item of the partition once, as the items the job did (none skipped, none twice).
func TestFetchPartitionRerunCountsEveryItem(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var requests atomic.Int64
	site := imageSite(t, 20*time.Millisecond, nil)
	cutter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 12 {
			cancel()
		}
		http.Redirect(w, r, site.URL+r.URL.Path, http.StatusFound)
	}))
	defer cutter.Close()

	const count = 20 // 4, 13 answer 404
	out := t.TempDir()
	var lines bytes.Buffer
	for i := range count {
		line, _ := json.Marshal(fetch.Positioned{Pos: int64(3 * i), // positions spread over an input, as a partition's are
			Item: fetch.Item{URL: fmt.Sprintf("%s/img/%d.jpg", cutter.URL, i), Caption: fmt.Sprint("picture ", i)}})
		lines.Write(append(line, '\n'))
	}
	if err := storage.WriteFile(context.Background(), chunkFile(out, 0, 0), lines.Bytes()); err != nil {
		t.Fatal(err)
	}
	cfg := fetchConfig(out)
	cfg.Workers, cfg.PerHost = 2, 2
	spec, err := yaml.Marshal(FetchSpec{Config: cfg, Input: "urls.csv", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	input, _ := json.Marshal(fetchTask{Task: 0, Partitions: []partRef{{Partition: 0, Chunks: 1}}, Count: count, FirstShard: 0, ShardLimit: 24})
	task := func() *dist.Task {
		return &dist.Task{Job: &dist.JobRecord{ID: "job1", Kind: KindFetch, Spec: string(spec)}, Input: input,
			Log: cfg.Logger, AllowPrivate: true}
	}

	if _, err := runFetchTask(ctx, task()); err == nil {
		t.Fatal("the cut-off run reported success")
	}
	cut, err := fetch.ReadRecorded(context.Background(), out, 0, 24)
	if err != nil {
		t.Fatal(err)
	}
	if cut.Items == 0 || cut.Items == count {
		t.Fatalf("the first run recorded %d of %d items; the test needs a run cut off in the middle", cut.Items, count)
	}
	res, err := runFetchTask(context.Background(), task())
	if err != nil {
		t.Fatal(err)
	}
	st := res.(fetch.Stats)
	if st.Seen != count || st.Skipped != 0 || st.Done != count || st.Successes != count-2 || st.Failed != 2 ||
		st.Failures["http_404"] != 2 {
		t.Errorf("slice stats after a rerun that skipped %d recorded items: %+v", cut.Items, st)
	}
	if rec, err := fetch.ReadRecorded(context.Background(), out, 0, 24); err != nil || st.DownloadedBytes == 0 || st.DownloadedBytes != rec.Downloaded {
		t.Errorf("downloaded bytes: stats %d, records %d (%v)", st.DownloadedBytes, rec.Downloaded, err)
	}
	if m, err := shards.ReadManifest(filepath.Join(out, WorkDir, partsDir, "00000")); err != nil || int64(st.Successes) != m.TotalCount {
		t.Errorf("manifest: %v, %v; stats say %d successes", m, err, st.Successes)
	}
}

func TestGroupTasks(t *testing.T) {
	refs := func(ps ...int) []partRef {
		var out []partRef
		for _, p := range ps {
			out = append(out, partRef{Partition: p, Chunks: 1})
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		counts []int64
		want   [][]int // partitions of each task
	}{
		{"large partitions: one task each", []int64{10, 12, 30}, [][]int{{0}, {1}, {2}}},
		{"small ones grouped to a shard's worth", []int64{3, 4, 2, 9, 1}, [][]int{{0, 1}, {2, 3}, {4}}},
		{"all small", []int64{1, 1, 1}, [][]int{{0, 1, 2}}},
		{"none", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ps []int
			for i := range tc.counts {
				ps = append(ps, i)
			}
			tasks := groupTasks(refs(ps...), tc.counts, 5)
			if len(tasks) != len(tc.want) {
				t.Fatalf("%d tasks, want %d: %+v", len(tasks), len(tc.want), tasks)
			}
			next, total := 0, int64(0)
			for i, task := range tasks {
				var got []int
				for _, r := range task.Partitions {
					got = append(got, r.Partition)
				}
				if !slices.Equal(got, tc.want[i]) || task.Task != i {
					t.Errorf("task %d: partitions %v, want %v", task.Task, got, tc.want[i])
				}
				if task.FirstShard != next || task.ShardLimit-task.FirstShard < 2*int((task.Count+4)/5)+shardReserve {
					t.Errorf("task %d: shards [%d, %d) for %d items after %d", i, task.FirstShard, task.ShardLimit, task.Count, next)
				}
				next = task.ShardLimit
				total += task.Count
			}
			var want int64
			for _, c := range tc.counts {
				want += c
			}
			if total != want {
				t.Errorf("tasks hold %d items, want %d", total, want)
			}
		})
	}
}

// checkPartitioned reads the items a distributed fetch's submit wrote: every input position
// once, and each host's items in one partition only (so one worker at a time fetches a host).
func checkPartitioned(t *testing.T, out string, partitions int, n int64) {
	t.Helper()
	partOf := map[string]int{}
	seen := map[int64]bool{}
	for p := range partitions {
		for c := 0; ; c++ {
			data, err := storage.ReadFile(context.Background(), chunkFile(out, p, c))
			if storage.IsNotExist(err) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for line := range bytes.Lines(data) {
				var it fetch.Positioned
				if err := json.Unmarshal(line, &it); err != nil {
					t.Fatal(err)
				}
				if seen[it.Pos] {
					t.Errorf("position %d in two chunks", it.Pos)
				}
				seen[it.Pos] = true
				h := fetch.HostKey(it.URL)
				if q, ok := partOf[h]; ok && q != p {
					t.Errorf("host %s in partitions %d and %d", h, q, p)
				}
				partOf[h] = p
			}
		}
	}
	if int64(len(seen)) != n {
		t.Errorf("%d positions in the chunks, want %d", len(seen), n)
	}
}

// isFetchOutput reports whether name is a file a fetch leaves in its output folder.
func isFetchOutput(name string) bool {
	if _, ok := shards.FileIndex(name); ok {
		return true
	}
	if _, ok := shards.StatsIndex(name); ok {
		return true
	}
	switch name {
	case shards.ManifestName, shards.SizesName, fetch.InputFile, fetch.StatsFile:
		return true
	}
	num, ok := strings.CutSuffix(name, "_failed.jsonl")
	_, err := strconv.Atoi(num)
	return ok && err == nil
}

// BenchmarkWritePartitions measures what wit submit fetch does per input item: its host, its
// partition, the JSON line with its position, the chunk files (local disk). At 400M items the
// submitting machine spends items / (items/s) on it.
func BenchmarkWritePartitions(b *testing.B) {
	const n = 100_000
	items := make([]fetch.Item, n)
	for i := range items {
		items[i] = fetch.Item{URL: fmt.Sprintf("https://img%d.example-cdn.com/photos/2024/%08d/large.jpg", i%5000, i),
			Caption: fmt.Sprintf("a photo of item %d on a wooden table", i), PageURL: fmt.Sprintf("https://shop%d.example.com/p/%d", i%5000, i)}
	}
	seq := func(yield func(fetch.Item, error) bool) {
		for _, it := range items {
			if !yield(it, nil) {
				return
			}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		out := b.TempDir()
		if _, _, err := writePartitions(context.Background(), out, seq, DefaultFetchPartitions); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "items/s")
}
