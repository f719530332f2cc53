package extract

import (
	"net/url"
	"strings"

	"github.com/witdata/wit/internal/urlnorm"
)

// URL normalisation is assembled here, fused with reference resolution so the
// common relative link costs no url.Parse (the extraction budget is 80% of a
// bare parse), from internal/urlnorm's parts: urlnorm.Host (which also refuses
// invalid hosts), RemoveDotSegments and WriteEscaped. The output is urlnorm's
// canonical form, which the tests check on every URL they see
// (urlnorm.String(out) == out). URLs with user info are refused: they leak
// credentials into a data set.

// normalizeURL returns the normalised string form of an absolute http(s) URL,
// or "" when u is not one.
func normalizeURL(u *url.URL) string {
	if u.Opaque != "" || u.User != nil {
		return ""
	}
	return normalizeParts(u.Scheme, u.Host, u.EscapedPath(), u.RawQuery)
}

// normalizeParts builds the normalised URL from its escaped parts.
func normalizeParts(scheme, hostport, path, query string) string {
	scheme = strings.ToLower(scheme)
	if scheme != "http" && scheme != "https" {
		return ""
	}
	host, ok := urlnorm.Host(scheme, hostport)
	if !ok {
		return ""
	}
	var b strings.Builder
	b.Grow(len(scheme) + 3 + len(host) + len(path) + len(query) + 2)
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	if path == "" {
		b.WriteByte('/')
	} else {
		if path[0] != '/' {
			path = "/" + path
		}
		urlnorm.WriteEscaped(&b, urlnorm.RemoveDotSegments(path), false)
	}
	if query != "" {
		b.WriteByte('?')
		urlnorm.WriteEscaped(&b, query, true)
	}
	return b.String()
}

// resolver turns URL references found in one page into normalised absolute
// URLs. References made only of safe characters (the bulk of the links and
// image paths on real pages) take a string-only fast path; the rest go
// through url.Parse and ResolveReference.
type resolver struct {
	base   *url.URL
	origin string // "scheme://host[:port]" of the base
	dir    string // base path up to and including its last '/'
	self   string // normalised base without query
	ok     bool
}

func (r *resolver) init(base *url.URL) {
	*r = resolver{base: base}
	norm := normalizeURL(base)
	if norm == "" {
		return
	}
	nu, err := url.Parse(norm)
	if err != nil {
		return
	}
	r.base = nu
	r.ok = true
	r.origin = nu.Scheme + "://" + nu.Host
	p := nu.EscapedPath()
	if p == "" {
		p = "/"
	}
	r.dir = p[:strings.LastIndexByte(p, '/')+1]
	r.self = norm
}

// trimURLSpace strips leading and trailing ASCII white space and removes tabs
// and newlines inside, as browsers do with attribute URLs.
func trimURLSpace(s string) string {
	start, end := 0, len(s)
	for start < end && isASCIISpace(s[start]) {
		start++
	}
	for end > start && isASCIISpace(s[end-1]) {
		end--
	}
	s = s[start:end]
	if strings.ContainsAny(s, "\t\n\r") {
		s = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return -1
			}
			return r
		}, s)
	}
	return s
}

func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

// hasPrefixFold reports whether s starts with the lower-case ASCII prefix,
// ignoring case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// obviouslyNotHTTP reports references that can never resolve to an http(s)
// URL, so they are dropped without parsing.
func obviouslyNotHTTP(s string) bool {
	if s == "" {
		return true
	}
	switch s[0] {
	case 'd', 'D':
		return hasPrefixFold(s, "data:")
	case 'j', 'J':
		return hasPrefixFold(s, "javascript:")
	case 'm', 'M':
		return hasPrefixFold(s, "mailto:")
	case 't', 'T':
		return hasPrefixFold(s, "tel:")
	case 'a', 'A':
		return hasPrefixFold(s, "about:")
	case 'b', 'B':
		return hasPrefixFold(s, "blob:")
	}
	return false
}

// resolve returns the normalised absolute form of the reference raw, or ""
// when it is not an http(s) URL.
func (r *resolver) resolve(raw string) string {
	if !r.ok {
		return ""
	}
	s := trimURLSpace(raw)
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i] // dropped by normalisation anyway, and may hold bad escapes
	}
	if obviouslyNotHTTP(s) {
		return ""
	}
	if out, ok := r.fast(s); ok {
		return out
	}
	ref, err := url.Parse(preEscape(s))
	if err != nil {
		return ""
	}
	return r.resolveRef(ref)
}

// resolveRef resolves ref against the base per RFC 3986 §5.2 and normalises
// it. Unlike url.URL.ResolveReference it keeps the author's %-escapes and
// removes dot segments exactly as the fast path does (Go's resolver also
// collapses empty segments, so "..//" would differ).
func (r *resolver) resolveRef(ref *url.URL) string {
	if ref.Opaque != "" || ref.User != nil {
		return ""
	}
	if ref.Scheme != "" || ref.Host != "" {
		scheme := ref.Scheme
		if scheme == "" {
			scheme = r.base.Scheme
		}
		return normalizeParts(scheme, ref.Host, ref.EscapedPath(), ref.RawQuery)
	}
	path, query := ref.EscapedPath(), ref.RawQuery
	switch {
	case path == "":
		path = r.base.EscapedPath()
		if query == "" && !ref.ForceQuery {
			query = r.base.RawQuery
		}
	case path[0] == '/':
	default:
		path = r.dir + path
	}
	return normalizeParts(r.base.Scheme, r.base.Host, path, query)
}

// fast resolves a relative reference (a path, absolute or relative, with an
// optional query and fragment) whose characters need no escaping. It gives
// the same result as the slow path, which the tests check.
func (r *resolver) fast(s string) (string, bool) {
	if s[0] == '?' || s[0] == '#' || strings.HasPrefix(s, "//") {
		return "", false
	}
	pathEnd, queryEnd := len(s), len(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '#' {
			if pathEnd == len(s) {
				pathEnd = i
			}
			queryEnd = i
			break
		}
		if c == '?' && pathEnd == len(s) {
			pathEnd = i
			continue
		}
		if c == ':' && pathEnd == len(s) {
			// Could be a scheme ("http:"), or a colon in a first segment.
			return "", false
		}
		if c == '%' || !urlnorm.IsLiteralOK(c, true) {
			return "", false
		}
	}
	path := s[:pathEnd]
	query := ""
	if pathEnd < queryEnd {
		query = s[pathEnd+1 : queryEnd]
	}
	var full string
	switch {
	case path == "":
		// "#frag" was handled by the caller; here only "" before '?' can't
		// happen since s[0] != '?'.
		return "", false
	case path[0] == '/':
		full = urlnorm.RemoveDotSegments(path)
	default:
		full = urlnorm.RemoveDotSegments(r.dir + path)
	}
	n := len(r.origin) + len(full) + len(query) + 1
	var b strings.Builder
	b.Grow(n)
	b.WriteString(r.origin)
	b.WriteString(full)
	if query != "" {
		b.WriteByte('?')
		b.WriteString(query)
	}
	return b.String(), true
}

// preEscape prepares a reference for url.Parse the way a browser's URL parser
// would: after the authority, backslashes become slashes (before any '?'),
// bytes that may not stand raw (space, non-ASCII, quotes, braces…) are
// %-escaped and a '%' that starts no valid escape becomes "%25". Without this,
// url.Parse rejects such references, or discards the author's escapes (e.g.
// %2F) when it has to re-escape the path itself.
func preEscape(s string) string {
	start := 0
	if i := strings.Index(s, "//"); i >= 0 && (i == 0 || (i > 0 && s[i-1] == ':' && !strings.ContainsAny(s[:i-1], "/?#"))) {
		start = i + 2
		for start < len(s) && s[start] != '/' && s[start] != '\\' && s[start] != '?' && s[start] != '#' {
			start++
		}
	}
	if !needsPreEscape(s[start:]) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:start])
	inQuery := false
	for i := start; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '#':
			// The fragment is dropped by normalisation; keep it out of the way.
			return b.String()
		case c == '?':
			inQuery = true
			b.WriteByte(c)
		case c == '\\' && !inQuery:
			b.WriteByte('/')
		case c == '%':
			if i+2 < len(s) {
				if _, ok1 := urlnorm.Unhex(s[i+1]); ok1 {
					if _, ok2 := urlnorm.Unhex(s[i+2]); ok2 {
						b.WriteByte('%')
						continue
					}
				}
			}
			b.WriteString("%25")
		case urlnorm.IsLiteralOK(c, true):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(urlnorm.UpperHex[c>>4])
			b.WriteByte(urlnorm.UpperHex[c&15])
		}
	}
	return b.String()
}

func needsPreEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '#' {
			return false
		}
		if c == '%' {
			if i+2 >= len(s) {
				return true
			}
			if _, ok := urlnorm.Unhex(s[i+1]); !ok {
				return true
			}
			if _, ok := urlnorm.Unhex(s[i+2]); !ok {
				return true
			}
			continue
		}
		if c == '\\' || !urlnorm.IsLiteralOK(c, true) {
			return true
		}
	}
	return false
}

// Resolver resolves the URL references of one page to the normalised absolute http(s) URLs
// Extract gives, for callers that read references from elsewhere (Common Crawl's WAT link
// lists). It is not safe for concurrent use.
type Resolver struct{ r resolver }

// NewResolver returns a Resolver for references on a page whose base URL is base (the page URL,
// or its <base href> resolved against it).
func NewResolver(base *url.URL) *Resolver {
	x := &Resolver{}
	x.r.init(base)
	return x
}

// Resolve returns the normalised absolute form of ref, or "" when it is not an http(s) URL.
func (x *Resolver) Resolve(ref string) string { return x.r.resolve(ref) }
