package shards

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

func testPair(i int) Pair {
	return Pair{
		PageURL:       fmt.Sprintf("http://example.test/page/%d", i/3),
		ImageURL:      fmt.Sprintf("http://example.test/img/%d.jpg", i),
		Caption:       fmt.Sprintf("a red apple number %d on a wooden table", i),
		CaptionSource: SourceAlt,
		PageLang:      "en",
		FetchedAt:     time.UnixMilli(1700000000000 + int64(i)).UTC(),
	}
}

func writePairs(t *testing.T, dir string, n int, opts WriterOptions) *Writer {
	t.Helper()
	w, err := NewWriter(dir, PairSchema, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		AppendPair(w.Builder(), testPair(i))
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func readAllPairs(t *testing.T, dir string) []Pair {
	t.Helper()
	var out []Pair
	for rec, err := range ReadDir(context.Background(), dir, nil) {
		if err != nil {
			t.Fatal(err)
		}
		ps, err := Pairs(rec)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ps...)
	}
	return out
}

func TestWriterRotatesAndRoundTrips(t *testing.T) {
	tests := []struct {
		name      string
		rows      int
		perFile   int
		batchRows int
		wantFiles int
	}{
		{"empty", 0, 10, 4, 0},
		{"one partial file", 7, 10, 4, 1},
		{"exact multiple", 30, 10, 4, 3},
		{"rotation with remainder", 25, 10, 3, 3},
		{"batch larger than file", 25, 10, 100, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w := writePairs(t, dir, tt.rows, WriterOptions{RowsPerFile: tt.perFile, BatchRows: tt.batchRows})
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			files, err := ListFiles(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != tt.wantFiles {
				t.Fatalf("files = %d, want %d", len(files), tt.wantFiles)
			}
			got := readAllPairs(t, dir)
			if len(got) != tt.rows {
				t.Fatalf("rows = %d, want %d", len(got), tt.rows)
			}
			for i, p := range got {
				if p != testPair(i) {
					t.Fatalf("row %d = %+v, want %+v", i, p, testPair(i))
				}
			}
		})
	}
}

func TestWriterNeverExposesPartialFiles(t *testing.T) {
	dir := t.TempDir()
	w := writePairs(t, dir, 15, WriterOptions{RowsPerFile: 10, BatchRows: 2})
	// 10 rows are committed, 5 sit in a temporary file.
	files, _ := ListFiles(dir)
	if len(files) != 1 {
		t.Fatalf("committed files = %d, want 1", len(files))
	}
	entries, _ := os.ReadDir(dir)
	var temps int
	for _, e := range entries {
		if IsTemp(e.Name()) {
			temps++
		}
	}
	if temps != 1 {
		t.Fatalf("temp files = %d, want 1", temps)
	}
	if n := len(readAllPairs(t, dir)); n != 10 {
		t.Fatalf("visible rows = %d, want 10", n)
	}
	// A crash now leaves the temp file; the next writer removes it and continues numbering.
	w2, err := NewWriter(dir, PairSchema, WriterOptions{RowsPerFile: 10, FirstIndex: -1})
	if err != nil {
		t.Fatal(err)
	}
	AppendPair(w2.Builder(), testPair(99))
	if err := w2.EndRow(); err != nil {
		t.Fatal(err)
	}
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ = ListFiles(dir)
	if len(files) != 2 || filepath.Base(files[1]) != "00001.arrow" {
		t.Fatalf("files after resume = %v", files)
	}
	entries, _ = os.ReadDir(dir)
	for _, e := range entries {
		if IsTemp(e.Name()) {
			t.Fatalf("stale temp file %s not removed", e.Name())
		}
	}
	w.Abort()
}

func TestBeforeCommitErrorLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	boom := errors.New("state store down")
	var seen []Commit
	w := writePairs(t, dir, 5, WriterOptions{RowsPerFile: 10, BeforeCommit: func(c Commit) error {
		seen = append(seen, c)
		if _, err := os.Stat(c.TempPath); err != nil {
			t.Errorf("temp file missing in BeforeCommit: %v", err)
		}
		if _, err := os.Stat(c.Path); err == nil {
			t.Errorf("final file visible before commit")
		}
		return boom
	}})
	if err := w.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close error = %v, want %v", err, boom)
	}
	if len(seen) != 1 || seen[0].Rows != 5 || seen[0].Index != 0 {
		t.Fatalf("commits seen = %+v", seen)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("dir not empty after failed commit: %v", entries)
	}
}

func TestMaxFileBytesRotates(t *testing.T) {
	dir := t.TempDir()
	w := writePairs(t, dir, 200, WriterOptions{RowsPerFile: 1 << 20, BatchRows: 10, MaxFileBytes: 4 << 10})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := ListFiles(dir)
	if len(files) < 3 {
		t.Fatalf("files = %d, want several with a 4 KiB limit", len(files))
	}
	if n := len(readAllPairs(t, dir)); n != 200 {
		t.Fatalf("rows = %d", n)
	}
}

func TestReadProjectionAndMetadata(t *testing.T) {
	dir := t.TempDir()
	w := writePairs(t, dir, 3, WriterOptions{Metadata: map[string]string{"wit.stage": "crawl"}})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for rec, err := range ReadDir(context.Background(), dir, []string{ColCaption, ColImageURL}) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.NumCols() != 2 || rec.Schema().Field(0).Name != ColCaption {
			t.Fatalf("projected schema = %v", rec.Schema())
		}
		if v, ok := rec.Schema().Metadata().GetValue("wit.stage"); !ok || v != "crawl" {
			t.Fatalf("metadata lost: %v", rec.Schema().Metadata())
		}
		if got := rec.Column(0).(*array.String).Value(2); !strings.Contains(got, "number 2") {
			t.Fatalf("caption = %q", got)
		}
	}
	for _, err := range ReadDir(context.Background(), dir, []string{"nope"}) {
		if err == nil || !strings.Contains(err.Error(), `no column "nope"`) {
			t.Fatalf("want missing column error, got %v", err)
		}
	}
}

func TestCorruptFileIsReported(t *testing.T) {
	dir := t.TempDir()
	w := writePairs(t, dir, 50, WriterOptions{})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName(0))
	data, _ := os.ReadFile(path)
	cases := map[string][]byte{
		"truncated": data[:len(data)/2],
		"garbage":   []byte("this is not an arrow file at all, just text"),
		"empty":     {},
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			var gotErr error
			for _, err := range ReadDir(context.Background(), dir, nil) {
				if err != nil {
					gotErr = err
				}
			}
			if !errors.Is(gotErr, ErrCorrupt) {
				t.Fatalf("error = %v, want ErrCorrupt", gotErr)
			}
		})
	}
}

func TestReadDirStopsOnCancel(t *testing.T) {
	dir := t.TempDir()
	w := writePairs(t, dir, 40, WriterOptions{RowsPerFile: 10, BatchRows: 5})
	w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var batches int
	var lastErr error
	for _, err := range ReadDir(ctx, dir, nil) {
		batches++
		cancel()
		lastErr = err
	}
	if !errors.Is(lastErr, context.Canceled) || batches > 2 {
		t.Fatalf("batches=%d err=%v", batches, lastErr)
	}
}

func TestReadPath(t *testing.T) {
	dir := t.TempDir()
	w := writePairs(t, dir, 25, WriterOptions{RowsPerFile: 10})
	w.Close()
	count := func(path string) (int64, error) {
		batches, err := ReadPath(context.Background(), path, []string{ColCaption})
		if err != nil {
			return 0, err
		}
		var n int64
		for rec, err := range batches {
			if err != nil {
				return n, err
			}
			n += rec.NumRows()
		}
		return n, nil
	}
	tests := []struct {
		name    string
		path    string
		rows    int64
		wantErr string
	}{
		{"directory", dir, 25, ""},
		{"one file", filepath.Join(dir, FileName(1)), 10, ""},
		{"empty directory", t.TempDir(), 0, "holds no shard files"},
		{"missing", filepath.Join(dir, "missing"), 0, "no such file"},
	}
	for _, tt := range tests {
		n, err := count(tt.path)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || n != tt.rows {
			t.Errorf("%s: %d rows, %v; want %d", tt.name, n, err, tt.rows)
		}
	}
}

func TestCaptions(t *testing.T) {
	dir := t.TempDir()
	w := writePairs(t, dir, 25, WriterOptions{RowsPerFile: 10, BatchRows: 4})
	w.Close()
	captions, readErr := Captions(context.Background(), dir)
	var got []string
	for c := range captions {
		got = append(got, c)
	}
	if err := readErr(); err != nil || len(got) != 25 || got[24] != testPair(24).Caption {
		t.Fatalf("%d captions (last %q), %v", len(got), got[len(got)-1], err)
	}
	// Stopping early is fine, and a second pass reads again.
	for range captions {
		break
	}
	// A caption column that is not utf8, or a missing folder, is an error, not an empty sequence.
	bad := t.TempDir()
	bw, err := NewWriter(bad, arrow.NewSchema([]arrow.Field{{Name: ColCaption, Type: arrow.PrimitiveTypes.Int64}}, nil), WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bw.Builder().Field(0).(*array.Int64Builder).Append(7)
	if err := bw.EndRow(); err != nil {
		t.Fatal(err)
	}
	bw.Close()
	for _, d := range []string{bad, filepath.Join(bad, "missing")} {
		captions, readErr := Captions(context.Background(), d)
		for c := range captions {
			t.Errorf("%s: caption %q", d, c)
		}
		if readErr() == nil {
			t.Errorf("%s: read without error", d)
		}
	}
}

func FuzzReadFile(f *testing.F) {
	dir := f.TempDir()
	w, _ := NewWriter(dir, PairSchema, WriterOptions{})
	for i := range 4 {
		AppendPair(w.Builder(), testPair(i))
		w.EndRow()
	}
	w.Close()
	good, _ := os.ReadFile(filepath.Join(dir, FileName(0)))
	f.Add(good)
	f.Add(good[:len(good)-10])
	f.Add([]byte("ARROW1\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), FileName(0))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for rec, err := range ReadFile(path, nil) {
			if err != nil {
				return
			}
			Pairs(rec) // may fail on a foreign schema, must not panic
		}
	})
}
