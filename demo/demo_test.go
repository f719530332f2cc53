package demo

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pemistahl/lingua-go"

	"github.com/witdata/wit/fetch"
	"github.com/witdata/wit/filter"
	"github.com/witdata/wit/model"
	"github.com/witdata/wit/querymatch"
	"github.com/witdata/wit/shards"
)

func TestConcepts(t *testing.T) {
	cs, err := Concepts()
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 300 {
		t.Errorf("%d concepts, want 300", len(cs))
	}
	for _, c := range cs {
		if c.Name == "" || c.NameFR == "" || c.NameDE == "" || GroupNames[c.Group] == "" {
			t.Errorf("concept %+v incomplete", c)
		}
		for _, style := range []string{TrainStyle, HeldOutStyle} {
			data, err := siteFS.ReadFile("site/img/" + style + "/" + c.Hex + ".png")
			if err != nil {
				t.Fatalf("%s %s: %v", style, c.Hex, err)
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(data))
			if err != nil || cfg.Width != 64 || cfg.Height != 64 {
				t.Errorf("%s %s: %v %dx%d", style, c.Hex, err, cfg.Width, cfg.Height)
			}
		}
	}
	for _, f := range []string{"ATTRIBUTION", "LICENSE-noto-Apache-2.0.txt", "LICENSE-fluent-MIT.txt", "LICENSE-CLDR.txt"} {
		if _, err := siteFS.ReadFile("site/" + f); err != nil {
			t.Errorf("licence notice missing: %v", err)
		}
	}
}

func TestParseConceptsRejectsBadInput(t *testing.T) {
	for _, in := range []string{"", "hex\temoji\n", "a\tb\tc\td\te\tf\tg\th\ti\tj\n1\t2\n"} {
		if _, err := parseConcepts(strings.NewReader(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// TestPresetMatchesConfigs keeps the embedded preset equal to configs/clip-tiny.yaml.
func TestPresetMatchesConfigs(t *testing.T) {
	want, err := os.ReadFile("../configs/clip-tiny.yaml")
	if err != nil {
		t.Skip("configs/clip-tiny.yaml not found:", err)
	}
	if !bytes.Equal(want, clipTinyYAML) {
		t.Error("demo/clip-tiny.yaml differs from configs/clip-tiny.yaml: copy it over")
	}
	if _, err := DefaultPreset(); err != nil {
		t.Error(err)
	}
}

func get(t *testing.T, h http.Handler, p string) (int, string, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, rec.Header().Get("Content-Type"), string(body)
}

func TestSitePages(t *testing.T) {
	site, err := NewSite(0)
	if err != nil {
		t.Fatal(err)
	}
	c := site.SiteConcepts()[7]
	for _, tc := range []struct {
		path, ctype string
		code        int
		contains    []string
	}{
		{"/robots.txt", "text/plain", 200, []string{"Disallow: /members/"}},
		{"/", "text/html", 200, []string{`href="/en/"`, `href="/members/"`}},
		{"/en/", "text/html", 200, []string{`href="/en/group/` + c.Group + `.html"`, `href="/en/misc.html"`}},
		{"/en/emoji/" + c.Hex + ".html", "text/html", 200, []string{`<html lang="en">`, `property="og:image"`, `srcset="/img/noto/` + c.Hex + `.png 64w"`,
			`data-src="/img/fluent/` + c.Hex + `.png"`, "<figcaption>", `alt="` + c.Name + `"`}},
		{"/fr/emoji/" + c.Hex + ".html", "text/html", 200, []string{`<html lang="fr">`, c.NameFR}},
		{"/de/emoji/" + c.Hex + ".html", "text/html", 200, []string{`<html lang="de">`, c.NameDE}},
		{"/de/group/" + c.Group + ".html", "text/html", 200, []string{`href="/de/emoji/` + c.Hex + `.html"`}},
		{"/en/misc.html", "text/html", 200, []string{"/img/broken/truncated.png", "/img/broken/page.png", "/img/missing/cat.png", "IMG_0042.JPG"}},
		{"/members/", "text/html", 200, []string{"/members/private-0.html"}},
		{"/members/private-3.html", "text/html", 200, []string{"members only"}},
		{"/img/noto/" + c.Hex + ".png", "image/png", 200, []string{"\x89PNG"}},
		{"/img/broken/page.png", "image/png", 200, []string{"<html>"}},
		{"/img/missing/cat.png", "text/plain", 404, nil},
		{"/img/noto/zzzz.png", "text/plain", 404, nil},
		{"/fr/misc.html", "text/plain", 404, nil},
		{"/xx/emoji/" + c.Hex + ".html", "text/plain", 404, nil},
		{"/members/private-99.html", "text/plain", 404, nil},
	} {
		code, ctype, body := get(t, site, tc.path)
		if code != tc.code || !strings.HasPrefix(ctype, tc.ctype) {
			t.Errorf("%s: %d %s, want %d %s", tc.path, code, ctype, tc.code, tc.ctype)
		}
		for _, s := range tc.contains {
			if !strings.Contains(body, s) {
				t.Errorf("%s lacks %q", tc.path, s)
			}
		}
	}
	_, _, trunc := get(t, site, "/img/broken/truncated.png")
	if _, err := png.Decode(strings.NewReader(trunc)); err == nil {
		t.Error("the truncated PNG decodes")
	}
}

// tinyPreset is a CLIP small enough to take a few steps in seconds.
const tinyPreset = `model:
  name: demo-test
  embed_dim: 32
  image_resolution: 16
  vision_layers: 1
  vision_width: 32
  vision_patch_size: 8
  vision_heads: 2
  context_length: 16
  vocab_size: 512
  transformer_width: 32
  transformer_heads: 2
  transformer_layers: 1
train:
  batch_size: 16
  learning_rate: 0.001
  min_learning_rate: 0.0001
  warmup_steps: 1
  steps: 3
  weight_decay: 0.2
  beta1: 0.9
  beta2: 0.98
  epsilon: 1.0e-6
`

func testStages(t *testing.T) *filter.Stages {
	m, err := querymatch.Default(querymatch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Three candidate languages keep lingua's model loading short; the site has no others.
	lf, err := filter.NewLanguageFilter(filter.LanguageOptions{Keep: []lingua.Language{lingua.English},
		Detect: []lingua.Language{lingua.English, lingua.French, lingua.German}})
	if err != nil {
		t.Fatal(err)
	}
	return &filter.Stages{Text: filter.DefaultTextRules(), Matcher: m, Language: lf}
}

// TestDemoShort runs the demo end to end on a 40-concept site with a tiny model and three
// training steps, and checks what each stage must have done.
func TestDemoShort(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end demo")
	}
	preset, err := model.ParseFile([]byte(tinyPreset))
	if err != nil {
		t.Fatal(err)
	}
	site, err := NewSite(40)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "demo")
	var stdout bytes.Buffer
	rep, err := Run(context.Background(), Options{Out: out, Site: site, Preset: &preset, TrainSteps: 3, BatchSize: 16,
		Stages: testStages(t), Stdout: &stdout})
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	t.Log("\n" + stdout.String())
	b := rep.Build

	// robots.txt: the members' area was never requested.
	if n := site.HitsUnder("/members/"); n != 0 || b.Crawl.RobotsBlocked == 0 {
		t.Errorf("members' area: %d requests, %d robots-blocked", n, b.Crawl.RobotsBlocked)
	}
	// Broken images: failures by reason, nothing written for them.
	f := b.Fetch.Failures
	if f[fetch.ReasonDecode] == 0 || f[fetch.ReasonNotFound] == 0 || f[fetch.ReasonNotImage]+f[fetch.ReasonFormat] == 0 {
		t.Errorf("fetch failures %v: want the truncated PNG, the HTML page and the 404", f)
	}
	// French and German captions: dropped by the language filter, none in the shards.
	if b.Filter.Dropped[filter.ReasonLanguage] < int64(len(site.SiteConcepts())) {
		t.Errorf("language drops %d", b.Filter.Dropped[filter.ReasonLanguage])
	}
	if b.Filter.Dropped[filter.ReasonDuplicate] == 0 || b.Filter.Dropped[filter.ReasonJunkFilename] == 0 {
		t.Errorf("dedup/junk drops: %v", b.Filter.Dropped)
	}
	var total, foreign int
	for _, dir := range []string{filepath.Join(out, DataDir, "shards"), filepath.Join(out, TrainDir), filepath.Join(out, HeldOutDir)} {
		rep, err := shards.Verify(context.Background(), dir, shards.VerifyOptions{DecodeImages: true})
		if err != nil || !rep.OK() {
			t.Errorf("verify %s: %v %+v", dir, err, rep)
		}
		for rec, err := range shards.ReadDir(context.Background(), dir, nil) {
			if err != nil {
				t.Fatal(err)
			}
			for i := range int(rec.NumRows()) {
				s, _ := shards.SampleAt(rec, i)
				if s.Language != "en" {
					t.Errorf("%s: sample from %s, language %q", dir, s.PageURL, s.Language)
				}
				if strings.Contains(s.PageURL, "/fr/") || strings.Contains(s.PageURL, "/de/") {
					foreign++
				}
				if style, _ := styleOf(s.URL); dir == filepath.Join(out, TrainDir) && style != TrainStyle {
					t.Errorf("held-out style in the training shards: %s", s.URL)
				}
				total++
			}
		}
	}
	// Short names such as "chat qui sourit" or "Copyright" pass as English: a few may slip
	// through, but the French and German pages must be overwhelmingly dropped.
	if int64(foreign) != 2*rep.ForeignKept || rep.ForeignKept*10 > b.Filter.Dropped[filter.ReasonLanguage] {
		t.Errorf("%d samples from French/German pages (report: %d), %d language drops", foreign, rep.ForeignKept, b.Filter.Dropped[filter.ReasonLanguage])
	}
	if int64(total) != 2*b.Fetch.DatasetCount || rep.TrainPairs == 0 || rep.HeldOut == 0 {
		t.Errorf("samples: %d read, dataset %d, train %d, held-out %d", total, b.Fetch.DatasetCount, rep.TrainPairs, rep.HeldOut)
	}
	// Training and evaluation ran and produced figures.
	if rep.Train == nil || rep.Train.Steps != 3 || rep.Train.LastLoss <= 0 {
		t.Errorf("train: %+v", rep.Train)
	}
	if e := rep.Eval; e == nil || e.HeldOutRetrieval.TextToImage.Queries == 0 || e.ZeroShot.Images == 0 {
		t.Errorf("eval: %+v", rep.Eval)
	}
	viewCmd := "wit view " + filepath.Join(out, DataDir, "shards") + " --checkpoint " + filepath.Join(out, RunDir)
	for _, s := range []string{"robots.txt", "language", "R@1", "zero-shot", "outputs:", filepath.Join(out, RunDir), viewCmd} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("report lacks %q", s)
		}
	}
	if _, err := os.Stat(filepath.Join(out, ReportFile)); err != nil {
		t.Error(err)
	}
	// A rerun replaces the earlier demo; a foreign directory is refused.
	foreignDir := t.TempDir()
	os.WriteFile(filepath.Join(foreignDir, "notes.txt"), []byte("mine"), 0o644)
	if _, err := Run(context.Background(), Options{Out: foreignDir, NoTrain: true, Stdout: io.Discard}); err == nil {
		t.Error("a non-demo directory was accepted as --out")
	}
}

func FuzzParseConcepts(f *testing.F) {
	data, err := siteFS.ReadFile("site/concepts.tsv")
	if err != nil {
		f.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	f.Add(strings.Join(lines[:4], ""))
	f.Add(lines[0] + "x\t\"y\tz\n")
	f.Fuzz(func(t *testing.T, in string) {
		cs, err := parseConcepts(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, c := range cs {
			if c.Hex == "" || c.Name == "" {
				t.Fatalf("accepted an incomplete concept %+v", c)
			}
		}
	})
}

// FuzzSitePaths checks that no request path makes the site fail other than with 404.
func FuzzSitePaths(f *testing.F) {
	site, err := NewSite(20)
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"/", "/en/", "/fr/emoji/1f34e.html", "/members/private-1.html", "/img/noto/../../x", "/de/group/x.html"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		req, err := http.NewRequest("GET", "http://site.test/", nil)
		if err != nil {
			t.Skip()
		}
		req.URL.Path = "/" + p
		rec := httptest.NewRecorder()
		site.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 404 {
			t.Fatalf("%q: status %d", p, rec.Code)
		}
	})
}
