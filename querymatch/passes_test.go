package querymatch

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// TestAsmLayout checks the record offsets passes_amd64.s relies on.
func TestAsmLayout(t *testing.T) {
	var tk token
	var w wordSlot
	var c gramCand
	var g gramSlot
	var tt tokTables
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"token", unsafe.Sizeof(tk), 32},
		{"token.v1", unsafe.Offsetof(tk.v1), 8},
		{"token.start", unsafe.Offsetof(tk.start), 16},
		{"token.n", unsafe.Offsetof(tk.n), 20},
		{"token.slot", unsafe.Offsetof(tk.slot), 24},
		{"wordSlot", unsafe.Sizeof(w), 32},
		{"wordSlot.id", unsafe.Offsetof(w.id), 24},
		{"wordSlot.meta", unsafe.Offsetof(w.meta), 28},
		{"gramCand", unsafe.Sizeof(c), 16},
		{"gramCand.pos", unsafe.Offsetof(c.pos), 8},
		{"gramCand.slot", unsafe.Offsetof(c.slot), 12},
		{"gramSlot", unsafe.Sizeof(g), 16},
		{"gramSlot.id", unsafe.Offsetof(g.id), 8},
		{"gramSlot.meta", unsafe.Offsetof(g.meta), 12},
		{"tokTables.m2", unsafe.Offsetof(tt.m2), 8},
		{"tokTables.heads", unsafe.Offsetof(tt.heads), 16},
		{"tokTables.punct", unsafe.Offsetof(tt.punct), 288},
		{"tokTables.words", unsafe.Offsetof(tt.words), 2336},
		{"tokTables.fbits", unsafe.Offsetof(tt.fbits), 2344},
		{"tokTables.seps", unsafe.Offsetof(tt.seps), 10536},
		{"tokTables.nibbles", unsafe.Offsetof(tt.nibbles), 10696},
		{"tokTables.avx2", unsafe.Offsetof(tt.avx2), 10792},
	} {
		if f.got != f.want {
			t.Errorf("%s at %d, the assembly expects %d", f.name, f.got, f.want)
		}
	}
}

// passTexts are texts for comparing the passes: real captions and random
// ones rich in separators, long words and multi-byte characters.
func passTexts(t testing.TB) []string {
	texts := readCaptions(t)[:500]
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{" ", "  ", ",", ", ", ".", "!", "?", ";", ":", "`", "\t", "\n", "\r", "the", "dog", "hot", "New",
		"York", "City", "e-mail", "café", "東京", "\xff", "wordofsixteenbyt", "word-of-twenty-bytes",
		"a-word-of-more-than-twenty-four-bytes", "U", "S", "x"}
	for range 500 {
		var b strings.Builder
		for range rng.IntN(60) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		texts = append(texts, b.String())
	}
	return append(texts, "", " ", ".", strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a ", 64), strings.Repeat("ab.", 100))
}

// TestAsmPasses runs the assembly passes and their Go versions on the same
// input and compares every record they write.
func TestAsmPasses(t *testing.T) {
	asmMatcher(t)
	// Both separator tests of the tokenizer, AVX2 where the machine has
	// it, on a matcher of their own.
	for _, avx2 := range []bool{false, true} {
		if avx2 && !haveAVX2() {
			t.Log("no AVX2 on this machine: its separator test is not run")
			continue
		}
		m, err := loadDefault(Options{})
		if err != nil {
			t.Fatal(err)
		}
		m.tt.avx2 = 0
		if avx2 {
			m.tt.avx2 = 1
		}
		for _, text := range passTexts(t) {
			comparePasses(t, m, text)
		}
	}
}

func FuzzPasses(f *testing.F) {
	m := asmMatcher(f)
	for _, text := range passTexts(f)[495:510] {
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, text string) { comparePasses(t, m, text) })
}

// asmMatcher is the default matcher, for comparing the passes; it skips
// the test where the passes have no assembly.
func asmMatcher(t testing.TB) *Matcher {
	t.Helper()
	if !haveAsmPasses {
		t.Skip("no assembly passes on this architecture")
	}
	m, err := Default(Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func comparePasses(t testing.TB, m *Matcher, text string) {
	t.Helper()
	n := len(text)
	buf := append([]byte(text), make([]byte, textPad)...)
	masks := make([]uint64, maskWords(n))
	sepMasks(buf, n, masks)
	toksA, toksG := make([]token, 2*n+2), make([]token, 2*n+2)
	nt := m.tokenize(buf, n, toksA, new(matchScratch))
	if ntG := m.tokenizeGo(buf, n, masks, toksG); nt != ntG {
		t.Fatalf("%q: tokenize %d tokens, tokenizeGo %d", text, nt, ntG)
	}
	for i := range nt {
		a, g := toksA[i], toksG[i]
		if a != g {
			t.Fatalf("%q token %d: tokenize %+v, tokenizeGo %+v", text, i, a, g)
		}
	}
	// The assembly tokenizer on the text followed by anything but zeros
	// (MatchIDs passes the caller's text as it is): separators,
	// punctuation, letters.
	for _, junk := range []string{" ", ",", ".x", "a", "\xff", "` ;"} {
		dirty := append([]byte(text), bytes.Repeat([]byte(junk), textPad)[:textPad]...)
		toksD := make([]token, 2*n+2)
		if nd := m.tokenize(dirty[:n], n, toksD, new(matchScratch)); nd != nt || !slices.Equal(toksD[:nd], toksG[:nt]) {
			t.Fatalf("%q followed by %q: tokenize %+v, tokenizeGo %+v", text, junk, toksD[:nd], toksG[:nt])
		}
	}
	toks := toksG[:nt]
	wordsA, wordsG := make([]wordOf, nt), make([]wordOf, nt)
	slowA, slowG := make([]int32, nt), make([]int32, nt)
	ns := m.resolveWords(toks, wordsA, slowA)
	nsG := m.resolveWordsGo(toks, wordsG, slowG)
	if !slices.Equal(wordsA, wordsG) || !slices.Equal(slowA[:ns], slowG[:nsG]) {
		t.Fatalf("%q: resolveWords %x slow %v, resolveWordsGo %x slow %v", text, wordsA, slowA[:ns], wordsG, slowG[:nsG])
	}
	for _, s := range slowG[:nsG] {
		wordsG[s] = m.resolveSlow(buf, &toks[s])
	}
	foundA, foundG := make([]uint64, nt), make([]uint64, nt)
	candsA, candsG := make([]gramCand, nt), make([]gramCand, nt)
	nf, nc := m.pairs(wordsG, foundA, candsA)
	nfG, ncG := m.pairsGo(wordsG, foundG, candsG)
	if !slices.Equal(foundA[:nf], foundG[:nfG]) || !slices.Equal(candsA[:nc], candsG[:ncG]) {
		t.Fatalf("%q: pairs %x %v, pairsGo %x %v", text, foundA[:nf], candsA[:nc], foundG[:nfG], candsG[:ncG])
	}
	// resolveGrams level by level, each on the same input as
	// resolveGramsGo (words with room for the noWord it writes after
	// them).
	wordsR := append(slices.Clone(wordsG), 0)[:nt]
	found, cands := foundG[:nfG], candsG[:ncG]
	var touch uint32
	for level := 1; len(cands) > 0; level++ {
		foundR, candsR := m.resolveGrams(wordsR, slices.Clone(found), slices.Clone(cands), level, &touch)
		found, cands = m.resolveGramsGo(wordsG, found, cands, level, &touch)
		if !slices.Equal(foundR, found) || !slices.Equal(candsR, cands) {
			t.Fatalf("%q level %d: resolveGrams %x %v, resolveGramsGo %x %v", text, level, foundR, candsR, found, cands)
		}
	}
	compareReports(t, m, text, found, nfG)
}

// compareReports runs report and reportGo on copies of found (the first
// words records one-word matches) and compares what they append and how
// they leave found.
func compareReports(t testing.TB, m *Matcher, name string, found []uint64, words int) {
	t.Helper()
	foundA, foundG := slices.Clone(found), slices.Clone(found)
	dst := []int32{-7}
	got, want := m.report(dst, foundA, words), m.reportGo(dst, foundG, words)
	if !slices.Equal(got, want) || !slices.Equal(foundA, foundG) {
		t.Fatalf("%s: report %v (found %x), reportGo %v (found %x)", name, got, foundA, want, foundG)
	}
}

// TestAsmReport compares report with reportGo on random raw matches: ids
// from a small range (so that they repeat and share seen bits), keys
// shared by several entries, up to 40 records in up to 4 levels.
func TestAsmReport(t *testing.T) {
	if !haveAsmPasses {
		t.Skip("no assembly passes on this architecture")
	}
	m, err := New([]string{"Apple", "apple", "APPLE", "pie", "Pie", "dog"}, nil, Options{FoldCase: true})
	if err != nil {
		t.Fatal(err)
	}
	shared := []uint32{0, 3} // ids whose keys are shared (dupNext)
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 20000 {
		nt := 1 + rng.IntN(30)
		var found []uint64
		words := 0
		for level := range 1 + rng.IntN(4) {
			for pos := range nt {
				if rng.IntN(3) != 0 {
					continue
				}
				id := uint64(10 + rng.IntN(300))
				if rng.IntN(40) == 0 {
					id = uint64(shared[rng.IntN(2)]) | rawDup
				}
				found = append(found, uint64(pos)<<32|id)
			}
			if level == 0 {
				words = len(found)
			}
		}
		compareReports(t, m, fmt.Sprintf("round %d", round), found, words)
	}
}
