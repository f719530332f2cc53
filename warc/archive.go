package warc

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/witdata/wit/internal/atomicfile"
)

// Ext is the extension of the archive files Archive writes (gzip per record).
const Ext = ".warc.gz"

// Output creates an archive's files. A file is visible under its name only once committed, so
// a reader never sees a file being written. DirOutput writes to a local directory; an object
// store can implement it with a multipart upload completed on Commit.
type Output interface {
	Create(name string) (OutputFile, error)
}

// OutputFile is a file being written.
type OutputFile interface {
	io.Writer
	Commit() error // the file is complete: publish it under its name
	Abort() error  // drop it
}

// DirOutput writes files into a directory as NAME.tmp-* and renames them to NAME on Commit.
type DirOutput struct {
	Dir string
}

const tempMarker = ".tmp-"

// NewDirOutput creates dir if needed and recovers files left under temporary names by a process
// that was killed while writing them (see Recover).
func NewDirOutput(dir string, log *slog.Logger) (*DirOutput, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("warc: create %s: %w", dir, err)
	}
	d := &DirOutput{Dir: dir}
	if err := d.Recover(log); err != nil {
		return nil, err
	}
	return d, nil
}

// Create starts NAME.tmp-* in the directory.
func (d *DirOutput) Create(name string) (OutputFile, error) {
	f, err := os.CreateTemp(d.Dir, name+tempMarker+"*")
	if err != nil {
		return nil, fmt.Errorf("warc: create %s: %w", name, err)
	}
	return &dirFile{f: f, path: filepath.Join(d.Dir, name)}, nil
}

type dirFile struct {
	f    *os.File
	path string
}

func (f *dirFile) Write(p []byte) (int, error) { return f.f.Write(p) }

func (f *dirFile) Commit() error {
	tmp := f.f.Name()
	if err := f.f.Chmod(0o644); err != nil {
		f.f.Close()
		return fmt.Errorf("warc: chmod %s: %w", tmp, err)
	}
	if err := f.f.Sync(); err != nil {
		f.f.Close()
		return fmt.Errorf("warc: sync %s: %w", tmp, err)
	}
	if err := f.f.Close(); err != nil {
		return fmt.Errorf("warc: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return fmt.Errorf("warc: rename %s: %w", tmp, err)
	}
	return atomicfile.SyncDir(filepath.Dir(f.path))
}

func (f *dirFile) Abort() error {
	f.f.Close()
	if err := os.Remove(f.f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("warc: remove %s: %w", f.f.Name(), err)
	}
	return nil
}

// Recover finishes the files a killed process left under temporary names: each is cut after
// its last complete record (per-record gzip makes that a member boundary) and renamed to its
// final name. A file with no record after its warcinfo is removed. Records of requests that were
// still in flight are lost with the process; everything written before stays archived.
func (d *DirOutput) Recover(log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	entries, err := os.ReadDir(d.Dir)
	if err != nil {
		return fmt.Errorf("warc: list %s: %w", d.Dir, err)
	}
	for _, e := range entries {
		i := strings.Index(e.Name(), Ext+tempMarker)
		if e.IsDir() || i <= 0 {
			continue
		}
		tmp := filepath.Join(d.Dir, e.Name())
		final := filepath.Join(d.Dir, e.Name()[:i+len(Ext)])
		records, end, err := completePrefix(tmp)
		if err != nil {
			return err
		}
		if records <= 1 {
			if err := os.Remove(tmp); err != nil {
				return fmt.Errorf("warc: remove %s: %w", tmp, err)
			}
			continue
		}
		if _, err := os.Stat(final); err == nil {
			return fmt.Errorf("warc: cannot recover %s: %s exists", tmp, final)
		}
		if err := os.Truncate(tmp, end); err != nil {
			return fmt.Errorf("warc: recover %s: %w", tmp, err)
		}
		f, err := os.OpenFile(tmp, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("warc: recover %s: %w", tmp, err)
		}
		df := &dirFile{f: f, path: final}
		if err := df.Commit(); err != nil {
			return err
		}
		log.Info("warc: recovered an archive file cut off by the last run", "file", final, "records", records)
	}
	return nil
}

// completePrefix reads path and returns how many records are complete from its start and the
// offset where the first incomplete or damaged one begins.
func completePrefix(path string) (records int, end int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("warc: recover %s: %w", path, err)
	}
	defer f.Close()
	rd := NewReader(f, ReaderOptions{})
	for {
		rec, err := rd.Next()
		if err != nil {
			return records, end, nil
		}
		if _, err := io.Copy(io.Discard, rec.Body); err != nil {
			return records, end, nil
		}
		c := rd.Counts()
		if c.BadMembers > 0 || c.Malformed > 0 || rd.compressed && rd.inMember {
			// Damage, or a record that does not end its gzip member: cut before it.
			return records, end, nil
		}
		records++
		end = rd.Offset()
	}
}

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

// Close commits the current file.
func (a *Archive) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.file == nil {
		return a.err
	}
	if a.err != nil {
		a.file.Abort()
		a.file = nil
		return a.err
	}
	err := a.commit()
	if err != nil {
		a.err = err
	}
	return err
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
