package crawl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/witdata/wit/shards"
)

// encodePairs serialises the pairs of one page for the pending-pairs key space. All pairs of a
// page share its URL, language and fetch time.
func encodePairs(pairs []shards.Pair) []byte {
	if len(pairs) == 0 {
		return nil
	}
	p0 := pairs[0]
	n := 32 + len(p0.PageURL) + len(p0.PageLang)
	for _, p := range pairs {
		n += 15 + len(p.ImageURL) + len(p.Caption) + len(p.CaptionSource)
	}
	b := make([]byte, 0, n)
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	str(p0.PageURL)
	str(p0.PageLang)
	b = binary.AppendVarint(b, p0.FetchedAt.UnixMilli())
	b = binary.AppendUvarint(b, uint64(len(pairs)))
	for _, p := range pairs {
		str(p.ImageURL)
		str(p.Caption)
		str(p.CaptionSource)
	}
	return b
}

var errCorruptPairs = errors.New("corrupt pending pairs")

func decodePairs(b []byte) ([]shards.Pair, error) {
	str := func() (string, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", errCorruptPairs
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, nil
	}
	page, err := str()
	if err != nil {
		return nil, err
	}
	lang, err := str()
	if err != nil {
		return nil, err
	}
	ms, k := binary.Varint(b)
	if k <= 0 {
		return nil, errCorruptPairs
	}
	b = b[k:]
	count, k := binary.Uvarint(b)
	if k <= 0 || count > uint64(len(b)) {
		return nil, errCorruptPairs
	}
	b = b[k:]
	at := time.UnixMilli(ms).UTC()
	out := make([]shards.Pair, 0, count)
	for range count {
		var p shards.Pair
		if p.ImageURL, err = str(); err != nil {
			return nil, err
		}
		if p.Caption, err = str(); err != nil {
			return nil, err
		}
		if p.CaptionSource, err = str(); err != nil {
			return nil, err
		}
		p.PageURL, p.PageLang, p.FetchedAt = page, lang, at
		out = append(out, p)
	}
	return out, nil
}

// pairFiles moves committed pages' pairs from the pending key space into Arrow files.
//
// Rows are appended as pages complete; a file ends at the first page boundary at or after
// RowsPerFile rows, so every page's pairs lie in exactly one file and the file covers a
// contiguous range of pending seqs [first, last]. In BeforeCommit (the temp file is complete and
// fsynced) one synced pebble batch records the file and deletes that range: from then on the
// pairs exist only in the file, and before it they exist only as pending. Not safe for
// concurrent use (the store's completion lock guards it).
type pairFiles struct {
	st          *store
	w           *shards.Writer
	rowsPerFile int
	first, last uint64
	open        bool // rows appended since the last commit
	rows        int
	// err is the first failed write or commit. It sticks: after a commit that failed past its
	// pebble record (the rename, or a hook), the writer would number the next file the same and
	// its record would replace this one's, whose pairs are no longer pending. Pages completed
	// after it stay pending for the next run.
	err error
}

func newPairFiles(st *store, dir, stageDir string, firstIndex, rowsPerFile int) (*pairFiles, error) {
	pf := &pairFiles{st: st, rowsPerFile: rowsPerFile}
	w, err := shards.NewWriter(dir, shards.PairSchema, shards.WriterOptions{
		RowsPerFile:  math.MaxInt32, // files end at page boundaries, decided here
		FirstIndex:   firstIndex,
		Metadata:     map[string]string{"wit.stage": "crawl"},
		BeforeCommit: pf.beforeCommit,
		// On object storage a file is staged in the state directory, so that the record written
		// in beforeCommit names a durable local file that the next run can upload.
		StageDir: stageDir,
	})
	if err != nil {
		return nil, fmt.Errorf("pair files: %w", err)
	}
	pf.w = w
	return pf, nil
}

// add appends the pairs of the page stored under pending seq.
func (pf *pairFiles) add(seq uint64, pairs []shards.Pair) error {
	if pf.err != nil {
		return pf.err
	}
	if !pf.open {
		pf.first, pf.open = seq, true
	}
	pf.last = seq
	b := pf.w.Builder()
	for _, p := range pairs {
		shards.AppendPair(b, p)
		if err := pf.w.EndRow(); err != nil {
			pf.err = fmt.Errorf("pair files: %w", err)
			return pf.err
		}
	}
	pf.rows += len(pairs)
	if pf.rows >= pf.rowsPerFile {
		return pf.flush()
	}
	return nil
}

// flush commits the open file, if any.
func (pf *pairFiles) flush() error {
	if pf.err != nil {
		return pf.err
	}
	if !pf.open {
		return nil
	}
	if err := pf.w.Flush(); err != nil {
		pf.err = fmt.Errorf("pair files: %w", err)
		return pf.err
	}
	return nil
}

func (pf *pairFiles) close() error {
	if err := pf.flush(); err != nil {
		pf.w.Abort()
		return err
	}
	return pf.w.Close()
}

// commitHook, when set, runs inside beforeCommit after the pebble commit (tests simulate a crash
// between the commit record and the rename with it).
var commitHook func(c shards.Commit) error

func (pf *pairFiles) beforeCommit(c shards.Commit) error {
	rec := fileRecord{Path: c.Path, TempPath: c.TempPath, Rows: c.Rows, Bytes: c.Bytes, FirstSeq: pf.first, LastSeq: pf.last}
	st := pf.st
	b := st.db.NewBatch()
	b.Set(key8(ksFile, uint64(c.Index)), mustJSON(rec), nil)
	b.DeleteRange(key8(ksPending, pf.first), key8(ksPending, pf.last+1), nil)
	files := st.counters[cFiles] + 1
	written := st.counters[cPairsWritten] + int64(c.Rows)
	b.Set(keyStr(ksCounter, cFiles), u64(uint64(files)), nil)
	b.Set(keyStr(ksCounter, cPairsWritten), u64(uint64(written)), nil)
	// Sync: this record is what makes the file's pairs leave the pending space; every earlier
	// (unsynced) page batch in the log becomes durable with it.
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("record pair file %d: %w", c.Index, err)
	}
	st.counters[cFiles], st.counters[cPairsWritten] = files, written
	pf.open, pf.rows = false, 0
	if commitHook != nil {
		return commitHook(c)
	}
	return nil
}
