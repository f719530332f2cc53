package stages

import (
	"fmt"
	"path/filepath"

	"github.com/witdata/wit/internal/storage"
)

// jobLocation makes a job's location usable by workers that run elsewhere, from another
// directory: an object-store URL (s3://) is kept; a path or file:// URL is made absolute (it
// must then be on a file system every worker shares); other URLs are refused, since workers
// write there.
func jobLocation(flag, loc string) (string, error) {
	if storage.IsRemote(loc) {
		return loc, nil
	}
	p, ok := storage.LocalPath(loc)
	if !ok {
		return "", fmt.Errorf("--%s %s: not a path, file:// or s3:// URL", flag, loc)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("--%s: %w", flag, err)
	}
	return abs, nil
}
