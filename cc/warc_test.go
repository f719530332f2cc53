package cc

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/witdata/wit/crawl/extract"
	"github.com/witdata/wit/warc"
)

const richPage = `<!doctype html><html lang="fr"><head><title>Galerie</title>
<meta property="og:image" content="/og.jpg"><meta property="og:image:alt" content="Vue du port">
<base href="https://static.example.fr/assets/"></head><body>
<figure><img src="a.jpg" srcset="a-small.jpg 320w, a-large.jpg 1280w"><figcaption>Le vieux port au matin</figcaption></figure>
<img data-src="lazy.jpg" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="Une barque bleue">
<picture><source srcset="p.avif" type="image/avif"><source srcset="p.webp 2x"><img src="p.jpg" alt="Filets de pêche"></picture>
<img src="noalt.jpg"></body></html>`

// response builds a response record of an HTTP message.
func response(uri, date, msg string, extra ...warc.Field) *warc.OutRecord {
	h := warc.Header{Fields: append([]warc.Field{
		fld(warc.FieldType, warc.TypeResponse), fld(warc.FieldTargetURI, uri), fld(warc.FieldDate, date),
		fld(warc.FieldRecordID, warc.NewRecordID()), fld(warc.FieldContentType, warc.ContentTypeHTTPResponse),
	}, extra...)}
	return &warc.OutRecord{Header: h, Block: [][]byte{[]byte(msg)}}
}

func gz(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.String()
}

func TestWARCRecords(t *testing.T) {
	const date = "2024-03-01T10:00:00Z"
	http200 := "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
	chunked := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(richPage), richPage)
	recs := []*warc.OutRecord{
		{Header: warc.Header{Fields: []warc.Field{fld(warc.FieldType, warc.TypeWarcinfo)}}, Block: [][]byte{[]byte("x: y\r\n")}},
		{Header: warc.Header{Fields: []warc.Field{fld(warc.FieldType, warc.TypeRequest), fld(warc.FieldTargetURI, "https://example.fr/galerie")}}, Block: [][]byte{[]byte("GET /galerie HTTP/1.1\r\n\r\n")}},
		response("https://example.fr/galerie", date, http200+richPage),
		response("https://example.fr/chunked", date, chunked),
		response("https://example.fr/gzip", date, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n"+gz(richPage)),
		response("https://example.fr/cut", date, http200+richPage[:len(richPage)-60], warc.Field{Name: warc.FieldTruncated, Value: "length"}),
		response("https://example.fr/img.png", date, "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n\x89PNG...."),
		response("https://example.fr/gone", date, "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\n"+richPage),
		response("https://example.fr/private", date, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Robots-Tag: noai\r\n\r\n"+richPage),
		response("https://example.fr/empty", date, http200+"<html><body><p>no pictures</p></body></html>"),
		response("ftp://example.fr/x", date, http200+richPage),
		response("https://example.fr/garbage", date, "this is not HTTP"),
		response("https://example.fr/huge", date, http200+string(make([]byte, 3000))),
	}
	data, _ := writeRecords(t, recs)
	in := filepath.Join(t.TempDir(), "x.warc.gz")
	os.WriteFile(in, data, 0o644)
	opts := testOptions(t)
	opts.MaxBody = 2500
	st := run(t, opts, in)

	// The pairs are the extractor's, page by page.
	at, _ := time.Parse(time.RFC3339, date)
	var want []string
	for _, page := range []struct{ uri, body string }{
		{"https://example.fr/galerie", richPage}, {"https://example.fr/chunked", richPage},
		{"https://example.fr/gzip", richPage}, {"https://example.fr/cut", richPage[:len(richPage)-60]},
	} {
		u, _ := url.Parse(page.uri)
		pg, err := extract.Extract(u, []byte(page.body), "text/html")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range pg.Candidates {
			want = append(want, fmt.Sprintf("%s | %s | %s | %s | %s | %s", page.uri, c.ImageURL, c.Caption, c.Source, pg.Lang, at.Format(time.RFC3339)))
		}
	}
	got := pairLines(t, opts.Out)
	if !slices.Equal(got, want) {
		t.Fatalf("pairs:\n%v\nwant\n%v", got, want)
	}
	// The rich page exercises every kind of candidate.
	sources := map[string]bool{}
	for s := range st.PairsBySource {
		sources[s] = true
	}
	if !sources["og"] || !sources["figcaption"] || !sources["alt"] || st.Pairs != int64(len(want)) {
		t.Fatalf("sources %v", st.PairsBySource)
	}
	wantOutcomes := map[string]int64{OutcomePairs: 4, OutcomeNotResponse: 2, OutcomeNotHTML: 1, OutcomeHTTPStatus: 1,
		OutcomeNoIndex: 1, OutcomeNoCandidates: 1, OutcomeBadURL: 1, OutcomeBadHTTP: 1, OutcomeTooLarge: 1}
	if fmt.Sprint(st.Outcomes) != fmt.Sprint(wantOutcomes) || st.Records != 13 || st.TruncatedRecords != 1 {
		t.Fatalf("outcomes %v records %d truncated %d", st.Outcomes, st.Records, st.TruncatedRecords)
	}
}
