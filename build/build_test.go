package build

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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pemistahl/lingua-go"

	"github.com/witdata/wit/fetch"
	"github.com/witdata/wit/filter"
	"github.com/witdata/wit/querymatch"
	"github.com/witdata/wit/shards"
)

// testPage is one English page of the test site: its image and two captions (og/alt and
// figcaption), both of which match the test query list.
type testPage struct{ hex, alt, figcaption string }

var testPages = []testPage{
	{"1f347", "a bunch of purple grapes", "Grapes are a sweet fruit from the vine"},
	{"1f34c", "a ripe yellow banana", "The banana is the fruit of a tall plant"},
	{"1f34e", "a shiny red apple", "An apple a day keeps the doctor away"},
	{"1f431", "the face of a happy cat", "A cat looking straight at you"},
	{"1f436", "the face of a friendly dog", "A dog waiting for a walk"},
	{"1f6b2", "a green bicycle with two wheels", "Riding a bicycle to work"},
	{"2600", "the sun with bright rays", "The sun on a clear summer day"},
	{"26f5", "a sailboat on the blue sea", "A small sailboat leaving the harbour"},
}

const testQueries = "grapes\nbanana\napple\ncat\ndog\nbicycle\nsun\nsailboat\nfruit\nphoto\nHotel\nplate\nsticker\n"

// testSite serves the pages above plus an index gallery (duplicate pairs), a French and a German
// page, a robots.txt-disallowed section, junk captions and three broken images. It counts hits.
type testSite struct {
	srv        *httptest.Server
	mu         sync.Mutex
	hits       map[string]int
	imageDelay atomic.Int64 // ns; set while the server answers
	imagesOut  atomic.Int64
}

func newTestSite(t testing.TB) *testSite {
	s := &testSite{hits: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *testSite) hit(p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[p]
}

func html(lang, head, body string) string {
	return `<!doctype html><html lang="` + lang + `"><head><meta charset="utf-8">` + head + `</head><body>` + body + `</body></html>`
}

func (s *testSite) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	s.mu.Unlock()
	p := r.URL.Path
	page := func(body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, body)
	}
	switch {
	case p == "/robots.txt":
		fmt.Fprint(w, "User-agent: *\nDisallow: /private/\n")
	case p == "/":
		var b strings.Builder
		for _, tp := range testPages {
			fmt.Fprintf(&b, `<a href="/en/%s.html">%s</a> <img src="/img/%s.png" alt="%s">`, tp.hex, tp.hex, tp.hex, tp.alt)
		}
		b.WriteString(`<a href="/fr.html">fr</a> <a href="/de.html">de</a> <a href="/private/secret.html">secret</a> <a href="/broken.html">broken</a>`)
		b.WriteString(`<img src="/img/1f431.png" alt="cat"> <img src="/img/1f436.png" alt="IMG_0001.JPG">`)
		page(html("en", "<title>gallery</title>", b.String()))
	case strings.HasPrefix(p, "/en/"):
		hex := strings.TrimSuffix(strings.TrimPrefix(p, "/en/"), ".html")
		i := slices.IndexFunc(testPages, func(tp testPage) bool { return tp.hex == hex })
		if i < 0 {
			http.NotFound(w, r)
			return
		}
		tp := testPages[i]
		head := fmt.Sprintf(`<meta property="og:image" content="/img/%s.png"><meta property="og:image:alt" content="%s">`, tp.hex, tp.alt)
		body := fmt.Sprintf(`<figure><img src="/img/%s.png" alt="%s"><figcaption>%s</figcaption></figure><a href="/">home</a>`, tp.hex, tp.alt, tp.figcaption)
		page(html("en", head, body))
	case p == "/fr.html":
		page(html("fr", "", `<img src="/img/1f34e.png" alt="une photo de la pomme rouge sur la table">
			<img src="/img/1f431.png" alt="une photo du chat qui dort sur le canapé">`))
	case p == "/de.html":
		page(html("de", "", `<img src="/img/1f6b2.png" alt="Das Fahrrad steht vor dem Hotel am See">`))
	case p == "/private/secret.html":
		page(html("en", "", `<img src="/img/1f436.png" alt="a secret photo of a dog">`))
	case p == "/broken.html":
		page(html("en", "", `<img src="/img/trunc.png" alt="a red apple on a plate">
			<img src="/img/page.png" alt="a banana on a plate">
			<img src="/img/gone.png" alt="a cat face sticker">`))
	case p == "/img/trunc.png":
		data, _ := os.ReadFile("testdata/1f34e.png")
		w.Header().Set("Content-Type", "image/png")
		w.Write(data[:len(data)/2])
	case p == "/img/page.png":
		w.Header().Set("Content-Type", "image/png")
		fmt.Fprint(w, html("en", "<title>not an image</title>", "<p>this is a web page</p>"))
	case strings.HasPrefix(p, "/img/"):
		data, err := os.ReadFile(filepath.Join("testdata", strings.TrimPrefix(p, "/img/")))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if d := time.Duration(s.imageDelay.Load()); d > 0 {
			time.Sleep(d)
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(data)
		s.imagesOut.Add(1)
	default:
		http.NotFound(w, r)
	}
}

var (
	testStagesOnce sync.Once
	testStages     filter.Stages
	testStagesErr  error
)

func stagesForTest(t testing.TB) *filter.Stages {
	testStagesOnce.Do(func() {
		m, err := querymatch.Load(strings.NewReader(testQueries), querymatch.Options{})
		if err != nil {
			testStagesErr = err
			return
		}
		lf, err := filter.NewLanguageFilter(filter.LanguageOptions{Keep: []lingua.Language{lingua.English},
			Detect: []lingua.Language{lingua.English, lingua.French, lingua.German}})
		if err != nil {
			testStagesErr = err
			return
		}
		testStages = filter.Stages{Text: filter.DefaultTextRules(), Matcher: m, Language: lf}
	})
	if testStagesErr != nil {
		t.Fatal(testStagesErr)
	}
	st := testStages
	return &st
}

func testConfig(t testing.TB, site *testSite, out string) Config {
	seeds := filepath.Join(t.TempDir(), "seeds.txt")
	if err := os.WriteFile(seeds, []byte("# the test site\n"+site.srv.URL+"/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Seeds, cfg.Out = seeds, out
	cfg.SetNetwork(true, 0, 4)
	cfg.Crawl.Workers = 4
	cfg.Crawl.Timeout = 5 * time.Second
	cfg.Fetch.Workers = 4
	cfg.Fetch.Size = 64
	cfg.Fetch.Retries = 0
	cfg.Filter.Balance = 100
	cfg.Stages = stagesForTest(t)
	cfg.ProgressEvery = 50 * time.Millisecond
	return cfg
}

// readAll returns the samples of a shard directory.
func readAll(t testing.TB, dir string) []*shards.Sample {
	t.Helper()
	var out []*shards.Sample
	for rec, err := range shards.ReadDir(context.Background(), dir, nil) {
		if err != nil {
			t.Fatal(err)
		}
		for i := range int(rec.NumRows()) {
			s, err := shards.SampleAt(rec, i)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
	}
	return out
}

func wantKept() []string {
	var want []string
	for _, tp := range testPages {
		want = append(want, "/img/"+tp.hex+".png|"+tp.alt, "/img/"+tp.hex+".png|"+tp.figcaption)
	}
	slices.Sort(want)
	return want
}

func sampleKeys(t testing.TB, base string, samples []*shards.Sample) []string {
	var got []string
	for _, s := range samples {
		got = append(got, strings.TrimPrefix(s.URL, base)+"|"+s.Caption)
	}
	slices.Sort(got)
	return got
}

func checkOutcome(t *testing.T, site *testSite, out string, st Stats) {
	t.Helper()
	samples := readAll(t, filepath.Join(out, ShardsDir))
	got := sampleKeys(t, site.srv.URL, samples)
	if want := wantKept(); !slices.Equal(got, want) {
		t.Errorf("samples:\n got %q\nwant %q", got, want)
	}
	for _, s := range samples {
		if strings.Contains(s.PageURL, "/private/") || strings.Contains(s.PageURL, "/fr.html") || strings.Contains(s.PageURL, "/de.html") {
			t.Errorf("sample from %s", s.PageURL)
		}
		if s.Language != "en" || len(s.MatchedQueries) == 0 || s.Width != 64 {
			t.Errorf("sample %s: language %q, queries %v, width %d", s.Key, s.Language, s.MatchedQueries, s.Width)
		}
	}
	if n := site.hit("/private/secret.html"); n != 0 {
		t.Errorf("robots-disallowed page fetched %d times", n)
	}
	if st.Crawl.RobotsBlocked != 1 {
		t.Errorf("robots blocked %d, want 1", st.Crawl.RobotsBlocked)
	}
	f := st.Filter
	if f.Dropped[filter.ReasonLanguage] != 3 {
		t.Errorf("language drops %d, want 3 (two French, one German)", f.Dropped[filter.ReasonLanguage])
	}
	if f.Dropped[filter.ReasonDuplicate] != int64(len(testPages)) {
		t.Errorf("duplicates %d, want %d (the index gallery repeats every page's alt)", f.Dropped[filter.ReasonDuplicate], len(testPages))
	}
	if f.Dropped[filter.ReasonTooShort] != 1 || f.Dropped[filter.ReasonJunkFilename] != 1 {
		t.Errorf("text rule drops: %v", f.Dropped)
	}
	if f.Kept != int64(2*len(testPages)+3) || st.Queue.Items != f.Kept {
		t.Errorf("kept %d, queue %d, want %d", f.Kept, st.Queue.Items, 2*len(testPages)+3)
	}
	rep, err := shards.Verify(context.Background(), filepath.Join(out, ShardsDir), shards.VerifyOptions{DecodeImages: true})
	if err != nil || !rep.OK() {
		t.Errorf("verify: %v %+v", err, rep)
	}
	var saved Stats
	data, err := os.ReadFile(filepath.Join(out, StatsFile))
	if err != nil || json.Unmarshal(data, &saved) != nil || !saved.Finished || saved.Filter.Kept != f.Kept {
		t.Errorf("stats file: %v %s", err, data)
	}
}

// failureCounts sums the failures recorded in every shard's stats.
func failureCounts(t testing.TB, dir string) map[string]int64 {
	out := map[string]int64{}
	paths, _ := filepath.Glob(filepath.Join(dir, "*_stats.json"))
	for _, p := range paths {
		ss, err := shards.ReadShardStats(p)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range ss.Failures {
			out[k] += v
		}
	}
	return out
}

// brokenImagesFailed checks the three broken images of the site failed, each once: the truncated
// PNG (decode), the HTML page served as image/png (not_image, or unsupported_format when the
// declared type is trusted and the decoder finds no image) and the 404.
func brokenImagesFailed(f map[string]int64) bool {
	return f[fetch.ReasonDecode] == 1 && f[fetch.ReasonNotImage]+f[fetch.ReasonFormat] == 1 && f[fetch.ReasonNotFound] == 1
}

func TestBuildEndToEnd(t *testing.T) {
	site := newTestSite(t)
	out := t.TempDir()
	cfg := testConfig(t, site, out)
	var progress atomic.Int64
	cfg.Progress = func(Stats) { progress.Add(1) }
	st, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkOutcome(t, site, out, st)
	if !st.Finished || st.Fetch.Successes != int64(2*len(testPages)) {
		t.Errorf("finished %v, fetched %d", st.Finished, st.Fetch.Successes)
	}
	if got := st.Fetch.Failures; !brokenImagesFailed(got) || st.Fetch.Failed != 3 {
		t.Errorf("fetch failures %v, want one each of decode, not_image|unsupported_format, http_404", got)
	}
	if st.Filter.Balance == nil || st.Filter.Balance.EntriesMatched == 0 {
		t.Errorf("balance stats %+v", st.Filter.Balance)
	}
	var sb strings.Builder
	st.WriteSummary(&sb)
	for _, s := range []string{"robots-blocked", "language", "duplicate", "http_404"} {
		if !strings.Contains(sb.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, sb.String())
		}
	}

	// A rerun of a finished build fetches nothing and changes nothing.
	pagesBefore := site.hit("/")
	st2, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if site.hit("/") != pagesBefore || st2.Fetch.Done != 0 || st2.Fetch.Skipped != st.Queue.Items {
		t.Errorf("rerun: index fetched again %v, fetch done %d skipped %d", site.hit("/") != pagesBefore, st2.Fetch.Done, st2.Fetch.Skipped)
	}
	checkOutcome(t, site, out, st2)
}

// TestBuildResume cancels a build while images are downloading and runs it again: the result
// is the uninterrupted one, with no page crawled twice and no sample written twice.
func TestBuildResume(t *testing.T) {
	site := newTestSite(t)
	site.imageDelay.Store(int64(30 * time.Millisecond))
	out := t.TempDir()
	cfg := testConfig(t, site, out)
	cfg.Fetch.Workers = 1
	cfg.Fetch.PerHost = 1
	cfg.Fetch.SamplesPerShard = 3
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for site.imagesOut.Load() < 5 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	st1, err := Run(ctx, cfg)
	if err == nil || st1.Finished {
		t.Fatalf("first run: err %v finished %v (the cancel came too late to test anything)", err, st1.Finished)
	}
	cancel()
	site.imageDelay.Store(0)
	st, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkOutcome(t, site, out, st)
	for _, tp := range testPages {
		if n := site.hit("/en/" + tp.hex + ".html"); n != 1 {
			t.Errorf("page %s fetched %d times", tp.hex, n)
		}
	}
	if f := failureCounts(t, filepath.Join(out, ShardsDir)); !brokenImagesFailed(f) {
		t.Errorf("failures over both runs: %v", f)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"ok", func(*Config) {}, true},
		{"no seeds", func(c *Config) { c.Seeds = "" }, false},
		{"no out", func(c *Config) { c.Out = "" }, false},
		{"negative balance", func(c *Config) { c.Filter.Balance = -1 }, false},
	} {
		c := DefaultConfig()
		c.Seeds, c.Out = "s.txt", "o"
		tc.edit(&c)
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: err %v", tc.name, err)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	cfg, err := LoadConfig("../configs/build.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultConfig()
	if cfg.Crawl.PerHost != def.Crawl.PerHost || cfg.Fetch.LocalFiles || cfg.Filter.Queries != "default" || cfg.MaxLag != def.MaxLag {
		t.Errorf("configs/build.yaml differs from the defaults it documents: %+v", cfg)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("crawl:\n  per_hots: 3\n"), 0o644)
	if _, err := LoadConfig(bad); err == nil {
		t.Error("misspelt key accepted")
	}
}

// TestBuildStopsOnStageError: a stage that fails stops the others; nothing hangs.
func TestBuildStopsOnStageError(t *testing.T) {
	site := newTestSite(t)
	cfg := testConfig(t, site, t.TempDir())
	cfg.Seeds = filepath.Join(t.TempDir(), "missing.txt")
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), cfg)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "missing.txt") {
			t.Errorf("err %v, want the missing seeds file", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("build did not stop after the crawl failed")
	}

	// A shard directory made from another queue is refused by fetch, and the crawl stops too.
	out := t.TempDir()
	cfg = testConfig(t, site, out)
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(out, QueueStateDir))
	if _, err := Run(context.Background(), cfg); err == nil {
		t.Error("shards of another queue accepted")
	}
}
