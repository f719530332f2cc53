package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/witdata/wit/imgproc"
	"github.com/witdata/wit/internal/httpx"
)

// Failure reasons counted in the stats and written to NNNNN_failed.jsonl. HTTP statuses other than
// these read "http_<code>" (4xx) or "http_5xx".
const (
	ReasonBadURL         = "bad_url"             // empty, unparsable, or a scheme other than http(s)/file
	ReasonLocalFiles     = "local_disabled"      // a local path or file:// URL while LocalFiles is off
	ReasonNotFound       = "http_404"            // 404 and 410
	ReasonServerError    = "http_5xx"            // 5xx after the retries
	ReasonTimeout        = httpx.ReasonTimeout   // no response, or body not complete, within the timeout
	ReasonDNS            = httpx.ReasonDNS       // name does not resolve
	ReasonBlocked        = httpx.ReasonBlocked   // the SSRF guard refused the address (private, loopback, ...)
	ReasonRefused        = httpx.ReasonRefused   // nothing listens
	ReasonReset          = httpx.ReasonReset     // connection dropped mid-response
	ReasonTLS            = httpx.ReasonTLS       // handshake or certificate failure
	ReasonRedirects      = httpx.ReasonRedirects // too many redirects, or a redirect to a non-http(s) URL
	ReasonNetwork        = httpx.ReasonNetwork   // any other transport failure
	ReasonTooLarge       = httpx.ReasonTooLarge  // body (or local file) over MaxBytes
	ReasonNotImage       = "not_image"           // Content-Type or sniffed content is not an image
	ReasonOptedOut       = "opted_out"           // X-Robots-Tag noai/noimageai/noindex/noimageindex
	ReasonLocalRead      = "local_read"          // a local file could not be read
	ReasonDecode         = "decode"              // corrupt or truncated image data
	ReasonFormat         = "unsupported_format"
	ReasonTooManyPixels  = "too_many_pixels" // declared dimensions over MaxPixels (decompression bomb guard), or an output side over JPEG's 65,535
	ReasonMemoryBudget   = "memory_budget"   // decoding and resizing it would take more than MaxImageMemory
	ReasonTooSmall       = "too_small"       // shorter side under MinSize
	ReasonAspect         = "aspect"          // aspect ratio over MaxAspect
	ReasonCrashed        = "crashed"         // decoding it killed an earlier run (see journal.go), or panicked
	reasonCanceledInside = "canceled"        // never recorded: the item is redone on resume
)

// Failure is a failed item's error: a reason for the counts and the underlying error.
type Failure struct {
	Reason string
	Err    error
}

func (f *Failure) Error() string { return f.Reason + ": " + f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

func failf(reason, format string, args ...any) *Failure {
	return &Failure{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// optOutDirectives are the X-Robots-Tag directives that opt an image out of datasets
// (img2dataset's defaults).
var optOutDirectives = map[string]bool{"noai": true, "noimageai": true, "noindex": true, "noimageindex": true}

// valuedDirectives are X-Robots-Tag directives written "name: value"; anything else before a
// colon is a user-agent token.
var valuedDirectives = map[string]bool{"unavailable_after": true, "max-snippet": true, "max-image-preview": true, "max-video-preview": true}

// optedOut reports whether X-Robots-Tag header values opt out of use by agent (a lower-case
// product token). A directive applies when it has no user-agent prefix or its prefix is agent or
// "*"; "otherbot: noai" binds only otherbot, as in img2dataset and the robots meta tag rules. A
// prefix holds for the directives after it, up to the next prefix or the end of the header value.
func optedOut(values []string, agent string) bool {
	for _, v := range values {
		target := "" // "" = all agents
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			if name, rest, ok := strings.Cut(part, ":"); ok {
				name = strings.ToLower(strings.TrimSpace(name))
				if !valuedDirectives[name] {
					target = name
					part = strings.TrimSpace(rest)
				}
			}
			if (target == "" || target == "*" || target == agent) && optOutDirectives[strings.ToLower(part)] {
				return true
			}
		}
	}
	return false
}

// agentToken returns the lower-case first product token of a User-Agent ("wit-fetch/0.1 (...)"
// -> "wit-fetch").
func agentToken(ua string) string {
	tok, _, _ := strings.Cut(strings.TrimSpace(ua), " ")
	tok, _, _ = strings.Cut(tok, "/")
	return strings.ToLower(tok)
}

// downloader fetches image bytes over HTTP (through httpx) or from local files.
type downloader struct {
	client     *httpx.Client
	maxBytes   int64
	userAgent  string
	agent      string
	localFiles bool
	baseDir    string
}

// get returns the bytes of the image at raw. Errors are *Failure, except when ctx ended (the
// caller drops the item so that a resumed run does it again).
func (d *downloader) get(ctx context.Context, raw string) ([]byte, error) {
	if raw == "" {
		return nil, failf(ReasonBadURL, "empty URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		if looksLocal(raw) {
			return d.readLocal(raw)
		}
		return nil, failf(ReasonBadURL, "parse %q: %v", raw, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return nil, failf(ReasonBadURL, "%q has no host", raw)
		}
		return d.getHTTP(ctx, u)
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, failf(ReasonBadURL, "file URL %q names a remote host", raw)
		}
		return d.readLocal(u.Path)
	case "":
		return d.readLocal(raw)
	default:
		if looksLocal(raw) {
			return d.readLocal(raw)
		}
		return nil, failf(ReasonBadURL, "scheme %q not supported (http, https, file or a local path)", u.Scheme)
	}
}

// looksLocal accepts Windows-style drive paths that url.Parse reads as a scheme.
func looksLocal(s string) bool {
	return len(s) > 2 && s[1] == ':' && (s[2] == '\\' || s[2] == '/')
}

func (d *downloader) readLocal(path string) ([]byte, error) {
	if !d.localFiles {
		return nil, failf(ReasonLocalFiles, "local file %q: local files are disabled", path)
	}
	if !filepath.IsAbs(path) && d.baseDir != "" {
		path = filepath.Join(d.baseDir, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &Failure{Reason: ReasonLocalRead, Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &Failure{Reason: ReasonLocalRead, Err: err}
	}
	if !st.Mode().IsRegular() {
		return nil, failf(ReasonLocalRead, "%s is not a regular file", path)
	}
	if st.Size() > d.maxBytes {
		return nil, failf(ReasonTooLarge, "%s: %d bytes over %d", path, st.Size(), d.maxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(f, d.maxBytes+1))
	if err != nil {
		return nil, &Failure{Reason: ReasonLocalRead, Err: fmt.Errorf("read %s: %w", path, err)}
	}
	if int64(len(data)) > d.maxBytes {
		return nil, failf(ReasonTooLarge, "%s grew over %d bytes while read", path, d.maxBytes)
	}
	if ct := http.DetectContentType(data[:min(len(data), 512)]); !strings.HasPrefix(ct, "image/") {
		return nil, failf(ReasonNotImage, "%s: content sniffed as %s", path, ct)
	}
	return data, nil
}

func (d *downloader) getHTTP(ctx context.Context, u *url.URL) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, failf(ReasonBadURL, "%s: %v", u.Redacted(), err)
	}
	req.Header.Set("User-Agent", d.userAgent)
	req.Header.Set("Accept", "image/avif,image/webp,image/png,image/jpeg,image/gif,image/*;q=0.8,*/*;q=0.5")
	resp, err := d.client.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Failure{Reason: httpx.Reason(err), Err: err}
	}
	// Everything that can be decided from the headers is decided before a byte of the body is
	// read; Close without reading drops the connection instead of downloading the rest.
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, failf(statusReason(resp.StatusCode), "%s: HTTP %s", u.Redacted(), resp.Status)
	}
	if optedOut(resp.Header.Values("X-Robots-Tag"), d.agent) {
		resp.Body.Close()
		return nil, failf(ReasonOptedOut, "%s: X-Robots-Tag %q", u.Redacted(), strings.Join(resp.Header.Values("X-Robots-Tag"), "; "))
	}
	if resp.ContentLength > d.maxBytes {
		resp.Body.Close()
		return nil, failf(ReasonTooLarge, "%s: Content-Length %d over %d", u.Redacted(), resp.ContentLength, d.maxBytes)
	}
	sniff := false
	ct := resp.Header.Get("Content-Type")
	mt, _, perr := mime.ParseMediaType(ct)
	switch {
	case ct == "" || perr != nil || mt == "application/octet-stream" || mt == "binary/octet-stream" || mt == "application/binary":
		sniff = true
	case mt == "image/svg+xml":
		resp.Body.Close()
		return nil, failf(ReasonNotImage, "%s: Content-Type %s (vector images are not supported)", u.Redacted(), ct)
	case strings.HasPrefix(mt, "image/"):
	default:
		resp.Body.Close()
		return nil, failf(ReasonNotImage, "%s: Content-Type %s", u.Redacted(), ct)
	}
	data, err := httpx.ReadBody(resp, d.maxBytes)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Failure{Reason: httpx.Reason(err), Err: err}
	}
	if sniff {
		if got := http.DetectContentType(data[:min(len(data), 512)]); !strings.HasPrefix(got, "image/") {
			return nil, failf(ReasonNotImage, "%s: Content-Type %q, content sniffed as %s", u.Redacted(), ct, got)
		}
	}
	return data, nil
}

func statusReason(code int) string {
	switch {
	case code == http.StatusNotFound || code == http.StatusGone:
		return ReasonNotFound
	case code >= 500:
		return ReasonServerError
	default:
		return "http_" + strconv.Itoa(code)
	}
}

// processReason maps imgproc's reasons to fetch's.
func processReason(err error) string {
	if f := (*Failure)(nil); errors.As(err, &f) {
		return f.Reason
	}
	switch imgproc.ReasonOf(err) {
	case imgproc.ReasonTooLarge:
		return ReasonTooManyPixels
	case imgproc.ReasonMemory:
		return ReasonMemoryBudget
	case imgproc.ReasonTooSmall:
		return ReasonTooSmall
	case imgproc.ReasonAspect:
		return ReasonAspect
	case imgproc.ReasonFormat:
		return ReasonFormat
	}
	return ReasonDecode
}
