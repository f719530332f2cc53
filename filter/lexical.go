package filter

import "strings"

// The lexical pre-check answers the English question for Latin-script captions whose function
// words settle it, before lingua is asked. It only fires on clear cases:
//   - English: every letter ASCII, at least two tokens from englishOnly (function words that are
//     not words of the other common Latin-script languages: "the", "and", "with", ...), no token
//     from otherOnly, and they make up at least a quarter of the words;
//   - not English: at least two tokens from otherOnly ("der", "les", "und", "della", "och", ...)
//     and none from englishOnly.
// Everything else goes to lingua. Its precision and recall are measured with the lingua path on
// the Debian catalogues (langeval_test.go) and reported in the package doc.

var englishOnly = wordSet(`the and with from this that these those which what where when who whom whose
	your you are were been being have has had does did would could should will shall not
	into onto after before about above below between through during without within
	there their they them our ours its it's can't don't doesn't isn't aren't wasn't won't
	of or be if than then only such each other more most some any all
	how why just can may must here very both many much new use used using`)

var otherOnly = wordSet(`der die das und ist nicht mit für von den dem des ein eine einer eines auf zu im
	aus bei oder wird werden kann sind wurde nach über auch
	le la les des du une est et pour dans sur pas avec par qui que au aux ou être sont cette
	ces il elle ne se sa ses leur
	el los las del por con para una es su sus como más pero está este esta ser
	il di della delle dei degli non che con una sono nella nel alla gli
	não em os um uma com para pelo pela mais são foi ao dos das
	het een niet voor zijn op te dat ook wordt kan naar bij deze
	och att är inte med för det som på av en ett kan har eller
	nie jest się na że z w o od dla jak
	ve bir bu ile için da de olarak
	và của có không được là những cho với`)

func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// lexicalEnglish returns +1 (English), -1 (not English) or 0 (ask lingua).
func lexicalEnglish(text string) int {
	ascii := true
	for i := 0; i < len(text); i++ {
		if text[i] >= 0x80 {
			ascii = false
			break
		}
	}
	var buf [64]byte
	en, other, words := 0, 0, 0
	for tok := range strings.FieldsSeq(text) {
		words++
		w := buf[:0]
		for i := 0; i < len(tok) && len(w) < len(buf); i++ {
			c := tok[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if (c >= 'a' && c <= 'z') || c == '\'' || c >= 0x80 {
				w = append(w, c)
			}
		}
		if len(w) == 0 {
			continue
		}
		if englishOnly[string(w)] {
			en++
		}
		if otherOnly[string(w)] {
			other++
		}
	}
	switch {
	case ascii && en >= 2 && other == 0 && en*4 >= words:
		return 1
	case other >= 2 && en == 0:
		return -1
	}
	return 0
}
