package crawl

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/witdata/wit/cc"
	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/internal/storage/s3test"
	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/warc"
)

// TestWARCRoundTrip crawls the test site with WARCOut, reads the archive back with cc, and
// expects the pairs the crawl wrote: the test of both the archive and the reader. The archive
// goes to a local directory, and to the in-process S3 server, where cc reads it from and writes
// its pairs to.
func TestWARCRoundTrip(t *testing.T) {
	for _, remote := range []bool{false, true} {
		name := "local"
		if remote {
			name = "s3"
		}
		t.Run(name, func(t *testing.T) { testWARCRoundTrip(t, remote) })
	}
}

func testWARCRoundTrip(t *testing.T, remote bool) {
	ctx := context.Background()
	s := newSite(40)
	s.robots = "User-agent: *\nDisallow: /private/\n"
	s.extra["/img.png"] = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("\x89PNG\r\n\x1a\nnot really"))
	}
	s.extra["/moved"] = func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/p/3", http.StatusMovedPermanently) }
	s.extra["/private/x"] = func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<img src=/no.jpg alt=secret>") }
	srv := httptest.NewServer(s)
	defer srv.Close()
	cfg := testConfig(t, srv.URL+"/p/0", srv.URL+"/img.png", srv.URL+"/moved", srv.URL+"/private/x")
	ccOut := filepath.Join(t.TempDir(), "cc")
	var store *s3test.Server
	if remote {
		var bucket string
		store, bucket = s3test.Start(t, "wit")
		cfg.WARCOut, ccOut = storage.Join(bucket, "warc"), storage.Join(bucket, "cc")
	} else {
		cfg.WARCOut = filepath.Join(t.TempDir(), "warc")
	}
	cfg.WARCFileBytes = 20 << 10 // several files
	stats, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if stats.PagesOK < 40 || stats.Pairs != 80 {
		t.Fatalf("crawl: %+v", stats)
	}
	live := pairSet(readPairs(t, cfg.Out), srv.URL)

	d, err := storage.Open(ctx, cfg.WARCOut)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := d.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name, warc.Ext) {
			t.Fatalf("archive holds %s", e.Name) // a temporary file, or anything else
		}
		files = append(files, e.Name)
	}
	if len(files) < 2 {
		t.Fatalf("archive files %v", files)
	}
	if staged, _ := os.ReadDir(warcStagingDir(cfg.State)); len(staged) > 0 {
		t.Fatalf("staged files left: %v", staged)
	}
	// Every fetch is archived, robots.txt included; the disallowed page never was fetched.
	uris := map[string]int{}
	for _, f := range files {
		data, err := storage.ReadFile(ctx, storage.Join(cfg.WARCOut, f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data[:min(len(data), 4)]), "\x1f\x8b") {
			t.Fatalf("%s is not gzip per record", f)
		}
		rd := warc.NewReader(bytes.NewReader(data), warc.ReaderOptions{})
		for {
			rec, err := rd.Next()
			if err != nil {
				break
			}
			if rec.Type() == warc.TypeResponse {
				uris[strings.TrimPrefix(rec.TargetURI(), srv.URL)]++
			}
		}
	}
	if uris["/robots.txt"] != 1 || uris["/img.png"] != 1 || uris["/moved"] != 1 || uris["/private/x"] != 0 || uris["/p/39"] != 1 {
		t.Fatalf("archived responses %v", uris)
	}

	opts := cc.Options{Out: ccOut, State: filepath.Join(t.TempDir(), "cc-state"), Logger: cfg.Logger}
	ccStats, err := cc.Run(ctx, opts, cc.Inputs(ctx, []string{cfg.WARCOut}, "", cc.NewOpener(false, 1, 0)))
	if err != nil {
		t.Fatal(err)
	}
	var fromArchive []string
	seen := map[string]bool{}
	for rec, err := range shards.ReadDir(ctx, opts.Out, nil) {
		if err != nil {
			t.Fatal(err)
		}
		ps, _ := shards.Pairs(rec)
		for _, p := range ps {
			line := strings.TrimPrefix(p.PageURL, srv.URL) + " " + strings.TrimPrefix(p.ImageURL, srv.URL) + " " + p.CaptionSource + " " + p.Caption
			if p.PageLang != "en" {
				t.Fatalf("page_lang %q", p.PageLang)
			}
			if !seen[line] { // /p/3 was fetched twice: under its name and through /moved
				seen[line] = true
				fromArchive = append(fromArchive, line)
			}
		}
	}
	slices.Sort(fromArchive)
	if !slices.Equal(fromArchive, live) {
		t.Fatalf("archive gives %d pairs, the crawl %d:\n%v\n%v", len(fromArchive), len(live), fromArchive, live)
	}
	if ccStats.Files != int64(len(files)) || ccStats.Outcomes[cc.OutcomeNotHTML] != 2 || ccStats.Outcomes[cc.OutcomeHTTPStatus] != 1 { // img.png + robots.txt; the 301
		t.Fatalf("cc: %d files, outcomes %v", ccStats.Files, ccStats.Outcomes)
	}
	if remote {
		// The bucket holds the archive files, cc's pair files and stats, nothing else.
		want := []string{"cc/" + cc.StatsFile}
		for _, f := range files {
			want = append(want, "warc/"+f)
		}
		ccFiles, _ := shards.ListFiles(ccOut)
		for _, f := range ccFiles {
			want = append(want, "cc/"+storage.Base(f))
		}
		slices.Sort(want)
		if keys := store.Keys(t, "wit"); !slices.Equal(keys, want) {
			t.Fatalf("bucket holds %v, want %v", keys, want)
		}
	}
}
