package filter

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Reason names why a pair was dropped. The empty reason means kept. The values are written to
// the drop_reason column and used as keys in the stats JSON, so they are a public contract.
type Reason string

// Drop reasons, in the order the filter applies them (cheapest first).
const (
	Kept               Reason = ""
	ReasonInvalidUTF8  Reason = "invalid_utf8"     // only with InvalidUTF8Drop
	ReasonEmpty        Reason = "empty"            // nothing left after normalisation
	ReasonJunkURL      Reason = "junk_url"         // the caption is a bare URL
	ReasonJunkFilename Reason = "junk_filename"    // IMG_1234.JPG, DSC0001, image.png
	ReasonBoilerplate  Reason = "junk_boilerplate" // "image", "logo", "untitled", "click here", ...
	ReasonJunkSymbols  Reason = "junk_symbols"     // mostly digits, punctuation or symbols
	ReasonTooShort     Reason = "too_short"        // fewer than MinChars characters
	ReasonTooFewWords  Reason = "too_few_words"    // fewer than MinWords words
	ReasonTooLong      Reason = "too_long"         // more than MaxChars characters
	ReasonNoQuery      Reason = "no_query_match"   // matched no entry of the query list
	ReasonLanguage     Reason = "language"         // not one of the wanted languages
	ReasonDuplicate    Reason = "duplicate"        // same (image URL, normalised caption) seen before
	ReasonBalance      Reason = "balance"          // lost every balancing coin flip
)

// AllReasons lists the drop reasons in application order (for stable stats output).
var AllReasons = []Reason{
	ReasonInvalidUTF8, ReasonEmpty, ReasonJunkURL, ReasonJunkFilename, ReasonBoilerplate,
	ReasonJunkSymbols, ReasonTooShort, ReasonTooFewWords, ReasonTooLong, ReasonNoQuery,
	ReasonLanguage, ReasonDuplicate, ReasonBalance,
}

// Normalize cleans a caption the way every later stage sees it: HTML entities decoded (twice at
// most, web alt text is often double-escaped: "&amp;amp;"), control characters dropped, every run
// of Unicode white space (NBSP, zero-width space, tabs, newlines) collapsed to one ASCII space,
// trimmed. Invalid UTF-8 bytes are removed; repaired reports whether any were.
func Normalize(s string) (norm string, repaired bool) {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
		repaired = true
	}
	for range 2 {
		if strings.IndexByte(s, '&') < 0 {
			break
		}
		u := html.UnescapeString(s)
		if u == s {
			break
		}
		s = u
	}
	if isCleanASCII(s) {
		return s, repaired
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r) || r == '\u200b' || r == '\u2060' || r == '\ufeff':
			space = b.Len() > 0
			continue
		case unicode.IsControl(r) || r == utf8.RuneError:
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String(), repaired
}

// isCleanASCII reports whether s is printable ASCII with single inner spaces and no outer ones,
// which is the common case and needs no rewriting.
func isCleanASCII(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	prevSpace := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f {
			return false
		}
		sp := c == ' '
		if sp && prevSpace {
			return false
		}
		prevSpace = sp
	}
	return true
}

// TextRules are the cheap per-caption rules (LAION/DataComp style). Zero values switch a rule off.
type TextRules struct {
	MinChars int // at least this many characters (runes); LAION/DataComp: 5
	MinWords int // at least this many words; DataComp: 2
	MaxChars int // at most this many characters; 0 = no limit
	NoJunk   bool
}

// DefaultTextRules returns the rules `wit filter` uses unless told otherwise.
func DefaultTextRules() TextRules {
	return TextRules{MinChars: 5, MinWords: 2, MaxChars: 1000}
}

// Check applies the rules to a normalised caption and returns the first failing reason, or Kept.
// Junk patterns are tested before the length rules so that "IMG_1234.JPG" is counted as a
// file name rather than as a one-word caption.
func (r TextRules) Check(s string) Reason {
	if s == "" {
		return ReasonEmpty
	}
	if !r.NoJunk {
		if reason := junkReason(s); reason != Kept {
			return reason
		}
	}
	chars := utf8.RuneCountInString(s)
	if r.MinChars > 0 && chars < r.MinChars {
		return ReasonTooShort
	}
	if r.MinWords > 0 && countWords(s, r.MinWords) < r.MinWords {
		return ReasonTooFewWords
	}
	if r.MaxChars > 0 && chars > r.MaxChars {
		return ReasonTooLong
	}
	return Kept
}

// countWords counts white-space separated words, stopping at limit. Scripts written without
// spaces (Han, kana, Thai, ...) count each such character as a word, so the rule does not drop
// every Chinese caption when other languages are wanted.
func countWords(s string, limit int) int {
	n := 0
	inWord := false
	for _, r := range s {
		if r == ' ' {
			inWord = false
			continue
		}
		if r >= 0x2E80 && isUnspacedScript(r) {
			n++
			inWord = false
		} else if !inWord {
			n++
			inWord = true
		}
		if n >= limit {
			return n
		}
	}
	return n
}

func isUnspacedScript(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai,
		unicode.Lao, unicode.Khmer, unicode.Myanmar)
}

// boilerplate holds captions (lower case, punctuation and trailing numbers removed) that say
// nothing about the image: CMS defaults, layout images, link texts.
var boilerplate = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`image images img photo photos picture pictures pic pics icon icons
		logo logos banner banners thumbnail thumbnails thumb thumbs placeholder button buttons arrow arrows
		untitled spacer blank pixel transparent spinner loading loader avatar gravatar default null
		undefined none nil alt graphic graphics header footer bullet divider separator clear dot
		background bg gif jpg jpeg png svg webp advertisement ad ads advert sponsored figure fig
		screenshot screenshots photograph file attachment download preview untitled-1 slide slider
		gallery home menu search close next previous prev back top more share print email rss
		facebook twitter instagram pinterest linkedin youtube whatsapp tiktok`) {
		m[w] = true
	}
	for _, p := range []string{"click here", "read more", "learn more", "see more", "view more",
		"no image", "no photo", "image not found", "image not available", "no image available",
		"profile picture", "profile photo", "profile image", "click to enlarge", "enlarge image",
		"company logo", "site logo", "main logo", "logo image", "featured image", "header image",
		"default image", "placeholder image", "image placeholder", "user avatar", "author avatar",
		"loading image", "photo gallery", "image gallery", "click to zoom", "zoom in", "play video",
		"video thumbnail", "back to top", "go to top", "skip to content", "follow us", "share this",
		"tracking pixel", "this image", "an image", "a picture", "a photo", "the image", "image of",
		"picture of", "photo of"} {
		m[p] = true
	}
	return m
}()

var imageExts = map[string]bool{
	"jpg": true, "jpeg": true, "jpe": true, "png": true, "gif": true, "webp": true, "bmp": true,
	"tif": true, "tiff": true, "svg": true, "heic": true, "heif": true, "avif": true, "ico": true,
	"jfif": true, "raw": true, "cr2": true, "nef": true, "dng": true, "psd": true, "pdf": true,
}

// cameraPrefixes are file name stems written by cameras, phones and screenshot tools.
var cameraPrefixes = []string{"img", "dsc", "dscn", "dscf", "dcim", "pxl", "mvimg", "pic", "photo",
	"image", "screenshot", "screen shot", "dji", "gopr", "sam", "wp", "p", "mov", "vid", "scan",
	"file", "untitled", "capture"}

func junkReason(s string) Reason {
	if isBareURL(s) {
		return ReasonJunkURL
	}
	if isFilename(s) {
		return ReasonJunkFilename
	}
	if isBoilerplate(s) {
		return ReasonBoilerplate
	}
	if mostlySymbols(s) {
		return ReasonJunkSymbols
	}
	return Kept
}

func isBareURL(s string) bool {
	if strings.IndexByte(s, ' ') >= 0 {
		return false
	}
	l := strings.ToLower(s)
	if strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") ||
		strings.HasPrefix(l, "www.") || strings.HasPrefix(l, "//") || strings.HasPrefix(l, "ftp://") ||
		strings.HasPrefix(l, "data:") {
		return true
	}
	// host.tld/path without a scheme
	slash := strings.IndexByte(l, '/')
	dot := strings.IndexByte(l, '.')
	return slash > 0 && dot > 0 && dot < slash
}

// isFilename reports captions that are a file name: a short caption ending in an image
// extension ("image.png", "my photo.JPG"), or a camera-style stem plus digits ("DSC0001",
// "IMG 1234", "PXL_20210101_123456").
func isFilename(s string) bool {
	words := strings.Count(s, " ") + 1
	if words > 3 {
		return false
	}
	l := strings.ToLower(s)
	if dot := strings.LastIndexByte(l, '.'); dot > 0 && dot < len(l)-1 {
		if imageExts[l[dot+1:]] {
			return true
		}
		l = l[:dot]
	}
	for _, p := range cameraPrefixes {
		if rest, ok := strings.CutPrefix(l, p); ok && digitsWithSeparators(rest) {
			return true
		}
	}
	return false
}

// digitsWithSeparators reports whether s (after an optional separator) is at least three
// characters of digits, '_', '-', ' ', '.', '(' and ')', with at least three digits.
func digitsWithSeparators(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '_' || c == '-' || c == ' ' || c == '.' || c == '(' || c == ')' || c == 'e' || c == 'x':
			// 'e' and 'x' appear in IMG_1234_edited / 1920x1080 style names.
		default:
			return false
		}
	}
	return digits >= 3
}

func isBoilerplate(s string) bool {
	if len(s) > 40 {
		return false
	}
	var b strings.Builder
	lastSpace := true
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r):
			b.WriteRune(r)
			lastSpace = false
		case r == '-' && !lastSpace:
			b.WriteRune(r)
		case !lastSpace:
			b.WriteByte(' ')
			lastSpace = true
		}
	}
	// digits were dropped, so "image 3" and "photo_01" reduce to their word.
	key := strings.TrimRight(b.String(), " -")
	return key != "" && boilerplate[key]
}

// mostlySymbols reports captions where letters are less than half of the non-space characters:
// dates, prices, ratings, emoji strings, "--- *** ---".
func mostlySymbols(s string) bool {
	letters, others := 0, 0
	for _, r := range s {
		switch {
		case r == ' ':
		case r < 0x80:
			if (r|0x20) >= 'a' && (r|0x20) <= 'z' {
				letters++
			} else {
				others++
			}
		case unicode.IsLetter(r) || unicode.IsMark(r):
			letters++
		default:
			others++
		}
	}
	return letters*2 < letters+others || letters == 0
}
