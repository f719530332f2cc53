//go:build !purego

package querymatch

import (
	"slices"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// On amd64 the passes run in assembly (passes_amd64.s): the Go compiler
// keeps too little of these loops in registers, and spills and reloads
// took about half their instructions. Each routine does exactly what its
// Go version (tokenizeGo, resolveWordsGo, pairsGo, resolveGramsGo,
// reportGo) does, which TestAsmPasses, TestAsmReport and FuzzPasses check
// record by record. The wrappers check the lengths the routines rely on.

// haveAsmPasses reports whether the passes below run in assembly.
const haveAsmPasses = true

// haveAVX2 reports whether the tokenizer can find separators with AVX2.
func haveAVX2() bool { return cpu.X86.HasAVX2 }

//go:noescape
func tokenizeAMD64(buf *byte, n int, toks *token, tt *tokTables, seed uint64, shift uint64) int

//go:noescape
func resolveWordsAMD64(toks *token, nt int, table *wordSlot, words *wordOf, slow *int32) int

//go:noescape
func pairsAMD64(words *wordOf, nw int, found *uint64, cands *gramCand, filter *uint64, fmask uint64, seed uint64, tt *tokTables) (nf, nc int)

// tokenize is pass 1 (tokenizeGo, finding the separators as it goes).
// The textPad bytes after the text need not be zeros, nor within buf's
// length: only readable (buf's capacity, or readableAfter).
func (m *Matcher) tokenize(buf []byte, n int, toks []token, _ *matchScratch) int {
	if n < 0 || len(buf) < n || cap(buf) < n+textPad && !readableAfter(buf, n) || len(toks) < 2*n+2 {
		panic("querymatch: tokenize: short buffers")
	}
	return tokenizeAMD64(unsafe.SliceData(buf), n, unsafe.SliceData(toks), &m.tt, m.seed, uint64(m.wordShift))
}

// resolveWords is pass 2 (resolveWordsGo). Every token's slot is below
// len(m.words): tokenize takes it from the top bits of a hash.
func (m *Matcher) resolveWords(toks []token, words []wordOf, slow []int32) int {
	if len(words) < len(toks) || len(slow) < len(toks) {
		panic("querymatch: resolveWords: short buffers")
	}
	if len(toks) == 0 {
		return 0
	}
	return resolveWordsAMD64(unsafe.SliceData(toks), len(toks), unsafe.SliceData(m.words), unsafe.SliceData(words), unsafe.SliceData(slow))
}

// pairs is pass 3 (pairsGo).
func (m *Matcher) pairs(words []wordOf, found []uint64, cands []gramCand) (nf, nc int) {
	if len(found) < len(words) || len(cands) < len(words) {
		panic("querymatch: pairs: short buffers")
	}
	if len(words) == 0 {
		return 0, 0
	}
	return pairsAMD64(unsafe.SliceData(words), len(words), unsafe.SliceData(found), unsafe.SliceData(cands),
		unsafe.SliceData(m.gramFilter), uint64(len(m.gramFilter)-1), m.seed, &m.tt)
}

//go:noescape
func reportAMD64(found *uint64, n int, words int, out *int32, seen *[4]uint64) (k, stop int)

// report is the last pass (reportGo); a key shared by several entries
// hands the rest to reportShared, with the seen bits so far.
func (m *Matcher) report(dst []int32, found []uint64, words int) []int32 {
	if words < 0 || words > len(found) {
		panic("querymatch: report: bad word count")
	}
	if len(found) == 0 {
		return dst
	}
	base := len(dst)
	dst = slices.Grow(dst, len(found))
	var seen [4]uint64
	k, stop := reportAMD64(unsafe.SliceData(found), len(found), words, unsafe.SliceData(dst[base:base+len(found)]), &seen)
	if stop < len(found) {
		return m.reportShared(dst[:base+k], found[stop:], base, &seen)
	}
	return dst[:base+k]
}

//go:noescape
func resolveGramsAMD64(cands *gramCand, nc int, found *uint64, words *wordOf, grams *gramSlot, gshift uint64, gmask uint64, filter *uint64, fmask uint64, seed uint64, tt *tokTables, level int) (nf, k int)

// resolveGrams is pass 4 (resolveGramsGo). words must have room for one
// more record after its tokens (noWord is written there). touch is
// unused: the assembly starts the loads of the home slots itself.
func (m *Matcher) resolveGrams(words []wordOf, found []uint64, cands []gramCand, level int, _ *uint32) ([]uint64, []gramCand) {
	if len(cands) == 0 {
		return found, cands
	}
	nt := len(words)
	words = words[:nt+1]
	words[nt] = wordOf(noWord)
	for _, cd := range cands {
		if cd.pos < 0 || int(cd.pos)+level >= nt {
			panic("querymatch: resolveGrams: candidate past the tokens")
		}
	}
	nf := len(found)
	found = slices.Grow(found, len(cands))
	n, k := resolveGramsAMD64(unsafe.SliceData(cands), len(cands), unsafe.SliceData(found[nf:nf+len(cands)]), unsafe.SliceData(words),
		unsafe.SliceData(m.grams), uint64(m.gramShift), uint64(len(m.grams)-1), unsafe.SliceData(m.gramFilter), uint64(len(m.gramFilter)-1),
		m.seed, &m.tt, level)
	return found[:nf+n], cands[:k]
}

// readableAfter reports whether the textPad bytes after buf[:n] (n > 0)
// can be read: whether they are on the memory page of its last byte. The
// assembly passes read them (and ignore what they hold), so MatchIDs can
// pass the caller's text without copying it (as Go's own assembly reads
// past the end of short strings within a page).
func readableAfter(buf []byte, n int) bool {
	if n == 0 {
		return false
	}
	last := uintptr(unsafe.Pointer(unsafe.SliceData(buf))) + uintptr(n) - 1
	return last/pageSize == (last+textPad)/pageSize
}

// pageSize is the smallest memory page of amd64.
const pageSize = 4096
