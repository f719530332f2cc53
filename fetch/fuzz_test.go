package fetch

import (
	"strings"
	"testing"
)

// FuzzOptedOut checks the X-Robots-Tag parser on arbitrary header values: no panics, and a value
// that names none of the opt-out directives never opts out.
func FuzzOptedOut(f *testing.F) {
	for _, seed := range []string{"noai", "otherbot: noai", "wit-fetch: noimageai, nofollow", "unavailable_after: 1 Jan 2030, noindex",
		"*: NOINDEX", ",,:,", "max-snippet: 3, wit-fetch: none"} {
		f.Add(seed, "wit-fetch")
	}
	f.Fuzz(func(t *testing.T, value, agent string) {
		got := optedOut([]string{value}, strings.ToLower(agent))
		lower := strings.ToLower(value)
		if got && !strings.Contains(lower, "noai") && !strings.Contains(lower, "noimageai") && !strings.Contains(lower, "noindex") && !strings.Contains(lower, "noimageindex") {
			t.Fatalf("optedOut(%q) = true without an opt-out directive", value)
		}
		// Adding an unprefixed header with noai always opts out.
		if !optedOut([]string{value, "noai"}, agent) {
			t.Fatalf("optedOut(%q, noai) = false", value)
		}
	})
}

// FuzzParseQueries: matched_queries text never panics and a JSON array round-trips its length.
func FuzzParseQueries(f *testing.F) {
	for _, seed := range []string{`["cat","dog"]`, "cat", "", "[", `[1,2]`, `["a\u0000"]`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := parseQueries(s)
		if strings.TrimSpace(s) == "" && q != nil {
			t.Fatalf("parseQueries(%q) = %q", s, q)
		}
		if strings.TrimSpace(s) != "" && len(q) == 0 && !strings.HasPrefix(strings.TrimSpace(s), "[") {
			t.Fatalf("parseQueries(%q) lost the value", s)
		}
	})
}

// FuzzHostKey: never panics; non-http(s) input has no host key.
func FuzzHostKey(f *testing.F) {
	for _, seed := range []string{"http://a.test/x", "https://[::1]:80/", "file:///x", "HTTP://%zz", "http://"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := HostKey(s)
		if k != "" && !strings.HasPrefix(strings.ToLower(s), "http") {
			t.Fatalf("HostKey(%q) = %q", s, k)
		}
	})
}
