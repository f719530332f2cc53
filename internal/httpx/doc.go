// Package httpx is the HTTP client shared by the crawler, the robots.txt
// cache and the image downloader. It wraps net/http with what fetching from
// many untrusted hosts needs:
//
//	Client.HTTP (http.Client: CheckRedirect caps redirects, http(s) only)
//	  -> roundTripper (per request attempt):
//	       per-host limiter: at most PerHost requests in flight to one host and
//	         at least Delay between request starts to it (SetHostDelay raises
//	         the delay per host, e.g. for robots.txt Crawl-delay);
//	       User-Agent; an attempt deadline (Timeout) covering dial, headers
//	         and the whole body; retries with exponential backoff and jitter on
//	         429/5xx, timeouts and connection resets, honouring Retry-After,
//	         for GET and HEAD only;
//	  -> http.Transport (keep-alive pool, HTTP/2, no proxy)
//	  -> dialer: DNS cache (TTL, bounded) -> dial each resolved IP, with the
//	       netguard SSRF check in net.Dialer.Control on the resolved address.
//
// # The limiter slot lives until the body is closed
//
// A request holds its host's slot from the start of the attempt until its
// response body is closed (or the attempt deadline passes, so a caller that
// forgets Close cannot wedge a host). Releasing after the headers would let
// any number of body downloads run against one host at once — the load that
// politeness is about — and the crawler reads bodies straight away, so
// holding the slot costs nothing there. Always close response bodies.
//
// # Timeouts
//
// Options.Timeout bounds each attempt end to end, body included, through a
// context deadline on the attempt: a server that never answers, or one that
// trickles its body a byte at a time, ends with an error after Timeout. Each
// redirect hop is an attempt of its own. Retry waits are not counted; cancel
// the request's context to bound the total.
//
// # Body size
//
// Bodies read past Options.MaxBodyBytes fail with ErrBodyTooLarge (also when
// read through Client.HTTP directly). ReadBody reads a whole body with its own
// limit. Compressed responses are decoded by the transport, so the limit
// applies to decoded bytes (no gzip bombs).
//
// # Errors
//
// Failures are told apart by type and sentinel, never by message: ErrTooManyRedirects,
// ErrBadRedirect and ErrBodyTooLarge are wrapped into the errors the client returns, and
// netguard.ErrBlocked into a refused dial. Reason names any such error with one of the Reason*
// constants; the crawler and the downloader count their failures under those names.
//
// Host keys are URL.Host lower-cased, with ":80" and ":443" dropped.
// Proxies from the environment are not used: a proxy would dial on our
// behalf and bypass the SSRF guard.
package httpx
