package gomlxfix

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"time"
)

// A step runs thousands of ops one after another, most of them 50 µs–2 ms long and each split
// over the cores. Starting a goroutine per op leaves the second core idle for the first part of
// every op: the goroutine is runnable at once, but the thread that runs it must be woken by the OS
// (tens of µs on an idle VM, often longer than the whole op under load), and the caller has
// usually taken every chunk by then. So parallelFor hands its indices to workers that are already
// running: after each task a worker spins for up to workerSpin (yielding to other goroutines,
// e.g. the loader's) before it sleeps, which covers the short serial ops and executor overhead
// between two parallel ops; only a worker asleep longer than that is woken through the OS. The
// caller likewise spins for the last chunks before it sleeps: sleeping at once costs two thread
// hand-overs (its own thread parked, then woken by the worker that finishes), ~20 µs an op here.

// DefaultWorkerSpin is how long an idle worker waits, running, for the next task before it sleeps.
// In a clip-tiny training step 97% of the gaps between two parallel ops are shorter (64% under
// 10 µs); the spinning costs a few % of the step's CPU time.
const DefaultWorkerSpin = 50 * time.Microsecond

var workerSpin atomic.Int64 // nanoseconds

// EnvWorkerSpin overrides DefaultWorkerSpin at start-up (a Go duration: "0" sleeps at once, which
// spends less CPU time on a machine whose cores other processes keep busy).
const EnvWorkerSpin = "WIT_GOMLX_SPIN"

func init() {
	spin := DefaultWorkerSpin
	if v := os.Getenv(EnvWorkerSpin); v != "" {
		if d, err := time.ParseDuration(v); err != nil || d < 0 {
			slog.Warn("ignoring $"+EnvWorkerSpin, "value", v, "spin", spin)
		} else {
			spin = d
		}
	}
	workerSpin.Store(int64(spin))
}

// SetWorkerSpin sets how long idle workers, and callers waiting for the last chunks, spin before
// they sleep (0: at once, as with goroutines started per op) and returns the previous value.
// Benchmarks compare the two with it.
func SetWorkerSpin(d time.Duration) (previous time.Duration) {
	return time.Duration(workerSpin.Swap(int64(max(0, d))))
}

// ParallelRegion names the runtime/trace region around a parallelFor on its caller: internal/parprof
// counts the work inside as parallel, the rest of a step's as serial.
const ParallelRegion = "par: gomlxfix parallelFor"

// IdleRegion names the runtime/trace regions of a spinning worker or caller: internal/parprof
// counts a goroutine inside such a region as idle, not busy (its "idle:" prefix).
const IdleRegion = "idle: gomlxfix worker spin"

// forTask is one parallelFor call: indices [0, n) are claimed one at a time by the caller and the
// workers.
type forTask struct {
	fn       func(i int)
	n        int64
	next     atomic.Int64 // next index to claim
	done     atomic.Int64 // indices finished
	finished chan struct{}
}

// work runs indices of t until none is left to claim, and returns how many it ran.
func (t *forTask) work() int {
	ran := 0
	for i := t.next.Add(1) - 1; i < t.n; i = t.next.Add(1) - 1 {
		t.fn(int(i))
		ran++
		if t.done.Add(1) == t.n {
			close(t.finished)
		}
	}
	return ran
}

// workerPool is the process's workers: GOMAXPROCS−1 goroutines started on first use, and one task
// slot (a parallelFor called while another one runs, nested or from another graph execution,
// starts its own goroutines instead).
type workerPool struct {
	start  sync.Once
	slot   atomic.Pointer[forTask]
	parked atomic.Int32 // workers asleep (or about to be)
	// lateScore and soloUntil drive solo mode (noteWait).
	lateScore atomic.Int64
	soloUntil atomic.Int64  // Unix ns
	wake      chan struct{} // a token per worker to wake
	workers   int
}

var pool workerPool

func (p *workerPool) init() {
	p.workers = max(0, runtime.GOMAXPROCS(0)-1)
	p.wake = make(chan struct{}, p.workers)
	for range p.workers {
		go p.worker()
	}
}

func (p *workerPool) worker() {
	var last *forTask
	for {
		t := p.waitTask(last)
		last = t
		t.work()
	}
}

// waitTask returns the task in the slot once it is not last: spinning for up to workerSpin, then
// asleep until parallelFor wakes it.
func (p *workerPool) waitTask(last *forTask) *forTask {
	found := func() *forTask {
		if t := p.slot.Load(); t != nil && t != last && t.next.Load() < t.n {
			return t
		}
		return nil
	}
	var t *forTask
	if spin(time.Duration(workerSpin.Load()), func() bool { t = found(); return t != nil }) {
		return t
	}
	for {
		p.parked.Add(1)
		if t := found(); t != nil { // published before it saw parked: it may not send a token
			p.parked.Add(-1)
			return t
		}
		<-p.wake
		p.parked.Add(-1)
		if t := found(); t != nil {
			return t
		}
	}
}

// parallelFor runs fn(0..n-1) and returns when all have returned. The caller runs indices itself
// and the pool's workers take the others as they come (all of them may end up on the caller).
// Indices may run one after another on one goroutine: fn(i) must not wait for fn(j).
func parallelFor(n int, fn func(i int)) {
	if n <= 1 {
		if n == 1 {
			fn(0)
		}
		return
	}
	if trace.IsEnabled() {
		defer trace.StartRegion(context.Background(), ParallelRegion).End()
	}
	pool.start.Do(pool.init)
	if pool.workers == 0 || workerSpin.Load() > 0 && pool.solo() {
		for i := range n {
			fn(i)
		}
		return
	}
	t := &forTask{fn: fn, n: int64(n), finished: make(chan struct{})}
	if !pool.slot.CompareAndSwap(nil, t) {
		spawnFor(n, fn)
		return
	}
	for range min(int(pool.parked.Load()), n-1) {
		select {
		case pool.wake <- struct{}{}:
		default:
		}
	}
	start := time.Now()
	mine := t.work()
	pool.slot.CompareAndSwap(t, nil)
	// A chunk still running elsewhere should end within about one chunk's time; waiting longer
	// means its thread lost its core, and spinning would only take the core time it needs.
	chunk := time.Duration(workerSpin.Load())
	if mine > 0 {
		chunk = time.Since(start) / time.Duration(mine)
	}
	waitStart := time.Now()
	t.wait(2*chunk + 2*time.Microsecond)
	pool.noteWait(time.Since(waitStart), chunk)
}

// Solo mode. On a machine whose cores other processes keep busy, a worker's thread loses its core
// for milliseconds at a time, and the op waits for the chunk it holds: splitting ops then makes
// them slower than running them on the caller alone (as goroutines started per op effectively
// did: they seldom ran before the caller had taken every chunk). So the pool counts the calls
// whose caller waited for the last chunk much longer than a chunk takes; when they are frequent it
// runs the next calls on the caller alone for soloFor, then tries the workers again.
const (
	lateWait = 100 * time.Microsecond // a wait past max(this, 4 chunks) is late
	soloFor  = 20 * time.Millisecond
)

// noteWait records how long a caller waited for the other chunks of its call.
func (p *workerPool) noteWait(waited, chunk time.Duration) {
	late := int64(0)
	if waited > max(lateWait, 4*chunk) {
		late = 1 << 16
	}
	// Exponential average of late calls, in units of 1/65536, over about 32 calls.
	score := p.lateScore.Load()
	score += (late - score) / 32
	p.lateScore.Store(score)
	if score > 1<<16/8 { // more than 1 call in 8 late
		p.lateScore.Store(0)
		p.soloUntil.Store(time.Now().Add(soloFor).UnixNano())
	}
}

// solo reports whether calls run on the caller alone for now.
func (p *workerPool) solo() bool {
	until := p.soloUntil.Load()
	return until != 0 && time.Now().UnixNano() < until
}

// spinCheck is how often spin looks at the clock (in rounds of runtime.Gosched), and
// spinPreempted the time between two looks that shows the spinning thread lost its core.
const (
	spinCheck     = 32
	spinPreempted = 50 * time.Microsecond
)

// spin calls done, yielding between calls, until it returns true (spin returns true) or for up
// to d (false). It also gives up when its own thread loses its core for spinPreempted or more:
// then the cores are oversubscribed (other processes, or other goroutines to run) and spinning
// takes core time from the goroutines that do the work. Inside an IdleRegion while tracing.
func spin(d time.Duration, done func() bool) bool {
	if done() {
		return true
	}
	if d <= 0 {
		return false
	}
	if trace.IsEnabled() {
		defer trace.StartRegion(context.Background(), IdleRegion).End()
	}
	last := time.Now()
	deadline := last.Add(d)
	for {
		for range spinCheck {
			if done() {
				return true
			}
			runtime.Gosched() // let other goroutines (the loader's, GC workers) have this core
		}
		now := time.Now()
		if now.After(deadline) || now.Sub(last) >= spinPreempted {
			return done()
		}
		last = now
	}
}

// wait returns once every index of t has returned: it spins (yielding) for up to budget, since
// the last chunks usually end within about a chunk's time, then sleeps. Sleeping at once would
// cost two thread hand-overs per op (the caller's thread put to sleep, the closer's woken).
func (t *forTask) wait(budget time.Duration) {
	if t.done.Load() == t.n {
		return
	}
	if spin(min(time.Duration(workerSpin.Load()), budget), func() bool { return t.done.Load() == t.n }) {
		return
	}
	<-t.finished
}

// spawnFor is parallelFor on goroutines of its own: fn(0) on the caller's, one goroutine for each
// other index.
func spawnFor(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i)
		}()
	}
	fn(0)
	wg.Wait()
}
