package warc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"slices"
	"strconv"
)

// ErrTruncated is wrapped by the error Next returns when the input ends inside a record or a
// gzip member: the records before it were complete, the rest of the input is missing.
var ErrTruncated = errors.New("warc: input truncated")

// Reasons of Skip events.
const (
	SkipBadMember = "bad_gzip_member"  // a gzip member that does not decompress or fails its CRC
	SkipMalformed = "malformed_record" // a record whose header cannot be parsed
)

// Skip describes input that Next passed over.
type Skip struct {
	Offset int64  // input offset where the skipped data starts (a gzip member's start when compressed)
	Reason string // SkipBadMember or SkipMalformed
	Err    error
}

// ReaderOptions tunes a Reader; the zero value is ready to use.
type ReaderOptions struct {
	// MaxHeaderBytes bounds a record header; a longer one is malformed (default 256 KiB).
	MaxHeaderBytes int
	// MaxRewind bounds the compressed bytes of one gzip member kept so that, when the member is
	// corrupt, the next member is searched from right after its start (default 16 MiB; members
	// of Common Crawl files are far smaller).
	MaxRewind int
	// OnSkip, when set, is called for every corrupt member and malformed record skipped.
	OnSkip func(Skip)
}

// Counts tallies what a Reader has read and skipped.
type Counts struct {
	Records    int64 `json:"records"`           // records returned by Next
	Members    int64 `json:"gzip_members"`      // complete gzip members (compressed input)
	BadMembers int64 `json:"bad_gzip_members"`  // corrupt members skipped (one per corrupt stretch)
	Malformed  int64 `json:"malformed_records"` // records skipped for an unparsable header
	Truncated  bool  `json:"truncated"`         // the input ended inside a record or member
}

// Record is one WARC record. Body reads its block (Content-Length bytes) and is valid until the
// next call to Next. In compressed input a record's last Read checks its gzip member's CRC
// first, so a body read to io.EOF is known to be intact; a corrupt member makes Read fail.
type Record struct {
	Header
	Offset int64 // input offset of the record (of its gzip member when compressed)
	Length int64 // Content-Length: the size of the block
	Body   io.Reader
}

// Reader reads WARC records (WARC/1.0, 1.1 and older versions) from a stream, uncompressed or
// gzip-compressed (one member per record as Common Crawl writes them, or any member layout). It
// never holds more than one record header, a read buffer and, for rescans, one gzip member.
//
// Damage is skipped, not fatal: a gzip member that fails to decompress is counted and reading
// resumes at the next member header found after its start; a record whose header cannot be
// parsed is counted and reading resumes at the next "WARC/" version line. An input that ends
// inside a record makes Next return an error wrapping ErrTruncated, after every complete record
// before it. Errors of the underlying reader are returned as they are.
type Reader struct {
	opts       ReaderOptions
	raw        *rawReader
	zin        *bufio.Reader // compressed input: the type flate has its fast decoder for
	gz         *gzip.Reader
	compressed bool
	started    bool

	inMember    bool
	memberStart int64

	// The whole-member path (see inflate.go).
	whole       wholeInflater
	wholeOff    bool   // stream every member (tests compare both paths)
	inWhole     bool   // the current member was decoded whole into wholeData
	wholeData   []byte // its decompressed bytes not yet read
	wholeOut    []byte
	wholeMisses int // members in a row that were too large for the path

	buf    []byte // decompressed bytes
	br, bw int
	spare  []byte // buf's twin: Block hands buf out and reads on in this one
	// blockBuf holds a block that Block reads through Body's steps (one not yet in buf).
	blockBuf []byte

	gen       uint64 // record generation, so stale bodies fail
	remaining int64  // unread block bytes of the current record
	inRecord  bool   // a record's block (and trailer) is not fully consumed yet
	bodyErr   error  // sticky error of the current record's body
	resync    bool   // the current member is corrupt: search for the next one
	lastBad   error  // the corruption that asked for resync
	inDamage  bool   // skipping a stretch of damage already counted
	done      error  // io.EOF or the final error once the input is exhausted
	counts    Counts
	scratch   []byte
	maxHeader int
	vals      []byte // header values of the record being read, concatenated
	valEnds   []int  // end of each field's value in vals
}

// errMemberEnd is returned by decRead when asked not to go past the end of a gzip member.
var errMemberEnd = errors.New("end of gzip member")

// corruptError marks a gzip member that cannot be decompressed.
type corruptError struct {
	offset int64
	err    error
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("warc: corrupt gzip member at offset %d: %v", e.offset, e.err)
}
func (e *corruptError) Unwrap() error { return e.err }

// malformedError marks a record header that cannot be parsed.
type malformedError struct {
	offset int64
	msg    string
}

func (e *malformedError) Error() string {
	return fmt.Sprintf("warc: malformed record at offset %d: %s", e.offset, e.msg)
}

// NewReader returns a Reader of r. Compression is detected from the first bytes.
func NewReader(r io.Reader, opts ReaderOptions) *Reader {
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = 256 << 10
	}
	if opts.MaxRewind <= 0 {
		opts.MaxRewind = 16 << 20
	}
	return &Reader{
		opts:      opts,
		raw:       newRawReader(r, opts.MaxRewind, zinSize),
		buf:       newReadBuf(64 << 10),
		maxHeader: opts.MaxHeaderBytes,
	}
}

// newReadBuf makes a read buffer of n bytes with the capacity of the whole-member inflater's
// output buffer, so that the two can change places (see readWhole).
func newReadBuf(n int) []byte {
	return make([]byte, n, max(n, wholeFirstOut))
}

// zinSize is the read-ahead of the bufio.Reader the decompressor reads: github.com/klauspost/
// compress/flate decodes from a *bufio.Reader's buffer directly, several times faster per byte
// than through another io.ByteReader.
const zinSize = 32 << 10

// Counts returns what has been read and skipped so far.
func (r *Reader) Counts() Counts { return r.counts }

// Compressed reports whether the input is gzip-compressed (known after the first Next).
func (r *Reader) Compressed() bool { return r.compressed }

// Offset is the input offset up to which the input has been consumed: after a record's body was
// read to io.EOF in per-record gzip input, the end of its member.
func (r *Reader) Offset() int64 { return r.inputOffset() }

// inputOffset is the input offset of the next compressed byte not yet taken by the decoder.
func (r *Reader) inputOffset() int64 {
	if r.zin != nil {
		return r.raw.offset() - int64(r.zin.Buffered())
	}
	return r.raw.offset()
}

func (r *Reader) start() error {
	r.started = true
	hdr, err := r.raw.peek(2)
	if err != nil {
		return err
	}
	r.compressed = len(hdr) == 2 && hdr[0] == 0x1f && hdr[1] == 0x8b
	if r.compressed {
		r.zin = bufio.NewReaderSize(r.raw, zinSize)
	}
	if r.compressed || len(hdr) < 2 {
		return nil
	}
	// Neither gzip nor a record at the start: damage at the start of a compressed file, if a
	// member header follows soon.
	head, err := r.raw.peek(64 << 10)
	if err != nil {
		return err
	}
	if bytes.HasPrefix(bytes.TrimLeft(head, "\r\n"), warcPrefix) || !bytes.Contains(head, gzipMagic) {
		return nil
	}
	r.compressed = true
	r.zin = bufio.NewReaderSize(r.raw, zinSize)
	r.raw.setMark()
	r.resync, r.lastBad = true, errors.New("input does not start with a gzip member")
	return nil
}

// Next returns the next record, io.EOF at the end of the input, or an error wrapping
// ErrTruncated when the input ends inside a record (io.EOF after that).
func (r *Reader) Next() (*Record, error) {
	if r.done != nil {
		return nil, r.done
	}
	if !r.started {
		if err := r.start(); err != nil {
			return nil, r.finish(err)
		}
	}
	if errors.Is(r.bodyErr, ErrTruncated) {
		return nil, r.finish(r.bodyErr)
	}
	if r.inRecord && r.bodyErr == nil {
		// Skip what the caller left of the previous record.
		for r.remaining > 0 || r.inRecord {
			if _, err := r.readBody(r.gen, r.scratchBuf()); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				if !r.resync {
					return nil, r.finish(err)
				}
				break
			}
		}
	}
	r.gen++
	r.inRecord, r.remaining, r.bodyErr = false, 0, nil
	for {
		if r.resync {
			if err := r.recover(); err != nil {
				return nil, r.finish(err)
			}
		}
		rec, err := r.readHeader()
		if err == nil {
			r.inDamage = false
			r.counts.Records++
			r.inRecord, r.remaining = true, rec.Length
			rec.Body = &body{r: r, gen: r.gen}
			return rec, nil
		}
		var ce *corruptError
		var me *malformedError
		switch {
		case errors.As(err, &ce):
			r.resync, r.lastBad = true, err
		case errors.As(err, &me):
			r.counts.Malformed++
			r.skipEvent(Skip{Offset: me.offset, Reason: SkipMalformed, Err: err})
		default:
			return nil, r.finish(err)
		}
	}
}

// finish records the end of the input: io.EOF stays io.EOF; a truncation is returned once and
// io.EOF after it; any other error is sticky.
func (r *Reader) finish(err error) error {
	if errors.Is(err, ErrTruncated) {
		r.counts.Truncated = true
		r.done = io.EOF
		return err
	}
	r.done = err
	return err
}

func (r *Reader) skipEvent(s Skip) {
	if r.opts.OnSkip != nil {
		r.opts.OnSkip(s)
	}
}

func (r *Reader) scratchBuf() []byte {
	if r.scratch == nil {
		r.scratch = make([]byte, 32<<10)
	}
	return r.scratch
}

// recover drops what was decoded from a corrupt member and moves to the next member header
// found after the corrupt member's start.
func (r *Reader) recover() error {
	r.resync = false
	r.br, r.bw = 0, 0
	r.inMember, r.inWhole, r.wholeData = false, false, nil
	cause, start := r.lastBad, r.memberStart
	r.raw.seek(r.inputOffset()) // take back what the decoder's reader read ahead
	r.zin.Reset(r.raw)
	r.raw.rewind(start + 1) // when the member was too long to retain, search from here
	found, err := r.raw.seekGzipHeader()
	if err != nil {
		return err
	}
	if !found && errors.Is(cause, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: gzip member at offset %d ends early: %v", ErrTruncated, start, cause)
	}
	if !r.inDamage {
		r.inDamage = true
		r.counts.BadMembers++
		r.skipEvent(Skip{Offset: start, Reason: SkipBadMember, Err: cause})
	}
	if !found {
		return io.EOF
	}
	return nil
}

// decRead reads decompressed bytes into p. With stopAtEnd it does not open the next gzip member
// but returns errMemberEnd once the current one ended (its CRC checked).
func (r *Reader) decRead(p []byte, stopAtEnd bool) (int, error) {
	if !r.compressed {
		return r.raw.Read(p)
	}
	for {
		if !r.inMember {
			if stopAtEnd {
				return 0, errMemberEnd
			}
			if err := r.openMember(); err != nil {
				return 0, err
			}
		}
		var n int
		var err error
		if r.inWhole {
			n, err = r.readWhole(p)
		} else {
			n, err = r.gz.Read(p)
		}
		if err == io.EOF {
			r.inMember = false
			r.counts.Members++
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			if r.raw.err != nil && !errors.Is(r.raw.err, io.EOF) {
				return 0, r.raw.err // the source failed, not the data
			}
			return 0, &corruptError{offset: r.memberStart, err: err}
		}
		if n == 0 {
			continue
		}
		return n, nil
	}
}

func (r *Reader) openMember() error {
	if !r.wholeOff && r.wholeMisses < wholeMaxMisses {
		if r.whole == nil {
			r.whole = newWholeInflater()
		}
		if r.whole != nil && r.openWholeMember() {
			return nil
		}
	}
	r.memberStart = r.inputOffset()
	r.raw.setMarkAt(r.memberStart)
	var err error
	if r.gz == nil {
		r.gz, err = gzip.NewReader(r.zin)
	} else {
		err = r.gz.Reset(r.zin)
	}
	if err == io.EOF {
		return io.EOF
	}
	if err != nil {
		if r.raw.err != nil && !errors.Is(r.raw.err, io.EOF) {
			return r.raw.err
		}
		return &corruptError{offset: r.memberStart, err: err}
	}
	r.gz.Multistream(false)
	r.inMember = true
	return nil
}

// fill appends decompressed bytes to buf, growing it up to limit when it is full.
func (r *Reader) fill(stopAtEnd bool, limit int) error {
	if r.br > 0 {
		n := copy(r.buf, r.buf[r.br:r.bw])
		r.br, r.bw = 0, n
	}
	if r.bw == len(r.buf) {
		if len(r.buf) >= limit {
			return errBufferFull
		}
		nb := make([]byte, min(2*len(r.buf), limit))
		copy(nb, r.buf[:r.bw])
		r.buf = nb
	}
	n, err := r.decRead(r.buf[r.bw:], stopAtEnd)
	r.bw += n
	if n > 0 && err != nil && (errors.Is(err, io.EOF) || errors.Is(err, errMemberEnd)) {
		return nil
	}
	return err
}

var (
	errBufferFull  = errors.New("buffer full")
	errPartialLine = errors.New("input ends inside a line")
)

// lineOffset is the input offset of the next unread decompressed byte, as near as it is known.
func (r *Reader) lineOffset() int64 {
	if r.compressed {
		return r.memberStart
	}
	return r.raw.offset() - int64(r.bw-r.br)
}

// readLine returns the next line without its line ending; the slice is valid until the next
// read. At the end of input a last unterminated line gives errPartialLine. A line longer
// than the header limit gives errBufferFull after its bytes so far were consumed.
func (r *Reader) readLine() ([]byte, error) {
	scanned := 0
	for {
		if i := bytes.IndexByte(r.buf[r.br+scanned:r.bw], '\n'); i >= 0 {
			end := r.br + scanned + i
			line := r.buf[r.br:end]
			r.br = end + 1
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			return line, nil
		}
		scanned = r.bw - r.br
		err := r.fill(false, r.maxHeader+1024)
		if err == nil {
			continue
		}
		if errors.Is(err, errBufferFull) {
			r.br = r.bw
			return nil, err
		}
		if errors.Is(err, io.EOF) && r.bw > r.br {
			line := r.buf[r.br:r.bw]
			r.br = r.bw
			return line, errPartialLine
		}
		return nil, err
	}
}

var warcPrefix = []byte("WARC/")

// readHeader finds the next version line (passing blank lines, and junk after damage) and
// parses the named fields after it.
func (r *Reader) readHeader() (*Record, error) {
	var rec *Record
	for {
		off := r.lineOffset()
		line, err := r.readLine()
		if errors.Is(err, errPartialLine) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			return nil, fmt.Errorf("%w: input ends inside a record header at offset %d", ErrTruncated, off)
		}
		if err != nil {
			if errors.Is(err, errBufferFull) {
				if !r.inDamage {
					r.inDamage = true
					return nil, &malformedError{offset: off, msg: "line too long where a record should start"}
				}
				continue
			}
			return nil, err
		}
		if len(line) == 0 {
			continue
		}
		if bytes.HasPrefix(line, warcPrefix) {
			if r.compressed {
				off = r.memberStart // the member the version line came from
			}
			ra := &recordAlloc{}
			ra.rec = Record{Header: Header{Version: versionString(line), Fields: ra.fields[:0]}, Offset: off}
			rec = &ra.rec
			break
		}
		if !r.inDamage {
			r.inDamage = true
			return nil, &malformedError{offset: off, msg: fmt.Sprintf("want a WARC/ version line, got %q", truncateForError(line))}
		}
	}
	// The values are gathered in vals and become one string at the end: one allocation for
	// all of them; the usual field names are constants.
	r.vals, r.valEnds = r.vals[:0], r.valEnds[:0]
	size := 0
	for {
		line, err := r.readLine()
		if err != nil {
			switch {
			case errors.Is(err, errBufferFull):
				r.inDamage = true
				return nil, &malformedError{offset: rec.Offset, msg: "header too long"}
			case errors.Is(err, io.EOF), errors.Is(err, errPartialLine):
				return nil, fmt.Errorf("%w: input ends inside the record header at offset %d", ErrTruncated, rec.Offset)
			}
			return nil, err
		}
		if len(line) == 0 {
			break
		}
		size += len(line) + 2
		if size > r.maxHeader || len(rec.Fields) >= 10000 {
			r.inDamage = true
			return nil, &malformedError{offset: rec.Offset, msg: "header too long"}
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(rec.Fields) == 0 {
				r.inDamage = true
				return nil, &malformedError{offset: rec.Offset, msg: "continuation line before any field"}
			}
			r.vals = append(append(r.vals, ' '), bytes.TrimSpace(line)...)
			r.valEnds[len(r.valEnds)-1] = len(r.vals)
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			r.inDamage = true
			return nil, &malformedError{offset: rec.Offset, msg: fmt.Sprintf("field without a name: %q", truncateForError(line))}
		}
		rec.Fields = append(rec.Fields, Field{Name: fieldName(bytes.TrimSpace(line[:colon]))})
		r.vals = append(r.vals, bytes.TrimSpace(line[colon+1:])...)
		r.valEnds = append(r.valEnds, len(r.vals))
	}
	vals, start := string(r.vals), 0
	for i, end := range r.valEnds {
		rec.Fields[i].Value, start = vals[start:end], end
	}
	cl := rec.Get(FieldContentLength)
	n, err := strconv.ParseInt(cl, 10, 64)
	if err != nil || n < 0 {
		r.inDamage = true
		return nil, &malformedError{offset: rec.Offset, msg: fmt.Sprintf("bad Content-Length %q", cl)}
	}
	rec.Length = n
	return rec, nil
}

// recordAlloc holds a record and room for the fields of a usual header in one allocation.
type recordAlloc struct {
	rec    Record
	fields [12]Field
}

func versionString(line []byte) string {
	switch string(line) { // no allocation for the comparison
	case "WARC/1.0":
		return "WARC/1.0"
	case "WARC/1.1":
		return "WARC/1.1"
	}
	return string(line)
}

// fieldName returns the usual field names as constants instead of allocating them.
func fieldName(b []byte) string {
	switch string(b) {
	case FieldType:
		return FieldType
	case FieldRecordID:
		return FieldRecordID
	case FieldDate:
		return FieldDate
	case FieldTargetURI:
		return FieldTargetURI
	case FieldContentLength:
		return FieldContentLength
	case FieldContentType:
		return FieldContentType
	case FieldConcurrentTo:
		return FieldConcurrentTo
	case FieldBlockDigest:
		return FieldBlockDigest
	case FieldPayloadDigest:
		return FieldPayloadDigest
	case FieldIPAddress:
		return FieldIPAddress
	case FieldTruncated:
		return FieldTruncated
	case FieldWarcinfoID:
		return FieldWarcinfoID
	case FieldFilename:
		return FieldFilename
	case "WARC-Refers-To":
		return "WARC-Refers-To"
	case "WARC-Identified-Payload-Type":
		return "WARC-Identified-Payload-Type"
	}
	return string(b)
}

func truncateForError(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

// body reads the block of one record.
type body struct {
	r   *Reader
	gen uint64
}

func (b *body) Read(p []byte) (int, error) { return b.r.readBody(b.gen, p) }

// Block reads the rest of the record's block (all of it, unless Body was read from) and checks it
// as a Read to io.EOF does: in compressed input the gzip member's CRC, when the member ends with
// the record. The bytes are the Reader's own and valid until the next call to Next; usually they
// are not even copied (a block already decompressed in the read buffer is handed out as it is).
// Block holds the whole block in memory: check Length first. Errors are those Body's Reads give.
func (rec *Record) Block() ([]byte, error) {
	b, ok := rec.Body.(*body)
	if !ok { // a Record made by hand
		data, err := io.ReadAll(rec.Body)
		if err == nil && int64(len(data)) != rec.Length {
			err = fmt.Errorf("warc: block of %d bytes, Content-Length %d", len(data), rec.Length)
		}
		return data, err
	}
	return b.r.readBlock(b.gen)
}

// readBlock hands out the rest of the block. When it is all in buf, buf and spare change places
// (the rest of buf is copied to the front of spare, where the next fill would have moved it), so
// that reading on — the record's trailer, the next member — leaves the block alone; buf keeps its
// length, so later reads decode in the same steps as without Block. Otherwise the block is read
// as Body's Reads read it, into blockBuf.
func (r *Reader) readBlock(gen uint64) ([]byte, error) {
	if gen != r.gen {
		return nil, errStaleBody
	}
	if r.bodyErr != nil {
		return nil, r.bodyErr
	}
	var block []byte
	if n := r.remaining; n <= int64(r.bw-r.br) {
		block = r.buf[r.br : r.br+int(n)]
		rest := r.buf[r.br+int(n) : r.bw]
		if len(r.spare) != len(r.buf) {
			r.spare = newReadBuf(len(r.buf))
		}
		r.buf, r.spare = r.spare, r.buf
		r.br, r.bw = 0, copy(r.buf, rest)
		r.remaining = 0
	} else {
		block = r.blockBuf[:0]
		for int64(len(block)) < n {
			if len(block) == cap(block) { // grown as the bytes come, not to a Content-Length
				block = slices.Grow(block, int(min(n-int64(len(block)), int64(max(len(block), 64<<10)))))
			}
			m, err := r.readBody(gen, block[len(block):cap(block)])
			if err != nil {
				if err == io.EOF { // not before the end of the block: readBody says why
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
			block = block[:len(block)+m]
		}
		r.blockBuf = block
	}
	if _, err := r.readBody(gen, nil); err != io.EOF {
		return nil, err
	}
	return block, nil
}

var errStaleBody = errors.New("warc: record body read after Next")

func (r *Reader) readBody(gen uint64, p []byte) (int, error) {
	if gen != r.gen {
		return 0, errStaleBody
	}
	if r.bodyErr != nil {
		return 0, r.bodyErr
	}
	if r.remaining == 0 {
		if r.inRecord {
			r.inRecord = false
			if err := r.endRecord(); err != nil {
				return 0, r.failBody(err)
			}
		}
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.br == r.bw {
		r.br, r.bw = 0, 0
		if err := r.fill(false, len(r.buf)); err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: record block %d bytes short", ErrTruncated, r.remaining)
			}
			return 0, r.failBody(err)
		}
	}
	n := min(int64(len(p)), r.remaining, int64(r.bw-r.br))
	copy(p, r.buf[r.br:r.br+int(n)])
	r.br += int(n)
	r.remaining -= n
	return int(n), nil
}

func (r *Reader) failBody(err error) error {
	var ce *corruptError
	if errors.As(err, &ce) {
		r.resync, r.lastBad = true, err
	}
	r.bodyErr = err
	return err
}

// endRecord consumes the CRLF CRLF after a block and, when the gzip member ends there, lets
// the decompressor check its CRC before the block is reported complete.
func (r *Reader) endRecord() error {
	for range 4 {
		if r.br == r.bw {
			if err := r.fill(true, len(r.buf)); err != nil {
				if errors.Is(err, errMemberEnd) || errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
		if c := r.buf[r.br]; c != '\r' && c != '\n' {
			return nil // a sloppy writer; the next header search copes
		}
		r.br++
	}
	if r.br == r.bw {
		if err := r.fill(true, len(r.buf)); err != nil && !errors.Is(err, errMemberEnd) && !errors.Is(err, io.EOF) {
			return err
		}
	}
	return nil
}
