// Package view shows a dataset in the browser: `wit view DIR [--checkpoint RUN]`. It serves a
// folder of Arrow files — image shards (fetch, build) or pair files without images (crawl,
// filter) — as a sample grid with filters, a page per sample, a stats page with charts, and, with
// a trained checkpoint, CLIP search. One binary, no build chain: net/http, html/template, the
// templates, CSS and one small script embedded with go:embed, charts drawn by gonum/plot as SVG.
//
// # Data flow
//
//	DIR/NNNNN.arrow ─ Open: one pass (buildIndex), or the cache when every file has the same
//	                  name, size and modification time as when it was indexed
//	    index: per file its batches' row offsets (row r → file, batch, row), every row's key
//	           (the key column, or file number + row for pairs) and pHash, and ScanStats
//	           (caption lengths, image sizes, languages, caption sources, matched-query counts)
//	    DIR/.wit-view/index-v1.gob (atomic; DIR read-only: the user's cache folder)
//	DIR's stats files (NNNNN_stats.json, stats.json, filter-stats.json, ../build-stats.json)
//	    ─ readStageStats: fetch failures by reason, crawl outcomes, filter drops, the balancing t
//	requests ─ Server ─ Dataset.Page / Detail / Image / NearDuplicates
//	    record batches read on demand (shards.File.Batch) through batchCache (LRU, byte budget,
//	    one read per batch however many thumbnails ask for it at once)
//	--checkpoint ─ NewSearch: EmbedImages over every row in dataset order, in the background
//	    (searches use the rows done so far), unit vectors in one Rows×Dim matrix
//	    DIR/.wit-view/embeddings-ID.f32 + .json (ID names the checkpoint by its files' names,
//	    sizes and times; the JSON names the shards, the rows done and the data's xxhash), written
//	    when done, every 5 minutes and when stopped: the next start continues from there
//	    Text: EmbedTexts → topK; Like: row's vector → topK (exact scan, one range per CPU)
//
// Memory: the index (about 25 bytes a row: key, pHash, offsets), the batch cache (256 MiB by
// default), and with search the embeddings (4·Dim bytes a row). No request loads the dataset.
//
// # Safety
//
// The server only reads. It answers GET and HEAD; samples are named by key and looked up in the
// index, never used as paths; static files come from the embedded folder. Every request's work is
// bounded: page size, a scan budget (rows and time) after which a filtered page ends early with a
// link to continue, result counts, parameter lengths, a request timeout, and the http.Server's
// read/write timeouts. Pages carry a Content-Security-Policy that allows nothing from elsewhere
// (a dataset's image URLs are never loaded by the browser; its page URLs become links only when
// they are http(s)). Serve refuses requests whose Host is not a loopback name when it listens on
// loopback (DNS rebinding), and wit view listens on 127.0.0.1 unless --listen says otherwise.
package view
