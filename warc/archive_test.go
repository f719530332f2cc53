package warc

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readDir reads every committed archive file of dir in name order.
func readDir(t *testing.T, dir string) []*Record {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"+Ext))
	var out []*Record
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rd := NewReader(bytes.NewReader(data), ReaderOptions{})
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			b, err := io.ReadAll(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			rec.Body = bytes.NewReader(b)
			out = append(out, rec)
		}
		if c := rd.Counts(); c.BadMembers+c.Malformed > 0 || c.Members != c.Records {
			t.Fatalf("%s: counts %+v", f, c)
		}
	}
	return out
}

func blockOf(t *testing.T, rec *Record) []byte {
	b, _ := io.ReadAll(rec.Body)
	rec.Body = bytes.NewReader(b)
	return b
}

func TestArchiveRotationAndWarcinfo(t *testing.T) {
	dir := t.TempDir()
	out, err := NewDirOutput(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := NewArchive(out, ArchiveOptions{Prefix: "test", MaxFileBytes: 2000, Info: []Field{{"operator", "tests"}}})
	for i := range 20 {
		ex := &Exchange{URL: "http://example.org/" + string(rune('a'+i)), Date: time.Unix(1700000000, 0),
			Request: []byte("GET / HTTP/1.1\r\nHost: example.org\r\n\r\n"), Response: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + strings.Repeat("z", 200)), PayloadOffset: 44}
		if err := a.WriteExchange(ex); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	files := a.Files()
	if len(files) < 3 {
		t.Fatalf("no rotation: %v", files)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*")); len(tmp) > 0 {
		t.Fatalf("temp files left: %v", tmp)
	}
	var infoID string
	var reqs, resps int
	var lastReq *Record
	for _, rec := range readDir(t, dir) {
		switch rec.Type() {
		case TypeWarcinfo:
			infoID = rec.Get(FieldRecordID)
			if !strings.Contains(string(blockOf(t, rec)), "operator: tests") || !strings.HasSuffix(rec.Get(FieldFilename), Ext) {
				t.Fatalf("warcinfo %+v", rec.Header)
			}
		case TypeRequest:
			reqs++
			lastReq = rec
		case TypeResponse:
			resps++
			if rec.Get(FieldWarcinfoID) != infoID || rec.Get(FieldConcurrentTo) != lastReq.Get(FieldRecordID) || lastReq.Get(FieldConcurrentTo) != rec.Get(FieldRecordID) {
				t.Fatalf("links: %+v / %+v", rec.Header, lastReq.Header)
			}
			b := blockOf(t, rec)
			if rec.Get(FieldBlockDigest) != Digest(b) || rec.Get(FieldPayloadDigest) != Digest(b[44:]) {
				t.Fatal("digests")
			}
			if rec.Version != Version || !strings.HasPrefix(rec.Get(FieldRecordID), "<urn:uuid:") || rec.Get(FieldDate) != "2023-11-14T22:13:20.000Z" {
				t.Fatalf("header %+v", rec.Header)
			}
		}
	}
	if reqs != 20 || resps != 20 {
		t.Fatalf("%d requests, %d responses", reqs, resps)
	}
}

// Digest matches a published value: Common Crawl's digest of the empty payload.
func TestDigest(t *testing.T) {
	if got := Digest(nil); got != "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ" {
		t.Fatal(got)
	}
}

func TestRecoverKilledFile(t *testing.T) {
	dir := t.TempDir()
	out, _ := NewDirOutput(dir, nil)
	a := NewArchive(out, ArchiveOptions{})
	for range 5 {
		a.WriteExchange(&Exchange{URL: "http://x/", Request: []byte("GET / HTTP/1.1\r\n\r\n"), Response: []byte("HTTP/1.1 204 No Content\r\n\r\n")})
	}
	// The process dies mid-record: the temp file ends in half a gzip member.
	tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*"))
	if len(tmps) != 1 {
		t.Fatalf("temp files %v", tmps)
	}
	f, _ := os.OpenFile(tmps[0], os.O_APPEND|os.O_WRONLY, 0)
	var half bytes.Buffer
	zw := gzip.NewWriter(&half)
	zw.Write([]byte("WARC/1.1\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("q", 5000)))
	zw.Flush()
	f.Write(half.Bytes())
	f.Close()
	// Another died right after its warcinfo.
	b := NewArchive(out, ArchiveOptions{Prefix: "empty"})
	b.Write(&OutRecord{Header: Header{Fields: []Field{{FieldType, TypeMetadata}}}})
	emptyTmp, _ := filepath.Glob(filepath.Join(dir, "empty-*.tmp-*"))
	os.Truncate(emptyTmp[0], 0)

	if _, err := NewDirOutput(dir, nil); err != nil {
		t.Fatal(err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*")); len(tmp) > 0 {
		t.Fatalf("temp files left: %v", tmp)
	}
	recs := readDir(t, dir)
	if len(recs) != 11 { // warcinfo + 5 exchanges
		t.Fatalf("%d records recovered", len(recs))
	}
}

func TestRecorder(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page":
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("X-Test", "1")
			io.WriteString(w, "<html>hello</html>")
		case "/gzip":
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			zw.Write([]byte(strings.Repeat("compressed ", 50)))
			zw.Close()
		case "/chunked":
			w.(http.Flusher).Flush()
			io.WriteString(w, "part one ")
			w.(http.Flusher).Flush()
			io.WriteString(w, "part two")
		case "/big":
			io.WriteString(w, strings.Repeat("b", 10000))
		case "/redirect":
			http.Redirect(w, r, "/page", http.StatusFound)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	out, _ := NewDirOutput(dir, nil)
	a := NewArchive(out, ArchiveOptions{})
	var archiveErr error
	client := &http.Client{Transport: &Recorder{Base: http.DefaultTransport, Archive: a, MaxBody: 4096, OnError: func(err error) { archiveErr = err }}}
	get := func(path string, read int64) {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		if read < 0 {
			io.Copy(io.Discard, resp.Body)
		} else {
			io.CopyN(io.Discard, resp.Body, read)
		}
		resp.Body.Close()
	}
	get("/page", -1)
	get("/gzip", -1)
	get("/chunked", -1)
	get("/big", -1)
	get("/page", 3)
	get("/redirect", -1)
	if err := a.Close(); err != nil || archiveErr != nil {
		t.Fatal(err, archiveErr)
	}
	type resp struct {
		uri, truncated string
		msg            *http.Response
		payload        string
	}
	var resps []resp
	for _, rec := range readDir(t, dir) {
		if rec.Type() == TypeRequest {
			b := string(blockOf(t, rec))
			if !strings.HasPrefix(b, "GET /") || !strings.Contains(b, "\r\nHost: 127.0.0.1:") || !strings.Contains(b, "User-Agent: ") {
				t.Fatalf("request block %q", b)
			}
			if rec.Get(FieldIPAddress) != "127.0.0.1" {
				t.Fatalf("ip %q", rec.Get(FieldIPAddress))
			}
		}
		if rec.Type() != TypeResponse {
			continue
		}
		b := blockOf(t, rec)
		m, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := io.ReadAll(m.Body)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatal(err)
		}
		resps = append(resps, resp{strings.TrimPrefix(rec.TargetURI(), srv.URL), rec.Get(FieldTruncated), m, string(p)})
	}
	if len(resps) != 7 {
		t.Fatalf("%d responses", len(resps))
	}
	check := func(i int, uri, truncated, payload string) {
		t.Helper()
		r := resps[i]
		if r.uri != uri || r.truncated != truncated || r.payload != payload {
			t.Fatalf("response %d: %s truncated=%q payload %q", i, r.uri, r.truncated, r.payload)
		}
	}
	check(0, "/page", "", "<html>hello</html>")
	if resps[0].msg.Header.Get("X-Test") != "1" || resps[0].msg.StatusCode != 200 {
		t.Fatalf("headers %v", resps[0].msg.Header)
	}
	check(1, "/gzip", "", strings.Repeat("compressed ", 50))
	if resps[1].msg.Header.Get("X-Crawler-Content-Encoding") != "gzip" || resps[1].msg.Header.Get("Content-Encoding") != "" {
		t.Fatalf("gzip headers %v", resps[1].msg.Header)
	}
	check(2, "/chunked", "", "part one part two")
	if resps[2].msg.Header.Get("X-Crawler-Transfer-Encoding") != "chunked" {
		t.Fatalf("chunked headers %v", resps[2].msg.Header)
	}
	check(3, "/big", "length", strings.Repeat("b", 4096))
	check(4, "/page", "unspecified", "<ht")
	check(5, "/redirect", "", "<a href=\"/page\">Found</a>.\n\n")
	if resps[5].msg.StatusCode != 302 {
		t.Fatal(resps[5].msg.Status)
	}
	check(6, "/page", "", "<html>hello</html>")
}
