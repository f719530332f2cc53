// Package procstat reads the process's peak memory, which the benchmarks and RSS checks of
// several stages report beside their throughput.
package procstat

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// PeakRSSKB returns the process's peak resident set size in KiB: VmHWM from /proc/self/status
// (which /proc/self/clear_refs can reset), or getrusage's maxrss where /proc is absent.
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
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss
}

// PeakRSSMB is PeakRSSKB in MiB.
func PeakRSSMB() float64 { return float64(PeakRSSKB()) / 1024 }
