package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/witdata/wit/internal/atomicfile"
)

// CreateStaged starts a file like d.Create, whose Writer also implements Staged: on local disk it
// is d.Create's; on object storage the content goes to a local temporary file in stageDir
// ("NAME.tmp-*"), and Commit uploads it and removes it; a failed upload leaves the temporary
// file for the next run, which finishes it or removes it as stale. A caller that records TempPath between
// Finish and Commit can finish the commit after a crash with MoveIn.
func CreateStaged(ctx context.Context, d Dir, name, stageDir string) (Writer, error) {
	if _, ok := d.Local(); ok {
		return d.Create(ctx, name)
	}
	if stageDir == "" {
		return nil, errors.New("storage: staged write to object storage without a staging directory")
	}
	if err := os.MkdirAll(stageDir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	f, err := atomicfile.Create(filepath.Join(stageDir, filepath.Base(filepath.FromSlash(name))))
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	return &stagedWriter{File: f, ctx: ctx, d: d, name: name}, nil
}

type stagedWriter struct {
	*atomicfile.File
	ctx  context.Context
	d    Dir
	name string
	done bool
}

func (w *stagedWriter) Commit() error {
	if w.done {
		return fmt.Errorf("storage: commit %s: %w", w.name, os.ErrClosed)
	}
	if err := w.File.Finish(); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	// From here on the temporary file is kept whatever happens: a caller may have recorded it,
	// and the next run finishes the upload (MoveIn) or removes it as stale.
	w.done = true
	return MoveIn(w.ctx, w.d, w.name, w.TempPath())
}

func (w *stagedWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.File.Abort() // removes the temporary file, also after Finish
}

// MoveIn puts the complete local file at tempPath under name in d and removes tempPath: a rename
// (and directory fsync) on local disk, an upload on object storage. It is how a staged commit that
// a crash cut off is finished. On error tempPath is left in place.
func MoveIn(ctx context.Context, d Dir, name, tempPath string) error {
	if dir, ok := d.Local(); ok {
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		if err := os.Rename(tempPath, dst); err == nil {
			if err := atomicfile.SyncDir(filepath.Dir(dst)); err != nil {
				return fmt.Errorf("storage: %w", err)
			}
			return nil
		}
		// Another file system: copy through an atomic file below.
	}
	f, err := os.Open(tempPath)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	defer f.Close()
	w, err := d.Create(ctx, name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, f); err != nil {
		w.Abort()
		return fmt.Errorf("storage: upload %s: %w", Join(d.String(), name), err)
	}
	if err := w.Commit(); err != nil {
		return err
	}
	f.Close()
	if err := os.Remove(tempPath); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	return nil
}
