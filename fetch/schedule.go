package fetch

import (
	"context"
	"iter"
	"net/url"
	"strings"
)

// The scheduler sits between the feeder and the download workers. httpx lets only PerHost
// requests to one host run at once; a worker handed a URL of a host that is already at its limit
// waits inside httpx, so a run of consecutive items from one host (crawl output comes grouped by
// page and site) would park every worker on that host while the others idle. The scheduler
// keeps a window of upcoming items per host and hands workers only items whose host has a free
// slot. Reordering is safe: resuming is per input position, not per order.

// hostKey is the scheduling key of a URL: its lower-case host:port; "" for local files and
// unparsable URLs (not limited).
func hostKey(raw string) string {
	if !(len(raw) > 7 && strings.EqualFold(raw[:7], "http://")) && !(len(raw) > 8 && strings.EqualFold(raw[:8], "https://")) {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

type hostQueue struct {
	jobs     []job
	inflight int
	ready    bool // in the ready list
}

// schedule reads feed and sends its jobs to out, at most perHost in flight per host, looking at
// most window jobs ahead. Workers report each finished job's host on done. It returns the feed's
// error, if any, once the jobs queued before it are handed out, or nil when the feed ended or
// ctx was cancelled.
func schedule(ctx context.Context, feed iter.Seq2[job, error], out chan<- job, done <-chan string, perHost, window int, onJob func()) error {
	next, stop := iter.Pull2(feed)
	defer stop()
	queues := map[string]*hostQueue{}
	var ready []string // hosts with queued jobs and a free slot, FIFO
	queued := 0
	exhausted := false
	var feedErr error
	markReady := func(h string, q *hostQueue) {
		if !q.ready && len(q.jobs) > 0 && (h == "" || q.inflight < perHost) {
			q.ready = true
			ready = append(ready, h)
		}
	}
	finish := func(h string) {
		q := queues[h]
		if q == nil {
			return
		}
		q.inflight--
		markReady(h, q)
		if q.inflight == 0 && len(q.jobs) == 0 && !q.ready {
			delete(queues, h)
		}
	}
	for {
		for !exhausted && queued < window {
			j, err, ok := next()
			if !ok {
				exhausted = true
				break
			}
			if err != nil {
				// Finish what is queued (it is committed), then report.
				feedErr = err
				exhausted = true
				break
			}
			onJob()
			h := hostKey(j.item.URL)
			q := queues[h]
			if q == nil {
				q = &hostQueue{}
				queues[h] = q
			}
			q.jobs = append(q.jobs, j)
			queued++
			markReady(h, q)
		}
		if len(ready) == 0 {
			if exhausted && queued == 0 {
				return feedErr
			}
			select {
			case h := <-done:
				finish(h)
			case <-ctx.Done():
				return nil
			}
			continue
		}
		h := ready[0]
		q := queues[h]
		select {
		case out <- q.jobs[0]:
			q.jobs[0] = job{}
			q.jobs = q.jobs[1:]
			q.inflight++
			queued--
			ready = ready[1:]
			q.ready = false
			// Back of the line, so hosts take turns.
			markReady(h, q)
		case h := <-done:
			finish(h)
		case <-ctx.Done():
			return nil
		}
	}
}
