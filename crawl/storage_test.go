package crawl

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/witdata/wit/internal/storage"
	"github.com/witdata/wit/internal/storage/s3test"
	"github.com/witdata/wit/shards"
)

// TestObjectStorageCrashBeforeUpload is TestCrashBetweenCommitAndRename with the pair files on
// the in-process S3 server: the process dies after the pebble record of a pair file and before
// its upload. The staged file in the state directory lets the next run finish the upload, and no
// pair is lost or written twice.
func TestObjectStorageCrashBeforeUpload(t *testing.T) {
	const n = 120
	s := newSite(n)
	srv := httptest.NewServer(s)
	defer srv.Close()
	_, bucket := s3test.Start(t, "wit")
	cfg := testConfig(t, srv.URL+"/p/0")
	cfg.Out = storage.Join(bucket, "pairs")
	saved := filepath.Join(t.TempDir(), "saved")
	var crashed shards.Commit
	commitHook = func(c shards.Commit) error {
		if c.Index != 1 {
			return nil
		}
		data, err := os.ReadFile(c.TempPath) // the staged file: what a crash leaves on disk
		if err != nil {
			return err
		}
		if err := os.WriteFile(saved, data, 0o644); err != nil {
			return err
		}
		crashed = c
		return errors.New("simulated crash")
	}
	defer func() { commitHook = nil }()
	if _, err := Run(context.Background(), cfg); err == nil {
		t.Fatal("crash not reported")
	}
	commitHook = nil
	if crashed.TempPath == "" || !storage.IsRemote(crashed.Path) {
		t.Fatalf("hook saw %+v", crashed)
	}
	if rel, err := filepath.Rel(cfg.State, crashed.TempPath); err != nil || strings.HasPrefix(rel, "..") {
		t.Fatalf("staged file %s is not in the state directory %s", crashed.TempPath, cfg.State)
	}
	if err := os.Rename(saved, crashed.TempPath); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := storage.Stat(ctx, crashed.Path); !storage.IsNotExist(err) {
		t.Fatalf("uploaded despite the crash: %v", err)
	}
	stats, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := storage.Stat(ctx, crashed.Path); err != nil {
		t.Fatalf("upload not finished: %v", err)
	}
	if _, err := os.Stat(crashed.TempPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("staged file left: %v", err)
	}
	pairs := readPairs(t, cfg.Out) // fails on a duplicate
	if len(pairs) != 2*n || stats.PairsWritten != 2*n {
		t.Fatalf("%d pairs in files (stats %d), want %d", len(pairs), stats.PairsWritten, 2*n)
	}
	if p, hits := s.maxPageHits(); hits != 1 {
		t.Fatalf("%s fetched %d times", p, hits)
	}
}
