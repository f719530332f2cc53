package view

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/witdata/wit/inference"
)

// findChromium returns the path of a Chromium or Chrome binary: $WIT_CHROMIUM, else the first of
// the usual names on $PATH ("" when there is none).
func findChromium() string {
	if p := os.Getenv("WIT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowser drives a real headless Chromium through the viewer of the test dataset, with search
// by a trained tiny checkpoint: the grid shows every thumbnail, a filter narrows it, the stats
// page draws its charts, a text search finds the image whose caption was typed. It saves a
// screenshot of each page in its temp folder, and into $WIT_VIEW_SCREENSHOTS when set (the README's
// pictures: WIT_VIEW_SCREENSHOTS=$PWD/docs go test -run TestBrowser ./view).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	chrome := findChromium()
	if chrome == "" {
		t.Skip("no Chromium found (install Debian's chromium: apt-get install -y chromium, as .ci/run does; or set WIT_CHROMIUM)")
	}
	began := time.Now()
	run := tinyCheckpoint(t)
	e, err := inference.LoadCheckpoint(run)
	if err != nil {
		t.Fatal(err)
	}
	dir, rows := writeTestDataset(t, 7, 3)
	d := openTest(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	search, err := NewSearch(ctx, d, e, SearchOptions{Checkpoint: e.Dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := search.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(d, ServerOptions{Search: search})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, s) }()
	defer func() {
		cancel()
		<-served
	}()
	base := "http://" + ln.Addr().String()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox, // root on CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("Chromium at %s does not start: %v", chrome, err)
	}

	shots := t.TempDir()
	screenshot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		for _, dir := range []string{shots, os.Getenv("WIT_VIEW_SCREENSHOTS")} {
			if dir != "" {
				if err := os.WriteFile(filepath.Join(dir, "view-"+name+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// allLoaded waits until every image matched by sel has loaded (the grid's are lazy: scroll first).
	allLoaded := func(sel string, want int) {
		t.Helper()
		expr := fmt.Sprintf(`(() => { window.scrollTo(0, document.body.scrollHeight);
			const imgs = Array.from(document.querySelectorAll(%q));
			return imgs.length === %d && imgs.every(i => i.complete && i.naturalWidth > 0); })()`, sel, want)
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			n, _ := chromedp.Run(bctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
			t.Fatalf("%s: not all %d images loaded (%d there): %v", sel, want, n, err)
		}
		chromedp.Run(bctx, chromedp.Evaluate[any](`window.scrollTo(0, 0)`)) // best effort: only for the screenshot
	}
	keysOf := func(sel string) []string {
		t.Helper()
		keys, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).map(c => c.dataset.key)`, sel)))
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}

	// The grid: a card and a loaded thumbnail per sample.
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#grid img.thumb"))); err != nil {
		t.Fatal(err)
	}
	allLoaded("#grid img.thumb", len(rows))
	if keys := keysOf("#grid .card"); len(keys) != len(rows) || keys[0] != d.Key(0) {
		t.Fatalf("grid shows %v", keys)
	}
	screenshot("grid")

	// A filter typed into the form narrows the grid.
	if _, err := chromedp.RunResponse(bctx,
		chromedp.SetValue(chromedp.CSS(`#filters input[name="text"]`), "rose"),
		chromedp.Submit(chromedp.CSS(`#filters input[name="text"]`)),
	); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i, r := range rows {
		if strings.Contains(r.Caption, "rose") {
			want = append(want, d.Key(int64(i)))
		}
	}
	allLoaded("#grid img.thumb", len(want))
	if keys := keysOf("#grid .card"); !slices.Equal(keys, want) {
		t.Fatalf("filter rose shows %v, want %v", keys, want)
	}
	// ... and a select filters on change (the page's script submits the form).
	if _, err := chromedp.RunResponse(bctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(() => { const s = document.querySelector('select[name="lang"]');
			s.value = "fr"; return s.dispatchEvent(new Event("change")); })()`)(ctx, tg)
		return err
	})); err != nil {
		t.Fatal(err)
	}
	if keys := keysOf("#grid .card"); len(keys) != 1 {
		t.Fatalf("rose in French shows %v", keys)
	}

	// The stats page draws every chart.
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/stats"), chromedp.WaitVisible(chromedp.CSS("#charts img"))); err != nil {
		t.Fatal(err)
	}
	allLoaded("#charts img", len(s.charts))
	screenshot("stats")

	// A sample's page: the full image and its near-duplicate.
	still := slices.IndexFunc(rows, func(r testRow) bool { return r.File == "video-001.jpeg" })
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/sample?key="+d.Key(int64(still)))); err != nil {
		t.Fatal(err)
	}
	allLoaded("#full, #duplicates img", 2)
	screenshot("sample")

	// Search: type a caption into the search box; its image comes among the first three.
	apple := slices.IndexFunc(rows, func(r testRow) bool { return r.File == "green-apple.png" })
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(bctx, chromedp.SendKeys(chromedp.CSS(`form.search input[name="q"]`), rows[apple].Caption+"\n")); err != nil {
		t.Fatal(err)
	}
	allLoaded("#results img.thumb", len(rows)) // 24 asked, 17 there
	if keys := keysOf("#results .card"); !slices.Contains(keys[:3], d.Key(int64(apple))) {
		t.Fatalf("search %q: first results %v, want %s among the first three", rows[apple].Caption, keys[:3], d.Key(int64(apple)))
	}
	status, err := chromedp.Run(bctx, chromedp.Poll[string](`document.getElementById("embed-status").textContent`))
	if err != nil || !strings.Contains(status, "17 images searchable") {
		t.Errorf("embedding status %q %v", status, err)
	}
	screenshot("search")
	t.Logf("browser test in %s (model training included); screenshots in %s", time.Since(began).Round(time.Millisecond), shots)
}
