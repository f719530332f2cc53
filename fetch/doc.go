// Package fetch downloads the images of (URL, caption) items into Arrow sample shards: wit's
// equivalent of img2dataset, split the same way into a reader, a downloader, a resizer (package
// imgproc) and a writer with its logger.
//
// Data flow of Run:
//
//	source (iter.Seq2[Item, error]: ReadInput over a file, or the filter stage of wit build)
//	  -> feeder: numbers items in source order (RunPositioned: takes the positions the items
//	     carry, for a distributed fetch's partition of the hosts), drops those an earlier run
//	     finished
//	  -> scheduler: a window of upcoming items per host (internal/hostq); a worker gets an item
//	     only when its host has a free slot, so a run of items from one slow host does not park
//	     every worker
//	  -> Workers downloaders (httpx: per-host concurrency and delay, timeouts, retries with
//	     backoff and Retry-After, byte limit, DNS cache, SSRF guard; or a local file)
//	     headers decide first: status, X-Robots-Tag opt-outs, Content-Length, Content-Type —
//	     a refused body is never read
//	  -> imgproc.Process on at most ProcessWorkers images at once (decode with a pixel limit and a
//	     memory budget, MaxImageMemory, decided from the header; EXIF orientation, alpha on white,
//	     resize, JPEG, sha256, perceptual hash), each journalled in .fetch.processing first
//	     (journal.go): an image that kills the process is failed as "crashed" on resume
//	  -> one writer goroutine: rows into shards.Writer (SampleSchema, SamplesPerShard rows or
//	     MaxShardBytes per file), failures into NNNNN_failed.jsonl, counts by reason
//
// Output directory:
//
//	00000.arrow ...        sample shards (shards.SampleSchema), key = 5-digit shard + 4-digit row
//	00000_stats.json ...   per shard: count, successes, failures by reason, duration, bytes,
//	                       bytes downloaded for its items, and the input positions it accounts
//	                       for (the resume ledger)
//	00000_failed.jsonl ... the items that failed since the previous shard, with reason and error
//	manifest.json          schema version, per-shard counts and bytes, totals (atomic)
//	sizes.json             OpenCLIP's {"00000.arrow": count} (atomic)
//	stats.json             the latest run's Stats
//	bad-rows.jsonl         the malformed input rows the latest run skipped (file, line, reason);
//	                       absent when there were none (Config.BadRows "error" stops instead)
//	fetch.json             the input the directory was made from
//	.fetch.processing      the decodes in progress, while a run lasts or after one died
//
// Resume. Shards are filled in completion order, so every shard but the last of a run is full.
// A shard, its stats record and its failed list become visible together: the two records are
// written and fsynced before the shard's temporary file is renamed into place, and records whose
// shard is missing are removed on startup. A rerun skips every input position named by a visible
// record, so after a kill -9 nothing is written twice and nothing is lost; finished shards are
// never rewritten. The positions must mean the same items on every run, which holds for a file
// input (fetch.json guards against pointing a directory at another input).
//
// Poison images. A decode that the process does not survive (a fatal runtime error, the OOM
// killer) is recognised on resume from the journal: the item, if it was decoded alone, is failed
// as "crashed" without being tried again; if others were decoded with it, they are all decoded
// alone in the next run, so that at most one more crash names it. Memory: at most ProcessWorkers
// decodes of at most MaxImageMemory each, and Workers downloads of at most MaxBytes each.
//
// Local files (paths and file:// URLs) are read only with LocalFiles; otherwise they fail as
// "local_disabled", so that an untrusted list cannot copy the machine's files into shards.
//
// RetryFailed downloads again the items whose latest record is a failure into new shards and
// records the outcome under their original positions, so it can be repeated.
//
// X-Robots-Tag: noai, noimageai, noindex and noimageindex opt an image out when they carry no
// user-agent prefix or one naming this agent (the User-Agent's first product token, "wit-fetch"
// by default) or "*", as img2dataset does; "otherbot: noai" binds only otherbot. Unlike
// img2dataset the decision is made before the body is read.
package fetch
