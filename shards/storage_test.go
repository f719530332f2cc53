package shards

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/internal/storage/s3test"
)

// TestObjectStorage writes, lists, verifies, loads and exports sample shards in the in-process S3
// server through the same calls as on disk.
func TestObjectStorage(t *testing.T) {
	ctx := context.Background()
	_, bucket := s3test.Start(t, "wit")
	dir := storage.Join(bucket, "shards")
	w, err := NewWriter(dir, SampleSchema, WriterOptions{RowsPerFile: 40, BatchRows: 16, Metadata: SampleMetadata()})
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{}
	w.opts.AfterCommit = func(c Commit) error {
		m.Add(ShardInfo{File: storage.Base(c.Path), Count: int64(c.Rows), Bytes: c.Bytes})
		return nil
	}
	for i := range 100 {
		AppendSample(w.Builder(), testSample(i))
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing of the open file is visible: two full files so far, no temporary object.
	entries, err := listEntries(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	if want := []string{"00000.arrow", "00001.arrow"}; !slices.Equal(names, want) {
		t.Fatalf("before close: %v, want %v", names, want)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	files, err := ListFiles(dir)
	if err != nil || len(files) != 3 {
		t.Fatalf("ListFiles: %v, %v", files, err)
	}
	n := 0
	for rec, err := range ReadDir(ctx, dir, []string{ColKey}) {
		if err != nil {
			t.Fatal(err)
		}
		n += int(rec.NumRows())
	}
	if n != 100 {
		t.Fatalf("ReadDir: %d rows", n)
	}
	rep, err := Verify(ctx, dir, VerifyOptions{})
	if err != nil || rep.Files != 3 || rep.Rows != 100 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	for _, p := range rep.Problems { // testSample's images are not JPEGs; nothing else may be wrong
		if !strings.Contains(p.Reason, "JPEG") {
			t.Fatalf("verify: %v", p)
		}
	}
	l, err := NewLoader(dir, LoaderOptions{Columns: []string{ColKey}, Seed: 1, ShuffleShards: true, ShuffleBuffer: 16, Prefetch: 1})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for row, err := range l.Samples(ctx, Position{}) {
		if err != nil {
			t.Fatal(err)
		}
		seen[row.Values[0].(string)] = true
	}
	if len(seen) != 100 {
		t.Fatalf("loader: %d distinct samples", len(seen))
	}
	out := storage.Join(bucket, "export")
	res, err := Export(ctx, dir, out, ExportOptions{Format: FormatWebDataset})
	if err != nil || res.Samples != 100 {
		t.Fatalf("export: %+v, %v", res, err)
	}
	if ins, err := Inspect(dir, InspectOptions{Rows: 1}); err != nil || ins.TotalRows != 100 || ins.Manifest == nil {
		t.Fatalf("inspect: %+v, %v", ins, err)
	}

	// A folder an unfinished writer marked incomplete is refused.
	if err := storage.WriteFile(ctx, storage.Join(dir, storage.IncompleteMarker), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ListFiles(dir); !errors.Is(err, storage.ErrIncomplete) {
		t.Fatalf("ListFiles of an incomplete folder: %v", err)
	}
}
