// Package robots decides whether the crawler may fetch a URL, from the
// site's robots.txt (RFC 9309), and how long to wait between requests to the
// site (the non-standard Crawl-delay).
//
// Cache.Check(ctx, u) looks up the robots.txt of u's scheme, host and port
// in an LRU cache; on a miss or after TTL it fetches /robots.txt through the
// given http.Client (so the politeness limiter, retries and SSRF guard of
// internal/httpx apply, and redirects are followed by the client). Concurrent
// checks for one site share one fetch.
//
// What a response means, as Google and Nutch do it:
//
//   - 2xx: the first 500 KiB are parsed (github.com/temoto/robotstxt), whatever
//     the Content-Length says and whatever the client's body limit; the
//     group for our user-agent token (the User-Agent up to its first "/"),
//     else "*", decides. Lines the parser rejects (rules before any
//     User-agent, bad Crawl-delay values) are dropped rather than failing the
//     file.
//   - 4xx, 401 and 403 included, and a redirect chain too long to follow:
//     there is no usable robots.txt, so everything is allowed.
//   - 429 or 5xx: the site is not in a state to say, so Check returns
//     ErrRetryLater and the crawler re-queues the URL.
//   - no answer at all (DNS failure, connection refused, no response headers
//     within the client's timeout after its retries, TLS failure): Check
//     returns ErrUnreachable wrapping the cause; the crawler fails the page
//     with that cause rather than waiting for a host that is not there.
//   - Both answers are cached for RetryTTL (1 minute) so a struggling or dead
//     host is not asked again for every queued URL. If an earlier good copy
//     exists, it is kept in use instead (stale-if-error) for RetryTTL at a
//     time.
//   - a dial refused by the SSRF guard: the error is returned as is (the host
//     cannot be crawled at all) and cached for RetryTTL.
//
// Crawl-delay is capped at Options.MaxCrawlDelay; the caller passes it to
// httpx.Client.SetHostDelay.
package robots
