package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/witdata/wit/internal/atomicfile"
)

// localDir is a directory on local disk; files are written through internal/atomicfile.
type localDir struct{ path string }

func (d localDir) String() string        { return d.path }
func (d localDir) Local() (string, bool) { return d.path, true }

func (d localDir) join(name string) string { return filepath.Join(d.path, filepath.FromSlash(name)) }

func (d localDir) Mkdir(context.Context) error {
	if err := os.MkdirAll(d.path, 0o755); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	return nil
}

func (d localDir) Create(_ context.Context, name string) (Writer, error) {
	p := d.join(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	f, err := atomicfile.Create(p)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	return localWriter{f}, nil
}

// localWriter adapts atomicfile.File (whose Abort returns nothing and whose errors lack the
// package prefix) to Writer and Staged.
type localWriter struct{ *atomicfile.File }

func (w localWriter) Commit() error {
	if err := w.File.Commit(); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	return nil
}

func (d localDir) Open(_ context.Context, name string) (Reader, error) {
	f, err := os.Open(d.join(name))
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: %w", err)
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("storage: %s is a directory", f.Name())
	}
	return localReader{File: f, size: st.Size()}, nil
}

type localReader struct {
	*os.File
	size int64
}

func (r localReader) Size() int64 { return r.size }

func (d localDir) Stat(_ context.Context, name string) (Info, error) {
	st, err := os.Stat(d.join(name))
	if err != nil {
		return Info{}, fmt.Errorf("storage: %w", err)
	}
	return Info{Name: filepath.ToSlash(name), Size: st.Size(), ModTime: st.ModTime(), IsDir: st.IsDir()}, nil
}

func (d localDir) List(_ context.Context, prefix string) ([]Info, error) {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("storage: list %s: %w", d.path, err)
	}
	out := make([]Info, 0, len(entries))
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		info := Info{Name: e.Name(), IsDir: e.IsDir()}
		if fi, err := e.Info(); err == nil {
			info.Size, info.ModTime = fi.Size(), fi.ModTime()
		} else if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the listing
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (d localDir) Delete(_ context.Context, name string) error {
	p := d.join(name)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: %w", err)
	}
	// Folders inside the Dir exist through their files, as on object storage: drop the ones
	// this delete emptied.
	for dir := filepath.Dir(p); dir != filepath.Clean(d.path) && strings.HasPrefix(dir, filepath.Clean(d.path)); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

func (d localDir) Sub(name string) Dir { return localDir{path: d.join(name)} }
