// Package filter decides which (image URL, caption) pairs are worth training on, the way CLIP
// and MetaCLIP built their data: clean captions, English, matching a query list, deduplicated
// and balanced per query entry. `wit filter` is a thin command over Run. StageOptions (the
// settings flags and YAML files hold) builds the Stages, for `wit filter` and `wit build` alike.
//
// # Data flow
//
// Run reads record batches (a pairs directory via shards.ReadDir, an .arrow file, or any
// internal/input format turned into utf8 batches) and, per batch:
//
//  1. Stages.Evaluate, in parallel over the rows, cheapest first, stopping at the first failure:
//     Normalize (entities, white space, invalid UTF-8) → TextRules (junk URLs / file names /
//     boilerplate / symbols, then min chars, min words, max chars) → query match
//     (QueryMatcher, e.g. querylist.Matcher) → LanguageFilter.
//  2. In row order: dedup of PairKey(image URL, normalised caption) in pebble (Deduper), the
//     per-entry match counts of the pool, and in online mode the OnlineBalancer.
//  3. Rows are written with shards.Writer into a temp directory beside Out: the input's columns
//     (caption replaced by its normalised form) + matched_queries + language (+ decision and
//     drop_reason with KeepAll). Exact mode writes them to a staging area with the pair key and
//     entry ids; pass 2 (ExactBalancer) reads only the staged survivors and samples them.
//  4. filter-stats.json is written, and the temp directory is renamed to Out. Any error (empty
//     or corrupt input, cancellation) removes the temp directory: no partial output.
//
// Balancing follows MetaCLIP: p = t / max(count, t); a pair is kept when any of its matched
// entries wins its own coin. Coin(seed, pair key, entry id) is a hash, not a shared RNG, so
// output does not depend on row order or parallelism. The online mode keeps about
// t·(1 + ln(N/t)) pairs of an entry with N > t matches instead of t (see OnlineBalancer).
//
// # Language identification
//
// LanguageFilter: a script pre-check (text whose letters are mostly in a script no kept language
// uses is rejected without lingua), for English alone a function-word pre-check (lexical.go),
// a bounded LRU of earlier lingua answers, an n-gram scorer (fastlang.go), then lingua-go v1.4.0
// (high accuracy, preloaded, 20 common web languages, built once per process).
//
// The n-gram scorer is a character Markov model of orders 1 to 4 over lingua's own model files
// (read from lingua's embedded directory), for the candidate languages written in a kept script
// (13 Latin-script languages for English): one open-addressing table keyed by a 64-bit hash of
// the lower-cased n-gram, each slot pointing at one byte per language (-ln p quantised to 1/12
// nat). Scoring is integer arithmetic with no allocation (~10-40 µs per caption against ~1 ms for
// lingua high accuracy). It decides a caption of at least 8 letters, all in kept scripts, when
// the best kept and the best other language differ by at least FastMargin (default 0.2) nats per
// letter; closer calls go to lingua. The table takes 24 MB (13 languages) and is built once per
// process and language set in ~4 s. BenchmarkFastScorer: ~20 µs per caption, no allocation.
//
// Measured with scripts/langid-eval.sh on the gettext catalogues of 13 Debian packages (2,000
// English msgids; up to 400 translated strings for each of 61 locales, 22,713 strings that pass
// the text rules):
//
//	                               recall(en)  precision vs 20-set locales  precision vs all 61
//	default (pre-checks+n-gram+high)  0.890           0.975                    0.803
//	n-gram margin 0.1                 0.891           0.978                    0.806
//	n-gram margin 0.4                 0.892           0.973                    0.784
//	no n-gram scorer                  0.893           0.972                    0.776
//	default, no function words        0.888           0.974                    0.787
//	low accuracy + n-gram scorer      0.847           0.975                    0.818
//
// On the 400 strings of testdata/multilingual.tsv: P 0.953 R 0.902 (without the scorer 0.917 /
// 0.884). Most false positives come from languages outside the candidate set (Tagalog, Irish,
// Estonian, Basque, Romanian, Luganda, Interlingua); at a web-like 40% English mix the ~2%
// false positive rate gives ~0.96 precision. LanguageOptions.FastConfidence adds lingua's low
// accuracy mode as a first pass before high accuracy; it is off by default.
//
// # Throughput (2-core machine shared with other jobs)
//
// BenchmarkFilterVsLingua, 6,000 real captions (40% English: catalogue msgids and emoji names;
// 40% catalogue translations; 20% alt-text junk), each used once (no cache hits), loops
// interleaved in chunks of 100 so machine load hits them alike: whole filter (default query
// list, language without cache, dedup) 14,438 captions/s vs bare lingua DetectLanguageOf
// 1,988/s = 7.3× (without the n-gram scorer 1.9× in the same run; 7.7× in a busier run); lingua
// is asked for 10% of the captions (43% without the scorer), the scorer decides 33%. Peak RSS
// 1.02 GB (lingua's 20 preloaded models ~0.9 GB, the n-gram table 24 MB). Normalize+TextRules ~350k captions/s,
// the pebble dedup ~7 µs CPU per pair.
package filter
