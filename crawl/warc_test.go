package crawl

import (
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
	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/warc"
)

// TestWARCRoundTrip crawls the test site with WARCOut, reads the archive back with cc, and
// expects the pairs the crawl wrote: the test of both the archive and the reader.
func TestWARCRoundTrip(t *testing.T) {
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
	cfg.WARCOut = filepath.Join(t.TempDir(), "warc")
	cfg.WARCFileBytes = 20 << 10 // several files
	stats, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if stats.PagesOK < 40 || stats.Pairs != 80 {
		t.Fatalf("crawl: %+v", stats)
	}
	live := pairSet(readPairs(t, cfg.Out), srv.URL)

	files, _ := filepath.Glob(filepath.Join(cfg.WARCOut, "*"+warc.Ext))
	if len(files) < 2 {
		t.Fatalf("archive files %v", files)
	}
	if tmp, _ := filepath.Glob(filepath.Join(cfg.WARCOut, "*.tmp-*")); len(tmp) > 0 {
		t.Fatalf("temp files left %v", tmp)
	}
	// Every fetch is archived, robots.txt included; the disallowed page never was fetched.
	uris := map[string]int{}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if !strings.Contains(string(data[:min(len(data), 4)]), "\x1f\x8b") {
			t.Fatalf("%s is not gzip per record", f)
		}
		fh, _ := os.Open(f)
		rd := warc.NewReader(fh, warc.ReaderOptions{})
		for {
			rec, err := rd.Next()
			if err != nil {
				break
			}
			if rec.Type() == warc.TypeResponse {
				uris[strings.TrimPrefix(rec.TargetURI(), srv.URL)]++
			}
		}
		fh.Close()
	}
	if uris["/robots.txt"] != 1 || uris["/img.png"] != 1 || uris["/moved"] != 1 || uris["/private/x"] != 0 || uris["/p/39"] != 1 {
		t.Fatalf("archived responses %v", uris)
	}

	opts := cc.Options{Out: filepath.Join(t.TempDir(), "cc"), Logger: cfg.Logger}
	ccStats, err := cc.Run(context.Background(), opts, cc.Inputs(context.Background(), []string{cfg.WARCOut}, "", cc.NewOpener(false, 1, 0)))
	if err != nil {
		t.Fatal(err)
	}
	var fromArchive []string
	seen := map[string]bool{}
	for rec, err := range shards.ReadDir(context.Background(), opts.Out, nil) {
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
	if ccStats.Outcomes[cc.OutcomeNotHTML] != 2 || ccStats.Outcomes[cc.OutcomeHTTPStatus] != 1 { // img.png + robots.txt; the 301
		t.Fatalf("cc outcomes %v", ccStats.Outcomes)
	}
}
