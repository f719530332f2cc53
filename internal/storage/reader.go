package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Sizes of the windows a remote reader fetches.
const (
	ReadAhead  = 8 << 20  // sequential window: one range request per 8 MiB read in order
	tailWindow = 64 << 10 // the file's end, where Arrow's footer and magic are
)

// remoteReader reads an object with range requests, served from two cached windows: the file's
// tail and a read-ahead window, so that Arrow's pattern (footer, then batches in order) costs a
// request per ReadAhead bytes instead of one per read.
type remoteReader struct {
	ctx  context.Context
	d    *bucketDir
	name string
	size int64

	mu   sync.Mutex
	tail window
	seq  window
	off  int64 // Read and Seek offset
}

type window struct {
	off  int64
	data []byte
}

func (w *window) has(pos int64) bool { return pos >= w.off && pos < w.off+int64(len(w.data)) }

func newRemoteReader(ctx context.Context, d *bucketDir, name string, size int64) *remoteReader {
	return &remoteReader{ctx: ctx, d: d, name: name, size: size}
}

func (r *remoteReader) Size() int64 { return r.size }

func (r *remoteReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("storage: read %s at %d: negative offset", r.name, off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := p
	if rest := r.size - off; int64(len(p)) > rest {
		want = p[:rest]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(want) {
		pos := off + int64(n)
		if r.tail.has(pos) {
			n += copy(want[n:], r.tail.data[pos-r.tail.off:])
			continue
		}
		if r.seq.has(pos) {
			n += copy(want[n:], r.seq.data[pos-r.seq.off:])
			continue
		}
		rest := want[n:]
		if len(rest) >= ReadAhead {
			// A read as large as the window goes straight into p.
			if err := r.d.readRange(r.ctx, r.name, pos, rest); err != nil {
				return n, err
			}
			n = len(want)
			break
		}
		w := &r.seq
		start, end := pos, min(r.size, pos+ReadAhead)
		if pos >= r.size-tailWindow {
			w, start, end = &r.tail, max(0, r.size-tailWindow), r.size
		}
		buf := w.data[:0]
		if int64(cap(buf)) < end-start {
			buf = make([]byte, end-start)
		}
		buf = buf[:end-start]
		w.data = nil
		if err := r.d.readRange(r.ctx, r.name, start, buf); err != nil {
			return n, err
		}
		w.off, w.data = start, buf
	}
	if len(want) < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (r *remoteReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	off := r.off
	r.mu.Unlock()
	n, err := r.ReadAt(p, off)
	r.mu.Lock()
	r.off = off + int64(n)
	r.mu.Unlock()
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (r *remoteReader) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, errors.New("storage: seek: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("storage: seek before the start")
	}
	r.off = offset
	return offset, nil
}

func (r *remoteReader) Close() error {
	r.mu.Lock()
	r.tail, r.seq = window{}, window{}
	r.mu.Unlock()
	return nil
}
