// Package filter decides which (image URL, caption) pairs are worth training on, the way CLIP
// and MetaCLIP built their data: clean captions, English, matching a query list, deduplicated
// and balanced per query entry. `wit filter` is a thin command over Run. StageOptions (the
// settings flags and YAML files hold) builds the Stages, for `wit filter` and `wit build` alike.
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
//     (QueryMatcher, e.g. querymatch.Matcher) → LanguageFilter.
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
// nat). Scoring is integer arithmetic with no allocation. It decides a caption of at least 8
// letters, all in kept scripts, only when the best kept and the best other language are clearly
// apart: max(FastMargin,
// scale/sqrt(letters)) nats per letter, scale 1.5 to keep and 1.0 to drop (a 9-letter word needs
// 0.5 to keep and 0.33 to drop; from 57 and 25 letters on, the 0.2 floor). Its per-letter noise
// shrinks as 1/sqrt(letters), so a flat margin let short captions be decided on noise; the
// scales were calibrated against lingua's own answers on testdata/short-captions.tsv. Closer
// calls go to lingua. The table takes 24 MB (13 languages) and is built once per process and
// language set.
//
// LanguageOptions.FastConfidence adds lingua's low accuracy mode as a first pass before high
// accuracy; it is off by default. Accuracy (TestLanguageShortCaptions on
// testdata/short-captions.tsv, scripts/langid-eval.sh on Debian .po strings) and throughput
// (BenchmarkFilterVsLingua, BenchmarkFastScorer) are recorded in docs/BENCHMARKS.txt.
package filter
