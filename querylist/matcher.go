package querylist

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// MatchOptions controls how text is compared with entries.
type MatchOptions struct {
	// FoldCase compares text and entries after Unicode simple case folding
	// (every rune mapped to the lower-case form of its case-folding orbit), so
	// "Paris", "PARIS" and "paris" match each other. MetaCLIP is case-sensitive,
	// which is the default.
	FoldCase bool
}

// Matcher finds the entries of a query list that occur in a text with
// MetaCLIP's substring semantics: the text is padded and spaced around
// , . ; : ? ! and ` (tab, CR and LF become spaces) and an entry matches when
// " entry " is a substring of the spaced text, i.e. as whole space-separated
// words.
//
// Instead of one substring scan per entry, the spaced text is cut at single
// spaces into tokens (empty tokens for runs of spaces, exactly as the
// substring test sees them) and every token n-gram that is a word-prefix of
// some entry is looked up in an open-addressing hash table; this gives the
// same answers as the 500k substring scans.
//
// Entries are spaced the same way as the text when loaded, so "U.S." is
// stored as "U . S ." and matches the text "U.S.". (In MetaCLIP's code such
// entries can never match because only the text is spaced.)
//
// A Matcher is immutable and safe for concurrent use.
type Matcher struct {
	opts     MatchOptions
	entries  []string // as loaded (before spacing/folding), indexed by entry id
	sources  []string // source per entry id ("" when the list had none)
	maxWords int

	// Every key (a spaced, folded entry or one of its word-prefixes) has an
	// id: the first entry id for a key that is an entry (so a match needs no
	// further look-up), len(entries)+n otherwise. Every distinct word of the
	// keys is a one-word key and has an id too.
	//
	// words maps a token to its word slot (word bytes inline, compared
	// exactly); grams maps (id of the key of words i..j-1, id of word j) to
	// the key of words i..j, compared exactly as a 64-bit integer. A hash
	// collision thus costs a probe, never a false match. Both are
	// open-addressing tables with linear probing, indexed by the top bits of
	// a seeded multiplicative hash.
	words     []wordSlot
	wordShift uint8
	grams     []gramSlot
	gramShift uint8
	seed      uint64   // random per matcher: crafted texts cannot target collisions
	longWords string   // bytes of words longer than wordInline, at wordSlot.b[2]
	dupNext   []int32  // next entry id with the same key (metaDup), -1 at the end
	emptyWord wordSlot // the empty token's slot (runs of spaces), meta 0 if none
}

// wordSlot is one word of the keys, 32 bytes so a slot never straddles a
// cache line: one miss per token.
type wordSlot struct {
	b    [3]uint64 // word bytes, little-endian, zero-padded; words > 24 bytes: b[2] = offset in longWords
	id   uint32
	meta uint32 // metaUsed | flags | length
}

// gramSlot is a key of two or more words.
type gramSlot struct {
	key  uint64 // id of the key without its last word << 32 | id of the last word
	id   uint32
	meta uint32 // metaUsed | flags
}

const (
	metaUsed   = 1 << 31 // slot holds a key
	metaEntry  = 1 << 30 // the key is an entry: id is its (first) entry id
	metaPrefix = 1 << 29 // key + " " + more words is a key
	metaDup    = 1 << 28 // several entries have this key: follow dupNext
	metaLen    = 1<<24 - 1

	wordInline = 24 // longest word stored inline in a wordSlot
	noWord     = ^uint32(0)
)

// spaceBytes are the characters MetaCLIP surrounds with spaces.
const spaceBytes = ",.;:?!`"

// byteClass for the spacing pass.
const (
	clsCopy  = iota
	clsWrap  // surround with spaces
	clsSpace // becomes a space
	clsUpper // ASCII upper case (folded when FoldCase)
	clsMulti // first byte of a multi-byte UTF-8 sequence (folded when FoldCase)
)

var byteClass = func() (t [256]uint8) {
	for _, c := range []byte(spaceBytes) {
		t[c] = clsWrap
	}
	t['\t'], t['\n'], t['\r'] = clsSpace, clsSpace, clsSpace
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = clsUpper
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = clsMulti
	}
	return t
}()

// appendSpaced appends text spaced the MetaCLIP way (without the outer
// padding, which only adds empty tokens) to dst, folding case when asked.
func appendSpaced(dst []byte, text string, fold bool) []byte {
	for i := 0; i < len(text); {
		c := text[i]
		switch byteClass[c] {
		case clsCopy:
			// Copy the whole run of plain bytes at once.
			j := i + 1
			for j < len(text) && byteClass[text[j]] == clsCopy {
				j++
			}
			dst = append(dst, text[i:j]...)
			i = j
		case clsWrap:
			dst = append(dst, ' ', c, ' ')
			i++
		case clsSpace:
			dst = append(dst, ' ')
			i++
		case clsUpper:
			if fold {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
		default: // clsMulti
			if !fold {
				dst = append(dst, c)
				i++
				continue
			}
			r, size := utf8.DecodeRuneInString(text[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, c) // keep invalid bytes as they are
				i++
				continue
			}
			dst = utf8.AppendRune(dst, foldRune(r))
			i += size
		}
	}
	return dst
}

// foldRune maps r to the lower-case form of the smallest rune of its simple
// case-folding orbit, so that all case variants (including ones like the
// Kelvin sign K or the long s ſ) share one form. ASCII letters map to lower
// case, consistent with the ASCII fast path.
func foldRune(r rune) rune {
	lowest := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < lowest {
			lowest = f
		}
	}
	return unicode.ToLower(lowest)
}

// spaceEntry spaces (and folds) an entry exactly like text and trims the
// outer spaces; "" means the entry can never match.
func spaceEntry(e string, fold bool) string {
	if unchanged(e, fold) {
		return strings.Trim(e, " ")
	}
	b := appendSpaced(nil, e, fold)
	return string(bytes.Trim(b, " "))
}

// unchanged reports whether spacing (and folding) leaves e as it is.
func unchanged(e string, fold bool) bool {
	for i := 0; i < len(e); i++ {
		switch byteClass[e[i]] {
		case clsCopy:
		case clsUpper, clsMulti:
			if fold {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// sepClass classifies text bytes for tokenizing: MetaCLIP's spaced text cut
// at single spaces is the text cut at separators, each punctuation byte of
// spaceBytes being a separator, a one-byte token and a separator.
const (
	sepNone  = iota // part of a token
	sepSpace        // ' ', '\t', '\n', '\r'
	sepPunct        // , . ; : ? ! `
)

var sepClass = func() (t [256]uint8) {
	t[' '], t['\t'], t['\n'], t['\r'] = sepSpace, sepSpace, sepSpace, sepSpace
	for _, c := range []byte(spaceBytes) {
		t[c] = sepPunct
	}
	return t
}()

// token is a token of the text being matched.
type token struct {
	start, n int32
	slot     uint32 // home slot in Matcher.words
	id       uint32 // word id, noWord when no key has this word
	meta     uint32 // of the word's slot
}

// gramCand is a key of two or more words that may occur in the text.
type gramCand struct {
	key  uint64 // as in gramSlot
	pos  int32  // token where the key starts
	last int32  // token of the key's last word
	slot uint32 // home slot in Matcher.grams
}

// matchScratch is per-call working memory, pooled so matching does not
// allocate.
type matchScratch struct {
	toks  []token
	cands []gramCand
	pos   []int32 // start token of each match, aligned with dst[base:]
	touch uint32  // sink of the early slot loads
}

var scratchPool = sync.Pool{New: func() any { return new(matchScratch) }}

// MatchIDs appends to dst the ids of the entries that occur in text, each
// once, in order of first occurrence (start word, then length). With a dst of
// sufficient capacity it does not allocate (texts longer than about 1 KB may
// with FoldCase).
func (m *Matcher) MatchIDs(text string, dst []int32) []int32 {
	if m.opts.FoldCase && needsFold(text) {
		var buf [1024]byte
		b := appendFolded(buf[:0], text)
		text = unsafe.String(unsafe.SliceData(b), len(b))
	}
	sc := scratchPool.Get().(*matchScratch)
	dst = m.match(text, dst, sc)
	scratchPool.Put(sc)
	return dst
}

// match does the work in passes so that the cache misses of independent
// look-ups overlap instead of queuing up: (1) cut the text into tokens and
// load each token's home slot, (2) resolve the words, (3) look up the keys of
// two, three, ... words level by level, each level's loads issued while the
// previous level is resolved.
func (m *Matcher) match(s string, dst []int32, sc *matchScratch) []int32 {
	words, grams := m.words, m.grams
	if len(words) == 0 || len(grams) == 0 {
		return dst // not built by NewMatcher
	}
	wmask, gmask := uint32(len(words)-1), uint32(len(grams)-1)
	wshift, gshift := m.wordShift, m.gramShift
	seed := m.seed
	touch := sc.touch

	// Pass 1: tokens, hashes, early loads.
	toks := sc.toks[:0]
	start := 0
	for i := 0; i <= len(s); i++ {
		cls := uint8(sepSpace)
		if i < len(s) {
			if cls = sepClass[s[i]]; cls == sepNone {
				continue
			}
		}
		tk := token{start: int32(start), n: int32(i - start)}
		if tk.n > 0 {
			tk.slot = uint32(wordHash(seed, s, start, i-start) >> wshift)
			touch += words[tk.slot&wmask].meta
		}
		toks = append(toks, tk)
		if cls == sepPunct {
			tk = token{start: int32(i), n: 1}
			tk.slot = uint32(wordHash(seed, s, i, 1) >> wshift)
			touch += words[tk.slot&wmask].meta
			toks = append(toks, tk)
		}
		start = i + 1
	}

	// Pass 2: which tokens are words of some key.
	for t := range toks {
		tk := &toks[t]
		if tk.n == 0 {
			tk.id, tk.meta = noWord, 0
			if m.emptyWord.meta != 0 {
				tk.id, tk.meta = m.emptyWord.id, m.emptyWord.meta
			}
			continue
		}
		tk.id, tk.meta = noWord, 0
		for j := tk.slot; ; j = (j + 1) & wmask {
			w := &words[j&wmask]
			if w.meta == 0 {
				break
			}
			if w.meta&metaLen == uint32(tk.n) && m.wordEqual(w, s, int(tk.start), int(tk.n)) {
				tk.id, tk.meta = w.id, w.meta
				break
			}
		}
	}

	// One-word keys, and the two-word candidates.
	base := len(dst)
	pos := sc.pos[:0]
	cands := sc.cands[:0]
	for t := range toks {
		meta := toks[t].meta
		if meta&metaEntry != 0 {
			dst, pos = m.report(dst, pos, base, toks[t].id, meta, int32(t))
		}
		if meta&metaPrefix != 0 && t+1 < len(toks) && toks[t+1].id != noWord {
			key := uint64(toks[t].id)<<32 | uint64(toks[t+1].id)
			slot := uint32(gramHash(seed, key) >> gshift)
			touch += grams[slot&gmask].meta
			cands = append(cands, gramCand{key: key, pos: int32(t), last: int32(t + 1), slot: slot})
		}
	}

	// Longer keys, one word more per level.
	for len(cands) > 0 {
		k := 0
		for c := range cands {
			cd := cands[c]
			var g *gramSlot
			for j := cd.slot; ; j = (j + 1) & gmask {
				g = &grams[j&gmask]
				if g.meta == 0 || g.key == cd.key {
					break
				}
			}
			if g.meta == 0 {
				continue
			}
			if g.meta&metaEntry != 0 {
				dst, pos = m.report(dst, pos, base, g.id, g.meta, cd.pos)
			}
			next := int(cd.last) + 1
			if g.meta&metaPrefix != 0 && next < len(toks) && toks[next].id != noWord {
				key := uint64(g.id)<<32 | uint64(toks[next].id)
				slot := uint32(gramHash(seed, key) >> gshift)
				touch += grams[slot&gmask].meta
				cands[k] = gramCand{key: key, pos: cd.pos, last: int32(next), slot: slot}
				k++
			}
		}
		cands = cands[:k]
	}

	// Levels came one after the other: order by start token (stable, so a
	// shorter key stays before a longer one at the same start).
	found := dst[base:]
	for i := 1; i < len(found); i++ {
		p, id := pos[i], found[i]
		j := i
		for ; j > 0 && pos[j-1] > p; j-- {
			pos[j], found[j] = pos[j-1], found[j-1]
		}
		pos[j], found[j] = p, id
	}

	sc.toks, sc.cands, sc.pos, sc.touch = toks, cands, pos, touch
	return dst
}

// report appends the entry id (and the ids of entries with the same key)
// unless already found, with p, the token where the match starts.
func (m *Matcher) report(dst []int32, pos []int32, base int, id, meta uint32, p int32) ([]int32, []int32) {
	for {
		n := len(dst)
		dst = appendUnique(dst, base, int32(id))
		if len(dst) > n {
			pos = append(pos, p)
		}
		if meta&metaDup == 0 {
			return dst, pos
		}
		next := m.dupNext[id]
		if next < 0 {
			return dst, pos
		}
		id = uint32(next)
	}
}

func appendUnique(dst []int32, base int, id int32) []int32 {
	for _, d := range dst[base:] {
		if d == id {
			return dst
		}
	}
	return append(dst, id)
}

// wordEqual reports whether slot w holds s[i:i+n] (n == its length).
func (m *Matcher) wordEqual(w *wordSlot, s string, i, n int) bool {
	switch {
	case n <= 8:
		return w.b[0] == loadN(s, i, n)
	case n <= 16:
		return w.b[0] == load8(s, i) && w.b[1] == loadN(s, i+8, n-8)
	case n <= wordInline:
		return w.b[0] == load8(s, i) && w.b[1] == load8(s, i+8) && w.b[2] == loadN(s, i+16, n-16)
	default:
		off := int(w.b[2])
		return m.longWords[off:off+n] == s[i:i+n]
	}
}

// load8 is s[i:i+8] as a little-endian integer (one load).
func load8(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// loadN is s[i:i+n], n <= 8, as a little-endian integer, zero-padded.
func loadN(s string, i, n int) uint64 {
	if i+8 <= len(s) {
		return load8(s, i) & (^uint64(0) >> (64 - 8*uint(n)) & -uint64(min(n, 1)))
	}
	var v uint64
	for k := n - 1; k >= 0; k-- {
		v = v<<8 | uint64(s[i+k])
	}
	return v
}

const (
	hashM1 = 0x9E3779B97F4A7C15
	hashM2 = 0xBF58476D1CE4E5B9
)

// wordHash hashes s[i:i+n] 8 bytes at a time (multiply–rotate, seeded);
// the table index is taken from the top bits. Words are short, where this
// beats hash/maphash's call overhead.
func wordHash(seed uint64, s string, i, n int) uint64 {
	h := seed ^ uint64(n)*hashM2
	for ; n > 8; n -= 8 {
		h = bits.RotateLeft64((h^load8(s, i))*hashM1, 29)
		i += 8
	}
	return (h ^ loadN(s, i, n)) * hashM1
}

// gramHash hashes a gramSlot key; the table index is taken from the top bits.
func gramHash(seed uint64, key uint64) uint64 {
	h := (key ^ seed) * hashM1
	return h ^ h<<29 // low bits of the ids also reach the top
}

// needsFold reports whether text has bytes that case folding may change.
func needsFold(text string) bool {
	for i := 0; i < len(text); i++ {
		if c := byteClass[text[i]]; c == clsUpper || c == clsMulti {
			return true
		}
	}
	return false
}

// appendFolded appends text case-folded like appendSpaced, without spacing.
func appendFolded(dst []byte, text string) []byte {
	for i := 0; i < len(text); {
		c := text[i]
		switch byteClass[c] {
		case clsUpper:
			dst = append(dst, c+'a'-'A')
			i++
		case clsMulti:
			r, size := utf8.DecodeRuneInString(text[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, c) // keep invalid bytes as they are
				i++
				continue
			}
			dst = utf8.AppendRune(dst, foldRune(r))
			i += size
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}

// Match appends to dst the entries (as loaded) that occur in text, each once.
func (m *Matcher) Match(text string, dst []string) []string {
	var idBuf [64]int32
	for _, id := range m.MatchIDs(text, idBuf[:0]) {
		dst = append(dst, m.entries[id])
	}
	return dst
}

// Len is the number of entries (ids are 0..Len()-1).
func (m *Matcher) Len() int { return len(m.entries) }

// Entry returns the entry with the given id, as it was loaded.
func (m *Matcher) Entry(id int32) string { return m.entries[id] }

// Source returns the source column of the entry ("" if the list had none).
func (m *Matcher) Source(id int32) string { return m.sources[id] }

// MaxWords is the largest number of space-separated tokens of an entry after
// spacing.
func (m *Matcher) MaxWords() int { return m.maxWords }

// Options returns the options the matcher was built with.
func (m *Matcher) Options() MatchOptions { return m.opts }

// NewMatcher builds a matcher for the given entries. sources may be nil or
// aligned with entries. Entries that cannot match anything after spacing
// (empty or only spaces) keep their id but are not indexed.
func NewMatcher(entries, sources []string, opts MatchOptions) (*Matcher, error) {
	if len(entries) == 0 {
		return nil, errors.New("querylist: no entries")
	}
	if sources != nil && len(sources) != len(entries) {
		return nil, fmt.Errorf("querylist: %d sources for %d entries", len(sources), len(entries))
	}
	if len(entries) >= 1<<30 {
		return nil, fmt.Errorf("querylist: too many entries (%d)", len(entries))
	}
	m := &Matcher{opts: opts, entries: entries, sources: sources, seed: rand.Uint64()}
	if m.sources == nil {
		m.sources = make([]string, len(entries))
	}
	// The keys form a trie: a node per key, child = parent + one word.
	type node struct {
		parent      int32 // node of the key without its last word, -1 for one word
		word        int32 // index of the last word in wordList
		flags       uint32
		first, last int32 // entry ids with this key (chained by dupNext)
	}
	var (
		nodes    []node
		wordList []string
		wordNode []int32 // one-word key node of each word
		wordIdx  = make(map[string]int32, len(entries))
		gramIdx  = make(map[uint64]int32, len(entries))
	)
	m.dupNext = make([]int32, len(entries))
	for id, e := range entries {
		m.dupNext[id] = -1
		k := spaceEntry(e, opts.FoldCase)
		if k == "" {
			continue
		}
		cur := int32(-1)
		nWords := 0
		for rest := k; ; {
			w, tail, more := strings.Cut(rest, " ")
			nWords++
			wi, ok := wordIdx[w]
			if !ok {
				if len(w) > metaLen {
					return nil, fmt.Errorf("querylist: entry %d has a word of %d bytes", id, len(w))
				}
				wi = int32(len(wordList))
				wordIdx[w] = wi
				wordList = append(wordList, w)
				wordNode = append(wordNode, int32(len(nodes)))
				nodes = append(nodes, node{parent: -1, word: wi, first: -1, last: -1})
			}
			if cur < 0 {
				cur = wordNode[wi]
			} else {
				nodes[cur].flags |= metaPrefix
				gk := uint64(cur)<<32 | uint64(wi)
				child, ok := gramIdx[gk]
				if !ok {
					child = int32(len(nodes))
					gramIdx[gk] = child
					nodes = append(nodes, node{parent: cur, word: wi, first: -1, last: -1})
				}
				cur = child
			}
			if !more {
				break
			}
			rest = tail
		}
		m.maxWords = max(m.maxWords, nWords)
		nd := &nodes[cur]
		if nd.first < 0 {
			nd.flags |= metaEntry
			nd.first, nd.last = int32(id), int32(id)
		} else {
			nd.flags |= metaDup
			m.dupNext[nd.last] = int32(id)
			nd.last = int32(id)
		}
	}
	if len(nodes) == 0 {
		return nil, errors.New("querylist: no entry has a word")
	}
	if uint64(len(entries))+uint64(len(nodes)) >= uint64(noWord) {
		return nil, errors.New("querylist: list too large")
	}
	// Ids: an entry's key has the entry id, other keys come after.
	ids := make([]uint32, len(nodes))
	next := uint32(len(entries))
	for i := range nodes {
		if nodes[i].flags&metaEntry != 0 {
			ids[i] = uint32(nodes[i].first)
		} else {
			ids[i] = next
			next++
		}
	}

	// Word table.
	m.words, m.wordShift = makeTable[wordSlot](len(wordList))
	wmask := uint32(len(m.words) - 1)
	var long strings.Builder
	for wi, w := range wordList {
		nd := nodes[wordNode[wi]]
		slot := wordSlot{id: ids[wordNode[wi]], meta: metaUsed | nd.flags | uint32(len(w))}
		for k := 0; k < min(len(w), wordInline); k += 8 {
			slot.b[k/8] = loadN(w, k, min(len(w)-k, 8))
		}
		if len(w) > wordInline {
			slot.b[2] = uint64(long.Len())
			long.WriteString(w)
		}
		if w == "" {
			m.emptyWord = slot
			continue
		}
		j := uint32(wordHash(m.seed, w, 0, len(w)) >> m.wordShift)
		for m.words[j].meta != 0 {
			j = (j + 1) & wmask
		}
		m.words[j] = slot
	}
	m.longWords = long.String()

	// Table of the keys of two or more words.
	m.grams, m.gramShift = makeTable[gramSlot](len(gramIdx))
	gmask := uint32(len(m.grams) - 1)
	for i := range nodes {
		nd := &nodes[i]
		if nd.parent < 0 {
			continue
		}
		key := uint64(ids[nd.parent])<<32 | uint64(ids[wordNode[nd.word]])
		j := uint32(gramHash(m.seed, key) >> m.gramShift)
		for m.grams[j].meta != 0 {
			j = (j + 1) & gmask
		}
		m.grams[j] = gramSlot{key: key, id: ids[i], meta: metaUsed | nd.flags}
	}
	return m, nil
}

// makeTable allocates a power-of-two table for n keys, filled at most 2/3
// (linear probing stays short), and the shift that takes an index from the
// top bits of a hash.
func makeTable[T any](n int) ([]T, uint8) {
	size, bits := 1, 0
	for size < n+n/2+1 {
		size <<= 1
		bits++
	}
	return make([]T, size), uint8(64 - bits)
}

// TableBytes is the memory of the matcher's look-up tables (not counting the
// entry strings).
func (m *Matcher) TableBytes() int {
	return len(m.words)*int(unsafe.Sizeof(wordSlot{})) + len(m.grams)*int(unsafe.Sizeof(gramSlot{})) +
		len(m.longWords) + 4*len(m.dupNext)
}

// LoadMatcher reads a query list, one entry a line, optionally followed by a
// tab and its source ("entry\tsource", as written by Build). Empty lines are
// skipped. Invalid UTF-8 is an error.
func LoadMatcher(r io.Reader, opts MatchOptions) (*Matcher, error) {
	entries, sources, err := readList(r)
	if err != nil {
		return nil, err
	}
	return NewMatcher(entries, sources, opts)
}

// LoadMatcherFile is LoadMatcher on a file; a name ending in .gz is gunzipped.
func LoadMatcherFile(path string, opts MatchOptions) (*Matcher, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("query list: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
		if err != nil {
			return nil, fmt.Errorf("query list %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	m, err := LoadMatcher(r, opts)
	if err != nil {
		return nil, fmt.Errorf("query list %s: %w", path, err)
	}
	return m, nil
}

// readList parses "entry[\tsource]" lines.
func readList(r io.Reader) (entries, sources []string, err error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("read query list: %w", err)
	}
	// One string for all entries: substrings share it (fewer allocations,
	// faster loading).
	all := string(data)
	lines := strings.Count(all, "\n") + 1
	entries = make([]string, 0, lines)
	sources = make([]string, 0, lines)
	anySource := false
	line := 0
	for len(all) > 0 {
		line++
		var l string
		if i := strings.IndexByte(all, '\n'); i >= 0 {
			l, all = all[:i], all[i+1:]
		} else {
			l, all = all, ""
		}
		l = strings.TrimSuffix(l, "\r")
		if l == "" {
			continue
		}
		if !utf8.ValidString(l) {
			return nil, nil, fmt.Errorf("query list line %d: invalid UTF-8", line)
		}
		entry, source, hasSource := strings.Cut(l, "\t")
		if entry == "" {
			return nil, nil, fmt.Errorf("query list line %d: empty entry", line)
		}
		if hasSource {
			anySource = true
		}
		entries = append(entries, entry)
		sources = append(sources, source)
	}
	if len(entries) == 0 {
		return nil, nil, errors.New("query list has no entries")
	}
	if !anySource {
		sources = nil
	}
	return entries, sources, nil
}
