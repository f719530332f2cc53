// Package crawl turns a seed list into candidate (image URL, caption) pairs: it crawls the seeds'
// sites politely, extracts <img>/<picture>/og:image candidates from every HTML page
// (crawl/extract) and writes them as Arrow IPC pair files (shards.PairSchema: page_url,
// image_url, caption, caption_source, page_lang, fetched_at), or streams them to Config.OnPair.
//
// # Data flow
//
//	seeds (internal/input: txt/csv/tsv/jsonl, .gz) -> urlnorm -> admit -> frontier (pebble)
//	dispatcher: reads frontier items ahead into a window of per-host queues (window.go,
//	            internal/hostq: max(16 x Workers, 1024) items)
//	worker: takes an item whose host has < PerHost pages out -> moves it to in-flight (pebble)
//	worker: host health (down.go): the first page of a host probes it, the others wait for it;
//	        a host that gave no answer fails its pages at once with that reason
//	        -> robots.txt (crawl/robots; Disallow -> "robots", 5xx -> re-queued later, no answer
//	        at all -> the page fails with dns/connection_refused/timeout, Crawl-delay ->
//	        httpx.SetHostDelay capped) -> colly request over the httpx client (SSRF guard at dial
//	        time, per-host concurrency and delay, retries, redirect cap, body cap) -> extract
//	completion: ONE pebble batch per page -> pair file writer (shards.Writer)
//
// colly/v2 does the fetching; its visited set (storage.Storage) and request queue
// (queue.Storage) are implemented on pebble by the store type, so the visited set and the
// frontier live on disk and memory stays flat as the crawl grows. The crawl drives the queue
// with its own dispatcher rather than colly's queue.Queue, which can neither wait for in-flight
// requests when stopped nor be woken reliably when a page adds links to an empty queue.
//
// # Admission
//
// A URL enters the visited set and the frontier once, when it is first seen (a seed, or a link
// of an HTML page that is within MaxDepth hops, in scope, not rel/meta/X-Robots-Tag nofollow,
// and within MaxPages and MaxPagesPerHost, whose counters are pebble keys). Scope is relative
// to the seed's host after its own redirects (www., https): same host, same registered domain
// (public suffix list), or a host glob of AllowHosts. A redirect of a deeper page out of scope
// fails with redirect_out_of_scope; a redirect onto a URL already admitted yields nothing (that
// URL is crawled under its own name).
//
// # Exactly-once resume
//
// Key spaces of the state directory (see store.go): v visited, f frontier, i in flight,
// r delayed (robots 5xx), p pending pairs, d pairs not yet taken by Config.OnPair, F committed
// files, h per-host counts, k counters, o outbox and x forwarded URLs (partitions of a
// distributed crawl).
//
//  1. Pop: a worker takes an item from the dispatcher's window and moves it to the in-flight
//     space (one batch) before fetching it. Items in the window are still frontier keys, so a
//     kill loses none of them.
//  2. Completion: when a page is done (ok or failed), one batch deletes its in-flight key, adds
//     its admitted links to v and f, stores its pairs under the next pending seq in p and moves
//     the counters. Nothing about a page is ever half-recorded.
//  3. Files: the pairs are appended to the open pair file in pending order; a file ends at the
//     first page boundary at or after RowsPerFile rows, so it covers a contiguous range of
//     pending seqs. In shards' BeforeCommit hook (temp file complete and fsynced) one SYNCED batch
//     records "file N committed, covers pending [a, b]" and deletes p[a, b]; then the file is
//     renamed. A pair is thus either pending or in a committed file, never both.
//  4. Start: a file recorded in F whose final name is missing but whose temp file exists is
//     renamed (the process died between the record and the rename); other temp files are
//     deleted — their pairs are still pending and are written again, first, into the next file.
//     With Out on object storage (s3://) the temp file is staged in State/staging and "renamed"
//     means uploaded (storage.MoveIn): the object appears by the upload's final request.
//     Items left in flight go back to the frontier. Seeds are re-read; admitted ones are skipped.
//  5. Cancel (ctx, Ctrl-C): dispatching stops, pages in flight finish (for at most
//     ShutdownGrace; requests cut off by it stay in flight and are fetched next run), the open
//     file is committed and stats.json written.
//
// Completion batches are written without fsync (pebble's WAL is one ordered log, so the synced
// batch of the next file commit makes every earlier one durable); the log is also synced every
// 100 ms. After kill -9 or a power cut the pages in flight at that instant, and pages whose
// unsynced completion had not reached the log (the last 100 ms), are fetched again: their server sees a second request. Their pairs are not duplicated in
// the files: a lost completion never had its pairs in a committed file (file commits are
// ordered after, and sync, the completions they cover). Config.OnPair is called right after the
// completion batch, which also stores the page's pairs under d; the key is deleted when OnPair
// has taken them all. A run that stops before (OnPair failed, kill -9) leaves the key, and the
// next run hands those pairs over first: OnPair can see a page's pairs twice across runs,
// never lose them.
//
// # WARC archive
//
// With Config.WARCOut the crawl also archives what it fetched (warcout.go): the httpx client is
// wrapped in a warc.Recorder, so every exchange — robots.txt, each redirect hop, pages that were
// then refused as not HTML or too large — is written as request and response records (WARC/1.1,
// gzip per record, rotated at WARCFileBytes) when colly closes the response body. The payload is
// what was read, up to MaxBody+1 bytes, marked WARC-Truncated when cut. Files appear under their
// final names when complete; a file left by a killed run is cut after its last complete record
// and published on the next start. WARCOut may be an s3:// URL (warc.StorageOutput): each file
// is written to State/warc-staging and uploaded whole in the background once complete; a staged
// file whose upload a killed run cut off is uploaded on the next start. `wit cc` reads the archive back into the pairs the crawl
// wrote (TestWARCRoundTrip); pages fetched twice (a redirect onto an admitted URL) give their
// pairs twice there.
//
// # Partitions (distributed crawls)
//
// Config.Local makes the crawl one partition of a larger crawl (package dist/stages): seeds of
// hosts it does not own are skipped, and links to them are written to the outbox (o) in the
// page's completion batch, each URL once (x), then handed to Config.Forward and deleted; links
// from Config.Inbox are admitted in a synced batch before the inbox is acked. The crawl is
// finished when the frontier, in-flight set, outbox and inbox are all empty. A partition reads
// its seeds once (a marker in the state), since it is started again whenever links arrive.
//
// # Output
//
// Out/NNNNN.arrow pair files (readers never see partial files) and Out/stats.json (atomic),
// whose counters accumulate over resumed runs: pages ok / failed by reason, robots-blocked,
// noindex pages, pairs by caption source, bytes, duration, pages/s, and the seed rows read
// (seed_rows = seeds_ok + seeds_invalid + seed_bad_rows, counted on every run since seeds are
// re-read). Out/bad-rows.jsonl lists the malformed seed rows the latest run skipped (file,
// line, reason; beside State when pairs are only streamed); Config.BadRows "error" stops the
// crawl at the first instead.
package crawl
