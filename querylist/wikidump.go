package querylist

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// WikiPage is one article of a MediaWiki XML dump.
type WikiPage struct {
	Title string
	NS    int
	// Redirect is the target title of a redirect page ("" otherwise).
	Redirect string
	Text     string // raw wikitext
}

type xmlPage struct {
	Title    string `xml:"title"`
	NS       int    `xml:"ns"`
	Redirect *struct {
		Title string `xml:"title,attr"`
	} `xml:"redirect"`
	Text string `xml:"revision>text"`
}

// ReadWikipediaDump streams the pages of a MediaWiki XML export
// (enwiki-…-pages-articles.xml, bzip2-compressed when it starts with "BZh")
// one <page> at a time; memory is bounded by the largest page.
func ReadWikipediaDump(ctx context.Context, r io.Reader) func(yield func(WikiPage, error) bool) {
	return func(yield func(WikiPage, error) bool) {
		br := bufio.NewReaderSize(r, 1<<20)
		magic, _ := br.Peek(3)
		var src io.Reader = br
		if bytes.Equal(magic, []byte("BZh")) {
			src = bufio.NewReaderSize(bzip2.NewReader(br), 1<<20)
		}
		dec := xml.NewDecoder(src)
		pages := 0
		for {
			if err := ctx.Err(); err != nil {
				yield(WikiPage{}, err)
				return
			}
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				if pages == 0 {
					yield(WikiPage{}, errors.New("wikipedia dump: no <page> elements"))
				}
				return
			}
			if err != nil {
				yield(WikiPage{}, fmt.Errorf("wikipedia dump: after %d pages: %w", pages, err))
				return
			}
			se, ok := tok.(xml.StartElement)
			if !ok || se.Name.Local != "page" {
				continue
			}
			var p xmlPage
			if err := dec.DecodeElement(&p, &se); err != nil {
				yield(WikiPage{}, fmt.Errorf("wikipedia dump: page %d: %w", pages+1, err))
				return
			}
			pages++
			wp := WikiPage{Title: p.Title, NS: p.NS, Text: p.Text}
			if p.Redirect != nil {
				wp.Redirect = p.Redirect.Title
			}
			if !yield(wp, nil) {
				return
			}
		}
	}
}

// StripWikitext turns wikitext into plain text: comments, templates {{…}},
// tables {|…|}, <ref>s, math/gallery/code-like elements, files, categories
// and interlanguage links are removed; [[target|label]] becomes label and
// [[target]] target (link is called with every article-link target); external
// links keep their label; HTML tags, bold/italic quotes, heading and list
// markers and magic words are removed; HTML entities are decoded.
func StripWikitext(src string, link func(target string)) string {
	src = removeBetween(src, "<!--", "-->")
	st := &stripper{s: src, pairs: matchPairs(src), link: link, closers: map[string]closer{}}
	var out strings.Builder
	out.Grow(len(src))
	st.strip(&out, 0, len(src), link)
	return html.UnescapeString(out.String())
}

// matchPairs finds the matching closers of "{{", "[[" and "{|" openers
// (stack per kind, linear); key = opener index, value = index after closer.
func matchPairs(s string) map[int]int {
	pairs := make(map[int]int)
	var open [len(wikiPairs)][]int
	for i := 0; i+1 < len(s); i++ {
		switch s[i] {
		case '{', '}', '[', ']', '|':
		default:
			continue // not part of a pair
		}
		two := s[i : i+2]
		for k, p := range wikiPairs {
			if two == p.open {
				open[k] = append(open[k], i)
				i++
				break
			}
			if n := len(open[k]); two == p.close && n > 0 {
				pairs[open[k][n-1]] = i + 2
				open[k] = open[k][:n-1]
				i++
				break
			}
		}
	}
	return pairs
}

// wikiPairs are the paired wikitext markups matchPairs matches: templates,
// links and tables.
var wikiPairs = [...]struct{ open, close string }{{"{{", "}}"}, {"[[", "]]"}, {"{|", "|}"}}

// dropContentTags lose their content, other tags only their markup.
var dropContentTags = map[string]bool{
	"ref": true, "math": true, "gallery": true, "timeline": true, "syntaxhighlight": true,
	"source": true, "score": true, "chem": true, "ce": true, "hiero": true, "imagemap": true,
	"templatedata": true, "references": true, "graph": true, "mapframe": true, "pre": true,
	"code": true, "templatestyles": true, "inputbox": true, "poem": false,
}

// dropLinkPrefixes: namespaces whose links are not article text.
var dropLinkPrefixes = []string{"file:", "image:", "media:", "category:", "wikipedia:", "wp:", "template:",
	"help:", "portal:", "special:", "user:", "talk:", "wiktionary:", "wikt:", "s:", "commons:", "draft:", "module:"}

// stripper holds what makes stripping linear: matched bracket pairs and
// the last search for each closing tag.
type stripper struct {
	s       string
	pairs   map[int]int
	link    func(string)
	closers map[string]closer
}

// closer caches a search for "</name": from `from`, the closer is at `at`
// (-1: none until the end of the text).
type closer struct{ from, at int }

// maxTagLen and maxExtLinkLen bound scans for '>' and ']' so that hostile
// text cannot make stripping quadratic.
const (
	maxTagLen     = 8 << 10
	maxExtLinkLen = 2 << 10
)

func (st *stripper) strip(out *strings.Builder, from, to int, link func(string)) {
	s, pairs := st.s, st.pairs
	lineStart := true
	for i := from; i < to; {
		c := s[i]
		if lineStart {
			// Heading, list, indent and definition markers.
			for i < to && strings.IndexByte("=*#:; ", s[i]) >= 0 {
				i++
			}
			lineStart = false
			continue
		}
		switch {
		case c == '\n':
			out.WriteByte('\n')
			lineStart = true
			i++
			continue
		case c == '{' && i+1 < to && (s[i+1] == '{' || s[i+1] == '|'):
			if end, ok := pairs[i]; ok && end <= to {
				i = end
				continue
			}
		case c == '[' && i+1 < to && s[i+1] == '[':
			if end, ok := pairs[i]; ok && end <= to {
				st.stripLink(out, i+2, end-2, link)
				i = end
				continue
			}
		case c == '[' && (hasPrefixAt(s, i+1, "http://") || hasPrefixAt(s, i+1, "https://") || hasPrefixAt(s, i+1, "//")):
			window := s[i:min(to, i+maxExtLinkLen)]
			if nl := strings.IndexByte(window, '\n'); nl >= 0 {
				window = window[:nl]
			}
			if end := strings.IndexByte(window, ']'); end > 0 {
				inner := s[i+1 : i+end]
				if sp := strings.IndexByte(inner, ' '); sp >= 0 {
					st.strip(out, i+1+sp+1, i+end, link)
				}
				i += end + 1
				continue
			}
		case c == '<':
			if next, ok := st.skipTag(i, to); ok {
				i = next
				continue
			}
		case c == '\'' && i+1 < to && s[i+1] == '\'':
			for i < to && s[i] == '\'' {
				i++
			}
			continue
		case c == '=' && i+1 < to && s[i+1] == '=':
			for i < to && s[i] == '=' {
				i++
			}
			continue
		case c == '_' && i+1 < to && s[i+1] == '_':
			if end := magicWordEnd(s, i, to); end > 0 {
				i = end
				continue
			}
		}
		out.WriteByte(c)
		i++
	}
}

// stripLink writes the visible text of the link s[from:to] (inside [[ ]]).
func (st *stripper) stripLink(out *strings.Builder, from, to int, link func(string)) {
	inner := st.s[from:to]
	target, _, hasLabel := strings.Cut(inner, "|")
	t := strings.TrimSpace(target)
	if t == "" || strings.HasPrefix(t, ":") {
		return
	}
	lower := strings.ToLower(t)
	for _, p := range dropLinkPrefixes {
		if strings.HasPrefix(lower, p) {
			return
		}
	}
	if colon := strings.IndexByte(t, ':'); colon >= 2 && colon <= 3 && isLower(t[:colon]) {
		return // interlanguage link such as [[de:Hund]]
	}
	if link != nil {
		if nt := NormalizeTitle(t); nt != "" {
			link(nt)
		}
	}
	if !hasLabel {
		out.WriteString(t)
		return
	}
	// Label after the last top-level '|'.
	labelStart := from + strings.LastIndexByte(inner, '|') + 1
	st.strip(out, labelStart, to, nil)
}

func isLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// NormalizeTitle turns a link target into a title: section anchors removed,
// underscores and runs of spaces turned into one space, first letter upper
// case (MediaWiki's default). "" when nothing is left.
func NormalizeTitle(t string) string {
	if i := strings.IndexByte(t, '#'); i >= 0 {
		t = t[:i]
	}
	t = strings.ReplaceAll(t, "_", " ")
	t = strings.Join(strings.Fields(t), " ")
	if t == "" || !utf8.ValidString(t) {
		return ""
	}
	r, size := utf8.DecodeRuneInString(t)
	if up := unicode.ToUpper(r); up != r {
		t = string(up) + t[size:]
	}
	return t
}

func hasPrefixAt(s string, i int, p string) bool {
	return i <= len(s) && strings.HasPrefix(s[i:], p)
}

// skipTag skips an HTML/extension tag at s[i] == '<' (and the content of
// dropContentTags); ok false when it is not a tag.
func (st *stripper) skipTag(i, to int) (next int, ok bool) {
	s := st.s
	j := i + 1
	closing := j < to && s[j] == '/'
	if closing {
		j++
	}
	k := j
	for k < to && (s[k] >= 'a' && s[k] <= 'z' || s[k] >= 'A' && s[k] <= 'Z' || s[k] >= '0' && s[k] <= '9') {
		k++
	}
	if k == j {
		return 0, false
	}
	gt := strings.IndexByte(s[k:min(to, k+maxTagLen)], '>')
	if gt < 0 {
		return 0, false
	}
	end := k + gt + 1
	name := strings.ToLower(s[j:k])
	if closing || !dropContentTags[name] || s[end-2] == '/' {
		return end, true
	}
	c := st.findCloser(name, end)
	if c < 0 || c >= to {
		return end, true // unclosed: drop the tag only
	}
	if gt := strings.IndexByte(s[c:min(to, c+maxTagLen)], '>'); gt >= 0 {
		return c + gt + 1, true
	}
	return end, true
}

// findCloser returns the index of the next "</name" (any case) at or after
// from, -1 if none; searches are cached so that many unclosed tags stay
// linear.
func (st *stripper) findCloser(name string, from int) int {
	if c, ok := st.closers[name]; ok && from >= c.from && (c.at < 0 || from <= c.at) {
		return c.at
	}
	at := indexFold(st.s[from:], "</"+name)
	if at >= 0 {
		at += from
	}
	st.closers[name] = closer{from: from, at: at}
	return at
}

func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			return -1
		}
		i += j
		if i+len(sub) <= len(s) && strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// magicWordEnd matches __NOTOC__ style words at s[i:].
func magicWordEnd(s string, i, to int) int {
	j := i + 2
	for j < to && s[j] >= 'A' && s[j] <= 'Z' {
		j++
	}
	if j > i+2 && j+1 < to && s[j] == '_' && s[j+1] == '_' {
		return j + 2
	}
	return 0
}

// removeBetween deletes every open…close span (an unclosed open runs to the end).
func removeBetween(s, open, close string) string {
	if !strings.Contains(s, open) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, open)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := strings.Index(s[i+len(open):], close)
		if j < 0 {
			return b.String()
		}
		s = s[i+len(open)+j+len(close):]
	}
}
