package extract

import (
	"net/url"
	"strings"
	"testing"

	"github.com/witdata/wit/internal/urlnorm"
)

func TestNormalizeURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"HTTP://Example.COM", "http://example.com/"},
		{"http://example.com:80/a", "http://example.com/a"},
		{"https://example.com:443/a", "https://example.com/a"},
		{"https://example.com:8443/a", "https://example.com:8443/a"},
		{"http://example.com:/a", "http://example.com/a"},
		{"http://example.com:0080/a", "http://example.com/a"},
		{"http://example.com/a/./b/../c/", "http://example.com/a/c/"},
		{"http://example.com/../../x", "http://example.com/x"},
		{"http://example.com/a#frag", "http://example.com/a"},
		{"http://example.com/%7euser/%41%62%63", "http://example.com/~user/Abc"},
		{"http://example.com/a%2fb%3A", "http://example.com/a%2Fb%3A"},
		{"http://example.com/?q=%e2%82%ac&r=%7E", "http://example.com/?q=%E2%82%AC&r=~"},
		{"http://[::1]:8080/x", "http://[::1]:8080/x"},
		{"http://[2001:DB8::1]/", "http://[2001:db8::1]/"},
		{"http://[2001:db8:0:0:0:0:0:1]:80/", "http://[2001:db8::1]/"},
		{"http://[fe80::1%25en0]/", ""},
		{"http://example.com/a[1]?b[]=2", "http://example.com/a[1]?b[]=2"},
		{"http://BÜCHER.example/", "http://xn--bcher-kva.example/"},
		{"ftp://example.com/", ""},
		{"mailto:a@example.com", ""},
		{"http://user@example.com/", ""},
		{"http:///nohost", ""},
		{"http://exa mple.com/", ""},
		{"http://example.com:70000/", ""},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.in)
		if err != nil {
			if tt.want != "" {
				t.Errorf("parse %q: %v", tt.in, err)
			}
			continue
		}
		if got := normalizeURL(u); got != tt.want {
			t.Errorf("normalizeURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRemoveDotSegments(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/a/b/c/./../../g", "/a/g"},
		{"/mid/content=5/../6", "/mid/6"},
		{"/a/.", "/a/"},
		{"/a/..", "/"},
		{"/..", "/"},
		{"/a/.b/..c/", "/a/.b/..c/"},
		{"/a//../b", "/a/b"},
		{"/", "/"},
	}
	for _, tt := range tests {
		if got := urlnorm.RemoveDotSegments(tt.in); got != tt.want {
			t.Errorf("RemoveDotSegments(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// slowResolve is the reference the fast path must agree with.
func slowResolve(r *resolver, raw string) string {
	s := trimURLSpace(raw)
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	if obviouslyNotHTTP(s) {
		return ""
	}
	ref, err := url.Parse(preEscape(s))
	if err != nil {
		return ""
	}
	return r.resolveRef(ref)
}

var resolveCases = []string{
	"a.html", "./a.html", "../a.html", "../../../../a.html", "/abs/x.png", "dir/", ".", "..", "./",
	"a.html?x=1&y=2", "a.html?x=/y?z", "a.html#frag", "a.html?q#f", "/a/./b/../c.png",
	"img/photo(1).jpg", "a;b=c/d", "~user/@x", "a!$&'()*+,;=.png", "a//b", "/", "x/..", "x/.",
	"a:b", "?q", "#f", "//host/x", "http://h/x", "a%20b", "a b", "é.png", `a\b`,
}

func TestFastPathMatchesSlowPath(t *testing.T) {
	for _, base := range []string{
		"https://example.com/docs/guide/page.html",
		"http://example.com",
		"http://Example.com:8080/a/b/?q=1",
		"https://example.com/a%20b/c(d)/",
	} {
		var r resolver
		r.init(mustURL(t, base))
		if !r.ok {
			t.Fatalf("base %q rejected", base)
		}
		for _, ref := range resolveCases {
			fast, ok := r.fast(trimURLSpace(ref))
			if !ok {
				continue
			}
			if slow := slowResolve(&r, ref); fast != slow {
				t.Errorf("base %q ref %q: fast %q, slow %q", base, ref, fast, slow)
			}
			// And with the standard library's resolver, except where it
			// collapses empty segments ("a//b") and RFC 3986 keeps them.
			if strings.Contains(ref, "//") {
				continue
			}
			pu, err := url.Parse(ref)
			if err != nil {
				continue
			}
			if std := normalizeURL(r.base.ResolveReference(pu)); std != fast {
				t.Errorf("base %q ref %q: fast %q, net/url %q", base, ref, fast, std)
			}
		}
	}
}

func FuzzResolve(f *testing.F) {
	for _, s := range resolveCases {
		f.Add("https://example.com/docs/guide/page.html", s)
	}
	f.Add("http://a.example/b/c", "../../d;p?q")
	f.Fuzz(func(t *testing.T, base, ref string) {
		bu, err := url.Parse(base)
		if err != nil {
			return
		}
		var r resolver
		r.init(bu)
		if !r.ok {
			return
		}
		got := r.resolve(ref)
		if got == "" {
			return
		}
		checkURL(t, got)
		stripped, _, _ := strings.Cut(trimURLSpace(ref), "#")
		if stripped == "" {
			return
		}
		if fast, ok := r.fast(stripped); ok {
			if slow := slowResolve(&r, ref); fast != slow {
				t.Errorf("base %q ref %q: fast %q, slow %q", base, ref, fast, slow)
			}
		}
	})
}
