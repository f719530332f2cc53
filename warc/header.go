package warc

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Record types (WARC-Type values).
const (
	TypeWarcinfo   = "warcinfo"
	TypeResponse   = "response"
	TypeRequest    = "request"
	TypeMetadata   = "metadata"
	TypeResource   = "resource"
	TypeRevisit    = "revisit"
	TypeConversion = "conversion"
)

// Names of the header fields this package reads or writes.
const (
	FieldType          = "WARC-Type"
	FieldRecordID      = "WARC-Record-ID"
	FieldDate          = "WARC-Date"
	FieldTargetURI     = "WARC-Target-URI"
	FieldContentLength = "Content-Length"
	FieldContentType   = "Content-Type"
	FieldConcurrentTo  = "WARC-Concurrent-To"
	FieldBlockDigest   = "WARC-Block-Digest"
	FieldPayloadDigest = "WARC-Payload-Digest"
	FieldIPAddress     = "WARC-IP-Address"
	FieldTruncated     = "WARC-Truncated"
	FieldWarcinfoID    = "WARC-Warcinfo-ID"
	FieldFilename      = "WARC-Filename"
)

// Content types of HTTP message blocks.
const (
	ContentTypeHTTPRequest  = "application/http; msgtype=request"
	ContentTypeHTTPResponse = "application/http; msgtype=response"
	ContentTypeWarcFields   = "application/warc-fields"
)

// Field is one named header field.
type Field struct {
	Name, Value string
}

// Header holds a record's version line and named fields, in file order.
type Header struct {
	Version string // "WARC/1.1", "WARC/1.0", ...
	Fields  []Field
}

// Get returns the value of the first field named name (case-insensitive), or "".
func (h *Header) Get(name string) string {
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Set replaces the value of the field named name, or appends the field.
func (h *Header) Set(name, value string) {
	for i, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			h.Fields[i].Value = value
			return
		}
	}
	h.Fields = append(h.Fields, Field{name, value})
}

// Type is the WARC-Type.
func (h *Header) Type() string { return h.Get(FieldType) }

// TargetURI is the WARC-Target-URI, without the angle brackets WARC/1.0 drafts allowed.
func (h *Header) TargetURI() string {
	return strings.TrimSuffix(strings.TrimPrefix(h.Get(FieldTargetURI), "<"), ">")
}

// Date parses the WARC-Date (W3C-ISO8601, seconds or fractions; UTC).
func (h *Header) Date() (time.Time, error) {
	v := h.Get(FieldDate)
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		// A date without seconds or zone is invalid WARC, but seen in the wild.
		for _, layout := range []string{"2006-01-02T15:04Z", "2006-01-02T15:04:05", "2006-01-02"} {
			if t2, err2 := time.Parse(layout, v); err2 == nil {
				return t2.UTC(), nil
			}
		}
		return time.Time{}, fmt.Errorf("warc: bad %s %q: %w", FieldDate, v, err)
	}
	return t.UTC(), nil
}

// FormatDate writes t as a WARC-Date: UTC with milliseconds (WARC/1.1 allows fractions).
func FormatDate(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// NewRecordID returns a fresh "<urn:uuid:…>" record ID (a random version 4 UUID).
func NewRecordID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return "<urn:uuid:" + string(s[:]) + ">"
}

// Digest returns "sha1:" and the base32 SHA-1 of data, the form Common Crawl and Heritrix write
// in WARC-Block-Digest and WARC-Payload-Digest.
func Digest(data ...[]byte) string {
	h := sha1.New()
	for _, d := range data {
		h.Write(d)
	}
	return "sha1:" + base32.StdEncoding.EncodeToString(h.Sum(nil))
}
