package gomlxfix

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestParallelForRunsEachIndexOnce: every index runs exactly once and parallelFor returns only
// after all have returned, with the workers spinning or asleep, for nested calls (the inner one
// finds the slot taken and starts goroutines) and for calls from several goroutines at once.
func TestParallelForRunsEachIndexOnce(t *testing.T) {
	check := func(t *testing.T, n int, nest bool) {
		t.Helper()
		counts := make([]atomic.Int32, n)
		var inner atomic.Int32
		parallelFor(n, func(i int) {
			if nest {
				parallelFor(3, func(int) { inner.Add(1) })
			}
			time.Sleep(time.Duration(i%3) * 50 * time.Microsecond)
			counts[i].Add(1)
		})
		for i := range counts {
			if c := counts[i].Load(); c != 1 {
				t.Fatalf("n=%d: index %d ran %d times", n, i, c)
			}
		}
		if nest && inner.Load() != int32(3*n) {
			t.Fatalf("n=%d: nested calls ran %d indices, want %d", n, inner.Load(), 3*n)
		}
	}
	for _, spin := range []time.Duration{DefaultWorkerSpin, 0} {
		prev := SetWorkerSpin(spin)
		for _, n := range []int{0, 1, 2, 3, 8, 33} {
			check(t, n, false)
			check(t, n, true)
			time.Sleep(2 * DefaultWorkerSpin) // let the workers fall asleep between some calls
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					check(t, 5, false)
				}
			}()
		}
		wg.Wait()
		SetWorkerSpin(prev)
	}
}

// TestParallelForTakesWorkers: with GOMAXPROCS ≥ 2 the pool's worker takes indices, so that two
// indices of a call run at the same time (fn(0) waits, up to a timeout, for fn(1) to start).
func TestParallelForTakesWorkers(t *testing.T) {
	pool.start.Do(pool.init)
	if pool.workers == 0 {
		t.Skip("GOMAXPROCS is 1")
	}
	pool.soloUntil.Store(0)
	together := 0
	for range 50 {
		started := make(chan struct{})
		var overlapped atomic.Bool
		parallelFor(2, func(i int) {
			if i == 1 {
				close(started)
				return
			}
			select {
			case <-started:
				overlapped.Store(true)
			case <-time.After(100 * time.Millisecond):
			}
		})
		if overlapped.Load() {
			together++
		}
	}
	if together == 0 {
		t.Fatal("no call ran two indices at once: the worker never took one")
	}
}

// TestSoloMode: frequent late waits switch the pool to running calls on the caller alone (every
// index still runs once, on the calling goroutine, in order), for soloFor; punctual waits do not.
func TestSoloMode(t *testing.T) {
	pool.start.Do(pool.init)
	defer pool.soloUntil.Store(0)
	pool.soloUntil.Store(0)
	pool.lateScore.Store(0)
	for range 100 {
		pool.noteWait(10*time.Microsecond, 5*time.Microsecond)
	}
	if pool.solo() {
		t.Fatal("punctual waits switched solo mode on")
	}
	for range 10 {
		pool.noteWait(time.Millisecond, 5*time.Microsecond)
	}
	if !pool.solo() {
		t.Fatal("10 late waits in a row did not switch solo mode on")
	}
	var order []int
	parallelFor(5, func(i int) { order = append(order, i) }) // no lock: must run on this goroutine
	if len(order) != 5 || order[0] != 0 || order[4] != 4 {
		t.Fatalf("solo call ran %v", order)
	}
	pool.soloUntil.Store(time.Now().Add(-time.Millisecond).UnixNano())
	if pool.solo() {
		t.Fatal("solo mode outlived soloUntil")
	}
}

// BenchmarkParallelFor is a sequence of short parallel ops like a training step's (two halves of
// about 20 µs each, a few µs of serial work between two ops), with the workers spinning between
// ops and with workers that sleep at once (as goroutines started per op would):
//
//	go test ./internal/gomlxfix -run '^$' -bench ParallelFor
//
// overlap is the op's work over its wall time (2 when both halves always run at once).
func BenchmarkParallelFor(b *testing.B) {
	spinFor := func(d time.Duration) {
		for start := time.Now(); time.Since(start) < d; {
		}
	}
	for _, run := range []struct {
		name string
		spin time.Duration
	}{{"spin", DefaultWorkerSpin}, {"nospin", 0}} {
		b.Run(run.name, func(b *testing.B) {
			defer SetWorkerSpin(SetWorkerSpin(run.spin))
			const half, serial = 20 * time.Microsecond, 3 * time.Microsecond
			for b.Loop() {
				spinFor(serial)
				parallelFor(8, func(int) { spinFor(half / 4) })
			}
			perOp := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(2*half+serial)/float64(perOp), "overlap")
		})
	}
}
