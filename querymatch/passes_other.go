//go:build !amd64 || purego

package querymatch

// haveAsmPasses reports whether the passes below run in assembly.
const haveAsmPasses = false

// haveAVX2 is false: only the assembly tokenizer uses AVX2.
func haveAVX2() bool { return false }

// tokenize is pass 1 (tokenizeGo, with the separators from sepMasks).
func (m *Matcher) tokenize(buf []byte, n int, toks []token, sc *matchScratch) int {
	masks := sc.masks[:maskWords(n)]
	sepMasks(buf, n, masks)
	return m.tokenizeGo(buf, n, masks, toks)
}

// resolveWords is pass 2 (resolveWordsGo).
func (m *Matcher) resolveWords(toks []token, words []wordOf, slow []int32) int {
	return m.resolveWordsGo(toks, words, slow)
}

// pairs is pass 3 (pairsGo).
func (m *Matcher) pairs(words []wordOf, found []uint64, cands []gramCand) (nf, nc int) {
	return m.pairsGo(words, found, cands)
}

// report is the last pass (reportGo).
func (m *Matcher) report(dst []int32, found []uint64, words int) []int32 {
	return m.reportGo(dst, found, words)
}

// resolveGrams is pass 4 (resolveGramsGo).
func (m *Matcher) resolveGrams(words []wordOf, found []uint64, cands []gramCand, level int, touch *uint32) ([]uint64, []gramCand) {
	return m.resolveGramsGo(words, found, cands, level, touch)
}

// readableAfter is false: the Go passes need textPad zero bytes after the
// text.
func readableAfter([]byte, int) bool { return false }
