package netguard

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// ErrBlocked is wrapped by every error that refuses an address.
var ErrBlocked = errors.New("address blocked by SSRF guard")

type blockedRange struct {
	prefix netip.Prefix
	reason string
}

// blockedRanges lists what the netip predicates do not cover; order puts the
// more specific reasons first so errors name them.
var blockedRanges = []blockedRange{
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata"},
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // includes 255.255.255.255 broadcast
	{netip.MustParsePrefix("100::/64"), "discard-only"},
}

var (
	nat64Prefix  = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour    = netip.MustParsePrefix("2002::/16")
	v4Compatible = netip.MustParsePrefix("::/96")
)

// CheckIP returns nil when ip is a public unicast address, and an error
// wrapping ErrBlocked otherwise. An invalid address is blocked.
func CheckIP(ip netip.Addr) error {
	if reason := blockReason(ip); reason != "" {
		return fmt.Errorf("netguard: %s is %s: %w", ip, reason, ErrBlocked)
	}
	return nil
}

func blockReason(ip netip.Addr) string {
	if !ip.IsValid() {
		return "not a valid address"
	}
	ip = ip.WithZone("")
	if ip.Is4In6() {
		if r := blockReason(ip.Unmap()); r != "" {
			return "IPv4-mapped " + r
		}
		return ""
	}
	for _, r := range blockedRanges {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	switch {
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	}
	if ip.Is6() {
		// IPv6 forms that carry an IPv4 address which the network may route
		// to the IPv4 host: judge the embedded address.
		b := ip.As16()
		var embedded netip.Addr
		switch {
		case nat64Prefix.Contains(ip), v4Compatible.Contains(ip):
			embedded = netip.AddrFrom4([4]byte(b[12:16]))
		case sixToFour.Contains(ip):
			embedded = netip.AddrFrom4([4]byte(b[2:6]))
		}
		if embedded.IsValid() {
			if r := blockReason(embedded); r != "" {
				return "IPv6-embedded " + r
			}
		}
	}
	return ""
}

// Control returns a net.Dialer.Control hook that refuses connections to
// blocked addresses. The address it sees is the resolved IP and port, so the
// check holds for every redirect hop, retry and DNS answer. With allowPrivate
// it allows everything (tests and intranet crawls).
func Control(allowPrivate bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		return CheckAddress(address)
	}
}

// CheckAddress checks an "ip:port" (or bare IP) string as the dialer sees it.
func CheckAddress(address string) error {
	var ip netip.Addr
	if ap, err := netip.ParseAddrPort(address); err == nil {
		ip = ap.Addr()
	} else if a, err := netip.ParseAddr(address); err == nil {
		ip = a
	} else {
		return fmt.Errorf("netguard: cannot parse dial address %q: %w", address, ErrBlocked)
	}
	return CheckIP(ip)
}
