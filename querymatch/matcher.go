package querymatch

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// noCopy makes go vet report copies of the struct that holds it.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// Options controls how text is compared with entries.
type Options struct {
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
// A Matcher is immutable and safe for concurrent use. Use it by pointer and
// do not copy it: its largest tables may live outside the Go heap and are
// released when the Matcher they were made for is collected (go vet's
// copylocks check reports copies).
type Matcher struct {
	_        noCopy
	opts     Options
	entries  []string // as loaded (before spacing/folding), indexed by entry id
	sources  []string // source per entry id ("" when the list had none)
	maxWords int
	// maxKeyBytes is the length of the longest key (spaced and folded
	// like the text): no match is longer (matchLong).
	maxKeyBytes int

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
	// gramFilter is a blocked Bloom filter of the grams keys (6 bits a
	// key or more, 512 KB for 500k entries, so it stays in the L2 cache). Most
	// word pairs of a text are not keys: the filter rejects them without
	// touching the large table.
	gramFilter []uint64
	seed       uint64    // random per matcher: crafted texts cannot target collisions
	longWords  string    // bytes of words longer than wordInline, at wordSlot.b[2]
	tt         tokTables // the tokenizer's constants and punctuation tokens
	dupNext    []int32   // next entry id with the same key (metaDup), -1 at the end
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

// SpacedPunctuation are the characters MetaCLIP surrounds with spaces:
// each is a word of its own in the text, and ends the word before it. A
// tokenizer that counts words for a query list (querylist) cuts at them
// too, so that it only counts what the matcher can find.
const SpacedPunctuation = ",.;:?!`"

// byteClass for the spacing pass.
const (
	clsCopy  = iota
	clsWrap  // surround with spaces
	clsSpace // becomes a space
	clsUpper // ASCII upper case (folded when FoldCase)
	clsMulti // first byte of a multi-byte UTF-8 sequence (folded when FoldCase)
)

var byteClass = func() (t [256]uint8) {
	for _, c := range []byte(SpacedPunctuation) {
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
			var size int
			dst, size = appendFoldedRune(dst, text[i:])
			i += size
		}
	}
	return dst
}

// appendFoldedRune appends the folded first rune of text (which starts
// with a multi-byte UTF-8 sequence) and returns the bytes it took; an
// invalid byte is kept as it is.
func appendFoldedRune(dst []byte, text string) ([]byte, int) {
	r, size := utf8.DecodeRuneInString(text)
	if r == utf8.RuneError && size == 1 {
		return append(dst, text[0]), 1
	}
	return utf8.AppendRune(dst, foldRune(r)), size
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
// SpacedPunctuation being a separator, a one-byte token and a separator.
const (
	sepNone  = iota // part of a token
	sepSpace        // ' ', '\t', '\n', '\r'
	sepPunct        // , . ; : ? ! `
)

var sepClass = func() (t [256]uint8) {
	t[' '], t['\t'], t['\n'], t['\r'] = sepSpace, sepSpace, sepSpace, sepSpace
	for _, c := range []byte(SpacedPunctuation) {
		t[c] = sepPunct
	}
	return t
}()

// tokTables are what tokenize needs besides the text, in one block for the
// assembly version.
type tokTables struct {
	m1, m2 uint64        // hashM1, hashM2
	heads  [17][2]uint64 // headMasks
	// punct[c] for a punctuation byte c: 1 << 32 (it is a token) | its
	// home slot in Matcher.words; 0 for other bytes.
	punct [256]uint64
	words uintptr      // &Matcher.words[0] (prefetched while tokenizing)
	fbits [1024]uint64 // filterPatterns
	seps  [10][16]byte // the SSE2 separator test's constants (passes_amd64.s)
	// The AVX2 separator test's constants (passes_amd64.s): a byte is a
	// separator when nibbles[0][its low 4 bits] & nibbles[1][its high 4
	// bits] != 0 (sepNibbles); each table twice, for both 16-byte lanes;
	// then 32 bytes of 0x0F.
	nibbles [3][32]byte
	avx2    uint64 // 1: the tokenizer finds separators with AVX2
}

// token is a token of the text being matched.
type token struct {
	v0, v1   uint64 // the first 16 bytes, little-endian, zero-padded
	start, n int32
	slot     uint32 // home slot in Matcher.words
	_        uint32
}

// wordOf is a resolved token: meta << 32 | word id; noWord (meta 0) when
// no key has the word.
type wordOf uint64

func (w wordOf) id() uint32   { return uint32(w) }
func (w wordOf) meta() uint32 { return uint32(w >> 32) }

// gramCand is a key of two or more words that may occur in the text.
type gramCand struct {
	key  uint64 // as in gramSlot
	pos  int32  // token where the key starts
	slot uint32 // home slot in Matcher.grams (set by resolveGrams)
}

// matchScratch is per-call working memory, pooled so matching does not
// allocate.
type matchScratch struct {
	buf   []byte   // the text (folded with FoldCase), then textPad zero bytes
	win   []byte   // matchLong's window of buf, then textPad zero bytes
	masks []uint64 // separator bytes of buf (sepMasks)
	toks  []token
	words []wordOf // aligned with toks
	slow  []int32  // tokens resolveWords leaves to resolveSlow
	cands []gramCand
	found []uint64 // raw matches: start token << 32 | rawDup | entry id
	touch uint32   // sink of resolveGrams's early loads
}

// rawDup marks a raw match whose key is shared by several entries.
const rawDup = 1 << 31

var scratchPool = sync.Pool{New: func() any { return new(matchScratch) }}

// textPad zero bytes follow the text in matchScratch.buf, so that the first
// 16 bytes of any token can be read with two unconditional 8-byte loads, and
// the separators of the text's last 64 bytes found with whole 16- or
// 32-byte loads. (The Go passes need them to be zeros; the assembly ones
// only need them readable, so MatchIDs may pass the caller's text.)
const textPad = 64

// MatchIDs appends to dst the ids of the entries that occur in text, each
// once, in order of first occurrence (start word, then length). With a dst of
// sufficient capacity it does not allocate.
func (m *Matcher) MatchIDs(text string, dst []int32) []int32 {
	sc := scratchPool.Get().(*matchScratch)
	if n := len(text); !m.opts.FoldCase && n <= longText {
		// The text as it is, when the passes can read past its end
		// (passes_amd64.go): no copy.
		if buf := unsafe.Slice(unsafe.StringData(text), n); readableAfter(buf, n) {
			dst = m.match(buf, n, n, dst, sc)
			scratchPool.Put(sc)
			runtime.KeepAlive(m)
			return dst
		}
	}
	buf := sc.buf[:0]
	if m.opts.FoldCase {
		buf = appendFolded(buf, text)
	} else {
		buf = append(buf, text...)
	}
	n := len(buf)
	buf = slices.Grow(buf, textPad)[:n+textPad]
	*(*[textPad]byte)(buf[n:]) = [textPad]byte{} // stored inline, no call
	sc.buf = buf
	if n > longText {
		dst = m.matchLong(buf, n, dst, sc)
	} else {
		dst = m.match(buf, n, n, dst, sc)
	}
	scratchPool.Put(sc)
	runtime.KeepAlive(m) // the tables may live outside the Go heap (allocTable)
	return dst
}

// match finds the entries in buf[:n] (followed by textPad zero bytes). It
// works in passes over the tokens, so that the cache misses of independent
// look-ups overlap instead of queuing up: tokenize cuts the text into
// tokens, hashes them and prefetches their home slots, resolveWords (and
// resolveSlow) resolves the words, pairs writes the one-word matches and
// checks each pair of adjacent words against the Bloom filter,
// resolveGrams looks up the keys of two, three, ... words level by level,
// each level's loads issued before any is used, and report orders and
// deduplicates. The data-dependent decisions of the inner loops
// (punctuation or not, word or not, entry or not, pair candidate or not)
// are computed, not branched on: every record is written and its counter
// advanced by 0 or 1, so mispredictions do not dominate. Each pass is its
// own small function, in assembly on amd64 (passes_amd64.go): their
// state stays in registers.
//
// Only the matches that start before byte limit are reported (matchLong's
// windows; limit = n otherwise).
func (m *Matcher) match(buf []byte, n, limit int, dst []int32, sc *matchScratch) []int32 {
	if len(m.words) == 0 || len(m.grams) == 0 {
		return dst // not built by New
	}
	// At most one token per byte plus one per punctuation byte, plus the
	// last one; one more entry for a punctuation record that is written
	// and not counted.
	need := 2*n + 2
	if cap(sc.toks) < need {
		sc.grow(need)
	}
	toks := sc.toks[:need]
	nt := m.tokenize(buf, n, toks, sc)
	toks = toks[:nt]
	words, slow := sc.words[:nt], sc.slow[:nt]
	slow = slow[:m.resolveWords(toks, words, slow)]
	for _, t := range slow {
		words[t] = m.resolveSlow(buf, &toks[t])
	}
	found, cands := sc.found[:nt], sc.cands[:nt]
	nf, nc := m.pairs(words, found, cands)
	found, cands = found[:nf], cands[:nc]
	for level := 1; len(cands) > 0; level++ {
		found, cands = m.resolveGrams(words, found, cands, level, &sc.touch)
	}
	if limit < n {
		found, nf = startBefore(found, nf, toks, limit)
	}
	dst = m.report(dst, found, nf)
	sc.found = found[:0] // resolveGrams may have grown it
	return dst
}

// startBefore keeps the raw matches whose first token starts before byte
// limit; found[:nf] are the one-word matches, and it returns their new
// number too.
func startBefore(found []uint64, nf int, toks []token, limit int) ([]uint64, int) {
	k, kept := 0, 0
	for i, f := range found {
		if int(toks[f>>32].start) < limit {
			found[k] = f
			k++
		}
		if i == nf-1 {
			kept = k
		}
	}
	return found[:k], kept
}

// longText is the longest text matched in one piece; matchLong cuts longer
// ones into windows of this many bytes, so that the working memory stays
// bounded (about 140 bytes a byte of text). A variable for tests.
var longText = 16 << 10

// matchLong matches a text of more than longText bytes (buf[:n], the whole
// text, folded with FoldCase) window by window. Each window reports the
// matches that start in its first longText bytes, and reaches maxKeyBytes
// bytes further, so that it holds every key starting there and the byte
// after it (a key is no longer in the text than spaced); a key that
// reached the window's cut end would be longer than any key. The next window starts at the first token that
// starts after the reported range (a token longer than a window, which no
// key can hold, is skipped). The ids are then deduplicated across windows,
// keeping first occurrences, so the answer is MatchIDs's on the whole text.
func (m *Matcher) matchLong(buf []byte, n int, dst []int32, sc *matchScratch) []int32 {
	base := len(dst)
	win := sc.win
	for a := 0; a < n; {
		b := min(a+longText, n)
		e := min(b+m.maxKeyBytes, n)
		win = append(append(win[:0], buf[a:e]...), make([]byte, textPad)...)
		dst = m.match(win, e-a, b-a, dst, sc)
		// The next token start at or after b: after a separator, or at a
		// punctuation byte (a token of its own).
		for a = b; a < n && sepClass[buf[a-1]] == sepNone && sepClass[buf[a]] != sepPunct; a++ {
		}
	}
	sc.win = win
	seen := make(map[int32]bool, len(dst)-base)
	k := base
	for _, id := range dst[base:] {
		if !seen[id] {
			seen[id] = true
			dst[k] = id
			k++
		}
	}
	return dst[:k]
}

// grow gives every scratch slice room for n tokens.
func (sc *matchScratch) grow(n int) {
	sc.toks = make([]token, n)
	sc.words = make([]wordOf, n)
	sc.slow = make([]int32, n)
	sc.found = make([]uint64, n)
	sc.cands = make([]gramCand, n)
	sc.masks = make([]uint64, n/128+2) // n >= 2*text bytes: room for maskWords
}

// tokenizeGo is pass 1: it writes the tokens of buf[:n] to toks and returns
// their number. The separators come as bit masks (sepMasks), so there is
// no branch per byte.
func (m *Matcher) tokenizeGo(buf []byte, n int, masks []uint64, toks []token) int {
	wshift := m.wordShift & 63
	seed := m.seed
	nt := 0
	start := 0
	for b, block := 0, 0; block <= n; b, block = b+1, block+64 {
		seps := masks[b]
		if n-block < 64 {
			// The end of the text ends the last token.
			seps |= 1 << (n - block)
		}
		for seps != 0 {
			p := block + bits.TrailingZeros64(seps)
			seps &= seps - 1
			// hashWord, written out: it is over the inliner's budget.
			h, v0, v1 := hashHead(seed, buf, start, p-start)
			h = hashLast(h, buf, start, p-start)
			slot := uint32(h >> wshift)
			tk := &toks[nt]
			tk.v0, tk.v1, tk.start, tk.n, tk.slot = v0, v1, int32(start), int32(p-start), slot
			// A punctuation byte is a one-byte token too (looked up when
			// the matcher was built); buf[n] is padding, not punctuation.
			c := buf[p]
			tk = &toks[nt+1]
			punct := m.tt.punct[c]
			tk.v0, tk.v1, tk.start, tk.n, tk.slot = uint64(c), 0, int32(p), 1, uint32(punct)
			nt += 1 + int(punct>>32)
			start = p + 1
		}
	}
	return nt
}

// resolveWordsGo is pass 2: it resolves each token against its home slot,
// the common case, and returns how many tokens it wrote to slow for
// resolveSlow: words longer than 16 bytes whose first 16 bytes matched, and
// tokens whose home slot holds another word (the probe goes on). Nothing
// here calls a function, so the loop's state stays in registers.
func (m *Matcher) resolveWordsGo(toks []token, words []wordOf, slow []int32) int {
	table := m.words
	ns := 0
	for t := range toks {
		tk := &toks[t]
		w := &table[tk.slot]
		diff := (w.b[0] ^ tk.v0) | (w.b[1] ^ tk.v1) | uint64(w.meta&(metaUsed|metaLen)^(metaUsed|uint32(tk.n)))
		word := wordOf(w.meta)<<32 | wordOf(w.id)
		if diff != 0 {
			word = wordOf(noWord)
		}
		words[t] = word
		// To resolveSlow: a long word whose first 16 bytes matched, or a
		// home slot holding another word. Computed, not branched on.
		var hit, long, used int
		if diff == 0 {
			hit = 1
		}
		if tk.n > 16 {
			long = 1
		}
		if w.meta != 0 {
			used = 1
		}
		slow[ns] = int32(t)
		ns += hit&long | (hit^1)&used
	}
	return ns
}

// resolveSlow resolves a token by probing from its home slot, comparing
// whole words.
func (m *Matcher) resolveSlow(buf []byte, tk *token) wordOf {
	mask := uint32(len(m.words) - 1)
	want := metaUsed | uint32(tk.n)
	for j := tk.slot; ; j = (j + 1) & mask {
		w := &m.words[j]
		if w.meta == 0 {
			return wordOf(noWord)
		}
		if (w.b[0]^tk.v0)|(w.b[1]^tk.v1)|uint64(w.meta&(metaUsed|metaLen)^want) == 0 &&
			(tk.n <= 16 || m.tailEqual(w, buf, int(tk.start), int(tk.n))) {
			return wordOf(w.meta)<<32 | wordOf(w.id)
		}
	}
}

// pairsGo is pass 3: it writes the one-word matches to found and the
// two-word candidates (tokens t-1 and t) that pass the Bloom filter to
// cands, and returns how many of each.
func (m *Matcher) pairsGo(words []wordOf, found []uint64, cands []gramCand) (nf, nc int) {
	// Two loops, each with few enough variables to keep them in
	// registers.
	for t, word := range words {
		found[nf] = uint64(t)<<32 | uint64(word.meta()<<3&rawDup) | uint64(word.id())
		nf += int(word.meta() >> 30 & 1) // metaEntry
	}
	seed := m.seed
	filter := m.gramFilter
	fmask := uint32(len(filter) - 1)
	prev := wordOf(noWord)
	for t, word := range words {
		key := uint64(prev.id())<<32 | uint64(word.id())
		h := gramHash(seed, key)
		fb := gramFilterBits(h)
		outside := min((filter[uint32(h)&fmask]&fb|^fb)+1, 1) // 0 when all bits are set
		c := &cands[nc]
		c.key, c.pos = key, int32(t-1)
		nc += int(prev.meta()>>29&1&(word.meta()>>31)) &^ int(outside) // prefix, word, in the filter
		prev = word
	}
	return nf, nc
}

// resolveGramsGo is pass 4, once per level of candidates (keys of level+1
// words): it appends their matches to found and returns the next level's
// candidates (in cands' memory). As in pairs, the decisions (entry or not,
// next candidate or not) are computed, not branched on.
func (m *Matcher) resolveGramsGo(words []wordOf, found []uint64, cands []gramCand, level int, touch *uint32) ([]uint64, []gramCand) {
	grams := m.grams
	gmask := uint32(len(grams) - 1)
	gshift := m.gramShift & 63
	filter := m.gramFilter
	fmask := uint32(len(filter) - 1)
	sink := uint32(0)
	for i := range cands {
		cd := &cands[i]
		cd.slot = uint32(gramHash(m.seed, cd.key)>>gshift) & gmask
		sink += grams[cd.slot].meta // start all loads of the level
	}
	nf := len(found)
	found = slices.Grow(found, len(cands))[:nf+len(cands)]
	k := 0
	for _, cd := range cands {
		j := cd.slot
		g := &grams[j]
		for g.meta != 0 && g.key != cd.key {
			j = (j + 1) & gmask
			g = &grams[j]
		}
		meta := g.meta // 0 when the key is not there
		found[nf] = uint64(cd.pos)<<32 | uint64(meta<<3&rawDup) | uint64(g.id)
		nf += int(meta >> 30 & 1) // metaEntry
		next := wordOf(noWord)    // the word after the key
		if i := int(cd.pos) + level + 1; i < len(words) {
			next = words[i]
		}
		key := uint64(g.id)<<32 | uint64(next.id())
		h := gramHash(m.seed, key)
		fb := gramFilterBits(h)
		outside := min((filter[uint32(h)&fmask]&fb|^fb)+1, 1) // 0 when all bits are set
		cands[k] = gramCand{key: key, pos: cd.pos}
		k += int(meta>>29&1&(next.meta()>>31)) &^ int(outside) // prefix, word, in the filter
	}
	*touch += sink
	return found[:nf], cands[:k]
}

// reportGo is the last pass: it appends the raw matches to dst in order
// of start token, a shorter key before a longer one at the same start (the
// sort is stable: levels came one after the other, and found[:words], the
// one-word matches, are in order), each id once, expanding keys shared by
// several entries (reportShared). seen has a bit per id hash (256): most
// ids are new, and a clear bit proves it without looking at what was
// found.
func (m *Matcher) reportGo(dst []int32, found []uint64, words int) []int32 {
	for i := max(words, 1); i < len(found); i++ {
		f := found[i]
		j := i
		for ; j > 0 && found[j-1]>>32 > f>>32; j-- {
			found[j] = found[j-1]
		}
		found[j] = f
	}
	base := len(dst)
	dst = slices.Grow(dst, len(found))
	out := dst[base : base+len(found)]
	var seen [4]uint64
	k := 0
	for i, f := range found {
		if f&rawDup != 0 {
			return m.reportShared(dst[:base+k], found[i:], base, &seen)
		}
		id := int32(f)
		b := uint32(id) * 0x9E3779B1 >> 24
		bit := uint64(1) << (b & 63)
		if seen[b>>6]&bit != 0 && slices.Contains(out[:k], id) {
			continue
		}
		seen[b>>6] |= bit
		out[k] = id
		k++
	}
	return dst[:base+k]
}

// reportShared is report's loop for the rest of found once a key shared by
// several entries comes up (rare: entries equal after spacing or folding).
func (m *Matcher) reportShared(dst []int32, found []uint64, base int, seen *[4]uint64) []int32 {
	for _, f := range found {
		id := uint32(f) &^ rawDup
		for {
			b := id * 0x9E3779B1 >> 24
			bit := uint64(1) << (b & 63)
			if seen[b>>6]&bit == 0 || !slices.Contains(dst[base:], int32(id)) {
				seen[b>>6] |= bit
				dst = append(dst, int32(id))
			}
			if f&rawDup == 0 || m.dupNext[id] < 0 {
				break
			}
			id = uint32(m.dupNext[id])
		}
	}
	return dst
}

// tailEqual reports whether the bytes of a word of n > 16 bytes at buf[i:]
// after the first 16 are those of slot w.
func (m *Matcher) tailEqual(w *wordSlot, buf []byte, i, n int) bool {
	if n <= wordInline {
		var tail uint64
		if i+24 <= len(buf) {
			tail = load8(buf, i+16)
		} else { // the caller's text, unpadded (MatchIDs)
			for k, c := range buf[i+16 : i+n] {
				tail |= uint64(c) << (8 * k)
			}
		}
		return w.b[2] == tail&byteMask(n-16)
	}
	off := int(w.b[2])
	return m.longWords[off:off+n] == string(buf[i:i+n])
}

// load8 is b[i:i+8] as a little-endian integer (one load).
func load8(b []byte, i int) uint64 {
	return binary.LittleEndian.Uint64(b[i : i+8])
}

// byteMask keeps the first k bytes of a little-endian word (none for k <= 0,
// all for k >= 8), without a branch.
func byteMask(k int) uint64 {
	return ^uint64(0) >> (64 - 8*uint(min(max(k, 0), 8)))
}

const (
	hashM1 = 0x9E3779B97F4A7C15
	hashM2 = 0xBF58476D1CE4E5B9
)

// hashWord hashes the word buf[i:i+n] (textPad readable bytes must follow
// it) and returns its first 16 bytes, zero-padded, as two integers. It
// hashes the length, the first 16 bytes and, for longer words, the last 8:
// three loads and three multiplications, no loop and no branch. The table
// index is taken from the top bits. Words longer than 24 bytes that agree
// in all of these share a home slot and are told apart by probing
// (resolveSlow compares whole words); that takes words alike in their first
// 16 and last 8 bytes, which a list of real queries hardly has.
func hashWord(seed uint64, buf []byte, i, n int) (h, v0, v1 uint64) {
	h, v0, v1 = hashHead(seed, buf, i, n)
	return hashLast(h, buf, i, n), v0, v1
}

// hashHead is hashWord's part for the length and the first 16 bytes. It
// and hashLast are small enough to be inlined in tokenize's loop (a call
// there would spill every register).
func hashHead(seed uint64, buf []byte, i, n int) (h, v0, v1 uint64) {
	mask := &headMasks[min(uint(n), 16)]
	v0 = load8(buf, i) & mask[0]
	v1 = load8(buf, i+8) & mask[1]
	h = (v0 ^ seed ^ uint64(n)) * hashM1
	return (bits.RotateLeft64(h, 32) ^ v1) * hashM2, v0, v1
}

// hashLast is hashWord's part for the last 8 bytes of a word of more than
// 16. For shorter words the load (of bytes 8-15, always readable) is masked
// off and h is returned as it is.
func hashLast(h uint64, buf []byte, i, n int) uint64 {
	return h ^ load8(buf, i+max(n, 16)-8)&uint64(int64(16-n)>>63)*hashM1
}

// headMasks[n] keeps the first n bytes of a word in two little-endian
// 8-byte loads.
var headMasks = func() (t [17][2]uint64) {
	for n := range t {
		t[n] = [2]uint64{byteMask(n), byteMask(n - 8)}
	}
	return t
}()

// padded returns w followed by textPad zero bytes, in scratch.
func padded(scratch []byte, w string) []byte {
	scratch = append(scratch[:0], w...)
	return append(scratch, make([]byte, textPad)...)
}

// gramHash hashes a gramSlot key, all bits mixed: the table index is
// taken from the top bits, the filter's from the low ones.
func gramHash(seed uint64, key uint64) uint64 {
	h := (key ^ seed) * hashM1
	h ^= h >> 32
	return h * hashM2
}

// gramFilterBits are the filter bits of hash h: one of 1,024 patterns of
// 4 bits of 64, chosen by the top 10 bits of h (apart from the word index,
// taken from the low bits). One load from a table in the L1 cache instead
// of three shifts: this is done for nearly every token.
func gramFilterBits(h uint64) uint64 {
	return filterPatterns[h>>54]
}

// filterPatterns are gramFilterBits's patterns, fixed (a matcher's seed
// already varies h).
var filterPatterns = func() (t [1024]uint64) {
	rng := rand.New(rand.NewPCG(0x5eed, 0xb100))
	for i := range t {
		for bits.OnesCount64(t[i]) < 4 {
			t[i] |= 1 << rng.IntN(64)
		}
	}
	return t
}()

// appendFolded appends text case-folded like appendSpaced, without spacing.
// Runs of ASCII go 8 bytes at a time: captions are mostly ASCII.
func appendFolded(dst []byte, text string) []byte {
	dst = slices.Grow(dst, len(text))
	for i := 0; i < len(text); {
		for ; i+8 <= len(text); i += 8 {
			x := uint64(text[i]) | uint64(text[i+1])<<8 | uint64(text[i+2])<<16 | uint64(text[i+3])<<24 |
				uint64(text[i+4])<<32 | uint64(text[i+5])<<40 | uint64(text[i+6])<<48 | uint64(text[i+7])<<56
			if x&hi1 != 0 {
				break // not all ASCII
			}
			// With every byte below 0x80 no carry crosses bytes: the high
			// bit of x+0x3F is x >= 'A', that of x+0x25 is x > 'Z'.
			upper := ((x + 0x3F3F3F3F3F3F3F3F) ^ (x + 0x2525252525252525)) & hi1
			dst = binary.LittleEndian.AppendUint64(dst, x|upper>>2)
		}
		if i >= len(text) {
			break
		}
		c := text[i]
		switch byteClass[c] {
		case clsUpper:
			dst = append(dst, c+'a'-'A')
			i++
		case clsMulti:
			var size int
			dst, size = appendFoldedRune(dst, text[i:])
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
func (m *Matcher) Options() Options { return m.opts }

// TableBytes is the memory of the matcher's look-up tables (not counting the
// entry strings).
func (m *Matcher) TableBytes() int {
	return len(m.words)*int(unsafe.Sizeof(wordSlot{})) + len(m.grams)*int(unsafe.Sizeof(gramSlot{})) +
		8*len(m.gramFilter) + len(m.longWords) + 4*len(m.dupNext)
}
