//go:build !unix

package procstat

import "time"

// rusage is unknown here: no getrusage.
func rusage() (cpu time.Duration, maxRSSKB int64) { return 0, 0 }
