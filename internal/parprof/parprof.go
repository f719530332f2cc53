// Package parprof measures how many cores a piece of code keeps busy from a Go execution trace,
// independently of other load on the machine: CPU time ÷ wall time from the OS drops when other
// processes take the cores, while the number of goroutines the Go scheduler has running does not.
//
// Measure runs a function under runtime/trace and reads the trace back (golang.org/x/exp/trace):
// the time-weighted mean number of goroutines in the running state is its parallelism (≈ CPU ÷ wall
// on an idle machine, at most GOMAXPROCS). Each moment is also charged to the innermost
// runtime/trace region active then (gomlxfix names one per executed GoMLX op), so the serial parts
// show by name: Span.Idle is the core time left unused while the region was active.
package parprof

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	rtrace "runtime/trace"
	"slices"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

// windowRegion is the region Measure puts around the measured function; Read counts only the time
// inside it (when present), not trace start-up and shut-down.
const windowRegion = "parprof.measure"

// IdlePrefix starts the names of regions in which a goroutine waits for work while running (a
// spinning worker): such a goroutine counts as idle, and the region names no time.
const IdlePrefix = "idle:"

// ParallelPrefix starts the names of regions around code that splits its work over goroutines
// (gomlxfix's parallelFor): the running time inside them is parallel work, the rest serial work
// (see Profile.Bound). Such regions name no time either.
const ParallelPrefix = "par:"

// Outside names the time when no region was active (between graph executions, Go code around them).
const Outside = "(outside-regions)"

// Span is the time charged to one region name (or group of names).
type Span struct {
	Wall time.Duration // time the region was the innermost active one
	Busy time.Duration // ∫ running goroutines dt over that time
	Idle time.Duration // ∫ (procs − running goroutines) dt: core time left unused
	// Ready is ∫ min(procs, running + runnable goroutines) dt: the core time the code asked for.
	// On a loaded machine a goroutine may wait runnable while a thread is woken for it; Ready
	// counts that wait as demand, Busy does not.
	Ready time.Duration
	// Serial is the part of Busy outside ParallelPrefix regions: work only one goroutine could do.
	Serial time.Duration
	// Spin is ∫ running goroutines inside IdlePrefix regions dt: CPU time spent waiting for work
	// (not in Busy; the OS counts it as CPU time).
	Spin time.Duration
}

// Parallelism is the mean number of running goroutines while the span's region was active.
func (s Span) Parallelism() float64 {
	if s.Wall <= 0 {
		return 0
	}
	return float64(s.Busy) / float64(s.Wall)
}

// Demand is the mean number of goroutines running or ready to run (at most procs).
func (s Span) Demand() float64 {
	if s.Wall <= 0 {
		return 0
	}
	return float64(s.Ready) / float64(s.Wall)
}

func (s *Span) add(o Span) {
	s.Wall += o.Wall
	s.Busy += o.Busy
	s.Idle += o.Idle
	s.Ready += o.Ready
	s.Serial += o.Serial
	s.Spin += o.Spin
}

// Bound is Amdahl's bound on the parallelism with procs cores: the work over the time it takes
// when the serial work runs on one core and the parallel work is split evenly over procs, with
// no wait for a thread. Work is measured as running time, so OS preemption on a loaded machine
// stretches serial and parallel work alike and the bound holds its value where Parallelism drops.
func (s Span) Bound(procs int) float64 {
	parallel := s.Busy - s.Serial
	t := float64(s.Serial) + float64(parallel)/float64(max(1, procs))
	if t <= 0 {
		return 0
	}
	return float64(s.Busy) / t
}

// Profile is the parallelism of a traced run.
type Profile struct {
	Procs   int // GOMAXPROCS: the most goroutines that can run at once
	Total   Span
	Regions map[string]*Span // by innermost region name; Outside for none
}

// Parallelism is the time-weighted mean number of running goroutines over the run.
func (p *Profile) Parallelism() float64 { return p.Total.Parallelism() }

// Bound is Amdahl's bound on the run's parallelism on an idle machine (see Span.Bound).
func (p *Profile) Bound() float64 { return p.Total.Bound(p.Procs) }

// Demand is the time-weighted mean number of goroutines running or runnable (at most Procs).
func (p *Profile) Demand() float64 { return p.Total.Demand() }

// NamedSpan is a Span with its name.
type NamedSpan struct {
	Name string
	Span
}

// ByIdle and BySerial order spans for Top: by the core time they left unused (on a loaded machine
// this includes waits for the OS), or by their serial work (which does not depend on the load).
func ByIdle(s Span) time.Duration   { return s.Idle }
func BySerial(s Span) time.Duration { return s.Serial }

// Top returns the n spans with the largest by(span), with region names merged by group (nil keeps
// every name; FirstWord merges an op's shapes).
func (p *Profile) Top(n int, group func(string) string, by func(Span) time.Duration) []NamedSpan {
	merged := map[string]*Span{}
	for name, s := range p.Regions {
		if group != nil {
			name = group(name)
		}
		m := merged[name]
		if m == nil {
			m = &Span{}
			merged[name] = m
		}
		m.add(*s)
	}
	out := make([]NamedSpan, 0, len(merged))
	for name, s := range merged {
		out = append(out, NamedSpan{name, *s})
	}
	slices.SortFunc(out, func(a, b NamedSpan) int {
		return cmp.Or(cmp.Compare(by(b.Span), by(a.Span)), strings.Compare(a.Name, b.Name))
	})
	if n >= 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// FirstWord groups region names by their first word ("ReduceSum f32[64,256]" → "ReduceSum").
func FirstWord(name string) string {
	if i := strings.IndexByte(name, ' '); i > 0 {
		return name[:i]
	}
	return name
}

// Format writes the profile's totals and its n largest spans by by (grouped by group).
func (p *Profile) Format(w io.Writer, n int, group func(string) string, by func(Span) time.Duration) {
	fmt.Fprintf(w, "parallelism %.3f of %d, demand %.3f, bound %.3f (wall %v, busy %v, serial %v, spinning %v, idle core time %v)\n",
		p.Parallelism(), p.Procs, p.Demand(), p.Bound(), p.Total.Wall.Round(time.Microsecond), p.Total.Busy.Round(time.Microsecond),
		p.Total.Serial.Round(time.Microsecond), p.Total.Spin.Round(time.Microsecond), p.Total.Idle.Round(time.Microsecond))
	for _, s := range p.Top(n, group, by) {
		fmt.Fprintf(w, "  %-44s wall %9v %5.1f%%  parallelism %.2f  demand %.2f  serial %9v  bound %.2f  idle %9v %5.1f%% of idle\n", s.Name,
			s.Wall.Round(time.Microsecond), 100*float64(s.Wall)/float64(max(1, p.Total.Wall)), s.Parallelism(), s.Demand(),
			s.Serial.Round(time.Microsecond), s.Bound(p.Procs),
			s.Idle.Round(time.Microsecond), 100*float64(s.Idle)/float64(max(1, p.Total.Idle)))
	}
}

// ErrTracing is returned by Measure when another execution trace is already running (go test -trace).
var ErrTracing = errors.New("parprof: an execution trace is already running")

// Measure runs fn under runtime/trace (inside a region that bounds the measured window) and returns
// its profile. The trace is kept in memory: keep fn to a few seconds.
func Measure(fn func()) (*Profile, error) {
	if rtrace.IsEnabled() {
		return nil, ErrTracing
	}
	var buf bytes.Buffer
	if err := rtrace.Start(&buf); err != nil {
		return nil, fmt.Errorf("parprof: start trace: %w", err)
	}
	procs := runtime.GOMAXPROCS(0)
	rtrace.WithRegion(context.Background(), windowRegion, fn)
	rtrace.Stop()
	return Read(&buf, procs)
}

// activeRegion is a region begun and not yet ended on goroutine g; seq orders the beginnings.
type activeRegion struct {
	g    trace.GoID
	name string
}

// Read computes the profile of a trace (runtime/trace's format) for procs cores. With a region
// named windowRegion in the trace only the time inside it counts, otherwise the whole trace.
func Read(r io.Reader, procs int) (*Profile, error) {
	tr, err := trace.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("parprof: read trace: %w", err)
	}
	var events []trace.Event
	windowFound := false
	for {
		ev, err := tr.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parprof: read trace: %w", err)
		}
		if k := ev.Kind(); k == trace.EventRegionBegin && ev.Region().Type == windowRegion {
			windowFound = true
		}
		events = append(events, ev)
	}
	p := &Profile{Procs: procs, Regions: map[string]*Span{}}
	running := map[trace.GoID]bool{}
	runnable := map[trace.GoID]bool{}
	idle := map[trace.GoID]int{} // goroutines inside IdlePrefix regions (nesting depth)
	parallel := 0                // ParallelPrefix regions open
	count := func(set map[trace.GoID]bool, idling bool) int {
		n := 0
		for g := range set {
			if (idle[g] > 0) == idling {
				n++
			}
		}
		return n
	}
	var active []activeRegion // in order of beginning: the last is the innermost, most recent
	inWindow := !windowFound
	var last trace.Time
	for i, ev := range events {
		t := ev.Time()
		if i > 0 && inWindow && t > last {
			dt := t.Sub(last)
			n := count(running, false)
			ready := min(procs, n+count(runnable, false))
			s := Span{Wall: dt, Busy: time.Duration(n) * dt, Idle: time.Duration(max(0, procs-n)) * dt, Ready: time.Duration(ready) * dt}
			if parallel == 0 {
				s.Serial = s.Busy
			}
			s.Spin = time.Duration(count(running, true)) * dt
			name := Outside
			if len(active) > 0 {
				name = active[len(active)-1].name
			}
			p.Total.add(s)
			reg := p.Regions[name]
			if reg == nil {
				reg = &Span{}
				p.Regions[name] = reg
			}
			reg.add(s)
		}
		last = t
		switch ev.Kind() {
		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				continue
			}
			_, to := st.Goroutine()
			g := st.Resource.Goroutine()
			delete(running, g)
			delete(runnable, g)
			switch to {
			case trace.GoRunning:
				running[g] = true
			case trace.GoRunnable:
				runnable[g] = true
			}
		case trace.EventRegionBegin:
			name := ev.Region().Type
			if name == windowRegion {
				inWindow = true
				continue
			}
			if strings.HasPrefix(name, IdlePrefix) {
				idle[ev.Goroutine()]++
				continue
			}
			if strings.HasPrefix(name, ParallelPrefix) {
				parallel++
				continue
			}
			active = append(active, activeRegion{ev.Goroutine(), name})
		case trace.EventRegionEnd:
			name := ev.Region().Type
			if name == windowRegion {
				inWindow = !windowFound
				continue
			}
			if strings.HasPrefix(name, IdlePrefix) {
				if g := ev.Goroutine(); idle[g] > 0 {
					idle[g]--
				}
				continue
			}
			if strings.HasPrefix(name, ParallelPrefix) {
				parallel = max(0, parallel-1)
				continue
			}
			for j := len(active) - 1; j >= 0; j-- {
				if active[j].g == ev.Goroutine() && active[j].name == name {
					active = slices.Delete(active, j, j+1)
					break
				}
			}
		}
	}
	if p.Total.Wall == 0 {
		return nil, errors.New("parprof: the trace covers no time")
	}
	return p, nil
}
