package parprof

import (
	"bytes"
	"context"
	"runtime"
	rtrace "runtime/trace"
	"sync"
	"testing"
	"time"
)

// busy keeps the goroutine running for d.
func busy(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// workload is 40 ms of two goroutines running in a ParallelPrefix region, 40 ms of one running
// in a region named "serial", and 40 ms of one running plus one spinning in an IdlePrefix region.
func workload() {
	ctx := context.Background()
	rtrace.WithRegion(ctx, ParallelPrefix+" both", func() {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); busy(40 * time.Millisecond) }()
		busy(40 * time.Millisecond)
		wg.Wait()
	})
	rtrace.WithRegion(ctx, "serial", func() { busy(40 * time.Millisecond) })
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rtrace.WithRegion(ctx, IdlePrefix+" spin", func() { busy(40 * time.Millisecond) })
	}()
	rtrace.WithRegion(ctx, "spun", func() { busy(40 * time.Millisecond) })
	wg.Wait()
}

// TestMeasure: the workload's running goroutines are 2, 1 and 1 (the spinner is idle) for a
// third of the time each: parallelism 4/3; serial work 80 ms, parallel 80 ms: bound 160/120. Busy
// loops timed by the clock stretch and shift on a loaded machine (a goroutine preempted by Go
// waits for a thread the OS has not run yet; runtime goroutines run too), so the figures get wide
// margins; what does not depend on timing is checked exactly.
func TestMeasure(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs GOMAXPROCS ≥ 2")
	}
	p, err := Measure(workload)
	if err != nil {
		t.Fatal(err)
	}
	within := func(name string, got, lo, hi float64) {
		t.Helper()
		if got < lo || got > hi {
			t.Errorf("%s = %.3f, want in [%.2f, %.2f]", name, got, lo, hi)
		}
	}
	within("parallelism", p.Parallelism(), 0.4, 1.6)
	within("bound", p.Bound(), 1.1, 1.6)
	serial := p.Regions["serial"]
	spun := p.Regions["spun"]
	if serial == nil || spun == nil {
		t.Fatalf("no span for the regions serial and spun: %v", p.Regions)
	}
	if serial.Serial != serial.Busy || serial.Busy == 0 {
		t.Errorf("serial region: serial work %v, busy %v: want equal, > 0", serial.Serial, serial.Busy)
	}
	if serial.Spin != 0 {
		t.Errorf("spinning counted in the serial region: %v", serial.Spin)
	}
	if s := p.Regions[ParallelPrefix+" both"]; s != nil {
		t.Errorf("the parallel region names time: %+v", *s)
	}
	if s := p.Regions[IdlePrefix+" spin"]; s != nil {
		t.Errorf("the idle region names time: %+v", *s)
	}
	within("spinning time over the run's wall time", float64(p.Total.Spin)/float64(p.Total.Wall), 0.05, 1)
	within("spun region's parallelism (the spinner idle)", spun.Parallelism(), 0.3, 1.3)
	top := p.Top(1, nil, BySerial)
	if len(top) != 1 || top[0].Serial < serial.Serial {
		t.Errorf("Top(1, BySerial) = %+v, want the largest serial span", top)
	}
	var out bytes.Buffer
	p.Format(&out, 3, FirstWord, ByIdle)
	if !bytes.Contains(out.Bytes(), []byte("parallelism")) || bytes.Count(out.Bytes(), []byte("\n")) != 4 {
		t.Errorf("Format wrote:\n%s", out.String())
	}
}

// TestReadWithoutWindow: a trace without Measure's region counts from its first event to its last.
func TestReadWithoutWindow(t *testing.T) {
	var buf bytes.Buffer
	if err := rtrace.Start(&buf); err != nil {
		t.Skip(err)
	}
	busy(20 * time.Millisecond)
	rtrace.Stop()
	p, err := Read(&buf, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.Total.Wall < 15*time.Millisecond || p.Parallelism() < 0.5 {
		t.Errorf("wall %v, parallelism %.2f: want ≥ 20 ms of one running goroutine", p.Total.Wall, p.Parallelism())
	}
	if _, err := Read(bytes.NewReader([]byte("not a trace")), 2); err == nil {
		t.Error("Read accepted garbage")
	}
}

func TestFirstWord(t *testing.T) {
	for in, want := range map[string]string{"ReduceSum (Float32)[64]": "ReduceSum", Outside: Outside, "": ""} {
		if got := FirstWord(in); got != want {
			t.Errorf("FirstWord(%q) = %q, want %q", in, got, want)
		}
	}
}
