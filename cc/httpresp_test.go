package cc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
)

func TestParsePlain(t *testing.T) {
	for _, tc := range []struct {
		name, block string
		status      int
		ct, enc     string
		robots      []string
		payload     string
	}{
		{"basic", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello", 200, "text/html", "", nil, "hello"},
		{"length cuts", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhello", 200, "", "", nil, "hel"},
		{"short payload", "HTTP/1.0 200 OK\r\nContent-Length: 99\r\n\r\nhello", 200, "", "", nil, "hello"},
		{"no length", "HTTP/1.1 200 OK\nContent-Type:text/html; charset=utf-8 \n\nhello\r\n", 200, "text/html; charset=utf-8", "", nil, "hello\r\n"},
		{"no reason", "HTTP/1.1 404\r\n\r\n", 404, "", "", nil, ""},
		{"no content", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", 204, "", "", nil, ""},
		{"first wins, names fold", "HTTP/1.1 200 OK\r\ncontent-type: \r\nCONTENT-TYPE: text/plain\r\nContent-Encoding: gzip\r\nx-robots-tag: noai\r\nX-Robots-Tag: googlebot: noindex\r\n\r\n", 200, "", "gzip", []string{"noai", "googlebot: noindex"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h httpHead
			if !h.parsePlain([]byte(tc.block)) {
				t.Fatal("declined")
			}
			if h.status != tc.status || h.contentType != tc.ct || h.contentEncoding != tc.enc || !slices.Equal(h.robotsTags, tc.robots) || string(h.payload) != tc.payload {
				t.Fatalf("got %d %q %q %q %q", h.status, h.contentType, h.contentEncoding, h.robotsTags, h.payload)
			}
		})
	}
}

// TestParsePlainDeclines: what the plain parser leaves to net/http.
func TestParsePlainDeclines(t *testing.T) {
	for name, block := range map[string]string{
		"chunked":            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"folded":             "HTTP/1.1 200 OK\r\nX-Robots-Tag: noai,\r\n noindex\r\n\r\n",
		"leading space":      "HTTP/1.1 200 OK\r\n Content-Type: text/html\r\n\r\n",
		"two lengths":        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
		"bad length":         "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello",
		"empty length":       "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\nhello",
		"no blank line":      "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n",
		"no newline":         "HTTP/1.1 200 OK",
		"space in name":      "HTTP/1.1 200 OK\r\nContent-Type : text/html\r\n\r\n",
		"control in value":   "HTTP/1.1 200 OK\r\nContent-Type: text/html\x00\r\n\r\n",
		"tab after code":     "HTTP/1.1 200\tOK\r\n\r\n",
		"signed code":        "HTTP/1.1 +20 OK\r\n\r\n",
		"not http":           "ICY 200 OK\r\n\r\n",
		"missing colon":      "HTTP/1.1 200 OK\r\nContent-Type text/html\r\n\r\n",
		"bare carriage ret.": "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\r\n\r\n",
	} {
		var h httpHead
		if h.parsePlain([]byte(block)) {
			t.Errorf("%s: parsed %q", name, block)
		}
	}
}

// FuzzHTTPHead holds the plain parser to net/http: whatever it accepts, ReadResponse accepts
// with the same status, fields and payload.
func FuzzHTTPHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello",
		"HTTP/1.0 301 Moved\nLocation: /x\n\n",
		"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nX-Robots-Tag: noai\r\nx-robots-tag: none\r\n\r\n\x1f\x8b",
		"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/2 200 \r\ncontent-type: text/html\r\n\r\n<p>",
		"HTTP/1.1 200 OK\r\nContent-Length: 007\r\nTrailer: X\r\n\r\nabcdefghij",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, block []byte) {
		var h httpHead
		if !h.parsePlain(block) {
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(block)), nil)
		if err != nil {
			t.Fatalf("parsed what ReadResponse refuses (%v): %q", err, block)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("ReadResponse body: %v", err)
		}
		got := fmt.Sprintf("%d %q %q %q %q", h.status, h.contentType, h.contentEncoding, h.robotsTags, h.payload)
		want := fmt.Sprintf("%d %q %q %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Encoding"),
			resp.Header.Values("X-Robots-Tag"), body)
		if got != want {
			t.Fatalf("plain parser: %s\nnet/http:     %s\nblock %q", got, want, block)
		}
	})
}

// BenchmarkHTTPHead compares the plain parser with net/http on a response as Common Crawl
// archives it (a dozen header fields) and a 12 KB page.
func BenchmarkHTTPHead(b *testing.B) {
	block := []byte("HTTP/1.1 200 OK\r\nDate: Fri, 01 Mar 2024 10:00:00 GMT\r\nServer: Apache/2.4.57 (Debian)\r\n" +
		"Last-Modified: Thu, 01 Feb 2024 10:00:00 GMT\r\nETag: \"2f3c-60f0e3a1b2c40\"\r\nAccept-Ranges: bytes\r\nVary: Accept-Encoding\r\n" +
		"X-Crawler-Content-Encoding: gzip\r\nX-Crawler-Content-Length: 3512\r\nContent-Length: 12092\r\nCache-Control: max-age=600\r\n" +
		"Expires: Fri, 01 Mar 2024 10:10:00 GMT\r\nKeep-Alive: timeout=5, max=100\r\nConnection: Keep-Alive\r\nContent-Type: text/html; charset=utf-8\r\n\r\n")
	block = append(block, bytes.Repeat([]byte("<p>a page</p>\n"), 12092/14+1)...)
	b.Run("plain", func(b *testing.B) {
		var h httpHead
		for b.Loop() {
			if !h.parsePlain(block) || len(h.payload) != 12092 {
				b.Fatal("not parsed")
			}
		}
	})
	b.Run("net-http", func(b *testing.B) {
		br := bufio.NewReaderSize(nil, 16<<10)
		var body bytes.Buffer
		for b.Loop() {
			br.Reset(bytes.NewReader(block))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = resp.Header.Get("Content-Type"), resp.Header.Get("Content-Encoding")
			body.Reset()
			if _, err := body.ReadFrom(resp.Body); err != nil || body.Len() != 12092 {
				b.Fatal(err)
			}
		}
	})
}
