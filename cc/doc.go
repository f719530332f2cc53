// Package cc turns web archives — Common Crawl's WARC and WAT files, or the archive `wit crawl
// --warc-out` keeps — into candidate (image URL, caption) pairs with the crawl's schema
// (shards.PairSchema), so filter, fetch and build take them unchanged. `wit cc` is a thin
// command over Run.
//
// # Data flow
//
//	--in values -> Inputs: files; directories, local or s3:// folders (their *.warc(.gz),
//	               *.wat(.gz)); http(s) and s3:// URLs; *.paths(.gz) lists, entries resolved
//	               against --base (http(s), s3:// or a directory)  -> Input{Name, Index}
//	Run: Workers goroutines, one input each -> ProcessFile:
//	  Opener (local file; http(s) through internal/httpx: SSRF guard, retries; s3:// through
//	          internal/storage: sequential range requests)
//	  -> warc.Reader (streamed; gzip per record; damage counted and skipped)
//	  -> per record, by type (Format auto) or as forced:
//	     response          -> HTTP message parsed (plain ones by httpHead, the rest by net/http:
//	                          chunked, folded; gzip/deflate decoded: a whole gzip payload
//	                          by internal/inflate, the rest streamed) -> 2xx, not
//	                          noindex, HTML -> crawl/extract, the crawler's extractor: <img>,
//	                          srcset, lazy-load, <picture>, <figure>, og:image
//	     metadata + JSON   -> WAT: Envelope.Payload-Metadata.HTTP-Response-Metadata.HTML-Metadata
//	                          Links with path IMG@/src and a non-empty alt (as cc2dataset reads
//	                          them), resolved against the page URL and Head.Base, cleaned and
//	                          normalised like the extractor's; page_lang from the HTML@/lang meta
//	  -> pairs: page_url = the normalised WARC-Target-URI, fetched_at = the record's WARC-Date
//	  -> shards.Writer into a local staging folder (Out/.cc-tmp/NNNNN/; for an s3:// Out on
//	     local disk beside the markers) -> storage.MoveIn: renamed to Out/NNNNN.arrow, or
//	     uploaded whole
//	  -> done marker State/done/NNNNN.json
//
// Every record read is counted under one outcome (Counters.Outcomes: pairs, no_candidates,
// no_links, not_html, http_status, noindex, not_response, other_format, too_large, bad_http,
// bad_json, bad_url, read_error); WAT links by kind; damage (bad gzip members, malformed
// records, truncated files) from the reader. Records marked WARC-Truncated (Common Crawl cuts
// payloads at 1 MiB) are used as far as they go.
//
// # Resume
//
// An input's pairs become visible all at once: its file NNNNN.arrow (NNNNN = its index in the
// expanded input list) is renamed into Out — on object storage uploaded as one object, created
// by the upload's final request, so the store never lists a partial or temporary file — when the
// input has been read to its end, and its done marker State/done/NNNNN.json (input name,
// counters) is written after that. A rerun skips the inputs with a marker and reads the others
// from the start; a file put by a run that died before writing its marker is written again over
// itself. So each input's pairs are in Out exactly once, whatever stopped the last run. The
// index must mean the same input in every run: a marker naming another input stops Run (use a
// new Out for another input list).
//
// The markers need not live beside the pairs, since a missing marker costs only the input's
// rework: for an s3:// Out, State defaults to local disk (DefaultState: a folder named after the
// URL under the user's cache directory), as fetch keeps its journal; a State on the store itself
// (an s3:// --state) lets workers on several machines share one output.
//
// # Memory
//
// Per worker: the reader's two 64 KiB buffers, its input buffer (up to 512 KiB, more while the
// compressed bytes of a long gzip member are kept for rescans after damage; Common Crawl's members
// are small), one record block (at most MaxBody; warc.Record.Block, usually the reader's buffer),
// the extractor's parse tree of one page, and the pair writer's current batch; with object
// storage, an s3:// input's read-ahead window (storage.ReadAhead, 8 MiB) and, while a pair file
// uploads, its part buffers (storage.PartSize, 8 MiB, a few at once).
//
// # Distributing
//
// ProcessFile (one input, its own index) is the unit a distributed worker runs: with Out and
// State on shared object storage, workers given disjoint indexes of the same input list write
// one output; Run over the whole list afterwards skips what they did and writes the stats.
package cc
