// Package inflate decodes DEFLATE and gzip data held whole in memory, into a buffer the caller
// gives, without cgo. It is the whole-member decoder of the warc reader: Common Crawl ships its
// WARC and WAT files as one gzip member per record, and reading them is, after the HTML
// extractor, the largest cost of `wit cc`. klauspost/compress's streaming decoder, which the
// reader falls back to for every member this package does not take, is built to pull bytes from
// an io.Reader one refill at a time; a member that is already in memory can be decoded in the way
// libdeflate does instead: about 2.4 times klauspost's speed on HTML members, as fast as
// libdeflate 1.14 on Common Crawl's record members (docs/BENCHMARKS.txt).
//
// How a member is decoded: the gzip header is checked, then every block is decoded with a 64-bit
// bit buffer refilled eight bytes at a time, each symbol found with one lookup in an 11-bit
// (literal/length) or 8-bit (distance) table, longer codes in subtables, and matches copied a
// word at a time; after a literal the next symbol's entry is looked up before the refill. Tables
// are built by doubling (a complete code's short entries repeat every 2^length), from code
// length counts taken as the lengths are read, and the fixed code's tables once per process. The
// CRC-32 and length in the trailer are checked.
//
// The loop over a block's symbols runs in three forms: on amd64 with BMI2 in assembly
// (fast_amd64.s: the Go compiler spills about a third of the loop's values, and the assembly
// keeps all of them in registers), elsewhere and under -tags purego in Go (decodeBlockGo), and
// for the last symbols of the input or of the output in decodeBlockSlow, which checks every read
// and write. TestFastAsmSameAsGo and FuzzFastAsmSameAsGo hold the assembly to the Go loop.
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
