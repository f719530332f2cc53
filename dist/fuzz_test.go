package dist

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseQueueURL: any --queue value is refused with an error or split into servers without
// their query parameters; a redacted URL never shows its password.
func FuzzParseQueueURL(f *testing.F) {
	for _, s := range []string{"nats://127.0.0.1:4222", "tls://u:p@h:1?ca=x", "nats://t@h:1,nats://t@g:2?creds=c", "h:4222", "", ",", "nats://h:1?x=1", "nats://[::1]:4222"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		servers, _, err := parseQueueURL(s)
		if err != nil {
			return
		}
		if servers == "" {
			t.Fatalf("%q: no error and no server", s)
		}
		for _, srv := range strings.Split(servers, ",") {
			u, err := url.Parse(srv)
			if err != nil {
				t.Fatalf("%q gave unparsable server %q", s, srv)
			}
			if u.RawQuery != "" {
				t.Fatalf("%q kept its query in %q", s, srv)
			}
		}
		if u, err := url.Parse(s); err == nil && u.User != nil {
			if p, ok := u.User.Password(); ok && len(p) > 3 && strings.Contains(redactURL(s), ":"+p+"@") {
				t.Fatalf("redactURL(%q) shows the password", s)
			}
		}
	})
}
