package netguard

import (
	"fmt"
	"net/netip"
	"strings"
)

// AllowList names destinations the guard lets through although they are private: exact
// "ip:port" pairs, single IPs or CIDR prefixes.
type AllowList struct {
	addrPorts []netip.AddrPort
	prefixes  []netip.Prefix
}

// ParseAllowList parses entries such as "127.0.0.1:8080", "10.0.0.7", "10.1.0.0/16".
func ParseAllowList(entries []string) (*AllowList, error) {
	a := &AllowList{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if ap, err := netip.ParseAddrPort(e); err == nil {
			a.addrPorts = append(a.addrPorts, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
			continue
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			a.prefixes = append(a.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		if p, err := netip.ParsePrefix(e); err == nil {
			a.prefixes = append(a.prefixes, p.Masked())
			continue
		}
		return nil, fmt.Errorf("netguard: allow entry %q is not ip:port, ip or CIDR", e)
	}
	return a, nil
}

// NewAllowList is ParseAllowList for entries already validated; invalid ones are ignored.
func NewAllowList(entries []string) *AllowList {
	var ok []string
	for _, e := range entries {
		if _, err := ParseAllowList([]string{e}); err == nil {
			ok = append(ok, e)
		}
	}
	a, _ := ParseAllowList(ok)
	return a
}

// Allows reports whether the dial address ("ip:port") is on the list.
func (a *AllowList) Allows(address string) bool {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap().WithZone("")
	for _, x := range a.addrPorts {
		if x.Addr() == ip && x.Port() == ap.Port() {
			return true
		}
	}
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
