package view

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/witdata/wit/imgproc"
	"github.com/witdata/wit/shards"
)

// handEmbedder is a handcrafted Embedder over the test rows: row i's image embeds as the unit
// vector of (basis i + ½ Σ basis of its queries) and a text as the embedding of the row whose caption
// it is, or else as the sum of the query entries it names. So a caption finds its image first,
// and rows sharing queries are alike. One image (unusable) yields no embedding. Images are taken
// to come in dataset order (two rows have the same stored image: the video still's twin).
type handEmbedder struct {
	rows       []testRow
	queries    []string
	unusable   string // caption of the row whose image is unusable
	imageCalls atomic.Int64
	next       int           // row of the next image
	onCall     func(n int64) // called with the call count at every EmbedImages call (nil: none)
}

func newHandEmbedder(rows []testRow, unusable string) *handEmbedder {
	e := &handEmbedder{rows: rows, unusable: unusable}
	for _, r := range rows {
		for _, q := range r.Queries {
			if !slices.Contains(e.queries, q) {
				e.queries = append(e.queries, q)
			}
		}
	}
	return e
}

func (e *handEmbedder) Dim() int { return len(e.rows) + len(e.queries) }

func (e *handEmbedder) rowVector(i int) []float32 {
	v := make([]float32, e.Dim())
	v[i] = 1
	for _, q := range e.rows[i].Queries {
		v[len(e.rows)+slices.Index(e.queries, q)] += 0.5
	}
	normalize(v)
	return v
}

func (e *handEmbedder) EmbedImages(images [][]byte) ([][]float32, error) {
	if n := e.imageCalls.Add(1); e.onCall != nil {
		e.onCall(n)
	}
	out := make([][]float32, len(images))
	var bad error
	for k, img := range images {
		i := e.next
		e.next++
		if i >= len(e.rows) || !bytes.Equal(e.rows[i].Image, img) {
			return nil, fmt.Errorf("image %d is not row %d's", k, i)
		}
		if e.rows[i].Caption == e.unusable {
			bad = fmt.Errorf("image %d unusable", k)
			continue
		}
		out[k] = e.rowVector(i)
	}
	return out, bad
}

func (e *handEmbedder) EmbedTexts(texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for k, t := range texts {
		if i := slices.IndexFunc(e.rows, func(r testRow) bool { return r.Caption == t }); i >= 0 {
			out[k] = e.rowVector(i)
			continue
		}
		v := make([]float32, e.Dim())
		for j, q := range e.queries {
			if slices.Contains(strings.Fields(t), q) {
				v[len(e.rows)+j] = 1
			}
		}
		normalize(v)
		out[k] = v
	}
	return out, nil
}

type testServer struct {
	*httptest.Server
	d    *Dataset
	rows []testRow
}

func newTestServer(t *testing.T, opts ServerOptions) *testServer {
	t.Helper()
	dir, rows := writeTestDataset(t, 7, 3)
	d := openTest(t, dir)
	s, err := NewServer(d, opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, d: d, rows: rows}
}

// get fetches path and returns the status and body.
func (ts *testServer) get(t *testing.T, path string) (int, string, http.Header) {
	t.Helper()
	res, err := ts.Client().Get(ts.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body), res.Header
}

func (ts *testServer) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	code, body, _ := ts.get(t, path+sep+"format=json")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
}

func captions(ss []Sample) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Caption
	}
	return out
}

func TestGridPaging(t *testing.T) {
	ts := newTestServer(t, ServerOptions{PageSize: 5})
	var got []string
	next := "/"
	for pages := 0; next != ""; pages++ {
		var p Page
		ts.getJSON(t, next, &p)
		if len(p.Samples) > 5 || pages > 5 {
			t.Fatalf("page of %d samples", len(p.Samples))
		}
		got = append(got, captions(p.Samples)...)
		next = ""
		if p.Next < p.Total {
			next = fmt.Sprintf("/?start=%d", p.Next)
		}
	}
	var want []string
	for _, r := range ts.rows {
		want = append(want, r.Caption)
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged through %q\nwant %q", got, want)
	}

	// The HTML page: one card per sample with its thumbnail, the next page's link, and the page URL
	// linked only when it is a web URL.
	code, body, h := ts.get(t, "/?start=15")
	if code != 200 || strings.Count(body, `class="card"`) != 2 || strings.Count(body, `<img class="thumb" src="/thumb?key=`) != 2 {
		t.Fatalf("grid page %d:\n%s", code, body)
	}
	if !strings.Contains(body, `href="https://fleurs.example.org/yellow-rose.html"`) || strings.Contains(body, "javascript:") {
		t.Error("page links: web URLs linked, javascript: never")
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", h)
	}
	if code, body, _ := ts.get(t, "/"); code != 200 || !strings.Contains(body, `href="/?start=5"`) {
		t.Errorf("first page lacks the next link: %d", code)
	}
}

func TestGridFilters(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	for _, tc := range []struct {
		query string
		want  func(r testRow) bool
	}{
		{"text=rose", func(r testRow) bool { return strings.Contains(r.Caption, "rose") }},
		{"query=gopher", func(r testRow) bool { return slices.Contains(r.Queries, "gopher") }},
		{"lang=de", func(r testRow) bool { return r.Language == "de" }},
		{"source=figcaption", func(r testRow) bool { return r.Source == "figcaption" }},
		{"minw=200", func(r testRow) bool { return r.OrigWidth >= 200 }},
		{"text=a&source=alt&lang=en", func(r testRow) bool {
			return strings.Contains(strings.ToLower(r.Caption), "a") && r.Source == "alt" && r.Language == "en"
		}},
	} {
		var p Page
		ts.getJSON(t, "/?"+tc.query, &p)
		var want []string
		for _, r := range ts.rows {
			if tc.want(r) {
				want = append(want, r.Caption)
			}
		}
		if got := captions(p.Samples); !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("%s: %q, want %q", tc.query, got, want)
		}
	}
	// The filter's links keep the filter.
	_, body, _ := ts.get(t, "/?query=red&n=1")
	if !strings.Contains(body, `href="/?query=red&amp;start=2"`) {
		t.Errorf("next link of a filtered page:\n%s", body)
	}
}

func TestSampleDetail(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	still := slices.IndexFunc(ts.rows, func(r testRow) bool { return r.File == "video-001.jpeg" })
	key := ts.d.Key(int64(still))
	var v struct {
		Key        string     `json:"key"`
		Caption    string     `json:"caption"`
		Columns    []Column   `json:"columns"`
		PHash      uint64     `json:"phash"`
		Duplicates []Neighbor `json:"near_duplicates"`
		PrevKey    string     `json:"prev_key"`
		NextKey    string     `json:"next_key"`
	}
	ts.getJSON(t, "/sample?key="+key, &v)
	if v.Key != key || v.Caption != ts.rows[still].Caption || v.PHash != ts.rows[still].PHash {
		t.Fatalf("detail %+v", v)
	}
	var names []string
	for _, c := range v.Columns {
		names = append(names, c.Name)
		if c.Name == shards.ColImage && !strings.Contains(c.Value, "JPEG") {
			t.Errorf("image column shown as %q", c.Value)
		}
	}
	var want []string
	for _, f := range shards.SampleSchema.Fields() {
		want = append(want, f.Name)
	}
	if !slices.Equal(names, want) {
		t.Errorf("columns %v, want %v", names, want)
	}
	if len(v.Duplicates) == 0 || v.Duplicates[0].Key != ts.d.Key(int64(still+1)) {
		t.Errorf("near-duplicates %+v", v.Duplicates)
	}
	if v.PrevKey != ts.d.Key(int64(still-1)) || v.NextKey != ts.d.Key(int64(still+1)) {
		t.Errorf("prev/next %s %s", v.PrevKey, v.NextKey)
	}
	code, body, _ := ts.get(t, "/sample?key="+key)
	if code != 200 || !strings.Contains(body, `<img id="full" src="/image?key=`+key+`"`) || !strings.Contains(body, `id="duplicates"`) {
		t.Errorf("detail page %d:\n%s", code, body)
	}

	// The images: /image is the stored JPEG, /thumb too (it is small).
	for _, path := range []string{"/image?key=", "/thumb?key="} {
		code, img, h := ts.get(t, path+key)
		if code != 200 || h.Get("Content-Type") != "image/jpeg" || img != string(ts.rows[still].Image) {
			t.Errorf("%s: %d %s, %d bytes", path, code, h.Get("Content-Type"), len(img))
		}
	}
}

func TestRefusals(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	secret := filepath.Join(ts.d.Dir, "00000.arrow")
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/image?key=" + url.QueryEscape("../00000.arrow"), 404},
		{"/image?key=" + url.QueryEscape(secret), 404},
		{"/thumb?key=" + url.QueryEscape("/etc/passwd"), 404},
		{"/image?key=", 400},
		{"/sample?key=" + url.QueryEscape("../../go.mod"), 404},
		{"/sample?key=999999999", 404},
		{"/static/../view.go", 404},
		{"/static/" + url.PathEscape("../view.go"), 404},
		{"/static/%2e%2e/server.go", 404},
		{"/chart/" + url.PathEscape("../../etc/passwd"), 404},
		{"/chart/languages", 404},
		{"/chart/nosuch.svg", 404},
		{"/00000.arrow", 404},
		{"/.wit-view/" + indexFile, 404},
		{"/?start=-1", 400},
		{"/?start=18", 400},
		{"/?start=abc", 400},
		{"/?n=0", 400},
		{"/?n=100000", 400},
		{"/?text=" + strings.Repeat("x", maxParamChars+1), 400},
		{"/?minw=-5", 400},
		{"/search?q=apple", 404}, // no checkpoint
	} {
		code, body, _ := ts.get(t, tc.path)
		if code != tc.code {
			t.Errorf("GET %s: %d, want %d\n%s", tc.path, code, tc.code, body)
		}
		if strings.Contains(body, "ARROW1") {
			t.Errorf("GET %s served a shard file", tc.path)
		}
	}
	for _, method := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		req, _ := http.NewRequest(method, ts.URL+"/?text=x", strings.NewReader("x"))
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d", method, res.StatusCode)
		}
	}
}

func TestStatsPageAndCharts(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	var v struct {
		Threshold int         `json:"threshold"`
		Charts    []Chart     `json:"charts"`
		Scan      ScanStats   `json:"scan"`
		Stages    *StageStats `json:"stages"`
	}
	ts.getJSON(t, "/stats", &v)
	var names []string
	for _, c := range v.Charts {
		names = append(names, c.Name)
	}
	want := []string{"caption-chars", "caption-words", "original-sizes", "stored-sizes", "languages", "caption-sources", "fetch-failures", "filter-drops", "query-balance"}
	if !slices.Equal(names, want) || v.Threshold != 1 || v.Scan.Rows != 17 {
		t.Fatalf("charts %v (want %v), threshold %d", names, want, v.Threshold)
	}
	for _, c := range v.Charts {
		code, svg, h := ts.get(t, "/chart/"+c.Name+".svg")
		if code != 200 || h.Get("Content-Type") != "image/svg+xml" || !strings.Contains(svg, "<svg") || len(svg) < 1000 {
			t.Errorf("chart %s: %d %s %d bytes", c.Name, code, h.Get("Content-Type"), len(svg))
		}
	}
	if bal := v.Charts[len(v.Charts)-1]; !strings.Contains(bal.Note, "t = 1: 4 head entries") {
		t.Errorf("balance note %q", bal.Note)
	}
	code, body, _ := ts.get(t, "/stats")
	if code != 200 || strings.Count(body, `<img src="/chart/`) != len(want) {
		t.Errorf("stats page %d", code)
	}
	// A threshold given by the user wins.
	s, _ := NewServer(ts.d, ServerOptions{Threshold: 2})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/stats?format=json", nil))
	if !strings.Contains(rec.Body.String(), `"threshold": 2`) {
		t.Error("--balance threshold ignored")
	}
}

func TestPairsDatasetServes(t *testing.T) {
	dir, rows := writeTestPairs(t, 6)
	d := openTest(t, dir)
	s, err := NewServer(d, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	res, err := ts.Client().Get(ts.URL + "/?lang=fr")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || strings.Count(string(body), `class="card"`) != 1 || !strings.Contains(string(body), "no image") {
		t.Errorf("pairs grid %d:\n%s", res.StatusCode, body)
	}
	res, _ = ts.Client().Get(ts.URL + "/image?key=" + d.Key(0))
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("image of a pair: %d", res.StatusCode)
	}
	// The stats page charts what pairs have (no image sizes) and the crawl's stats.json.
	os.WriteFile(filepath.Join(dir, "stats.json"), []byte(`{"pages_ok": 12, "pages_failed": {"http_4xx": 2, "robots": 1}, "pairs": 17}`), 0o644)
	d = openTest(t, dir)
	s, _ = NewServer(d, ServerOptions{})
	var names []string
	for _, c := range s.charts {
		names = append(names, c.Name)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/chart/"+c.Name+".svg", nil))
		if rec.Code != 200 {
			t.Errorf("chart %s: %d", c.Name, rec.Code)
		}
	}
	if want := []string{"caption-chars", "caption-words", "languages", "caption-sources", "crawl-failures", "query-balance"}; !slices.Equal(names, want) {
		t.Errorf("pairs charts %v, want %v", names, want)
	}
	if _, err := NewSearch(context.Background(), d, newHandEmbedder(rows, ""), SearchOptions{}); err == nil {
		t.Error("search over pairs accepted")
	}
}

func TestSearchHandcrafted(t *testing.T) {
	dir, rows := writeTestDataset(t, 7, 3)
	d := openTest(t, dir)
	ckpt := t.TempDir()
	os.WriteFile(filepath.Join(ckpt, "weights.bin"), []byte("w1"), 0o644)
	e := newHandEmbedder(rows, "a brown leather briefcase")
	search, err := NewSearch(context.Background(), d, e, SearchOptions{Checkpoint: ckpt, Batch: 5})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := search.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	st := search.Status()
	if !st.Ready || st.Embedded != 17 || st.Unusable != 1 || st.FromCache || e.imageCalls.Load() != 4 {
		t.Fatalf("status %+v after %d calls", st, e.imageCalls.Load())
	}
	s, err := NewServer(d, ServerOptions{Search: search})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: httptest.NewServer(s), d: d, rows: rows}
	defer ts.Close()

	var v struct {
		Hits []struct {
			Sample
			Score float32 `json:"score"`
		} `json:"hits"`
		Like *Sample `json:"like"`
	}
	for i, r := range rows {
		ts.getJSON(t, "/search?k=3&q="+url.QueryEscape(r.Caption), &v)
		if r.Caption == e.unusable {
			for _, h := range v.Hits {
				if h.Caption == r.Caption {
					t.Errorf("unusable image returned")
				}
			}
			continue
		}
		if len(v.Hits) != 3 || v.Hits[0].Row != int64(i) || v.Hits[0].Score < 0.999 || v.Hits[1].Score > v.Hits[0].Score {
			t.Fatalf("search %q: %+v", r.Caption, v.Hits)
		}
	}
	ts.getJSON(t, "/search?q=red", &v)
	var red []string
	for _, h := range v.Hits[:3] {
		red = append(red, h.Caption)
	}
	slices.Sort(red)
	if len(v.Hits) != 16 || !slices.Equal(red, []string{"ein rotes Motorrad", "two red cherries on one stem", "une rose rouge"}) {
		t.Errorf("search red: %q of %d", red, len(v.Hits))
	}

	// More like this: the video still's twin first (they share a query), the still itself never.
	still := int64(slices.IndexFunc(rows, func(r testRow) bool { return r.File == "video-001.jpeg" }))
	ts.getJSON(t, "/search?like="+d.Key(still), &v)
	if v.Like == nil || v.Like.Row != still || v.Hits[0].Row != still+1 || slices.ContainsFunc(v.Hits, func(h struct {
		Sample
		Score float32 `json:"score"`
	}) bool {
		return h.Row == still
	}) {
		t.Errorf("like: %+v", v)
	}
	briefcase := int64(slices.IndexFunc(rows, func(r testRow) bool { return r.Caption == e.unusable }))
	if code, _, _ := ts.get(t, "/search?like="+d.Key(briefcase)); code != http.StatusConflict {
		t.Errorf("like an unusable image: %d", code)
	}
	code, body, _ := ts.get(t, "/search?q="+url.QueryEscape("a slice of watermelon"))
	if code != 200 || !strings.Contains(body, `id="results"`) || strings.Count(body, `class="card"`) != 16 {
		t.Errorf("search page %d", code)
	}
	var status struct {
		Search SearchStatus `json:"search"`
	}
	ts.getJSON(t, "/status", &status)
	if !status.Search.Ready || status.Search.Embedded != 17 {
		t.Errorf("status %+v", status)
	}

	// The embeddings are cached: a second search over the same shards and checkpoint embeds nothing.
	e2 := newHandEmbedder(rows, "a brown leather briefcase")
	again, err := NewSearch(context.Background(), d, e2, SearchOptions{Checkpoint: ckpt})
	if err != nil {
		t.Fatal(err)
	}
	if st := again.Status(); !st.Ready || !st.FromCache || st.Unusable != 1 || e2.imageCalls.Load() != 0 {
		t.Fatalf("cached search: %+v, %d calls", st, e2.imageCalls.Load())
	}
	hits, err := again.Text(rows[3].Caption, 1)
	if err != nil || hits[0].Row != 3 {
		t.Errorf("cached search: %+v %v", hits, err)
	}
	// A changed checkpoint is not the cached one.
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(filepath.Join(ckpt, "weights.bin"), []byte("w2"), 0o644)
	e3 := newHandEmbedder(rows, "")
	third, err := NewSearch(context.Background(), d, e3, SearchOptions{Checkpoint: ckpt})
	if err != nil {
		t.Fatal(err)
	}
	if err := third.Wait(ctx); err != nil || third.Status().FromCache || e3.imageCalls.Load() == 0 || third.Status().Unusable != 0 {
		t.Errorf("changed checkpoint reused the cache: %+v", third.Status())
	}
	// Interrupted embeddings are cached as far as they got, and the next run embeds only the rest.
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(filepath.Join(ckpt, "weights.bin"), []byte("w3"), 0o644)
	stop, cancelEmbed := context.WithCancel(context.Background())
	e5 := newHandEmbedder(rows, "")
	e5.onCall = func(n int64) {
		if n == 2 {
			cancelEmbed() // during the second chunk: rows 0-9 are done when it stops
		}
	}
	fifth, _ := NewSearch(stop, d, e5, SearchOptions{Checkpoint: ckpt, Batch: 5})
	if err := fifth.Wait(ctx); err == nil || fifth.Status().Embedded != 10 || fifth.Status().Ready {
		t.Fatalf("interrupted embedding: %v %+v", err, fifth.Status())
	}
	e6 := newHandEmbedder(rows, "")
	e6.next = 10
	sixth, _ := NewSearch(context.Background(), d, e6, SearchOptions{Checkpoint: ckpt, Batch: 5})
	if err := sixth.Wait(ctx); err != nil || !sixth.Status().Ready || e6.imageCalls.Load() != 2 {
		t.Fatalf("resumed embedding: %v %+v after %d calls", err, sixth.Status(), e6.imageCalls.Load())
	}
	for i, r := range rows {
		if hits, _ := sixth.Text(r.Caption, 1); hits[0].Row != int64(i) {
			t.Errorf("after resuming, %q finds row %d", r.Caption, hits[0].Row)
		}
	}
	// A corrupted data file is recomputed.
	matches, _ := filepath.Glob(filepath.Join(d.CacheDir, "embeddings-*.f32"))
	for _, m := range matches {
		data, _ := os.ReadFile(m)
		data[0] ^= 0xFF
		os.WriteFile(m, data, 0o644)
	}
	e4 := newHandEmbedder(rows, "")
	fourth, _ := NewSearch(context.Background(), d, e4, SearchOptions{Checkpoint: ckpt})
	if err := fourth.Wait(ctx); err != nil || fourth.Status().FromCache {
		t.Errorf("corrupt cache trusted: %+v", fourth.Status())
	}
}

func TestServeLoopbackOnly(t *testing.T) {
	ts := newTestServer(t, ServerOptions{})
	s, _ := NewServer(ts.d, ServerOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Serve(ctx, ln, s) }()
	addr := ln.Addr().String()
	port := addr[strings.LastIndex(addr, ":")+1:]
	for _, tc := range []struct {
		host string
		code int
	}{{addr, 200}, {"localhost:" + port, 200}, {"evil.example:" + port, 421}, {"127.0.0.1:1", 421}} {
		req, _ := http.NewRequest("GET", "http://"+addr+"/status", nil)
		req.Host = tc.host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.code {
			t.Errorf("Host %s: %d, want %d", tc.host, res.StatusCode, tc.code)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

func TestThumbnailOfALargeImage(t *testing.T) {
	data, err := os.ReadFile("testdata/images/yellow_rose.lossy-with-alpha.webp")
	if err != nil {
		t.Fatal(err)
	}
	big, err := imgproc.Process(data, imgproc.Options{Size: 1200, Mode: imgproc.ModeKeepRatioLargest})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w, err := shards.NewWriter(dir, shards.SampleSchema, shards.WriterOptions{Metadata: shards.SampleMetadata()})
	if err != nil {
		t.Fatal(err)
	}
	shards.AppendSample(w.Builder(), &shards.Sample{Key: "000000000", Image: big.JPEG, Caption: "a yellow rose", Width: big.Width, Height: big.Height})
	if err := w.EndRow(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(openTest(t, dir), ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for path, side := range map[string]int{"/thumb?key=000000000": thumbSide, "/image?key=000000000": 1200} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		cfg, err := jpeg.DecodeConfig(rec.Body)
		if rec.Code != 200 || err != nil || max(cfg.Width, cfg.Height) != side {
			t.Errorf("%s: %d, %dx%d %v; want a longer side of %d", path, rec.Code, cfg.Width, cfg.Height, err, side)
		}
	}
}
