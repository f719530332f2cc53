package filter

import (
	"archive/zip"
	"bytes"
	"embed"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"unicode"
	_ "unsafe" // go:linkname to lingua's embedded model files

	"github.com/pemistahl/lingua-go"
	"github.com/pemistahl/lingua-go/serialization"
	"google.golang.org/protobuf/proto"
)

// The fast scorer is a character n-gram Markov model (orders 1 to 4) over lingua's own model
// data: lingua stores, per language, P(c) for unigrams and P(last char | previous chars) for
// bigrams to quadrigrams, estimated on the same corpora its detector uses. All languages' log
// probabilities for one n-gram sit in one row of an open-addressing table keyed by a 64-bit hash
// of the lower-cased runes, quantised to a byte, so scoring a caption is a few table probes per
// letter and no allocation (lingua's high accuracy mode builds maps, strings, goroutines and
// arbitrary-precision decimals for every caption, ~1 ms each).
//
// The scorer only answers when its margin is clear (see LanguageFilter.Detect); close calls go
// to lingua.

// linguaModelFS is lingua-go's embedded language-models directory (zipped protobuf files).
// lingua does not export it; reading it here avoids a second copy of ~100 MB of model files in
// this repository. Pinned by go.mod to lingua-go v1.4.0 (the layout is checked when loading).
//
//go:linkname linguaModelFS github.com/pemistahl/lingua-go.languageModels
var linguaModelFS embed.FS

const (
	fastMaxOrder = 4
	// fastScale quantises -ln p: a byte holds 0 to 254/fastScale nats (21 nats at 12).
	fastScale  = 12
	fastAbsent = 255
	// fastBackoff is the cost, in quantised units, of each order the scorer backs off (stupid
	// back-off with weight e^-1 per order).
	fastBackoff = fastScale * 1
	// fastUnseen is the cost of a letter the language's unigram model has never seen.
	fastUnseen = fastScale * 16
)

// fastModel holds the n-gram table for a set of languages.
type fastModel struct {
	langs []lingua.Language
	mask  uint64     // len(slots) - 1 (a power of two)
	slots []fastSlot // open addressing, linear probing
	vals  []uint8    // len(langs) quantised -ln p per row; fastAbsent where the language lacks it
	bytes int        // approximate heap size, for reports
}

// fastSlot is one table slot: the key and its row sit together, so a probe is one cache miss.
type fastSlot struct {
	key uint64 // hash of the n-gram; 0 = empty
	row uint32 // offset of the n-gram's row in vals
}

// fastScore is the outcome of scoring one text.
type fastScore struct {
	letters int     // letters scored
	best    int     // index into langs of the most likely language
	scores  []int32 // per language: sum of quantised -ln p (lower is more likely)
}

var (
	fastModelsMu sync.Mutex
	fastModels   = map[string]*fastModel{}
)

// fastModelFor builds (once per process and language set) the table for langs.
func fastModelFor(langs []lingua.Language) (*fastModel, error) {
	langs = slices.Clone(langs)
	slices.Sort(langs)
	key := fmt.Sprint(langs)
	fastModelsMu.Lock()
	defer fastModelsMu.Unlock()
	if m, ok := fastModels[key]; ok {
		return m, nil
	}
	m, err := buildFastModel(langs)
	if err != nil {
		return nil, err
	}
	fastModels[key] = m
	return m, nil
}

// fastHash hashes a rune sequence (an n-gram of 1 to 4 runes). Build and lookup share it.
func fastHash(r []rune) uint64 {
	h := uint64(len(r)) * 0x9E3779B97F4A7C15
	for _, c := range r {
		h = (h ^ uint64(c)) * 0xbf58476d1ce4e5b9
		h ^= h >> 29
	}
	h ^= h >> 32
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	if h == 0 {
		h = 1
	}
	return h
}

func readLinguaModel(l lingua.Language, order int) (*serialization.SerializableLanguageModel, error) {
	names := [...]string{1: "unigrams", 2: "bigrams", 3: "trigrams", 4: "quadrigrams"}
	path := fmt.Sprintf("language-models/%s/%s.pb.bin.zip", strings.ToLower(l.IsoCode639_1().String()), names[order])
	zipped, err := linguaModelFS.ReadFile(path)
	if err != nil {
		return nil, nil // lingua has no model of this order for l (e.g. Japanese bigrams)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil || len(zr.File) != 1 {
		return nil, fmt.Errorf("lingua model %s: not a one-file zip: %v", path, err)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		return nil, fmt.Errorf("lingua model %s: %w", path, err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("lingua model %s: %w", path, err)
	}
	var m serialization.SerializableLanguageModel
	if err := proto.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("lingua model %s: %w", path, err)
	}
	if int(m.NgramLength) != order {
		return nil, fmt.Errorf("lingua model %s: n-gram length %d, want %d", path, m.NgramLength, order)
	}
	return &m, nil
}

func quantise(p float64) uint8 {
	if !(p > 0) {
		return fastAbsent
	}
	q := math.Round(-math.Log(min(p, 1)) * fastScale)
	return uint8(min(q, fastAbsent-1))
}

// buildFastModel decodes lingua's unigram to quadrigram models of langs into one table. Each
// model is decoded and merged before the next is read, so the transient memory is one model.
func buildFastModel(langs []lingua.Language) (*fastModel, error) {
	if len(langs) == 0 || len(langs) > 64 {
		return nil, fmt.Errorf("fast language model: %d languages, want 1 to 64", len(langs))
	}
	n := len(langs)
	fm := &fastModel{langs: langs}
	fm.resize(1 << 16)
	used := 0
	var win [fastMaxOrder]rune
	for li, l := range langs {
		for order := 1; order <= fastMaxOrder; order++ {
			m, err := readLinguaModel(l, order)
			if err != nil {
				return nil, err
			}
			if m == nil {
				continue
			}
			if need := used + int(m.TotalNgrams); need*4 > len(fm.slots)*3 {
				fm.resize(1 << bits.Len(uint(need*4/3)))
			}
			for _, set := range m.NgramSets {
				q := quantise(set.Probability)
				for _, g := range set.Ngrams {
					k := 0
					for _, r := range g {
						if k == len(win) {
							k++
							break
						}
						win[k] = r
						k++
					}
					if k != order {
						continue
					}
					if used*4 >= len(fm.slots)*3 { // a header that undercounts: keep the load bounded
						fm.resize(2 * len(fm.slots))
					}
					h := fastHash(win[:k])
					i := h & fm.mask
					for fm.slots[i].key != 0 && fm.slots[i].key != h {
						i = (i + 1) & fm.mask
					}
					if fm.slots[i].key == 0 {
						used++
						fm.slots[i] = fastSlot{h, uint32(len(fm.vals))}
						for range n {
							fm.vals = append(fm.vals, fastAbsent)
						}
					}
					fm.vals[int(fm.slots[i].row)+li] = q
				}
			}
		}
	}
	fm.vals = slices.Clip(fm.vals)
	fm.bytes = len(fm.slots)*16 + len(fm.vals)
	return fm, nil
}

// resize rehashes the table into size slots (a power of two).
func (m *fastModel) resize(size int) {
	old := m.slots
	m.slots, m.mask = make([]fastSlot, size), uint64(size-1)
	for _, s := range old {
		if s.key == 0 {
			continue
		}
		i := s.key & m.mask
		for m.slots[i].key != 0 {
			i = (i + 1) & m.mask
		}
		m.slots[i] = s
	}
}

// lookup returns the row of the n-gram with hash h, or nil.
func (m *fastModel) lookup(h uint64) []uint8 {
	for i := h & m.mask; ; i = (i + 1) & m.mask {
		switch s := m.slots[i]; s.key {
		case h:
			return m.vals[int(s.row) : int(s.row)+len(m.langs)]
		case 0:
			return nil
		}
	}
}

// score scores every letter of text, in words of letters as lingua splits them (no n-gram
// crosses a non-letter), with the longest n-gram ending at that letter any language knows,
// backing off to shorter ones. scores must have len(m.langs) entries; it is overwritten.
func (m *fastModel) score(text string, scores []int32) fastScore {
	clear(scores)
	var win [fastMaxOrder]rune // the word's last runes, oldest first
	inWord := 0
	res := fastScore{scores: scores}
	for _, r := range text {
		if r < 0x80 {
			if r >= 'A' && r <= 'Z' {
				r += 'a' - 'A'
			} else if r < 'a' || r > 'z' {
				inWord = 0
				continue
			}
		} else if unicode.IsLetter(r) {
			r = unicode.ToLower(r)
		} else {
			inWord = 0
			continue
		}
		copy(win[:], win[1:])
		win[fastMaxOrder-1] = r
		inWord++
		res.letters++
		// Longest n-gram first; stop backing off once every language has a probability.
		maxOrder := min(inWord, fastMaxOrder)
		open := len(scores)
		var cost [64]int32
		for li := range scores {
			cost[li] = -1
		}
		for o := maxOrder; o >= 1 && open > 0; o-- {
			row := m.lookup(fastHash(win[fastMaxOrder-o:]))
			if row == nil {
				continue
			}
			penalty := int32(maxOrder-o) * fastBackoff
			for li, v := range row {
				if v != fastAbsent && cost[li] < 0 {
					cost[li] = min(int32(v)+penalty, fastUnseen) // never worse than unseen
					open--
				}
			}
		}
		for li := range scores {
			if cost[li] < 0 {
				cost[li] = fastUnseen
			}
			scores[li] += cost[li]
		}
	}
	for li := range scores {
		if scores[li] < scores[res.best] {
			res.best = li
		}
	}
	return res
}
