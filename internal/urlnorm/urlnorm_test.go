package urlnorm

import (
	"errors"
	"net/url"
	"testing"
)

func TestString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"lower scheme and host", "HTTP://Example.COM/Path", "http://example.com/Path"},
		{"default http port", "http://example.com:80/a", "http://example.com/a"},
		{"default https port", "https://example.com:443/a", "https://example.com/a"},
		{"non-default port kept", "https://example.com:8443/a", "https://example.com:8443/a"},
		{"http port on https kept", "https://example.com:80/", "https://example.com:80/"},
		{"empty port", "http://example.com:/a", "http://example.com/a"},
		{"port leading zeros", "http://example.com:0080/a", "http://example.com/a"},
		{"fragment dropped", "http://example.com/a#frag", "http://example.com/a"},
		{"empty path", "http://example.com", "http://example.com/"},
		{"empty path with query", "http://example.com?q=1", "http://example.com/?q=1"},
		{"empty query dropped", "http://example.com/a?", "http://example.com/a"},
		{"dot segments", "http://example.com/a/b/../c/./d", "http://example.com/a/c/d"},
		{"dot segment trailing", "http://example.com/a/b/..", "http://example.com/a/"},
		{"dot segment single", "http://example.com/a/.", "http://example.com/a/"},
		{"dot segments above root", "http://example.com/../../a", "http://example.com/a"},
		{"rfc 5.2.4 example", "http://example.com/a/b/c/./../../g", "http://example.com/a/g"},
		{"rfc 5.2.4 example 2", "http://example.com/mid/content=5/../6", "http://example.com/mid/6"},
		{"encoded dots", "http://example.com/a/%2e%2E/b", "http://example.com/b"},
		{"dots in names kept", "http://example.com/a..b/.c/file.txt", "http://example.com/a..b/.c/file.txt"},
		{"empty segments kept", "http://example.com//a//b", "http://example.com//a//b"},
		{"hex upper-cased", "http://example.com/a%2fb%3a", "http://example.com/a%2Fb%3A"},
		{"unreserved decoded", "http://example.com/%7Euser/%41%62%2D%5F", "http://example.com/~user/Ab-_"},
		{"reserved kept", "http://example.com/a%2Bb%20c", "http://example.com/a%2Bb%20c"},
		{"space escaped", "http://example.com/a b", "http://example.com/a%20b"},
		{"utf8 path escaped", "http://example.com/café", "http://example.com/caf%C3%A9"},
		{"query escapes", "http://example.com/?a=%7e%2b&b=%e2%82%ac", "http://example.com/?a=~%2B&b=%E2%82%AC"},
		{"query order kept", "http://example.com/?b=1&a=2", "http://example.com/?b=1&a=2"},
		{"query plus kept", "http://example.com/?q=a+b", "http://example.com/?q=a+b"},
		{"query bad escape", "http://example.com/?q=100%", "http://example.com/?q=100%25"},
		{"query utf8", "http://example.com/?q=ü", "http://example.com/?q=%C3%BC"},
		{"idn host", "http://Bücher.example/", "http://xn--bcher-kva.example/"},
		{"idn host upper", "https://MÜNCHEN.de/x", "https://xn--mnchen-3ya.de/x"},
		{"punycode kept", "http://xn--bcher-kva.example/", "http://xn--bcher-kva.example/"},
		{"ipv4", "http://192.168.0.1:80/", "http://192.168.0.1/"},
		{"ipv6 canonical", "http://[2001:DB8:0:0::1]:8080/", "http://[2001:db8::1]:8080/"},
		{"ipv6 default port", "https://[::1]:443/", "https://[::1]/"},
		{"userinfo kept", "http://User:Pw@Example.com/", "http://User:Pw@example.com/"},
		{"whitespace trimmed", "  http://example.com/a \n", "http://example.com/a"},
		{"brackets in query", "http://example.com/?a[]=1", "http://example.com/?a[]=1"},
		{"sub-delims in path", "http://example.com/a;b=c,d!$&'()*+", "http://example.com/a;b=c,d!$&'()*+"},
		{"encoded question mark", "http://example.com/a%3fb", "http://example.com/a%3Fb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := String(tt.in)
			if err != nil {
				t.Fatalf("String(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
			again, err := String(got)
			if err != nil || again != got {
				t.Errorf("not idempotent: String(%q) = %q, %v", got, again, err)
			}
		})
	}
}

func TestStringErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantErr error
	}{
		{"ftp://example.com/", ErrUnsupportedScheme},
		{"javascript:alert(1)", ErrUnsupportedScheme},
		{"mailto:a@example.com", ErrUnsupportedScheme},
		{"data:image/png;base64,AAAA", ErrUnsupportedScheme},
		{"/relative/path", ErrUnsupportedScheme},
		{"example.com/a", ErrUnsupportedScheme},
		{"http:///nohost", ErrNoHost},
		{"http:opaque", ErrNoHost},
		{"http://exa mple.com/", nil},
		{"http://example.com:port/", nil},
		{"http://[::1/", nil},
		{"", ErrUnsupportedScheme},
	}
	for _, tt := range tests {
		_, err := String(tt.in)
		if err == nil {
			t.Errorf("String(%q): want error", tt.in)
			continue
		}
		if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("String(%q) = %v, want %v", tt.in, err, tt.wantErr)
		}
	}
}

func TestHost(t *testing.T) {
	tests := []struct {
		scheme, in, want string // want "" means invalid
	}{
		{"http", "example.com", "example.com"},
		{"http", "Example.COM", "example.com"},
		{"HTTP", "example.com:80", "example.com"},
		{"https", "example.com:443", "example.com"},
		{"https", "example.com:80", "example.com:80"},
		{"http", "example.com:", "example.com"},
		{"http", "example.com:0080", "example.com"},
		{"http", "example.com:08080", "example.com:8080"},
		{"http", "example.com:65535", "example.com:65535"},
		{"ws", "example.com:80", "example.com"},
		{"http", "my_host.example.", "my_host.example."},
		{"http", "192.168.0.1:80", "192.168.0.1"},
		{"http", "[2001:DB8:0:0::1]:8080", "[2001:db8::1]:8080"},
		{"https", "[::1]:443", "[::1]"},
		{"http", "[::ffff:1.2.3.4]", "[::ffff:1.2.3.4]"},
		{"http", "Bücher.example", "xn--bcher-kva.example"},
		{"http", "MÜNCHEN.de:8080", "xn--mnchen-3ya.de:8080"},
		{"http", "xn--bcher-kva.example", "xn--bcher-kva.example"},

		// Invalid: what no web URL can have.
		{"http", "", ""},
		{"http", ":80", ""},
		{"http", "example.com:0", ""},
		{"http", "example.com:65536", ""},
		{"http", "example.com:99999999999999999999", ""},
		{"http", "example.com:8a", ""},
		{"http", "example.com:-1", ""},
		{"http", "exa mple.com", ""},
		{"http", "exa!mple.com", ""},
		{"http", "a~b.example", ""},
		{"http", "a%41.example", ""},
		{"http", "a:b:80", ""},
		{"http", "a\x00b.example", ""},
		{"http", "[::1", ""},
		{"http", "[1.2.3.4]", ""},
		{"http", "[not-an-address]", ""},
		{"http", "[fe80::1%en0]", ""},
		{"http", "[fe80::1%en0]:8080", ""},
		{"http", "bad\u00a0space.example", ""}, // IDNA refuses a no-break space
		{"http", "a\u2488b.example", ""},       // "⒈": disallowed by IDNA's STD3 rules
	}
	for _, tt := range tests {
		got, ok := Host(tt.scheme, tt.in)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("Host(%q, %q) = %q, %v; want %q", tt.scheme, tt.in, got, ok, tt.want)
			continue
		}
		if ok {
			if again, ok := Host(tt.scheme, got); !ok || again != got {
				t.Errorf("Host not idempotent: %q -> %q -> %q, %v", tt.in, got, again, ok)
			}
		}
	}
	// String refuses the URLs of invalid hosts that url.Parse lets through.
	for _, raw := range []string{"http://exa!mple.com/", "http://[fe80::1%25en0]/", "http://example.com:0/", "http://a~b.example/"} {
		if _, err := String(raw); !errors.Is(err, ErrBadHost) {
			t.Errorf("String(%q) = %v, want ErrBadHost", raw, err)
		}
	}
}

func TestHostDoesNotAllocate(t *testing.T) {
	for _, hp := range []string{"www.example.com", "example.com:8080", "[2001:db8::1]:8080"} {
		if n := testing.AllocsPerRun(100, func() { Host("https", hp) }); n != 0 {
			t.Errorf("Host(%q): %v allocations", hp, n)
		}
	}
}

func TestNormalizeDoesNotModifyInput(t *testing.T) {
	u, _ := url.Parse("HTTP://User@Example.com:80/a/../b#f")
	before := *u
	userBefore := u.User.String()
	n := Normalize(u)
	if *u != before || u.User.String() != userBefore {
		t.Fatalf("input modified: %v", u)
	}
	if got := n.String(); got != "http://User@example.com/b" {
		t.Fatalf("got %q", got)
	}
	if Normalize(nil) != nil {
		t.Fatal("Normalize(nil) != nil")
	}
}

func TestNormalizeRelative(t *testing.T) {
	// Relative references keep their leading dot segments: removing them
	// would change what they resolve to.
	u, _ := url.Parse("../a/./b#x")
	if got := Normalize(u).String(); got != "../a/./b" {
		t.Fatalf("got %q", got)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"http://Example.com:80/a/../b?q=%7e#f",
		"https://[2001:db8::1]:443/%2e%2E/x",
		"http://Bücher.example/café?ü=1",
		"http://example.com/a%zz%2",
		"http://u:p@h/./.././",
		"http://h/a b?c d",
		"../x/./y",
		"mailto:X@Y",
		"http://[fe80::1%25en0]:8080/",
		"http://h/%25%32%35",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		n1 := Normalize(u)
		s1 := n1.String()
		n2 := Normalize(n1)
		if s2 := n2.String(); s2 != s1 {
			t.Fatalf("Normalize not idempotent on %q: %q then %q", raw, s1, s2)
		}
		// The string form must survive a round trip through the parser too
		// (only with a host: without one, a path "//x" reads back as an authority).
		if u2, err := url.Parse(s1); err == nil && n1.Host != "" {
			if s3 := Normalize(u2).String(); s3 != s1 {
				t.Fatalf("reparse changed %q (from %q): %q", s1, raw, s3)
			}
		}
		if s, err := String(raw); err == nil {
			if s2, err := String(s); err != nil || s2 != s {
				t.Fatalf("String not idempotent on %q: %q then %q, %v", raw, s, s2, err)
			}
		}
	})
}

var benchURLs = []string{
	"https://www.example.com/wiki/Main_Page",
	"http://Example.COM:80/a/b/../c/./d.html?x=1&y=%7e#top",
	"https://images.example.org/2024/03/photo%20of%20a%20cat.jpg",
	"https://www.example.net/search?q=caf%c3%a9&lang=fr",
	"https://münchen.example/stadt/",
	"https://cdn.example.com/static/img/logo-small.png?v=12345",
}

func BenchmarkString(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := String(benchURLs[i%len(benchURLs)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalizeClean(b *testing.B) {
	u, _ := url.Parse("https://www.example.com/wiki/Main_Page?action=view")
	b.ReportAllocs()
	for b.Loop() {
		_ = Normalize(u)
	}
}
