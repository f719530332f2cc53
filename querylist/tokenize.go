package querylist

import (
	"unicode"
	"unicode/utf8"

	"github.com/witdata/wit/querymatch"
)

// Corpus tokenisation (for unigram and bigram counts), chosen so that every
// counted token and bigram is something the Matcher can find:
//
//   - A line is cut at Unicode white space into fields, and each field at the
//     characters the matcher spaces (, . ; : ? ! `), so "U.S." gives "U" and
//     "S" and "York," gives "York".
//   - Each piece loses its leading and trailing characters that are neither
//     letters, digits nor marks (quotes, brackets, dashes, apostrophes, …);
//     inner ones stay ("don't", "well-known", "AT&T").
//   - A piece without any letter is dropped (numbers, "--").
//   - Case is kept (the matcher is case-sensitive by default).
//   - Two tokens form a bigram only when they were separated by white space
//     alone: a matcher punctuation character, a dropped piece, a trimmed
//     character between them or a line break ends the run. So "New York" in
//     "(New York)" counts, "Paris, France" does not.
//
// tokenizeLine calls emit for every token; joined reports whether it forms a
// bigram with the previous token.
func tokenizeLine(line []byte, emit func(tok []byte, joined bool)) {
	prevOK := false
	i := 0
	n := len(line)
	for i < n {
		// Skip white space (does not break a run).
		c := line[i]
		if c < utf8.RuneSelf {
			if asciiSpace[c] {
				i++
				continue
			}
		} else if r, size := utf8.DecodeRune(line[i:]); unicode.IsSpace(r) {
			i += size
			continue
		}
		// Piece: up to white space or a matcher punctuation character.
		j := i
		for j < n {
			c := line[j]
			if c < utf8.RuneSelf {
				if asciiSpace[c] || spacedPunct[c] {
					break
				}
				j++
				continue
			}
			r, size := utf8.DecodeRune(line[j:])
			if unicode.IsSpace(r) {
				break
			}
			j += size
		}
		piece := line[i:j]
		endsWithPunct := j < n && line[j] < utf8.RuneSelf && spacedPunct[line[j]]
		if j == i { // a punctuation character itself
			prevOK = false
			i++
			continue
		}
		i = j
		start, end := trimToWord(piece)
		if start > 0 {
			prevOK = false
		}
		tok := piece[start:end]
		if !hasLetter(tok) {
			prevOK = false
			continue
		}
		emit(tok, prevOK)
		prevOK = end == len(piece) && !endsWithPunct
	}
}

var asciiSpace = [utf8.RuneSelf]bool{' ': true, '\t': true, '\n': true, '\v': true, '\f': true, '\r': true}

// spacedPunct marks the characters the matcher spaces
// (querymatch.SpacedPunctuation).
var spacedPunct = func() (t [utf8.RuneSelf]bool) {
	for _, c := range []byte(querymatch.SpacedPunctuation) {
		t[c] = true
	}
	return t
}()

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// trimToWord returns the bounds of piece without leading/trailing non-word
// runes.
func trimToWord(piece []byte) (start, end int) {
	for start < len(piece) {
		r, size := utf8.DecodeRune(piece[start:])
		if isWordRune(r) {
			break
		}
		start += size
	}
	end = len(piece)
	for end > start {
		r, size := utf8.DecodeLastRune(piece[start:end])
		if isWordRune(r) {
			break
		}
		end -= size
	}
	return start, end
}

func hasLetter(tok []byte) bool {
	for i := 0; i < len(tok); {
		c := tok[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(tok[i:])
		if unicode.IsLetter(r) {
			return true
		}
		i += size
	}
	return false
}
