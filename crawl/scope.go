package crawl

import (
	"net"
	"path"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// scope decides which discovered links are followed.
type scope struct {
	mode  string
	globs []string
}

func newScope(mode string, globs []string) *scope {
	s := &scope{mode: mode}
	for _, g := range globs {
		s.globs = append(s.globs, strings.ToLower(strings.TrimSpace(g)))
	}
	return s
}

// allows reports whether a link to host may be followed from a page whose scope root is root
// (the seed's host, after any redirect of the seed itself). Hosts are URL.Host values: a port
// is part of the host ("same host" means same origin host:port); globs match with or without it.
func (s *scope) allows(root, host string) bool {
	host = strings.ToLower(host)
	bare := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		bare = strings.Trim(h, "[]")
	}
	for _, g := range s.globs {
		if ok, _ := path.Match(g, host); ok {
			return true
		}
		if ok, _ := path.Match(g, bare); ok {
			return true
		}
	}
	switch s.mode {
	case ScopeHost:
		return host == root
	case ScopeDomain:
		return host == root || registeredDomain(host) == registeredDomain(root)
	}
	return false
}

// registeredDomain is eTLD+1 ("a.b.example.co.uk" -> "example.co.uk"); an IP address or a host
// that is itself a public suffix is its own domain.
func registeredDomain(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if net.ParseIP(host) != nil {
		return host
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return host
	}
	return d
}
