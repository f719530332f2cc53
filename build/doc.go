// Package build runs wit's dataset stages as one streaming process: crawl → filter → fetch
// (`wit build`). Nothing waits for a stage to finish: a pair found on a page is filtered at
// once and, if kept, its image is downloaded while the crawl goes on. Memory stays bounded
// whatever the crawl's size, every stage's state is on disk, and a rerun continues.
//
// # Data flow
//
//	crawl.Run (Config.OnPair, called from the crawl's workers)
//	  → filter.Stages.Evaluate in the worker's goroutine: normalisation, text rules, query
//	    match, language (the costly, parallel part)
//	  → bounded channel (256) → one committer goroutine, in arrival order: dedup of (image URL,
//	    normalised caption) on disk, MetaCLIP balancing in online mode (filter.OnlineBalancer:
//	    running counts, persisted in pebble), then ONE synced pebble batch per group of
//	    decisions: the kept items appended to the queue log, the dedup keys and the counters
//	  → the worker's OnPair returns only once its pair is durable
//	  → queue log (pebble, state/queue) → fetch.Run's source: reads the log from its start in
//	    chunks and follows it as it grows; ends when the crawl is over and the log drained
//	  → fetch: downloads, imgproc, sample shards in shards/ (see package fetch)
//
// Back-pressure: when MaxLag kept items wait for the downloader, the committer stops answering,
// so the crawl's workers pause. Channels and chunks are fixed-size; the dedup set, the frontier
// and the backlog live in pebble.
//
// # Resume
//
// fetch numbers its source's items and records in its shard stats which numbers are done; a
// rerun skips them. The crawl's pair order is not reproducible, so the build makes its own
// order durable: the queue log. A rerun reads the log from item 0 (fetch skips what is done,
// then downloads the rest) while the crawl continues from its pebble state. The shard
// directory is bound to the log by its input name ("wit build queue <id>", a random id kept in
// the log), so fetch refuses shards built from another log.
//
// After Ctrl-C every stage stops cleanly: the crawl lets its pages in flight finish, their
// pairs are logged (back-pressure is off then), fetch commits its shards. After kill -9: pages
// whose completion the crawl had not synced are fetched again and their pairs redelivered;
// dedup drops the repeats (they are counted as duplicates). The two stores commit separately,
// so the crawl keeps a completed page's pairs until OnPair has returned for each (its queue
// commit is synced): a process that died in between, or a committer that failed, gets them
// again from the crawl's next run, and dedup drops those the queue already had.
//
// # Output directory
//
//	shards/             fetch's sample shards, stats, manifest.json, sizes.json
//	state/crawl/        the crawl's pebble state (and its stats.json)
//	state/queue/        the kept-item log, dedup keys, filter counters
//	state/balance/      the balancer's running counts
//	pairs/              the crawl's raw pairs (only with KeepPairs)
//	build-stats.json    every stage's stats (Stats), written atomically at the end
//
// # Limits
//
// The crawler and the downloader share one per-host budget: Run makes one httpx client from
// Crawl.PerHost and Crawl.Delay and hands it to both stages (ShareLimitsWith), whose own clients
// then use its per-host limiter and DNS cache. A host serving both pages and images sees at most
// Crawl.PerHost requests in flight and Crawl.Delay between request starts in all, and a
// robots.txt Crawl-delay the crawler applies to a host slows the downloader's requests to it too.
// Fetch.PerHost and Fetch.Delay play no part (DefaultConfig and SetNetwork keep them equal to the
// crawler's); timeouts, retries and body limits stay each stage's own. Balancing is MetaCLIP's online approximation (head entries
// are damped logarithmically, see filter.OnlineBalancer); its counts are flushed every few
// seconds, so a kill -9 forgets the last seconds of counts. Fetch stats in Stats are the last
// run's; the shard directory's per-shard stats hold the totals.
package build
