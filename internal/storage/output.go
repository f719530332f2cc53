package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/witdata/wit/internal/atomicfile"
)

// IncompleteMarker is the object an Output on object storage holds while it is written. Readers
// that list a folder refuse one that holds it (CheckComplete).
const IncompleteMarker = "_INCOMPLETE"

// ErrIncomplete marks a folder whose writer has not finished (or was killed).
var ErrIncomplete = errors.New("output incomplete: its writer has not finished or was killed")

// Output is a folder that appears as a whole. On local disk it is built in a hidden temporary
// folder beside its path (atomicfile.CreateDir) and renamed into place by Commit. On object
// storage, which has no rename, files go under their final names: IncompleteMarker is written
// first and deleted by Commit, last; Abort deletes what was written, the marker last.
type Output struct {
	dir    Dir
	commit func() error
	abort  func()
	done   bool
}

// CreateOutput starts the folder at loc, which must be absent or empty.
func CreateOutput(ctx context.Context, loc string) (*Output, error) {
	d, err := Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	if entries, err := d.List(ctx, ""); err != nil {
		return nil, err
	} else if len(entries) > 0 {
		return nil, fmt.Errorf("storage: output %s exists and is not empty", loc)
	}
	if p, ok := d.Local(); ok {
		if err := os.MkdirAll(filepath.Dir(filepath.Clean(p)), 0o755); err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		ad, err := atomicfile.CreateDir(p)
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		return &Output{
			dir: localDir{path: ad.TempPath()},
			commit: func() error {
				if err := ad.Commit(); err != nil {
					return fmt.Errorf("storage: %w", err)
				}
				return nil
			},
			abort: ad.Abort,
		}, nil
	}
	bd, ok := d.(*bucketDir)
	if !ok {
		return nil, fmt.Errorf("storage: output %s: no folder protocol for this store", loc)
	}
	if err := Put(ctx, d, IncompleteMarker, []byte("written by wit; deleted when the output is complete\n")); err != nil {
		return nil, err
	}
	cleanCtx := context.WithoutCancel(ctx) // an abort after a cancel must still clean up
	return &Output{
		dir:    d,
		commit: func() error { return d.Delete(ctx, IncompleteMarker) },
		abort: func() {
			names, err := bd.listAll(cleanCtx)
			if err != nil {
				return
			}
			for _, n := range names {
				if n != IncompleteMarker && d.Delete(cleanCtx, n) != nil {
					return // keep the marker: what is left is still marked incomplete
				}
			}
			d.Delete(cleanCtx, IncompleteMarker)
		},
	}, nil
}

// Dir is where the output's files go until Commit.
func (o *Output) Dir() Dir { return o.dir }

// Commit makes the output visible as a whole.
func (o *Output) Commit() error {
	if o.done {
		return fmt.Errorf("storage: commit output: %w", os.ErrClosed)
	}
	o.done = true
	return o.commit()
}

// Abort removes what was written. It does nothing after Commit, so it may be deferred.
func (o *Output) Abort() {
	if o.done {
		return
	}
	o.done = true
	o.abort()
}

// CheckComplete returns an error wrapping ErrIncomplete when the listing of a folder (entries,
// from Dir.List) holds IncompleteMarker.
func CheckComplete(loc string, entries []Info) error {
	for _, e := range entries {
		if e.Name == IncompleteMarker && !e.IsDir {
			return fmt.Errorf("storage: %s: %w (it holds %s; write it again into an empty location)", loc, ErrIncomplete, IncompleteMarker)
		}
	}
	return nil
}
