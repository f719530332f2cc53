package cc

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/warc"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func fld(name, value string) warc.Field { return warc.Field{Name: name, Value: value} }

// watRecords returns the hand-written WAT JSON fixtures as metadata records, after a warcinfo
// record, in file order.
func watRecords(t testing.TB) []*warc.OutRecord {
	t.Helper()
	files, _ := filepath.Glob("testdata/wat/*.json")
	if len(files) == 0 {
		t.Fatal("no WAT fixtures")
	}
	out := []*warc.OutRecord{{Header: warc.Header{Fields: []warc.Field{
		fld(warc.FieldType, warc.TypeWarcinfo), fld(warc.FieldDate, "2024-03-01T00:00:00Z"), fld(warc.FieldContentType, "application/warc-fields"),
	}}, Block: [][]byte{[]byte("software: Common Crawl WAT generator\r\n")}}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var probe struct {
			Envelope struct {
				H map[string]string `json:"WARC-Header-Metadata"`
			}
		}
		if err := json.Unmarshal(data, &probe); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, &warc.OutRecord{Header: warc.Header{Fields: []warc.Field{
			fld(warc.FieldType, warc.TypeMetadata),
			fld(warc.FieldTargetURI, probe.Envelope.H["WARC-Target-URI"]),
			fld(warc.FieldDate, probe.Envelope.H["WARC-Date"]),
			fld(warc.FieldRecordID, warc.NewRecordID()),
			fld("WARC-Refers-To", warc.NewRecordID()),
			fld(warc.FieldContentType, "application/json"),
		}}, Block: [][]byte{data}})
	}
	return out
}

// writeRecords writes recs as one gzip member each and returns the file's bytes and each
// record's start offset.
func writeRecords(t testing.TB, recs []*warc.OutRecord) ([]byte, []int64) {
	t.Helper()
	var buf bytes.Buffer
	w := warc.NewWriter(&buf, true)
	var offs []int64
	for _, r := range recs {
		offs = append(offs, w.Written())
		if err := w.WriteRecord(&r.Header, r.Block...); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes(), offs
}

func pairLines(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	for rec, err := range shards.ReadDir(context.Background(), dir, nil) {
		if err != nil {
			t.Fatal(err)
		}
		ps, err := shards.Pairs(rec)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			out = append(out, fmt.Sprintf("%s | %s | %s | %s | %s | %s", p.PageURL, p.ImageURL, p.Caption, p.CaptionSource, p.PageLang, p.FetchedAt.Format(time.RFC3339)))
		}
	}
	return out
}

func testOptions(t testing.TB) Options {
	out := filepath.Join(t.TempDir(), "out")
	return Options{Out: out, State: filepath.Join(out, ".cc-state"), Logger: quiet, Workers: 2}
}

func run(t testing.TB, opts Options, in ...string) *Stats {
	t.Helper()
	st, err := Run(context.Background(), opts, Inputs(context.Background(), in, opts.baseOr(), opts.opener()))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (o Options) baseOr() string { return "" }

func (o Options) opener() Opener {
	if o.Open != nil {
		return o.Open
	}
	return NewOpener(o.AllowPrivate, 1, time.Minute)
}

var wantWATPairs = []string{
	"https://www.example.com/articles/cats.html | https://cdn.example.net/cat1.jpg | A grey cat on a sofa | alt | en-gb | 2024-03-01T12:34:56Z",
	"https://www.example.com/articles/cats.html | https://www.example.com/media/img/kitten%20small.png | Kitten playing with yarn | alt | en-gb | 2024-03-01T12:34:56Z",
	"https://www.example.com/articles/cats.html | https://cdn.example.net/cat2.jpg | Two cats & a dog 🐈 | alt | en-gb | 2024-03-01T12:34:56Z",
	"https://shop.example.com/dir/page.html?id=7 | https://shop.example.com/img/shoe.jpg?size=large | Roter Schuh | alt | de | 2024-03-01T12:39:00Z",
}

func checkWATCounts(t *testing.T, c Counters, records int64) {
	t.Helper()
	want := map[string]int64{OutcomePairs: 2, OutcomeNoLinks: 1, OutcomeNotHTML: 1, OutcomeNotResponse: 3, OutcomeHTTPStatus: 1, OutcomeNoIndex: 1, OutcomeNoCandidates: 1}
	if c.Records != records || fmt.Sprint(c.Outcomes) != fmt.Sprint(want) {
		t.Fatalf("records %d, outcomes %v; want %d, %v", c.Records, c.Outcomes, records, want)
	}
	wantLinks := map[string]int64{LinkImage: 4, LinkNoAlt: 2, LinkBadURL: 2, LinkDup: 1, LinkNotImage: 8}
	if fmt.Sprint(c.Links) != fmt.Sprint(wantLinks) {
		t.Fatalf("links %v, want %v", c.Links, wantLinks)
	}
	if c.Pairs != 4 || c.PairsBySource["alt"] != 4 {
		t.Fatalf("pairs %d %v", c.Pairs, c.PairsBySource)
	}
}

func TestWAT(t *testing.T) {
	data, _ := writeRecords(t, watRecords(t))
	dir := t.TempDir()
	in := filepath.Join(dir, "CC-MAIN-x.warc.wat.gz")
	os.WriteFile(in, data, 0o644)
	opts := testOptions(t)
	st := run(t, opts, in)
	if got := pairLines(t, opts.Out); !slices.Equal(got, wantWATPairs) {
		t.Fatalf("pairs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantWATPairs, "\n"))
	}
	checkWATCounts(t, st.Counters, 10)
	if st.Files != 1 || st.FilesThisRun != 1 || st.Bytes != int64(len(data)) {
		t.Fatalf("stats %+v", st)
	}
	// The stats file beside the output says the same.
	var onDisk Stats
	b, _ := os.ReadFile(filepath.Join(opts.Out, StatsFile))
	if err := json.Unmarshal(b, &onDisk); err != nil || onDisk.Pairs != 4 || onDisk.Records != 10 {
		t.Fatalf("stats file: %v %s", err, b)
	}
	// Uncompressed WAT reads the same.
	var plain bytes.Buffer
	w := warc.NewWriter(&plain, false)
	for _, r := range watRecords(t) {
		w.WriteRecord(&r.Header, r.Block...)
	}
	in2 := filepath.Join(dir, "plain.wat")
	os.WriteFile(in2, plain.Bytes(), 0o644)
	opts2 := testOptions(t)
	run(t, opts2, in2)
	if got := pairLines(t, opts2.Out); !slices.Equal(got, wantWATPairs) {
		t.Fatalf("uncompressed: %v", got)
	}
}

func TestFormatFlag(t *testing.T) {
	data, _ := writeRecords(t, watRecords(t))
	in := filepath.Join(t.TempDir(), "x.wat.gz")
	os.WriteFile(in, data, 0o644)
	opts := testOptions(t)
	opts.Format = FormatWARC
	st := run(t, opts, in)
	if st.Pairs != 0 || st.Outcomes[OutcomeOtherFormat] != 9 || st.Outcomes[OutcomeNotResponse] != 1 {
		t.Fatalf("--format warc on WAT: %v", st.Outcomes)
	}
}

// TestWATDamage: a corrupt member in the middle is skipped and counted, later records kept; a
// truncated final member keeps the records before it and the file is reported.
func TestWATDamage(t *testing.T) {
	recs := watRecords(t)
	data, offs := writeRecords(t, recs)
	dir := t.TempDir()
	// Record 7 is 07-relative.json (after warcinfo and six fixtures): damage it.
	bad := bytes.Clone(data)
	bad[(offs[7]+offs[8])/2] ^= 0xff
	os.WriteFile(filepath.Join(dir, "a-corrupt.wat.gz"), bad, 0o644)
	// Cut inside the last member (09-metadata) and inside 01-page: the second file holds the
	// warcinfo record only, then half of the page record.
	os.WriteFile(filepath.Join(dir, "b-truncated.wat.gz"), data[:offs[1]+(offs[2]-offs[1])/2], 0o644)
	os.WriteFile(filepath.Join(dir, "c-truncated-end.wat.gz"), data[:len(data)-7], 0o644)

	opts := testOptions(t)
	st := run(t, opts, dir)
	if st.Files != 3 || st.FilesTruncated != 2 || len(st.TruncatedFiles) != 2 || !strings.HasSuffix(st.TruncatedFiles[0], "b-truncated.wat.gz") {
		t.Fatalf("files: %+v", st)
	}
	if st.BadGzipMembers != 1 {
		t.Fatalf("bad members %d", st.BadGzipMembers)
	}
	var markers []FileStats
	for i := range 3 {
		b, err := os.ReadFile(markerPath(opts, i))
		if err != nil {
			t.Fatal(err)
		}
		var fs FileStats
		json.Unmarshal(b, &fs)
		markers = append(markers, fs)
	}
	// a: everything but the shoe page; b: the warcinfo record only; c: all but the last record.
	if markers[0].Pairs != 3 || markers[0].Records != 9 || markers[0].BadGzipMembers != 1 || markers[0].Truncated {
		t.Fatalf("corrupt file: %+v", markers[0])
	}
	if markers[1].Records != 1 || !markers[1].Truncated || markers[1].Output != "" {
		t.Fatalf("truncated file: %+v", markers[1])
	}
	if markers[2].Records != 9 || markers[2].Pairs != 4 || !markers[2].Truncated {
		t.Fatalf("truncated end: %+v", markers[2])
	}
	if _, err := os.Stat(filepath.Join(opts.Out, "00001.arrow")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("an input without pairs left a file")
	}
}

// cancelAfter is an Opener that cancels the run when the nth input is opened, after some bytes.
func cancelAfter(n int, cancel context.CancelFunc) Opener {
	var opened atomic.Int32
	base := NewOpener(false, 1, time.Minute)
	return func(ctx context.Context, name string) (io.ReadCloser, error) {
		rc, err := base(ctx, name)
		if err != nil || int(opened.Add(1)) != n {
			return rc, err
		}
		return &cancelReader{rc: rc, left: 300, cancel: cancel}, nil
	}
}

type cancelReader struct {
	rc     io.ReadCloser
	left   int
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.cancel()
		// The reader keeps going: the run must notice the cancellation by itself.
	}
	n, err := c.rc.Read(p[:min(len(p), 100)])
	c.left -= n
	return n, err
}
func (c *cancelReader) Close() error { return c.rc.Close() }

func TestResume(t *testing.T) {
	dir := t.TempDir()
	recs := watRecords(t)
	// Five inputs with distinct pages: the same fixtures under another host each.
	for i := range 5 {
		var rs []*warc.OutRecord
		for _, r := range recs {
			block := bytes.ReplaceAll(r.Block[0], []byte("example.com"), []byte(fmt.Sprintf("site%d.example", i)))
			rs = append(rs, &warc.OutRecord{Header: r.Header, Block: [][]byte{block}})
		}
		data, _ := writeRecords(t, rs)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("in-%d.wat.gz", i)), data, 0o644)
	}
	ref := testOptions(t)
	run(t, ref, dir)
	want := pairLines(t, ref.Out)
	if len(want) != 5*4 {
		t.Fatalf("%d pairs", len(want))
	}

	opts := testOptions(t)
	opts.Workers = 1
	ctx, cancel := context.WithCancel(context.Background())
	opts.Open = cancelAfter(3, cancel)
	st, err := Run(ctx, opts, Inputs(ctx, []string{dir}, "", opts.Open))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	if st.Files != 2 {
		t.Fatalf("cancelled run did %d files", st.Files)
	}
	// Nothing of the cut-off input is visible.
	if files, _ := shards.ListFiles(opts.Out); len(files) != 2 {
		t.Fatalf("files after cancel: %v", files)
	}
	opts.Open = nil
	st = run(t, opts, dir)
	if st.Files != 5 || st.FilesSkipped != 2 || st.FilesThisRun != 3 || st.Pairs != 20 {
		t.Fatalf("resumed: %+v", st)
	}
	if got := pairLines(t, opts.Out); !slices.Equal(got, want) {
		t.Fatalf("resumed output differs:\n%v\n%v", got, want)
	}
	// A run after the end does nothing.
	st = run(t, opts, dir)
	if st.FilesSkipped != 5 || st.FilesThisRun != 0 {
		t.Fatalf("third run: %+v", st)
	}
	// A run that stopped between the rename of its file and its marker: the file is written
	// again, not twice.
	os.Remove(markerPath(opts, 4))
	st = run(t, opts, dir)
	if st.FilesThisRun != 1 || st.Pairs != 20 {
		t.Fatalf("redo: %+v", st)
	}
	if got := pairLines(t, opts.Out); !slices.Equal(got, want) {
		t.Fatal("redo changed the output")
	}
	// Another input list under the same output is refused.
	_, err = Run(context.Background(), opts, Inputs(context.Background(), []string{filepath.Join(dir, "in-4.wat.gz")}, "", NewOpener(false, 1, time.Minute)))
	if err == nil || !strings.Contains(err.Error(), "different input list") {
		t.Fatalf("changed list: %v", err)
	}
}

func TestLimitFiles(t *testing.T) {
	dir := t.TempDir()
	data, _ := writeRecords(t, watRecords(t))
	for i := range 3 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.wat.gz", i)), data, 0o644)
	}
	opts := testOptions(t)
	opts.LimitFiles = 2
	if st := run(t, opts, dir); st.Files != 2 {
		t.Fatalf("files %d", st.Files)
	}
}

// TestHTTPAndPathsList reads inputs from an http server, named by a paths.gz list resolved
// against --base, as a Common Crawl release is read.
func TestHTTPAndPathsList(t *testing.T) {
	data, _ := writeRecords(t, watRecords(t))
	var hits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/crawl-data/CC-MAIN-2024-10/segments/1/wat/", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if strings.HasSuffix(r.URL.Path, "missing.warc.wat.gz") {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	})
	var list bytes.Buffer
	zw := gzip.NewWriter(&list)
	io.WriteString(zw, "crawl-data/CC-MAIN-2024-10/segments/1/wat/a.warc.wat.gz\n\ncrawl-data/CC-MAIN-2024-10/segments/1/wat/missing.warc.wat.gz\ncrawl-data/CC-MAIN-2024-10/segments/1/wat/b.warc.wat.gz\n")
	zw.Close()
	mux.HandleFunc("/crawl-data/CC-MAIN-2024-10/wat.paths.gz", func(w http.ResponseWriter, r *http.Request) { w.Write(list.Bytes()) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// Without --allow-private the SSRF guard refuses the loopback server.
	opts := testOptions(t)
	if _, err := Run(context.Background(), opts, Inputs(context.Background(), []string{srv.URL + "/crawl-data/CC-MAIN-2024-10/wat.paths.gz"}, srv.URL, opts.opener())); err == nil {
		t.Fatal("loopback allowed without AllowPrivate")
	}

	opts.AllowPrivate = true
	open := NewOpener(true, 2, time.Minute)
	st, err := Run(context.Background(), opts, Inputs(context.Background(), []string{srv.URL + "/crawl-data/CC-MAIN-2024-10/wat.paths.gz"}, srv.URL+"/", open))
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 2 || st.FilesFailed != 1 || st.Pairs != 8 || !strings.Contains(st.Failed[0], "404") {
		t.Fatalf("stats %+v", st)
	}
	got := pairLines(t, opts.Out)
	if len(got) != 8 || !slices.Equal(got[:4], wantWATPairs) || !slices.Equal(got[4:], wantWATPairs) {
		t.Fatalf("pairs %v", got)
	}
	if files, _ := shards.ListFiles(opts.Out); len(files) != 2 || filepath.Base(files[1]) != "00002.arrow" {
		t.Fatalf("files %v", files)
	}

	// A local paths list against a local --base directory.
	base := t.TempDir()
	os.MkdirAll(filepath.Join(base, "crawl-data"), 0o755)
	os.WriteFile(filepath.Join(base, "crawl-data", "x.wat.gz"), data, 0o644)
	pl := filepath.Join(t.TempDir(), "wat.paths")
	os.WriteFile(pl, []byte("crawl-data/x.wat.gz\n"), 0o644)
	var names []string
	for in, err := range Inputs(context.Background(), []string{pl}, base, open) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, in.Name)
	}
	if len(names) != 1 || names[0] != filepath.Join(base, "crawl-data", "x.wat.gz") {
		t.Fatalf("names %v", names)
	}
}

func TestInputsOrder(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.warc.gz", "a.wat.gz", "notes.txt", "c.warc.gz.tmp-123", "sub/d.warc"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, n)), 0o755)
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	var got []string
	for in, err := range Inputs(context.Background(), []string{"https://x.example/one.warc.gz", dir}, "", nil) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%s", in.Index, strings.TrimPrefix(in.Name, dir)))
	}
	want := []string{"0:https://x.example/one.warc.gz", "1:/a.wat.gz", "2:/b.warc.gz", "3:/sub/d.warc"}
	if !slices.Equal(got, want) {
		t.Fatalf("%v", got)
	}
	sort.Strings(got)
}
