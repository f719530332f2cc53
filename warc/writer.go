package warc

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"strconv"
)

// Version is the WARC version this package writes.
const Version = "WARC/1.1"

// Writer writes records to a stream, each compressed as a gzip member of its own (so a reader
// can start at any record's offset and one damaged member loses one record), or uncompressed.
// It is not safe for concurrent use; Archive is.
type Writer struct {
	w        *countWriter
	bw       *bufio.Writer
	gz       *gzip.Writer
	compress bool
}

// NewWriter returns a Writer to w; compress selects gzip per record.
func NewWriter(w io.Writer, compress bool) *Writer {
	cw := &countWriter{w: w}
	ww := &Writer{w: cw, compress: compress, bw: bufio.NewWriterSize(cw, 64<<10)}
	if compress {
		ww.gz, _ = gzip.NewWriterLevel(ww.bw, gzip.DefaultCompression)
	}
	return ww
}

// Written is the number of bytes written to the underlying stream so far.
func (w *Writer) Written() int64 { return w.w.n }

// WriteRecord writes one record: the version line, h's fields with Content-Length set to the
// block's length, the block, and the closing CRLF CRLF. The record reaches the underlying writer
// before WriteRecord returns (a crash loses at most the record being written).
func (w *Writer) WriteRecord(h *Header, block ...[]byte) error {
	n := 0
	for _, b := range block {
		n += len(b)
	}
	h.Set(FieldContentLength, strconv.Itoa(n))
	var out io.Writer = w.bw
	if w.compress {
		w.gz.Reset(w.bw)
		out = w.gz
	}
	bw := bufio.NewWriterSize(out, 4096)
	bw.WriteString(Version)
	bw.WriteString("\r\n")
	for _, f := range h.Fields {
		bw.WriteString(f.Name)
		bw.WriteString(": ")
		bw.WriteString(f.Value)
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("warc: write record: %w", err)
	}
	for _, b := range block {
		if _, err := out.Write(b); err != nil {
			return fmt.Errorf("warc: write record: %w", err)
		}
	}
	if _, err := io.WriteString(out, "\r\n\r\n"); err != nil {
		return fmt.Errorf("warc: write record: %w", err)
	}
	if w.compress {
		if err := w.gz.Close(); err != nil {
			return fmt.Errorf("warc: write record: %w", err)
		}
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("warc: write record: %w", err)
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
