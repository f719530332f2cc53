// Package procstat reads the process's peak memory and CPU time, which the benchmarks and RSS
// checks of several stages report beside their throughput: on a shared machine, work per
// CPU-second is far steadier than work per wall-second.
package procstat

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"time"
)

// PeakRSSKB returns the process's peak resident set size in KiB: VmHWM from /proc/self/status
// (which /proc/self/clear_refs can reset), or getrusage's maxrss where /proc is absent (0 where
// neither exists).
func PeakRSSKB() int64 {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				if err == nil {
					return kb
				}
			}
		}
	}
	_, maxRSSKB := rusage()
	return maxRSSKB
}

// PeakRSSMB is PeakRSSKB in MiB.
func PeakRSSMB() float64 { return float64(PeakRSSKB()) / 1024 }

// CPUTime returns the process's user+system CPU time so far, all threads (GC included); 0 where
// the system cannot tell.
func CPUTime() time.Duration {
	cpu, _ := rusage()
	return cpu
}
