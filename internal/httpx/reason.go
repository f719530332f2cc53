package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/witdata/wit/internal/netguard"
)

// Reasons a request failed, as Reason names them: the keys of the crawler's and the downloader's
// failure counts. HTTP statuses are the stages' own to name.
const (
	ReasonTimeout   = "timeout"            // no response, or body not complete, within the timeout
	ReasonDNS       = "dns"                // the name does not resolve
	ReasonBlocked   = "blocked_address"    // the SSRF guard refused the address (private, loopback, ...)
	ReasonRefused   = "connection_refused" // nothing listens
	ReasonReset     = "connection_reset"   // the connection dropped mid-response
	ReasonTLS       = "tls"                // handshake or certificate failure
	ReasonRedirects = "redirects"          // more than MaxRedirects, or a redirect to a non-http(s) URL
	ReasonTooLarge  = "too_large"          // body over the limit (ErrBodyTooLarge)
	ReasonNetwork   = "network"            // any other transport failure
)

// Reason names why a request or a body read through a Client failed, by the error's type or
// sentinel (never its text); "" for nil. A cancelled context is the caller's to tell apart
// first: it reads as ReasonNetwork here.
func Reason(err error) string {
	var (
		dnsErr   *net.DNSError
		certErr  *tls.CertificateVerificationError
		unkAuth  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrBodyTooLarge):
		return ReasonTooLarge
	case errors.Is(err, netguard.ErrBlocked):
		return ReasonBlocked
	case errors.Is(err, ErrTooManyRedirects), errors.Is(err, ErrBadRedirect):
		return ReasonRedirects
	case errors.As(err, &dnsErr) && !dnsErr.IsTimeout:
		return ReasonDNS
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), timedOut(err):
		return ReasonTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return ReasonReset
	case errors.As(err, &certErr), errors.As(err, &unkAuth), errors.As(err, &hostErr),
		errors.As(err, &recErr), errors.As(err, &alertErr):
		return ReasonTLS
	}
	return ReasonNetwork
}

// timedOut reports whether any error in err's tree says it is a timeout. errors.As would stop at
// the first net.Error, and a *url.Error whose Err wraps the timeout answers false itself.
func timedOut(err error) bool {
	if t, ok := err.(interface{ Timeout() bool }); ok && t.Timeout() {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		if next := u.Unwrap(); next != nil {
			return timedOut(next)
		}
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if timedOut(e) {
				return true
			}
		}
	}
	return false
}
