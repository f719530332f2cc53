package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"
)

func randDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// body enforces the byte limit, names attempt timeouts in read errors and
// releases the host slot on Close.
type body struct {
	rc      io.ReadCloser
	n, max  int64
	size    int64 // Content-Length, -1 if unknown
	ctx     context.Context
	stop    func() bool
	done    func()
	timeout time.Duration
	url     string
}

func (b *body) Read(p []byte) (int, error) {
	if b.size > b.max {
		return 0, fmt.Errorf("httpx: %s: Content-Length %d over %d: %w", b.url, b.size, b.max, ErrBodyTooLarge)
	}
	if b.n > b.max {
		return 0, fmt.Errorf("httpx: %s: body over %d bytes: %w", b.url, b.max, ErrBodyTooLarge)
	}
	if room := b.max - b.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if b.n > b.max {
		return n - int(b.n-b.max), fmt.Errorf("httpx: %s: body over %d bytes: %w", b.url, b.max, ErrBodyTooLarge)
	}
	if err != nil && err != io.EOF && errors.Is(b.ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("httpx: %s: body not complete within %s: %w", b.url, b.timeout, err)
	}
	return n, err
}

func (b *body) Close() error {
	err := b.rc.Close()
	b.stop() // both idempotent, so Close may be called twice
	b.done()
	return err
}

// ReadPrefix reads at most n bytes of resp's body and closes it. A longer body is cut at n
// without error, whatever its Content-Length says, and the client's MaxBodyBytes does not
// apply: this is for documents where only a prefix counts (robots.txt: the first 500 KiB, as
// Google reads it). The attempt timeout still does.
func ReadPrefix(resp *http.Response, n int64) ([]byte, error) {
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	if b, ok := resp.Body.(*body); ok {
		r = &prefixReader{b: b}
	}
	data, err := io.ReadAll(io.LimitReader(r, n))
	if err != nil {
		where := "response"
		if resp.Request != nil && resp.Request.URL != nil {
			where = resp.Request.URL.Redacted()
		}
		return nil, fmt.Errorf("read %s: %w", where, err)
	}
	return data, nil
}

// prefixReader reads a body past the size checks of body.Read (the caller bounds the bytes),
// keeping its timeout message.
type prefixReader struct{ b *body }

func (p *prefixReader) Read(buf []byte) (int, error) {
	n, err := p.b.rc.Read(buf)
	if err != nil && err != io.EOF && errors.Is(p.b.ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("httpx: %s: body not complete within %s: %w", p.b.url, p.b.timeout, err)
	}
	return n, err
}

// ReadBody reads resp's whole body and closes it. More than max bytes
// (max <= 0: DefaultMaxBodyBytes) fails with ErrBodyTooLarge, without reading
// the body when Content-Length already says so.
func ReadBody(resp *http.Response, max int64) ([]byte, error) {
	defer resp.Body.Close()
	if max <= 0 {
		max = DefaultMaxBodyBytes
	}
	where := "response"
	if resp.Request != nil && resp.Request.URL != nil {
		where = resp.Request.URL.Redacted()
	}
	if resp.ContentLength > max {
		return nil, fmt.Errorf("read %s: Content-Length %d over %d: %w", where, resp.ContentLength, max, ErrBodyTooLarge)
	}
	size := int64(4096)
	if resp.ContentLength >= 0 {
		size = resp.ContentLength + 1 // +1 so the EOF read needs no growth
	}
	buf := make([]byte, 0, min(size, max+1))
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		room := buf[len(buf):cap(buf)]
		if limit := max + 1 - int64(len(buf)); int64(len(room)) > limit {
			room = room[:limit]
		}
		n, err := resp.Body.Read(room)
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return nil, fmt.Errorf("read %s: body over %d bytes: %w", where, max, ErrBodyTooLarge)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", where, err)
		}
	}
}
