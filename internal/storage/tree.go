package storage

import (
	"context"
	"fmt"
	"io"
	"os"
)

// RemoveAll removes the folder at loc with everything in it (on object storage: every object
// whose key lies under it). A missing folder is not an error.
func RemoveAll(ctx context.Context, loc string) error {
	d, err := Open(ctx, loc)
	if err != nil {
		return err
	}
	if p, ok := d.Local(); ok {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		return nil
	}
	bd, ok := d.(*bucketDir)
	if !ok {
		return fmt.Errorf("storage: remove %s: no listing for this store", redact(loc))
	}
	names, err := bd.listAll(ctx)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := d.Delete(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// ListAll returns the names of every file under the folder at loc, sub-folders included, relative
// to it with "/" separators, sorted. A missing folder lists as empty.
func ListAll(ctx context.Context, loc string) ([]string, error) {
	d, err := Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	if bd, ok := d.(*bucketDir); ok {
		return bd.listAll(ctx)
	}
	var out []string
	var walk func(sub Dir, prefix string) error
	walk = func(sub Dir, prefix string) error {
		entries, err := sub.List(ctx, "")
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.IsDir {
				if err := walk(sub.Sub(e.Name), prefix+e.Name+"/"); err != nil {
					return err
				}
				continue
			}
			out = append(out, prefix+e.Name)
		}
		return nil
	}
	return out, walk(d, "")
}

// Copy copies the file at src to dst (locations anywhere: local or object storage), dst
// appearing complete or not at all (Dir.Create), replacing any file there.
func Copy(ctx context.Context, src, dst string) error {
	r, err := OpenFile(ctx, src)
	if err != nil {
		return err
	}
	defer r.Close()
	d, name, err := dirOf(ctx, dst)
	if err != nil {
		return err
	}
	w, err := d.Create(ctx, name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return fmt.Errorf("storage: copy %s to %s: %w", redact(src), redact(dst), err)
	}
	return w.Commit()
}
