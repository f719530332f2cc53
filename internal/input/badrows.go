package input

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/witdata/wit/internal/storage"
)

// Reasons a row is malformed (BadRow.Reason).
const (
	BadQuoting    = "bad_quoting"   // CSV: a quote inside an unquoted field, text after a closing quote, or a quote never closed
	BadFieldCount = "field_count"   // CSV, TSV: not as many fields as the header
	BadUTF8       = "invalid_utf8"  // bytes that are not UTF-8 (see Options.KeepInvalidUTF8)
	BadNUL        = "nul_byte"      // a NUL byte: binary data, or a file in UTF-16
	BadJSON       = "bad_json"      // JSON lines: a line that is not one JSON object
	BadMissing    = "missing_field" // JSON: a required field is absent
	BadTooLong    = "too_long"      // a line or record longer than MaxRecordBytes
)

// BadRow describes one malformed input row.
type BadRow struct {
	File   string `json:"file"`
	Line   int64  `json:"line,omitempty"` // 1-based line where the row starts (text formats)
	Record int64  `json:"record"`         // 1-based record number, bad records included (header excluded)
	Reason string `json:"reason"`         // one of the Bad* constants
	Detail string `json:"detail,omitempty"`
	Text   string `json:"text,omitempty"` // the start of the raw row, to find it (bad bytes as U+FFFD)
}

// BadRowError is how Read reports a malformed row. Unlike every other error it does not end the
// stream: a consumer that goes on iterating gets the rows after it. BadRowLog.Handle does that.
type BadRowError struct{ BadRow }

func (e *BadRowError) Error() string {
	where := fmt.Sprintf("record %d", e.Record)
	if e.Line > 0 {
		where = fmt.Sprintf("line %d", e.Line)
	}
	msg := fmt.Sprintf("input %s: %s: malformed row (%s)", e.File, where, e.Reason)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// AsBadRow returns the malformed row err reports, if it reports one.
func AsBadRow(err error) (BadRow, bool) {
	var b *BadRowError
	if errors.As(err, &b) {
		return b.BadRow, true
	}
	return BadRow{}, false
}

// Policies for malformed rows (the stages' --bad-rows flag).
const (
	BadRowsSkip  = "skip"  // skip the row, log and count it, go on (default)
	BadRowsError = "error" // stop at the first malformed row
)

// BadRowsFile is the log of skipped rows each stage writes beside its output.
const BadRowsFile = "bad-rows.jsonl"

// CheckBadRowsPolicy validates a policy name ("" means BadRowsSkip).
func CheckBadRowsPolicy(p string) error {
	switch p {
	case "", BadRowsSkip, BadRowsError:
		return nil
	}
	return fmt.Errorf("bad rows policy %q: want %s or %s", p, BadRowsSkip, BadRowsError)
}

// maxLoggedText bounds BadRow.Text in the log.
const maxLoggedText = 200

// BadRowLog applies a policy to the malformed rows that Read reports: under BadRowsSkip each is
// counted by reason and written as one JSON line to a temporary file, which Close moves to the
// log's path; under BadRowsError the first one is returned as the error. Memory stays flat: rows
// go to disk as they come. It is safe for concurrent use. A nil *BadRowLog treats every bad row
// as an error.
type BadRowLog struct {
	policy string
	path   string

	mu     sync.Mutex
	f      storage.Writer // created at the first bad row; the log appears only on Close
	w      *bufio.Writer
	counts map[string]int64
	err    error
}

// NewBadRowLog returns a log that will be written to path, a local path or an object-store URL
// ("" = count only, write nothing).
func NewBadRowLog(path, policy string) (*BadRowLog, error) {
	if err := CheckBadRowsPolicy(policy); err != nil {
		return nil, err
	}
	if policy == "" {
		policy = BadRowsSkip
	}
	return &BadRowLog{policy: policy, path: path, counts: map[string]int64{}}, nil
}

// Handle takes an error from Read's stream. It returns nil when err reported a malformed row
// that the policy skips (the row is logged and counted: go on iterating), and err otherwise: a
// malformed row under BadRowsError, or any other error, which ends the stream.
func (l *BadRowLog) Handle(err error) error {
	if err == nil {
		return nil
	}
	b, ok := AsBadRow(err)
	if !ok || l == nil {
		return err
	}
	if l.policy == BadRowsError {
		return fmt.Errorf("%w (bad rows policy %q; %q would skip the row and log it)", err, BadRowsError, BadRowsSkip)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[b.Reason]++
	if l.path == "" || l.err != nil {
		return l.err
	}
	if l.f == nil {
		ctx := context.Background()
		dir, err := storage.Open(ctx, storage.Parent(l.path))
		if err == nil {
			l.f, err = dir.Create(ctx, storage.Base(l.path))
		}
		if err != nil {
			l.err = fmt.Errorf("bad rows log: %w", err)
			return l.err
		}
		l.w = bufio.NewWriterSize(l.f, 1<<16)
	}
	if len(b.Text) > maxLoggedText {
		b.Text = b.Text[:maxLoggedText]
	}
	line, _ := json.Marshal(b) // invalid UTF-8 comes out as U+FFFD
	line = append(line, '\n')
	if _, err := l.w.Write(line); err != nil {
		l.err = fmt.Errorf("bad rows log: %w", err)
	}
	return l.err
}

// Counts returns the skipped rows by reason.
func (l *BadRowLog) Counts() map[string]int64 {
	if l == nil {
		return map[string]int64{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.counts)
}

// Total is the number of skipped rows.
func (l *BadRowLog) Total() int64 {
	var n int64
	for _, v := range l.Counts() {
		n += v
	}
	return n
}

// Close makes the log visible: the file appears at its path, atomically, when at least one row
// was skipped; otherwise an older log there is removed, so the file always describes the
// latest run.
func (l *BadRowLog) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.path == "" {
		return l.err
	}
	ctx := context.Background()
	if l.f == nil {
		if l.err != nil {
			return l.err
		}
		// No bad row this run: a log left by an earlier run over the same output goes.
		dir, err := storage.Open(ctx, storage.Parent(l.path))
		if err == nil {
			err = dir.Delete(ctx, storage.Base(l.path))
		}
		if err != nil && !storage.IsNotExist(err) {
			return fmt.Errorf("bad rows log: %w", err)
		}
		return nil
	}
	f := l.f
	l.f = nil
	err := l.err
	if err == nil {
		err = l.w.Flush()
	}
	if err != nil {
		f.Abort()
		return fmt.Errorf("bad rows log %s: %w", l.path, err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("bad rows log %s: %w", l.path, err)
	}
	return nil
}

// Abort removes the temporary file without touching the log's path.
func (l *BadRowLog) Abort() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Abort()
		l.f = nil
	}
}
