package querymatch

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"unsafe"
)

// New builds a matcher for the given entries. sources may be nil or
// aligned with entries. Entries that cannot match anything after spacing
// (empty or only spaces) keep their id but are not indexed.
//
// The steps: the entries are spaced into keys (spaceEntries), the keys put
// in a trie of words (buildTrie) and numbered (keyIDs); then the word
// table (fillWords), the tokenizer's tables (fillTokTables) and the table
// of longer keys with its Bloom filter (fillGrams) are laid out.
func New(entries, sources []string, opts Options) (*Matcher, error) {
	if err := checkEntries(entries, sources); err != nil {
		return nil, err
	}
	m := &Matcher{opts: opts, entries: entries, sources: sources, seed: rand.Uint64()}
	if m.sources == nil {
		m.sources = make([]string, len(entries))
	}
	spaced, bound := spaceEntries(entries, opts.FoldCase)
	if bound == 0 {
		return nil, errors.New("querymatch: no entry has a word")
	}
	trie, err := m.buildTrie(spaced, bound)
	if err != nil {
		return nil, err
	}
	if uint64(len(entries))+uint64(len(trie.nodes)) >= uint64(noWord) {
		return nil, errors.New("querymatch: list too large")
	}
	ids := trie.keyIDs(len(entries))
	m.fillWords(trie, ids)
	m.fillTokTables()
	m.fillGrams(trie, ids)
	return m, nil
}

// checkEntries rejects what New cannot index: no entries, sources not
// aligned with them, or more entries than an id can number.
func checkEntries(entries, sources []string) error {
	if len(entries) == 0 {
		return errors.New("querymatch: no entries")
	}
	if sources != nil && len(sources) != len(entries) {
		return fmt.Errorf("querymatch: %d sources for %d entries", len(sources), len(entries))
	}
	if len(entries) >= 1<<30 {
		return fmt.Errorf("querymatch: too many entries (%d)", len(entries))
	}
	return nil
}

// spaceEntries spaces (and folds) every entry into its key (spaceEntry; ""
// for an entry that can never match) and returns the keys and the number
// of words of all keys: there are at most this many distinct words and
// keys.
func spaceEntries(entries []string, fold bool) (keys []string, words int) {
	keys = make([]string, len(entries))
	for id, e := range entries {
		k := spaceEntry(e, fold)
		keys[id] = k
		if k != "" {
			words += 1 + strings.Count(k, " ")
		}
	}
	return keys, words
}

// keyTrie holds the keys of a list as a trie of words: a node per key
// (a spaced entry or one of its word-prefixes), a child being its parent
// plus one word. New builds it, numbers its nodes and lays them out in the
// look-up tables; it is dropped once the matcher is built.
type keyTrie struct {
	nodes []trieNode
	words []trieWord // the distinct words, in order of first appearance
}

// trieNode is a key of the trie.
type trieNode struct {
	parent      int32  // node of the key without its last word, -1 for one word
	word        int32  // index of the last word in keyTrie.words
	flags       uint32 // metaPrefix, metaEntry, metaDup
	first, last int32  // entry ids with this key (chained by Matcher.dupNext), -1 for none
}

// trieWord is a distinct word of the keys.
type trieWord struct {
	s    string
	hash uint64 // hashWord of s
	node int32  // its one-word key node
}

// trieBuilder deduplicates words and nodes while buildTrie runs, with
// temporary open-addressing tables (faster to build than maps; no
// pointers).
type trieBuilder struct {
	keyTrie
	seed      uint64
	wordIndex []int32 // index+1 into words, 0 = empty
	wordShift uint8
	wordMask  uint32
	gramIndex []int32 // index+1 into nodes, keyed by (parent, word)
	gramShift uint8
	gramMask  uint32
	pad       []byte // a word followed by textPad zero bytes, for hashWord
}

// buildTrie puts the keys (spaced entries; "" for none) into a trie, chains
// the entries that share a key in m.dupNext, and sets m.maxWords and
// m.maxKeyBytes. bound is the number of words of all keys (spaceEntries).
func (m *Matcher) buildTrie(keys []string, bound int) (*keyTrie, error) {
	b := &trieBuilder{keyTrie: keyTrie{nodes: make([]trieNode, 0, bound)}, seed: m.seed}
	b.wordIndex, b.wordShift = makeTable[int32](bound)
	b.wordMask = uint32(len(b.wordIndex) - 1)
	b.gramIndex, b.gramShift = makeTable[int32](bound)
	b.gramMask = uint32(len(b.gramIndex) - 1)
	m.dupNext = make([]int32, len(keys))
	for id, k := range keys {
		m.dupNext[id] = -1
		if k == "" {
			continue
		}
		cur := int32(-1)
		nWords := 0
		for rest := k; ; {
			w, tail, more := strings.Cut(rest, " ")
			nWords++
			if len(w) > metaLen {
				return nil, fmt.Errorf("querymatch: entry %d has a word of %d bytes", id, len(w))
			}
			wi := b.word(w)
			if cur < 0 {
				cur = b.words[wi].node
			} else {
				cur = b.child(cur, wi)
			}
			if !more {
				break
			}
			rest = tail
		}
		m.maxWords = max(m.maxWords, nWords)
		m.maxKeyBytes = max(m.maxKeyBytes, len(k))
		b.addEntry(cur, int32(id), m.dupNext)
	}
	// Not &b.keyTrie: the dedup tables would stay alive with it.
	return &keyTrie{nodes: b.nodes, words: b.words}, nil
}

// word returns the index of word w, adding it and its one-word node when
// it is new.
func (b *trieBuilder) word(w string) int32 {
	b.pad = padded(b.pad, w)
	h, _, _ := hashWord(b.seed, b.pad, 0, len(w))
	j := uint32(h >> b.wordShift)
	for b.wordIndex[j] != 0 && (b.words[b.wordIndex[j]-1].hash != h || b.words[b.wordIndex[j]-1].s != w) {
		j = (j + 1) & b.wordMask
	}
	wi := b.wordIndex[j] - 1
	if wi < 0 {
		wi = int32(len(b.words))
		b.wordIndex[j] = wi + 1
		b.words = append(b.words, trieWord{s: w, hash: h, node: int32(len(b.nodes))})
		b.nodes = append(b.nodes, trieNode{parent: -1, word: wi, first: -1, last: -1})
	}
	return wi
}

// child returns the node of key cur followed by word wi, adding it when it
// is new, and marks cur as the prefix of a longer key.
func (b *trieBuilder) child(cur, wi int32) int32 {
	b.nodes[cur].flags |= metaPrefix
	j := uint32(gramHash(b.seed, uint64(cur)<<32|uint64(wi)) >> b.gramShift)
	for b.gramIndex[j] != 0 && (b.nodes[b.gramIndex[j]-1].parent != cur || b.nodes[b.gramIndex[j]-1].word != wi) {
		j = (j + 1) & b.gramMask
	}
	if b.gramIndex[j] == 0 {
		b.nodes = append(b.nodes, trieNode{parent: cur, word: wi, first: -1, last: -1})
		b.gramIndex[j] = int32(len(b.nodes))
	}
	return b.gramIndex[j] - 1
}

// addEntry records that entry id has the key of node n: the first such
// entry gives the key its id (keyIDs), later ones are chained after it in
// dupNext.
func (t *keyTrie) addEntry(n, id int32, dupNext []int32) {
	nd := &t.nodes[n]
	if nd.first < 0 {
		nd.flags |= metaEntry
		nd.first, nd.last = id, id
	} else {
		nd.flags |= metaDup
		dupNext[nd.last] = id
		nd.last = id
	}
}

// keyIDs numbers the keys, indexed by node: a key that is an entry has the
// id of its (first) entry, so that a match needs no further look-up; the
// other keys come after the entries' ids.
func (t *keyTrie) keyIDs(nEntries int) []uint32 {
	ids := make([]uint32, len(t.nodes))
	next := uint32(nEntries)
	for i := range t.nodes {
		if t.nodes[i].flags&metaEntry != 0 {
			ids[i] = uint32(t.nodes[i].first)
		} else {
			ids[i] = next
			next++
		}
	}
	return ids
}

// wordsByUse returns the indexes of the words, those in more keys (as the
// last word or the last but one) first. Inserted in this order they take
// their home slots, and the words a caption is full of ("the", "of", "a",
// ...) are in many keys, so few of a caption's tokens probe on
// (resolveSlow).
func (t *keyTrie) wordsByUse() []int32 {
	uses := make([]int32, len(t.words))
	for i := range t.nodes {
		uses[t.nodes[i].word]++
		if p := t.nodes[i].parent; p >= 0 {
			uses[t.nodes[p].word]++
		}
	}
	order := make([]int32, len(t.words))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int { return int(uses[b] - uses[a]) })
	return order
}

// fillWords lays out the word table (the empty word, from runs of spaces,
// is a word too), filled at most 1/3: a token whose home slot holds
// another word takes resolveSlow, and at 2/3 that was a quarter of them.
// Words longer than wordInline bytes go to m.longWords.
func (m *Matcher) fillWords(t *keyTrie, ids []uint32) {
	size, shift := tableSize(2 * len(t.words))
	m.words, m.wordShift = allocTable[wordSlot](m, size), shift
	wmask := uint32(len(m.words) - 1)
	var long strings.Builder
	var pad []byte
	for _, wi := range t.wordsByUse() {
		w := &t.words[wi]
		nd := t.nodes[w.node]
		pad = padded(pad, w.s)
		h, v0, v1 := hashWord(m.seed, pad, 0, len(w.s))
		slot := wordSlot{b: [3]uint64{v0, v1, load8(pad, 16)}, id: ids[w.node], meta: metaUsed | nd.flags | uint32(len(w.s))}
		if len(w.s) > wordInline {
			slot.b[2] = uint64(long.Len())
			long.WriteString(w.s)
		}
		j := uint32(h >> m.wordShift)
		for m.words[j].meta != 0 {
			j = (j + 1) & wmask
		}
		m.words[j] = slot
	}
	m.longWords = long.String()
}

// fillTokTables sets m.tt, what the tokenizer needs besides the text: the
// hash constants, the separator tests' constants, whether to use AVX2, and
// the home slot of each punctuation token. It needs the word table.
func (m *Matcher) fillTokTables() {
	m.tt.words = uintptr(unsafe.Pointer(&m.words[0]))
	m.tt.m1, m.tt.m2, m.tt.heads, m.tt.fbits = hashM1, hashM2, headMasks, filterPatterns
	for i, c := range []byte{1, 2, 4, '!', ';', '.', '\r', '?', '`', '\n'} {
		m.tt.seps[i] = [16]byte(bytes.Repeat([]byte{c}, 16))
	}
	lo, hi := sepNibbles()
	m.tt.nibbles = [3][32]byte{[32]byte(append(lo[:], lo[:]...)), [32]byte(append(hi[:], hi[:]...)), [32]byte(bytes.Repeat([]byte{0x0F}, 32))}
	if haveAVX2() {
		m.tt.avx2 = 1
	}
	wmask := uint32(len(m.words) - 1)
	var pad []byte
	for c := range m.tt.punct {
		m.tt.punct[c] = 0 // not punctuation: no token
		if sepClass[c] == sepPunct {
			pad = padded(pad, string(rune(c)))
			h, _, _ := hashWord(m.seed, pad, 0, 1)
			m.tt.punct[c] = 1<<32 | uint64(uint32(h>>m.wordShift)&wmask)
		}
	}
}

// fillGrams lays out the table of the keys of two or more words, filled at
// most 1/3 like the word table (a look-up here is often a cache miss, and
// each probe past the home slot may be another), and its Bloom filter, at
// 6 bits a key or more.
func (m *Matcher) fillGrams(t *keyTrie, ids []uint32) {
	nGrams := len(t.nodes) - len(t.words)
	size, shift := tableSize(2 * nGrams)
	m.grams, m.gramShift = allocTable[gramSlot](m, size), shift
	gmask := uint32(len(m.grams) - 1)
	filterWords := 1
	for filterWords*64 < nGrams*6 {
		filterWords <<= 1
	}
	m.gramFilter = allocTable[uint64](m, filterWords)
	fmask := uint32(filterWords - 1)
	for i := range t.nodes {
		nd := &t.nodes[i]
		if nd.parent < 0 {
			continue
		}
		key := uint64(ids[nd.parent])<<32 | uint64(ids[t.words[nd.word].node])
		h := gramHash(m.seed, key)
		m.gramFilter[uint32(h)&fmask] |= gramFilterBits(h)
		j := uint32(h >> m.gramShift)
		for m.grams[j].meta != 0 {
			j = (j + 1) & gmask
		}
		m.grams[j] = gramSlot{key: key, id: ids[i], meta: metaUsed | nd.flags}
	}
}

// tableSize is the power-of-two size of a table for n keys, filled at most
// 2/3 (linear probing stays short), and the shift that takes an index from
// the top bits of a hash.
func tableSize(n int) (int, uint8) {
	size, bits := 1, 0
	for size < n+n/2+1 {
		size <<= 1
		bits++
	}
	return size, uint8(64 - bits)
}

// makeTable allocates a table of tableSize(n) on the Go heap.
func makeTable[T any](n int) ([]T, uint8) {
	size, shift := tableSize(n)
	return make([]T, size), shift
}
