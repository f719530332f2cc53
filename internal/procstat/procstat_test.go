package procstat

import (
	"testing"
	"time"
)

func TestPeakRSSGrowsWithAllocation(t *testing.T) {
	before := PeakRSSKB()
	if before <= 0 {
		t.Fatalf("peak RSS %d KiB", before)
	}
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	if after := PeakRSSKB(); after < before+32<<10 {
		t.Fatalf("peak RSS %d -> %d KiB after touching 64 MiB", before, after)
	}
	_ = buf[len(buf)-1]
}

func TestCPUTimeGrowsWithWork(t *testing.T) {
	before := CPUTime()
	x := uint64(1)
	start := time.Now()
	for deadline := before + 50*time.Millisecond; CPUTime() < deadline && time.Since(start) < 5*time.Second; {
		for range 100000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	if after := CPUTime(); after-before < 50*time.Millisecond {
		t.Fatalf("CPU time %v -> %v after 50 ms of work (%d)", before, after, x)
	}
}
