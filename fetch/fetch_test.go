package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/witdata/wit/internal/atomicfile"
	"github.com/witdata/wit/shards"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testJPEG makes a small distinct JPEG for number n.
func testJPEG(n int, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(n * 37), uint8(x * 255 / w), uint8(y*255/h + n), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// hugePNG is a valid PNG whose header declares w×h pixels (a decompression bomb's header).
func hugePNG(t testing.TB, w, h uint32) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

type imageServer struct {
	*httptest.Server
	files       map[string][]byte
	failing     atomic.Bool  // /flaky/ answers 500 while set
	requests    atomic.Int64 // all requests
	slow        atomic.Int64 // delay of /slow/, nanoseconds
	noaiClosed  chan bool    // one value per /noai request: the client closed before the body was sent
	onRequestMu sync.Mutex
	onRequest   func(path string)
	mu          sync.Mutex
	servedPaths map[string]int
}

func newImageServer(t testing.TB) *imageServer {
	s := &imageServer{
		files: map[string][]byte{
			"jpeg": readTestdata(t, "video-001.jpeg"),
			"png":  readTestdata(t, "blue-purple-pink.png"),
			"webp": readTestdata(t, "yellow_rose.lossy-with-alpha.webp"),
			"gif":  readTestdata(t, "video-001.gif"),
			"huge": hugePNG(t, 100000, 100000),
		},
		noaiClosed:  make(chan bool, 16),
		servedPaths: map[string]int{},
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *imageServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	s.servedPaths[r.URL.Path]++
	s.mu.Unlock()
	s.onRequestMu.Lock()
	hook := s.onRequest
	s.onRequestMu.Unlock()
	if hook != nil {
		hook(r.URL.Path)
	}
	p := r.URL.Path
	image := func(ct string, body []byte) {
		if ct == "" {
			w.Header()["Content-Type"] = nil // no Content-Type at all (no server sniffing)
		} else {
			w.Header().Set("Content-Type", ct)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}
	switch {
	case strings.HasPrefix(p, "/img/"), strings.HasPrefix(p, "/slow/"), strings.HasPrefix(p, "/flaky/"):
		if d := time.Duration(s.slow.Load()); strings.HasPrefix(p, "/slow/") && d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		if strings.HasPrefix(p, "/flaky/") && s.failing.Load() {
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		}
		n, _ := strconv.Atoi(strings.TrimSuffix(p[strings.LastIndexByte(p, '/')+1:], ".jpg"))
		image("image/jpeg", testJPEG(n, 40+n%7, 30+n%5))
	case strings.HasPrefix(p, "/real/"):
		kind := strings.TrimPrefix(p, "/real/")
		image("image/"+kind, s.files[kind])
	case p == "/corrupt":
		b := bytes.Clone(s.files["jpeg"])
		for i := 600; i < len(b)-2; i += 7 {
			b[i] ^= 0x5A
		}
		image("image/jpeg", b)
	case p == "/truncated":
		image("image/jpeg", s.files["jpeg"][:len(s.files["jpeg"])/2])
	case p == "/garbage":
		image("image/jpeg", bytes.Repeat([]byte("not an image at all "), 50))
	case p == "/html":
		image("text/html; charset=utf-8", []byte("<!doctype html><html><body>hello</body></html>"))
	case p == "/svg":
		image("image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`))
	case p == "/octet-jpeg":
		image("application/octet-stream", s.files["jpeg"])
	case p == "/octet-text":
		image("application/octet-stream", []byte("just some text, definitely not pixels\n"))
	case p == "/untyped-png":
		image("", s.files["png"])
	case p == "/huge":
		image("image/png", s.files["huge"])
	case p == "/big":
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Content-Length", strconv.Itoa(50<<20))
		w.WriteHeader(http.StatusOK)
		// Nothing more: the client must refuse on the header alone.
	case p == "/404":
		http.NotFound(w, r)
	case p == "/500":
		http.Error(w, "boom", http.StatusInternalServerError)
	case p == "/403":
		http.Error(w, "no", http.StatusForbidden)
	case p == "/redirect":
		http.Redirect(w, r, "/img/7.jpg", http.StatusFound)
	case p == "/loop":
		http.Redirect(w, r, "/loop", http.StatusFound)
	case p == "/trickle":
		w.Header().Set("Content-Type", "image/jpeg")
		w.WriteHeader(http.StatusOK)
		body := s.files["jpeg"]
		for i := range body {
			if _, err := w.Write(body[i : i+1]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(20 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	case p == "/noai", p == "/noai-agent", p == "/noai-multi":
		switch p {
		case "/noai":
			w.Header().Set("X-Robots-Tag", "NoAI")
		case "/noai-agent":
			w.Header().Set("X-Robots-Tag", "wit-fetch: noimageai, nofollow")
		case "/noai-multi":
			w.Header().Add("X-Robots-Tag", "nofollow")
			w.Header().Add("X-Robots-Tag", "otherbot: noindex")
			w.Header().Add("X-Robots-Tag", "noimageindex")
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		// The body is sent only if the client is still there after 2 s: a client that reads it
		// would get a valid image (and the test would see a success).
		select {
		case <-r.Context().Done():
			s.noaiClosed <- true
		case <-time.After(2 * time.Second):
			s.noaiClosed <- false
			w.Write(s.files["jpeg"])
		}
	case p == "/otherbot":
		w.Header().Set("X-Robots-Tag", "otherbot: noai")
		image("image/jpeg", s.files["jpeg"])
	default:
		http.NotFound(w, r)
	}
}

func (s *imageServer) setOnRequest(f func(path string)) {
	s.onRequestMu.Lock()
	s.onRequest = f
	s.onRequestMu.Unlock()
}

func testConfig(t testing.TB, out string) Config {
	cfg := DefaultConfig()
	cfg.Out = out
	cfg.AllowPrivate = true
	cfg.Workers = 8
	cfg.PerHost = 8
	cfg.Retries = 0
	cfg.Timeout = 3 * time.Second
	cfg.Size = 32
	cfg.Quality = 80
	cfg.SamplesPerShard = 5
	cfg.ProgressEvery = 20 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

// readSamples reads every sample in dir and checks that keys and URLs are unique and that the
// key names the shard the row is in.
func readSamples(t testing.TB, dir string) []*shards.Sample {
	t.Helper()
	files, err := shards.ListFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []*shards.Sample
	keys := map[string]bool{}
	urls := map[string]bool{}
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
				if keys[s.Key] || urls[s.URL] {
					t.Errorf("duplicate key %q or URL %q", s.Key, s.URL)
				}
				keys[s.Key], urls[s.URL] = true, true
				out = append(out, s)
				row++
			}
		}
	}
	return out
}

// readFailures returns the latest failure reason of every failed URL in dir.
func readFailures(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	paths, _ := filepath.Glob(filepath.Join(dir, "*_failed.jsonl"))
	slices.Sort(paths)
	for _, p := range paths {
		for rec, err := range readFailed(p) {
			if err != nil {
				t.Fatal(err)
			}
			out[rec.URL] = rec.Reason
		}
	}
	return out
}

func assertNoTemp(t testing.TB, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left visible: %s", e.Name())
		}
	}
}

func TestFetchOutcomes(t *testing.T) {
	srv := newImageServer(t)
	tests := []struct {
		path   string
		reason string // "" = success
	}{
		{"/img/1.jpg", ""},
		{"/real/jpeg", ""},
		{"/real/png", ""},
		{"/real/webp", ""},
		{"/real/gif", ""},
		{"/octet-jpeg", ""},
		{"/untyped-png", ""},
		{"/redirect", ""},
		{"/otherbot", ""},
		{"/corrupt", ReasonDecode},
		{"/truncated", ReasonDecode},
		{"/garbage", ReasonFormat},
		{"/html", ReasonNotImage},
		{"/svg", ReasonNotImage},
		{"/octet-text", ReasonNotImage},
		{"/huge", ReasonTooManyPixels},
		{"/big", ReasonTooLarge},
		{"/404", ReasonNotFound},
		{"/500", ReasonServerError},
		{"/403", "http_403"},
		{"/loop", ReasonRedirects},
		{"/trickle", ReasonTimeout},
		{"/noai", ReasonOptedOut},
		{"/noai-agent", ReasonOptedOut},
		{"/noai-multi", ReasonOptedOut},
		{"", ReasonBadURL},
		{"gopher://example.test/x", ReasonBadURL},
	}
	var items []Item
	for i, tc := range tests {
		u := tc.path
		if strings.HasPrefix(u, "/") {
			u = srv.URL + u
		}
		items = append(items, Item{URL: u, Caption: fmt.Sprintf("caption %d", i), PageURL: "http://page.test/" + strconv.Itoa(i), CaptionSource: "alt"})
	}
	out := t.TempDir()
	cfg := testConfig(t, out)
	cfg.Timeout = 1500 * time.Millisecond // the trickle takes 20 ms a byte for 21 KB
	cfg.MaxBytes = 1 << 20
	var progress atomic.Int64
	cfg.Progress = func(Stats) { progress.Add(1) }
	st, err := Run(context.Background(), cfg, Items(items))
	if err != nil {
		t.Fatal(err)
	}
	samples := readSamples(t, out)
	failures := readFailures(t, out)
	byURL := map[string]*shards.Sample{}
	for _, s := range samples {
		byURL[s.URL] = s
	}
	// The records count what the run counted (a distributed fetch sums them).
	if rec, err := ReadRecorded(context.Background(), out, 0, 0); err != nil || rec.Items != st.Done ||
		rec.Successes != st.Successes || rec.Downloaded != st.DownloadedBytes || st.DownloadedBytes == 0 {
		t.Errorf("records %+v (%v), run %+v", rec, err, st)
	}
	wantOK := 0
	for i, tc := range tests {
		u := items[i].URL
		if tc.reason == "" {
			wantOK++
			s := byURL[u]
			if s == nil {
				t.Errorf("%s: no sample (failure %q)", tc.path, failures[u])
				continue
			}
			if s.Caption != items[i].Caption || s.PageURL != items[i].PageURL || s.CaptionSource != "alt" {
				t.Errorf("%s: sample text %+v", tc.path, s)
			}
			cfgImg, err := jpeg.DecodeConfig(bytes.NewReader(s.Image))
			if err != nil || cfgImg.Width != 32 || cfgImg.Height != 32 || s.Width != 32 || s.Height != 32 {
				t.Errorf("%s: stored image %v %+v (%dx%d)", tc.path, err, cfgImg, s.Width, s.Height)
			}
			if s.OriginalWidth == 0 || len(s.SHA256) != 64 {
				t.Errorf("%s: original %dx%d sha %q", tc.path, s.OriginalWidth, s.OriginalHeight, s.SHA256)
			}
			continue
		}
		if byURL[u] != nil {
			t.Errorf("%s: stored, want failure %s", tc.path, tc.reason)
		} else if got := failures[u]; got != tc.reason {
			t.Errorf("%s: failure %q, want %q", tc.path, got, tc.reason)
		}
	}
	if st.Successes != int64(wantOK) || st.Done != int64(len(tests)) || st.Failed != int64(len(tests)-wantOK) {
		t.Errorf("stats %+v", st)
	}
	// The real JPEG's sha256 is of the downloaded bytes.
	sum := sha256.Sum256(srv.files["jpeg"])
	if s := byURL[srv.URL+"/real/jpeg"]; s != nil && s.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("sha256 %s, want %x", s.SHA256, sum)
	}
	// Every opt-out closed the connection before the body was sent.
	for range 3 {
		select {
		case closed := <-srv.noaiClosed:
			if !closed {
				t.Error("noai: the client kept the connection open waiting for the body")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("noai handler did not report")
		}
	}
	m, err := shards.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.TotalCount != int64(wantOK) || len(m.Shards) != (wantOK+4)/5 {
		t.Errorf("manifest %+v, want %d samples", m, wantOK)
	}
	assertNoTemp(t, out)
	var saved Stats
	if data, err := os.ReadFile(filepath.Join(out, StatsFile)); err != nil || !strings.Contains(string(data), `"successes": `+strconv.Itoa(wantOK)) {
		t.Errorf("stats.json: %v %s", err, data)
	}
	_ = saved
	if progress.Load() == 0 {
		t.Error("no progress reported")
	}
	if !strings.Contains(st.Summary(), "failed timeout") {
		t.Errorf("summary lacks failure reasons:\n%s", st.Summary())
	}
}

func TestOptedOut(t *testing.T) {
	tests := []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{"noai"}, true},
		{[]string{"NOIMAGEAI"}, true},
		{[]string{"noindex, nofollow"}, true},
		{[]string{"nofollow", "noimageindex"}, true},
		{[]string{"nofollow, noarchive"}, false},
		{[]string{"otherbot: noai"}, false},
		{[]string{"wit-fetch: noai"}, true},
		{[]string{"WIT-Fetch: NoImageAI"}, true},
		{[]string{"*: noai"}, true},
		{[]string{"otherbot: noai, noindex"}, false}, // both bind otherbot
		{[]string{"otherbot: noindex", "noai"}, true},
		{[]string{"unavailable_after: 25 Jun 2010 15:00:00 PST, noai"}, true},
		{[]string{"max-image-preview: large"}, false},
		{[]string{"otherbot: nofollow, wit-fetch: noai"}, true},
	}
	for _, tc := range tests {
		if got := optedOut(tc.values, "wit-fetch"); got != tc.want {
			t.Errorf("optedOut(%q) = %v, want %v", tc.values, got, tc.want)
		}
	}
	if got := agentToken(DefaultUserAgent); got != "wit-fetch" {
		t.Errorf("agentToken = %q", got)
	}
}

func TestSSRFGuardBlocksLoopback(t *testing.T) {
	srv := newImageServer(t)
	out := t.TempDir()
	cfg := testConfig(t, out)
	cfg.AllowPrivate = false
	st, err := Run(context.Background(), cfg, Items([]Item{{URL: srv.URL + "/img/1.jpg"}}))
	if err != nil {
		t.Fatal(err)
	}
	if st.Failures[ReasonBlocked] != 1 || srv.requests.Load() != 0 {
		t.Fatalf("failures %v, server saw %d requests", st.Failures, srv.requests.Load())
	}
}

// TestAllowAddr: --allow-addr lets one private destination through while the guard stays on for
// every other (here another loopback port), as in the crawler.
func TestAllowAddr(t *testing.T) {
	allowed, other := newImageServer(t), newImageServer(t)
	addr := strings.TrimPrefix(allowed.URL, "http://")
	for _, tc := range []struct {
		allow  []string
		wantOK int64 // of the two items
	}{
		{[]string{addr}, 1},
		{[]string{"127.0.0.1"}, 2}, // the whole IP: both ports
		{[]string{"10.0.0.0/8"}, 0},
		{nil, 0},
	} {
		cfg := testConfig(t, t.TempDir())
		cfg.AllowPrivate = false
		cfg.AllowAddrs = tc.allow
		st, err := Run(context.Background(), cfg, Items([]Item{{URL: allowed.URL + "/img/1.jpg"}, {URL: other.URL + "/img/2.jpg"}}))
		if err != nil {
			t.Fatal(err)
		}
		if st.Successes != tc.wantOK || st.Failures[ReasonBlocked] != 2-tc.wantOK {
			t.Errorf("allow %v: %d ok, failures %v", tc.allow, st.Successes, st.Failures)
		}
	}
	cfg := testConfig(t, t.TempDir())
	cfg.AllowAddrs = []string{"not-an-address"}
	if err := cfg.Validate(); err == nil {
		t.Error("a bad allow_addrs entry was accepted")
	}
}

func TestRetriesRecoverFrom5xx(t *testing.T) {
	srv := newImageServer(t)
	var calls atomic.Int64
	srv.setOnRequest(func(p string) {
		if p == "/flaky/3.jpg" && calls.Add(1) == 2 {
			srv.failing.Store(false)
		}
	})
	srv.failing.Store(true)
	cfg := testConfig(t, t.TempDir())
	cfg.Retries = 2
	st, err := Run(context.Background(), cfg, Items([]Item{{URL: srv.URL + "/flaky/3.jpg"}}))
	if err != nil {
		t.Fatal(err)
	}
	if st.Successes != 1 || calls.Load() != 2 {
		t.Fatalf("successes %d after %d calls", st.Successes, calls.Load())
	}
}

func manyItems(base string, prefix string, n int) []Item {
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{URL: fmt.Sprintf("%s/%s/%d.jpg", base, prefix, i), Caption: fmt.Sprintf("item %d", i)}
	}
	return items
}

// TestCancelAndResume stops a run midway (context cancel) and resumes it: every item ends up
// stored exactly once, and the shards of the first run are not rewritten.
func TestCancelAndResume(t *testing.T) {
	srv := newImageServer(t)
	srv.slow.Store(int64(5 * time.Millisecond))
	items := manyItems(srv.URL, "slow", 120)
	items[17].URL = srv.URL + "/404" // one failure, recorded once
	out := t.TempDir()
	cfg := testConfig(t, out)
	cfg.Workers = 4
	cfg.PerHost = 4
	ctx, cancel := context.WithCancel(context.Background())
	srv.setOnRequest(func(string) {
		if srv.requests.Load() == 50 {
			cancel()
		}
	})
	st1, err := Run(ctx, cfg, Items(items))
	if !errors.Is(err, context.Canceled) || !st1.Interrupted {
		t.Fatalf("first run: err %v, stats %+v", err, st1)
	}
	assertNoTemp(t, out)
	first := readSamples(t, out)
	if len(first) == 0 || len(first) >= 119 {
		t.Fatalf("first run stored %d samples; want a part", len(first))
	}
	mtimes := map[string]time.Time{}
	files, _ := shards.ListFiles(out)
	for _, f := range files {
		fi, _ := os.Stat(f)
		mtimes[f] = fi.ModTime()
	}
	srv.setOnRequest(nil)
	st2, err := Run(context.Background(), cfg, Items(items))
	if err != nil {
		t.Fatal(err)
	}
	if st2.Skipped != st1.Done {
		t.Errorf("second run skipped %d, first run did %d", st2.Skipped, st1.Done)
	}
	all := readSamples(t, out) // also checks uniqueness
	if len(all) != 119 {
		t.Fatalf("stored %d samples, want 119", len(all))
	}
	if f := readFailures(t, out); len(f) != 1 || f[srv.URL+"/404"] != ReasonNotFound {
		t.Fatalf("failures %v", f)
	}
	for f, mt := range mtimes {
		fi, err := os.Stat(f)
		if err != nil || !fi.ModTime().Equal(mt) {
			t.Errorf("%s rewritten by the resumed run", f)
		}
	}
	// A third run has nothing left to do.
	before := srv.requests.Load()
	st3, err := Run(context.Background(), cfg, Items(items))
	if err != nil || st3.Done != 0 || st3.Skipped != 120 || srv.requests.Load() != before {
		t.Fatalf("third run: %v %+v", err, st3)
	}
	m, _ := shards.ReadManifest(out)
	if m.TotalCount != 119 || st3.DatasetCount != 119 {
		t.Fatalf("manifest total %d, stats %d", m.TotalCount, st3.DatasetCount)
	}
}

// TestRetryFailed fails some items with 500s, then retries only those.
func TestRetryFailed(t *testing.T) {
	srv := newImageServer(t)
	srv.failing.Store(true)
	items := manyItems(srv.URL, "img", 12)
	for i := range 4 {
		items[i*3].URL = fmt.Sprintf("%s/flaky/%d.jpg", srv.URL, 100+i)
	}
	items[5].URL = srv.URL + "/404"
	out := t.TempDir()
	cfg := testConfig(t, out)
	st, err := Run(context.Background(), cfg, Items(items))
	if err != nil || st.Successes != 7 || st.Failures[ReasonServerError] != 4 {
		t.Fatalf("first run: %v %+v", err, st)
	}
	srv.failing.Store(false)
	srv.mu.Lock()
	clear(srv.servedPaths)
	srv.mu.Unlock()
	cfg.RetryFailed = true
	cfg.RetryReasons = []string{ReasonServerError}
	st, err = Run(context.Background(), cfg, nil)
	if err != nil || st.Successes != 4 || st.Done != 4 {
		t.Fatalf("retry run: %v %+v", err, st)
	}
	srv.mu.Lock()
	for p := range srv.servedPaths {
		if !strings.HasPrefix(p, "/flaky/") {
			t.Errorf("retry fetched %s, which had not failed with 5xx", p)
		}
	}
	srv.mu.Unlock()
	if all := readSamples(t, out); len(all) != 11 {
		t.Fatalf("stored %d, want 11", len(all))
	}
	m, _ := shards.ReadManifest(out)
	if m.TotalCount != 11 {
		t.Fatalf("manifest %+v", m)
	}
	// Nothing is left to retry with that reason; the 404 is retried when all reasons are asked.
	st, err = Run(context.Background(), cfg, nil)
	if err != nil || st.Seen != 0 {
		t.Fatalf("second retry: %v %+v", err, st)
	}
	cfg.RetryReasons = nil
	st, err = Run(context.Background(), cfg, nil)
	if err != nil || st.Seen != 1 || st.Failures[ReasonNotFound] != 1 {
		t.Fatalf("retry of all reasons: %v %+v", err, st)
	}
	// A normal rerun still sees every item as done.
	cfg.RetryFailed = false
	st, err = Run(context.Background(), cfg, Items(items))
	if err != nil || st.Done != 0 || st.Skipped != 12 {
		t.Fatalf("rerun: %v %+v", err, st)
	}
}

func TestMaxShardBytesRotates(t *testing.T) {
	srv := newImageServer(t)
	out := t.TempDir()
	cfg := testConfig(t, out)
	cfg.SamplesPerShard = 1000
	cfg.MaxShardBytes = 1 // every batch closes a shard
	cfg.Workers = 1
	st, err := Run(context.Background(), cfg, Items(manyItems(srv.URL, "img", 70)))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := shards.ListFiles(out)
	if len(files) < 2 || st.ShardsWritten != len(files) {
		t.Fatalf("%d files, stats %+v", len(files), st)
	}
	if n := len(readSamples(t, out)); n != 70 {
		t.Fatalf("stored %d", n)
	}
}

func TestInputMismatchRefused(t *testing.T) {
	srv := newImageServer(t)
	out := t.TempDir()
	cfg := testConfig(t, out)
	cfg.InputName = "/data/a.csv"
	if _, err := Run(context.Background(), cfg, Items(manyItems(srv.URL, "img", 2))); err != nil {
		t.Fatal(err)
	}
	cfg.InputName = "/data/b.csv"
	if _, err := Run(context.Background(), cfg, Items(manyItems(srv.URL, "img", 2))); err == nil || !strings.Contains(err.Error(), "a.csv") {
		t.Fatalf("err = %v", err)
	}
}

func TestDirLocked(t *testing.T) {
	out := t.TempDir()
	unlock, err := lockDir(out)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := Run(context.Background(), testConfig(t, out), Items(nil)); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("err = %v", err)
	}
}

func TestLocalFiles(t *testing.T) {
	dir := t.TempDir()
	jpegData := readTestdata(t, "video-001.jpeg")
	os.WriteFile(filepath.Join(dir, "a.jpg"), jpegData, 0o644)
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "b.png"), readTestdata(t, "blue-purple-pink.png"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(dir, "big.jpg"), append(bytes.Clone(jpegData), make([]byte, 1<<20)...), 0o644)
	items := []Item{
		{URL: "file://" + filepath.Join(dir, "a.jpg")},
		{URL: "sub/b.png"}, // relative to BaseDir
		{URL: filepath.Join(dir, "notes.txt")},
		{URL: filepath.Join(dir, "missing.jpg")},
		{URL: filepath.Join(dir, "big.jpg")},
		{URL: "file://remote.example/x.jpg"},
	}
	out := t.TempDir()
	cfg := testConfig(t, out)
	cfg.BaseDir = dir
	cfg.LocalFiles = true
	cfg.MaxBytes = 512 << 10
	st, err := Run(context.Background(), cfg, Items(items))
	if err != nil {
		t.Fatal(err)
	}
	if st.Successes != 2 {
		t.Fatalf("stats %+v", st)
	}
	f := readFailures(t, out)
	want := map[string]string{items[2].URL: ReasonNotImage, items[3].URL: ReasonLocalRead, items[4].URL: ReasonTooLarge, items[5].URL: ReasonBadURL}
	for u, r := range want {
		if f[u] != r {
			t.Errorf("%s: %q, want %q", u, f[u], r)
		}
	}
	// Off by default: local paths and file:// URLs fail without being read, counted.
	cfg.Out = t.TempDir()
	cfg.LocalFiles = DefaultConfig().LocalFiles
	st, err = Run(context.Background(), cfg, Items(items[:5]))
	if err != nil || st.Failures[ReasonLocalFiles] != 5 || st.Failed != 5 {
		t.Fatalf("disabled: %v %+v", err, st)
	}
}

func TestFailuresOnlyRecordAndLedgerCleanup(t *testing.T) {
	srv := newImageServer(t)
	out := t.TempDir()
	cfg := testConfig(t, out)
	items := []Item{{URL: srv.URL + "/404"}, {URL: srv.URL + "/500"}}
	if _, err := Run(context.Background(), cfg, Items(items)); err != nil {
		t.Fatal(err)
	}
	// A failures-only record: stats without a shard file, still a valid ledger entry.
	st, err := shards.ReadShardStats(filepath.Join(out, shards.StatsName(0)))
	if err != nil || st.File != "" || st.Count != 2 || st.FailedFile == "" {
		t.Fatalf("record %+v %v", st, err)
	}
	// Simulate a kill between writing a shard's records and renaming the shard: the records must
	// be dropped and the items redone.
	orphan := &shards.ShardStats{File: shards.FileName(1), Count: 1, Successes: 1, InputRanges: [][2]int64{{2, 3}}}
	atomicfile.WriteJSON(filepath.Join(out, shards.StatsName(1)), orphan)
	os.WriteFile(filepath.Join(out, shards.FailedName(7)), []byte("{}\n"), 0o644) // failed list without stats
	os.WriteFile(filepath.Join(out, "00001.arrow.tmp-123"), []byte("partial"), 0o644)
	items = append(items, Item{URL: srv.URL + "/img/1.jpg"})
	st2, err := Run(context.Background(), cfg, Items(items))
	if err != nil || st2.Skipped != 2 || st2.Successes != 1 {
		t.Fatalf("resume: %v %+v", err, st2)
	}
	if _, err := os.Stat(filepath.Join(out, shards.FailedName(7))); !errors.Is(err, os.ErrNotExist) {
		t.Error("stray failed list kept")
	}
	assertNoTemp(t, out)
	if n := len(readSamples(t, out)); n != 1 {
		t.Fatalf("stored %d", n)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.Out = "" },
		func(c *Config) { c.Workers = 0 },
		func(c *Config) { c.ResizeMode = "stretch" },
		func(c *Config) { c.Quality = 101 },
		func(c *Config) { c.MaxAspect = 0.5 },
		func(c *Config) { c.SamplesPerShard = 0 },
		func(c *Config) { c.MaxBytes = 0 },
	}
	for i, mod := range bad {
		c := DefaultConfig()
		c.Out = "x"
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	c := DefaultConfig()
	c.Out = "x"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "f.yaml")
	os.WriteFile(path, []byte("size: 128\nresize_mode: center_crop\ndelay: 250ms\n"), 0o644)
	lc, err := LoadConfig(path)
	if err != nil || lc.Size != 128 || lc.ResizeMode != "center_crop" || lc.Delay != 250*time.Millisecond || lc.Quality != 95 {
		t.Fatalf("LoadConfig: %v %+v", err, lc)
	}
	os.WriteFile(path, []byte("sise: 128\n"), 0o644)
	if _, err := LoadConfig(path); err == nil {
		t.Fatal("misspelt key accepted")
	}
}

func TestToRanges(t *testing.T) {
	got := toRanges([]int64{5, 1, 2, 3, 9, 10, 3, 20})
	want := [][2]int64{{1, 4}, {5, 6}, {9, 11}, {20, 21}}
	if !slices.Equal(got, want) {
		t.Fatalf("toRanges = %v, want %v", got, want)
	}
	var b bitset
	b.set(0)
	b.set(130)
	if !b.has(0) || !b.has(130) || b.has(129) || b.has(1<<20) {
		t.Fatal("bitset")
	}
	b.clear(130)
	if b.has(130) {
		t.Fatal("bitset clear")
	}
}

// TestSchedulerAvoidsHeadOfLineBlocking puts a run of items from a slow host before items of a
// fast one: with one slot per host, the fast host's items must not wait behind the slow ones.
func TestSchedulerAvoidsHeadOfLineBlocking(t *testing.T) {
	slow, fast := newImageServer(t), newImageServer(t)
	slow.slow.Store(int64(100 * time.Millisecond))
	var mu sync.Mutex
	var slowArrivals, fastArrivals []time.Time
	slow.setOnRequest(func(string) { mu.Lock(); slowArrivals = append(slowArrivals, time.Now()); mu.Unlock() })
	fast.setOnRequest(func(string) { mu.Lock(); fastArrivals = append(fastArrivals, time.Now()); mu.Unlock() })
	items := append(manyItems(slow.URL, "slow", 10), manyItems(fast.URL, "img", 10)...)
	cfg := testConfig(t, t.TempDir())
	cfg.PerHost = 1
	cfg.Workers = 4
	st, err := Run(context.Background(), cfg, Items(items))
	if err != nil || st.Successes != 20 {
		t.Fatalf("%v %+v", err, st)
	}
	mu.Lock()
	defer mu.Unlock()
	if last := fastArrivals[len(fastArrivals)-1]; !last.Before(slowArrivals[3]) {
		t.Fatalf("fast host's last request came %s after the slow host's first; the slow host blocked it",
			last.Sub(slowArrivals[0]))
	}
}

func TestHostKey(t *testing.T) {
	for raw, want := range map[string]string{
		"http://Example.COM:8080/a.jpg": "example.com:8080",
		"HTTPS://img.test/x":            "img.test",
		"file:///tmp/a.jpg":             "",
		"/tmp/a.jpg":                    "",
		"http://[::1":                   "",
	} {
		if got := HostKey(raw); got != want {
			t.Errorf("HostKey(%q) = %q, want %q", raw, got, want)
		}
	}
}
