package crawl

import (
	"context"
	"sync"

	"github.com/witdata/wit/internal/hostq"
)

// window is the dispatcher's read-ahead of the frontier, shared with the workers: the
// dispatcher adds items, and a worker that finishes a page gives its host's slot back and takes
// the next item itself (at most PerHost of a host out, hosts taking turns: internal/hostq), so
// handing out costs no trip through the dispatcher. Items in the window are still frontier keys;
// the worker that takes one moves it to the in-flight space before fetching it.
type window struct {
	mu     sync.Mutex
	cond   sync.Cond
	q      *hostq.Queue[job]
	ctx    context.Context // dispatching; nothing is taken once it ends
	closed bool
}

func newWindow(ctx context.Context, perHost int) *window {
	w := &window{q: hostq.New[job](perHost), ctx: ctx}
	w.cond.L = &w.mu
	return w
}

// add queues items read from the frontier.
func (w *window) add(items []job) {
	if len(items) == 0 {
		return
	}
	w.mu.Lock()
	for _, j := range items {
		w.q.Add(j.host, j)
	}
	w.mu.Unlock()
	w.cond.Broadcast()
}

// take gives back the slot of the worker's previous page (when it had one) and returns the next
// item whose host has a free slot, waiting while there is none; false once the window is closed
// or dispatching has ended.
func (w *window) take(prevHost string, hadPrev bool) (job, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if hadPrev {
		w.q.Done(prevHost)
	}
	for !w.closed && w.ctx.Err() == nil && !w.q.HasReady() {
		w.cond.Wait()
	}
	if w.closed || w.ctx.Err() != nil {
		return job{}, false
	}
	j, _ := w.q.Next()
	w.q.Take()
	if w.q.HasReady() {
		w.cond.Signal() // another waiting worker can take the next one
	}
	return j, true
}

// state reports how many items wait in the window and whether one could be taken now.
func (w *window) state() (queued int, ready bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.q.Len(), w.q.HasReady()
}

// close ends taking: waiting workers return.
func (w *window) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.cond.Broadcast()
}
