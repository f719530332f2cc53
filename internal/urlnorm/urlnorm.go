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
	n.Host = normalizeHost(n.Scheme, n.Host)

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

// defaultPorts maps schemes to the port that is implied when none is given.
var defaultPorts = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443", "ftp": "21"}

func normalizeHost(scheme, hostport string) string {
	if hostport == "" {
		return ""
	}
	host, port := splitHostPort(hostport)
	if port != "" {
		if p, err := strconv.Atoi(port); err == nil && p >= 0 {
			port = strconv.Itoa(p)
		}
		if port == defaultPorts[scheme] {
			port = ""
		}
	}
	ipv6 := false
	if strings.IndexByte(host, ':') >= 0 {
		ipv6 = true
		if a, err := netip.ParseAddr(host); err == nil {
			host = a.String()
		} else {
			host = strings.ToLower(host)
		}
	} else {
		host = normalizeHostname(host)
	}
	if ipv6 {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return host
}

// splitHostPort is net.SplitHostPort without its errors: url.Parse has
// already validated the syntax, and a trailing ":" gives an empty port.
func splitHostPort(hostport string) (host, port string) {
	if strings.HasPrefix(hostport, "[") {
		end := strings.LastIndexByte(hostport, ']')
		if end < 0 {
			return hostport[1:], ""
		}
		host = hostport[1:end]
		if rest := hostport[end+1:]; strings.HasPrefix(rest, ":") {
			port = rest[1:]
		}
		return host, port
	}
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		return hostport[:i], hostport[i+1:]
	}
	return hostport, ""
}

func normalizeHostname(host string) string {
	ascii := true
	upper := false
	for i := 0; i < len(host); i++ {
		c := host[i]
		if c >= 0x80 {
			ascii = false
			break
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if ascii {
		if upper {
			return strings.ToLower(host)
		}
		return host
	}
	if a, err := idna.Lookup.ToASCII(host); err == nil {
		return a
	}
	// Not a valid IDN (e.g. contains characters that UTS #46 rejects): keep a
	// deterministic form rather than failing, so the URL still gets one key.
	if a, err := idna.Punycode.ToASCII(strings.ToLower(host)); err == nil {
		return strings.ToLower(a)
	}
	return strings.ToLower(host)
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
	return b.String()
}
