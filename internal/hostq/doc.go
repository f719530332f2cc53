// Package hostq hands out work so that no host holds up the others: the crawler's dispatcher
// and the image downloader's scheduler both use it.
//
// httpx lets only PerHost requests to one host run at once, and spaces their starts by the
// host's delay. A worker handed a URL of a host already at its limit waits inside httpx. Work
// comes grouped by host (a page's links, a crawl's pairs), so a plain FIFO parks every worker
// on one host while the others idle: the crawl or download then runs at one host's pace.
//
// A Queue holds a window of upcoming items (the caller bounds it: Len) in one FIFO per host, and
// Next offers only an item whose host has fewer than PerHost items out. Hosts with such an item
// take turns in a ready list, so one with many items gets no more than its share. Done returns
// a host's slot. A host's entry is dropped when it has nothing queued and nothing out, so memory
// is the window plus the hosts with work out. Items of the host "" are not limited (local
// files).
//
// The Queue is not safe for concurrent use: fetch's scheduler goroutine owns its Queue and
// workers report finished hosts on a channel; the crawler's workers take from theirs under a
// lock (crawl/window.go).
package hostq
