package cc

import (
	"bytes"
	"net/http"
)

// httpHead is what cc reads of an archived HTTP response: the status, three header fields and
// the payload as the message frames it (still content-encoded).
type httpHead struct {
	status          int
	contentType     string
	contentEncoding string
	robotsTags      []string // every X-Robots-Tag value, in order
	payload         []byte   // a slice of the block
}

// parsePlain reads block when it is a plain response — a well-formed status line, one header
// field per line, no Transfer-Encoding and at most one valid Content-Length — and reports
// whether it was. For such a response it gives what net/http's ReadResponse gives (FuzzHTTPHead
// holds it to that) without its allocations; anything else (folded or invalid header lines,
// transfer codings, a missing blank line, duplicate or odd lengths) is left to ReadResponse.
func (h *httpHead) parsePlain(block []byte) bool {
	*h = httpHead{robotsTags: h.robotsTags[:0]}
	line, rest, ok := cutLine(block)
	if !ok || !h.parseStatusLine(line) {
		return false
	}
	contentLength := int64(-1)
	var sawType, sawEncoding bool // http.Header.Get gives the first value, even an empty one
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return false // no blank line ends the header
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return false // folded (or, first, invalid) line
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return false
		}
		value := bytes.Trim(line[colon+1:], " \t")
		for _, c := range value {
			if c < ' ' && c != '\t' || c == 0x7f {
				return false
			}
		}
		switch name := line[:colon]; {
		case asciiEqualFold(name, "Content-Type"):
			if !sawType {
				h.contentType, sawType = string(value), true
			}
		case asciiEqualFold(name, "Content-Encoding"):
			if !sawEncoding {
				h.contentEncoding, sawEncoding = string(value), true
			}
		case asciiEqualFold(name, "X-Robots-Tag"):
			h.robotsTags = append(h.robotsTags, string(value))
		case asciiEqualFold(name, "Transfer-Encoding"):
			return false
		case asciiEqualFold(name, "Content-Length"):
			n, ok := parseDecimal(value)
			if !ok || contentLength >= 0 {
				return false
			}
			contentLength = n
		}
	}
	switch {
	case h.status/100 == 1, h.status == http.StatusNoContent, h.status == http.StatusNotModified:
		h.payload = nil // no body, whatever the length says
	case contentLength >= 0:
		h.payload = rest[:min(int64(len(rest)), contentLength)]
	default:
		h.payload = rest // unbounded: up to the end of the block
	}
	return true
}

// parseStatusLine reads "HTTP/x.y NNN reason" as ReadResponse does.
func (h *httpHead) parseStatusLine(line []byte) bool {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return false
	}
	proto, status := line[:sp], bytes.TrimLeft(line[sp+1:], " ")
	if len(status) < 3 || len(status) > 3 && status[3] != ' ' {
		return false
	}
	code := 0
	for _, c := range status[:3] {
		if c < '0' || c > '9' {
			return false
		}
		code = 10*code + int(c-'0')
	}
	if !bytes.Equal(proto, []byte("HTTP/1.1")) && !bytes.Equal(proto, []byte("HTTP/1.0")) {
		if _, _, ok := http.ParseHTTPVersion(string(proto)); !ok {
			return false
		}
	}
	h.status = code
	return true
}

// cutLine cuts the line before the first "\n", without the "\n" or a "\r" before it, as
// bufio.Reader.ReadLine does; ok is false when no "\n" is left.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, b, false
	}
	line, rest = b[:i], b[i+1:]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, rest, true
}

// parseDecimal reads a Content-Length value as net/http accepts it: digits only, below 2^63.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = 10*n + int64(c-'0')
	}
	return n, true
}

// isToken reports whether b is an RFC 9110 token, the only header field names net/http
// canonicalizes.
func isToken(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || !tokenByte[c] {
			return false
		}
	}
	return len(b) > 0
}

var tokenByte = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// asciiEqualFold compares a token with a field name of letters and "-", ASCII
// case-insensitively (for such names the same as comparing canonical keys).
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if b[i]|0x20 != s[i]|0x20 {
			return false
		}
	}
	return true
}
