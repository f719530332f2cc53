package hostq

// Queue is a per-host FIFO of items with a limit on items out per host; see the package doc.
type Queue[T any] struct {
	perHost int
	hosts   map[string]*hostState[T]
	ready   []string // hosts with a queued item and a free slot, in turn order
	queued  int
}

type hostState[T any] struct {
	items   []T
	out     int  // handed out, not yet Done
	inReady bool // listed in ready
}

// New returns a Queue that lets at most perHost items of one host out at once (at least 1).
func New[T any](perHost int) *Queue[T] {
	return &Queue[T]{perHost: max(perHost, 1), hosts: map[string]*hostState[T]{}}
}

// Len is the number of items queued (not yet handed out).
func (q *Queue[T]) Len() int { return q.queued }

// Add queues v for host.
func (q *Queue[T]) Add(host string, v T) {
	h := q.hosts[host]
	if h == nil {
		h = &hostState[T]{}
		q.hosts[host] = h
	}
	h.items = append(h.items, v)
	q.queued++
	q.markReady(host, h)
}

// Next returns the item to hand out next, if a host has one and a free slot. It stays queued
// until Take.
func (q *Queue[T]) Next() (v T, ok bool) {
	if len(q.ready) == 0 {
		return v, false
	}
	return q.hosts[q.ready[0]].items[0], true
}

// HasReady reports whether Next has an item.
func (q *Queue[T]) HasReady() bool { return len(q.ready) > 0 }

// Take marks the item Next returned as handed out: its host's turn passes to the next host.
func (q *Queue[T]) Take() {
	host := q.ready[0]
	q.ready[0] = ""
	q.ready = q.ready[1:]
	h := q.hosts[host]
	var zero T
	h.items[0] = zero
	h.items = h.items[1:]
	if len(h.items) == 0 {
		h.items = nil // let the backing array go
	}
	h.out++
	h.inReady = false
	q.queued--
	q.markReady(host, h) // back of the line
}

// Done returns a slot of host: one of its items handed out has finished.
func (q *Queue[T]) Done(host string) {
	h := q.hosts[host]
	if h == nil || h.out == 0 {
		return
	}
	h.out--
	q.markReady(host, h)
	if h.out == 0 && len(h.items) == 0 {
		delete(q.hosts, host)
	}
}

// Hosts is the number of hosts with items queued or out.
func (q *Queue[T]) Hosts() int { return len(q.hosts) }

func (q *Queue[T]) markReady(host string, h *hostState[T]) {
	if !h.inReady && len(h.items) > 0 && (host == "" || h.out < q.perHost) {
		h.inReady = true
		q.ready = append(q.ready, host)
	}
}
