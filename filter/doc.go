// Package filter decides which (image URL, caption) pairs are worth training on, the way CLIP
// and MetaCLIP built their data: clean captions, English, matching a query list, deduplicated
// and balanced per query entry. `wit filter` is a thin command over Run.
//
// # Data flow
//
// Run reads record batches (a pairs directory via shards.ReadDir, an .arrow file, or any
// internal/input format turned into utf8 batches; malformed rows of the latter are skipped and
// listed in bad-rows.jsonl inside Out, or stop the run with Options.BadRows "error") and, per
// batch:
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
// lingua high accuracy). It decides a caption of at least 8 letters, all in kept scripts, only
// when the best kept and the best other language are clearly apart: max(FastMargin,
// scale/sqrt(letters)) nats per letter, scale 1.5 to keep and 1.0 to drop (a 9-letter word needs
// 0.5 to keep and 0.33 to drop; from 57 and 25 letters on, the 0.2 floor). Its per-letter noise
// shrinks as 1/sqrt(letters), so a flat margin let short captions be decided on noise; the
// scales were calibrated against lingua's own answers on testdata/short-captions.tsv. Closer
// calls go to lingua. The table takes 24 MB (13 languages) and is built once per process and
// language set in ~4 s. BenchmarkFastScorer: ~20 µs per caption, no allocation.
//
// Short captions (TestLanguageShortCaptions, testdata/short-captions.tsv: 11,083 real short
// texts in 158 languages, 2,100 of them English; language stage alone, every string asked):
//
//	                          recall(en)          precision           non-English kept
//	                       1 w   2-3 w  4+ w    1 w   2-3 w  4+ w    1 w   2-3 w  4+ w
//	bare lingua (high)    0.483  0.776  0.960  0.768  0.850  0.840  0.033  0.031  0.046
//	filter, flat margin   0.469  0.780  0.963  0.777  0.861  0.866  0.030  0.028  0.038
//	filter (default)      0.479  0.773  0.961  0.781  0.871  0.868  0.030  0.026  0.037
//
// Lingua itself keeps only half of the English single words here (UI words such as "Mode",
// "Cancel", country names, "cat" and "dog" read as Italian); the filter stays within a point of
// it on 1-3 words and keeps fewer non-English strings (174 against 198).
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
// list, language without cache, dedup) against bare lingua DetectLanguageOf. With the catalogues
// of scripts/langid-eval.sh's short-caption cache: 4.4-4.7× (lingua asked for 17.9% of the
// captions, the scorer decides 22.1%); with the flat 0.2 margin it was 6.0-7.0× (lingua 11.2%,
// scorer 28.8%), the price of deciding short captions only when it is safe. Peak RSS ~1.1 GB
// (lingua's 20 preloaded models ~0.9 GB, the n-gram table 24 MB). Normalize+TextRules ~350k
// captions/s, the pebble dedup ~7 µs CPU per pair.
package filter
