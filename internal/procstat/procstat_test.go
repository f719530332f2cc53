package procstat

import "testing"

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
