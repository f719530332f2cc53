// Package querymatch answers, for each caption, which entries of a query
// list (MetaCLIP's "metadata": some 500k words and phrases) occur in it.
// The filter asks this of every caption of a crawl, to keep the captions
// that describe something and to count them per entry for balancing, so
// it is built for speed: a few hundred nanoseconds a caption on a 500k
// list, no allocation. The lists themselves are built by package querylist.
//
// # Use
//
//	m, err := querymatch.LoadFile("queries.txt.gz", querymatch.Options{})
//	// or querymatch.Default(opts): the list embedded in the binary
//	if err != nil {
//		return err
//	}
//	ids := m.MatchIDs(caption, ids[:0]) // entry ids, in order of first occurrence
//	for _, id := range ids {
//		fmt.Println(m.Entry(id), m.Source(id))
//	}
//
// A Matcher is immutable and shared by all the filter's workers. A list is
// "entry[\tsource]" lines (gzip when the name ends in .gz). Default is the
// list embedded in the binary (default.txt.gz, which `--queries default`
// selects): 205,544 entries (148,730 WordNet lemmas, 21,213 unigrams,
// 35,601 PMI bigrams) that scripts/build-querylist.sh builds with
// querylist from WordNet and three English corpora.
//
// # What matches
//
// MetaCLIP's substring matching: the text is spaced around , . ; : ? ! `
// (SpacedPunctuation; tab, CR and LF become spaces) and an entry matches
// when " entry " is a substring of the spaced text, i.e. as whole words,
// case-sensitive unless Options.FoldCase (Unicode simple case folding).
// Quotes and brackets are not spaced (as in MetaCLIP), so "dog" does not
// match `"dog"` or "(dog)". One deviation: entries are spaced like the
// text when loaded, so an entry with inner punctuation ("U.S.", "Dr. Who")
// matches the same text written that way; in MetaCLIP's code such entries
// never match. Tests compare the matcher with a direct implementation of
// the substring definition (metaclipMatch), and FuzzMatch on random texts.
//
// # Data flow
//
// New turns the list into look-up tables (build.go). Each entry is spaced
// and folded into a key; the keys and their word-prefixes form a trie of
// words. Every key gets an id (an entry's own id when it is an entry, so a
// match needs no further look-up), and goes into one of two
// open-addressing tables, both filled at most 1/3 so that few look-ups
// probe past their home slot:
//
//   - words: one 32-byte slot per distinct word (its first 24 bytes inline,
//     compared exactly), found by a hash of the word. The words that are in
//     most keys are inserted first, so that the words captions are full of
//     ("the", "of", "a") sit in their home slots.
//   - grams: one 16-byte slot per key of two or more words, keyed by (id of
//     the key without its last word, id of the last word) and compared as
//     one 64-bit integer, behind a Bloom filter of these keys small enough
//     for the L2 cache (6 bits a key or more, 4 bits set per key): most
//     word pairs of a caption are not keys, and the filter rejects them
//     without touching the large table.
//
// A hash collision costs a probe, never a false match. Tables of 512 KB or
// more get their own 2 MB huge pages on Linux (table_linux.go): look-ups
// land on random pages, and with 4 KiB pages they also miss the TLB.
//
// MatchIDs cuts the caption into tokens at single spaces, as the substring
// test sees it, and looks up every token n-gram that is a word-prefix of
// some key, in passes over all the tokens (match):
//
//  1. tokenize finds the separator bytes 16 (SSE2) or 32 (AVX2) at a time,
//     hashes each token from its length, first 16 and (past 16 bytes) last
//     8 bytes without a loop, and prefetches its home slot in words;
//  2. resolveWords compares each token with its home slot; a long word or
//     a probe past the home slot goes to resolveSlow;
//  3. pairs writes the one-word matches, and each pair of adjacent words
//     that the Bloom filter lets through as a candidate key;
//  4. resolveGrams looks up one level of candidates (keys of two, three,
//     ... words) per call, all the level's loads issued before any is
//     used, and makes the next level from the keys that go on;
//  5. report orders the matches by start word, then length, drops repeats
//     (a 256-bit seen set) and expands keys shared by several entries.
//
// Why passes: the cache misses of independent look-ups then overlap
// instead of queuing up. Inside each pass nothing calls a function (a call
// spills every register) and the data-dependent decisions are computed,
// not branched on: every record is written and its counter advanced by 0
// or 1, so mispredicted branches do not dominate. On amd64 the passes are
// assembly (passes_amd64.s), because the compiler kept spilling and
// reloading their state; the Go versions (tokenizeGo, resolveWordsGo,
// pairsGo, resolveGramsGo, reportGo) run on other architectures and with
// -tags purego, and TestAsmPasses, TestAsmReport and FuzzPasses compare the
// two record by record (TestAsmLayout checks the record offsets the
// assembly uses).
//
// Padding: the passes read whole words, a token's first 16 bytes as two
// unconditional 8-byte loads and the separators of the text's last bytes
// with whole 16- or 32-byte loads, so textPad (64) readable bytes must
// follow the text. MatchIDs copies the text (folded with FoldCase) into a
// pooled buffer followed by 64 zero bytes, which the Go passes need. The
// assembly passes only need the bytes readable, and ignore what they hold:
// a case-sensitive text whose next 64 bytes lie on the same memory page
// (readableAfter) is matched where it is, without a copy, as Go's own
// assembly reads past short strings within a page (TestMatchUnpadded puts
// texts at every distance from a page end).
//
// Memory: matching takes about 140 bytes of pooled working memory a byte
// of text. A text longer than 16 KiB is matched in overlapping windows
// (matchLong) with the same answer, so a hostile caption of many MB needs
// little more than its own size (TestMatchLong, TestMatchLongMemory).
//
// Measurements of these choices, and what was tried and dropped, are in
// docs/BENCHMARKS.txt.
package querymatch
