package urlnorm

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// ErrUnsupportedScheme is returned by String for URLs that are not http or https.
var ErrUnsupportedScheme = errors.New("unsupported URL scheme (only http and https)")

// ErrNoHost is returned by String for http(s) URLs without a host.
var ErrNoHost = errors.New("URL has no host")

// ErrBadHost is returned by String for hosts no web URL can have (see Host).
var ErrBadHost = errors.New("invalid host")

// String parses raw (surrounding white space ignored), checks that it is an
// absolute http or https URL with a host, and returns its normalised form.
func String(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("urlnorm: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return "", fmt.Errorf("urlnorm: %q: not an absolute URL: %w", raw, ErrUnsupportedScheme)
	default:
		return "", fmt.Errorf("urlnorm: %q: scheme %q: %w", raw, u.Scheme, ErrUnsupportedScheme)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return "", fmt.Errorf("urlnorm: %q: %w", raw, ErrNoHost)
	}
	if _, ok := Host(u.Scheme, u.Host); !ok {
		return "", fmt.Errorf("urlnorm: %q: host %q: %w", raw, u.Host, ErrBadHost)
	}
	return Normalize(u).String(), nil
}

// Normalize returns a normalised copy of u; u itself is not modified.
// It returns nil for a nil u. See the package documentation for the rules.
func Normalize(u *url.URL) *url.URL {
	if u == nil {
		return nil
	}
	n := *u
	if n.User != nil {
		user := *n.User
		n.User = &user
	}
	n.Scheme = strings.ToLower(n.Scheme)
	n.Fragment = ""
	n.RawFragment = ""
	if n.Opaque != "" {
		// "mailto:x" and friends have no hierarchical parts to normalise.
		return &n
	}
	if h, ok := Host(n.Scheme, n.Host); ok {
		n.Host = h
	} else {
		// Not a host a web URL can have (String refuses it); a deterministic form all the same,
		// so that the URL still gets one key.
		n.Host = strings.ToLower(n.Host)
	}

	p := normalizeEscapes(n.EscapedPath(), false)
	if n.Host != "" || n.Scheme != "" || strings.HasPrefix(p, "/") {
		p = RemoveDotSegments(p)
		if p == "" && n.Host != "" {
			p = "/"
		}
	}
	if path, err := url.PathUnescape(p); err == nil {
		n.Path = path
		n.RawPath = p
		if plain := (&url.URL{Path: path}).EscapedPath(); plain == p {
			n.RawPath = "" // Go derives the same escaping itself
		}
	}

	n.RawQuery = normalizeEscapes(n.RawQuery, true)
	if n.RawQuery == "" {
		n.ForceQuery = false
	}
	return &n
}

// defaultPort is the port implied when a URL of scheme gives none (0: none known).
func defaultPort(scheme string) int {
	switch scheme {
	case "http", "ws":
		return 80
	case "https", "wss":
		return 443
	case "ftp":
		return 21
	}
	return 0
}

// Host returns the canonical form of a URL's host[:port] (url.URL.Host) for scheme: the name
// lower-cased, an internationalised name in punycode (IDNA lookup rules), an IPv6 literal in its
// canonical form, the port without leading zeros and dropped when it is the scheme's default or
// empty. ok is false for a host no web URL can have: empty; a port that is not a number from 1 to
// 65535; a bracketed literal that is not an IPv6 address, or has a zone; ASCII characters other
// than letters, digits, '-', '.' and '_'; a name IDNA refuses. The crawler's link extraction and
// String refuse such URLs. A host already canonical is returned without allocating.
func Host(scheme, hostport string) (string, bool) {
	host, port := hostport, ""
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.Contains(hostport[i:], "]") {
		host, port = hostport[:i], hostport[i+1:]
	}
	if host == "" {
		return "", false
	}
	portChanged := false
	if port != "" {
		n := 0
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' || n > 65535 {
				return "", false
			}
			n = n*10 + int(port[i]-'0')
		}
		if n == 0 || n > 65535 {
			return "", false
		}
		switch {
		case n == defaultPort(strings.ToLower(scheme)):
			port, portChanged = "", true
		case port[0] == '0':
			port, portChanged = strconv.Itoa(n), true
		}
	} else if len(host) < len(hostport) {
		portChanged = true // "host:" with an empty port
	}
	canon, ok := canonicalHost(host)
	if !ok {
		return "", false
	}
	if canon == host && !portChanged {
		return hostport, true
	}
	if port != "" {
		return canon + ":" + port, true
	}
	return canon, true
}

// canonicalHost is Host for the part before the port.
func canonicalHost(host string) (string, bool) {
	if host[0] == '[' {
		// IPv6 literal, in canonical form; zones have no place in a web URL.
		if host[len(host)-1] != ']' {
			return "", false
		}
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", false
		}
		var buf [64]byte
		canon := a.AppendTo(buf[:0])
		if string(canon) == host[1:len(host)-1] {
			return host, true
		}
		return "[" + string(canon) + "]", true
	}
	upper := false
	for i := 0; i < len(host); i++ {
		c := host[i]
		if c >= 0x80 {
			h, err := idna.Lookup.ToASCII(host)
			if err != nil || h == "" {
				return "", false
			}
			return h, true
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		} else if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "", false
		}
	}
	if upper {
		return strings.ToLower(host), true
	}
	return host, true
}

// RemoveDotSegments implements RFC 3986 section 5.2.4 for paths that start
// with "/" (every path of a URL with an authority does).
func RemoveDotSegments(p string) string {
	if !hasDotSegment(p) {
		return p
	}
	abs := strings.HasPrefix(p, "/")
	rest := p
	if abs {
		rest = p[1:]
	}
	segs := strings.Split(rest, "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	j := strings.Join(out, "/")
	if abs {
		return "/" + j
	}
	return j
}

// hasDotSegment reports whether p has a segment that is exactly "." or "..", the only ones
// RemoveDotSegments changes; most paths have none and are returned as they are.
func hasDotSegment(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] != '.' || (i > 0 && p[i-1] != '/') {
			continue
		}
		j := i + 1
		if j < len(p) && p[j] == '.' {
			j++
		}
		if j == len(p) || p[j] == '/' {
			return true
		}
	}
	return false
}

// UpperHex are the digits of a normalised %-escape.
const UpperHex = "0123456789ABCDEF"

// IsUnreserved reports RFC 3986 unreserved characters, which are never escaped.
func IsUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// IsLiteralOK reports whether c may stay unescaped in a path (query=false) or
// query (query=true). Besides RFC 3986 pchar, '[' and ']' are left alone as
// browsers do.
func IsLiteralOK(c byte, query bool) bool {
	if IsUnreserved(c) {
		return true
	}
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '/', '[', ']':
		return true
	case '?':
		return query
	}
	return false
}

// Unhex returns the value of a hex digit.
func Unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// normalizeEscapes upper-cases the hex digits of escapes, decodes escapes of
// unreserved characters, escapes a '%' that does not start a valid escape and
// every byte that may not appear literally.
func normalizeEscapes(s string, query bool) string {
	clean := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || !IsLiteralOK(c, query) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	WriteEscaped(&b, s, query)
	return b.String()
}

// WriteEscaped writes s, a path (query=false) or query (query=true), to b with its %-escapes
// normalised: an escaped unreserved character is decoded, other escapes get upper-case hex, a
// '%' that starts no valid escape becomes "%25" and bytes that may not stand raw are escaped.
func WriteEscaped(b *strings.Builder, s string, query bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 < len(s) {
				hi, ok1 := Unhex(s[i+1])
				lo, ok2 := Unhex(s[i+2])
				if ok1 && ok2 {
					d := hi<<4 | lo
					if IsUnreserved(d) {
						b.WriteByte(d)
					} else {
						b.WriteByte('%')
						b.WriteByte(UpperHex[hi])
						b.WriteByte(UpperHex[lo])
					}
					i += 2
					continue
				}
			}
			b.WriteString("%25")
			continue
		}
		if IsLiteralOK(c, query) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(UpperHex[c>>4])
		b.WriteByte(UpperHex[c&15])
	}
}
