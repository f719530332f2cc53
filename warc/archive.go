package warc

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Ext is the extension of the archive files Archive writes (gzip per record).
const Ext = ".warc.gz"

// ArchiveOptions configures an Archive.
type ArchiveOptions struct {
	Prefix       string  // file names are PREFIX-TIMESTAMP-SERIAL-RANDOM.warc.gz (default "wit")
	MaxFileBytes int64   // a file is closed once it holds this many bytes (default 1 GiB)
	Info         []Field // extra fields of each file's warcinfo record (operator, robots policy...)
}

// OutRecord is a record to write: its header (Content-Length is set when written) and block.
type OutRecord struct {
	Header Header
	Block  [][]byte
}

// Archive writes records into a series of WARC/1.1 files (gzip per record), each opening with
// a warcinfo record and closed once it passes MaxFileBytes. It is safe for concurrent use; the
// records given to one Write stay adjacent in one file.
type Archive struct {
	mu     sync.Mutex
	out    Output
	opts   ArchiveOptions
	stamp  string
	serial int

	file   OutputFile
	w      *Writer
	infoID string

	files   []string
	records int64
	err     error
}

// NewArchive returns an Archive writing to out. No file is created before the first Write.
func NewArchive(out Output, opts ArchiveOptions) *Archive {
	if opts.Prefix == "" {
		opts.Prefix = "wit"
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = 1 << 30
	}
	var r [2]byte
	_, _ = rand.Read(r[:])
	return &Archive{out: out, opts: opts, stamp: time.Now().UTC().Format("20060102150405") + "-" + hex.EncodeToString(r[:])}
}

// Write appends recs to the current file (starting one if needed); each gets the file's
// WARC-Warcinfo-ID. After a failed write the Archive refuses further writes.
func (a *Archive) Write(recs ...*OutRecord) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return a.err
	}
	if a.file == nil {
		if err := a.open(); err != nil {
			a.err = err
			return err
		}
	}
	for _, rec := range recs {
		rec.Header.Set(FieldWarcinfoID, a.infoID)
		if err := a.w.WriteRecord(&rec.Header, rec.Block...); err != nil {
			a.err = err
			return err
		}
		a.records++
	}
	if a.w.Written() >= a.opts.MaxFileBytes {
		if err := a.commit(); err != nil {
			a.err = err
			return err
		}
	}
	return nil
}

func (a *Archive) open() error {
	name := fmt.Sprintf("%s-%s-%05d%s", a.opts.Prefix, a.stamp, a.serial, Ext)
	f, err := a.out.Create(name)
	if err != nil {
		return err
	}
	a.serial++
	a.file, a.w, a.infoID = f, NewWriter(f, true), NewRecordID()
	var block strings.Builder
	block.WriteString("software: wit (github.com/witdata/wit)\r\nformat: WARC File Format 1.1\r\n")
	block.WriteString("conformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n")
	for _, f := range a.opts.Info {
		block.WriteString(f.Name + ": " + f.Value + "\r\n")
	}
	h := Header{Fields: []Field{
		{FieldType, TypeWarcinfo},
		{FieldRecordID, a.infoID},
		{FieldDate, FormatDate(time.Now())},
		{FieldFilename, name},
		{FieldContentType, ContentTypeWarcFields},
	}}
	if err := a.w.WriteRecord(&h, []byte(block.String())); err != nil {
		f.Abort()
		a.file = nil
		return err
	}
	a.files = append(a.files, name)
	return nil
}

func (a *Archive) commit() error {
	f := a.file
	a.file, a.w = nil, nil
	return f.Commit()
}

// Close commits the current file, then closes the Output if it has a Close method (a
// StorageOutput waits for its last upload).
func (a *Archive) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.file != nil {
		if a.err != nil {
			a.file.Abort()
		} else if err := a.commit(); err != nil {
			a.err = err
		}
		a.file = nil
	}
	if c, ok := a.out.(interface{ Close() error }); ok {
		if err := c.Close(); err != nil && a.err == nil {
			a.err = err
		}
	}
	return a.err
}

// Files returns the names of the files started so far.
func (a *Archive) Files() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.files...)
}

// Records returns the number of records written, warcinfo records not counted.
func (a *Archive) Records() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.records
}

// Exchange is one HTTP request and its response as they went over the wire.
type Exchange struct {
	URL           string
	Date          time.Time // when the request was sent
	IP            string    // the server's address, "" if unknown
	Request       []byte    // request line, headers, blank line (and body)
	Response      []byte    // status line, headers, blank line, payload
	PayloadOffset int       // where the payload starts in Response
	Truncated     string    // WARC-Truncated value when the payload is incomplete: length, time, disconnect, unspecified
}

// WriteExchange writes the request and response records of ex, linked by WARC-Concurrent-To,
// with SHA-1 block and payload digests.
func (a *Archive) WriteExchange(ex *Exchange) error {
	reqID, respID := NewRecordID(), NewRecordID()
	date := FormatDate(ex.Date)
	req := &OutRecord{Header: Header{Fields: []Field{
		{FieldType, TypeRequest},
		{FieldRecordID, reqID},
		{FieldDate, date},
		{FieldTargetURI, ex.URL},
		{FieldConcurrentTo, respID},
		{FieldContentType, ContentTypeHTTPRequest},
		{FieldBlockDigest, Digest(ex.Request)},
	}}, Block: [][]byte{ex.Request}}
	resp := &OutRecord{Header: Header{Fields: []Field{
		{FieldType, TypeResponse},
		{FieldRecordID, respID},
		{FieldDate, date},
		{FieldTargetURI, ex.URL},
		{FieldConcurrentTo, reqID},
		{FieldContentType, ContentTypeHTTPResponse},
		{FieldBlockDigest, Digest(ex.Response)},
		{FieldPayloadDigest, Digest(ex.Response[min(ex.PayloadOffset, len(ex.Response)):])},
	}}, Block: [][]byte{ex.Response}}
	if ex.IP != "" {
		req.Header.Set(FieldIPAddress, ex.IP)
		resp.Header.Set(FieldIPAddress, ex.IP)
	}
	if ex.Truncated != "" {
		resp.Header.Set(FieldTruncated, ex.Truncated)
	}
	return a.Write(req, resp)
}
