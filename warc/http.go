package warc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Recorder is an http.RoundTripper that archives every exchange passing through it: the
// request as the transport wrote it (header fields captured with net/http/httptrace) and the
// response as it was received — status line, headers and payload — once the caller closes the
// body. Each hop of a redirect chain is an exchange of its own. Retries made below Base are not
// seen; the exchange archived is the one whose response the caller got.
//
// The payload is what the caller read: a body closed early is archived as far as it was read,
// with WARC-Truncated (length when MaxBody or the client's own limit cut it, time or disconnect
// after a read error, unspecified when the caller stopped). As in Common Crawl's archives the
// payload is stored without transfer or content encoding, the encodings being named in
// X-Crawler-Transfer-Encoding and X-Crawler-Content-Encoding and Content-Length set to the
// stored length (the sent value, when different, in X-Crawler-Content-Length).
type Recorder struct {
	Base    http.RoundTripper
	Archive *Archive
	MaxBody int64       // payload bytes kept per response (default 16 MiB)
	OnError func(error) // archive write failures; default: logged with slog
	// TooLarge, when set, tells the body-size errors of the client below (httpx.ErrBodyTooLarge)
	// from other read errors, so that such a payload is marked WARC-Truncated: length.
	TooLarge func(error) bool
}

// RoundTrip sends req through Base and arranges for the exchange to be archived when the
// response body is closed.
func (rc *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	c := &wireCapture{}
	trace := &httptrace.ClientTrace{
		GotConn:          c.gotConn,
		WroteHeaderField: c.field,
	}
	start := time.Now()
	resp, err := rc.Base.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err != nil {
		return nil, err
	}
	maxBody := rc.MaxBody
	if maxBody <= 0 {
		maxBody = 16 << 20
	}
	resp.Body = &recordedBody{rc: resp.Body, rec: rc, req: req, resp: resp, capture: c, start: start, max: maxBody}
	return resp, nil
}

// wireCapture collects the request header fields the transport wrote for the last attempt.
type wireCapture struct {
	mu     sync.Mutex
	ip     string
	fields []Field
}

func (c *wireCapture) gotConn(info httptrace.GotConnInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fields = c.fields[:0] // a new attempt
	if info.Conn != nil {
		if host, _, err := net.SplitHostPort(info.Conn.RemoteAddr().String()); err == nil {
			c.ip = host
		}
	}
}

func (c *wireCapture) field(key string, values []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range values {
		c.fields = append(c.fields, Field{key, v})
	}
}

// recordedBody passes the body through, keeping a copy, and archives the exchange on Close.
type recordedBody struct {
	rc      io.ReadCloser
	rec     *Recorder
	req     *http.Request
	resp    *http.Response
	capture *wireCapture
	start   time.Time
	max     int64

	buf     bytes.Buffer
	over    bool  // more than max bytes were read
	eof     bool  // the body was read to its end
	readErr error // first read error other than EOF
	once    sync.Once
}

func (b *recordedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		room := b.max - int64(b.buf.Len())
		if int64(n) > room {
			b.over = true
		}
		if room > 0 {
			b.buf.Write(p[:min(int64(n), room)])
		}
	}
	if err == io.EOF {
		b.eof = true
	} else if err != nil && b.readErr == nil {
		b.readErr = err
	}
	return n, err
}

func (b *recordedBody) Close() error {
	err := b.rc.Close()
	b.once.Do(b.archive)
	return err
}

func (b *recordedBody) truncation() string {
	noBody := b.req.Method == http.MethodHead || b.resp.StatusCode == http.StatusNoContent ||
		b.resp.StatusCode == http.StatusNotModified || b.resp.StatusCode < 200 || b.resp.ContentLength == 0
	switch {
	case b.eof && !b.over, noBody && b.buf.Len() == 0 && b.readErr == nil:
		return ""
	case b.over || b.readErr != nil && b.rec.TooLarge != nil && b.rec.TooLarge(b.readErr):
		return "length"
	case b.readErr != nil && isTimeout(b.readErr):
		return "time"
	case b.readErr != nil:
		return "disconnect"
	}
	return "unspecified"
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (b *recordedBody) archive() {
	payload := b.buf.Bytes()
	truncated := b.truncation()
	resp := b.resp
	proto := resp.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}

	var rq bytes.Buffer
	rq.WriteString(b.req.Method + " " + b.req.URL.RequestURI() + " " + proto + "\r\n")
	b.capture.mu.Lock()
	fields, ip := append([]Field(nil), b.capture.fields...), b.capture.ip
	b.capture.mu.Unlock()
	if len(fields) == 0 {
		// The transport reported nothing (not net/http's): write what the request says.
		fields = append(fields, Field{"Host", b.req.URL.Host})
		for k, vs := range b.req.Header {
			for _, v := range vs {
				fields = append(fields, Field{k, v})
			}
		}
	}
	for _, f := range fields {
		name := f.Name
		switch name {
		case ":authority":
			name = "Host"
		case ":method", ":path", ":scheme", ":protocol":
			continue
		}
		rq.WriteString(name + ": " + f.Value + "\r\n")
	}
	rq.WriteString("\r\n")

	h := resp.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if len(resp.TransferEncoding) > 0 {
		h.Set("X-Crawler-Transfer-Encoding", strings.Join(resp.TransferEncoding, ", "))
	}
	if resp.Uncompressed {
		h.Set("X-Crawler-Content-Encoding", "gzip")
	}
	if truncated == "" {
		n := strconv.Itoa(len(payload))
		if sent := h.Get("Content-Length"); sent != "" && sent != n {
			h.Set("X-Crawler-Content-Length", sent)
		}
		h.Set("Content-Length", n)
	}
	var rs bytes.Buffer
	rs.Grow(len(payload) + 1024)
	status := resp.Status
	if status == "" {
		status = strconv.Itoa(resp.StatusCode)
	}
	rs.WriteString(proto + " " + status + "\r\n")
	h.Write(&rs)
	rs.WriteString("\r\n")
	payloadAt := rs.Len()
	rs.Write(payload)

	err := b.rec.Archive.WriteExchange(&Exchange{
		URL:           b.req.URL.String(),
		Date:          b.start,
		IP:            ip,
		Request:       rq.Bytes(),
		Response:      rs.Bytes(),
		PayloadOffset: payloadAt,
		Truncated:     truncated,
	})
	if err != nil {
		if b.rec.OnError != nil {
			b.rec.OnError(err)
		} else {
			slog.Error("warc: archiving an exchange failed", "url", b.req.URL.Redacted(), "err", err)
		}
	}
}
