package warc

import (
	"errors"
	"io"

	"github.com/witdata/wit/internal/inflate"
)

// wholeInflater decompresses one gzip member held whole in memory. The default build uses
// internal/inflate (no cgo; on amd64 about 2.4 times klauspost's speed on HTML members); the
// build tag libdeflate uses libdeflate (inflate_libdeflate.go), as fast on amd64 and faster where
// internal/inflate runs its Go loop. Members it cannot take — longer than the input it is given,
// corrupt, cut off, or with a header it does not check the way the streaming decoder does — go
// through the streaming klauspost/compress decoder, which decides what they are, so every build
// reads every input the same way.
type wholeInflater interface {
	// inflateGzip decompresses the gzip member at the start of in into out and returns the
	// bytes of in that the member took (header, deflate data and trailer) and the bytes written
	// to out; errWholeOutputFull when out is too small; errWholeCorrupt when no more input can
	// make the member decode; another error when in does not start with a complete member whose
	// CRC and length match.
	inflateGzip(in, out []byte) (inN, outN int, err error)
}

// newWholeInflater returns an inflater for a new Reader.
var newWholeInflater = newGoInflater

// goInflater is the default whole-member inflater.
type goInflater struct{ d inflate.Decompressor }

func newGoInflater() wholeInflater { return new(goInflater) }

func (g *goInflater) inflateGzip(in, out []byte) (int, int, error) {
	inN, outN, err := g.d.Gzip(in, out)
	switch {
	case err == nil:
		return inN, outN, nil
	case errors.Is(err, inflate.ErrOutputFull):
		return 0, 0, errWholeOutputFull
	case errors.Is(err, inflate.ErrShortInput):
		return 0, 0, err
	}
	return 0, 0, errWholeCorrupt
}

var (
	errWholeOutputFull = errors.New("output buffer too small for the gzip member")
	errWholeCorrupt    = errors.New("corrupt gzip member")
)

// Bounds of the whole-member path. Common Crawl members hold at most about 1 MiB of payload
// and are tens of KiB compressed; larger members are streamed.
const (
	wholeAhead     = 64 << 10  // compressed bytes buffered ahead before a member is tried
	wholeMaxIn     = 1 << 20   // compressed bytes a member may take
	wholeMaxOut    = 4 << 20   // decompressed bytes a member may hold
	wholeFirstOut  = 256 << 10 // first size of the output buffer
	wholeMaxMisses = 4         // members in a row too large for the path before a Reader stops trying it
)

// openWholeMember decodes the member at the input position in one call of the whole-member
// inflater. It reports false, leaving the input position at the member's start, when the
// member is to be streamed instead.
func (r *Reader) openWholeMember() bool {
	// The streaming decoder's read-ahead is handed back: the member starts at inputOffset.
	r.raw.seek(r.inputOffset())
	r.zin.Reset(r.raw)
	start := r.raw.offset()
	r.raw.setMark()
	if r.raw.w-r.raw.r < wholeAhead {
		r.raw.fill() // one source Read: no waiting for input the member may not need
	}
	limit := min(wholeMaxIn, r.opts.MaxRewind)
	for {
		in := r.raw.buf[r.raw.r:r.raw.w]
		if len(in) < 18 || in[3]&gzipFlagHeaderCRC != 0 {
			// Too short to be a member (the end of input, or damage: the streaming decoder
			// tells which), or a header CRC, which libdeflate skips and the streaming decoder
			// checks.
			return false
		}
		if r.wholeOut == nil {
			r.wholeOut = make([]byte, wholeFirstOut)
		}
		inN, outN, err := r.whole.inflateGzip(in, r.wholeOut)
		switch {
		case err == nil:
			r.raw.r += inN
			r.wholeData = r.wholeOut[:outN]
			r.wholeMisses = 0
			r.memberStart = start
			r.inMember, r.inWhole = true, true
			return true
		case errors.Is(err, errWholeCorrupt):
			return false // not too large: no miss counted
		case errors.Is(err, errWholeOutputFull) && len(r.wholeOut) < wholeMaxOut:
			r.wholeOut = make([]byte, min(2*len(r.wholeOut), wholeMaxOut))
			continue
		case !errors.Is(err, errWholeOutputFull) && len(in) < limit && r.raw.err == nil:
			// Bad data, or a member longer than the buffered input: try again with more.
			if r.raw.readAhead(min(2*len(in), limit)) > len(in) {
				continue
			}
		}
		r.wholeMisses++
		return false
	}
}

// gzipFlagHeaderCRC is the FHCRC bit of a gzip member's flag byte.
const gzipFlagHeaderCRC = 0x02

// readWhole copies decompressed bytes of a member decoded whole into p, which is Reader.buf from
// Reader.bw on; io.EOF after the last. A member that fits in an empty buf is not copied: the
// output buffer becomes buf (with buf's length, so that later reads go in the same steps) and
// buf's storage, when it is as large, the next output buffer.
func (r *Reader) readWhole(p []byte) (int, error) {
	if r.bw == 0 && len(r.wholeData) > 0 && len(r.wholeData) <= len(r.buf) && len(r.buf) <= cap(r.wholeOut) &&
		cap(r.buf) >= wholeFirstOut && &r.wholeData[0] == &r.wholeOut[0] {
		n := len(r.wholeData)
		r.buf, r.wholeOut = r.wholeOut[:len(r.buf)], r.buf[:cap(r.buf)]
		r.wholeData, r.inWhole = nil, false
		return n, io.EOF
	}
	n := copy(p, r.wholeData)
	r.wholeData = r.wholeData[n:]
	if len(r.wholeData) == 0 {
		r.inWhole = false
		return n, io.EOF
	}
	return n, nil
}
