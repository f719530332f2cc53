// Package urlnorm puts URLs into one canonical form so that the crawler's
// visited set, its frontier and the pair output treat equivalent URLs as the
// same key.
//
// Normalize applies the syntax-based normalisations of RFC 3986 section 6.2.2
// plus the scheme-based ones of section 6.2.3 that are safe for http(s):
//
//   - scheme and host are lower-cased; internationalised host names are
//     converted to their ASCII (punycode) form; IPv6 literals are written in
//     their canonical form;
//   - the default port (80 for http, 443 for https) and an empty port are dropped;
//   - the fragment is dropped (it never reaches the server);
//   - percent-escapes are normalised: hex digits upper-cased, escapes of
//     unreserved characters (A-Z a-z 0-9 - . _ ~) decoded, every other escape
//     kept as is, and bytes that may not appear literally are escaped;
//   - dot segments are removed (RFC 3986 section 5.2.4) and an empty path
//     becomes "/";
//   - an empty query ("?" with nothing after it) is dropped.
//
// The query's parameter order is kept: reordering changes meaning for some
// servers. Normalize is idempotent: Normalize(Normalize(u)) equals Normalize(u),
// which the fuzz test checks.
//
// String parses, checks that the URL is absolute http or https with a valid
// host, and returns the normalised string; it is the entry point for untrusted
// input such as seed lists. Host says which hosts are valid, and is what the
// crawler's link extraction (crawl/extract, which assembles URLs on strings
// with Host, RemoveDotSegments and WriteEscaped) uses too, so both refuse the
// same hosts. Normalize never fails: an invalid host is only lower-cased.
package urlnorm
