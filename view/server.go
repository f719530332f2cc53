package view

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/witdata/wit/imgproc"
	"github.com/witdata/wit/shards"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Limits on what one request may ask for.
const (
	DefaultPageSize = 48
	MaxPageSize     = 200
	MaxResults      = 100 // search hits per query
	maxParamChars   = 200 // a text parameter (caption substring, query, search text)
	thumbSide       = 256 // thumbnails: stored images with a longer side above 2× this are downscaled
	maxDupDistance  = 10  // pHash bits that may differ for a near-duplicate (of 64)
	maxDuplicates   = 24
)

// ServerOptions configures NewServer.
type ServerOptions struct {
	PageSize int     // grid rows per page (default 48, at most 200)
	Budget   Budget  // rows and time one grid request may scan (see Budget)
	Search   *Search // text→image and image→image search (nil: none)
	// Threshold is MetaCLIP's balancing threshold t for the stats page (0: the filter stats'
	// threshold, when found).
	Threshold int
	// RequestTimeout bounds one request's work (default 30 s).
	RequestTimeout time.Duration
	Logger         *slog.Logger
}

// Server serves a Dataset to a browser: the sample grid (/), a sample's detail page (/sample),
// the stats page (/stats) with its charts (/chart/NAME.svg), search (/search), images (/image,
// /thumb) and the embedding status (/status). Every page also answers as JSON with format=json.
// It only reads: every route is GET or HEAD, rows are named by their keys (never by a path), and
// the work of a request is bounded (page size, scan budget, result count, request timeout).
type Server struct {
	d       *Dataset
	opts    ServerOptions
	mux     *http.ServeMux
	pages   map[string]*template.Template
	charts  []Chart
	svgs    chartCache
	static  map[string][]byte // file name → content
	started time.Time
}

// NewServer prepares the pages of d.
func NewServer(d *Dataset, opts ServerOptions) (*Server, error) {
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	opts.PageSize = min(opts.PageSize, MaxPageSize)
	opts.Budget = opts.Budget.withDefaults()
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Threshold <= 0 && d.stages.Balance != nil {
		opts.Threshold = d.stages.Balance.Threshold
	}
	s := &Server{d: d, opts: opts, mux: http.NewServeMux(), pages: map[string]*template.Template{}, started: time.Now()}
	s.charts = charts(d.Stats(), d.stages, opts.Threshold)
	funcs := template.FuncMap{
		"gridURL":  gridURL,
		"webURL":   webURL,
		"host":     hostOf,
		"thousand": thousands,
		"bytes":    humanBytes,
		"pct":      func(a, b int64) string { return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(max(1, b))) },
		"add":      func(a, b int64) int64 { return a + b },
		"score":    func(f float32) string { return strconv.FormatFloat(float64(f), 'f', 3, 32) },
	}
	for _, page := range []string{"grid", "sample", "stats", "search", "error"} {
		t, err := template.New("base.html").Funcs(funcs).ParseFS(assets, "templates/base.html", "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("view: template %s: %w", page, err)
		}
		s.pages[page] = t
	}
	// The static files are a fixed set, read once: a request names one of them or gets a 404.
	entries, err := fs.ReadDir(assets, "static")
	if err != nil {
		return nil, err
	}
	s.static = map[string][]byte{}
	for _, e := range entries {
		if s.static[e.Name()], err = fs.ReadFile(assets, "static/"+e.Name()); err != nil {
			return nil, err
		}
	}
	s.mux.HandleFunc("GET /{$}", s.handleGrid)
	s.mux.HandleFunc("GET /sample", s.handleSample)
	s.mux.HandleFunc("GET /stats", s.handleStats)
	s.mux.HandleFunc("GET /chart/{name}", s.handleChart)
	s.mux.HandleFunc("GET /search", s.handleSearch)
	s.mux.HandleFunc("GET /image", s.handleImage)
	s.mux.HandleFunc("GET /thumb", s.handleImage)
	s.mux.HandleFunc("GET /status", s.handleStatus)
	s.mux.HandleFunc("GET /static/{name}", s.handleStatic)
	return s, nil
}

// ServeHTTP answers GET and HEAD only, under the request timeout, with headers that keep the pages
// to their own origin: no scripts, styles or images from elsewhere, no framing, no referrer sent
// when a link to a dataset's page is followed.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "wit view is read-only: GET and HEAD only", http.StatusMethodNotAllowed)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	s.mux.ServeHTTP(w, r.WithContext(ctx))
}

// Serve runs h on ln until ctx ends, then shuts down (in-flight requests get 5 s). Slow clients are
// cut off by the server's timeouts. When ln listens on a loopback address, requests must name a
// loopback host (Host header): a web page elsewhere cannot reach the viewer by DNS rebinding.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		h = loopbackOnly(h, tcp.Port)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
		<-done
		return nil
	}
}

// loopbackOnly refuses requests whose Host is not a loopback name of this port.
func loopbackOnly(h http.Handler, port int) http.Handler {
	p := strconv.Itoa(port)
	allowed := map[string]bool{"127.0.0.1:" + p: true, "localhost:" + p: true, "[::1]:" + p: true}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed[strings.ToLower(r.Host)] {
			http.Error(w, "wit view answers only on its loopback address", http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// pageData is what every page template gets.
type pageData struct {
	Title      string
	Dir        string
	Rows       int64
	Kind       string
	HasImages  bool
	SearchOn   bool
	SearchText string
	Languages  []Count
	Sources    []Count
	TopQueries []Count

	Grid    *Page
	PrevURL string
	NextURL string
	Detail  *detailView
	Stats   *statsView
	Results *searchView
	Error   string
}

func (s *Server) data(title string) *pageData {
	st := s.d.Stats()
	return &pageData{Title: title, Dir: s.d.Dir, Rows: s.d.Rows(), Kind: s.d.Kind(), HasImages: s.d.HasImages(),
		SearchOn: s.opts.Search != nil, Languages: st.Languages, Sources: st.Sources, TopQueries: st.Queries.Top}
}

// wantsJSON: ?format=json.
func wantsJSON(r *http.Request) bool { return r.URL.Query().Get("format") == "json" }

func (s *Server) render(w http.ResponseWriter, r *http.Request, page string, status int, d *pageData, asJSON any) {
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(asJSON)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var buf strings.Builder
	if err := s.pages[page].Execute(&buf, d); err != nil {
		s.opts.Logger.Error("view: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	w.Write([]byte(buf.String()))
}

// fail answers with an error page (or JSON), the status chosen by the error's kind.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		status = http.StatusServiceUnavailable
	case errors.Is(err, ErrChanged):
		status = http.StatusConflict
	case errors.Is(err, shards.ErrCorrupt):
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.opts.Logger.Warn("view: request failed", "url", r.URL.String(), "err", err)
	}
	d := s.data("Error")
	d.Error = err.Error()
	s.render(w, r, "error", status, d, map[string]string{"error": err.Error()})
}

// badRequest is a client error with a message meant for the user.
type badRequest string

func (b badRequest) Error() string { return string(b) }

// textParam reads a text parameter, bounded in length.
func textParam(q url.Values, name string) (string, error) {
	v := strings.TrimSpace(q.Get(name))
	if utf8.RuneCountInString(v) > maxParamChars || !utf8.ValidString(v) {
		return "", badRequest(fmt.Sprintf("%s: at most %d characters of UTF-8", name, maxParamChars))
	}
	return v, nil
}

// intParam reads a non-negative integer parameter ("" gives def).
func intParam(q url.Values, name string, def, limit int64) (int64, error) {
	v := strings.TrimSpace(q.Get(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > limit {
		return 0, badRequest(fmt.Sprintf("%s: want a whole number from 0 to %d, got %q", name, limit, truncateRunes(v, 20)))
	}
	return n, nil
}

// filterOf reads the grid's filter parameters.
func filterOf(q url.Values) (Filter, error) {
	var f Filter
	var err error
	for _, p := range []struct {
		name string
		dst  *string
	}{{"text", &f.Text}, {"query", &f.Query}, {"lang", &f.Language}, {"source", &f.Source}} {
		if *p.dst, err = textParam(q, p.name); err != nil {
			return f, err
		}
	}
	w, err := intParam(q, "minw", 0, 1<<20)
	if err != nil {
		return f, err
	}
	h, err := intParam(q, "minh", 0, 1<<20)
	if err != nil {
		return f, err
	}
	f.MinWidth, f.MinHeight = int(w), int(h)
	return f, nil
}

// gridURL is the grid's URL for a filter and a start row.
func gridURL(f Filter, start int64) string {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("text", f.Text)
	set("query", f.Query)
	set("lang", f.Language)
	set("source", f.Source)
	if f.MinWidth > 0 {
		q.Set("minw", strconv.Itoa(f.MinWidth))
	}
	if f.MinHeight > 0 {
		q.Set("minh", strconv.Itoa(f.MinHeight))
	}
	if start > 0 {
		q.Set("start", strconv.FormatInt(start, 10))
	}
	if len(q) == 0 {
		return "/"
	}
	return "/?" + q.Encode()
}

func (s *Server) handleGrid(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := filterOf(q)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err)
		return
	}
	start, err := intParam(q, "start", 0, s.d.Rows())
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err)
		return
	}
	n := int64(s.opts.PageSize)
	if n, err = intParam(q, "n", n, MaxPageSize); err != nil || n == 0 {
		s.fail(w, r, http.StatusBadRequest, badRequest(fmt.Sprintf("n: want 1 to %d", MaxPageSize)))
		return
	}
	p, err := s.d.Page(r.Context(), f, start, int(n), s.opts.Budget)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	d := s.data("Samples")
	d.Grid = p
	if p.Next < p.Total {
		d.NextURL = gridURL(f, p.Next)
	}
	if f.Empty() && start > 0 {
		d.PrevURL = gridURL(f, max(0, start-n))
	}
	s.render(w, r, "grid", http.StatusOK, d, p)
}

// rowOf finds the row named by the key parameter.
func (s *Server) rowOf(q url.Values, param string) (int64, error) {
	key, err := textParam(q, param)
	if err != nil {
		return 0, err
	}
	if key == "" {
		return 0, badRequest(param + ": which sample? (a key from the grid)")
	}
	r, ok := s.d.Lookup(key)
	if !ok {
		return 0, errNotFound(key)
	}
	return r, nil
}

type errNotFound string

func (e errNotFound) Error() string {
	return fmt.Sprintf("no sample with key %q in this dataset", string(e))
}

func (s *Server) statusOf(err error) int {
	var nf errNotFound
	var br badRequest
	switch {
	case errors.As(err, &nf):
		return http.StatusNotFound
	case errors.As(err, &br):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

type detailView struct {
	*Detail
	PrevKey     string     `json:"prev_key,omitempty"`
	NextKey     string     `json:"next_key,omitempty"`
	Duplicates  []Neighbor `json:"near_duplicates"`
	DupDistance int        `json:"near_duplicate_max_distance"`
	HasPHash    bool       `json:"-"`
}

func (s *Server) handleSample(w http.ResponseWriter, r *http.Request) {
	row, err := s.rowOf(r.URL.Query(), "key")
	if err != nil {
		s.fail(w, r, s.statusOf(err), err)
		return
	}
	det, err := s.d.Detail(r.Context(), row)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	v := &detailView{Detail: det, DupDistance: maxDupDistance, HasPHash: det.PHash != nil, Duplicates: []Neighbor{}}
	if row > 0 {
		v.PrevKey = s.d.Key(row - 1)
	}
	if row+1 < s.d.Rows() {
		v.NextKey = s.d.Key(row + 1)
	}
	if dups := s.d.NearDuplicates(row, maxDupDistance, maxDuplicates); dups != nil {
		v.Duplicates = dups
	}
	d := s.data(truncateRunes(det.Caption, 60))
	d.Detail = v
	s.render(w, r, "sample", http.StatusOK, d, v)
}

// handleImage serves a row's stored image (/image) or a thumbnail of it (/thumb): the stored image
// itself unless it is large.
func (s *Server) handleImage(w http.ResponseWriter, r *http.Request) {
	row, err := s.rowOf(r.URL.Query(), "key")
	if err != nil {
		http.Error(w, err.Error(), s.statusOf(err))
		return
	}
	img, sample, err := s.d.Image(r.Context(), row)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	format := imgproc.Sniff(img)
	if format == "" {
		http.Error(w, "this sample has no image", http.StatusNotFound)
		return
	}
	if r.URL.Path == "/thumb" && max(sample.Width, sample.Height) > 2*thumbSide {
		res, err := imgproc.Process(img, imgproc.Options{Size: thumbSide, Mode: imgproc.ModeKeepRatioLargest, Quality: 85, ResizeOnlyIfBigger: true})
		if err == nil {
			img, format = res.JPEG, "jpeg"
		}
	}
	w.Header().Set("Content-Type", "image/"+format)
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Header().Set("Content-Length", strconv.Itoa(len(img)))
	w.Write(img)
}

var staticTypes = map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}

func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	data, ok := s.static[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", staticTypes[path.Ext(name)])
	w.Header().Set("Cache-Control", "private, max-age=300")
	w.Write(data)
}

type statsView struct {
	Scan      *ScanStats  `json:"scan"`
	Stages    *StageStats `json:"stages"`
	Threshold int         `json:"threshold"`
	Charts    []Chart     `json:"charts"`
	CacheDir  string      `json:"cache_dir"`
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	v := &statsView{Scan: s.d.Stats(), Stages: s.d.stages, Threshold: s.opts.Threshold, Charts: s.charts, CacheDir: s.d.CacheDir}
	d := s.data("Stats")
	d.Stats = v
	s.render(w, r, "stats", http.StatusOK, d, v)
}

func (s *Server) handleChart(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("name"), ".svg")
	ch, found := chartByName(s.charts, name)
	if !ok || !found {
		http.Error(w, "no such chart", http.StatusNotFound)
		return
	}
	svg, err := s.svgs.svg(ch)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Write(svg)
}

type searchView struct {
	Text   string        `json:"text,omitempty"`
	Like   *Sample       `json:"like,omitempty"`
	Hits   []searchHit   `json:"hits"`
	Status SearchStatus  `json:"status"`
	Took   time.Duration `json:"took_ns"`
}

type searchHit struct {
	Sample
	Score float32 `json:"score"`
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	if s.opts.Search == nil {
		s.fail(w, r, http.StatusNotFound, badRequest("search needs a checkpoint: start wit view with --checkpoint RUN"))
		return
	}
	q := r.URL.Query()
	k, err := intParam(q, "k", 24, MaxResults)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err)
		return
	}
	text, err := textParam(q, "q")
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err)
		return
	}
	v := &searchView{Text: text, Status: s.opts.Search.Status(), Hits: []searchHit{}}
	start := time.Now()
	var hits []Hit
	switch {
	case q.Get("like") != "":
		row, err := s.rowOf(q, "like")
		if err != nil {
			s.fail(w, r, s.statusOf(err), err)
			return
		}
		like, err := s.d.Sample(r.Context(), row)
		if err != nil {
			s.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		v.Like = &like
		if hits, err = s.opts.Search.Like(row, int(k)); err != nil {
			s.fail(w, r, http.StatusConflict, err)
			return
		}
	case text != "":
		if hits, err = s.opts.Search.Text(text, int(k)); err != nil {
			s.fail(w, r, http.StatusInternalServerError, err)
			return
		}
	}
	v.Took = time.Since(start)
	for _, h := range hits {
		smp, err := s.d.Sample(r.Context(), h.Row)
		if err != nil {
			s.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		v.Hits = append(v.Hits, searchHit{Sample: smp, Score: h.Score})
	}
	d := s.data("Search")
	d.SearchText = text
	d.Results = v
	s.render(w, r, "search", http.StatusOK, d, v)
}

// status is the /status answer: the dataset and the embeddings' progress.
type status struct {
	Dir    string        `json:"dir"`
	Kind   string        `json:"kind"`
	Rows   int64         `json:"rows"`
	Search *SearchStatus `json:"search,omitempty"`
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	st := status{Dir: s.d.Dir, Kind: s.d.Kind(), Rows: s.d.Rows()}
	if s.opts.Search != nil {
		ss := s.opts.Search.Status()
		st.Search = &ss
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(st)
}

// webURL returns u when it is an absolute http(s) URL, else "": a dataset's links are shown but
// only web links are made clickable (no javascript:, data: or file: URLs from a crawled page).
func webURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return u
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Host
}

// thousands formats an integer with separators: 1,234,567.
func thousands(v any) string {
	var s string
	switch n := v.(type) {
	case int:
		s = strconv.Itoa(n)
	case int64:
		s = strconv.FormatInt(n, 10)
	default:
		return fmt.Sprint(v)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(",")
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
