//go:build unix

package procstat

import (
	"syscall"
	"time"
)

// rusage returns getrusage's user+system CPU time and maxrss (KiB on Linux).
func rusage() (cpu time.Duration, maxRSSKB int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), int64(ru.Maxrss)
}
