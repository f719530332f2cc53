package filter

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/pemistahl/lingua-go"
)

// DefaultDetectLanguages is the candidate set lingua chooses among: the 20 languages with the
// most web pages. A smaller set is faster and lighter (all 75 languages are ~4x slower and need
// ~2 GB); text in a language outside the set is attributed to the closest candidate, which for
// an English/not-English decision costs little precision (see the package doc for measured P/R).
var DefaultDetectLanguages = []lingua.Language{
	lingua.English, lingua.Spanish, lingua.German, lingua.Japanese, lingua.French, lingua.Russian,
	lingua.Portuguese, lingua.Italian, lingua.Dutch, lingua.Polish, lingua.Turkish, lingua.Persian,
	lingua.Chinese, lingua.Vietnamese, lingua.Indonesian, lingua.Czech, lingua.Korean,
	lingua.Ukrainian, lingua.Arabic, lingua.Swedish,
}

// LanguageOptions configures the language filter.
type LanguageOptions struct {
	Keep        []lingua.Language // languages kept; default English
	Detect      []lingua.Language // candidates lingua chooses among; default DefaultDetectLanguages (Keep is added)
	CacheSize   int               // LRU entries for repeated captions; default 100,000; <0 = no cache
	LowAccuracy bool              // lingua's trigram-only mode for what the pre-checks and n-gram scorer leave: faster, ~4.5 points less recall
	NoLexical   bool              // skip the function-word pre-check (used only when Keep is English alone)
	// FastConfidence > 0 first asks lingua's low accuracy (trigram-only, ~4x cheaper) detector and
	// takes its answer when its top language has at least this confidence; the high accuracy
	// detector decides the rest. 0 = high accuracy for every caption. DefaultFastConfidence is
	// the measured default (see the package doc).
	FastConfidence float64
	// NoFastScorer skips the n-gram scorer (fastlang.go) that settles clear cases before lingua.
	NoFastScorer bool
	// FastMargin is the smallest margin, in nats per letter between the best kept and the best
	// other language, at which the n-gram scorer decides without lingua; 0 = DefaultFastMargin.
	FastMargin float64
	// FastKeepScale and FastDropScale raise the margin for short texts to scale/sqrt(letters)
	// nats per letter (the scorer's per-letter noise shrinks as 1/sqrt(letters)), one for
	// deciding that the text is in a kept language and one for deciding that it is not: with
	// the defaults a 9-letter word is kept at 0.5 and dropped at 0.33, from 57 letters on
	// both are at the FastMargin floor. 0 = the defaults; <0 = FastMargin at every length.
	FastKeepScale, FastDropScale float64
}

// DefaultFastConfidence is the confidence at which the low accuracy detector's answer is taken.
const DefaultFastConfidence = 0.9

// ParseLanguages turns "en,de" / "english,German" into lingua languages. "all" is every language.
func ParseLanguages(list string) ([]lingua.Language, error) {
	var out []lingua.Language
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.EqualFold(f, "all") {
			return lingua.AllLanguages(), nil
		}
		l := lingua.GetLanguageFromIsoCode639_1(lingua.GetIsoCode639_1FromValue(f))
		if l == lingua.Unknown {
			l = lingua.GetLanguageFromIsoCode639_3(lingua.GetIsoCode639_3FromValue(f))
		}
		if l == lingua.Unknown {
			for _, c := range lingua.AllLanguages() {
				if strings.EqualFold(c.String(), f) {
					l = c
				}
			}
		}
		if l == lingua.Unknown {
			return nil, fmt.Errorf("unknown language %q (use ISO 639-1 codes like en,de or names)", f)
		}
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out, nil
}

// LanguageCode is the ISO 639-1 code of l in lower case, "und" for Unknown.
func LanguageCode(l lingua.Language) string {
	if l == lingua.Unknown {
		return "und"
	}
	return strings.ToLower(l.IsoCode639_1().String())
}

// LanguageResult is the outcome of the language stage for one caption.
type LanguageResult struct {
	Language  lingua.Language // Unknown when lingua was not asked or could not decide
	Script    Script          // dominant script
	ByScript  bool            // decided by the script pre-check, lingua not asked
	ByLexical bool            // decided by the function-word pre-check, lingua not asked
	ByFast    bool            // decided by the n-gram scorer (fastlang.go), lingua not asked
	Cached    bool            // answered from the cache
	Keep      bool
}

// Code is the value of the language column: "en", "und" (undecided), or "und-Cyrl" when the
// script pre-check rejected the text without asking lingua.
func (r LanguageResult) Code() string {
	if r.ByScript || (r.ByLexical && !r.Keep) {
		return "und-" + r.Script.String()
	}
	return LanguageCode(r.Language)
}

// LanguageFilter keeps captions in the wanted languages. It is safe for concurrent use.
//
// Steps, cheapest first: (1) the script pre-check: when less than half of the letters belong to
// a script any kept language is written in, the caption is rejected without asking lingua (a
// Cyrillic or CJK caption is not English); (2) when English alone is kept, the function-word
// pre-check (lexical.go) settles clear cases; (3) a bounded LRU of earlier lingua answers keyed
// by a 64-bit hash of the caption (web alt text repeats a lot); (4) for text of at least 8
// letters, all in kept scripts, the n-gram scorer (fastlang.go: lingua's own 1- to 4-gram
// models in one hash table, ~10-40 µs) decides when the best kept and the best other language
// are at least max(FastMargin, scale/sqrt(letters)) nats per letter apart (FastKeepScale to
// keep, FastDropScale to drop): the shorter the text, the clearer the call must be; (5) lingua
// in high accuracy mode (~1 ms)
// decides everything else.
type LanguageFilter struct {
	detector    lingua.LanguageDetector
	keep        [lingua.Unknown + 1]bool
	keepScripts [numScripts]bool
	anyScript   bool
	lexical     bool
	fast        lingua.LanguageDetector
	fastMin     float64
	cache       *lruCache[lingua.Language]

	ngram       *fastModel // nil when off
	ngramKeep   []bool     // per ngram language: kept
	ngramKeepAt []int32    // by letters (the last entry for longer texts): margin to decide "kept", quantised units per letter times fastMarginDiv
	ngramDropAt []int32    // the same to decide "not kept"
	ngramMin    int        // fewest letters the scorer decides on
}

// DefaultFastMargin is the n-gram scorer's decision margin in nats per letter for long texts;
// DefaultFastKeepScale and DefaultFastDropScale raise it for short ones (LanguageOptions);
// calibrated against lingua's own answers on testdata/short-captions.tsv (see the package doc).
const (
	DefaultFastMargin    = 0.2
	DefaultFastKeepScale = 1.5
	DefaultFastDropScale = 1.0
)

// fastMarginTable is long enough that past it the scale term is under any useful floor.
const fastMarginTable = 256

// fastMinLetters: shorter texts go to lingua (its rules and word lists help most there).
const fastMinLetters = 8

// fastMarginDiv keeps the per-letter margin an integer with three decimals: scoring stays
// integer arithmetic, so decisions are identical on every machine.
const fastMarginDiv = 1000

var (
	detectorsMu sync.Mutex
	detectors   = map[string]lingua.LanguageDetector{}
)

// detectorFor builds a preloaded lingua detector once per language set and accuracy: building
// loads and decodes every model, which takes seconds and hundreds of MB.
func detectorFor(langs []lingua.Language, low bool) lingua.LanguageDetector {
	langs = slices.Clone(langs)
	slices.Sort(langs)
	key := fmt.Sprint(langs, low)
	detectorsMu.Lock()
	defer detectorsMu.Unlock()
	if d, ok := detectors[key]; ok {
		return d
	}
	b := lingua.NewLanguageDetectorBuilder().FromLanguages(langs...).WithPreloadedLanguageModels()
	if low {
		b = b.WithLowAccuracyMode()
	}
	d := b.Build()
	detectors[key] = d
	return d
}

// NewLanguageFilter builds the filter (and, once per process, the lingua detector).
func NewLanguageFilter(opts LanguageOptions) (*LanguageFilter, error) {
	keep := opts.Keep
	if len(keep) == 0 {
		keep = []lingua.Language{lingua.English}
	}
	detect := opts.Detect
	if len(detect) == 0 {
		detect = DefaultDetectLanguages
	}
	detect = slices.Clone(detect)
	for _, l := range keep {
		if !slices.Contains(detect, l) {
			detect = append(detect, l)
		}
	}
	if len(detect) < 2 {
		return nil, fmt.Errorf("language filter: lingua needs at least two candidate languages, got %v", detect)
	}
	f := &LanguageFilter{detector: detectorFor(detect, opts.LowAccuracy)}
	if opts.FastConfidence > 0 && !opts.LowAccuracy {
		f.fast, f.fastMin = detectorFor(detect, true), opts.FastConfidence
	}
	for _, l := range keep {
		f.keep[l] = true
		scripts := languageScripts(l)
		if scripts == nil {
			f.anyScript = true
		}
		for _, s := range scripts {
			f.keepScripts[s] = true
		}
	}
	if !opts.NoFastScorer && !f.anyScript {
		// The scorer covers the candidates written in a kept script: the caption reaches it only
		// when all its letters are in those scripts.
		var langs []lingua.Language
		for _, l := range detect {
			for _, s := range languageScripts(l) {
				if f.keepScripts[s] && !slices.Contains(langs, l) {
					langs = append(langs, l)
				}
			}
		}
		m, err := fastModelFor(langs)
		if err != nil {
			return nil, fmt.Errorf("language filter: %w", err)
		}
		margin := opts.FastMargin
		if margin <= 0 {
			margin = DefaultFastMargin
		}
		f.ngram, f.ngramMin = m, fastMinLetters
		f.ngramKeepAt = marginTable(margin, opts.FastKeepScale, DefaultFastKeepScale)
		f.ngramDropAt = marginTable(margin, opts.FastDropScale, DefaultFastDropScale)
		for _, l := range m.langs {
			f.ngramKeep = append(f.ngramKeep, slices.Contains(keep, l))
		}
	}
	f.lexical = !opts.NoLexical && len(keep) == 1 && keep[0] == lingua.English
	size := opts.CacheSize
	if size == 0 {
		size = 100_000
	}
	if size > 0 {
		f.cache = newLRU[lingua.Language](size)
	}
	return f, nil
}

// Detect decides one normalised caption.
func (f *LanguageFilter) Detect(text string) LanguageResult {
	p := ProfileScripts(text)
	res := LanguageResult{Script: p.Dominant()}
	kept := p.Letters
	if !f.anyScript {
		kept = 0
		for s, ok := range f.keepScripts {
			if ok {
				kept += p.Counts[s]
			}
		}
		if kept*2 < p.Letters || p.Letters == 0 {
			res.ByScript = true
			return res
		}
	}
	if f.lexical && res.Script == ScriptLatin {
		switch lexicalEnglish(text) {
		case 1:
			res.ByLexical, res.Language, res.Keep = true, lingua.English, true
			return res
		case -1:
			res.ByLexical = true
			return res
		}
	}
	var key uint64
	if f.cache != nil {
		key = xxhash.Sum64String(text)
		if l, ok := f.cache.Get(key); ok {
			res.Language, res.Cached, res.Keep = l, true, f.keep[l]
			return res
		}
	}
	if f.ngram != nil && kept == p.Letters && p.Letters >= f.ngramMin {
		if l, ok := f.ngramDecide(text); ok {
			res.ByFast, res.Language, res.Keep = true, l, f.keep[l]
			return res
		}
	}
	l := lingua.Unknown
	decided := false
	if f.fast != nil {
		if vals := f.fast.ComputeLanguageConfidenceValues(text); len(vals) > 1 && vals[0].Value() >= f.fastMin && vals[0].Value() > vals[1].Value() {
			l, decided = vals[0].Language(), true
		}
	}
	if !decided {
		l, _ = f.detector.DetectLanguageOf(text)
	}
	if f.cache != nil {
		f.cache.Put(key, l)
	}
	res.Language, res.Keep = l, f.keep[l]
	return res
}

// ngramMarginOf scores text with the n-gram model and returns the best language and the margin
// between the best kept and the best other language, in quantised units per letter times
// fastMarginDiv (positive: a kept language is more likely).
func (f *LanguageFilter) ngramMarginOf(text string) (lingua.Language, int32, int) {
	var buf [64]int32
	sc := f.ngram.score(text, buf[:len(f.ngram.langs)])
	if sc.letters == 0 {
		return lingua.Unknown, 0, 0
	}
	bestKept, bestOther := int32(math.MaxInt32), int32(math.MaxInt32)
	for i, v := range sc.scores {
		if f.ngramKeep[i] {
			bestKept = min(bestKept, v)
		} else {
			bestOther = min(bestOther, v)
		}
	}
	margin := (int64(bestOther) - int64(bestKept)) * fastMarginDiv / int64(sc.letters)
	margin = max(min(margin, math.MaxInt32), math.MinInt32)
	return f.ngram.langs[sc.best], int32(margin), sc.letters
}

// marginTable gives, by letters, the margin the scorer needs: max(floor, scale/sqrt(letters))
// nats per letter in its quantised units (scale 0 = def, <0 = the floor alone).
func marginTable(floor, scale, def float64) []int32 {
	switch {
	case scale == 0:
		scale = def
	case scale < 0:
		scale = 0
	}
	t := make([]int32, fastMarginTable+1)
	for letters := range t {
		need := max(floor, scale/math.Sqrt(float64(max(letters, 1))))
		t[letters] = int32(math.Round(need * fastScale * fastMarginDiv))
	}
	return t
}

// ngramDecide returns the scorer's answer when its margin is clear for a text of that length.
func (f *LanguageFilter) ngramDecide(text string) (lingua.Language, bool) {
	l, margin, letters := f.ngramMarginOf(text)
	if letters < f.ngramMin {
		return lingua.Unknown, false
	}
	i := min(letters, fastMarginTable)
	if margin < f.ngramKeepAt[i] && margin > -f.ngramDropAt[i] {
		return lingua.Unknown, false
	}
	return l, true
}

// CacheStats returns hits and misses of the result cache.
func (f *LanguageFilter) CacheStats() (hits, misses int64) {
	if f.cache == nil {
		return 0, 0
	}
	return f.cache.Stats()
}
