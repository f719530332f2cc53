package stages

import (
	"fmt"
	"path/filepath"
	"strings"
)

// sharedPath makes a job's path absolute (workers run elsewhere, from another directory). Object
// storage URLs are refused for now: the distributed stages merge their tasks' outputs with file
// renames and keep crawl state in pebble, both on a shared file system.
func sharedPath(flag, p string) (string, error) {
	if strings.Contains(p, "://") {
		return "", fmt.Errorf("--%s %s: distributed jobs read and write a shared file system path for now, not a URL", flag, p)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("--%s: %w", flag, err)
	}
	return abs, nil
}
