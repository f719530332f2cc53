// Package netguard keeps the crawler and the image downloader from being used
// against the machine they run on or its private network (SSRF).
//
// A page can link to, or redirect to, any address — including 127.0.0.1, a
// router's admin page on 192.168.0.1, or a cloud metadata service on
// 169.254.169.254 that hands out credentials. Checking the host name of a URL
// is not enough: a public name can resolve to a private address, and a name
// can resolve differently the second time (DNS rebinding). So the check is
// made where it cannot be bypassed: in net.Dialer's Control hook, which sees
// the already resolved IP address of every connection attempt, including each
// redirect hop and each retry.
//
// Refused ranges: loopback, RFC 1918 private, unique-local fc00::/7,
// link-local (169.254.0.0/16, fe80::/10), unspecified, "this network"
// 0.0.0.0/8, multicast, broadcast and reserved 240.0.0.0/4, carrier-grade
// NAT 100.64.0.0/10, cloud metadata endpoints (169.254.169.254,
// fd00:ec2::254), and the same IPv4 ranges embedded in IPv6 (IPv4-mapped
// ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16).
//
// Use Control(allowPrivate) as net.Dialer.Control; CheckIP for addresses you
// have in hand. Errors wrap ErrBlocked and name the address.
package netguard
