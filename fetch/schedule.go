package fetch

import (
	"context"
	"iter"
	"net/url"
	"strings"

	"github.com/witdata/wit/internal/hostq"
)

// The scheduler sits between the feeder and the download workers: it keeps a window of
// upcoming items and hands workers only items whose host has a free slot (internal/hostq), so a
// run of items from one host (crawl output comes grouped by page and site) does not park every
// worker on that host. Reordering is safe: resuming is per input position, not per order.

// HostKey is the politeness key of a URL, the scheduler's and a distributed fetch's partition
// key: its lower-case host:port; "" for local files and unparsable URLs (not limited).
func HostKey(raw string) string {
	if !(len(raw) > 7 && strings.EqualFold(raw[:7], "http://")) && !(len(raw) > 8 && strings.EqualFold(raw[:8], "https://")) {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

// schedule reads feed and sends its jobs to out, at most perHost in flight per host, looking at
// most window jobs ahead. Workers report each finished job's host on done. It returns the feed's
// error, if any, once the jobs queued before it are handed out, or nil when the feed ended or
// ctx was cancelled.
func schedule(ctx context.Context, feed iter.Seq2[job, error], out chan<- job, done <-chan string, perHost, window int, onJob func()) error {
	next, stop := iter.Pull2(feed)
	defer stop()
	q := hostq.New[job](perHost)
	exhausted := false
	var feedErr error
	for {
		for !exhausted && q.Len() < window {
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
			q.Add(HostKey(j.item.URL), j)
		}
		j, ok := q.Next()
		if !ok {
			if exhausted && q.Len() == 0 {
				return feedErr
			}
			select {
			case h := <-done:
				q.Done(h)
			case <-ctx.Done():
				return nil
			}
			continue
		}
		select {
		case out <- j:
			q.Take()
		case h := <-done:
			q.Done(h)
		case <-ctx.Done():
			return nil
		}
	}
}
