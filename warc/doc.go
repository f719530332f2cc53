// Package warc reads and writes WARC files (ISO 28500; WARC/1.0 and 1.1): the archive format of
// web crawls, Common Crawl's WARC and WAT files included.
//
// # Reading
//
// Reader streams records from any io.Reader: the header fields are parsed, the block is an
// io.Reader of exactly Content-Length bytes, so memory holds one header, a 64 KiB read buffer
// and, for compressed input, up to 544 KiB of input buffers (the input is read in steps of up to
// 512 KiB), more only while a longer gzip member is retained (up to MaxRewind, see below) — never
// a whole file, nor a whole block unless the caller asks for one: Record.Block returns the block
// as bytes, handing out the read buffer itself when the block is already decompressed there (a
// second read buffer takes its place; no copy). One inflated member is held too (256 KiB, up to
// 4 MiB); a member that fits in the empty read buffer is not copied either: its output buffer
// becomes the read buffer.
//
//	input -> rawReader (buffer; marks the start of the current gzip member)
//	      -> whole-member inflater: internal/inflate, or libdeflate (tag)  [compressed input]
//	      -> line reader: version line, fields -> Record{Header, Offset, Length, Body}
//
// Each gzip member is first tried whole (inflate.go): the buffered input goes to the whole-member
// inflater, which decodes the member in one call, checks its CRC and length and reports how many
// input bytes it took; the member's bytes are then read from memory. The default build's inflater
// is internal/inflate (Go, with an assembly loop on amd64; no cgo): on amd64 about 2.4 times
// klauspost/compress's speed on HTML members and as fast as libdeflate. Built with the tag
// libdeflate (cgo; needs libdeflate's runtime library, Debian libdeflate0, and a C compiler) it is
// libdeflate_gzip_decompress_ex (inflate_libdeflate.go), for architectures where internal/inflate
// runs its Go loop. A member the inflater does not take — over 1 MiB compressed or 4 MiB
// inflated, corrupt, cut off, or with a header CRC — is decoded from its start by the streaming
// path:
//
//	rawReader -> bufio.Reader (klauspost/compress/flate's fast path)
//	          -> klauspost/compress/gzip, one member at a time (Multistream off, reused by Reset)
//
// so every build reads every input alike (same records, counts, skips, errors, and Offset at
// member ends; TestWholeMemberSameAsStreaming, FuzzWholeMemberSameAsStreaming).
//
// Compression is detected from the first bytes. Common Crawl compresses each record as a gzip
// member of its own; whole-file gzip and other member layouts read the same way.
//
// Damage is counted and skipped (Counts, ReaderOptions.OnSkip), never fatal:
//   - A gzip member that fails (bad header, bad deflate data, CRC or length mismatch) loses the
//     record(s) in it. The search for the next member header starts one byte after the bad
//     member's start — not where the broken deflate stream stopped, which may be inside the next
//     member — so every intact member after it is read. A record's last body Read checks its
//     member's CRC first, so a block read to io.EOF is intact.
//   - A record whose header cannot be parsed (no version line, a field without a name, a
//     missing or bad Content-Length, over MaxHeaderBytes) is skipped up to the next "WARC/"
//     version line.
//   - An input that ends inside a member or record ends with an error wrapping ErrTruncated,
//     after every complete record before it. A corrupt member after which no member header
//     follows is counted as bad; one that ends early for lack of input is a truncation.
//   - Errors of the underlying reader (a network failure) are returned as they are.
//
// This is a small own reader rather than github.com/nlnwa/gowarc: what `wit cc` needs is
// control at the gzip-member level (rescan from the bad member's start, CRC checked before a
// body reports io.EOF, truncation told apart from corruption, all counted), in about the size
// of a wrapper around a general-purpose library, and without its dependencies.
//
// # Writing
//
// Writer writes records to a stream (WARC/1.1, gzip per record). Archive adds what a crawler
// needs: files that rotate at MaxFileBytes, each opening with a warcinfo record that every
// record names in WARC-Warcinfo-ID; WriteExchange writes an HTTP request and response as two
// records linked by WARC-Concurrent-To with SHA-1 block and payload digests (base32, as Common
// Crawl writes them). Files go through Output, which NewOutput picks for a location (a path or
// an s3:// URL, see internal/storage): DirOutput writes NAME.tmp-* and renames it when the file
// is complete; StorageOutput writes NAME.tmp-* in a local staging directory the same way and
// uploads it whole when complete (one object, created by the upload's final request; uploads run
// in the background, one at a time). After a crash both cut a leftover temp file after its last
// complete record and publish it, and StorageOutput uploads complete staged files whose upload
// was cut off.
//
// Recorder is an http.RoundTripper that archives every exchange passing through it — what the
// transport wrote and what the server sent — when the caller closes the response body.
package warc
