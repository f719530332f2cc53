package dist

import (
	"strings"
	"testing"
)

func TestParseQueueURL(t *testing.T) {
	tests := []struct {
		in, servers string
		opts        int
		err         string
	}{
		{in: "nats://127.0.0.1:4222", servers: "nats://127.0.0.1:4222"},
		{in: "127.0.0.1:4222", servers: "nats://127.0.0.1:4222"},
		{in: "nats://u:p@h:1,nats://u:p@g:2", servers: "nats://u:p@h:1,nats://u:p@g:2"},
		{in: "tls://tok@h:4222?ca=ca.pem", servers: "tls://tok@h:4222", opts: 1},
		{in: "nats://h:4222?creds=/x/user.creds", servers: "nats://h:4222", opts: 1},
		{in: "http://h:4222", err: "scheme"},
		{in: "nats://h:4222?foo=1", err: "unknown parameter"},
		{in: "", err: "no URL"},
	}
	for _, tt := range tests {
		servers, opts, err := parseQueueURL(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || servers != tt.servers || len(opts) != tt.opts {
			t.Errorf("%q: %q %d opts %v, want %q %d", tt.in, servers, len(opts), err, tt.servers, tt.opts)
		}
	}
	if got := redactURL("nats://user:secret@h:1"); strings.Contains(got, "secret") {
		t.Errorf("redactURL kept the password: %s", got)
	}
}
