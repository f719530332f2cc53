// Package inflate decodes DEFLATE and gzip data held whole in memory, into a buffer the caller
// gives, in pure Go. It is the whole-member decoder of the warc reader: Common Crawl ships its
// WARC and WAT files as one gzip member per record, and reading them is, after the HTML
// extractor, the largest cost of `wit cc`. klauspost/compress's streaming decoder, which the
// reader falls back to for every member this package does not take, is built to pull bytes from
// an io.Reader one refill at a time; a member that is already in memory can be decoded in the way
// libdeflate does instead, which takes about half the time (docs/BENCHMARKS.txt).
//
// How a member is decoded: the gzip header is checked, then every block is decoded with a 64-bit
// bit buffer refilled eight bytes at a time, each symbol found with one lookup in an 11-bit
// (literal/length) or 8-bit (distance) table, longer codes in subtables, and matches copied a
// word at a time. Tables are built by doubling (a complete code's short entries repeat every
// 2^length), and the fixed code's tables once per process. The CRC-32 and length in the trailer
// are checked.
//
// Input is hostile (any bytes a WARC file holds), so:
//   - Nothing is written outside out and nothing allocated: a member that would not fit gives
//     ErrOutputFull, and the caller chooses whether a larger buffer is worth it.
//   - Every error is one of three kinds: ErrShortInput (the input ends inside the member: more
//     input may help), ErrOutputFull, or ErrCorrupt (wrapped, with the reason; also a
//     CRC-32 mismatch, and ErrHeaderCRC for a header CRC, which this package does not check).
//   - It accepts exactly what Go's own decoders accept (compress/flate and klauspost/compress,
//     which agree): the same limits on code counts, incomplete codes only as a single code of
//     length 1 or none, no distance before the start of the output, a file name or comment of at
//     most 511 bytes. FuzzSameAsKlauspost holds it to that, both ways, and to the same bytes
//     taken from the input.
//   - Decoding ends: every step takes input bits or fails, and the input is read past its end
//     only as zero bits that are counted and then reported as ErrShortInput.
package inflate
