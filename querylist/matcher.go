package querylist

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
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

	// Hash table of the distinct keys (spaced, folded entries and their
	// word-prefixes). A slot is tag<<32 | ref: tag = high 32 bits of the key's
	// hash, ref = flags | offset of the key's record in arena (0 = empty
	// slot). 8-byte slots keep the table small (16 MB for 500k entries)
	// so fewer lookups miss the CPU caches.
	slots []uint64
	mask  uint64
	seed  uint64 // random per matcher: crafted texts cannot target collisions
	// arena holds one record per entry key: count uint32, keyLen uint32, key
	// bytes, count × int32 entry ids. Keys are compared before an entry is
	// reported, so a hash collision can never produce a false match.
	arena []byte
}

const (
	refPrefix = 1 << 31 // key + " " + more is a key of some entry
	refEntry  = 1 << 30 // key is an entry; offset bits point to its record
	refOffset = refEntry - 1
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

// MatchIDs appends to dst the ids of the entries that occur in text, each
// once, in order of first occurrence. With a dst of sufficient capacity it
// does not allocate for texts up to about 1 KB after spacing.
func (m *Matcher) MatchIDs(text string, dst []int32) []int32 {
	var buf [1024]byte
	s := appendSpaced(buf[:0], text, m.opts.FoldCase)
	base := len(dst)
	n := len(s)
	for i := 0; i < n; {
		if s[i] == ' ' {
			i++
			continue
		}
		j := i + 1
		for j < n && s[j] != ' ' {
			j++
		}
		end := j
		for {
			ref := m.lookup(s[i:end])
			if ref == 0 {
				break
			}
			if ref&refEntry != 0 {
				dst = m.appendEntry(dst, base, ref&refOffset, s[i:end])
			}
			if ref&refPrefix == 0 || end >= n {
				break
			}
			k := end + 1 // s[end] is a space
			for k < n && s[k] != ' ' {
				k++
			}
			end = k
		}
		i = j
	}
	return dst
}

func appendUnique(dst []int32, base int, id int32) []int32 {
	for _, d := range dst[base:] {
		if d == id {
			return dst
		}
	}
	return append(dst, id)
}

// lookup returns the ref of key's slot, 0 when absent. The 32-bit tag can
// rarely lead to another key's slot: entries are verified by appendEntry, a
// wrong prefix flag only costs an extra lookup.
func (m *Matcher) lookup(key []byte) uint32 {
	h := keyHash(m.seed, key)
	tag := h >> 32
	for i := h & m.mask; ; i = (i + 1) & m.mask {
		sl := m.slots[i]
		if sl == 0 {
			return 0
		}
		if sl>>32 == tag {
			return uint32(sl)
		}
	}
}

// keyHash hashes a key 8 bytes at a time (multiply–xorshift, seeded); the
// keys are short (words), where this beats hash/maphash's call overhead.
func keyHash[T string | []byte](seed uint64, key T) uint64 {
	const m1, m2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9
	h := seed ^ uint64(len(key))*m1
	for len(key) >= 8 {
		v := uint64(key[0]) | uint64(key[1])<<8 | uint64(key[2])<<16 | uint64(key[3])<<24 |
			uint64(key[4])<<32 | uint64(key[5])<<40 | uint64(key[6])<<48 | uint64(key[7])<<56
		h = (h ^ v) * m2
		h ^= h >> 29
		key = key[8:]
	}
	if len(key) > 0 {
		var v uint64
		for i := 0; i < len(key); i++ {
			v |= uint64(key[i]) << (8 * i)
		}
		h = (h ^ v) * m2
		h ^= h >> 29
	}
	h *= m1
	h ^= h >> 32
	return h
}

// appendEntry appends the ids of the record at off if its key is key.
func (m *Matcher) appendEntry(dst []int32, base int, off uint32, key []byte) []int32 {
	rec := m.arena[off:]
	count := binary.LittleEndian.Uint32(rec)
	keyLen := binary.LittleEndian.Uint32(rec[4:])
	if int(keyLen) != len(key) || string(rec[8:8+keyLen]) != string(key) {
		return dst
	}
	ids := rec[8+keyLen:]
	for c := uint32(0); c < count; c++ {
		dst = appendUnique(dst, base, int32(binary.LittleEndian.Uint32(ids[4*c:])))
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
	m := &Matcher{opts: opts, entries: entries, sources: sources}
	if m.sources == nil {
		m.sources = make([]string, len(entries))
	}
	// Spaced keys of the entries; a key of a word-prefix is a prefix of
	// its entry's key, so keys are (entry, length) pairs: no pointers for
	// the garbage collector to scan, no copies.
	spaced := make([]string, len(entries))
	bound := 0
	for id, e := range entries {
		k := spaceEntry(e, opts.FoldCase)
		spaced[id] = k
		if k != "" {
			bound += 1 + strings.Count(k, " ")
		}
	}
	type keyInfo struct {
		entry  int32 // key = spaced[entry][:length]
		length int32
		first  int32 // first entry id with exactly this key, -1 none
		last   int32 // last such id (ids chain through sameKey)
		prefix bool
		hash   uint64
	}
	keys := make([]keyInfo, 0, bound)
	sameKey := make([]int32, len(entries)) // next entry id with the same key, -1 end
	size := uint64(1)
	for size < uint64(bound)*2 {
		size <<= 1
	}
	m.mask = size - 1
	m.seed = rand.Uint64()
	dedup := make([]int32, size) // key index + 1, 0 = empty
	keyOf := func(ki *keyInfo) string { return spaced[ki.entry][:ki.length] }
	addKey := func(entry int32, k string) *keyInfo {
		h := keyHash(m.seed, k)
		for i := h & m.mask; ; i = (i + 1) & m.mask {
			d := dedup[i]
			if d == 0 {
				keys = append(keys, keyInfo{entry: entry, length: int32(len(k)), first: -1, last: -1, hash: h})
				dedup[i] = int32(len(keys))
				return &keys[len(keys)-1]
			}
			if ki := &keys[d-1]; ki.hash == h && keyOf(ki) == k {
				return ki
			}
		}
	}
	arenaSize := 0
	for id, k := range spaced {
		if k == "" {
			continue
		}
		words := 1
		for p := 0; p < len(k); p++ {
			if k[p] == ' ' {
				addKey(int32(id), k[:p]).prefix = true
				words++
			}
		}
		m.maxWords = max(m.maxWords, words)
		ki := addKey(int32(id), k)
		sameKey[id] = -1
		if ki.first < 0 {
			ki.first, ki.last = int32(id), int32(id)
			arenaSize += 12 + len(k)
		} else {
			sameKey[ki.last] = int32(id)
			ki.last = int32(id)
			arenaSize += 4
		}
	}
	if arenaSize > refOffset {
		return nil, errors.New("querylist: list too large")
	}
	// Records, and the ref of every key.
	m.arena = make([]byte, 0, arenaSize)
	refs := make([]uint32, len(keys))
	for i := range keys {
		ki := &keys[i]
		var ref uint32
		if ki.prefix {
			ref |= refPrefix
		}
		if ki.first >= 0 {
			ref |= refEntry | uint32(len(m.arena))
			count := 0
			for id := ki.first; id >= 0; id = sameKey[id] {
				count++
			}
			k := keyOf(ki)
			m.arena = binary.LittleEndian.AppendUint32(m.arena, uint32(count))
			m.arena = binary.LittleEndian.AppendUint32(m.arena, uint32(len(k)))
			m.arena = append(m.arena, k...)
			for id := ki.first; id >= 0; id = sameKey[id] {
				m.arena = binary.LittleEndian.AppendUint32(m.arena, uint32(id))
			}
		}
		refs[i] = ref
	}
	size = 1
	for size < uint64(len(keys))*2 {
		size <<= 1
	}
	m.mask = size - 1
	m.slots = make([]uint64, size)
	hashes := make([]uint64, len(keys))
	for i := range keys {
		hashes[i] = keys[i].hash
	}
	// A key whose probe path holds another key with the same 32-bit tag
	// could be shadowed by it: pick another seed then (rare).
	for attempt := 0; ; attempt++ {
		if attempt == 16 {
			return nil, errors.New("querylist: could not build hash table (repeated hash collisions)")
		}
		if attempt > 0 {
			m.seed = rand.Uint64()
			for i := range keys {
				hashes[i] = keyHash(m.seed, keyOf(&keys[i]))
			}
			clear(m.slots)
		}
		if m.fill(refs, hashes) {
			return m, nil
		}
	}
}

// fill inserts all keys; false when a tag repeats on a probe path.
func (m *Matcher) fill(refs []uint32, hashes []uint64) bool {
	for i, ref := range refs {
		h := hashes[i]
		tag := h >> 32
		j := h & m.mask
		for m.slots[j] != 0 {
			if m.slots[j]>>32 == tag {
				return false
			}
			j = (j + 1) & m.mask
		}
		m.slots[j] = tag<<32 | uint64(ref)
	}
	return true
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
