package cc

import (
	"bytes"
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// watPage is what a WAT metadata record says about one archived HTML response: the parts of
// Common Crawl's JSON layout (webarchive-commons' extractor) that pairs are made of.
//
//	{"Envelope": {
//	  "WARC-Header-Metadata": {"WARC-Type": "response", "WARC-Target-URI": ..., "WARC-Date": ...},
//	  "Payload-Metadata": {"HTTP-Response-Metadata": {
//	    "Response-Message": {"Status": "200", ...},
//	    "Headers": {"Content-Type": ..., "X-Robots-Tag": ...},
//	    "HTML-Metadata": {
//	      "Head": {"Base": ..., "Title": ..., "Metas": [{"name": "HTML@/lang", "content": "en"}, ...]},
//	      "Links": [{"path": "IMG@/src", "url": ..., "alt": ..., "title": ...}, {"path": "A@/href", ...}]}}}}}
type watPage struct {
	warcType  string
	targetURI string
	date      string
	status    string // "" when the record has no HTTP response metadata
	robotsTag []string
	isHTTP    bool // HTTP-Response-Metadata present
	isHTML    bool // HTML-Metadata present
	hasLinks  bool // a Links array present (possibly empty)
	base      string
	lang      string // HTML@/lang meta, else http-equiv content-language
	metaLang  string
	robots    []string // <meta name=robots> contents
	links     []watLink
}

type watLink struct {
	path, url, alt string
	hasAlt         bool
}

var errJSON = errors.New("invalid JSON")

// parseWAT reads the fields of watPage from one WAT JSON document, skipping everything else
// without decoding it. Links are appended to p.links (reset first) so its storage is reused.
func parseWAT(data []byte, p *watPage) error {
	links := p.links[:0]
	*p = watPage{links: links}
	s := jsonScanner{data: data}
	err := s.object(func(key []byte) error {
		if string(key) != "Envelope" {
			return s.skip()
		}
		return s.object(func(key []byte) error {
			switch string(key) {
			case "WARC-Header-Metadata":
				return s.object(func(key []byte) error {
					switch string(key) {
					case "WARC-Type":
						return s.str(&p.warcType)
					case "WARC-Target-URI":
						return s.str(&p.targetURI)
					case "WARC-Date":
						return s.str(&p.date)
					}
					return s.skip()
				})
			case "Payload-Metadata":
				return s.object(func(key []byte) error {
					if string(key) != "HTTP-Response-Metadata" {
						return s.skip()
					}
					p.isHTTP = true
					return s.object(func(key []byte) error { return parseHTTPMeta(&s, key, p) })
				})
			}
			return s.skip()
		})
	})
	if err != nil {
		return err
	}
	s.space()
	if s.pos != len(s.data) {
		return errJSON
	}
	return nil
}

func parseHTTPMeta(s *jsonScanner, key []byte, p *watPage) error {
	switch string(key) {
	case "Response-Message":
		return s.object(func(key []byte) error {
			if string(key) == "Status" {
				return s.str(&p.status)
			}
			return s.skip()
		})
	case "Headers":
		return s.object(func(key []byte) error {
			if !equalFoldASCII(key, "X-Robots-Tag") {
				return s.skip()
			}
			var v string
			if err := s.str(&v); err != nil {
				return err
			}
			p.robotsTag = append(p.robotsTag, v)
			return nil
		})
	case "HTML-Metadata":
		p.isHTML = true
		return s.object(func(key []byte) error {
			switch string(key) {
			case "Head":
				return s.object(func(key []byte) error { return parseHead(s, key, p) })
			case "Links":
				p.hasLinks = true
				p.links = p.links[:0] // a repeated key replaces, as in encoding/json
				return s.array(func() error {
					var l watLink
					err := s.object(func(key []byte) error {
						switch string(key) {
						case "path":
							return s.str(&l.path)
						case "url":
							return s.str(&l.url)
						case "alt":
							l.hasAlt = s.peek() == '"'
							return s.str(&l.alt)
						}
						return s.skip()
					})
					if err == nil {
						p.links = append(p.links, l)
					}
					return err
				})
			}
			return s.skip()
		})
	}
	return s.skip()
}

func parseHead(s *jsonScanner, key []byte, p *watPage) error {
	switch string(key) {
	case "Base":
		return s.str(&p.base)
	case "Metas":
		return s.array(func() error {
			var name, content, equiv string
			err := s.object(func(key []byte) error {
				switch string(key) {
				case "name":
					return s.str(&name)
				case "content":
					return s.str(&content)
				case "http-equiv":
					return s.str(&equiv)
				}
				return s.skip()
			})
			switch {
			case name == "HTML@/lang" || name == "HTML@/xml:lang":
				if p.lang == "" {
					p.lang = content
				}
			case equalFoldASCII([]byte(equiv), "content-language"):
				if p.metaLang == "" {
					p.metaLang = content
				}
			case equalFoldASCII([]byte(name), "robots"):
				p.robots = append(p.robots, content)
			}
			return err
		})
	}
	return s.skip()
}

func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// jsonScanner walks a JSON document without building it: the caller descends into the objects
// and arrays it wants and skips the rest, which costs one pass over the bytes. Values are
// checked for structure as they are passed; strings are decoded only when asked for.
type jsonScanner struct {
	data []byte
	pos  int
	key  []byte // scratch for keys with escapes
}

// maxDepth bounds the nesting skip accepts, as encoding/json does.
const maxDepth = 10000

func (s *jsonScanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *jsonScanner) peek() byte {
	s.space()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// object calls fn for each key; fn must consume the key's value. null counts as an empty object.
func (s *jsonScanner) object(fn func(key []byte) error) error {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '{':
	default:
		return errJSON
	}
	s.pos++
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		if s.peek() != '"' {
			return errJSON
		}
		key, err := s.rawString()
		if err != nil {
			return err
		}
		if bytes.IndexByte(key, '\\') >= 0 {
			k, ok := unquote(s.key[:0], key)
			if !ok {
				return errJSON
			}
			s.key, key = k, k
		}
		if s.peek() != ':' {
			return errJSON
		}
		s.pos++
		if err := fn(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return errJSON
		}
	}
}

// array calls fn for each element; fn must consume it. null counts as an empty array.
func (s *jsonScanner) array(fn func() error) error {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '[':
	default:
		return errJSON
	}
	s.pos++
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return errJSON
		}
	}
}

// str decodes a string value into dst; a value of another type is skipped and leaves dst empty,
// as the WAT producer writes some fields as numbers or booleans.
func (s *jsonScanner) str(dst *string) error {
	if s.peek() != '"' {
		return s.skip()
	}
	raw, err := s.rawString()
	if err != nil {
		return err
	}
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		*dst = string(raw)
		return nil
	}
	b, ok := unquote(nil, raw)
	if !ok {
		return errJSON
	}
	*dst = string(b)
	return nil
}

// rawString consumes a string at pos and returns its bytes between the quotes, escapes kept.
func (s *jsonScanner) rawString() ([]byte, error) {
	start := s.pos + 1
	i := start
	for {
		j := bytes.IndexByte(s.data[i:], '"')
		if j < 0 {
			return nil, errJSON
		}
		i += j
		// The quote is escaped when an odd number of backslashes precedes it.
		n := 0
		for k := i - 1; k >= start && s.data[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			break
		}
		i++
	}
	for _, c := range s.data[start:i] {
		if c < 0x20 {
			return nil, errJSON
		}
	}
	s.pos = i + 1
	return s.data[start:i], nil
}

func (s *jsonScanner) literal(lit string) error {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		return errJSON
	}
	s.pos += len(lit)
	return nil
}

// skip consumes one value of any type.
func (s *jsonScanner) skip() error {
	switch c := s.peek(); {
	case c == '"':
		_, err := s.rawString()
		return err
	case c == '{' || c == '[':
		return s.skipNested()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return errJSON
}

func (s *jsonScanner) number() error {
	start := s.pos
scan:
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; {
		case '0' <= c && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			s.pos++
		default:
			break scan
		}
	}
	if _, err := strconv.ParseFloat(string(s.data[start:s.pos]), 64); err != nil {
		var ne *strconv.NumError
		if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
			return errJSON
		}
	}
	return nil
}

// skipNested consumes an object or array, checking its structure with a stack of what each
// open level expects next (no recursion, so depth costs no goroutine stack).
func (s *jsonScanner) skipNested() error {
	var stackBuf [64]byte
	stack := stackBuf[:0] // '{' or '['
	// state: what may come next at the current level
	const (
		valueOrClose = iota // after '[' (or '{' for keys)
		value               // after ',' in an array or ':' in an object
		commaOrClose        // after a value
		keyOrClose          // after '{'
		key                 // after ',' in an object
		colon               // after a key
	)
	state := 0
	open := func(c byte) error {
		if len(stack) >= maxDepth {
			return errJSON
		}
		stack = append(stack, c)
		if c == '{' {
			state = keyOrClose
		} else {
			state = valueOrClose
		}
		s.pos++
		return nil
	}
	if err := open(s.data[s.pos]); err != nil {
		return err
	}
	for len(stack) > 0 {
		c := s.peek()
		top := stack[len(stack)-1]
		switch state {
		case keyOrClose, key:
			if c == '}' && state == keyOrClose {
				s.pos++
				stack = stack[:len(stack)-1]
				state = commaOrClose
				continue
			}
			if c != '"' {
				return errJSON
			}
			if _, err := s.rawString(); err != nil {
				return err
			}
			state = colon
		case colon:
			if c != ':' {
				return errJSON
			}
			s.pos++
			state = value
		case valueOrClose, value:
			if c == ']' && state == valueOrClose && top == '[' {
				s.pos++
				stack = stack[:len(stack)-1]
				state = commaOrClose
				continue
			}
			if c == '{' || c == '[' {
				if err := open(c); err != nil {
					return err
				}
				continue
			}
			if err := s.skip(); err != nil {
				return err
			}
			state = commaOrClose
		case commaOrClose:
			switch {
			case c == ',':
				s.pos++
				if top == '{' {
					state = key
				} else {
					state = value
				}
			case c == '}' && top == '{', c == ']' && top == '[':
				s.pos++
				stack = stack[:len(stack)-1]
				state = commaOrClose
			default:
				return errJSON
			}
		}
	}
	return nil
}

// unquote appends the decoded form of a JSON string body (without quotes) to dst. Invalid
// UTF-8 and lone surrogates become U+FFFD, as encoding/json makes them.
func unquote(dst, raw []byte) ([]byte, bool) {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				dst = append(dst, c)
				i++
				continue
			}
			r, size := utf8.DecodeRune(raw[i:])
			dst = utf8.AppendRune(dst, r)
			i += size
			continue
		}
		if i+1 >= len(raw) {
			return nil, false
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			dst = append(dst, raw[i+1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			if i+6 > len(raw) {
				return nil, false
			}
			r, ok := hex4(raw[i+2:])
			if !ok {
				return nil, false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					r2, _ := hex4(raw[i+2:])
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						dst = utf8.AppendRune(dst, d)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return nil, false
		}
		i += 2
	}
	return dst, true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
