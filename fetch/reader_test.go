package fetch

import (
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/witdata/wit/shards"
)

func collectItems(t *testing.T, path string, opts InputOptions) []Item {
	t.Helper()
	var out []Item
	for it, err := range ReadInput(context.Background(), path, opts) {
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, it)
	}
	return out
}

func writeParquet(t *testing.T, path string, urls, captions []string) {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "url", Type: arrow.BinaryTypes.String}, {Name: "caption", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues(urls, nil)
	b.Field(1).(*array.StringBuilder).AppendValues(captions, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := pqarrow.NewFileWriter(schema, f, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := pw.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
}

// filteredSchema is what the filter stage writes: the pair columns plus matched_queries and
// language.
var filteredSchema = arrow.NewSchema(append(slices.Clone(shards.PairSchema.Fields()),
	arrow.Field{Name: "matched_queries", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	arrow.Field{Name: "language", Type: arrow.BinaryTypes.String},
), nil)

func writeFiltered(t *testing.T, dir string, urls []string) {
	t.Helper()
	w, err := shards.NewWriter(dir, filteredSchema, shards.WriterOptions{RowsPerFile: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range urls {
		b := w.Builder()
		shards.AppendPair(b, shards.Pair{PageURL: "http://page.test/" + fmt.Sprint(i), ImageURL: u, Caption: fmt.Sprintf("a cat %d", i),
			CaptionSource: shards.SourceAlt, PageLang: "en", FetchedAt: time.Unix(1700000000, 0)})
		lb := b.Field(6).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.StringBuilder).AppendValues([]string{"cat", fmt.Sprintf("q%d", i)}, nil)
		b.Field(7).(*array.StringBuilder).Append("en")
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReadInputFormats(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "urls.csv")
	os.WriteFile(csvPath, []byte("url,caption,page_url\nhttp://a.test/1.jpg,\"a cat, sitting\",http://a.test/\n  http://a.test/2.jpg ,,\n"), 0o644)
	got := collectItems(t, csvPath, InputOptions{})
	want := []Item{{URL: "http://a.test/1.jpg", Caption: "a cat, sitting", PageURL: "http://a.test/"}, {URL: "http://a.test/2.jpg"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("csv: %+v", got)
	}

	gzPath := filepath.Join(dir, "urls.tsv.gz")
	f, _ := os.Create(gzPath)
	zw := gzip.NewWriter(f)
	zw.Write([]byte("link\ttext\nhttp://a.test/3.jpg\ta dog\n"))
	zw.Close()
	f.Close()
	got = collectItems(t, gzPath, InputOptions{URLCol: "link", CaptionCol: "text"})
	if len(got) != 1 || got[0].URL != "http://a.test/3.jpg" || got[0].Caption != "a dog" {
		t.Fatalf("tsv.gz: %+v", got)
	}

	jsonlPath := filepath.Join(dir, "items.jsonl")
	os.WriteFile(jsonlPath, []byte(`{"url":"http://a.test/4.jpg","caption":"x","matched_queries":["cat","dog"],"language":"en"}`+"\n"), 0o644)
	got = collectItems(t, jsonlPath, InputOptions{})
	if len(got) != 1 || !slices.Equal(got[0].MatchedQueries, []string{"cat", "dog"}) || got[0].Language != "en" {
		t.Fatalf("jsonl: %+v", got)
	}

	pqPath := filepath.Join(dir, "urls.parquet")
	writeParquet(t, pqPath, []string{"http://a.test/5.jpg", "http://a.test/6.jpg"}, []string{"five", "six"})
	got = collectItems(t, pqPath, InputOptions{})
	if len(got) != 2 || got[1].Caption != "six" {
		t.Fatalf("parquet: %+v", got)
	}

	filtered := filepath.Join(dir, "filtered")
	writeFiltered(t, filtered, []string{"http://a.test/7.jpg", "http://a.test/8.jpg", "http://a.test/9.jpg", "http://a.test/10.jpg"})
	got = collectItems(t, filtered, InputOptions{})
	if len(got) != 4 || got[3].URL != "http://a.test/10.jpg" || got[3].Caption != "a cat 3" || got[3].CaptionSource != "alt" ||
		got[3].Language != "en" || !slices.Equal(got[3].MatchedQueries, []string{"cat", "q3"}) || got[3].PageURL != "http://page.test/3" {
		t.Fatalf("filtered dir: %+v", got)
	}

	// Errors: a missing URL column, an unknown extension, an empty directory.
	for _, tc := range []struct {
		path string
		opts InputOptions
		want string
	}{
		{csvPath, InputOptions{URLCol: "image"}, "image"},
		{filtered, InputOptions{URLCol: "nope"}, "nope"},
		{filepath.Join(dir, "x.xlsx"), InputOptions{}, "xlsx"},
		{t.TempDir(), InputOptions{}, "no shard files"},
	} {
		var err error
		for _, e := range ReadInput(context.Background(), tc.path, tc.opts) {
			if e != nil {
				err = e
			}
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %+v: err %v, want mention of %q", tc.path, tc.opts, err, tc.want)
		}
	}
}

// TestRunFromInputs fetches from CSV, parquet and a filtered-pairs directory through ReadInput.
func TestRunFromInputs(t *testing.T) {
	srv := newImageServer(t)
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "urls.csv")
	csv := "url,caption\n"
	for i := range 6 {
		csv += fmt.Sprintf("%s/img/%d.jpg,csv caption %d\n", srv.URL, i, i)
	}
	csv += "file://" + filepath.Join(dir, "local.jpg") + ",a local file\n"
	os.WriteFile(filepath.Join(dir, "local.jpg"), readTestdata(t, "video-001.jpeg"), 0o644)
	os.WriteFile(csvPath, []byte(csv), 0o644)
	pqPath := filepath.Join(dir, "urls.parquet")
	writeParquet(t, pqPath, []string{srv.URL + "/img/10.jpg", srv.URL + "/404"}, []string{"ten", "missing"})
	filtered := filepath.Join(dir, "filtered")
	writeFiltered(t, filtered, []string{srv.URL + "/img/20.jpg", srv.URL + "/img/21.jpg"})

	for _, tc := range []struct {
		path   string
		ok     int
		failed int
	}{{csvPath, 7, 0}, {pqPath, 1, 1}, {filtered, 2, 0}} {
		out := filepath.Join(t.TempDir(), "shards")
		cfg := testConfig(t, out)
		cfg.InputName = tc.path
		cfg.LocalFiles = true
		st, err := Run(context.Background(), cfg, ReadInput(context.Background(), tc.path, InputOptions{}))
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if st.Successes != int64(tc.ok) || st.Failed != int64(tc.failed) {
			t.Errorf("%s: stats %+v", tc.path, st)
		}
		samples := readSamples(t, out)
		if len(samples) != tc.ok {
			t.Errorf("%s: %d samples", tc.path, len(samples))
		}
		if tc.path == filtered {
			for _, s := range samples {
				if s.Language != "en" || len(s.MatchedQueries) != 2 || s.MatchedQueries[0] != "cat" || s.PageURL == "" {
					t.Errorf("filtered sample lost fields: %+v", s)
				}
			}
		}
	}
}

// A malformed row stops the run under BadRows "error"; what was fetched before it is committed.
func TestSourceErrorStopsRun(t *testing.T) {
	srv := newImageServer(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "urls.csv")
	os.WriteFile(path, []byte(fmt.Sprintf("url\n%s/img/1.jpg\n\"unterminated\n", srv.URL)), 0o644)
	out := t.TempDir()
	cfg := testConfig(t, out)
	cfg.BadRows = "error"
	st, err := Run(context.Background(), cfg, ReadInput(context.Background(), path, InputOptions{}))
	if err == nil || st.Successes != 1 || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("err %v stats %+v", err, st)
	}
	if n := len(readSamples(t, out)); n != 1 {
		t.Fatalf("stored %d", n)
	}
}

// Malformed rows are skipped, counted and listed in bad-rows.jsonl (default policy), they take
// no input position, and a rerun resumes over the same items.
func TestBadRowsSkipped(t *testing.T) {
	srv := newImageServer(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "urls.tsv")
	tsv := "url\tcaption\n" +
		srv.URL + "/img/1.jpg\t\"Jali\" tere nimano\n" + // a quote is text in TSV
		srv.URL + "/img/2.jpg\tone\ttoo many\n" + // line 3
		srv.URL + "/img/3.jpg\tbad \xff byte\n" + // line 4
		srv.URL + "/img/4.jpg\t\"last\n"
	os.WriteFile(path, []byte(tsv), 0o644)
	out := t.TempDir()
	cfg := testConfig(t, out)
	cfg.InputName = path
	st, err := Run(context.Background(), cfg, ReadInput(context.Background(), path, InputOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	if st.Successes != 2 || st.RowsRead != 4 || st.BadRows["field_count"] != 1 || st.BadRows["invalid_utf8"] != 1 {
		t.Fatalf("stats %+v", st)
	}
	if st.RowsRead != st.Seen+st.Skipped+st.BadRowsTotal() || st.Seen != st.Done+st.Canceled {
		t.Fatalf("counts do not add up: %+v", st)
	}
	logged, err := os.ReadFile(filepath.Join(out, "bad-rows.jsonl"))
	if err != nil || strings.Count(string(logged), "\n") != 2 || !strings.Contains(string(logged), `"line":3`) {
		t.Fatalf("bad-rows.jsonl %q, %v", logged, err)
	}
	if !strings.Contains(st.Summary(), "read 4 input rows") {
		t.Fatalf("summary does not say the rows read:\n%s", st.Summary())
	}
	samples := readSamples(t, out)
	if len(samples) != 2 || samples[0].Caption != `"Jali" tere nimano` && samples[1].Caption != `"Jali" tere nimano` {
		t.Fatalf("samples %+v", samples)
	}
	st, err = Run(context.Background(), cfg, ReadInput(context.Background(), path, InputOptions{}))
	if err != nil || st.Skipped != 2 || st.Done != 0 || st.BadRowsTotal() != 2 {
		t.Fatalf("rerun: %v %+v", err, st)
	}
}

// TestKilledChild is the child process of TestKillAndResume; it only runs when asked to.
func TestKilledChild(t *testing.T) {
	out, base := os.Getenv("WIT_FETCH_CHILD_OUT"), os.Getenv("WIT_FETCH_CHILD_BASE")
	if out == "" {
		t.Skip("child of TestKillAndResume")
	}
	cfg := testConfig(t, out)
	cfg.Workers, cfg.PerHost, cfg.SamplesPerShard = 4, 4, 10
	Run(context.Background(), cfg, Items(manyItems(base, "slow", 200)))
}

// TestKillAndResume kills a fetching process with SIGKILL while it writes shards, then resumes
// in this process: no duplicates, nothing lost, no partial shard ever visible.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	srv := newImageServer(t)
	srv.slow.Store(int64(30 * time.Millisecond))
	out := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "WIT_FETCH_CHILD_OUT="+out, "WIT_FETCH_CHILD_BASE="+srv.URL)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		files, _ := shards.ListFiles(out)
		if len(files) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("child committed no shards in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	// Every visible shard is complete and readable, and has its record.
	files, _ := shards.ListFiles(out)
	before := readSamples(t, out)
	for _, f := range files {
		idx, _ := shards.FileIndex(f)
		if _, err := shards.ReadShardStats(filepath.Join(out, shards.StatsName(idx))); err != nil {
			t.Errorf("%s has no stats record: %v", f, err)
		}
	}
	if len(before) >= 200 {
		t.Fatalf("child finished before the kill (%d samples)", len(before))
	}
	srv.slow.Store(int64(0))
	cfg := testConfig(t, out)
	cfg.SamplesPerShard = 10
	st, err := Run(context.Background(), cfg, Items(manyItems(srv.URL, "slow", 200)))
	if err != nil {
		t.Fatal(err)
	}
	after := readSamples(t, out) // checks uniqueness of keys and URLs
	if len(after) != 200 {
		t.Fatalf("after resume: %d samples, want 200 (skipped %d, done %d)", len(after), st.Skipped, st.Done)
	}
	if st.Skipped < int64(len(before)) {
		t.Errorf("resume skipped %d, but %d were stored", st.Skipped, len(before))
	}
	assertNoTemp(t, out)
	m, _ := shards.ReadManifest(out)
	if m.TotalCount != 200 {
		t.Fatalf("manifest total %d", m.TotalCount)
	}
}
