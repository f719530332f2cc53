package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/witdata/wit/internal/atomicfile"
)

// Special token names.
const (
	StartOfText = "<start_of_text>"
	EndOfText   = "<end_of_text>"
)

// FormatVersion is the version of the tok.json layout written by Save.
const FormatVersion = 1

// pair is two adjacent symbol ids packed as left<<32 | right.
type pair uint64

func mkpair(a, b int32) pair         { return pair(uint64(uint32(a))<<32 | uint64(uint32(b))) }
func (p pair) split() (int32, int32) { return int32(p >> 32), int32(uint32(p)) }

// Tokenizer is a trained byte-level BPE vocabulary. It is safe for concurrent use.
type Tokenizer struct {
	merges []pair         // merge i produces id 256+i
	ranks  map[pair]int32 // pair → merge index (lower merges first)
	tokens [][]byte       // id → bytes (specials excluded)

	cacheMu sync.RWMutex
	cache   map[string][]int32 // piece → ids; cleared when it passes cacheLimit
}

// cacheLimit bounds the encode cache (pieces of a caption corpus repeat heavily; a few MB at most).
const cacheLimit = 1 << 16

// New builds a tokenizer from merges given as pairs of ids (each id < 256+its own index).
func newFromMerges(merges []pair) (*Tokenizer, error) {
	t := &Tokenizer{
		merges: merges,
		ranks:  make(map[pair]int32, len(merges)),
		tokens: make([][]byte, 256, 256+len(merges)),
		cache:  make(map[string][]int32),
	}
	for i := range 256 {
		t.tokens[i] = []byte{byte(i)}
	}
	for i, p := range merges {
		a, b := p.split()
		id := int32(256 + i)
		if a < 0 || b < 0 || a >= id || b >= id {
			return nil, fmt.Errorf("tokenizer: merge %d (%d, %d) refers to an unknown id", i, a, b)
		}
		if _, dup := t.ranks[p]; dup {
			return nil, fmt.Errorf("tokenizer: merge %d (%d, %d) repeated", i, a, b)
		}
		t.ranks[p] = int32(i)
		tok := make([]byte, 0, len(t.tokens[a])+len(t.tokens[b]))
		t.tokens = append(t.tokens, append(append(tok, t.tokens[a]...), t.tokens[b]...))
	}
	return t, nil
}

// VocabSize is the number of ids: 256 bytes, the merges and the two special tokens.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) + 2 }

// StartID is the id of <start_of_text> (VocabSize()-2).
func (t *Tokenizer) StartID() int32 { return int32(len(t.tokens)) }

// EndID is the id of <end_of_text>, the largest id (VocabSize()-1).
func (t *Tokenizer) EndID() int32 { return int32(len(t.tokens) + 1) }

// NumMerges is the number of learned merges.
func (t *Tokenizer) NumMerges() int { return len(t.merges) }

// Token returns the bytes of an id (the special tokens' names for the special ids).
func (t *Tokenizer) Token(id int32) (string, bool) {
	switch {
	case id >= 0 && int(id) < len(t.tokens):
		return string(t.tokens[id]), true
	case id == t.StartID():
		return StartOfText, true
	case id == t.EndID():
		return EndOfText, true
	}
	return "", false
}

// Tokens appends the ids of text (lower-cased, no special tokens) to dst.
func (t *Tokenizer) Tokens(dst []int32, text string) []int32 {
	text = strings.ToLower(text)
	for piece := range pieces(text) {
		dst = t.appendPiece(dst, piece)
	}
	return dst
}

// Encode returns exactly contextLength ids: <start_of_text>, the caption's ids, <end_of_text>, then
// padding 0. A caption that does not fit is truncated and keeps the end token as its last id.
func (t *Tokenizer) Encode(text string, contextLength int) []int32 {
	return t.EncodeTo(make([]int32, contextLength), text)
}

// EncodeTo is Encode writing into dst (len(dst) is the context length, at least 2); it returns dst.
func (t *Tokenizer) EncodeTo(dst []int32, text string) []int32 {
	n := len(dst)
	if n < 2 {
		panic(fmt.Sprintf("tokenizer: context length %d < 2", n))
	}
	ids := append(dst[:0:n], t.StartID()) // full-slice cap: never writes past dst, grows (copies) on truncation
	for piece := range pieces(strings.ToLower(text)) {
		ids = t.appendPiece(ids, piece)
		if len(ids) >= n {
			break
		}
	}
	if len(ids) > n-1 {
		ids = ids[:n-1]
	}
	copy(dst, ids)
	dst[len(ids)] = t.EndID()
	clear(dst[len(ids)+1:])
	return dst
}

// Decode returns the text of ids: the start token is skipped, decoding stops at the end token (so
// padding is ignored), and other out-of-range ids are dropped.
func (t *Tokenizer) Decode(ids []int32) string {
	var b bytes.Buffer
	for _, id := range ids {
		switch {
		case id == t.EndID():
			return b.String()
		case id >= 0 && int(id) < len(t.tokens):
			b.Write(t.tokens[id])
		}
	}
	return b.String()
}

// appendPiece appends the BPE ids of one pre-tokenised piece.
func (t *Tokenizer) appendPiece(dst []int32, piece string) []int32 {
	t.cacheMu.RLock()
	ids, ok := t.cache[piece]
	t.cacheMu.RUnlock()
	if ok {
		return append(dst, ids...)
	}
	ids = t.bpe(piece)
	t.cacheMu.Lock()
	if len(t.cache) >= cacheLimit {
		clear(t.cache)
	}
	t.cache[piece] = ids
	t.cacheMu.Unlock()
	return append(dst, ids...)
}

// bpe merges the bytes of piece by rank: repeatedly the adjacent pair with the lowest merge index.
func (t *Tokenizer) bpe(piece string) []int32 {
	syms := make([]int32, len(piece))
	for i := 0; i < len(piece); i++ {
		syms[i] = int32(piece[i])
	}
	for len(syms) > 1 {
		best, bestRank := -1, int32(len(t.merges))
		for i := 0; i+1 < len(syms); i++ {
			if r, ok := t.ranks[mkpair(syms[i], syms[i+1])]; ok && r < bestRank {
				best, bestRank = i, r
			}
		}
		if best < 0 {
			break
		}
		p, id := t.merges[bestRank], 256+bestRank
		a, b := p.split()
		out := syms[:0]
		for i := 0; i < len(syms); i++ {
			if i+1 < len(syms) && syms[i] == a && syms[i+1] == b {
				out = append(out, id)
				i++
			} else {
				out = append(out, syms[i])
			}
		}
		syms = out
	}
	return syms
}

// class of a rune for pre-tokenisation.
type class uint8

const (
	classSpace class = iota
	classLetter
	classNumber
	classOther
)

func classify(r rune) class {
	switch {
	case r < utf8.RuneSelf:
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			return classLetter
		case r >= '0' && r <= '9':
			return classNumber
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f':
			return classSpace
		}
		return classOther
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	case unicode.IsSpace(r):
		return classSpace
	}
	return classOther
}

// contraction returns the length of a GPT-2 contraction ('s 't 're 've 'm 'll 'd) at s[i:], or 0.
func contraction(s string, i int) int {
	if s[i] != '\'' || i+1 >= len(s) {
		return 0
	}
	switch s[i+1] {
	case 's', 't', 'm', 'd':
		return 2
	case 'r':
		if i+2 < len(s) && s[i+2] == 'e' {
			return 3
		}
	case 'v':
		if i+2 < len(s) && s[i+2] == 'e' {
			return 3
		}
	case 'l':
		if i+2 < len(s) && s[i+2] == 'l' {
			return 3
		}
	}
	return 0
}

// pieces splits text as GPT-2's pattern does:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// without a regexp engine (Go's has no look-ahead, and a hand scanner is several times faster).
// The pieces concatenate back to text exactly.
func pieces(text string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		i := 0
		for i < len(text) {
			if n := contraction(text, i); n > 0 {
				if !yield(text[i : i+n]) {
					return
				}
				i += n
				continue
			}
			r, w := utf8.DecodeRuneInString(text[i:])
			c := classify(r)
			start := i
			if r == ' ' && i+1 < len(text) {
				r2, w2 := utf8.DecodeRuneInString(text[i+1:])
				if c2 := classify(r2); c2 != classSpace {
					// " ?X+": the space joins the run of class c2 that follows it.
					j := i + 1 + w2
					j = runEnd(text, j, c2)
					if !yield(text[start:j]) {
						return
					}
					i = j
					continue
				}
			}
			if c == classSpace {
				j := runEnd(text, i+w, classSpace)
				// \s+(?!\S): leave the last whitespace character to the next piece when a non-space follows
				// and the run is longer than one character.
				if j < len(text) {
					_, lw := utf8.DecodeLastRuneInString(text[i:j])
					if j-lw > i {
						j -= lw
					}
				}
				if !yield(text[start:j]) {
					return
				}
				i = j
				continue
			}
			j := runEnd(text, i+w, c)
			if !yield(text[start:j]) {
				return
			}
			i = j
		}
	}
}

// runEnd returns the end of the run of class c starting at j (contractions end an "other" run, as
// the regexp's alternation would only split there at a piece start; GPT-2 does not split inside).
func runEnd(text string, j int, c class) int {
	for j < len(text) {
		r, w := utf8.DecodeRuneInString(text[j:])
		if classify(r) != c {
			break
		}
		j += w
	}
	return j
}

// byteToRune is GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to U+0100….
var byteToRune, runeToByte = func() ([256]rune, map[rune]byte) {
	var b2r [256]rune
	r2b := make(map[rune]byte, 256)
	n := 0
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF {
			b2r[b] = rune(b)
		} else {
			b2r[b] = rune(256 + n)
			n++
		}
		r2b[b2r[b]] = byte(b)
	}
	return b2r, r2b
}()

func printable(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(byteToRune[c])
	}
	return sb.String()
}

func unprintable(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		b, ok := runeToByte[r]
		if !ok {
			return nil, fmt.Errorf("character %q is not in the byte alphabet", r)
		}
		out = append(out, b)
	}
	return out, nil
}

// fileFormat is tok.json.
type fileFormat struct {
	Version   int              `json:"version"`
	Type      string           `json:"type"`
	Lowercase bool             `json:"lowercase"`
	VocabSize int              `json:"vocab_size"`
	Special   map[string]int32 `json:"special"`
	Merges    []string         `json:"merges"` // "left right" in the printable byte alphabet, rank order
}

// MarshalJSON writes the tok.json form.
func (t *Tokenizer) MarshalJSON() ([]byte, error) {
	f := fileFormat{
		Version: FormatVersion, Type: "byte_bpe", Lowercase: true, VocabSize: t.VocabSize(),
		Special: map[string]int32{StartOfText: t.StartID(), EndOfText: t.EndID()},
		Merges:  make([]string, len(t.merges)),
	}
	for i, p := range t.merges {
		a, b := p.split()
		f.Merges[i] = printable(t.tokens[a]) + " " + printable(t.tokens[b])
	}
	return json.Marshal(f)
}

// Parse reads the tok.json form.
func Parse(data []byte) (*Tokenizer, error) {
	var f fileFormat
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("tokenizer: decode json: %w", err)
	}
	if f.Version != FormatVersion || f.Type != "byte_bpe" {
		return nil, fmt.Errorf("tokenizer: unsupported format version %d type %q", f.Version, f.Type)
	}
	ids := make(map[string]int32, 256+len(f.Merges))
	for b := range 256 {
		ids[string([]byte{byte(b)})] = int32(b)
	}
	merges := make([]pair, len(f.Merges))
	for i, m := range f.Merges {
		l, r, ok := strings.Cut(m, " ")
		if !ok {
			return nil, fmt.Errorf("tokenizer: merge %d %q: want \"left right\"", i, m)
		}
		lb, err := unprintable(l)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: merge %d: %w", i, err)
		}
		rb, err := unprintable(r)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: merge %d: %w", i, err)
		}
		a, okA := ids[string(lb)]
		b, okB := ids[string(rb)]
		if !okA || !okB {
			return nil, fmt.Errorf("tokenizer: merge %d %q uses a token not defined before it", i, m)
		}
		merges[i] = mkpair(a, b)
		joined := string(lb) + string(rb)
		if _, dup := ids[joined]; dup {
			return nil, fmt.Errorf("tokenizer: merge %d %q makes a token that already exists", i, m)
		}
		ids[joined] = int32(256 + i)
	}
	t, err := newFromMerges(merges)
	if err != nil {
		return nil, err
	}
	if f.VocabSize != t.VocabSize() || f.Special[StartOfText] != t.StartID() || f.Special[EndOfText] != t.EndID() {
		return nil, fmt.Errorf("tokenizer: vocab_size %d / special ids %v do not match %d merges", f.VocabSize, f.Special, len(merges))
	}
	return t, nil
}

// Load reads a tok.json file.
func Load(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Save writes tok.json atomically (temp file in the same directory, fsync, rename).
func (t *Tokenizer) Save(path string) error {
	data, err := t.MarshalJSON()
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data)
}

var errEmpty = errors.New("tokenizer: no captions to train on")
