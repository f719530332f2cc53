package crawl

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/witdata/wit/shards"
)

// TestPairFilesStopAfterFailedCommit: once a commit fails past its pebble record, the pair files
// take no more rows. Otherwise the next file would get the same number and its record would
// replace the first one's, whose pairs had already left the pending space.
func TestPairFilesStopAfterFailedCommit(t *testing.T) {
	dir := t.TempDir()
	st, err := openStore(filepath.Join(dir, "state"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	pf, err := newPairFiles(st, out, "", 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	crash := errors.New("simulated crash")
	fired := 0
	commitHook = func(shards.Commit) error { fired++; return crash }
	defer func() { commitHook = nil }()
	page := []shards.Pair{{PageURL: "http://a/", ImageURL: "http://a/1.png", Caption: "one"}, {PageURL: "http://a/", ImageURL: "http://a/2.png", Caption: "two"}}
	if err := pf.add(1, page); !errors.Is(err, crash) {
		t.Fatalf("first file: %v, want the crash", err)
	}
	if err := pf.add(2, page); !errors.Is(err, crash) {
		t.Fatalf("a page after the failed commit: %v, want the first error again", err)
	}
	if err := pf.close(); !errors.Is(err, crash) {
		t.Fatalf("close: %v, want the first error", err)
	}
	if fired != 1 {
		t.Fatalf("%d commits reached the hook, want 1 (a second would reuse file number 0)", fired)
	}
}
