package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/witdata/wit/internal/netguard"
)

func TestReasonOfErrors(t *testing.T) {
	// As http.Client.Do returns them: in a *url.Error, inside a *net.OpError for dial failures.
	wrap := func(err error) error {
		return &url.Error{Op: "Get", URL: "http://a.test/", Err: fmt.Errorf("dial tcp: %w", &net.OpError{Op: "dial", Net: "tcp", Err: err})}
	}
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("read: %w", ErrBodyTooLarge), ReasonTooLarge},
		{wrap(fmt.Errorf("x: %w", netguard.ErrBlocked)), ReasonBlocked},
		{&url.Error{Op: "Get", URL: "http://a.test/", Err: fmt.Errorf("more: %w", ErrTooManyRedirects)}, ReasonRedirects},
		{fmt.Errorf("ftp: %w", ErrBadRedirect), ReasonRedirects},
		{wrap(&net.DNSError{Err: "no such host", Name: "a.test", IsNotFound: true}), ReasonDNS},
		{wrap(&net.DNSError{Err: "i/o timeout", Name: "a.test", IsTimeout: true}), ReasonTimeout},
		{context.DeadlineExceeded, ReasonTimeout},
		{wrap(os.ErrDeadlineExceeded), ReasonTimeout},
		{wrap(syscall.ECONNREFUSED), ReasonRefused},
		{wrap(syscall.ECONNRESET), ReasonReset},
		{wrap(syscall.EPIPE), ReasonReset},
		{fmt.Errorf("body: %w", io.ErrUnexpectedEOF), ReasonReset},
		{&tls.CertificateVerificationError{Err: errors.New("expired")}, ReasonTLS},
		{fmt.Errorf("x: %w", x509.UnknownAuthorityError{}), ReasonTLS},
		{x509.HostnameError{Host: "a.test", Certificate: &x509.Certificate{}}, ReasonTLS},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, ReasonTLS},
		{wrap(tls.AlertError(40)), ReasonTLS},
		{errors.New("something else"), ReasonNetwork},
		{context.Canceled, ReasonNetwork},
		// The text of Go's own redirect error is not looked at: only the client's sentinel counts.
		{errors.New("stopped after 10 redirects"), ReasonNetwork},
	}
	for _, tt := range tests {
		if got := Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestReasonOfClient: the errors the Client itself returns are named by type, end to end.
func TestReasonOfClient(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/ftp", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "ftp://a.test/", http.StatusFound) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 2048)) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	c := testClient(t, func(o *Options) {
		o.MaxBodyBytes = 1024
		o.Timeout = 200 * time.Millisecond
		o.Retries = 0
	})
	guarded := testClient(t, func(o *Options) { o.AllowPrivate = false })
	tests := []struct {
		c    *Client
		url  string
		want string
	}{
		{c, srv.URL + "/loop", ReasonRedirects},
		{c, srv.URL + "/ftp", ReasonRedirects},
		{c, srv.URL + "/big", ReasonTooLarge},
		{c, srv.URL + "/slow", ReasonTimeout},
		{c, closedURL + "/", ReasonRefused},
		{guarded, srv.URL + "/big", ReasonBlocked},
	}
	for _, tt := range tests {
		_, _, err := get(t, tt.c, tt.url)
		if got := Reason(err); got != tt.want {
			t.Errorf("%s: Reason(%v) = %q, want %q", strings.TrimPrefix(tt.url, srv.URL), err, got, tt.want)
		}
	}
}
