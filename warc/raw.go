package warc

import (
	"bytes"
	"errors"
	"io"
)

// rawReader buffers the input (the compressed bytes of a .warc.gz) and can go back to a mark:
// the start of the gzip member being decoded is marked, so that when the member turns out to be
// corrupt the scan for the next member header starts right after the bad member's start, not
// wherever the broken deflate stream happened to stop (which may be deep inside the next
// member). Bytes are retained from the mark up to maxKeep; a longer member drops its mark and
// the scan starts from the current position instead.
//
// Compressed input is decoded through a bufio.Reader on top of it (Reader.zin), which reads
// ahead; the last lookback bytes before the read position are therefore always retained too, so
// that the position the decompressor actually reached can be marked or returned to.
type rawReader struct {
	src      io.Reader
	buf      []byte
	r, w     int   // read and write positions in buf
	mark     int   // retained start in buf, -1 for none
	base     int64 // input offset of buf[0]
	err      error // sticky error of src
	maxKeep  int
	lookback int // bytes before r always retained (the read-ahead of the reader on top)
	growTo   int // buf grows up to this size for longer reads of src (see fill)
}

// Reads of src: a full buffer that would have less than rawMinRead free after sliding its
// retained bytes to the front is replaced by one of rawMaxReadBuf (no larger than MaxRewind, so
// that a mark is given up where it was before). Each Read of src then takes hundreds of KiB
// rather than the 32 KiB left beside the retained bytes: a tenth of the system calls, and the
// bytes slid per byte read drop from ~3 to ~0.2 on the whole-member path.
const (
	rawMinRead    = 256 << 10
	rawMaxReadBuf = 512 << 10
)

func newRawReader(src io.Reader, maxKeep, lookback int) *rawReader {
	size := max(64<<10, 4*lookback)
	return &rawReader{src: src, buf: make([]byte, size), mark: -1, maxKeep: maxKeep, lookback: lookback,
		growTo: max(size, min(rawMaxReadBuf, maxKeep))}
}

// offset is the input offset of the next byte to be read.
func (b *rawReader) offset() int64 { return b.base + int64(b.r) }

func (b *rawReader) setMark() { b.mark = b.r }

// setMarkAt marks input offset off, a retained position at or before the read position.
func (b *rawReader) setMarkAt(off int64) {
	b.mark = -1
	if i := off - b.base; i >= 0 && i <= int64(b.r) {
		b.mark = int(i)
	}
}

// seek moves the read position to input offset off, a retained position at or before the read
// position (where the reader on top really stands, before its read-ahead).
func (b *rawReader) seek(off int64) {
	if i := off - b.base; i >= 0 && i <= int64(b.r) {
		b.r = int(i)
	}
}

// rewind moves the read position back to input offset off, if it is still retained.
func (b *rawReader) rewind(off int64) bool {
	if b.mark < 0 || off < b.base+int64(b.mark) || off > b.base+int64(b.w) {
		return false
	}
	b.r = int(off - b.base)
	return true
}

// fill reads more input into buf. It returns src's error (io.EOF at the end) only when no byte
// was added.
func (b *rawReader) fill() error {
	if b.err != nil {
		return b.err
	}
	keep := max(b.r-b.lookback, 0)
	if b.mark >= 0 && b.mark < keep {
		keep = b.mark
	}
	if b.w == len(b.buf) && keep > 0 {
		// Slide the retained bytes to the front, into a larger buffer when little room would be
		// left for the Read.
		buf := b.buf
		if len(b.buf)-(b.w-keep) < rawMinRead && len(b.buf) < b.growTo {
			buf = make([]byte, b.growTo)
		}
		n := copy(buf, b.buf[keep:b.w])
		b.buf = buf
		b.base += int64(keep)
		b.r -= keep
		if b.mark >= 0 {
			b.mark -= keep
		}
		b.w = n
	}
	if b.w == len(b.buf) {
		// Full of retained bytes: grow up to maxKeep, then give the mark up.
		if len(b.buf) < b.maxKeep {
			nb := make([]byte, min(2*len(b.buf), b.maxKeep))
			copy(nb, b.buf[:b.w])
			b.buf = nb
		} else if b.mark >= 0 {
			b.mark = -1
			return b.fill()
		} else {
			return nil // full of unread bytes
		}
	}
	for range 100 {
		n, err := b.src.Read(b.buf[b.w:])
		b.w += n
		if err != nil {
			b.err = err
			if n > 0 {
				return nil
			}
			return err
		}
		if n > 0 {
			return nil
		}
	}
	b.err = io.ErrNoProgress
	return b.err
}

func (b *rawReader) ReadByte() (byte, error) {
	if b.r == b.w {
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	c := b.buf[b.r]
	b.r++
	return c, nil
}

func (b *rawReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.r == b.w {
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}

// readAhead reads until n unread bytes are buffered, the input ends or the buffer cannot grow
// (MaxRewind), and returns how many unread bytes are buffered.
func (b *rawReader) readAhead(n int) int {
	for b.w-b.r < n {
		w := b.w
		if err := b.fill(); err != nil || b.w == w {
			break
		}
	}
	return b.w - b.r
}

// peek returns up to n buffered bytes, reading more if needed; fewer only at the end of input.
func (b *rawReader) peek(n int) ([]byte, error) {
	for b.w-b.r < n {
		if err := b.fill(); err != nil {
			if errors.Is(err, io.EOF) {
				return b.buf[b.r:b.w], nil
			}
			return b.buf[b.r:b.w], err
		}
	}
	return b.buf[b.r : b.r+n], nil
}

// gzipMagic starts every gzip member: ID1, ID2 and CM = deflate.
var gzipMagic = []byte{0x1f, 0x8b, 0x08}

// seekGzipHeader moves the read position to the next plausible gzip member header (magic and a
// flag byte without reserved bits) and reports whether it found one before the end of input.
// The bytes passed over are not retained.
func (b *rawReader) seekGzipHeader() (bool, error) {
	b.mark = -1
	for {
		if i := bytes.Index(b.buf[b.r:b.w], gzipMagic); i >= 0 {
			b.r += i
			hdr, err := b.peek(4)
			if err != nil {
				return false, err
			}
			if len(hdr) < 4 {
				b.r = b.w
				return false, nil
			}
			if hdr[3]&0xe0 == 0 {
				return true, nil
			}
			b.r++
			continue
		}
		// Keep the last two bytes: they may be the start of a magic split across reads.
		if b.w-b.r > 2 {
			b.r = b.w - 2
		}
		if err := b.fill(); err != nil {
			b.r = b.w
			if errors.Is(err, io.EOF) {
				return false, nil
			}
			return false, err
		}
	}
}
