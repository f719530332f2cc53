package extract

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// cleanText normalises caption and title text: invalid UTF-8, control and
// invisible format characters are removed, every run of white space (including
// no-break spaces, newlines and tabs) becomes one space, the ends are trimmed
// and the result is cut to maxRunes runes. Entities were already decoded by the
// HTML parser. Plain ASCII text that needs none of this is returned as is,
// without allocating.
func cleanText(s string, maxRunes int) string {
	if isCleanASCII(s, maxRunes) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), 4*maxRunes))
	n := 0
	pendingSpace := false
	for i := 0; i < len(s) && n < maxRunes; {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r < utf8.RuneSelf {
			switch {
			case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v':
				pendingSpace = b.Len() > 0
				continue
			case r < 0x20 || r == 0x7f:
				continue
			}
		} else {
			if unicode.IsSpace(r) {
				pendingSpace = b.Len() > 0
				continue
			}
			if dropRune(r) {
				continue
			}
		}
		if pendingSpace {
			if n+1 >= maxRunes {
				break
			}
			b.WriteByte(' ')
			n++
			pendingSpace = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// isCleanASCII reports whether s is printable ASCII without leading, trailing
// or doubled spaces, and short enough.
func isCleanASCII(s string, maxRunes int) bool {
	if len(s) == 0 || len(s) > maxRunes || s[0] == ' ' || s[len(s)-1] == ' ' {
		return len(s) == 0
	}
	prevSpace := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f {
			return false
		}
		if c == ' ' {
			if prevSpace {
				return false
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
	}
	return true
}

// dropRune reports non-ASCII runes that carry no visible text: invalid input
// (utf8.RuneError, also a literal U+FFFD left by a decoder), C1 controls, the
// BOM / zero-width no-break space, zero-width space, word joiner, soft hyphen
// and Unicode noncharacters.
func dropRune(r rune) bool {
	switch {
	case r == utf8.RuneError, r == 0xFEFF, r == 0x200B, r == 0x2060, r == 0x00AD:
		return true
	case r >= 0x80 && r <= 0x9F: // C1 controls
		return true
	case r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFE == 0xFFFE: // noncharacters
		return true
	}
	return false
}

// CleanCaption cleans caption text the way Extract does (white space collapsed, control and
// invisible characters and invalid UTF-8 removed, cut to MaxCaptionRunes), for captions read
// from elsewhere than a parsed page.
func CleanCaption(s string) string { return cleanText(s, MaxCaptionRunes) }

// stripFigureLabel removes the number label a documentation generator puts before a figure
// title ("Figure 2.1. ", "Abbildung 2.1. ", "図2.1 ", "Fig. 3: "): a word of 1 to 20 letters,
// then a dotted number ("2.1") or a number followed by '.' or ':', then a space.
// Anything else is returned as it is ("Route 66 sign" keeps its number).
func stripFigureLabel(s string) string {
	i := 0
	for n := 0; i < len(s) && n <= 20; n++ {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsLetter(r) {
			break
		}
		i += size
	}
	if i == 0 {
		return s // no label word: "2.1 million visitors" is the title itself
	}
	if i < len(s) && s[i] == '.' {
		i++
	}
	if i < len(s) && s[i] == ' ' {
		i++
	}
	start, dots := i, 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' && i > start && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9') {
		if s[i] == '.' {
			dots++
		}
		i++
	}
	if i == start {
		return s
	}
	punct := i < len(s) && (s[i] == '.' || s[i] == ':')
	if punct {
		i++
	}
	if (dots == 0 && !punct) || i >= len(s) || s[i] != ' ' {
		return s
	}
	if rest := strings.TrimSpace(s[i:]); rest != "" {
		return rest
	}
	return s
}
