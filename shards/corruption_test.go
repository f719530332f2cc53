package shards

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// corruptionCorpus writes one small sample shard and one pair file and returns their paths.
func corruptionCorpus(t testing.TB) []string {
	t.Helper()
	samples := writeExpShards(t, t.TempDir(), expOptions{n: 5, perFile: 5, batch: 3, w: 8, h: 8, noMeta: true})
	pairs := t.TempDir()
	w, err := NewWriter(pairs, PairSchema, WriterOptions{RowsPerFile: 5, BatchRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		AppendPair(w.Builder(), testPair(i))
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return []string{filepath.Join(samples.dir, FileName(0)), filepath.Join(pairs, FileName(0))}
}

// readAll reads every batch of path (checked: with checksums; else unchecked), or fails.
func readAll(path string, checked bool) (*arrow.Schema, []arrow.RecordBatch, error) {
	f, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	f.VerifyChecksums = checked
	var recs []arrow.RecordBatch
	for i := 0; i < f.NumBatches(); i++ {
		rec, err := f.Batch(i)
		if err != nil {
			for _, r := range recs {
				r.Release()
			}
			return nil, nil, err
		}
		recs = append(recs, rec)
	}
	return f.Schema(), recs, nil
}

// sameContent reports whether two reads of a file hold the same columns and values.
func sameContent(s1 *arrow.Schema, a []arrow.RecordBatch, s2 *arrow.Schema, b []arrow.RecordBatch) bool {
	if !s1.Equal(s2) || len(a) != len(b) {
		return false
	}
	for i := range a {
		if !array.RecordEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// corruptionOutcome flips data[pos] with mask in a copy of the file and tells whether verify
// found a problem, and whether the data changed unnoticed: a checked read returned other content
// without an error, or verify passed a file whose content changed. Verify runs whenever the
// checked read succeeds; when it fails, verify (which reads through the same checks) runs only
// if always is set.
func corruptionOutcome(t testing.TB, dir string, orig []byte, pos int, mask byte, s0 *arrow.Schema, want []arrow.RecordBatch, always bool) (caught, silent bool) {
	t.Helper()
	data := bytes.Clone(orig)
	data[pos] ^= mask
	path := filepath.Join(dir, FileName(0))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s, recs, err := readAll(path, true)
	readFailed := err != nil
	if err == nil {
		silent = !sameContent(s0, want, s, recs)
		for _, r := range recs {
			r.Release()
		}
	}
	if readFailed && !always {
		return true, false
	}
	rep, err := Verify(context.Background(), dir, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	caught = !rep.OK()
	if readFailed && !caught {
		t.Errorf("byte %d ^ %#x: a checked read fails, verify passes", pos, mask)
	}
	if !caught {
		// Verify passed: then the content must be what was written.
		s, recs, err := readAll(path, false)
		if err != nil || !sameContent(s0, want, s, recs) {
			silent = true
		}
		for _, r := range recs {
			r.Release()
		}
	}
	return caught, silent
}

// TestEveryChangedByteIsFound changes each byte of a sample shard and of a pair file in turn (by
// turns all eight bits, the lowest or the highest): wherever the change alters what a reader
// sees — an image byte, a URL character, an offset, a validity bit, a row count, a column name,
// a footer block — verify reports the file and a checked read fails; the changes it lets pass
// (padding, the IPC schema copy no reader uses) leave every value as written.
func TestEveryChangedByteIsFound(t *testing.T) {
	step := 1
	if testing.Short() {
		step = 7
	}
	for _, path := range corruptionCorpus(t) {
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s0, want, err := readAll(path, true)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		caught, passed := 0, 0
		for pos := 0; pos < len(orig); pos += step {
			mask := []byte{0xFF, 0x01, 0x80}[pos%3]
			c, silent := corruptionOutcome(t, dir, orig, pos, mask, s0, want, pos%5 == 0)
			if silent {
				t.Errorf("%s: byte %d ^ %#x changed the data unnoticed", path, pos, mask)
			}
			if c {
				caught++
			} else {
				passed++
			}
		}
		t.Logf("%s (%d bytes): %d changes found, %d harmless", path, len(orig), caught, passed)
		if caught < 2*passed {
			t.Errorf("only %d changes found, %d passed", caught, passed)
		}
	}
}

// FuzzShardCorruption: any single-byte change of a shard is found by verify or changes no value.
func FuzzShardCorruption(f *testing.F) {
	paths := corruptionCorpus(f)
	f.Add(uint16(0), uint32(100), byte(1))
	f.Add(uint16(1), uint32(900), byte(0x80))
	f.Fuzz(func(t *testing.T, which uint16, pos uint32, mask byte) {
		if mask == 0 {
			return
		}
		path := paths[int(which)%len(paths)]
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s0, want, err := readAll(path, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, silent := corruptionOutcome(t, t.TempDir(), orig, int(pos)%len(orig), mask, s0, want, true); silent {
			t.Fatalf("byte %d ^ %#x changed the data unnoticed", int(pos)%len(orig), mask)
		}
	})
}

// TestShardsWithoutChecksums: a shard written before checksums (no batch metadata, no schema
// marker) reads as before and verifies with a note; one written with them reads with any Arrow
// reader, which ignores the metadata.
func TestShardsWithoutChecksums(t *testing.T) {
	dir := t.TempDir()
	// An "old" shard: plain Arrow IPC, as wit wrote before checksums.
	f, err := os.Create(filepath.Join(dir, FileName(0)))
	if err != nil {
		t.Fatal(err)
	}
	md := arrow.NewMetadata([]string{MetaKind}, []string{"pairs"})
	schema := arrow.NewSchema(PairSchema.Fields(), &md)
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	for i := range 5 {
		AppendPair(b, testPair(i))
	}
	rec := b.NewRecordBatch()
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f.Close()
	rec.Release()
	b.Release()

	old, err := Open(filepath.Join(dir, FileName(0)))
	if err != nil {
		t.Fatal(err)
	}
	if old.HasChecksums() {
		t.Error("an old shard claims checksums")
	}
	got, err := old.Batch(0)
	if err != nil || got.NumRows() != 5 {
		t.Fatalf("old shard: %v", err)
	}
	if present, err := old.CheckBatch(got); present || err != nil {
		t.Errorf("old batch: present %v, %v", present, err)
	}
	got.Release()
	old.Close()
	rep, err := Verify(context.Background(), dir, VerifyOptions{})
	if err != nil || !rep.OK() || rep.Checksummed != 0 || len(rep.Notes) == 0 || !bytes.Contains([]byte(rep.Notes[len(rep.Notes)-1]), []byte("no checksums")) {
		t.Fatalf("verify of an old shard: %+v %v", rep, err)
	}

	// A new shard through a plain Arrow reader.
	newDir := t.TempDir()
	if err := writePairs(t, newDir, 7, WriterOptions{RowsPerFile: 10, BatchRows: 3}).Close(); err != nil {
		t.Fatal(err)
	}
	nf, err := os.Open(filepath.Join(newDir, FileName(0)))
	if err != nil {
		t.Fatal(err)
	}
	defer nf.Close()
	r, err := ipc.NewFileReader(nf)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows := int64(0)
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatchAt(i)
		if err != nil {
			t.Fatal(err)
		}
		rows += rec.NumRows()
		rec.Release()
	}
	if rows != 7 {
		t.Fatalf("plain reader: %d rows", rows)
	}
	rep, err = Verify(context.Background(), newDir, VerifyOptions{})
	if err != nil || !rep.OK() || rep.Checksummed != 3 || len(rep.Notes) != 0 {
		t.Fatalf("verify of a new shard: %+v %v", rep, err)
	}
}

// TestLoaderChecksChecksums: the training loader fails on a batch whose content changed, naming
// the file, unless told to skip the check.
func TestLoaderChecksChecksums(t *testing.T) {
	ds := writeExpShards(t, t.TempDir(), expOptions{n: 6, perFile: 6, batch: 3, noMeta: true})
	path := filepath.Join(ds.dir, FileName(0))
	flipInFile(t, path, []byte("http://img.test/4.jpg"), 15, '/'^'"') // ".../img.test/4.jpg" -> "...img.test\"4.jpg"
	for _, skip := range []bool{false, true} {
		l, err := NewLoader(ds.dir, LoaderOptions{Columns: []string{ColURL}, SkipChecksums: skip})
		if err != nil {
			t.Fatal(err)
		}
		var urls []string
		var readErr error
		for row, err := range l.Samples(context.Background(), Position{}) {
			if err != nil {
				readErr = err
				break
			}
			urls = append(urls, row.Values[0].(string))
		}
		switch {
		case !skip && (!errors.Is(readErr, ErrChecksum) || !errors.Is(readErr, ErrCorrupt)):
			t.Errorf("checked: %v after %v", readErr, urls)
		case skip && (readErr != nil || len(urls) != 6 || urls[4] != `http://img.test"4.jpg`):
			t.Errorf("skipped: %v %q", readErr, urls)
		}
	}
}

// TestWriterMetadata: a schema's own metadata is kept (a stage copies its input's), stale
// checksum keys copied from an input are replaced, and the written schema verifies.
func TestWriterMetadata(t *testing.T) {
	md := arrow.NewMetadata([]string{"stage", MetaSchemaCRC32C, MetaChecksum}, []string{"filter", "deadbeef", "crc32c-v0"})
	dir := t.TempDir()
	w, err := NewWriter(dir, arrow.NewSchema(PairSchema.Fields(), &md), WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	AppendPair(w.Builder(), testPair(1))
	if err := w.EndRow(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(filepath.Join(dir, FileName(0)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := f.Schema().Metadata()
	if i := got.FindKey("stage"); i < 0 || got.Values()[i] != "filter" || !f.HasChecksums() || got.Len() != 3 {
		t.Fatalf("metadata %v", got)
	}
	if err := checkSchemaChecksum(f.Schema()); err != nil {
		t.Fatal(err)
	}
}
