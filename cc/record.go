package cc

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/witdata/wit/crawl/extract"
	"github.com/witdata/wit/internal/inflate"
	"github.com/witdata/wit/internal/urlnorm"
	"github.com/witdata/wit/shards"
	"github.com/witdata/wit/warc"
)

// Formats of --format.
const (
	FormatAuto = "auto" // each record by its type: response -> WARC, metadata+JSON -> WAT
	FormatWARC = "warc"
	FormatWAT  = "wat"
)

// processor turns records into pairs. One per worker: its buffers are reused record to record.
type processor struct {
	format  string
	maxBody int64

	block  []byte // the current record's block (warc.Record.Block)
	head   httpHead
	br     *bufio.Reader
	body   bytes.Buffer
	gz     inflate.Decompressor // gzip payloads held whole (gunzipWhole)
	gzOut  []byte
	noGzip bool // no gunzipWhole: every gzip payload streamed (tests compare both)
	wat    watPage
	seen   map[[2]string]struct{}
	sawWAT bool
	sawWRC bool

	lastCT, lastMT      string // mediaType's memory
	lastMTOK, lastCTSet bool
}

func newProcessor(format string, maxBody int64) *processor {
	return &processor{format: format, maxBody: maxBody, br: bufio.NewReaderSize(nil, 16<<10), seen: map[[2]string]struct{}{}}
}

// record reads one record and emits its pairs; the outcome is counted in c. An error is
// returned only when emit fails: a bad record is counted, not an error.
func (p *processor) record(rec *warc.Record, c *Counters, emit func(shards.Pair) error) error {
	typ := rec.Type()
	isWAT := typ == warc.TypeMetadata && strings.HasPrefix(strings.ToLower(rec.Get(warc.FieldContentType)), "application/json")
	switch {
	case typ == warc.TypeResponse && p.format == FormatWAT, isWAT && p.format == FormatWARC:
		c.outcome(OutcomeOtherFormat)
		return nil
	case typ != warc.TypeResponse && !isWAT:
		c.outcome(OutcomeNotResponse)
		return nil
	}
	if rec.Get(warc.FieldTruncated) != "" {
		c.TruncatedRecords++
	}
	if rec.Length > p.maxBody {
		c.outcome(OutcomeTooLarge)
		return nil
	}
	if err := p.readBlock(rec); err != nil {
		c.outcome(OutcomeReadError)
		return nil
	}
	if isWAT {
		p.sawWAT = true
		return p.watRecord(rec, c, emit)
	}
	p.sawWRC = true
	return p.warcRecord(rec, c, emit)
}

// readBlock takes the record's block (the Reader's bytes, valid until the next record); a
// block that does not read whole to the end of its checked gzip member is a read error.
func (p *processor) readBlock(rec *warc.Record) error {
	block, err := rec.Block()
	p.block = block
	return err
}

// recordDate is the record's WARC-Date, the zero time when it has none.
func recordDate(rec *warc.Record) time.Time {
	t, err := rec.Date()
	if err != nil {
		return time.Time{}
	}
	return t
}

// gunzipWhole decodes a gzip payload held in memory in one call of internal/inflate (archives
// other than Common Crawl's keep the bodies servers sent gzipped). It takes only a payload that
// is one complete member inflating to at most maxBody bytes; anything else (several members,
// trailing bytes, a payload cut short, a longer body, damage) it leaves to the streaming reader,
// which decides what it is, so both give the same body.
func (p *processor) gunzipWhole(payload io.Reader, enc string, data []byte) ([]byte, bool) {
	if payload != nil || (enc != "gzip" && enc != "x-gzip") || p.noGzip {
		return nil, false
	}
	if p.gzOut == nil {
		p.gzOut = make([]byte, min(p.maxBody, 256<<10))
	}
	for {
		n, outN, err := p.gz.Gzip(data, p.gzOut)
		switch {
		case err == nil && n == len(data):
			return p.gzOut[:outN], true
		case errors.Is(err, inflate.ErrOutputFull) && int64(len(p.gzOut)) < p.maxBody:
			p.gzOut = make([]byte, min(2*int64(len(p.gzOut)), p.maxBody))
			continue
		}
		return nil, false
	}
}

// pageURL parses and checks a target URI; the pair's page_url is its normalised form, as the
// crawler writes it.
func pageURL(raw string) (*url.URL, string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "", false
	}
	return u, urlnorm.Normalize(u).String(), true
}

func (p *processor) warcRecord(rec *warc.Record, c *Counters, emit func(shards.Pair) error) error {
	u, page, ok := pageURL(rec.TargetURI())
	if !ok {
		c.outcome(OutcomeBadURL)
		return nil
	}
	// Most responses are plain and read without net/http; the rest (chunked, folded headers,
	// damage) go through ReadResponse, which decides what is malformed.
	h := &p.head
	var payload io.Reader // the framed payload, when net/http frames it
	if !h.parsePlain(p.block) {
		p.br.Reset(bytes.NewReader(p.block))
		resp, err := http.ReadResponse(p.br, nil)
		if err != nil {
			c.outcome(OutcomeBadHTTP)
			return nil
		}
		h.status, h.robotsTags = resp.StatusCode, append(h.robotsTags[:0], resp.Header.Values("X-Robots-Tag")...)
		h.contentType, h.contentEncoding = resp.Header.Get("Content-Type"), resp.Header.Get("Content-Encoding")
		payload = resp.Body
	}
	if h.status < 200 || h.status >= 300 {
		c.outcome(OutcomeHTTPStatus)
		return nil
	}
	for _, v := range h.robotsTags {
		if robotsNoIndex(v) {
			c.outcome(OutcomeNoIndex)
			return nil
		}
	}
	ct := h.contentType
	mt, ok := p.mediaType(ct)
	typedHTML := ok && (mt == "text/html" || mt == "application/xhtml+xml")
	if ok && !typedHTML && !genericType(mt) {
		c.outcome(OutcomeNotHTML) // decided by the header: spare reading an image or PDF body
		return nil
	}
	enc := strings.ToLower(strings.TrimSpace(h.contentEncoding))
	var body []byte
	if payload == nil && (enc == "" || enc == "identity") {
		body = h.payload[:min(int64(len(h.payload)), p.maxBody)] // no copy
	} else if b, ok := p.gunzipWhole(payload, enc, h.payload); ok {
		body = b
	} else {
		if payload == nil {
			payload = bytes.NewReader(h.payload)
		}
		p.body.Reset()
		src := payload
		switch enc {
		case "", "identity":
		case "gzip", "x-gzip":
			zr, err := gzip.NewReader(payload)
			if err != nil {
				c.outcome(OutcomeBadHTTP)
				return nil
			}
			src = zr
		case "deflate":
			src = flate.NewReader(payload)
		default:
			c.outcome(OutcomeBadHTTP)
			return nil
		}
		// A payload cut short (WARC-Truncated, or a Content-Length the archive did not keep) is
		// used as far as it goes, as Common Crawl's own tools do.
		if _, err := p.body.ReadFrom(io.LimitReader(src, p.maxBody)); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && p.body.Len() == 0 {
			c.outcome(OutcomeBadHTTP)
			return nil
		}
		body = p.body.Bytes()
	}
	if !typedHTML && !extract.IsHTML(ct, body) { // IsHTML is true for typedHTML, sniffs the rest
		c.outcome(OutcomeNotHTML)
		return nil
	}
	pg, err := extract.Candidates(u, body, ct) // the extractor without links: cc follows none
	if err != nil {
		if errors.Is(err, extract.ErrNotHTML) {
			c.outcome(OutcomeNotHTML)
		} else {
			c.outcome(OutcomeBadURL)
		}
		return nil
	}
	if pg.NoIndex {
		c.outcome(OutcomeNoIndex)
		return nil
	}
	if len(pg.Candidates) == 0 {
		c.outcome(OutcomeNoCandidates)
		return nil
	}
	at := recordDate(rec)
	for _, cand := range pg.Candidates {
		if err := emit(shards.Pair{PageURL: page, ImageURL: cand.ImageURL, Caption: cand.Caption, CaptionSource: cand.Source, PageLang: pg.Lang, FetchedAt: at}); err != nil {
			return err
		}
		c.pair(cand.Source)
	}
	c.outcome(OutcomePairs)
	return nil
}

// mediaType is mime.ParseMediaType's media type and whether it parsed, remembered for the last
// Content-Type: an archive's pages mostly share one.
func (p *processor) mediaType(ct string) (string, bool) {
	if ct != p.lastCT || !p.lastCTSet {
		mt, _, err := mime.ParseMediaType(ct)
		p.lastCT, p.lastMT, p.lastMTOK, p.lastCTSet = ct, mt, err == nil, true
	}
	return p.lastMT, p.lastMTOK
}

func genericType(mt string) bool {
	switch mt {
	case "application/octet-stream", "binary/octet-stream", "application/unknown", "unknown/unknown", "application/x-unknown", "*/*":
		return true
	}
	return false
}

// robotsNoIndex reads an X-Robots-Tag or robots meta value. Directives for a named bot count
// too: the archive does not say which bot will use the data. noimageindex, noai and noimageai
// forbid what a dataset does, as in the crawler.
func robotsNoIndex(v string) bool {
	if name, rest, ok := strings.Cut(v, ":"); ok && !strings.ContainsAny(name, ", ") {
		v = rest
	}
	for _, d := range strings.Split(v, ",") {
		switch strings.ToLower(strings.TrimSpace(d)) {
		case "noindex", "noimageindex", "noai", "noimageai", "none":
			return true
		}
	}
	return false
}

func (p *processor) watRecord(rec *warc.Record, c *Counters, emit func(shards.Pair) error) error {
	w := &p.wat
	if err := parseWAT(p.block, w); err != nil {
		c.outcome(OutcomeBadJSON)
		return nil
	}
	if w.warcType != warc.TypeResponse || !w.isHTTP {
		c.outcome(OutcomeNotResponse)
		return nil
	}
	target := w.targetURI
	if target == "" {
		target = rec.TargetURI()
	}
	u, page, ok := pageURL(target)
	if !ok {
		c.outcome(OutcomeBadURL)
		return nil
	}
	if w.status != "" && (len(w.status) != 3 || w.status[0] != '2') {
		c.outcome(OutcomeHTTPStatus)
		return nil
	}
	if !w.isHTML {
		c.outcome(OutcomeNotHTML)
		return nil
	}
	for _, v := range append(w.robotsTag, w.robots...) {
		if robotsNoIndex(v) {
			c.outcome(OutcomeNoIndex)
			return nil
		}
	}
	if !w.hasLinks || len(w.links) == 0 {
		c.outcome(OutcomeNoLinks)
		return nil
	}
	base := u
	if w.base != "" {
		if b := extract.NewResolver(u).Resolve(w.base); b != "" {
			base, _ = url.Parse(b)
		}
	}
	res := extract.NewResolver(base)
	lang := w.lang
	if lang == "" {
		lang, _, _ = strings.Cut(w.metaLang, ",")
	}
	lang = strings.ToLower(strings.TrimSpace(lang))
	at, err := time.Parse(time.RFC3339Nano, w.date)
	if err != nil {
		at = recordDate(rec)
	}
	clear(p.seen)
	pairs := 0
	for _, l := range w.links {
		if l.path != "IMG@/src" {
			c.link(LinkNotImage)
			continue
		}
		caption := extract.CleanCaption(l.alt)
		if caption == "" {
			c.link(LinkNoAlt)
			continue
		}
		img := res.Resolve(l.url)
		if img == "" {
			c.link(LinkBadURL)
			continue
		}
		k := [2]string{img, caption}
		if _, dup := p.seen[k]; dup {
			c.link(LinkDup)
			continue
		}
		p.seen[k] = struct{}{}
		c.link(LinkImage)
		if err := emit(shards.Pair{PageURL: page, ImageURL: img, Caption: caption, CaptionSource: shards.SourceAlt, PageLang: lang, FetchedAt: at.UTC()}); err != nil {
			return err
		}
		c.pair(shards.SourceAlt)
		pairs++
	}
	if pairs == 0 {
		c.outcome(OutcomeNoCandidates)
	} else {
		c.outcome(OutcomePairs)
	}
	return nil
}
