package shards

import (
	"context"
	"fmt"

	"github.com/witdata/wit/internal/storage"
)

// The shards API takes locations as strings, local paths or object-store URLs alike; these
// helpers route its file operations through internal/storage. Calls without a context of their
// own use context.Background: the store's SDK bounds and retries each request.

// listEntries lists the entries directly in dir; a missing local directory is an error (as
// os.ReadDir's), a folder on object storage with nothing under it lists as empty.
func listEntries(dir string) ([]storage.Info, error) {
	ctx := context.Background()
	if !storage.IsRemote(dir) {
		st, err := storage.Stat(ctx, dir)
		if err != nil {
			return nil, fmt.Errorf("shards: list %s: %w", dir, err)
		}
		if !st.IsDir {
			return nil, fmt.Errorf("shards: list %s: not a directory", dir)
		}
	}
	d, err := storage.Open(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	entries, err := d.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	return entries, nil
}

// statPath describes the file or folder at path.
func statPath(path string) (storage.Info, error) {
	return storage.Stat(context.Background(), path)
}

// readFile reads the whole file at path.
func readFile(path string) ([]byte, error) {
	return storage.ReadFile(context.Background(), path)
}

// fileSize returns the size of the file at path, 0 when it cannot be read.
func fileSize(path string) int64 {
	if st, err := statPath(path); err == nil {
		return st.Size
	}
	return 0
}
