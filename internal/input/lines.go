package input

import (
	"bufio"
	"errors"
	"io"
)

// MaxRecordBytes bounds one line (and one CSV record over several lines): a longer one is a
// malformed row (BadTooLong), so memory stays bounded whatever the input holds.
const MaxRecordBytes = 1 << 20

// maxQuotedLines bounds the lines a quoted CSV field may span. A quote that is never closed
// would otherwise swallow the rest of the file; past this the row is malformed and reading
// starts again on the line after the one where it began.
const maxQuotedLines = 100

// physLine is one line of the input without its terminator ("\n" or "\r\n").
type physLine struct {
	text    []byte // owned copy; truncated when tooLong
	num     int64  // 1-based line number
	tooLong bool
}

// lineReader hands out lines in order, with their numbers; lines can be pushed back so that a
// malformed multi-line CSV record can be read again from its second line.
type lineReader struct {
	br      *bufio.Reader
	last    int64      // number of the last line read from br
	pending []physLine // pushed back, next first
	err     error      // a read error other than EOF
}

func newLineReader(br *bufio.Reader) *lineReader { return &lineReader{br: br} }

// next returns the next line; false at the end of the input or on a read error (see err).
func (lr *lineReader) next() (physLine, bool) {
	if n := len(lr.pending); n > 0 {
		l := lr.pending[0]
		lr.pending = lr.pending[1:]
		return l, true
	}
	if lr.err != nil {
		return physLine{}, false
	}
	var buf []byte
	tooLong := false
	for {
		chunk, err := lr.br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > MaxRecordBytes+2 {
				tooLong = true
				buf = append(buf, chunk[:min(len(chunk), 256)]...) // keep the start for the log
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && err != io.EOF {
			lr.err = err
			return physLine{}, false
		}
		if err == io.EOF && len(buf) == 0 {
			lr.err = io.EOF
			return physLine{}, false
		}
		if err == io.EOF {
			lr.err = io.EOF // the last line has no terminator
		}
		break
	}
	lr.last++
	if !tooLong {
		if n := len(buf); n > 0 && buf[n-1] == '\n' {
			buf = buf[:n-1]
			if n := len(buf); n > 0 && buf[n-1] == '\r' {
				buf = buf[:n-1]
			}
		}
	}
	return physLine{text: buf, num: lr.last, tooLong: tooLong}, true
}

// pushBack makes lines (in order) the next ones returned.
func (lr *lineReader) pushBack(lines []physLine) {
	if len(lines) == 0 {
		return
	}
	lr.pending = append(append([]physLine(nil), lines...), lr.pending...)
}

// readErr is the read error that ended the input, nil at a clean end.
func (lr *lineReader) readErr() error {
	if lr.err == io.EOF {
		return nil
	}
	return lr.err
}
