package querylist

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// BuildOptions are the thresholds of MetaCLIP's recipe. Zero values take
// the defaults of DefaultBuildOptions. The yaml keys are those of
// `wit querylist build --config`.
type BuildOptions struct {
	// MinUnigramCount: a corpus word becomes an entry when it occurs at
	// least this often (MetaCLIP: 100 in English Wikipedia).
	MinUnigramCount int `yaml:"min_unigram"`
	// MinBigramPMI: a bigram "a b" becomes an entry when
	// ln(count(a b)·N / (count(a)·count(b))) is at least this (N = tokens
	// counted). MetaCLIP's "PMI ≥ 30" can only be a ratio (a natural-log
	// PMI of 30 is impossible with N ≈ 4·10⁹), so the default is ln 30.
	MinBigramPMI float64 `yaml:"min_pmi"`
	// MinBigramCount: bigrams seen fewer times are not considered (PMI is
	// unreliable for rare pairs).
	MinBigramCount int `yaml:"min_bigram_count"`
	// MinTitleCount: a Wikipedia title becomes an entry when its count is at
	// least this (MetaCLIP: 70 pageviews; from a dump the count is the
	// number of links to the title, see AddWikipediaDump).
	MinTitleCount int `yaml:"min_title_count"`
	// MaxEntries caps the list (MetaCLIP: 500,000).
	MaxEntries int `yaml:"max"`
	// WordNetMode is WordNetLemmas (default) or WordNetSynsets.
	WordNetMode string `yaml:"wordnet_mode"`
	// MaxCountKeys bounds each count table (unigrams, bigrams, titles);
	// beyond it rare keys are pruned (see counter). 0 = default.
	MaxCountKeys int `yaml:"max_count_keys"`
}

// DefaultBuildOptions are MetaCLIP's thresholds, meant for a full English
// Wikipedia; scale the counts down for small corpora.
func DefaultBuildOptions() BuildOptions {
	return BuildOptions{
		MinUnigramCount: 100,
		MinBigramPMI:    math.Log(30),
		MinBigramCount:  100,
		MinTitleCount:   70,
		MaxEntries:      500_000,
		WordNetMode:     WordNetLemmas,
		MaxCountKeys:    10_000_000,
	}
}

func (o BuildOptions) withDefaults() BuildOptions {
	d := DefaultBuildOptions()
	if o.MinUnigramCount <= 0 {
		o.MinUnigramCount = d.MinUnigramCount
	}
	if o.MinBigramPMI == 0 {
		o.MinBigramPMI = d.MinBigramPMI
	}
	if o.MinBigramCount <= 0 {
		o.MinBigramCount = d.MinBigramCount
	}
	if o.MinTitleCount <= 0 {
		o.MinTitleCount = d.MinTitleCount
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = d.MaxEntries
	}
	if o.WordNetMode == "" {
		o.WordNetMode = d.WordNetMode
	}
	if o.MaxCountKeys <= 0 {
		o.MaxCountKeys = d.MaxCountKeys
	}
	return o
}

// Builder collects the sources of a query list. Add sources, then call
// Build. Not safe for concurrent use.
type Builder struct {
	opts     BuildOptions
	wordnet  []string
	unigrams *counter
	bigrams  *counter
	titles   *counter
	tokens   int64
	prev     []byte // previous token (bigram left side)
	pair     []byte // scratch for "a b"
}

// NewBuilder returns an empty builder.
func NewBuilder(opts BuildOptions) *Builder {
	opts = opts.withDefaults()
	return &Builder{
		opts:     opts,
		unigrams: newCounter("unigrams", opts.MaxCountKeys),
		bigrams:  newCounter("bigrams", opts.MaxCountKeys),
		titles:   newCounter("titles", opts.MaxCountKeys),
	}
}

// Options returns the effective options.
func (b *Builder) Options() BuildOptions { return b.opts }

// AddWordNet reads WordNet's data files from dir (see ReadWordNet).
func (b *Builder) AddWordNet(dir string) error {
	lemmas, err := ReadWordNet(dir, b.opts.WordNetMode)
	if err != nil {
		return err
	}
	b.wordnet = append(b.wordnet, lemmas...)
	return nil
}

// AddWordNetLemmas adds WordNet entries directly.
func (b *Builder) AddWordNetLemmas(lemmas []string) { b.wordnet = append(b.wordnet, lemmas...) }

// AddCorpus counts the unigrams and bigrams of plain UTF-8 text (see
// tokenizeLine for the tokenisation). A line longer than 64 MiB or invalid
// UTF-8 is an error.
func (b *Builder) AddCorpus(ctx context.Context, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		if line%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		l := sc.Bytes()
		if !utf8.Valid(l) {
			return fmt.Errorf("line %d: invalid UTF-8", line)
		}
		b.addText(l)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	return nil
}

// addText counts one line (runs never cross lines).
func (b *Builder) addText(line []byte) {
	tokenizeLine(line, b.addToken)
}

func (b *Builder) addToken(tok []byte, joined bool) {
	b.tokens++
	b.unigrams.add(tok)
	if joined {
		b.pair = append(append(append(b.pair[:0], b.prev...), ' '), tok...)
		b.bigrams.add(b.pair)
	}
	b.prev = append(b.prev[:0], tok...)
}

// AddTitles reads "title<TAB>count" lines (e.g. aggregated pageviews);
// underscores in titles become spaces; counts of repeated titles add up.
func (b *Builder) AddTitles(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSuffix(sc.Text(), "\r")
		if l == "" {
			continue
		}
		title, count, ok := strings.Cut(l, "\t")
		if !ok {
			return fmt.Errorf("line %d: want \"title<TAB>count\"", line)
		}
		n, err := strconv.ParseUint(strings.TrimSpace(count), 10, 32)
		if err != nil {
			return fmt.Errorf("line %d: bad count %q", line, count)
		}
		if !utf8.ValidString(title) {
			return fmt.Errorf("line %d: invalid UTF-8", line)
		}
		t := strings.Join(strings.Fields(strings.ReplaceAll(title, "_", " ")), " ")
		if t == "" {
			continue
		}
		b.titles.addN([]byte(t), uint32(n))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	if line == 0 {
		return fmt.Errorf("no titles")
	}
	return nil
}

// DumpStats summarises AddWikipediaDump.
type DumpStats struct {
	Pages, Articles, Redirects int
	TextBytes                  int64
}

// AddWikipediaDump streams a pages-articles dump (bzip2 or plain XML):
// the stripped text of every article (namespace 0, not a redirect) feeds the
// unigram and bigram counts, and every article link [[Target|…]] adds one to
// Target's title count. A dump has no pageviews, so inbound links stand in
// for MetaCLIP's pageview counts; use AddTitles for real pageviews.
func (b *Builder) AddWikipediaDump(ctx context.Context, r io.Reader, progress func(DumpStats)) (DumpStats, error) {
	var st DumpStats
	countLink := func(t string) { b.titles.add([]byte(t)) }
	for page, err := range ReadWikipediaDump(ctx, r) {
		if err != nil {
			return st, err
		}
		st.Pages++
		if page.NS != 0 {
			continue
		}
		if page.Redirect != "" {
			st.Redirects++
			continue
		}
		st.Articles++
		st.TextBytes += int64(len(page.Text))
		text := StripWikitext(page.Text, countLink)
		for line := range strings.Lines(text) {
			b.addText([]byte(line))
		}
		if progress != nil && st.Articles%10000 == 0 {
			progress(st)
		}
	}
	return st, nil
}

// BuildStats describes a built list.
type BuildStats struct {
	Tokens        int64          // corpus tokens counted (N of the PMI)
	DistinctWords int            // distinct unigrams kept in the count table
	Candidates    map[string]int // per source, passing the thresholds (before dedup and cap)
	Added         map[string]int // per source, in the list
	Duplicates    map[string]int // per source, already in the list from an earlier source
	Capped        map[string]int // per source, cut by MaxEntries
	MaxUndercount uint32         // largest count error caused by pruning (0 = exact)
}

// Build returns the list: WordNet lemmas, then unigrams (count descending),
// bigrams (count descending) and titles (count descending), deduplicated
// (an entry keeps the first source that had it) and capped at MaxEntries.
// Ties are broken by text, so the output is deterministic.
func (b *Builder) Build() ([]Entry, BuildStats) {
	st := BuildStats{
		Tokens: b.tokens, DistinctWords: b.unigrams.len(),
		Candidates: map[string]int{}, Added: map[string]int{}, Duplicates: map[string]int{}, Capped: map[string]int{},
		MaxUndercount: max(b.unigrams.lost, b.bigrams.lost, b.titles.lost),
	}
	seen := make(map[string]bool)
	var out []Entry
	add := func(text, source string) {
		if !validEntry(text) {
			return
		}
		st.Candidates[source]++
		switch {
		case seen[text]:
			st.Duplicates[source]++
		case len(out) >= b.opts.MaxEntries:
			st.Capped[source]++
		default:
			seen[text] = true
			out = append(out, Entry{Text: text, Source: source})
			st.Added[source]++
		}
	}
	for _, w := range b.wordnet {
		add(w, SourceWordNet)
	}
	for _, kc := range sortedCounts(b.unigrams, uint32(b.opts.MinUnigramCount)) {
		add(kc.key, SourceUnigram)
	}
	for _, kc := range b.pmiBigrams() {
		add(kc.key, SourceBigram)
	}
	for _, kc := range sortedCounts(b.titles, uint32(b.opts.MinTitleCount)) {
		add(kc.key, SourceTitle)
	}
	return out, st
}

// validEntry rejects what cannot be a line of the list.
func validEntry(s string) bool {
	return s != "" && utf8.ValidString(s) && !strings.ContainsAny(s, "\t\n\r") && strings.TrimSpace(s) != ""
}

type keyCount struct {
	key string
	n   uint32
}

func sortedCounts(c *counter, min uint32) []keyCount {
	var out []keyCount
	c.each(min, func(k string, n uint32) { out = append(out, keyCount{k, n}) })
	sortKeyCounts(out)
	return out
}

func sortKeyCounts(s []keyCount) {
	slices.SortFunc(s, func(a, b keyCount) int {
		if a.n != b.n {
			if a.n > b.n {
				return -1
			}
			return 1
		}
		return strings.Compare(a.key, b.key)
	})
}

// pmiBigrams returns the bigrams passing MinBigramCount and MinBigramPMI.
// A bigram whose word was pruned from the unigram table is skipped.
func (b *Builder) pmiBigrams() []keyCount {
	if b.tokens == 0 {
		return nil
	}
	n := float64(b.tokens)
	var out []keyCount
	b.bigrams.each(uint32(b.opts.MinBigramCount), func(k string, c uint32) {
		left, right, ok := strings.Cut(k, " ")
		if !ok {
			return
		}
		cl, cr := b.unigrams.get(left), b.unigrams.get(right)
		if cl == 0 || cr == 0 {
			return
		}
		if BigramPMI(uint64(c), uint64(cl), uint64(cr), n) >= b.opts.MinBigramPMI {
			out = append(out, keyCount{k, c})
		}
	})
	sortKeyCounts(out)
	return out
}

// BigramPMI is ln(count(ab)·N / (count(a)·count(b))).
func BigramPMI(ab, a, b uint64, n float64) float64 {
	return math.Log(float64(ab) * n / (float64(a) * float64(b)))
}
